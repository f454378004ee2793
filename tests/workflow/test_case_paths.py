"""End-to-end paths of one case workflow on the time-skipping server."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from events.base import Actor, Role, UnitKind, UnitRef
from events.consumer import consume
from events.schemas import Channel, ClockKind, Rating, ResidentContact, ReturnReason, ReviewDecision, WhistleTask
from workers.case_client import ActionRefused, CaseClient
from workers.settings import Settings
from workflows.case_workflow import (
    CaseSummary,
    CaseWorkflow,
    workflow_id,
)
from workflows.domain import CaseStatus
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, LOCATION, SUPERVISOR, dept_actor, unit_actor
from workflows.search_attributes import (
    SA_BREACHED,
    SA_CATEGORY,
    SA_GRID,
    SA_HANDLER,
    SA_NEXT_DUE,
    SA_STATUS,
    SA_UNITS,
    SA_URGENCY,
)
from workflows.sla import clocks as sla_clocks

STREET = UnitRef(kind=UnitKind.STREET, id="S-1")
SA = unit_actor(STREET)
HISTORIES = Path(__file__).parent / "histories"


def new_id() -> str:
    return "W" + uuid.uuid4().hex[:10].upper()


async def open_hotline(cases: CaseClient, case_id: str, category: str = "noise") -> None:
    await cases.open(
        c.OpenCase(
            actor=DISPATCHER,
            case_id=case_id,
            channel=Channel.HOTLINE,
            category=category,
            title="噪音扰民",
            description="夜间施工",
            location=LOCATION,
            contact=ResidentContact(name="张三", phone="13812345678"),
            idempotency_key=f"key-{case_id}",
        )
    )


async def to_street_handling(cases: CaseClient, case_id: str) -> None:
    await open_hotline(cases, case_id)
    for cmd in (
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=STREET),
        c.AcceptCase(actor=SA),
        c.ContactResident(actor=SA),
    ):
        await cases.act(case_id, cmd)


async def finish(cases: CaseClient, case_id: str, rating: Rating = Rating.SATISFIED) -> None:
    await cases.act(case_id, c.ResolveCase(actor=SA, notes="fixed"))
    await cases.act(case_id, c.VerifyCase(actor=GRID_WORKER, passed=True))
    await cases.act(case_id, c.RecordCallback(actor=DISPATCHER, rating=rating))
    await cases.act(case_id, c.CloseCase(actor=DISPATCHER))


async def summary(client: Client, case_id: str) -> CaseSummary:
    handle = client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
    return await handle.result()


async def types(cases: CaseClient, case_id: str) -> list[str]:
    return [e.type for e in await cases.timeline(case_id)]


async def record(client: Client, case_id: str, name: str) -> None:
    """With GRIDCASE_RECORD_HISTORIES=1, keep the history as a replay fixture.

    ``GRIDCASE_RECORD_HISTORIES_SUFFIX`` (e.g. ``__sa_delta_v1``) names the fixtures of a new patch
    so the ones of the older paths stay.
    """
    if os.environ.get("GRIDCASE_RECORD_HISTORIES") == "1":
        history = await client.get_workflow_handle(workflow_id(case_id)).fetch_history()
        suffix = os.environ.get("GRIDCASE_RECORD_HISTORIES_SUFFIX", "")
        (HISTORIES / f"{name}{suffix}.json").write_text(json.dumps(json.loads(history.to_json()), indent=1))


async def assert_search_attributes(client: Client, cases: CaseClient, case_id: str) -> None:
    """The case's search attributes on the server match its state (each upsert may carry only the changes)."""
    state = await cases.state(case_id)
    # the raw call: the SDK's describe() cannot decode an unset datetime attribute
    desc = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id(case_id))
        )
    )
    fields = desc.workflow_execution_info.search_attributes.indexed_fields
    attrs = {name: json.loads(p.data) if p.data else None for name, p in fields.items()}
    due = min((k.due_at for k in state.running_clocks() if k.paused_at is None), default=None)
    assert attrs[SA_STATUS.name] == state.status.value
    assert attrs[SA_BREACHED.name] is state.breached
    assert attrs[SA_UNITS.name] == list(state.units_involved)
    assert attrs[SA_URGENCY.name] == state.urgency.value and attrs[SA_CATEGORY.name] == state.category
    assert state.location is not None and attrs[SA_GRID.name] == state.location.grid_id
    next_due = attrs.get(SA_NEXT_DUE.name)
    if due is None:  # unset: absent, or kept as an empty value
        assert next_due in (None, []), next_due
    else:
        assert datetime.fromisoformat(str(next_due).replace("Z", "+00:00")) == due


