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
import contextlib
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from deploy import stack
from events.topics import ensure_topics
from tests.integration.conftest import free_port, on_cluster, start_private_stack, stop_private_stack
from tests.integration.drills import (
    CaseLoad,
    DrillReport,
    EventWatch,
    Processes,
    ReadModelWatch,
    check_delivery,
    dump_diff,
    processes,
    read_back,
    read_model_dump,
    rebuilt,
    wait_read_model,
)
from tests.integration.private_pg import PostgresUnavailable, PrivatePostgres
from workers.case_client import CaseClient
from workers.composition import connect_temporal
from workers.settings import Settings
from workflows.domain import CaseStatus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CASES = 6
PACE = 0.25  # seconds between two actions of one case: the load spans the fault
DRILL_TIMEOUT = 150.0  # every drill is bounded: its cases must all be closed within this


@pytest.fixture(scope="module")
def drill_stack(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A stack the drills may stop and restart at will: a private dev stack, or the cluster itself."""
    private = start_private_stack(stack_settings, tmp_path_factory, "drill")
    try:
        yield private
    finally:
        stop_private_stack(private)


@pytest.fixture(scope="module")
def drill_pg() -> Iterator[PrivatePostgres | None]:
    """A private PostgreSQL server for the read model (None without PostgreSQL binaries: SQLite then)."""
    try:
        server = PrivatePostgres(free_port())
    except PostgresUnavailable:
        yield None
        return
    try:
        server.init().start()
        yield server
    finally:
        server.close()


@dataclass
class Drill:
    """What a fault function gets: the drill's settings, its processes, the running load, the database."""

    settings: Settings
    stack: Settings  # the private stack's own settings, for stopping and starting its services
    procs: Processes
    load: CaseLoad
    pg: PrivatePostgres | None
    notes: list[str] = field(default_factory=list)
    repaired_at: float | None = None  # when the fault was repaired (service back, replacement running)

    @property
    def database_url(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url

    def actions_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.load.done_at if start <= t <= end)


Fault = Callable[[Drill], Awaitable[None]]


def _database(pg: PrivatePostgres | None, tmp_path: Path, prefix: str) -> str:
    if pg is not None:
        return pg.create_database(prefix)
    return f"sqlite:///{tmp_path / f'{prefix}-{uuid.uuid4().hex[:6]}.db'}"


def _restore(base: Settings, pg: PrivatePostgres | None) -> None:
    """Start whatever a failed drill left stopped (best effort)."""
    with contextlib.suppress(Exception):
        stack.up(base, timeout=120)
    if pg is not None:
        with contextlib.suppress(Exception):
            pg.start()  # fails harmlessly when it is running


async def run_drill(
    name: str,
    base: Settings,
    pg: PrivatePostgres | None,
    tmp_path: Path,
    fault: Fault,
    *,
    at: float = 0.3,
    pace: float = PACE,
) -> DrillReport:
    """Drive ``CASES`` cases with a real worker and a real projector; run ``fault`` once ``at`` of the actions
    are done; then check the cases, the topic and the read model against a clean rebuild."""
    settings = base.model_copy(
        update={
            "topic_prefix": f"{name}{uuid.uuid4().hex[:6]}",
            "task_queue": f"{name}-{uuid.uuid4().hex[:6]}",
            "database_url": _database(pg, tmp_path, "rm"),
            "projector_group_id": f"projector-{name}-{uuid.uuid4().hex[:6]}",
        }
    )
    await asyncio.to_thread(ensure_topics, settings, partitions=2)
    client = await connect_temporal(settings)
    load = CaseLoad(CaseClient(client, settings.task_queue), CASES, prefix=name[:3].upper(), pace=pace)
    with processes(settings, tmp_path) as procs:
        worker = procs.worker("worker-1")
        projector = procs.start("projector-1", "projector")
        await asyncio.to_thread(worker.wait_for_log, "worker polling")
        await asyncio.to_thread(projector.wait_for_log, "projecting")
        drill = Drill(settings, base, procs, load, pg)
        with EventWatch(settings, load.case_ids) as watch, ReadModelWatch(drill.database_url) as rm_watch:
            driving = load.start(timeout=DRILL_TIMEOUT)
            await load.reached(at)
            try:
                await fault(drill)
            except BaseException:
                await asyncio.to_thread(_restore, base, pg)  # the next drills need every service back
                raise
            await driving
            summaries = await load.results(client, timeout=120)
            expected = {cid: s.events for cid, s in summaries.items()}
            assert {s.status for s in summaries.values()} == {CaseStatus.CLOSED}
            await asyncio.to_thread(watch.wait_for, sum(expected.values()), 60.0)
            await asyncio.to_thread(wait_read_model, drill.database_url, expected, 60.0)
        for kind in ("worker", "projector"):
            assert any(p.alive for p in procs.started if p.name.startswith(kind)), f"no {kind} survived the drill"
        for proc in [p for p in procs.started if p.alive]:
            exit_ = await asyncio.to_thread(proc.stop, signal.SIGTERM, 30.0)
            assert exit_.returncode == 0, f"{proc.name} did not stop cleanly on SIGTERM: {exit_}\n{proc.tail()}"
    copies = await asyncio.to_thread(read_back, settings, expected)
    resent = check_delivery(copies, expected)
    live = await asyncio.to_thread(read_model_dump, drill.database_url)
    clean = await asyncio.to_thread(rebuilt, settings, _database(pg, tmp_path, "rebuild"))
    assert len(live["rm_cases"]) == CASES
    assert live == clean, f"the read model differs from a clean rebuild:\n{dump_diff(live, clean)}"
    if rm_watch.errors:
        drill.notes.append(f"read model unreadable for {rm_watch.errors} polls")
    if drill.repaired_at is not None:
        drill.notes.append(
            f"after the repair: last action {max(load.done_at) - drill.repaired_at:.1f} s, last event "
            f"{max(watch.first_seen.values()) - drill.repaired_at:.1f} s, read model complete "
            f"{max(rm_watch.grew_at) - drill.repaired_at:.1f} s"
        )
    report = DrillReport(
        name,
        CASES,
        sum(expected.values()),
        load.longest_stall(),
        watch.longest_stall(),
        rm_watch.longest_stall(),
        load.retries,
        resent,
        drill.notes,
    )
    print(report.line())
    return report


async def test_worker_killed_mid_case(drill_stack: Settings, drill_pg: PrivatePostgres | None, tmp_path: Path) -> None:
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

    report = await run_drill("kill", drill_stack, drill_pg, tmp_path, kill_worker)
    assert report.events >= CASES * 12


async def test_temporal_server_restarted(
    drill_stack: Settings, drill_pg: PrivatePostgres | None, tmp_path: Path
) -> None:
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

    report = await run_drill("temporal", drill_stack, drill_pg, tmp_path, restart_temporal)
    assert report.action_stall >= 3  # the actors really waited for the server


async def test_broker_stopped_and_restarted(
    drill_stack: Settings, drill_pg: PrivatePostgres | None, tmp_path: Path
) -> None:
    """The broker stops for a while: cases keep accepting actions; once it is back every event arrives."""

    async def restart_broker(d: Drill) -> None:
        stopped = await asyncio.to_thread(stack.down, d.stack, 30.0, (stack.KAFKA,))
        assert stopped[stack.KAFKA].startswith("stopped"), stopped
        down_at = time.monotonic()
        await asyncio.sleep(3)  # restarting the broker takes another 10-25 s on two cores
        status = await asyncio.to_thread(stack.up, d.stack, 120.0)
        up_at = d.repaired_at = time.monotonic()
        assert status[stack.KAFKA].action == "started" and status.healthy
        during = d.actions_between(down_at, up_at)
        assert during > 0, "no action was accepted while the broker was down"
        d.notes.append(f"broker down {up_at - down_at:.1f} s, {during} actions accepted meanwhile")

    # Three brokers take several seconds to stop (each hands its partitions over first): on the
    # cluster a slower load still has actions left for the time the brokers are away.
    pace = PACE * 4 if on_cluster(drill_stack) else PACE
    report = await run_drill("broker", drill_stack, drill_pg, tmp_path, restart_broker, pace=pace)
    assert report.event_stall >= 3


async def test_projector_killed_mid_batch(
    drill_stack: Settings, drill_pg: PrivatePostgres | None, tmp_path: Path
) -> None:
    """SIGKILL on the projector while its batch transaction is open (blocked on a lock after its first
    writes); the uncommitted batch is rolled back and a replacement in the same group re-reads it."""
    if drill_pg is None:
        pytest.skip("needs PostgreSQL server binaries (a private server holds the lock)")

    def kill_inside_batch(d: Drill) -> float:
        engine = create_engine(d.database_url)
        try:
            with engine.connect() as conn:
                conn.execute(text("LOCK TABLE rm_case_timeline IN EXCLUSIVE MODE"))  # readers pass, writers wait

                def projector_waiting() -> bool:
                    conn.execute(text("SELECT pg_stat_clear_snapshot()"))  # else one snapshot per transaction
                    return bool(
                        conn.execute(
                            text(
                                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event_type = 'Lock' AND state = 'active' AND pid <> pg_backend_pid()"
                            )
                        ).scalar_one()
                    )

                deadline = time.monotonic() + 30
                while not projector_waiting():
                    assert time.monotonic() < deadline, "the projector never reached the locked table"
                    time.sleep(0.05)
                killed_at = time.monotonic()
                gone = d.procs.by_name("projector-1").stop(signal.SIGKILL, 10)
                assert gone.returncode == -signal.SIGKILL
                conn.rollback()  # the lock goes; the dead projector's transaction aborts
            return killed_at
        finally:
            engine.dispose()

    async def fault(d: Drill) -> None:
        killed_at = await asyncio.to_thread(kill_inside_batch, d)
        replacement = d.procs.start("projector-2", "projector")
        await asyncio.to_thread(replacement.wait_for_log, "projecting")
        d.repaired_at = time.monotonic()
        d.notes.append(
            f"killed inside a batch transaction; replacement consuming {d.repaired_at - killed_at:.1f} s after the kill"
        )

    await run_drill("projector", drill_stack, drill_pg, tmp_path, fault)


async def test_read_model_database_restarted(
    drill_stack: Settings, drill_pg: PrivatePostgres | None, tmp_path: Path
) -> None:
    """The read model's PostgreSQL server goes down hard (immediate stop: crash recovery on start) for a few
    seconds; the projector keeps its offsets, retries the batch and catches up once the server is back."""
    if drill_pg is None:
        pytest.skip("needs PostgreSQL server binaries to run a private server")
    pg = drill_pg

    async def restart_database(d: Drill) -> None:
        await asyncio.to_thread(pg.stop, "immediate")
        down_at = time.monotonic()
        await asyncio.sleep(4)
        await asyncio.to_thread(pg.start)
        d.repaired_at = time.monotonic()
        d.notes.append(f"database down {d.repaired_at - down_at:.1f} s")

    report = await run_drill("postgres", drill_stack, drill_pg, tmp_path, restart_database)
    assert report.readmodel_stall >= 4  # the read model really stood still
