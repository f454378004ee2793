"""Benchmark 1: complete cases per second through the whole lifecycle, against Temporal alone.

One run of a shape drives ``cases`` cases, ``concurrency`` at a time, each through the same
sequence of updates, and times from the first update to the last case's workflow completing:

* ``gridcase`` — the case workflow: intake (update-with-start), register, dispatch to a street,
  accept, contact the resident, whistle to two departments, two report-ins, two completed tasks,
  resolve, verify, callback, close: 14 updates, every event published to Kafka. The events are
  read back from the broker after the run and checked complete and in order for every case.
* ``naive`` — :class:`~workers.bench.baseline.NaiveWorkflow`: 14 updates, each followed by a no-op
  activity.
* ``floor`` — :class:`~workers.bench.baseline.FloorWorkflow`: 14 updates and nothing else.

The shapes run interleaved (one run of each per round, the order rotating) on the same server,
so a slower moment of a shared machine hurts them alike.

:func:`bench_lifecycle_scale` (``gridcase bench --only lifecycle-scale``, meant for the cluster
profile) runs the ``gridcase`` shape with one worker process and with two worker processes on one
task queue, and reports the throughput ratio two / one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from events.base import UnitKind, UnitRef
from events.schemas import Channel, Rating, ResidentContact, Urgency, WhistleTask
from workers.bench.baseline import FLOOR_WORKFLOW, NAIVE_WORKFLOW
from workers.bench.common import BenchResult, cpu_seconds
from workers.bench.harness import WorkerRef, running_worker, server_pids, unique
from workers.case_client import CaseClient
from workers.settings import Settings
from workflows.case_workflow import CaseSummary, CaseWorkflow, workflow_id
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, LOCATION, dept_actor, unit_actor

SHAPES = ("gridcase", "naive", "floor")

#: cases per run and cases in flight, per size
SIZES: dict[str, tuple[int, int]] = {"tiny": (2, 2), "default": (60, 24), "large": (300, 48)}

STREET = UnitRef(kind=UnitKind.STREET, id="S-1")
_SA = unit_actor(STREET)
_DEPTS = ("urban-management", "housing")


def open_command(case_id: str, *, urgency: str = "ordinary", category: str = "illegal-construction") -> c.OpenCase:
    return c.OpenCase(
        actor=DISPATCHER,
        case_id=case_id,
        channel=Channel.HOTLINE,
        category=category,
        urgency=Urgency(urgency),
        title="小区内违法搭建",
        description="3号楼楼顶有人违法搭建彩钢房",
        location=LOCATION,
        contact=ResidentContact(name="张三", phone="13812345678"),
        idempotency_key=f"bench-{case_id}",
    )


def lifecycle_actions() -> list[c.CaseCommand]:
    """The 13 actions after intake, in order, for a case whistled to two departments."""
    return [
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=STREET),
        c.AcceptCase(actor=_SA),
        c.ContactResident(actor=_SA, note="已电话联系诉求人"),
        c.BlowWhistle(actor=_SA, tasks=[WhistleTask(department_id=d, task="现场处置") for d in _DEPTS]),
        *[c.ReportIn(actor=dept_actor(d)) for d in _DEPTS],
        *[c.CompleteTask(actor=dept_actor(d), result="已处置") for d in _DEPTS],
        c.ResolveCase(actor=_SA, notes="已处置完毕"),
        c.VerifyCase(actor=GRID_WORKER, passed=True),
        c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED),
        c.CloseCase(actor=DISPATCHER),
    ]


UPDATES_PER_CASE = 1 + len(lifecycle_actions())


async def gridcase_case(cases: CaseClient, case_id: str) -> int:
    """One case through the whole lifecycle; returns the number of events it emitted."""
    await cases.open(open_command(case_id))
    for action in lifecycle_actions():
        await cases.act(case_id, action)
    handle = cases.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
    summary: CaseSummary = await handle.result()
    return summary.events


async def baseline_case(client: Client, task_queue: str, workflow: str, wf_id: str) -> int:
    """The same number of updates on a Temporal-only workflow; returns the update count."""
    op: WithStartWorkflowOperation[Any, int] = WithStartWorkflowOperation(
        workflow, id=wf_id, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL
    )
    await client.execute_update_with_start_workflow("step", False, start_workflow_operation=op, result_type=int)
    handle = client.get_workflow_handle(wf_id, result_type=int)
    for i in range(UPDATES_PER_CASE - 1):
        await handle.execute_update("step", i == UPDATES_PER_CASE - 2, result_type=int)
    return int(await handle.result())


@dataclass
class Run:
    shape: str
    cases: int
    seconds: float
    units: int  # events (gridcase) or updates (baselines)
    server_cpu_s: float
    worker_cpu_s: float
    case_ids: list[str]

    @property
    def cases_per_s(self) -> float:
        return self.cases / self.seconds


async def _drive(n: int, concurrency: int, one: Callable[[int], Awaitable[int]]) -> tuple[float, int]:
    sem = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> int:
        async with sem:
            return await one(i)

    started = time.perf_counter()
    counts = await asyncio.gather(*(guarded(i) for i in range(n)))
    return time.perf_counter() - started, sum(counts)


def _cpu_total(pids: list[int]) -> float:
    """CPU seconds the processes have used so far, together (NaN without any)."""
    return sum(cpu_seconds(pid) for pid in pids) if pids else float("nan")


async def timed_run(
    shape: str,
    client: Client,
    settings: Settings,
    task_queue: str,
    worker_pids: list[int],
    n: int,
    concurrency: int,
) -> Run:
    """One timed run of ``shape`` with ``n`` cases on ``task_queue``, whose workers are ``worker_pids``.

    The server's CPU is that of every Temporal server process of the stack (the dev server, or the
    cluster's four services).
    """
    tag = uuid.uuid4().hex[:6].upper()
    spids = list(server_pids(settings).values())
    cpu0 = (_cpu_total(spids), _cpu_total(worker_pids))
    case_ids = [f"B{tag}{i:05d}" for i in range(n)]
    if shape == "gridcase":
        cases = CaseClient(client, task_queue)
        seconds, units = await _drive(n, concurrency, lambda i: gridcase_case(cases, case_ids[i]))
    else:
        wf = NAIVE_WORKFLOW if shape == "naive" else FLOOR_WORKFLOW
        seconds, units = await _drive(
            n, concurrency, lambda i: baseline_case(client, task_queue, wf, f"bench-{shape}-{case_ids[i]}")
        )
    cpu1 = (_cpu_total(spids), _cpu_total(worker_pids))
    return Run(shape, n, seconds, units, cpu1[0] - cpu0[0], cpu1[1] - cpu0[1], case_ids)


async def run_shape(
    shape: str, client: Client, settings: Settings, workers: dict[str, WorkerRef], n: int, concurrency: int
) -> Run:
    """One timed run of ``shape`` with ``n`` cases."""
    worker = workers["gridcase" if shape == "gridcase" else "baseline"]
    return await timed_run(shape, client, settings, worker.task_queue, [worker.pid], n, concurrency)


def read_back(
    settings: Settings, case_ids: list[str], expected_events: int, timeout_s: float = 120.0
) -> dict[str, int]:
    """Read the cases' events back from Kafka; returns per-case event counts, each checked gapless and in order."""
    from events.consumer import StopConsuming, consume, new_group_id

    seqs: dict[str, list[int]] = {cid: [] for cid in case_ids}
    seen = 0

    def handler(_env: object, event: object) -> None:
        nonlocal seen
        got = seqs.get(getattr(event, "case_id", ""))
        if got is not None:
            got.append(int(getattr(event, "seq", 0)))
            seen += 1
            if seen >= expected_events:
                raise StopConsuming

    consume(
        handler, settings=settings, group_id=new_group_id("gridcase-bench"), from_beginning=True, stop_after=timeout_s
    )
    for cid, got in seqs.items():
        if got != list(range(1, len(got) + 1)):
            raise RuntimeError(f"events of case {cid} read back out of order or with gaps: {got[:20]}")
    return {cid: len(got) for cid, got in seqs.items()}


