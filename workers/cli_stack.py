"""`gridcase stack` commands: a thin shell over :mod:`deploy.stack`."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError

from deploy import stack
from deploy.config import PROFILES, StackConfig
from workers.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

PROFILE_HELP = (
    "dev: the Temporal dev server and one Kafka broker; cluster: the Temporal server's four services on "
    "PostgreSQL and three brokers (docs/operations.md). Default: GRIDCASE_STACK_PROFILE, else dev."
)


def _config(profile: str | None) -> StackConfig:
    """The stack's configuration for ``profile`` (None: the settings' own profile)."""
    if profile is not None and profile not in PROFILES:
        typer.echo(f"error: --profile must be one of {', '.join(PROFILES)}, got {profile!r}", err=True)
        raise typer.Exit(2)
    try:
        return get_settings().stack if profile is None else Settings(stack_profile=profile).stack
    except ValidationError as exc:  # a GRIDCASE_* setting is invalid: name it and its rule
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            typer.echo(f"error: GRIDCASE_{field.upper()}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def _rel(path: Path | None) -> str:
    """The path relative to the working directory when it lies inside it, else absolute."""
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _print(result: stack.StackStatus, show_action: bool = False) -> None:
    for s in result.services:
        parts = [f"{s.name:<17}", f"{s.state:<11}", s.address]
        if show_action and s.action:
            parts.append(f"[{s.action}]")
        if s.pid is not None:
            parts.append(f"pid {s.pid}")
        if s.log is not None:
            parts.append(f"log {_rel(s.log)}")
        if s.detail:
            parts.append(f"({s.detail})")
        typer.echo("  ".join(parts))
    typer.echo(f"state dir: {_rel(result.state_dir)}")


@app.command()
def up(
    timeout: float = typer.Option(90.0, help="Seconds to wait for every service to answer its health probe."),
    profile: str | None = typer.Option(None, help=PROFILE_HELP),
) -> None:
    """Start the stack's services (those not running) and wait until every one is healthy.

    The cluster profile's first start builds the Temporal server with `go install` (several minutes;
    cached by version after).
    """
    try:
        result = stack.up(_config(profile), timeout=timeout)
    except stack.StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print(result, show_action=True)


@app.command()
def down(
    timeout: float = typer.Option(30.0, help="Seconds to wait after SIGTERM before SIGKILL."),
    profile: str | None = typer.Option(None, help=PROFILE_HELP),
    service: list[str] = typer.Option(
        [],
        help="Stop only this service (repeatable): temporal, kafka; with the cluster profile also one process "
        "such as temporal-history or kafka-2. Default: all.",
    ),
) -> None:
    """Stop the processes `stack up` started; the data stays for the next `up`."""
    cfg = _config(profile)
    try:
        done = stack.down(cfg, timeout, tuple(service)) if service else stack.down(cfg, timeout=timeout)
    except ValueError as exc:
        typer.echo(f"error: --service: {str(exc).removeprefix('services: ')}", err=True)
        raise typer.Exit(2) from None
    except stack.StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for name, what in done.items():
        typer.echo(f"{name:<17}  {what}")


@app.command()
def status(profile: str | None = typer.Option(None, help=PROFILE_HELP)) -> None:
    """Show each service's state; exits 1 unless every service is healthy."""
    try:
        result = stack.status(_config(profile))
    except stack.StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print(result)
    if not result.healthy:
        raise typer.Exit(1)


@app.command()
def env(profile: str | None = typer.Option(None, help=PROFILE_HELP)) -> None:
    """Print the `export` lines that point gridcase's processes and the test suite at this stack."""
    cfg = _config(profile)
    lines = [
        f"export GRIDCASE_STACK_PROFILE={cfg.profile}",
        f"export GRIDCASE_TEMPORAL_ADDRESS={cfg.temporal_address}",
        f"export GRIDCASE_KAFKA_BOOTSTRAP={cfg.kafka_bootstrap}",
        f"export GRIDCASE_KAFKA_REPLICATION_FACTOR={cfg.kafka.replication_factor}",
        f"export GRIDCASE_DATABASE_URL='{cfg.resolved_database_url}'",
    ]
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    # `python -m workers.cli_stack up|down|status`: the same commands without importing the other
    # command groups (the Makefile and CI use this, so stopping the stack never depends on them).
    app()
