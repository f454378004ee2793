"""``gridcase bench``: the benchmark suite on the local stack (see docs/performance.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer


def bench_cmd(
    only: list[str] = typer.Option(
        None,
        "--only",
        help="Run only these (repeatable or comma-separated): lifecycle, latency, memory, projection, peak; "
        "and web (the workspace in Chromium: needs make web), run only when named.",
    ),
    repeat: int = typer.Option(3, "--repeat", "-n", min=1, help="Timed runs per benchmark (median and spread)."),
    size: str = typer.Option("default", "--size", help="tiny (smoke), default (all five in < 10 min) or large."),
    out: Path | None = typer.Option(None, "--out", help="Results folder (default: <state dir>/bench)."),
    worker: str = typer.Option("subprocess", "--worker", help="Run the worker as a subprocess or inproc."),
    postgres_url: str | None = typer.Option(
        None,
        "--postgres-url",
        envvar="GRIDCASE_BENCH_POSTGRES_URL",
        help="SQLAlchemy URL of a PostgreSQL server for the projection benchmark (a scratch database is "
        "created on it); default GRIDCASE_TEST_POSTGRES_URL; without either it is skipped.",
    ),
) -> None:
    """Run the benchmarks (all five by default), print a table each and write JSON results."""
    from workers.bench.runner import run_benchmarks
    from workers.settings import get_settings

    names = [n.strip() for item in (only or []) for n in item.split(",") if n.strip()] or None
    try:
        run_benchmarks(
            get_settings(),
            only=names,
            size=size,
            repeat=repeat,
            out_dir=out,
            worker_mode=worker,
            postgres_url=postgres_url or os.environ.get("GRIDCASE_TEST_POSTGRES_URL"),
            log=lambda line: typer.echo(line),
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.stdout.flush()
        os._exit(2)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: temporalio with a recent protobuf may crash there
