"""Fault drills on a private stack: each drill drives several cases through the whole lifecycle with
real worker processes, breaks one piece mid-run, repairs it, and checks that nothing was lost.

In every drill: every case closes, every event is on the case-events topic with each case's records
in order (read back from the beginning), and the longest stall is measured twice — the longest time
no actor's call succeeded, and the longest time no new event arrived on the topic. Run with ``-s`` to
see the figures (``DRILL ...`` lines); docs/fault-drills.md records them.

The stack here is private (own state directory and free ports), so stopping its Temporal server or
its broker never disturbs the shared stack.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy import stack
from events.topics import ensure_topics
from tests.integration.conftest import private_stack_settings
from tests.integration.drills import (
    CaseLoad,
    DrillReport,
    EventWatch,
    Processes,
    check_delivery,
    processes,
    read_back,
)
from workers.case_client import CaseClient
from workers.composition import connect_temporal
from workers.settings import Settings
from workflows.domain import CaseStatus

pytestmark = pytest.mark.integration

CASES = 6
PACE = 0.25  # seconds between two actions of one case: the load spans the fault
DRILL_TIMEOUT = 150.0  # every drill is bounded: its cases must all be closed within this


@pytest.fixture(scope="module")
def drill_stack(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A private stack (Temporal dev server + broker) the drills may stop and restart at will."""
    state = tmp_path_factory.mktemp("drill-stack")
    private = private_stack_settings(stack_settings, state, f"drill{uuid.uuid4().hex[:6]}")
    try:
        assert stack.up(private, timeout=120).healthy
        yield private
    finally:
        stack.down(private)


@dataclass
class Drill:
    """What a fault function gets: the drill's settings, its processes and the running load."""

    settings: Settings
    stack: Settings  # the private stack's own settings, for stopping and starting its services
    procs: Processes
    load: CaseLoad
    notes: list[str]
    repaired_at: float | None = None  # when the fault was repaired (service back, replacement polling)

    def actions_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.load.done_at if start <= t <= end)


Fault = Callable[[Drill], Awaitable[None]]


async def run_drill(name: str, base: Settings, log_dir: Path, fault: Fault, *, at: float = 0.3) -> DrillReport:
    """Drive ``CASES`` cases with one real worker process; run ``fault`` once ``at`` of the actions are done."""
    settings = base.model_copy(
        update={"topic_prefix": f"{name}{uuid.uuid4().hex[:6]}", "task_queue": f"{name}-{uuid.uuid4().hex[:6]}"}
    )
    await asyncio.to_thread(ensure_topics, settings, partitions=2)
    client = await connect_temporal(settings)
    load = CaseLoad(CaseClient(client, settings.task_queue), CASES, prefix=name[:3].upper(), pace=PACE)
    with processes(settings, log_dir) as procs:
        worker = procs.worker("worker-1")
        await asyncio.to_thread(worker.wait_for_log, "worker polling")
        drill = Drill(settings, base, procs, load, [])
        with EventWatch(settings, load.case_ids) as watch:
            driving = load.start(timeout=DRILL_TIMEOUT)
            await load.reached(at)
            await fault(drill)
            await driving
            summaries = await load.results(client, timeout=120)
            expected = {cid: s.events for cid, s in summaries.items()}
            assert {s.status for s in summaries.values()} == {CaseStatus.CLOSED}
            await asyncio.to_thread(watch.wait_for, sum(expected.values()), 60.0)
        survivors = [p for p in procs.started if p.alive]
        assert survivors, "no worker survived the drill"
    copies = await asyncio.to_thread(read_back, settings, expected)
    resent = check_delivery(copies, expected)
    if drill.repaired_at is not None:
        drill.notes.append(f"last action {max(load.done_at) - drill.repaired_at:.1f} s and last event "
                           f"{max(watch.first_seen.values()) - drill.repaired_at:.1f} s after the repair")
    report = DrillReport(name, CASES, sum(expected.values()), load.longest_stall(), watch.longest_stall(),
                         load.retries, resent, drill.notes)
    print(report.line())
    return report


async def test_worker_killed_mid_case(drill_stack: Settings, tmp_path: Path) -> None:
    """SIGKILL on the only worker mid-run; a fresh process (no cache: full replay) takes over."""

    async def kill_worker(d: Drill) -> None:
        first = d.procs.started[0]
        killed_at = time.monotonic()
        gone = await asyncio.to_thread(first.stop, signal.SIGKILL, 10)
        assert gone.returncode == -signal.SIGKILL
        replacement = d.procs.worker("worker-2")
        await asyncio.to_thread(replacement.wait_for_log, "worker polling")
        d.repaired_at = time.monotonic()
        d.notes.append(f"replacement polling {d.repaired_at - killed_at:.1f} s after the kill")

    report = await run_drill("kill", drill_stack, tmp_path, kill_worker)
    assert report.events >= CASES * 12


async def test_temporal_server_restarted(drill_stack: Settings, tmp_path: Path) -> None:
    """The dev server stops for a few seconds and restarts on its SQLite file; the worker rides it out."""

    async def restart_temporal(d: Drill) -> None:
        stopped = await asyncio.to_thread(stack.down, d.stack, 30.0, (stack.TEMPORAL,))
        assert stopped[stack.TEMPORAL].startswith("stopped"), stopped
        down_at = time.monotonic()
        await asyncio.sleep(3)
        status = await asyncio.to_thread(stack.up, d.stack, 120.0)
        assert status[stack.TEMPORAL].action == "started" and status.healthy
        d.repaired_at = time.monotonic()
        d.notes.append(f"server down {time.monotonic() - down_at:.1f} s")

    report = await run_drill("temporal", drill_stack, tmp_path, restart_temporal)
    assert report.action_stall >= 3  # the actors really waited for the server


async def test_broker_stopped_and_restarted(drill_stack: Settings, tmp_path: Path) -> None:
    """The broker stops for a while: cases keep accepting actions; once it is back every event arrives."""

    async def restart_broker(d: Drill) -> None:
        stopped = await asyncio.to_thread(stack.down, d.stack, 30.0, (stack.KAFKA,))
        assert stopped[stack.KAFKA].startswith("stopped"), stopped
        down_at = time.monotonic()
        await asyncio.sleep(6)
        status = await asyncio.to_thread(stack.up, d.stack, 120.0)
        up_at = d.repaired_at = time.monotonic()
        assert status[stack.KAFKA].action == "started" and status.healthy
        during = d.actions_between(down_at, up_at)
        assert during > 0, "no action was accepted while the broker was down"
        d.notes.append(f"broker down {up_at - down_at:.1f} s, {during} actions accepted meanwhile")

    report = await run_drill("broker", drill_stack, tmp_path, restart_broker)
    assert report.event_stall >= 6
