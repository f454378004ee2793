"""The broker goes down mid-case: the case keeps accepting actions, and once the broker is back
every event is delivered, complete and in order.

The broker here belongs to a private stack (its own state dir and ports), so stopping it leaves
the shared stack alone; the workflow runs on the time-skipping server.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from deploy import stack
from events.consumer import consume
from events.topics import ensure_topics
from tests.integration.conftest import private_stack_settings
from tests.workflow.test_case_paths import SA, STREET, new_id, open_hotline
from workers.case_client import CaseClient
from workers.composition import build_worker
from workers.settings import Settings
from workflows.domain import CaseStatus
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER

pytestmark = pytest.mark.integration


async def _published(cases: CaseClient, case_id: str) -> dict[str, int]:
    handle = cases.client.get_workflow_handle(f"case-{case_id}")
    return await handle.query("publishing")  # type: ignore[no-any-return]


async def test_case_progresses_while_broker_is_down_and_events_arrive_after(
    env: WorkflowEnvironment, stack_settings: Settings, tmp_path: Path
) -> None:
    private = private_stack_settings(stack_settings, tmp_path / "stack", f"out{uuid.uuid4().hex[:8]}").model_copy(
        update={"worker_sandboxed": True}
    )
    assert stack.up(private, timeout=120).healthy
    task_queue = f"outage-{uuid.uuid4().hex[:8]}"
    try:
        ensure_topics(private, partitions=1)
        async with build_worker(env.client, private, task_queue=task_queue):
            cases = CaseClient(env.client, task_queue, update_with_start=False)
            cid = new_id()
            await open_hotline(cases, cid)
            await cases.act(cid, c.RegisterCase(actor=DISPATCHER))
            stack.down(private)  # the broker (and the private stack's unused Temporal) stop
            for cmd in (
                c.DispatchCase(actor=DISPATCHER, unit=STREET),
                c.AcceptCase(actor=SA),
                c.ContactResident(actor=SA),
                c.ResolveCase(actor=SA, notes="fixed"),
                c.VerifyCase(actor=GRID_WORKER, passed=True),
            ):
                await cases.act(cid, cmd)  # accepted while nothing can be published
            progress = await _published(cases, cid)
            assert progress["published"] < progress["events"]
            assert (await cases.state(cid)).status == CaseStatus.VERIFIED
            assert stack.up(private, timeout=120).healthy
            deadline = time.monotonic() + 120
            while (progress := await _published(cases, cid))["published"] < progress["events"]:
                assert time.monotonic() < deadline, f"events not delivered after the broker came back: {progress}"
                await asyncio.sleep(1)
            await cases.act(cid, c.RecordCallback(actor=DISPATCHER, rating="satisfied"))  # type: ignore[arg-type]
            await cases.act(cid, c.CloseCase(actor=DISPATCHER))
            handle = env.client.get_workflow_handle(f"case-{cid}")
            total = (await handle.result())["events"]
        seen: list[str] = []
        consume(
            lambda _e, ev: seen.append(ev.event_id),
            settings=private,
            group_id=f"t-{uuid.uuid4().hex[:6]}",
            case_id=cid,
            from_beginning=True,
            stop_after=60,
            max_events=total,
        )
        assert seen == [f"{cid}:{n}" for n in range(1, total + 1)]
    finally:
        stack.down(private)