def published_ids(settings: Settings, case_id: str, expected: int) -> list[str]:
    seen: list[str] = []
    consume(
        lambda env, ev: seen.append(ev.event_id),
        settings=settings,
        group_id=f"t-{uuid.uuid4().hex[:6]}",
        case_id=case_id,
        from_beginning=True,
        stop_after=30,
        max_events=expected,
    )
    return seen


async def test_grid_self_handled_patrol_case(env: WorkflowEnvironment, cases: CaseClient) -> None:
    cid = new_id()
    await cases.open(
        c.OpenCase(
            actor=GRID_WORKER,
            case_id=cid,
            channel=Channel.GRID_PATROL,
            category="garbage",
            title="垃圾堆放",
            description="楼道垃圾",
            location=LOCATION,
            self_handle=True,
        )
    )
    assert (await cases.state(cid)).status == CaseStatus.HANDLING
    await cases.act(cid, c.ResolveCase(actor=GRID_WORKER, notes="cleaned on the spot"))
    await cases.act(cid, c.VerifyCase(actor=GRID_WORKER, passed=True))
    await cases.act(cid, c.CloseCase(actor=DISPATCHER))
    result = await summary(env.client, cid)
    assert result.status == CaseStatus.CLOSED
    s = await cases.state(cid)
    assert s.resolved_by_grid
    await record(env.client, cid, "grid_self_handled")


async def test_whistle_three_departments_one_late(
    env: WorkflowEnvironment, cases: CaseClient, wf_settings: Settings
) -> None:
    cid = new_id()
    await to_street_handling(cases, cid)
    depts = ["environment", "urban-management", "housing"]
    await cases.act(cid, c.BlowWhistle(actor=SA, tasks=[WhistleTask(department_id=d, task=f"task {d}") for d in depts]))
    for d in depts[:2]:
        await cases.act(cid, c.ReportIn(actor=dept_actor(d)))
    await env.sleep(timedelta(hours=2))  # housing is late: its report-in clock (30 min) breaches
    await assert_search_attributes(env.client, cases, cid)
    s = await cases.state(cid)
    late = s.running_clock(ClockKind.REPORT_IN, "department:housing")
    assert late is not None and late.breached_at is not None
    tl = await cases.timeline(cid)
    breaches = [e for e in tl if e.type == "sla.breached"]
    assert [e.unit.id for e in breaches] == ["housing"]
    assert breaches[0].occurred_at == late.due_at
    assert any(e.type == "sla.escalation_raised" and e.unit.id == "housing" for e in tl)
    await cases.act(cid, c.ReportIn(actor=dept_actor("housing")))
    for d in depts:
        await cases.act(cid, c.CompleteTask(actor=dept_actor(d), result="done"))
    await finish(cases, cid)
    result = await summary(env.client, cid)
    assert result.status == CaseStatus.CLOSED
    s = await cases.state(cid)
    assert s.breached and s.closure_type is not None and s.closure_type.value == "overdue"
    await assert_search_attributes(env.client, cases, cid)
    ids = published_ids(wf_settings, cid, result.events)
    assert ids == [f"{cid}:{n}" for n in range(1, result.events + 1)]
    await record(env.client, cid, "whistle_one_late")


async def test_return_review_and_redispatch(env: WorkflowEnvironment, cases: CaseClient) -> None:
    cid = new_id()
    await open_hotline(cases, cid)
    env_dept = UnitRef(kind=UnitKind.DEPARTMENT, id="environment")
    await cases.act(cid, c.RegisterCase(actor=DISPATCHER))
    await cases.act(cid, c.DispatchCase(actor=DISPATCHER, unit=env_dept))
    await cases.act(
        cid,
        c.ReturnCase(
            actor=dept_actor("environment"),
            reason_code=ReturnReason.TERRITORY_MISMATCH,
            reason="construction site noise is the street's",
            evidence=["photo:1"],
        ),
    )
    await cases.act(
        cid,
        c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="to street", redispatch_to=STREET),
    )
    for cmd in (c.AcceptCase(actor=SA), c.ContactResident(actor=SA)):
        await cases.act(cid, cmd)
    await finish(cases, cid)
    assert (await summary(env.client, cid)).status == CaseStatus.CLOSED
    assert "case.return_reviewed" in await types(cases, cid)
    await record(env.client, cid, "return_redispatch")


