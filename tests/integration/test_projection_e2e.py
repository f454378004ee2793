"""End to end: real cases on the real worker → Kafka → projector → read model → report and audit trail.

A ``gridcase worker`` process (own task queue and topic prefix) runs two cases on the local dev
server: one through to a satisfied closure, one returned, re-dispatched and left in handling. The
projector applies what they published; the read model must agree with the workflows' own state and
history, the monthly report must show their figures, and ``gridcase case timeline`` must print the
workflow's audit trail with its clocks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from events.base import UnitKind, UnitRef
from events.consumer import new_group_id
from events.schemas import Channel, Rating, ResidentContact, ReturnReason, ReviewDecision
from events.topics import ensure_topics
from readmodel.db import make_engine, migrate
from readmodel.kpis import month_of
from readmodel.projector import Projector
from readmodel.queries import get_case, get_timeline
from readmodel.report import build_report
from workers.case_client import CaseClient
from workers.composition import connect_temporal
from workers.settings import Settings
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, LOCATION, unit_actor

pytestmark = pytest.mark.integration
GRIDCASE = str(Path(sys.executable).parent / "gridcase")


@pytest.fixture
def worker(stack_settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, dict[str, str]]]:
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"rme2e{uuid.uuid4().hex[:8]}",
            "task_queue": f"rm-e2e-{uuid.uuid4().hex[:8]}",
            "database_url": f"sqlite:///{tmp_path / 'rm.db'}",
        }
    )
    ensure_topics(settings)
    env = {
        **os.environ,
        "GRIDCASE_TASK_QUEUE": settings.task_queue,
        "GRIDCASE_TOPIC_PREFIX": settings.topic_prefix,
        "GRIDCASE_STATE_DIR": str(settings.state_dir),
        "GRIDCASE_METRICS_PORT": "0",
        "GRIDCASE_DATABASE_URL": str(settings.database_url),
        "COLUMNS": "200",
    }
    proc = subprocess.Popen([GRIDCASE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield settings, env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _open(case_id: str) -> c.OpenCase:
    return c.OpenCase(
        actor=DISPATCHER,
        case_id=case_id,
        channel=Channel.HOTLINE,
        category="noise",
        title="噪音",
        description="夜间施工",
        location=LOCATION,
        contact=ResidentContact(name="王五", phone="13700002222"),
        idempotency_key=f"k-{case_id}",
    )


async def test_real_cases_reach_the_read_model_the_report_and_the_audit_trail(
    worker: tuple[Settings, dict[str, str]],
) -> None:
    settings, env = worker
    client = await connect_temporal(settings)
    cases = CaseClient(client, settings.task_queue)
    street = UnitRef(kind=UnitKind.STREET, id=LOCATION.street_id)
    water = UnitRef(kind=UnitKind.DEPARTMENT, id="water")
    sa = unit_actor(street)
    closed, handling = (f"E{uuid.uuid4().hex[:10].upper()}" for _ in range(2))

    await cases.open(_open(closed))
    for cmd in (
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=street),
        c.AcceptCase(actor=sa),
        c.ContactResident(actor=sa),
        c.ResolveCase(actor=sa, notes="已停工"),
        c.VerifyCase(actor=GRID_WORKER, passed=True),
        c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED),
        c.CloseCase(actor=DISPATCHER),
    ):
        await cases.act(closed, cmd)
    await cases.open(_open(handling))
    for cmd in (
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=water),
        c.ReturnCase(actor=unit_actor(water), reason_code=ReturnReason.TERRITORY_MISMATCH, reason="属地"),
        c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="街道办理", redispatch_to=street),
        c.AcceptCase(actor=sa),
    ):
        await cases.act(handling, cmd)
    states = {cid: await cases.state(cid) for cid in (closed, handling)}

    migrate(str(settings.database_url))
    engine = make_engine(str(settings.database_url))
    try:
        group = new_group_id("rm-e2e")
        deadline = time.monotonic() + 90
        while True:  # the worker publishes asynchronously: project until both cases are complete
            await asyncio.to_thread(
                Projector(settings, engine, group_id=group).run, until_caught_up=True, stop_after=20
            )
            rows = {cid: get_case(engine, cid) for cid in states}
            if all(r is not None and r.last_seq == states[cid].seq for cid, r in rows.items()):
                break
            assert time.monotonic() < deadline, {cid: r and r.last_seq for cid, r in rows.items()}
            await asyncio.sleep(0.5)

        done, open_ = rows[closed], rows[handling]
        assert done is not None and open_ is not None
        assert done.status == states[closed].status.value == "closed" and done.rating == "satisfied"
        assert open_.status == states[handling].status.value == "handling"
        assert open_.return_count == 1 and open_.dispatch_count == 2 and open_.unit_id == street.id
        assert open_.next_due_at is not None  # its contact and resolve clocks are running
        history = await cases.timeline(closed)
        assert [t.event_id for t in get_timeline(engine, closed)] == [e.event_id for e in history]

        report = build_report(engine, month_of(datetime.now(UTC)), "street", basic_weight=0.9, weights=(0.1, 0.5, 0.4))
        row = next(r for r in report.rows if r.key == LOCATION.street_id)
        m = row.metrics
        assert m.cases == 2 and m.open == 1 and m.closed == 1 and m.valid_callbacks == 1
        assert m.satisfaction_rate == 1.0 and m.resolution_rate == 1.0 and m.response_rate == 1.0
        assert m.composite == pytest.approx(1.0)
        assert m.return_rate == pytest.approx(1 / 3)  # three dispatches, one returned
        assert m.on_time_closure_rate == 1.0 and m.mean_handling_hours is not None
    finally:
        engine.dispose()

    out = await asyncio.to_thread(
        subprocess.run,
        [GRIDCASE, "case", "timeline", closed, "--source", "temporal"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "audit trail (temporal)" in out.stdout
    assert "stops accept-" in out.stdout and ": met" in out.stdout and "by street:" in out.stdout
    assert "callback_recorded" in out.stdout and "13700002222" not in out.stdout
