"""Rich output of a simulation: the live progress panel and the final tally, both stating the time scale."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from workers.sim.plan import FEATURES, PATHS, RUNGS
from workers.sim.runner import Tally
from workflows.sla.timescale import describe_scale

RUNG_LABEL = {"reminder": "催办 reminder", "supervision": "督办 supervision", "public_notice": "通报 public notice"}


def scale_line(time_scale: float | None) -> Text:
    return Text(describe_scale(time_scale), style="bold yellow" if time_scale is not None else "bold")


def progress_panel(
    t: Tally, title: str = "gridcase simulation", target: str = "", arrivals_seconds: float | None = None
) -> Panel:
    """A compact live view: time (with a bar over the arrival period when it is known), counts, states, rungs."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    hours = t.elapsed / t.time_scale if t.time_scale else t.elapsed / 3600
    grid.add_row("elapsed", f"{t.elapsed:,.0f} s wall-clock = {hours:,.1f} policy hours {target}")
    if arrivals_seconds:
        done = min(t.elapsed, arrivals_seconds)
        phase = "complaints arriving" if t.elapsed < arrivals_seconds else "arrivals over: open cases finishing"
        filled = round(30 * done / arrivals_seconds)
        grid.add_row("", Text(f"{'█' * filled}{'░' * (30 - filled)} {100 * done / arrivals_seconds:3.0f}% · {phase}"))
    grid.add_row(
        "cases",
        f"{t.planned} arrived · {t.opened} opened · {t.in_flight} in flight · "
        f"{t.finished} finished · {t.actions} actions",
    )
    states = " · ".join(f"{k} {v}" for k, v in sorted(t.final_status.items())) or "-"
    grid.add_row("final states", states)
    rungs = " · ".join(f"{RUNG_LABEL[r.value]} {t.rung_cases.get(r.value, 0)}" for r in RUNGS)
    grid.add_row("rungs (cases)", f"{rungs} · breached {t.breached_cases}")
    problems = sum(t.refused.values()) + len(t.scale_mismatch)
    if problems:
        grid.add_row(
            "problems",
            Text(f"{sum(t.refused.values())} refused · {len(t.scale_mismatch)} on another time scale", style="red"),
        )
    return Panel(Group(scale_line(t.time_scale), grid), title=title, border_style="cyan")


def _counter_table(title: str, rows: list[tuple[str, int]], total: int | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_header=True, header_style="bold")
    table.add_column(title.split(" ")[0].lower())
    table.add_column("cases", justify="right")
    if total:
        table.add_column("share", justify="right")
    for name, n in rows:
        style = "red" if n == 0 else ""
        cells = [name, str(n)] + ([f"{100 * n / total:.0f}%"] if total else [])
        table.add_row(*cells, style=style)
    return table


def print_tally(console: Console, t: Tally) -> None:
    """The simulator's own tally: per path, side path, rung and final state."""
    console.rule("[bold]simulation tally")
    console.print(scale_line(t.time_scale))
    console.print(
        f"{t.planned} cases arrived, {t.opened} opened, {t.finished} finished, "
        f"{len(t.unfinished)} still open, {t.actions} actions in {t.elapsed:,.0f} s wall-clock"
    )
    if t.actions:
        policy_max = f" = {t.lag_max / t.time_scale:.2g} policy h" if t.time_scale else ""
        console.print(
            f"actions completed on average {t.lag_mean:.2f} s (at most {t.lag_max:.2f} s{policy_max}) after "
            "their planned time; a slower stack makes some on-time actors late"
        )
    console.print(_counter_table("Paths (finished cases)", [(p, t.paths.get(p, 0)) for p in PATHS], t.finished))
    console.print(_counter_table("Side paths (finished cases)", [(f, t.features.get(f, 0)) for f in FEATURES]))
    rungs = Table(title="Escalation rungs (automatic, from the SLA clocks)", title_justify="left", header_style="bold")
    rungs.add_column("rung")
    rungs.add_column("cases", justify="right")
    rungs.add_column("events", justify="right")
    for r in RUNGS:
        n = t.rung_cases.get(r.value, 0)
        rungs.add_row(RUNG_LABEL[r.value], str(n), str(t.rung_events.get(r.value, 0)), style="red" if n == 0 else "")
    rungs.add_row("manual (by a supervisor)", "", str(t.manual_escalations))
    rungs.add_row("breaches", str(t.breached_cases), str(t.breaches))
    rungs.add_row("warnings", "", str(t.warnings))
    console.print(rungs)
    if t.breach_kinds:
        kinds = " · ".join(f"{k} {n}" for k, n in sorted(t.breach_kinds.items()))
        console.print(f"breaches by clock: {kinds}; {t.late_interim_replies} interim replies after their due time")
    console.print(_counter_table("Final states", sorted(t.final_status.items()), t.opened))
    console.print(_counter_table("Channels", sorted(t.channels.items()), t.opened))
    if t.closure:
        console.print(_counter_table("Closure types", sorted(t.closure.items())))
    if t.refused or t.failures or t.scale_mismatch:
        console.print(
            Text(
                f"{sum(t.refused.values())} refused actions, {len(t.failures)} failures, "
                f"{len(t.scale_mismatch)} cases on another time scale",
                style="bold red",
            )
        )
        for line in [*t.scale_mismatch[:5], *t.failures[:10]]:
            console.print(f"  {line}", style="red")
    console.print(scale_line(t.time_scale))
