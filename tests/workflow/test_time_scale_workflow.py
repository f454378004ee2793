"""Compressed time on the time-skipping server: a warning and a breach after the compressed delay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from events.base import UnitKind, UnitRef
from events.schemas import Channel, ClockKind, ResidentContact
from workers.case_client import CaseClient
from workers.composition import build_worker
from workers.settings import Settings
from workflows.case_workflow import workflow_id
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, LOCATION

STREET = UnitRef(kind=UnitKind.STREET, id="S-1")


async def test_compressed_accept_clock_warns_and_breaches_in_seconds(
    env: WorkflowEnvironment, wf_settings: Settings
) -> None:
    settings = wf_settings.model_copy(update={"sla_time_scale": 10.0})  # 1 policy hour = 10 s
    task_queue = f"fast-{uuid.uuid4().hex[:8]}"
    cid = "F" + uuid.uuid4().hex[:10].upper()
    async with build_worker(env.client, settings, task_queue=task_queue):
        cases = CaseClient(env.client, task_queue, update_with_start=False)
        try:
            await cases.open(
                c.OpenCase(
                    actor=DISPATCHER,
                    case_id=cid,
                    channel=Channel.HOTLINE,
                    category="noise",
                    title="噪音扰民",
                    description="夜间施工",
                    location=LOCATION,
                    contact=ResidentContact(name="张三", phone="13812345678"),
                )
            )
            await cases.act(cid, c.RegisterCase(actor=DISPATCHER))
            await cases.act(cid, c.DispatchCase(actor=DISPATCHER, unit=STREET))
            s = await cases.state(cid)
            assert s.sla is not None and s.sla.time_scale == 10.0
            clock = s.running_clock(ClockKind.ACCEPT)
            assert clock is not None
            assert clock.due_at - clock.started_at == timedelta(seconds=10)  # 1 working hour → 10 s, any day
            await env.sleep(timedelta(seconds=30))  # past the breach, before 督办 (7 policy hours = 70 s)
            tl = await cases.timeline(cid)
            started = [e for e in tl if e.type == "sla.clock_started" and e.clock_id == clock.clock_id]
            assert started[0].time_scale == 10.0 and started[0].budget == timedelta(seconds=10)
            alarms = [
                (e.type, e.occurred_at - clock.started_at, getattr(e, "time_scale", None))
                for e in tl
                if getattr(e, "clock_id", None) == clock.clock_id
                and e.type in ("sla.warning_raised", "sla.breached", "sla.escalation_raised")
            ]
            assert alarms == [
                ("sla.warning_raised", timedelta(seconds=5), 10.0),
                ("sla.warning_raised", timedelta(seconds=7.5), 10.0),
                ("sla.breached", timedelta(seconds=10), 10.0),
                ("sla.escalation_raised", timedelta(seconds=10), None),
            ]
        finally:  # the time-skipping server only skips while no open case waits for a worker
            await env.client.get_workflow_handle(workflow_id(cid)).terminate("test over")
