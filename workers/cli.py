"""The ``gridcase`` command line: the single entry point for operators.

Each command group lives in its own module and is registered here; commands build their
clients through the composition root (:mod:`workers.composition`) when they run, never at import.
The root group (:class:`workers.cli_errors.GridcaseGroup`) turns a missing service into one line and
exit code 1; help is plain text (no Rich markup) in every command.
"""

from __future__ import annotations

from pathlib import Path

import typer

from workers.api.cli import users_app
from workers.cli_bench import bench_cmd
from workers.cli_case import app as case_app
from workers.cli_city import app as city_app
from workers.cli_errors import GridcaseGroup
from workers.cli_events import events_app, topics_app
from workers.cli_policy import app as policy_app
from workers.cli_readmodel import app as readmodel_app
from workers.cli_readmodel import projector_cmd, report_cmd
from workers.cli_stack import app as stack_app
from workers.cli_temporal import app as temporal_app
from workers.sim.cli import simulate_cmd

app = typer.Typer(
    name="gridcase",
    help="gridcase: durable case workflows for city grid governance (12345 hotline, grids, streets, departments).",
    no_args_is_help=True,
    add_completion=False,
    cls=GridcaseGroup,
    rich_markup_mode=None,
)
app.add_typer(stack_app, name="stack", help="Run the local stack: Temporal dev server, Kafka broker, SQL.")
app.add_typer(
    case_app,
    name="case",
    help="Drive cases: new, show, timeline and one command per action (dispatch, report-in, ...).",
)
app.add_typer(policy_app, name="policy", help="Show and check the SLA policy.")
app.add_typer(events_app, name="events", help="Watch case events on Kafka.")
app.add_typer(topics_app, name="topics", help="Create and list the Kafka topics.")
app.add_typer(city_app, name="city", help="The city registry: load, check, show, generate, locate.")
app.add_typer(readmodel_app, name="readmodel", help="The SQL read model: migrate, rebuild, status.")
app.command("projector")(projector_cmd)
app.command("report")(report_cmd)
app.command("simulate")(simulate_cmd)
app.command("bench")(bench_cmd)
app.add_typer(users_app, name="users", help="API users and their tokens: add, list, token, revoke, jwt.")
app.add_typer(temporal_app, name="temporal", help="Prepare a Temporal cluster: namespace and search attributes.")


@app.command("api")
def api_cmd(
    host: str | None = typer.Option(None, help="Default: GRIDCASE_API_HOST"),
    port: int | None = typer.Option(None, help="Default: GRIDCASE_API_PORT"),
) -> None:
    """Serve the HTTP API and the workspace (/app/; OpenAPI at /openapi.json) until SIGINT/SIGTERM."""
    from workers.api.cli import serve

    serve(host, port)


@app.command("worker")
def worker_cmd() -> None:
    """Run the case worker until SIGINT/SIGTERM (in-flight tasks finish or are handed back)."""
    import asyncio

    from workers.logs import setup_logging
    from workers.settings import get_settings
    from workers.worker import run_worker

    setup_logging()
    asyncio.run(run_worker(get_settings()))


@app.command("demo")
def demo_cmd(
    minutes: float = typer.Option(3.0, "--minutes", help="Wall-clock minutes of simulated complaints."),
    rate: float = typer.Option(40.0, "--rate", help="Complaints per wall-clock minute."),
    time_scale: float = typer.Option(2.0, "--time-scale", help="Wall-clock seconds per policy hour."),
    seed: int = typer.Option(1, "--seed", help="Random seed of the simulation."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Stay up until Ctrl-C after the report."),
    sample_city: bool = typer.Option(False, "--sample-city", help="Use the small sample city."),
    tour: bool = typer.Option(True, "--tour/--no-tour", help="Start with one case down every path and rung."),
    config: Path | None = typer.Option(None, "--config", help="Simulator YAML: complaint mix and behaviours."),
) -> None:
    """The whole loop: worker, projector, API and workspace, a simulated city on compressed time, the report."""
    from workers.demo import DemoOptions, run
    from workers.settings import get_settings

    try:
        options = DemoOptions(
            minutes=minutes,
            rate=rate,
            time_scale=time_scale,
            seed=seed,
            wait=wait,
            sample_city=sample_city,
            tour=tour,
            config=config,
        )
        from workers.sim.config import load_config

        load_config(config)  # a bad file is refused before anything starts
    except ValueError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(run(get_settings(), options, commands=available_commands()))


def available_commands() -> set[str]:
    """The top-level ``gridcase`` commands of this installation."""
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    names |= {g.name or "" for g in app.registered_groups}
    return names


def main() -> None:
    """Console-script entry point.

    The process ends with ``os._exit`` once the command has returned and its output is flushed: the
    Temporal SDK's runtime threads can abort the interpreter during its normal teardown
    (temporalio/sdk-python#300), which would turn a successful command into exit code 134.
    """
    import os
    import sys

    code: int = 0
    try:
        app()
    except SystemExit as exc:
        if isinstance(exc.code, int):
            code = exc.code
        elif exc.code is not None:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
