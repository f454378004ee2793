"""``gridcase policy ...``: show the SLA policy in force, check policy files and calendar overrides.

The active policy is ``--file`` when given, else ``GRIDCASE_POLICY_FILE`` (``Settings.policy_file``),
else the built-in ``workflows/sla/default_policy.yaml``. ``policy check`` checks the category overrides
against the catalogue of the city in the registry (``--city DIR``: the city files in DIR instead).
``policy calendar-check`` validates a working-calendar override file (``GRIDCASE_CALENDAR_OVERRIDE_FILE``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workers.settings import get_settings
from workflows.sla.calendar import (
    CalendarError,
    build_calendar,
    calendar_coverage,
    library_years,
    quiet,
    read_override,
    today_in_shanghai,
)
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


def city_categories(city_dir: Path | None = None) -> tuple[list[str], str]:
    """The category codes of the city's catalogue and where they come from.

    From the city files in ``city_dir`` when given, else from the city registry of the settings'
    database (``workers.composition.build_registry``), as the worker reads them.
    """
    if city_dir is not None:
        from city.files import read_city

        return [c.code for c in read_city(city_dir).categories], f"city files {city_dir}"
    from workers.composition import build_registry

    settings = get_settings()
    return [c.code for c in build_registry(settings).categories()], "the city registry"


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="Policy YAML file to validate.")],
    city: Annotated[
        Path | None,
        typer.Option("--city", help="Check categories against the city files in this folder, not the registry."),
    ] = None,
    no_city: Annotated[
        bool, typer.Option("--no-city", help="Do not check category overrides against a city catalogue.")
    ] = False,
) -> None:
    """Validate a policy file: print OK, or the problems (file, field, rule) and exit with 1.

    Category overrides must name categories of the city's catalogue (rule policy.unknown_category).
    """
    categories: list[str] | None = None
    against = "not checked against a city (--no-city)"
    if not no_city:
        try:
            categories, where = city_categories(city)
        except Exception as exc:
            typer.secho(
                f"cannot read the city catalogue to check the policy's categories: {exc} "
                "(--city DIR reads city files, --no-city skips the check)",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(1) from None
        against = f"categories checked against {where} ({len(categories)} categories)"
    try:
        policy = load_policy(file, categories=categories)
    except PolicyError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    overrides = sum(len(cp.by_category) for cp in policy.clocks.values())
    typer.echo(
        f"OK: {file} (version {policy.version}, {len(policy.clocks)} clocks, {overrides} category overrides; {against})"
    )


@app.command("calendar-check")
def calendar_check(
    file: Annotated[Path, typer.Argument(help="Working-calendar override YAML (GRIDCASE_CALENDAR_OVERRIDE_FILE).")],
) -> None:
    """Validate a working-calendar override file: print what it adds, or every problem and exit with 1.

    Catches dates that do not exist or lie outside the declared years, adjusted working days (调休)
    that are not Saturdays or Sundays, dates that are both holiday and working day, and weekend
    holidays listed as working days. Each problem names the file, the entry and the rule.
    """
    supported = library_years()
    try:
        override = read_override(file, library=supported)
        today = today_in_shanghai()
        years = sorted(set(range(today.year - 1, today.year + 3)) | set(override.cover_years))
        with quiet():
            calendar = build_calendar(years, override_file=file)
    except CalendarError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    declared = ", ".join(map(str, override.cover_years)) or "none"
    typer.echo(
        f"OK: {file} (cover_years: {declared}; holidays +{len(override.holidays_add)} "
        f"-{len(override.holidays_remove)}, adjusted working days +{len(override.workdays_add)} "
        f"-{len(override.workdays_remove)})"
    )
    for year in override.cover_years:
        if year in supported:
            continue
        days_off = [d for d in calendar.holidays if d.year == year and d.weekday() < 5]
        worked = [d for d in calendar.extra_workdays if d.year == year]
        typer.echo(f"{year}: {len(days_off)} weekday holidays, {len(worked)} adjusted working days")
    typer.echo(calendar_coverage(calendar, today).summary())
