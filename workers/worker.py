"""``gridcase worker``: runs the case worker until SIGINT/SIGTERM, then shuts down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from workers.composition import build_worker, connect_temporal
from workers.observability import WorkerObservability
from workers.settings import Settings
from workflows.sla.timescale import describe_scale

log = logging.getLogger("gridcase.worker")


async def run_worker(settings: Settings, *, task_queue: str | None = None) -> None:
    """Poll the case task queue until a stop signal; in-flight tasks finish or are handed back.

    Serves ``/metrics``, ``/healthz`` and ``/readyz`` on ``settings.metrics_port`` meanwhile.
    """
    observability = WorkerObservability(settings, task_queue or settings.task_queue)
    client = await connect_temporal(settings, runtime=observability.runtime)
    worker = build_worker(client, settings, task_queue=task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with observability.serving(client) as health, worker:
        log.info(
            "worker polling %s on %s; new cases run on %s",
            task_queue or settings.task_queue,
            settings.temporal_address,
            describe_scale(settings.sla_time_scale),
        )
        health.ready = True
        await stop.wait()
        health.ready = False
        log.info("stopping: finishing in-flight tasks")
