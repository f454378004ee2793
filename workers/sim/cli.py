"""``gridcase simulate``: a stream of complaints and actors on the local stack, with its own tally."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import typer
from rich.console import Console

from workers.sim.config import ConfigError


def simulate_cmd(
    cases: int | None = typer.Option(None, "--cases", help="Number of complaints (then wait for every case)."),
    minutes: float | None = typer.Option(None, "--minutes", help="Wall-clock minutes of arrivals."),
    rate: float = typer.Option(30.0, "--rate", help="Complaints per wall-clock minute (average over the day)."),
    time_scale: float | None = typer.Option(
        None, "--time-scale", help="Wall-clock seconds per policy hour (default: GRIDCASE_SLA_TIME_SCALE, else 2)."
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed: the same seed plans the same cases."),
    config: Path | None = typer.Option(None, "--config", help="YAML file with the mix and behaviour probabilities."),
    tour: bool = typer.Option(
        True, "--tour/--no-tour", help="Start with one case down every path and escalation rung."
    ),
    worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Run a case worker in this process on the time scale (else one must run)."
    ),
    drain: float | None = typer.Option(
        None,
        "--drain",
        help="Seconds to wait for open cases after the last "
        "arrival (default: all of them with --cases, 60 s with --minutes).",
    ),
    sample_city: bool = typer.Option(False, "--sample-city", help="Use the small sample city, not the registry."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the tally to this JSON file."),
) -> None:
    """Simulate complaints and every actor's behaviour on compressed time, then print the tally."""
    from workers.logs import setup_logging
    from workers.settings import get_settings
    from workers.sim.display import print_tally, scale_line
    from workers.sim.main import DEFAULT_TIME_SCALE, NoWorkerError, load_city, options_from_cli, simulate

    setup_logging(logging.WARNING)
    settings = get_settings()
    console = Console()
    if cases is None and minutes is None:
        minutes = 2.0
    if drain is None and minutes is not None:
        drain = 60.0
    scale = time_scale if time_scale is not None else (settings.sla_time_scale or DEFAULT_TIME_SCALE)
    try:
        options = options_from_cli(
            cases=cases,
            minutes=minutes,
            rate=rate,
            time_scale=scale,
            seed=seed,
            config_path=config,
            tour=tour,
            drain=drain,
        )
    except (ConfigError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    console.print(scale_line(options.time_scale))
    with console.status("loading the city registry…"):
        city = load_city(settings, sample=sample_city)
    console.print(
        f"city {city.name}: {len(city.grids)} grids, {len(city.categories)} categories, "
        f"{len(city.departments)} departments; Temporal {settings.temporal_address}, "
        f"task queue {settings.task_queue}{' (worker in this process)' if worker else ''}"
    )
    try:
        tally = asyncio.run(simulate(settings, options, city, with_worker=worker, console=console))
    except NoWorkerError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        raise typer.Exit(130) from None
    print_tally(console, tally)
    if json_out is not None:
        json_out.write_text(json.dumps(tally.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        console.print(f"tally written to {json_out}")
    if tally.scale_mismatch or tally.failures:
        raise typer.Exit(1)
