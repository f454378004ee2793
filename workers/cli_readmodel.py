"""``gridcase projector`` and ``gridcase readmodel migrate|rebuild|status``."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import typer

from readmodel.urls import mask_url
from workers.logs import setup_logging
from workers.settings import Settings

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        logging.getLogger("gridcase.projector").info("signal %d: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def projector_cmd(
    metrics_port: int | None = typer.Option(
        None, help="Prometheus /metrics port (default: GRIDCASE_PROJECTOR_METRICS_PORT; 0 turns it off)."
    ),
) -> None:
    """Keep the read model up to date from the case-events topic until SIGINT/SIGTERM.

    Migrates the schema first, serves Prometheus /metrics, and finishes the current batch on a stop signal.
    """
    from prometheus_client import start_http_server

    from readmodel.db import migrate
    from workers.composition import build_projector
    from workers.settings import get_settings

    setup_logging()
    settings = get_settings()
    migrate(settings.resolved_database_url)
    port = settings.projector_metrics_port if metrics_port is None else metrics_port
    if port:
        start_http_server(port)
        logging.getLogger("gridcase.projector").info("metrics on http://0.0.0.0:%d/metrics", port)
    stop = _stop_on_signals()
    projector = build_projector(settings)
    logging.getLogger("gridcase.projector").info(
        "projecting %s (group %s) into %s", projector.topic, projector.group_id, _safe_url(settings)
    )
    stats = projector.run(stop)
    typer.echo(
        f"projector stopped: applied {stats.applied}, skipped {stats.skipped}, "
        f"dead-lettered {stats.dead_lettered}, batches {stats.batches}"
    )


def _safe_url(settings: Settings) -> str:
    return mask_url(settings.resolved_database_url)


@app.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the read-model tables (Alembic upgrade head)."""
    from readmodel.db import current_revision, migrate
    from workers.composition import build_readmodel_engine
    from workers.settings import get_settings

    settings = get_settings()
    migrate(settings.resolved_database_url)
    engine = build_readmodel_engine(settings)
    typer.echo(f"read model at revision {current_revision(engine)} ({_safe_url(settings)})")
    engine.dispose()


