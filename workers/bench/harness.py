"""Running workers and the stack for benchmarks.

:func:`running_worker` starts a worker of a kind (``gridcase`` or ``baseline``) either as a
subprocess (the default: its RSS and CPU are its own) or inside the benchmark process, and
yields a :class:`WorkerRef` with the pid to measure.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from workers.settings import Settings

WORKER_MODES = ("subprocess", "inproc")


@dataclass
class WorkerRef:
    kind: str
    task_queue: str
    pid: int
    mode: str


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _env(settings: Settings, task_queue: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GRIDCASE_TEMPORAL_ADDRESS": settings.temporal_address,
            "GRIDCASE_TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "GRIDCASE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "GRIDCASE_TOPIC_PREFIX": settings.topic_prefix,
            "GRIDCASE_TASK_QUEUE": task_queue,
            "GRIDCASE_STATE_DIR": str(settings.state_dir),
            "GRIDCASE_METRICS_PORT": "0",
        }
    )
    if settings.sla_time_scale is not None:
        env["GRIDCASE_SLA_TIME_SCALE"] = str(settings.sla_time_scale)
    return env


@contextlib.asynccontextmanager
async def running_worker(
    client: Client,
    settings: Settings,
    kind: str,
    *,
    mode: str = "subprocess",
    max_cached: int | None = None,
    task_queue: str | None = None,
) -> AsyncIterator[WorkerRef]:
    """A polling worker for the duration of the block; stopped gracefully afterwards."""
    import asyncio

    queue = task_queue or unique(f"bench-{kind}-")
    if mode == "inproc":
        from workers.bench.workerproc import build

        async with build(kind, client, settings, queue, max_cached):
            yield WorkerRef(kind, queue, os.getpid(), mode)
        return
    if mode != "subprocess":
        raise ValueError(f"worker mode must be one of {WORKER_MODES}, not {mode!r}")
    argv = [sys.executable, "-m", "workers.bench.workerproc", "--kind", kind, "--task-queue", queue]
    if max_cached is not None:
        argv += ["--max-cached", str(max_cached)]
    root = Path(__file__).resolve().parents[2]
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(argv, env=_env(settings, queue), stdout=subprocess.PIPE, stderr=errors, cwd=root)
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        if b"READY" not in line:
            errors.seek(0)
            raise RuntimeError(f"benchmark worker did not start: {errors.read().decode(errors='replace')[-800:]}")
        yield WorkerRef(kind, queue, proc.pid, mode)
    finally:
        proc.terminate()
        try:  # the benchmark is over: do not wait for the worker's pollers to time out
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errors.close()


def server_pid(settings: Settings) -> int | None:
    """The pid of the local stack's Temporal dev server, if it runs."""
    from deploy import stack

    return stack._live_pid(stack._Paths.of(settings.stack), stack.TEMPORAL)


def server_pids(settings: Settings) -> dict[str, int]:
    """The pids of the local stack's Temporal server processes that run, by process name.

    The dev profile: ``{"temporal": pid}`` (the dev server). The cluster profile: one entry per
    service process (``temporal-history``, ``temporal-matching``, ``temporal-frontend``,
    ``temporal-worker``), read from the pid files in ``<state dir>/cluster/pids``.
    """
    from deploy import stack
    from deploy.config import CLUSTER

    if settings.stack_profile == CLUSTER:
        from deploy import cluster

        paths: stack._Paths = cluster._paths(settings.stack)
        names = cluster.temporal_names()
    else:
        paths, names = stack._Paths.of(settings.stack), [stack.TEMPORAL]
    found = {name: stack._live_pid(paths, name) for name in names}
    return {name: pid for name, pid in found.items() if pid is not None}


def wait_until(predicate: object, timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds passed."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
