"""Work inside the unit on the time-skipping server: internal review (审核签发), interim replies
(阶段性答复) and corrections with recomputed clocks (改类 / 加急 / 改址), behind ``unit-work-v1``."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import ClockKind, Location, Rating, Urgency
from tests.workflow.test_case_paths import (
    DISPATCHER,
    GRID_WORKER,
    LOCATION,
    SA,
    STREET,
    new_id,
    open_hotline,
    record,
    summary,
    types,
)
from workers.case_client import ActionRefused, CaseClient
from workflows.case_workflow import PATCH_UNIT_WORK
from workflows.domain import CaseStatus
from workflows.domain import commands as c

HISTORIES = Path(__file__).parent / "histories"
HOUSING = UnitRef(kind=UnitKind.DEPARTMENT, id="housing")
HANDLER = Actor(role=Role.DEPARTMENT, person_id="wang", unit_id="housing", name="王承办")
REVIEWER = Actor(role=Role.DEPARTMENT, person_id="chen", unit_id="housing", name="陈科长")
#: Another street's grid: a case moved there leaves its street.
ELSEWHERE = Location(grid_id="G-201", community_id="C-20", street_id="S-2", district_id="D-1", address="远方小区")


async def to_handling(cases: CaseClient, case_id: str, unit: UnitRef, actor: Actor, category: str = "noise") -> None:
    await open_hotline(cases, case_id, category)
    for cmd in (
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=unit),
        c.AcceptCase(actor=actor),
        c.AssignCase(actor=actor, handler=c.Member(person_id=actor.person_id, unit=unit, name=actor.name)),
        c.ContactResident(actor=actor),
    ):
        await cases.act(case_id, cmd)


async def refused(cases: CaseClient, case_id: str, cmd: c.Command, rule: str) -> None:
    """``cmd`` is refused with ``rule`` and writes nothing."""
    before = (await cases.state(case_id)).seq
    with pytest.raises(ActionRefused) as err:
        await cases.act(case_id, cmd)  # type: ignore[arg-type]
    assert err.value.rule == rule, err.value
    assert (await cases.state(case_id)).seq == before


async def close(cases: CaseClient, case_id: str, verifier: Actor = GRID_WORKER) -> None:
    await cases.act(case_id, c.VerifyCase(actor=verifier, passed=True))
    await cases.act(case_id, c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED))
    await cases.act(case_id, c.CloseCase(actor=DISPATCHER))


def has_patch_marker(history: dict[str, Any], patch: str) -> bool:
    """Whether the history records the patch marker ``patch`` (its id is a base64 payload)."""
    for event in history["events"]:
        attrs = event.get("markerRecordedEventAttributes")
        if not attrs or attrs.get("markerName") != "core_patch":
            continue
        for payload in attrs.get("details", {}).get("patch-data", {}).get("payloads", []):
            if patch in base64.b64decode(payload.get("data", "")).decode("utf-8", "replace"):
                return True
    return False


async def test_a_departments_reply_is_reviewed_sent_back_and_signed_off(
    env: WorkflowEnvironment, cases: CaseClient
) -> None:
    """报审 → 退回重办 → 报审 → 签发 → 办结: the resolve clock keeps running through the review, the
    review has its own clock, the submitter may not approve their own reply, and a late review breaches."""
    cid = new_id()
    await to_handling(cases, cid, HOUSING, HANDLER)
    await refused(cases, cid, c.ResolveCase(actor=HANDLER, notes="done"), "review.required")
    await refused(cases, cid, c.ApproveReply(actor=REVIEWER), "review.none")
    await cases.act(cid, c.SubmitReply(actor=HANDLER, notes="已维修", evidence=["photo-1"]))
    s = await cases.state(cid)
    review = s.running_clock(ClockKind.REPLY_REVIEW)
    assert review is not None and review.unit_key == "department:housing"
    assert s.running_clock(ClockKind.RESOLVE) is not None  # still counting during the review
    await refused(cases, cid, c.SubmitReply(actor=HANDLER, notes="again"), "review.pending")
    await refused(cases, cid, c.ApproveReply(actor=HANDLER), "review.self_approval")
    await cases.act(cid, c.SendBack(actor=REVIEWER, reason="缺少现场照片"))
    s = await cases.state(cid)
    assert (s.status, s.pending_reply, s.sent_back_count) == (CaseStatus.HANDLING, None, 1)
    assert s.running_clock(ClockKind.REPLY_REVIEW) is None
    # the second submission waits past its review deadline: the review clock breaches
    await cases.act(cid, c.SubmitReply(actor=HANDLER, notes="已维修，附照片", evidence=["photo-2"]))
    review = (await cases.state(cid)).running_clock(ClockKind.REPLY_REVIEW)
    assert review is not None
    await env.sleep(review.due_at - await _now(env) + timedelta(minutes=5))
    assert "sla.breached" in [
        e.type for e in await cases.timeline(cid) if getattr(e, "clock_id", None) == review.clock_id
    ]
    await cases.act(cid, c.ApproveReply(actor=REVIEWER, note="同意"))
    s = await cases.state(cid)
    assert (s.status, s.approved_by, s.reply_rounds) == (CaseStatus.RESOLVED, "chen", 2)
    timeline = await types(cases, cid)
    i = timeline.index("case.reply_approved")
    between = timeline[i + 1 : timeline.index("case.resolved")]
    assert between == ["sla.clock_stopped"]  # the review clock, met or late, then the resolution
    await close(cases, cid)
    assert (await summary(env.client, cid)).status == CaseStatus.CLOSED
    history = json.loads((await env.client.get_workflow_handle(f"case-{cid}").fetch_history()).to_json())
    assert has_patch_marker(history, PATCH_UNIT_WORK)
    await record(env.client, cid, "unit_review_send_back")


async def _now(env: WorkflowEnvironment) -> datetime:
    return await env.get_current_time()


async def test_a_long_case_owes_interim_replies_and_a_missed_one_escalates(
    env: WorkflowEnvironment, cases: CaseClient
) -> None:
    """A 15-working-day category needs an interim reply every period; one on time, then a missed one
    warns, breaches and climbs the ladder like any clock; resolving ends the obligation."""
    cid = new_id()
    await to_handling(cases, cid, STREET, SA, category="illegal-construction")
    s = await cases.state(cid)
    first = s.running_clock(ClockKind.INTERIM_REPLY)
    assert first is not None and first.unit_key == "street:S-1"
    await cases.act(cid, c.InterimReply(actor=SA, text="已联系城管，正在调查"))
    s = await cases.state(cid)
    second = s.running_clock(ClockKind.INTERIM_REPLY)
    assert second is not None and second.clock_id != first.clock_id and s.interim_replies == 1
    # nobody replies: warnings, the breach and the first rung of the interim clock
    await env.sleep(second.due_at - await _now(env) + timedelta(hours=1))
    alarms = [e.type for e in await cases.timeline(cid) if getattr(e, "clock_id", None) == second.clock_id]
    assert alarms[:4] == ["sla.clock_started", "sla.warning_raised", "sla.warning_raised", "sla.breached"]
    assert "sla.escalation_raised" in alarms
    await cases.act(cid, c.InterimReply(actor=SA, text="拆除方案已报批"))
    late = [e for e in await cases.timeline(cid) if e.type == "case.interim_replied"][-1]
    assert late.on_time is False and late.number == 2
    await cases.act(cid, c.ResolveCase(actor=SA, notes="已拆除"))
    s = await cases.state(cid)
    assert s.running_clock(ClockKind.INTERIM_REPLY) is None
    await refused(cases, cid, c.InterimReply(actor=SA, text="x"), "status.not_allowed")
    await close(cases, cid)
    await record(env.client, cid, "interim_reply_missed")


async def test_corrections_recompute_the_clocks_and_a_move_recalls_the_case(
    env: WorkflowEnvironment, cases: CaseClient
) -> None:
    """改类 retroactive on the resolve clock, 加急, an unknown category refused; 改址 to another street
    recalls a street's case to the hotline, which dispatches it again."""
    cid = new_id()
    await to_handling(cases, cid, STREET, SA)
    resolve = (await cases.state(cid)).running_clock(ClockKind.RESOLVE)
    assert resolve is not None
    await refused(
        cases, cid, c.Reclassify(actor=DISPATCHER, category="no-such-category", reason="x"), "registry.unknown_category"
    )
    await refused(cases, cid, c.Reclassify(actor=DISPATCHER, category="noise", reason="x"), "reclassify.same")
    await cases.act(cid, c.Reclassify(actor=DISPATCHER, category="water", reason="实为停水"))
    s = await cases.state(cid)
    recomputed = s.clocks[resolve.clock_id]
    # water is 24 h calendar: as if it had held since the clock started
    assert recomputed.started_at == resolve.started_at
    assert recomputed.due_at == resolve.started_at + timedelta(hours=24)
    events = await cases.timeline(cid)
    rc = [e for e in events if e.type == "sla.clock_recomputed"]
    assert rc and rc[-1].previous_due_at == resolve.due_at and rc[-1].due_at == recomputed.due_at
    await cases.act(cid, c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="涉及老人"))
    assert (await cases.state(cid)).urgency == Urgency.URGENT
    await refused(cases, cid, c.Relocate(actor=DISPATCHER, location=LOCATION, reason="x"), "relocate.same")
    await cases.act(cid, c.Relocate(actor=DISPATCHER, location=ELSEWHERE, reason="地址有误"))
    s = await cases.state(cid)
    assert (s.status, s.unit, s.handler_id, s.running_clocks()) == (CaseStatus.REGISTERED, None, None, [])
    assert s.corrections == 3
    relocated = [e for e in await cases.timeline(cid) if e.type == "case.relocated"][-1]
    assert relocated.recalled is True
    other = UnitRef(kind=UnitKind.STREET, id="S-2")
    await refused(cases, cid, c.DispatchCase(actor=DISPATCHER, unit=STREET), "dispatch.outside_territory")
    s2 = Actor(role=Role.STREET, person_id="s2-staff", unit_id="S-2")
    await cases.act(cid, c.DispatchCase(actor=DISPATCHER, unit=other))
    await cases.act(cid, c.AcceptCase(actor=s2))
    new_resolve = (await cases.state(cid)).running_clock(ClockKind.RESOLVE)
    assert new_resolve is not None and new_resolve.rule.duration == timedelta(hours=24)  # water, urgent
    await cases.act(cid, c.ResolveCase(actor=s2, notes="已恢复供水"))
    # the new place's grid verifies (the old one's is refused)
    await refused(cases, cid, c.VerifyCase(actor=GRID_WORKER, passed=True), "jurisdiction.grid")
    await close(cases, cid, Actor(role=Role.GRID_WORKER, person_id="gw-201", unit_id="G-201"))
    assert (await summary(env.client, cid)).status == CaseStatus.CLOSED
    await record(env.client, cid, "corrections_recall")