async def bench_lifecycle(
    client: Client,
    settings: Settings,
    workers: dict[str, WorkerRef],
    *,
    size: str,
    repeat: int,
    log: Callable[[str], None] = print,
) -> BenchResult:
    """Benchmark 1; ``workers`` holds a ``gridcase`` and a ``baseline`` worker."""
    n, concurrency = SIZES[size]
    result = BenchResult("lifecycle", size, repeat)
    runs: dict[str, list[Run]] = {s: [] for s in SHAPES}
    # one untimed warm-up case of each shape (worker caches, server connections)
    for shape in SHAPES:
        await run_shape(shape, client, settings, workers, 1, 1)
    started = time.perf_counter()
    for r in range(repeat):
        order = SHAPES[r % 3 :] + SHAPES[: r % 3]
        for shape in order:
            run = await run_shape(shape, client, settings, workers, n, concurrency)
            runs[shape].append(run)
            log(
                f"  lifecycle round {r + 1}/{repeat} {shape:<8} {run.cases_per_s:6.2f} cases/s "
                f"({run.cases} cases in {run.seconds:.1f} s; server CPU {run.server_cpu_s:.1f} s, "
                f"worker CPU {run.worker_cpu_s:.1f} s)"
            )
    result.seconds = time.perf_counter() - started
    events_total = sum(run.units for run in runs["gridcase"])
    all_ids = [cid for run in runs["gridcase"] for cid in run.case_ids]
    counts = await asyncio.to_thread(read_back, settings, all_ids, events_total)
    read_total = sum(counts.values())
    if read_total != events_total:
        raise RuntimeError(f"{events_total} events emitted but {read_total} read back from Kafka")
    for shape in SHAPES:
        result.add(f"{shape} cases/s", "cases/s", [run.cases_per_s for run in runs[shape]])
    result.add(
        "gridcase / naive",
        "ratio",
        [g.cases_per_s / b.cases_per_s for g, b in zip(runs["gridcase"], runs["naive"], strict=True)],
        target=">= 1.0",
    )
    result.add(
        "gridcase / floor",
        "ratio",
        [g.cases_per_s / b.cases_per_s for g, b in zip(runs["gridcase"], runs["floor"], strict=True)],
        target=">= 0.8",
    )
    for shape in SHAPES:
        result.add(
            f"{shape} server CPU ms/case",
            "ms",
            [1000 * run.server_cpu_s / run.cases for run in runs[shape]],
            higher_is_better=False,
        )
    result.details = {
        "cases_per_run": n,
        "concurrency": concurrency,
        "updates_per_case": UPDATES_PER_CASE,
        "events_per_case": events_total / max(len(all_ids), 1),
        "events_read_back": read_total,
        "worker_mode": workers["gridcase"].mode,
        "gridcase_updates_per_s": [run.cases * UPDATES_PER_CASE / run.seconds for run in runs["gridcase"]],
    }
    return result


