"""`gridcase stack` commands: a thin shell over :mod:`deploy.stack`."""

from __future__ import annotations

from pathlib import Path

import typer

from deploy import stack
from workers.settings import get_settings

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


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
        parts = [f"{s.name:<9}", f"{s.state:<11}", s.address]
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
) -> None:
    """Start the Temporal dev server and the Kafka broker (if not running) and wait until healthy."""
    try:
        result = stack.up(get_settings().stack, timeout=timeout)
    except stack.StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print(result, show_action=True)


@app.command()
def down(
    timeout: float = typer.Option(30.0, help="Seconds to wait after SIGTERM before SIGKILL."),
) -> None:
    """Stop the processes `stack up` started; the data stays for the next `up`."""
    try:
        done = stack.down(get_settings().stack, timeout=timeout)
    except stack.StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for service, what in done.items():
        typer.echo(f"{service:<9}  {what}")


@app.command()
def status() -> None:
    """Show each service's state; exits 1 unless every service is healthy."""
    try:
        result = stack.status(get_settings().stack)
    except stack.StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print(result)
    if not result.healthy:
        raise typer.Exit(1)


if __name__ == "__main__":
    # `python -m workers.cli_stack up|down|status`: the same commands without importing the other
    # command groups (the Makefile and CI use this, so stopping the stack never depends on them).
    app()
