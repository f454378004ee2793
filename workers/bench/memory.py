"""Benchmark 3: memory and open cases.

Cases are opened (intake only, so each waits on its SLA clock) up to each level in turn, e.g.
1k, 5k and 20k open cases; at each level the worker's and the dev server's resident memory are
read and a probe of updates (one ``register`` each, on cases not touched since their intake,
a few callers at a time) gives the update latency p50/p99.

The cases run on a **private** dev server (same binary and SQLite pragmas as the stack's, own
ports and a throwaway database), so the server's memory is measured from a clean start and tens
of thousands of open cases are not left behind on the shared server; Kafka is the stack's.
The worker runs with the configured workflow cache (``GRIDCASE_WORKER_MAX_CACHED_WORKFLOWS``):
beyond that many open cases, an update to an evicted case replays its (short) history first.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from workers.bench.common import BenchResult, percentile, rss_mib
from workers.bench.harness import running_worker
from workers.bench.lifecycle import open_command
from workers.case_client import CaseClient
from workers.settings import Settings
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER

#: open-case levels, probe updates per round and callers, per size
SIZES: dict[str, tuple[tuple[int, ...], int, int]] = {
    "tiny": ((10, 20), 5, 2),
    "default": ((1000, 2000, 5000), 100, 4),
    "large": ((1000, 5000, 20000), 200, 4),
}
OPEN_CONCURRENCY = 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def private_dev_server(settings: Settings) -> Iterator[tuple[Settings, int]]:
    """A throwaway Temporal dev server like the stack's; yields its settings and pid."""
    from deploy import stack

    state = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
    private = settings.model_copy(
        update={
            "state_dir": state,
            "temporal_address": f"127.0.0.1:{_free_port()}",
            "temporal_ui_port": _free_port(),
        }
    )
    paths = stack._Paths.of(private.stack)
    paths.make()
    argv = stack._temporal_argv(private.stack, paths)
    with paths.temporal_log.open("ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=state, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while not stack._probe_temporal(private.stack)[0]:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the private dev server did not start; see {paths.temporal_log}")
            time.sleep(0.5)
        yield private, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(state, ignore_errors=True)


async def _open_many(cases: CaseClient, ids: list[str]) -> float:
    sem = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(case_id: str) -> None:
        async with sem:
            await cases.open(open_command(case_id))

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in ids))
    return len(ids) / (time.perf_counter() - started) if ids else float("nan")


async def _probe(cases: CaseClient, ids: list[str], callers: int) -> list[float]:
    sem = asyncio.Semaphore(callers)
    latencies: list[float] = []

    async def one(case_id: str) -> None:
        async with sem:
            t0 = time.perf_counter()
            await cases.act(case_id, c.RegisterCase(actor=DISPATCHER))
            latencies.append(1000 * (time.perf_counter() - t0))

    await asyncio.gather(*(one(i) for i in ids))
    return latencies


async def bench_memory(
    settings: Settings,
    *,
    size: str,
    repeat: int,
    worker_mode: str = "subprocess",
    log: Callable[[str], None] = print,
) -> BenchResult:
    """Benchmark 3."""
    from workers.composition import connect_temporal

    levels, probes, callers = SIZES[size]
    result = BenchResult("memory", size, repeat)
    rng = random.Random(9)
    started = time.perf_counter()
    per_level: dict[int, dict[str, list[float]]] = {}
    open_rates: list[float] = []
    with private_dev_server(settings) as (private, server_pid):
        client = await connect_temporal(private)
        async with running_worker(client, private, "gridcase", mode=worker_mode) as w:
            cases = CaseClient(client, w.task_queue)
            untouched: list[str] = []
            opened = 0
            for level in levels:
                ids = [f"M{level:05d}x{i:05d}" for i in range(level - opened)]
                rate = await _open_many(cases, ids)
                open_rates.append(rate)
                opened = level
                untouched += ids
                rng.shuffle(untouched)
                await asyncio.sleep(2.0)
                got: dict[str, list[float]] = {"worker": [], "server": [], "p50": [], "p99": []}
                for _ in range(repeat):
                    sample, untouched = untouched[:probes], untouched[probes:]
                    lat = await _probe(cases, sample, callers)
                    got["p50"].append(percentile(lat, 50))
                    got["p99"].append(percentile(lat, 99))
                    got["worker"].append(rss_mib(w.pid))
                    got["server"].append(rss_mib(server_pid))
                per_level[level] = got
                log(
                    f"  {level:>6} open cases (opened at {rate:.0f}/s): worker RSS {got['worker'][-1]:.0f} MiB, "
                    f"server RSS {got['server'][-1]:.0f} MiB, update p50 {got['p50'][-1]:.0f} ms "
                    f"p99 {got['p99'][-1]:.0f} ms"
                )
    result.seconds = time.perf_counter() - started
    top, base = levels[-1], levels[0]
    for level in levels:
        got = per_level[level]
        result.add(
            f"worker RSS @{level}",
            "MiB",
            got["worker"],
            target="<= 300" if level == top else "",
            higher_is_better=False,
        )
        result.add(f"server RSS @{level}", "MiB", got["server"], higher_is_better=False)
        result.add(f"update p50 @{level}", "ms", got["p50"], higher_is_better=False)
        result.add(f"update p99 @{level}", "ms", got["p99"], higher_is_better=False)
    result.add(
        f"p99 @{top} / p99 @{base}",
        "ratio",
        [a / b for a, b in zip(per_level[top]["p99"], per_level[base]["p99"], strict=True)],
        target="<= 2.0",
        higher_is_better=False,
    )
    result.details = {
        "levels": list(levels),
        "probe_updates_per_round": probes,
        "probe_callers": callers,
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "open_rate_per_level": open_rates,
        "worker_mode": worker_mode,
        "server": "private dev server (SQLite WAL), fresh per run",
    }
    return result
