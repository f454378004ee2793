"""The ``gridcase`` command line: the single entry point for operators.

Each command group lives in its own module and is registered here; commands build their
clients through the composition root (:mod:`workers.composition`) when they run, never at import.
"""

from __future__ import annotations

import typer

from city.cli import app as city_app
from readmodel.cli import app as readmodel_app
from readmodel.cli import projector_cmd, report_cmd
from workers.api.cli import users_app
from workers.cli_case import app as case_app
from workers.cli_events import events_app, topics_app
from workers.cli_policy import app as policy_app
from workers.cli_stack import app as stack_app
from workers.cli_temporal import app as temporal_app
from workers.sim.cli import simulate_cmd

app = typer.Typer(
    name="gridcase",
    help="gridcase: durable case workflows for city grid governance (12345 hotline, grids, streets, departments).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(stack_app, name="stack", help="Run the local stack: Temporal dev server, Kafka broker, SQL.")
app.add_typer(case_app, name="case", help="Drive cases: intake, dispatch, accept, whistle, resolve, callback...")
app.add_typer(policy_app, name="policy", help="Show and check the SLA policy.")
app.add_typer(events_app, name="events", help="Watch case events on Kafka.")
app.add_typer(topics_app, name="topics", help="Create and list the Kafka topics.")
app.add_typer(city_app, name="city", help="The city registry: load, check, show, generate, locate.")
app.add_typer(readmodel_app, name="readmodel", help="The SQL read model: migrate, rebuild, status.")
app.command("projector")(projector_cmd)
app.command("report")(report_cmd)
app.command("simulate")(simulate_cmd)
app.add_typer(users_app, name="users", help="API users and their tokens: add, list, token, revoke, jwt.")
app.add_typer(temporal_app, name="temporal", help="Prepare a Temporal cluster: namespace and search attributes.")


@app.command("api")
def api_cmd(
    host: str | None = typer.Option(None, help="Default: GRIDCASE_API_HOST"),
    port: int | None = typer.Option(None, help="Default: GRIDCASE_API_PORT"),
) -> None:
    """Serve the HTTP API and the dispatcher console (OpenAPI at /docs) until SIGINT/SIGTERM."""
    from workers.api.cli import serve

    serve(host, port)


@app.command("worker")
def worker_cmd() -> None:
    """Run the case worker until SIGINT/SIGTERM (in-flight tasks finish or are handed back)."""
    import asyncio
    import logging

    from workers.settings import get_settings
    from workers.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_worker(get_settings()))


@app.command("demo")
def demo_cmd() -> None:
    """Run one case end to end through the local stack (the stack must be up)."""
    from workers.demo import demo
    from workers.settings import get_settings

    demo(get_settings())


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