async def test_unsatisfied_callback_reopens(env: WorkflowEnvironment, cases: CaseClient) -> None:
    cid = new_id()
    await to_street_handling(cases, cid)
    await cases.act(cid, c.ResolveCase(actor=SA, notes="fixed"))
    await cases.act(cid, c.VerifyCase(actor=GRID_WORKER, passed=True))
    await cases.act(cid, c.RecordCallback(actor=DISPATCHER, rating=Rating.UNSATISFIED, resolved=False))
    s = await cases.state(cid)
    assert s.status == CaseStatus.HANDLING and s.reopen_count == 1
    await finish(cases, cid, Rating.BASICALLY_SATISFIED)
    assert (await summary(env.client, cid)).status == CaseStatus.CLOSED
    await record(env.client, cid, "unsatisfied_reopen")


async def test_extension_approved_moves_deadline(env: WorkflowEnvironment, cases: CaseClient) -> None:
    cid = new_id()
    await to_street_handling(cases, cid)
    before = (await cases.state(cid)).running_clock(ClockKind.RESOLVE)
    assert before is not None
    await cases.act(cid, c.RequestExtension(actor=SA, extra=timedelta(days=3), reason="parts on order"))
    await cases.act(cid, c.DecideExtension(actor=DISPATCHER, approved=True))
    after = (await cases.state(cid)).clocks[before.clock_id]
    assert after.due_at > before.due_at
    await finish(cases, cid)
    assert (await summary(env.client, cid)).status == CaseStatus.CLOSED


async def test_duplicate_merged_into_existing_case(env: WorkflowEnvironment, cases: CaseClient) -> None:
    first, dup = new_id(), new_id()
    await to_street_handling(cases, first)
    await open_hotline(cases, dup)
    await cases.act(dup, c.MergeInto(actor=DISPATCHER, into_case_id=first))
    assert (await summary(env.client, dup)).status == CaseStatus.MERGED
    s = await cases.state(first)
    assert s.duplicates == [dup]


def accepted_updates(history: object) -> int:
    from temporalio.api.enums.v1 import EventType

    return sum(
        1
        for e in history.events  # type: ignore[attr-defined]
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )


async def test_refused_action_names_the_rule_and_writes_nothing(env: WorkflowEnvironment, cases: CaseClient) -> None:
    cid = new_id()
    await open_hotline(cases, cid)
    await cases.act(cid, c.RegisterCase(actor=DISPATCHER))
    await cases.act(cid, c.DispatchCase(actor=DISPATCHER, unit=STREET))
    history_before = await env.client.get_workflow_handle(workflow_id(cid)).fetch_history()
    with pytest.raises(ActionRefused) as err:
        await cases.act(cid, c.AcceptCase(actor=dept_actor("water")))
    assert err.value.rule == "jurisdiction.not_assigned"
    assert "street:S-1" in err.value.message
    history_after = await env.client.get_workflow_handle(workflow_id(cid)).fetch_history()
    assert accepted_updates(history_after) == accepted_updates(history_before) == 3  # open, register, dispatch
    # a resident is refused too, even though the call reached the workflow
    with pytest.raises(ActionRefused) as err:
        await cases.act(cid, c.CloseCase(actor=Actor(role=Role.RESIDENT, person_id="r-1")))
    assert err.value.rule == "role.not_allowed"


async def test_retried_calls_apply_once(env: WorkflowEnvironment, cases: CaseClient) -> None:
    cid = new_id()
    await open_hotline(cases, cid)
    again = await cases.open(
        c.OpenCase(
            actor=DISPATCHER,
            case_id=cid,
            channel=Channel.HOTLINE,
            category="noise",
            title="噪音扰民",
            description="夜间施工",
            location=LOCATION,
            idempotency_key=f"key-{cid}",
        )
    )
    assert again.events == [f"{cid}:1"]
    first = await cases.act(cid, c.RegisterCase(actor=DISPATCHER), request_id="req-1")
    retry = await cases.act(cid, c.RegisterCase(actor=DISPATCHER), request_id="req-1")
    assert retry == first
    assert (await cases.state(cid)).seq == first.seq