#: worker processes per arm of the scale-out run
SCALE_WORKERS = (1, 2)


async def bench_lifecycle_scale(
    client: Client,
    settings: Settings,
    *,
    size: str,
    repeat: int,
    worker_mode: str = "subprocess",
    log: Callable[[str], None] = print,
) -> BenchResult:
    """The gridcase shape with one worker process and with two on one task queue, and their ratio.

    Both arms drive the same number of cases with the same concurrency (:data:`SIZES`) through the
    whole lifecycle; the arms alternate (one, two; two, one; ...) so a slower moment of the machine
    hurts both alike. The three worker processes run throughout, each arm on a task queue of its
    own, so the idle arm's pollers cost both arms alike. The ratio says how much a second worker
    adds where the worker is what limits throughput; where the Temporal server (or the machine's
    cores) limits it, the ratio stays near 1. Every case's events are read back from Kafka and
    checked complete and in order, as in :func:`bench_lifecycle`: two workers must not reorder a
    case's events.

    Raises:
        ValueError: ``worker_mode`` is not ``subprocess`` (two in-process workers would share one
            interpreter and measure nothing about a second process).
    """
    if worker_mode != "subprocess":
        raise ValueError(
            f"--worker: the lifecycle-scale benchmark runs its workers as processes (subprocess), not {worker_mode!r}"
        )
    n, concurrency = SIZES[size]
    result = BenchResult("lifecycle-scale", size, repeat)
    runs: dict[int, list[Run]] = {count: [] for count in SCALE_WORKERS}
    shares: list[float] = []  # the busier worker's part of the two workers' CPU, per run
    async with contextlib.AsyncExitStack() as stack:
        arms: dict[int, tuple[str, list[int]]] = {}
        for count in SCALE_WORKERS:
            queue = unique(f"bench-scale{count}-")
            pids = []
            for _ in range(count):
                ref = await stack.enter_async_context(
                    running_worker(client, settings, "gridcase", mode="subprocess", task_queue=queue)
                )
                pids.append(ref.pid)
            arms[count] = (queue, pids)
        # untimed warm-up: enough cases in flight that every worker of the arm takes some
        for count, (queue, pids) in arms.items():
            await timed_run("gridcase", client, settings, queue, pids, 4 * count, 2 * count)
        started = time.perf_counter()
        for r in range(repeat):
            for count in SCALE_WORKERS if r % 2 == 0 else SCALE_WORKERS[::-1]:
                queue, pids = arms[count]
                before = [cpu_seconds(pid) for pid in pids]
                run = await timed_run("gridcase", client, settings, queue, pids, n, concurrency)
                used = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
                if count > 1 and sum(used) > 0:
                    shares.append(max(used) / sum(used))
                runs[count].append(run)
                log(
                    f"  lifecycle-scale round {r + 1}/{repeat} {count} worker(s) {run.cases_per_s:6.2f} cases/s "
                    f"({run.cases} cases in {run.seconds:.1f} s; server CPU {run.server_cpu_s:.1f} s, "
                    f"worker CPU {' + '.join(f'{u:.1f}' for u in used)} s)"
                )
        result.seconds = time.perf_counter() - started
    all_runs = [run for count in SCALE_WORKERS for run in runs[count]]
    events_total = sum(run.units for run in all_runs)
    all_ids = [cid for run in all_runs for cid in run.case_ids]
    counts = await asyncio.to_thread(read_back, settings, all_ids, events_total)
    read_total = sum(counts.values())
    if read_total != events_total:
        raise RuntimeError(f"{events_total} events emitted but {read_total} read back from Kafka")
    one, two = runs[1], runs[2]
    result.add("1 worker cases/s", "cases/s", [run.cases_per_s for run in one])
    result.add("2 workers cases/s", "cases/s", [run.cases_per_s for run in two])
    result.add("2 workers / 1 worker", "ratio", [b.cases_per_s / a.cases_per_s for a, b in zip(one, two, strict=True)])
    for count, label in ((1, "1 worker"), (2, "2 workers")):
        result.add(
            f"{label} server CPU ms/case",
            "ms",
            [1000 * run.server_cpu_s / run.cases for run in runs[count]],
            higher_is_better=False,
        )
        result.add(
            f"{label} worker CPU ms/case",
            "ms",
            [1000 * run.worker_cpu_s / run.cases for run in runs[count]],
            higher_is_better=False,
        )
    result.details = {
        "cases_per_run": n,
        "concurrency": concurrency,
        "updates_per_case": UPDATES_PER_CASE,
        "events_per_case": events_total / max(len(all_ids), 1),
        "events_read_back": read_total,
        "worker_mode": worker_mode,
        "stack_profile": settings.stack_profile,
        "temporal_server_processes": sorted(server_pids(settings)),
        "busier_worker_cpu_share": shares,
    }
    return result
