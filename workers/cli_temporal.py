"""``gridcase temporal setup`` (namespace, search attributes) and ``replay-check`` (the gate before a rollout)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from workers.settings import Settings

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@app.command("setup")
def setup_cmd(
    namespace: str | None = typer.Option(None, help="Default: GRIDCASE_TEMPORAL_NAMESPACE."),
    retention_days: int = typer.Option(30, min=1, help="History retention of closed cases (new namespace only)."),
    wait: float = typer.Option(120.0, min=0, help="Seconds to wait for the frontend (and a new namespace)."),
) -> None:
    """Create the namespace if missing and register gridcase's search attributes (idempotent)."""
    from deploy.temporal_setup import SetupError, setup_temporal
    from workers.logs import setup_logging
    from workers.settings import get_settings

    setup_logging()
    settings = get_settings()
    try:
        result = asyncio.run(
            setup_temporal(
                settings.temporal_address,
                namespace or settings.temporal_namespace,
                retention=timedelta(days=retention_days),
                wait_s=wait,
            )
        )
    except SetupError as exc:
        from workers.cli_errors import refuse_unavailable, service_failure

        failure = service_failure(exc.__cause__ or exc, settings) if exc.__cause__ is not None else None
        if failure is not None:
            refuse_unavailable(failure)
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"namespace {result.namespace}: {'created' if result.namespace_created else 'exists'}")
    for name in result.attributes_created:
        typer.echo(f"search attribute {name}: created")
    for name in result.attributes_present:
        typer.echo(f"search attribute {name}: exists")
    # The Temporal client's native threads can abort interpreter finalization (temporalio/sdk-python
    # issue 300), which would make a one-shot job look failed after it succeeded: leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@app.command("replay-check")
def replay_check_cmd(
    query: str = typer.Option(
        'ExecutionStatus="Running"',
        help="Visibility query of the cases to replay (default: every open case).",
    ),
    task_queue: str | None = typer.Option(None, help="Only the cases of this task queue."),
    limit: int = typer.Option(1000, min=1, help="Replay at most this many cases (the newest first)."),
) -> None:
    """Replay the histories of live cases against THIS build's workflow code: the gate before a rollout.

    Run it with the new build, against the cluster the old build serves. Exit code 0: every history
    replays (the new code is compatible with every case it would take over); 1: at least one case
    would fail with a nondeterminism error (the change needs ``workflow.patched``); the cases are named.
    """
    from workers.settings import get_settings

    settings = get_settings()
    full = f"{query} AND TaskQueue={_quote(task_queue)}" if task_queue else query
    checked, failures = asyncio.run(_replay_live(settings, full, limit))
    for case, error in failures:
        typer.echo(f"{case}: {error}", err=True)
    typer.echo(f"replayed {checked} case(s) against this build: {len(failures)} failed")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if failures else 0)  # see setup_cmd: leave without finalizing the client's threads


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _replay_live(settings: Settings, query: str, limit: int) -> tuple[int, list[tuple[str, str]]]:
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

    from workers.composition import connect_temporal
    from workflows.case_workflow import CaseWorkflow

    client = await connect_temporal(settings)
    histories = []
    async for execution in client.list_workflows(query, limit=limit):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        histories.append(await handle.fetch_history())
    replayer = Replayer(
        workflows=[CaseWorkflow], data_converter=pydantic_data_converter, workflow_runner=UnsandboxedWorkflowRunner()
    )
    failures: list[tuple[str, str]] = []
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            failures.append((history.workflow_id, " ".join(str(result.replay_failure).split())[:300]))
    return len(histories), failures
