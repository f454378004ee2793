"""``gridcase temporal setup``: register the namespace and search attributes on a Temporal cluster."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("setup")
def setup_cmd(
    namespace: str | None = typer.Option(None, help="Default: GRIDCASE_TEMPORAL_NAMESPACE."),
    retention_days: int = typer.Option(30, min=1, help="History retention of closed cases (new namespace only)."),
    wait: float = typer.Option(120.0, min=0, help="Seconds to wait for the frontend (and a new namespace)."),
) -> None:
    """Create the namespace if missing and register gridcase's search attributes (idempotent)."""
    import logging

    from deploy.temporal_setup import SetupError, setup_temporal
    from workers.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    if namespace:
        settings = settings.model_copy(update={"temporal_namespace": namespace})
    try:
        result = asyncio.run(setup_temporal(settings, retention=timedelta(days=retention_days), wait_s=wait))
    except SetupError as exc:
        typer.echo(f"error: {exc}", err=True)
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
