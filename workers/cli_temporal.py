"""``gridcase temporal setup``: register the namespace and search attributes on a Temporal cluster."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import typer

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
