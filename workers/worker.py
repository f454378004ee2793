"""``gridcase worker``: runs the case worker until SIGINT/SIGTERM, then shuts down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from workers.composition import build_worker, connect_temporal
from workers.settings import Settings

log = logging.getLogger("gridcase.worker")


async def run_worker(settings: Settings, *, task_queue: str | None = None) -> None:
    """Poll the case task queue until a stop signal; in-flight tasks finish or are handed back."""
    client = await connect_temporal(settings)
    worker = build_worker(client, settings, task_queue=task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        log.info("worker polling %s on %s", task_queue or settings.task_queue, settings.temporal_address)
        await stop.wait()
        log.info("stopping: finishing in-flight tasks")