def test_histories_recorded_before_the_patch_carry_no_marker_and_the_new_ones_do() -> None:
    """The replay test (tests/workflow/test_replay.py) replays both kinds: the older fixtures are the
    histories of open cases of the previous code, which must keep replaying under ``unit-work-v1``."""
    before = [
        "grid_self_handled",
        "whistle_one_late",
        "return_redispatch",
        "unsatisfied_reopen",
        "unit_assign_take",
        # recorded with the code before the patch: a department resolving directly, and a long
        # (15-working-day) case, both now under review and interim replies for new cases
        "pre_unit_work_department_resolve",
        "pre_unit_work_long_street_case",
    ]
    for name in before:
        assert not has_patch_marker(json.loads((HISTORIES / f"{name}.json").read_text()), PATCH_UNIT_WORK), name
    for name in ("unit_review_send_back", "interim_reply_missed", "corrections_recall"):
        path = HISTORIES / f"{name}.json"
        assert path.exists(), (
            f"record {name}: GRIDCASE_RECORD_HISTORIES=1 pytest tests/workflow/test_unit_review_paths.py"
        )
        assert has_patch_marker(json.loads(path.read_text()), PATCH_UNIT_WORK), name


def test_only_the_long_categories_owe_interim_replies_in_the_built_in_policy() -> None:
    """The policy the paths above rely on: only the 15-working-day categories need interim replies."""
    from workflows.sla.policy import default_policy

    p = default_policy()
    assert p.interim_needed("illegal-construction", Urgency.ORDINARY)
    assert not p.interim_needed("noise", Urgency.ORDINARY)
    assert not p.interim_needed("illegal-construction", Urgency.URGENT)
