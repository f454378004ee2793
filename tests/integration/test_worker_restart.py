"""A case survives its worker being killed (SIGKILL) mid-case, on the real dev server and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from events.base import UnitKind, UnitRef
from events.consumer import consume
from events.schemas import Channel, Rating, ResidentContact, WhistleTask
from events.topics import ensure_topics
from workers.case_client import CaseClient
from workers.composition import connect_temporal
from workers.settings import Settings
from workflows.case_workflow import CaseSummary, CaseWorkflow, workflow_id
from workflows.domain import CaseStatus
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, LOCATION, dept_actor, unit_actor
from workflows.search_attributes import SA_STATUS, SA_STREET

pytestmark = pytest.mark.integration
GRIDCASE = str(Path(sys.executable).parent / "gridcase")


def start_worker(settings: Settings, task_queue: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GRIDCASE_TASK_QUEUE": task_queue,
        "GRIDCASE_TOPIC_PREFIX": settings.topic_prefix,
        "GRIDCASE_STATE_DIR": str(settings.state_dir),
    }
    return subprocess.Popen([GRIDCASE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def test_worker_killed_mid_case_loses_nothing(stack_settings: Settings) -> None:
    settings = stack_settings.model_copy(update={"topic_prefix": f"wk{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings, partitions=1)
    task_queue = f"restart-{uuid.uuid4().hex[:8]}"
    client = await connect_temporal(settings)
    cases = CaseClient(client, task_queue)  # real update-with-start on the dev server
    street = UnitRef(kind=UnitKind.STREET, id="S-1")
    sa = unit_actor(street)
    cid = "K" + uuid.uuid4().hex[:10].upper()
    worker = start_worker(settings, task_queue)
    try:
        await cases.open(
            c.OpenCase(
                actor=DISPATCHER,
                case_id=cid,
                channel=Channel.HOTLINE,
                category="noise",
                title="噪音",
                description="夜间施工",
                location=LOCATION,
                contact=ResidentContact(name="李四", phone="13900001111"),
                idempotency_key=f"k-{cid}",
            )
        )
        for cmd in (
            c.RegisterCase(actor=DISPATCHER),
            c.DispatchCase(actor=DISPATCHER, unit=street),
            c.AcceptCase(actor=sa),
            c.ContactResident(actor=sa),
            c.BlowWhistle(actor=sa, tasks=[WhistleTask(department_id="environment", task="执法")]),
        ):
            await cases.act(cid, cmd)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        worker = start_worker(settings, task_queue)  # a fresh process: no cache, full replay
        for cmd in (
            c.ReportIn(actor=dept_actor("environment")),
            c.CompleteTask(actor=dept_actor("environment"), result="done"),
            c.ResolveCase(actor=sa, notes="fixed"),
            c.VerifyCase(actor=GRID_WORKER, passed=True),
            c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED),
            c.CloseCase(actor=DISPATCHER),
        ):
            await cases.act(cid, cmd)
        handle = client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(cid))
        result: CaseSummary = await handle.result()
        assert result.status == CaseStatus.CLOSED
        # search attributes are kept current on the real server
        desc = await handle.describe()
        assert desc.typed_search_attributes.get(SA_STATUS) == "closed"
        assert desc.typed_search_attributes.get(SA_STREET) == "S-1"
        seen: list[str] = []
        consume(
            lambda env, ev: seen.append(ev.event_id),
            settings=settings,
            group_id=f"t-{uuid.uuid4().hex[:6]}",
            case_id=cid,
            from_beginning=True,
            stop_after=30,
            max_events=result.events,
        )
        assert seen == [f"{cid}:{n}" for n in range(1, result.events + 1)]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
