"""Benchmark 3: memory and open cases.

Cases are opened (intake only, so each waits on its SLA clock) up to each level in turn, e.g.
1k, 5k and 20k open cases; at each level the worker's and the Temporal server's resident memory
are read and a probe of updates (one ``register`` each, on cases not touched since their intake,
a few callers at a time) gives the update latency p50/p99.

Where the cases run depends on the stack profile (``GRIDCASE_STACK_PROFILE``, ``gridcase bench
--profile``):

* ``dev``: a **private** dev server (same binary and SQLite pragmas as the stack's, own ports and
  a throwaway database), so the server's memory is measured from a clean start and tens of
  thousands of open cases are not left behind on the shared server; Kafka is the stack's.
* ``cluster``: the running cluster (:mod:`deploy.cluster`): its Temporal frontend, a task queue of
  the benchmark's own, its brokers. Each level also reads the resident memory of each of the four
  Temporal service processes (from the cluster's pid files) and the size of Temporal's two
  PostgreSQL databases (``pg_database_size``). The benchmark's cases get ids of their own run and
  are terminated at the end, so the cluster is left without them. The sizes ``cluster1k`` (200 and
  1,000 open cases) and ``cluster100k`` (1k, 10k and 100k) are for this profile.

The worker runs with the configured workflow cache (``GRIDCASE_WORKER_MAX_CACHED_WORKFLOWS``):
beyond that many open cases, an update to an evicted case replays its (short) history first.

Opening is done by :data:`OPEN_CONCURRENCY` callers pulling case numbers from one shared counter
(no task or id list per case), with progress printed every :data:`PROGRESS_EVERY_S` seconds; the
only per-case state kept is the set of case numbers already probed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from workers.bench.common import CLUSTER_SIZES, BenchResult, percentile, rss_mib
from workers.bench.harness import running_worker, server_pids
from workers.bench.lifecycle import open_command
from workers.case_client import CaseClient
from workers.settings import Settings
from workflows.case_workflow import workflow_id
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER

#: open-case levels, probe updates per round and callers, per size
SIZES: dict[str, tuple[tuple[int, ...], int, int]] = {
    "tiny": ((10, 20), 5, 2),
    "default": ((1000, 2000, 5000), 100, 4),
    "large": ((1000, 5000, 20000), 200, 4),
    "cluster1k": ((200, 1000), 50, 4),
    "cluster100k": ((1000, 10000, 100000), 200, 4),
}
assert set(CLUSTER_SIZES) <= set(SIZES)
#: intakes (and, on the cluster, terminations) in flight at once
OPEN_CONCURRENCY = 32
#: attempts per intake or termination when the server answers with a transient error
ATTEMPTS = 6
#: seconds between progress lines while opening or terminating
PROGRESS_EVERY_S = 15.0
#: seconds to let the worker and the server settle after a level is reached
SETTLE_S = 2.0

_TRANSIENT = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.ABORTED,
    RPCStatusCode.CANCELLED,
}


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


# --------------------------------------------------------------------------------------------
# Where the cases run


@dataclass(frozen=True)
class BenchServer:
    """The Temporal server the cases run on, and what to measure of it."""

    settings: Settings
    """What the worker and the clients connect with."""
    pids: dict[str, int]
    """The server's processes by name: ``temporal`` (a dev server) or ``temporal-history`` ... (the cluster)."""
    description: str
    postgres_url: str = ""
    """A libpq URL of the PostgreSQL server holding :attr:`databases` (empty: no databases to size)."""
    databases: tuple[str, ...] = ()
    """Temporal's PostgreSQL databases, sized at every level."""
    shared: bool = False
    """Whether the server outlives the benchmark (the cluster): the benchmark's cases are terminated at the end."""