async def test_sla_alarms_fire_at_their_exact_times(env: WorkflowEnvironment, cases: CaseClient) -> None:
    cid = new_id()
    await open_hotline(cases, cid)
    await cases.act(cid, c.RegisterCase(actor=DISPATCHER))
    await cases.act(cid, c.DispatchCase(actor=DISPATCHER, unit=STREET))
    s = await cases.state(cid)
    clock = s.running_clock(ClockKind.ACCEPT)
    assert clock is not None and s.sla is not None
    cal = s.sla.calendar
    await env.sleep(timedelta(days=20))  # across nights and weekends: every rung of the ladder is due
    tl = await cases.timeline(cid)  # no command since: only the workflow timer can have raised these
    alarms = [
        e
        for e in tl
        if e.type.startswith("sla.")
        and getattr(e, "clock_id", None) == clock.clock_id
        and e.type != "sla.clock_started"
    ]
    expected = (
        [sla_clocks.warning_at(clock, cal, t) for t in clock.rule.warnings]
        + [clock.due_at]
        + [sla_clocks.rung_at(clock, cal, i) for i in range(len(clock.rule.ladder))]
    )
    assert [e.occurred_at for e in alarms] == expected
    assert [e.type for e in alarms] == ["sla.warning_raised"] * len(clock.rule.warnings) + ["sla.breached"] + [
        "sla.escalation_raised"
    ] * len(clock.rule.ladder)
    assert [e.level.value for e in alarms if e.type == "sla.escalation_raised"] == [
        "reminder",
        "supervision",
        "public_notice",
    ]
    await cases.act(cid, c.Supervise(actor=SUPERVISOR, note="督办"))


async def test_work_inside_the_unit_assign_reassign_take_and_the_handler_resolves(
    env: WorkflowEnvironment, cases: CaseClient
) -> None:
    """分派 → 改派 (to a section) → 认领 → the handler resolves; the handler is a search attribute, and an
    outsider named as handler or a colleague resolving is refused with the rule and writes nothing."""
    cid = new_id()
    await to_street_handling(cases, cid)
    li = c.Member(person_id="li", unit=STREET, name="李承办")
    await cases.act(cid, c.AssignCase(actor=SA, handler=li, note="你来办"))
    assert (await cases.state(cid)).handler_id == "li"
    assert await _handler_attribute(env.client, cid) == "li"
    outsider = c.Member(person_id="zhao", unit=UnitRef(kind=UnitKind.STREET, id="S-2"))
    seq = (await cases.state(cid)).seq
    with pytest.raises(ActionRefused) as refused:
        await cases.act(cid, c.ReassignCase(actor=SA, handler=outsider, reason="x"))
    assert refused.value.rule == "assign.outside_unit"
    with pytest.raises(ActionRefused) as refused:
        await cases.act(cid, c.ResolveCase(actor=SA, notes="done by the coordinator"))
    assert refused.value.rule == "jurisdiction.not_handler"
    assert (await cases.state(cid)).seq == seq  # nothing written
    await cases.act(cid, c.ReassignCase(actor=SA, section_id="urban", reason="the section's matter"))
    assert await _handler_attribute(env.client, cid) is None  # in the section's queue: nobody's
    zhou = Actor(role=Role.STREET, person_id="zhou", unit_id="S-1", name="周")
    await cases.act(cid, c.TakeCase(actor=zhou))
    s = await cases.state(cid)
    assert (s.handler_id, s.section_id, s.assign_count) == ("zhou", "urban", 3)
    assert await _handler_attribute(env.client, cid) == "zhou"
    await assert_search_attributes(env.client, cases, cid)
    await cases.act(cid, c.ResolveCase(actor=zhou, notes="fixed"))
    await cases.act(cid, c.VerifyCase(actor=GRID_WORKER, passed=True))
    await cases.act(cid, c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED))
    await cases.act(cid, c.CloseCase(actor=DISPATCHER))
    assert (await summary(env.client, cid)).status == CaseStatus.CLOSED
    assert (await types(cases, cid)).count("case.assigned") == 3
    await record(env.client, cid, "unit_assign_take")


async def _handler_attribute(client: Client, case_id: str) -> str | None:
    desc = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id(case_id))
        )
    )
    payload = desc.workflow_execution_info.search_attributes.indexed_fields.get(SA_HANDLER.name)
    value = json.loads(payload.data) if payload is not None and payload.data else None
    return value or None
