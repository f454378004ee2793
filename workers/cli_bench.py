"""``gridcase bench``: the benchmark suite on the local stack (see docs/performance.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer


def _echo_now(line: str) -> None:
    """Print a progress line at once, also when the output goes to a file."""
    typer.echo(line)
    sys.stdout.flush()


def bench_cmd(
    only: list[str] = typer.Option(
        None,
        "--only",
        help="Run only these (repeatable or comma-separated): lifecycle, latency, memory, projection, peak; "
        "and, run only when named, web (the workspace in Chromium: needs make web) and lifecycle-scale "
        "(the lifecycle with one worker process and with two, and their ratio; meant for --profile cluster).",
    ),
    repeat: int = typer.Option(3, "--repeat", "-n", min=1, help="Timed runs per benchmark (median and spread)."),
    size: str = typer.Option(
        "default",
        "--size",
        help="tiny (smoke), default (all five in < 10 min) or large; for --only memory on the cluster profile "
        "also cluster1k (200 and 1,000 open cases) and cluster100k (1k, 10k and 100k: an hour or more).",
    ),
    out: Path | None = typer.Option(None, "--out", help="Results folder (default: <state dir>/bench)."),
    worker: str = typer.Option("subprocess", "--worker", help="Run the worker as a subprocess or inproc."),
    postgres_url: str | None = typer.Option(
        None,
        "--postgres-url",
        envvar="GRIDCASE_BENCH_POSTGRES_URL",
        help="SQLAlchemy URL of a PostgreSQL server for the projection benchmark (a scratch database is "
        "created on it); default GRIDCASE_TEST_POSTGRES_URL; without either it is skipped.",
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help="The stack to run on: dev (the Temporal dev server; the memory benchmark starts a private one) or "
        "cluster (the Temporal server's four services on PostgreSQL and three brokers: the cluster of "
        "GRIDCASE_STATE_DIR and the GRIDCASE_CLUSTER_* settings). Default: GRIDCASE_STACK_PROFILE, else dev.",
    ),
) -> None:
    """Run the benchmarks (all five by default), print a table each and write JSON results."""
    from deploy.config import PROFILES
    from deploy.stack import StackError
    from workers.bench.runner import run_benchmarks
    from workers.settings import Settings, get_settings

    if profile is not None and profile not in PROFILES:
        typer.echo(f"error: --profile must be one of {', '.join(PROFILES)}, got {profile!r}", err=True)
        raise typer.Exit(2)
    settings = get_settings() if profile is None else Settings(stack_profile=profile)
    names = [n.strip() for item in (only or []) for n in item.split(",") if n.strip()] or None
    try:
        run_benchmarks(
            settings,
            only=names,
            size=size,
            repeat=repeat,
            out_dir=out,
            worker_mode=worker,
            postgres_url=postgres_url or os.environ.get("GRIDCASE_TEST_POSTGRES_URL"),
            log=_echo_now,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.stdout.flush()
        os._exit(2)
    except StackError as exc:  # the stack (or the cluster) did not start
        typer.echo(f"error: {exc}", err=True)
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: temporalio with a recent protobuf may crash there