def cluster_server(settings: Settings) -> BenchServer:
    """The running cluster of ``settings`` (the cluster profile).

    Raises:
        RuntimeError: one of the four Temporal service processes is not running.
    """
    from deploy import cluster

    pids = server_pids(settings)
    missing = [name for name in cluster.temporal_names() if name not in pids]
    if missing:
        where = cluster._paths(settings.stack).pids
        raise RuntimeError(
            f"the cluster's {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not running "
            f"(no live pid file in {where}): start it with "
            "`gridcase stack up --profile cluster` and the same GRIDCASE_STATE_DIR and GRIDCASE_CLUSTER_* settings"
        )
    dbs = cluster._databases(settings.cluster)
    return BenchServer(
        settings=settings,
        pids=pids,
        description=(
            f"cluster: Temporal server {settings.cluster_temporal_version} as four processes on PostgreSQL "
            f"({settings.cluster_history_shards} history shards), {settings.cluster.brokers} Kafka brokers"
        ),
        postgres_url=settings.cluster_postgres_url,
        databases=(dbs["default"], dbs["visibility"]),
        shared=True,
    )


@contextlib.asynccontextmanager
async def bench_server(settings: Settings) -> AsyncIterator[BenchServer]:
    """The server of the settings' profile: a private dev server (dev) or the running cluster (cluster)."""
    from deploy.config import CLUSTER

    if settings.stack_profile == CLUSTER:
        yield cluster_server(settings)
        return
    with private_dev_server(settings) as (private, pid):
        yield BenchServer(private, {"temporal": pid}, "private dev server (SQLite WAL), fresh per run")


def database_sizes_mib(postgres_url: str, databases: tuple[str, ...]) -> dict[str, float]:
    """``pg_database_size`` of each database, in MiB."""
    if not databases:
        return {}
    import psycopg2

    conn = psycopg2.connect(postgres_url, connect_timeout=10)
    try:
        sizes: dict[str, float] = {}
        with conn.cursor() as cur:
            for name in databases:
                cur.execute("SELECT pg_database_size(%s)", (name,))
                row = cur.fetchone()
                sizes[name] = int(row[0]) / 2**20 if row else float("nan")
        return sizes
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Opening, probing and terminating cases


def case_id(tag: str, number: int) -> str:
    """The id of the run's case ``number`` (0-based): ``M<tag>x<number>``."""
    return f"M{tag}x{number:06d}"


