"""A benchmark worker in its own process: ``python -m workers.bench.workerproc --kind gridcase|baseline``.

The benchmarks run the worker as a subprocess by default, so its memory and CPU are measured on
their own and the driver (the clients sending updates) does not share its interpreter lock.
Settings come from the environment (``GRIDCASE_*``), like ``gridcase worker``. The process prints
``READY`` once it polls, and stops gracefully on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from temporalio.worker import Worker

from workers.settings import Settings

KINDS = ("gridcase", "baseline")


def build(kind: str, client: object, settings: Settings, task_queue: str, max_cached: int | None) -> Worker:
    """The worker of ``kind``: the case worker, or the Temporal-only baseline worker."""
    from temporalio.client import Client

    assert isinstance(client, Client)
    if kind == "gridcase":
        from workers.composition import build_worker

        return build_worker(client, settings, task_queue=task_queue, max_cached_workflows=max_cached)
    if kind == "baseline":
        from workers.bench.baseline import FloorWorkflow, NaiveWorkflow, bench_noop

        return Worker(
            client,
            task_queue=task_queue,
            workflows=[NaiveWorkflow, FloorWorkflow],
            activities=[bench_noop],
            max_cached_workflows=max_cached or settings.worker_max_cached_workflows,
        )
    raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


async def _main(kind: str, task_queue: str, max_cached: int | None) -> None:
    from workers.composition import connect_temporal

    settings = Settings()
    client = await connect_temporal(settings)
    worker = build(kind, client, settings, task_queue, max_cached)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print("READY", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--max-cached", type=int, default=None, help="default: GRIDCASE_WORKER_MAX_CACHED_WORKFLOWS")
    args = parser.parse_args(argv)
    asyncio.run(_main(args.kind, args.task_queue, args.max_cached))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: temporalio with a recent protobuf may crash there


if __name__ == "__main__":
    main()
