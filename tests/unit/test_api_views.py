"""What the API shows of a case: SLA states of clocks, personal data only for the hotline and the
resident, and action bodies that cannot name the actor (pure: the domain driven in memory).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from events.base import Role, UnitKind, UnitRef
from events.schemas import Urgency
from tests.unit import domain_helpers as h
from tests.unit.domain_helpers import Case
from workers.api.auth import ACTION_ROLES, Principal
from workers.api.routes.actions import action_bodies
from workers.api.schemas import IntakeBody
from workers.api.views import CaseView, SlaState, case_view, clock_state
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE
from workflows.domain.explore import reviewer_actor
from workflows.domain.state import CaseStatus

ACTION_BODIES = action_bodies(CATALOGUE)

PII = ("张三", "13812345678")
DISPATCHER = Principal("op-1", Role.DISPATCHER)
DEPARTMENT = Principal("env-1", Role.DEPARTMENT, "environment")
STREET = Principal("st-1", Role.STREET, "S-1")


def dispatched() -> Case:
    case = Case().open_hotline()
    case.do(c.RegisterCase(actor=h.DISPATCHER))
    case.do(c.DispatchCase(actor=h.DISPATCHER, unit=h.STREET))
    return case


def test_a_clock_is_on_time_then_warned_then_breached() -> None:
    case = dispatched()
    clock = next(iter(case.state.clocks.values()))
    assert clock_state(clock, case.now) == SlaState.ON_TIME
    budget = clock.due_at - clock.started_at
    warned_at = clock.started_at + budget * 0.5 + timedelta(minutes=1)
    case.tick(warned_at)
    clock = case.state.clocks[clock.clock_id]
    assert clock_state(clock, warned_at) == SlaState.WARNED
    assert clock_state(clock, clock.due_at) == SlaState.BREACHED  # due now, before the timer fires
    view = case_view(case.state, [], DISPATCHER, now=warned_at)
    assert view.sla_state == SlaState.WARNED
    assert view.clocks[0].remaining_seconds == pytest.approx((clock.due_at - warned_at).total_seconds())
    assert view.next_due_at == clock.due_at


def test_a_stopped_clock_and_a_case_without_clocks() -> None:
    case = Case().open_hotline()
    assert case_view(case.state, [], DISPATCHER).sla_state == SlaState.NONE
    case = dispatched()
    case.later().do(c.AcceptCase(actor=h.STREET_ACTOR))
    accept = next(k for k in case.state.clocks.values() if k.kind.value == "accept")
    assert clock_state(accept, case.now) == SlaState.STOPPED
    assert case_view(case.state, [], DISPATCHER, now=case.now).sla_state == SlaState.ON_TIME


def test_personal_data_only_for_the_hotline_and_the_resident_themself() -> None:
    case = dispatched()
    events: list[Any] = list(case.events)
    hotline = case_view(case.state, events, DISPATCHER, ui_port=8233, namespace="default")
    assert hotline.contact is not None and hotline.contact.name == "张三"
    assert hotline.temporal_ui == "http://localhost:8233/namespaces/default/workflows/case-C1"
    for who in (DEPARTMENT, STREET, Principal("sv", Role.SUPERVISOR, "D-1"), Principal("gw", Role.GRID_WORKER, "G-1")):
        view = case_view(case.state, events, who)
        text = view.model_dump_json()
        assert view.contact is None
        assert not any(p in text for p in PII), who
        received = view.timeline[0]
        assert received.type == "case.received" and received.details["contact"]["name"] is None
    owner = case.state.model_copy(update={"contact": case.state.contact.model_copy(update={"resident_id": "res-1"})})
    assert case_view(owner, events, Principal("res-1", Role.RESIDENT)).contact is not None
    assert case_view(owner, events, Principal("res-2", Role.RESIDENT)).contact is None


def test_every_action_has_a_body_without_the_actor() -> None:
    assert set(ACTION_BODIES) == set(ACTION_ROLES) == {a.name for a in CATALOGUE.after_intake()}
    for name, body in ACTION_BODIES.items():
        assert "actor" not in body.model_fields and "type" not in body.model_fields, name
        assert body.model_config.get("extra") == "forbid"
        assert "_" not in CATALOGUE[name].path
    with pytest.raises(ValidationError) as err:
        ACTION_BODIES["register"].model_validate({"actor": {"role": "dispatcher", "person_id": "x"}})
    assert err.value.errors()[0]["type"] == "extra_forbidden"
    with pytest.raises(ValidationError) as err:
        ACTION_BODIES["verify"].model_validate({"passed": "yes"})
    assert err.value.errors()[0]["type"] == "bool_type"


def test_intake_body_is_strict_about_its_fields() -> None:
    good = {"category": "noise", "title": "t", "description": "d", "location": {"grid_id": "G-1"}}
    IntakeBody.model_validate(good)
    for bad, rule in [
        ({**good, "actor": {}}, "extra_forbidden"),
        ({**good, "self_handle": 1}, "bool_type"),
        ({**good, "location": {"lat": "40.1", "lon": 111.6}}, "float_type"),
        ({**good, "contact": {"phone": "1" * 40}}, "string_too_long"),
    ]:
        with pytest.raises(ValidationError) as err:
            IntakeBody.model_validate(bad)
        assert err.value.errors()[0]["type"] == rule, json.dumps(bad)


# --- internal review, interim replies, corrections ------------------------------------------------

ENV = UnitRef(kind=UnitKind.DEPARTMENT, id="environment")
HANDLER = h.dept_actor("environment")
REVIEWER = reviewer_actor(ENV)
#: The fields the case view had before the work inside the unit was added: kept as they were.
EARLIER_FIELDS = {
    "case_id", "status", "channel", "category", "urgency", "title", "description", "location", "contact", "unit",
    "units_involved", "accepted", "handler_id", "handler_name", "section_id", "breached", "sla_state",
    "next_due_at", "opened_at", "closed_at", "closure_type", "rating", "dispatch_count", "return_count",
    "rework_count", "reopen_count", "escalations", "pending_return", "pending_extension", "appeal_pending",
    "merged_into", "duplicates", "whistles", "time_scale", "clocks", "timeline", "temporal_ui", "seq",
    "category_name", "place", "unit_name", "departments", "names",
}  # fmt: skip


def at_department(category: str = "noise") -> Case:
    case = Case().open_hotline(category=category)
    case.do(c.RegisterCase(actor=h.DISPATCHER))
    case.do(c.DispatchCase(actor=h.DISPATCHER, unit=ENV))
    case.later().do(c.AcceptCase(actor=HANDLER))
    case.later().do(c.ContactResident(actor=HANDLER))
    return case


def test_the_earlier_fields_are_kept_and_the_new_ones_default_to_nothing_pending() -> None:
    assert set(CaseView.model_fields) >= EARLIER_FIELDS
    view = case_view(dispatched().state, [], DISPATCHER)
    assert view.pending_reply is None and view.approved_by is None and view.last_interim_reply is None
    assert (view.reply_rounds, view.sent_back_count, view.interim_replies, view.corrections) == (0, 0, 0, 0)


@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_the_view_follows_the_review_round_by_round(rounds: int) -> None:
    case = at_department()
    for n in range(1, rounds + 1):
        case.later().do(c.SubmitReply(actor=HANDLER, notes=f"第 {n} 次办理结果", evidence=[f"photo-{n}"]))
        submitted_at = case.now
        view = case_view(case.state, list(case.events), DEPARTMENT, now=case.now)  # type: ignore[arg-type]
        assert view.pending_reply is not None
        pr = view.pending_reply
        assert (pr.unit, pr.submitted_by, pr.round, pr.submitted_at) == (ENV, HANDLER.person_id, n, submitted_at)
        assert (pr.notes, pr.evidence) == (f"第 {n} 次办理结果", [f"photo-{n}"])
        assert (view.reply_rounds, view.sent_back_count) == (n, n - 1)
        assert "reply_review" in {k.kind for k in view.clocks if k.stopped_at is None}
        resident = case_view(case.state, [], Principal("res-1", Role.RESIDENT))
        assert resident.pending_reply is not None and resident.pending_reply.notes is None
        assert resident.pending_reply.evidence == []
        if n < rounds:
            case.later().do(c.SendBack(actor=REVIEWER, reason="证据不足"))
            assert case_view(case.state, [], DEPARTMENT).pending_reply is None
    case.later().do(c.ApproveReply(actor=REVIEWER, note="同意"))
    view = case_view(case.state, list(case.events), DEPARTMENT)  # type: ignore[arg-type]
    assert view.status == CaseStatus.RESOLVED and view.pending_reply is None
    assert (view.reply_rounds, view.sent_back_count, view.approved_by) == (rounds, rounds - 1, REVIEWER.person_id)
    assert view.model_dump(mode="json")["pending_reply"] is None


def test_the_view_counts_interim_replies_and_shows_the_latest() -> None:
    case = Case().open_hotline(category="illegal-construction").to_street_handling()
    texts = ["已约谈施工方", "已下达整改通知", "已拆除一半"]
    for n, text in enumerate(texts, start=1):
        case.later().do(c.InterimReply(actor=h.STREET_ACTOR, text=text))
        view = case_view(case.state, [], STREET)
        assert (view.interim_replies, view.last_interim_reply) == (n, text)


def test_the_view_counts_the_corrections() -> None:
    case = Case().open_hotline().to_street_handling()
    corrections = [
        c.SetUrgency(actor=h.DISPATCHER, urgency=Urgency.URGENT, reason="影响通行"),
        c.Reclassify(actor=h.DISPATCHER, category="illegal-construction", reason="实为违建"),
        c.SetUrgency(actor=h.DISPATCHER, urgency=Urgency.ORDINARY, reason="已缓解"),
    ]
    for n, cmd in enumerate(corrections, start=1):
        case.later().do(cmd)
        view = case_view(case.state, list(case.events), DISPATCHER)  # type: ignore[arg-type]
        assert view.corrections == n
    assert (view.category, view.urgency) == ("illegal-construction", Urgency.ORDINARY)
    assert any(e.type == "sla.clock_recomputed" and e.text_zh for e in view.timeline)