@dataclass
class _Progress:
    """Counts of a long loop over cases, printed every :data:`PROGRESS_EVERY_S` seconds."""

    what: str
    total: int
    log: Callable[[str], None]
    done: int = 0
    retries: int = 0
    started: float = field(default_factory=time.perf_counter)
    _last: float = field(default_factory=time.perf_counter)

    def tick(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if now - self._last >= PROGRESS_EVERY_S and self.done < self.total:
            self._last = now
            rate = self.done / (now - self.started)
            left = (self.total - self.done) / rate if rate > 0 else float("nan")
            retried = f", {self.retries} retried" if self.retries else ""
            self.log(
                f"    {self.what} {self.done:,}/{self.total:,} ({rate:.0f}/s, about {left / 60:.1f} min left{retried})"
            )

    @property
    def rate(self) -> float:
        seconds = time.perf_counter() - self.started
        return self.done / seconds if self.done and seconds > 0 else float("nan")


async def _with_retries(what: str, call: Callable[[], Awaitable[object]], progress: _Progress) -> None:
    """Await ``call()`` again on transient server errors (intake and termination are idempotent)."""
    delay = 0.5
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await call()
            return
        except RPCTimeoutOrCancelledError as err:
            if attempt == ATTEMPTS:
                raise RuntimeError(f"{what}: timed out {attempt} times: {err}") from err
        except RPCError as err:
            if err.status not in _TRANSIENT or attempt == ATTEMPTS:
                raise RuntimeError(f"{what}: {err.status.name if err.status else 'error'}: {err.message}") from err
        progress.retries += 1
        await asyncio.sleep(delay)
        delay = min(2 * delay, 10.0)


async def _for_each(numbers: range, concurrency: int, one: Callable[[int], Awaitable[None]]) -> None:
    """``await one(n)`` for every ``n``, ``concurrency`` callers pulling from one iterator (no task per case)."""
    shared = iter(numbers)

    async def caller() -> None:
        for number in shared:
            await one(number)

    await asyncio.gather(*(caller() for _ in range(min(concurrency, len(numbers)))))


async def _open_many(cases: CaseClient, tag: str, numbers: range, log: Callable[[str], None]) -> _Progress:
    progress = _Progress(f"opened toward {numbers.stop:,}:", len(numbers), log)

    async def one(number: int) -> None:
        cid = case_id(tag, number)
        await _with_retries(f"opening case {cid}", lambda: cases.open(open_command(cid)), progress)
        progress.tick()

    await _for_each(numbers, OPEN_CONCURRENCY, one)
    return progress


async def _terminate_all(client: Client, tag: str, count: int, log: Callable[[str], None]) -> _Progress:
    """Terminate the run's ``count`` cases (those already finished are skipped)."""
    progress = _Progress("terminated", count, log)
    reason = "gridcase bench memory: the benchmark's open cases"

    async def terminate(cid: str) -> None:
        try:
            await client.get_workflow_handle(workflow_id(cid)).terminate(reason=reason)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: already completed
                raise

    async def one(number: int) -> None:
        cid = case_id(tag, number)
        await _with_retries(f"terminating case {cid}", lambda: terminate(cid), progress)
        progress.tick()

    await _for_each(range(count), OPEN_CONCURRENCY, one)
    return progress


def _sample(rng: random.Random, opened: int, used: set[int], k: int) -> list[int]:
    """Up to ``k`` case numbers below ``opened`` not probed before (marked used)."""
    k = min(k, opened - len(used))
    picked: list[int] = []
    while len(picked) < k:
        number = rng.randrange(opened)
        if number not in used:
            used.add(number)
            picked.append(number)
    return picked


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


async def _measure(
    server: BenchServer,
    worker_pid: int,
    cases: CaseClient,
    sample: list[str],
    callers: int,
    got: dict[str, list[float]],
) -> None:
    """One round at a level: probe updates on ``sample``, then the processes' memory and the databases' size."""
    lat = await _probe(cases, sample, callers)
    got["p50"].append(percentile(lat, 50))
    got["p99"].append(percentile(lat, 99))
    got["worker"].append(rss_mib(worker_pid))
    rss = {name: rss_mib(pid) for name, pid in server.pids.items()}
    got["server"].append(sum(rss.values()))
    for name, mib in rss.items():
        got.setdefault(f"rss {name}", []).append(mib)
    db_sizes = await asyncio.to_thread(database_sizes_mib, server.postgres_url, server.databases)
    for db, mib in db_sizes.items():
        got.setdefault(f"postgres {db}", []).append(mib)
    if db_sizes:
        got.setdefault("postgres", []).append(sum(db_sizes.values()))


def _level_line(names: list[str], got: dict[str, list[float]]) -> str:
    """The last round of a level in words."""
    parts = [f"worker RSS {got['worker'][-1]:.0f} MiB", f"server RSS {got['server'][-1]:.0f} MiB"]
    if len(names) > 1:
        each = (f"{n.removeprefix('temporal-')} {got[f'rss {n}'][-1]:.0f}" for n in names)
        parts.append(f"({', '.join(each)})")
    if "postgres" in got:
        parts.append(f"PostgreSQL {got['postgres'][-1]:.0f} MiB")
    return f"{', '.join(parts)}, update p50 {got['p50'][-1]:.0f} ms p99 {got['p99'][-1]:.0f} ms"


# --------------------------------------------------------------------------------------------
# The benchmark


def _check_size(settings: Settings, size: str) -> tuple[tuple[int, ...], int, int]:
    from deploy.config import CLUSTER

    if size not in SIZES:
        raise ValueError(f"size: the memory benchmark's sizes are {', '.join(SIZES)}, not {size!r}")
    if size in CLUSTER_SIZES and settings.stack_profile != CLUSTER:
        raise ValueError(
            f"size: {size} runs on the cluster profile only (--profile cluster or GRIDCASE_STACK_PROFILE=cluster)"
        )
    return SIZES[size]


async def bench_memory(
    settings: Settings,
    *,
    size: str,
    repeat: int,
    worker_mode: str = "subprocess",
    log: Callable[[str], None] = print,
) -> BenchResult:
    """Benchmark 3 on the server of the settings' profile (see the module's documentation).

    Raises:
        ValueError: ``size`` is unknown, or a cluster size on the dev profile.
        RuntimeError: the cluster does not run (cluster profile), or an intake kept failing.
    """
    from workers.composition import connect_temporal

    levels, probes, callers = _check_size(settings, size)
    result = BenchResult("memory", size, repeat)
    rng = random.Random(9)
    tag = uuid.uuid4().hex[:6].upper()
    started = time.perf_counter()
    per_level: dict[int, dict[str, list[float]]] = {}
    open_rates: list[float] = []
    retries = 0
    at_start: dict[str, float] = {}
    driver_rss: list[float] = []
    cleanup: dict[str, float] = {}
    async with bench_server(settings) as server:
        names = list(server.pids)
        log(f"  server: {server.description}")
        client = await connect_temporal(server.settings)
        opened = 0  # cases opened (every level reached so far)
        attempted = 0  # case numbers below this may have been opened
        failed = False
        try:
            async with running_worker(client, server.settings, "gridcase", mode=worker_mode) as w:
                log(f"  task queue {w.task_queue}, worker pid {w.pid}, cases M{tag}x...")
                cases = CaseClient(client, w.task_queue)
                sizes0 = await asyncio.to_thread(database_sizes_mib, server.postgres_url, server.databases)
                at_start = {"worker_rss": rss_mib(w.pid), **{f"rss {n}": rss_mib(p) for n, p in server.pids.items()}}
                at_start.update({f"postgres {db}": mib for db, mib in sizes0.items()})
                used: set[int] = set()
                for level in levels:
                    attempted = level
                    progress = await _open_many(cases, tag, range(opened, level), log)
                    opened = level
                    open_rates.append(progress.rate)
                    retries += progress.retries
                    await asyncio.sleep(SETTLE_S)
                    got: dict[str, list[float]] = {"worker": [], "server": [], "p50": [], "p99": []}
                    for _ in range(repeat):
                        sample = [case_id(tag, n) for n in _sample(rng, opened, used, probes)]
                        await _measure(server, w.pid, cases, sample, callers, got)
                    per_level[level] = got
                    driver_rss.append(rss_mib(os.getpid()))
                    log(f"  {level:>6} open cases (opened at {progress.rate:.0f}/s): {_level_line(names, got)}")
        except BaseException:
            failed = True
            raise
        finally:
            if server.shared and attempted:
                log(f"  terminating the run's {attempted:,} cases on the cluster ...")
                try:
                    done = await _terminate_all(client, tag, attempted, log)
                except Exception as exc:
                    if not failed:
                        raise
                    log(f"  could not terminate the run's cases (ids M{tag}x...): {exc}")
                else:
                    cleanup = {"terminated": done.done, "per_s": done.rate, "retries": done.retries}
                    log(f"  terminated {done.done:,} cases ({done.rate:.0f}/s)")
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
        if len(names) > 1:
            for name in names:
                result.add(f"server RSS {name} @{level}", "MiB", got[f"rss {name}"], higher_is_better=False)
        for db in server.databases:
            result.add(f"postgres {db} @{level}", "MiB", got[f"postgres {db}"], higher_is_better=False)
        result.add(f"update p50 @{level}", "ms", got["p50"], higher_is_better=False)
        result.add(f"update p99 @{level}", "ms", got["p99"], higher_is_better=False)
    if server.databases:
        start_total = sum(at_start[f"postgres {db}"] for db in server.databases)
        result.add(
            f"postgres KiB/case @{top}",
            "KiB",
            [1024 * (total - start_total) / top for total in per_level[top]["postgres"]],
            higher_is_better=False,
        )
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
        "open_concurrency": OPEN_CONCURRENCY,
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "open_rate_per_level": open_rates,
        "open_retries": retries,
        "worker_mode": worker_mode,
        "server": server.description,
        "server_processes": names,
        "at_start": at_start,
        "driver_rss_mib_per_level": driver_rss,
        "stack_profile": settings.stack_profile,
        "case_id_prefix": f"M{tag}x",
    }
    if cleanup:
        result.details["cleanup"] = cleanup
    return result