@app.command("rebuild")
def rebuild_cmd(
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Empty the read model and replay the whole case-events topic with a fresh consumer group.

    Stop `gridcase projector` first; restart it afterwards (events it re-reads are skipped).
    """
    from events.consumer import new_group_id
    from readmodel.db import clear, migrate
    from workers.cli_errors import require_kafka
    from workers.composition import build_projector, build_readmodel_engine
    from workers.settings import get_settings

    settings = get_settings()
    require_kafka(settings)  # before anything is emptied
    if not yes:
        typer.confirm(f"empty the read model at {_safe_url(settings)} and replay the topic?", abort=True)
    setup_logging()
    migrate(settings.resolved_database_url)
    engine = build_readmodel_engine(settings)
    clear(engine)
    projector = build_projector(settings, engine, group_id=new_group_id("gridcase-rebuild"))
    stop = _stop_on_signals()
    stats = projector.run(
        stop, until_caught_up=True, on_batch=lambda s: typer.echo(f"  applied {s.applied} events", err=True)
    )
    typer.echo(f"rebuilt: applied {stats.applied}, skipped {stats.skipped}, dead-lettered {stats.dead_lettered}")
    engine.dispose()


@app.command("sync")
def sync_cmd(
    timeout: float = typer.Option(120.0, help="Give up after this many seconds."),
) -> None:
    """Apply what the projector's group has not applied yet, then exit (for scripts and demos).

    Same consumer group as `gridcase projector`, so the two never apply an event twice.
    """
    from readmodel.db import migrate
    from workers.cli_errors import require_kafka
    from workers.composition import build_projector
    from workers.settings import get_settings

    settings = get_settings()
    require_kafka(settings)
    migrate(settings.resolved_database_url)
    projector = build_projector(settings)
    stats = projector.run(_stop_on_signals(), until_caught_up=True, stop_after=timeout)
    projector.engine.dispose()
    typer.echo(
        f"read model synced: applied {stats.applied}, skipped {stats.skipped}, dead-lettered {stats.dead_lettered}"
    )


@app.command("status")
def status_cmd() -> None:
    """Schema revision, row counts and open cases by status."""
    from sqlalchemy import func, select

    from readmodel import tables as t
    from readmodel.db import current_revision, head_revision
    from readmodel.projector import open_cases_by_status
    from workers.composition import build_readmodel_engine
    from workers.settings import get_settings

    settings = get_settings()
    engine = build_readmodel_engine(settings)
    typer.echo(f"database  {_safe_url(settings)}")
    typer.echo(f"revision  {current_revision(engine)} (head {head_revision()})")
    with engine.connect() as conn:
        for table in t.ALL_TABLES:
            n: int | str
            try:
                n = conn.execute(select(func.count()).select_from(table)).scalar_one()
            except Exception:
                n = "missing"
            typer.echo(f"{table.name:<20}{n}")
    try:
        for status, n in sorted(open_cases_by_status(engine).items()):
            typer.echo(f"open {status:<15}{n}")
    except Exception:
        typer.secho(
            "the read model is not migrated: run `gridcase readmodel migrate`", err=True, fg=typer.colors.YELLOW
        )
    engine.dispose()


def report_cmd(
    period: str | None = typer.Option(None, help="Month YYYY-MM (cases opened in it); default: this month."),
    by: str = typer.Option("street", help="Rank by street, department, grid, community, district or category."),
    fmt: str = typer.Option("table", "--format", help="table, csv or html."),
    out: str | None = typer.Option(None, "--out", help="Write to this file instead of standard output."),
) -> None:
    """The monthly closed-loop report from the read model: rates, rankings, trend and overdue cases.

    HTML opens offline (inline SVG charts: trend of the three rates, ranking bars, overdue heat by street).
    """
    from datetime import UTC, datetime
    from pathlib import Path

    from rich.console import Console

    from readmodel.kpis import month_of
    from readmodel.report import FORMATS, REPORT_BY, build_report, parse_period, render, table_renderables
    from workers.composition import build_readmodel_engine
    from workers.settings import get_settings

    def fail(message: str) -> None:
        typer.secho(message, fg=typer.colors.RED, err=True)
        raise typer.Exit(2)

    now = datetime.now(UTC)
    period = period or month_of(now)
    try:
        parse_period(period)
    except ValueError as err:
        fail(f"--{err}")
    if by not in REPORT_BY:
        fail(f"--by: must be one of {', '.join(REPORT_BY)}, got {by!r}")
    if fmt not in FORMATS:
        fail(f"--format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    settings = get_settings()
    engine = build_readmodel_engine(settings)
    try:
        report = build_report(
            engine,
            period,
            by,
            as_of=now,
            basic_weight=settings.satisfaction_basic_weight,
            weights=settings.composite_weights,
            person_names=_person_names(engine),
        )
    except Exception as err:
        from workers.cli_errors import service_failure

        if service_failure(err, settings) is not None:
            raise  # the database is down: the command line says so in one line
        reason = str(getattr(err, "orig", None) or err).splitlines()[0]
        fail(
            f"cannot read the read model at {_safe_url(settings)}: {reason} (run `gridcase readmodel migrate` "
            "and `gridcase projector`)"
        )
        raise
    finally:
        engine.dispose()
    from dataclasses import replace

    from workers.names import UnitNames, report_names

    registry = UnitNames.load(settings).registry
    if registry is not None:  # names beside the ids; without the registry, the ids alone
        report = replace(report, names=report_names(registry, by))
    if out is None and fmt == "table":
        console = Console()
        for item in table_renderables(report):
            console.print(item)
        return
    text = render(report, fmt)
    if out is None:
        typer.echo(text, nl=False)
    else:
        Path(out).write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out} ({fmt}, {len(report.rows)} {by} rows, {report.total.cases} cases in {period})")


def _person_names(engine: Any) -> dict[str, str]:
    """The handlers' names from the API's user directory in the same database ({} when it has none)."""
    from sqlalchemy.exc import SQLAlchemyError

    from workers.api.users import UserStore

    try:
        return {u.user_id: u.name for u in UserStore(engine).list_users()}
    except SQLAlchemyError:
        return {}
