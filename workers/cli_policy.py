"""``gridcase policy ...``: show the SLA policy in force and check policy files.

The active policy is ``--file`` when given, else ``GRIDCASE_POLICY_FILE`` (``Settings.policy_file``),
else the built-in ``workflows/sla/default_policy.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workers.settings import get_settings
from workflows.sla.policy import (
    DEFAULT_POLICY_FILE,
    ClockRule,
    PolicyError,
    SlaPolicy,
    format_amount,
    load_policy,
)

app = typer.Typer(no_args_is_help=True)


def _ladder(rule: ClockRule, policy: SlaPolicy) -> str:
    parts = []
    for rung in rule.ladder:
        delay = format_amount(rung.delay, working=rung.working_time, working_day=policy.working_day)
        basis = "" if rung.delay.total_seconds() == 0 else (" working" if rung.working_time else " calendar")
        who = ",".join(r.value for r in rung.recipients)
        parts.append(f"{rung.level.value} +{delay}{basis} → {who}")
    return "\n".join(parts) if parts else "-"


def policy_rows(policy: SlaPolicy) -> list[list[str]]:
    """The table ``policy show`` prints: one row per rule."""
    rows = []
    for kind, urgency, category, rule in policy.rows():
        rows.append(
            [
                kind.value,
                urgency.value,
                category or "",
                format_amount(rule.duration, working=rule.working_time, working_day=policy.working_day),
                rule.basis.value,
                ", ".join(f"{t:.0%}" for t in rule.warnings) or "-",
                _ladder(rule, policy),
            ]
        )
    return rows


_HEADERS = ["clock", "urgency", "category override", "duration", "basis", "warnings", "ladder"]


def _active(file: Path | None) -> tuple[SlaPolicy, str]:
    path = file or get_settings().policy_file
    if path is None:
        return load_policy(DEFAULT_POLICY_FILE), f"built-in ({DEFAULT_POLICY_FILE.name})"
    return load_policy(path), str(path)


@app.command("show")
def show(
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Policy YAML (default: GRIDCASE_POLICY_FILE, or built-in)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the validated policy as JSON.")] = False,
) -> None:
    """Print the active SLA policy as a table."""
    try:
        policy, source = _active(file)
    except PolicyError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(policy.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    title = (
        f"SLA policy {policy.version} from {source} "
        f"(1 working day = {format_amount(policy.working_day, working=False)})"
    )
    scale = get_settings().sla_time_scale
    if scale is not None:  # new cases of a worker with these settings run this policy compressed
        from workflows.sla.timescale import describe_scale

        title += f"\nworkers with these settings run it on {describe_scale(scale, policy.working_day)}"
    rows = policy_rows(policy)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text without rich
        typer.echo(title)
        widths = [max(len(h), *(len(r[i].replace("\n", "; ")) for r in rows)) for i, h in enumerate(_HEADERS)]
        typer.echo("  ".join(h.ljust(w) for h, w in zip(_HEADERS, widths, strict=True)))
        for r in rows:
            typer.echo("  ".join(c.replace("\n", "; ").ljust(w) for c, w in zip(r, widths, strict=True)))
        return
    table = Table(title=title, show_lines=False)
    for h in _HEADERS:
        table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*r)
    Console().print(table)


@app.command("check")
def check(file: Annotated[Path, typer.Argument(help="Policy YAML file to validate.")]) -> None:
    """Validate a policy file: print OK, or the problem (file, field, rule) and exit with 1."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    overrides = sum(len(cp.by_category) for cp in policy.clocks.values())
    typer.echo(
        f"OK: {file} (version {policy.version}, {len(policy.clocks)} clocks, {overrides} category overrides)"
    )
