"""Internal review (审核签发), interim replies (阶段性答复) and corrections (改类 / 加急 / 改址): the
domain rules on examples, then every new action in every reachable state by every kind of actor,
judged against the rules as written here."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import (
    CaseReclassified,
    CaseRelocated,
    CaseResolved,
    ClockKind,
    ClockRecomputed,
    InterimReplied,
    Location,
    RecomputeMode,
    ReplyApproved,
    ReplySentBack,
    ReplySubmitted,
    SlaBreached,
    Urgency,
    UrgencyChanged,
    WhistleTask,
)
from tests.unit.domain_helpers import DISPATCHER, GRID_WORKER, LOCATION, STREET, STREET_ACTOR, SUPERVISOR, Case, at, sla
from workflows.domain import CaseState, CaseStatus, DomainError, SlaContext, decide, evolve_all
from workflows.domain import commands as c
from workflows.domain.available import available_actions
from workflows.domain.explore import OTHER_GRID, reachable_states
from workflows.domain.state import TERMINAL
from workflows.sla import clocks as sla_clocks
from workflows.sla.policy import ReviewRule, UnitWorkPolicy, default_policy

HOUSING = UnitRef(kind=UnitKind.DEPARTMENT, id="housing")
HANDLER = Actor(role=Role.DEPARTMENT, person_id="wang", unit_id="housing")
REVIEWER = Actor(role=Role.DEPARTMENT, person_id="chen", unit_id="housing")
ELSEWHERE = Location(grid_id="G-201", community_id="C-20", street_id="S-2", district_id="D-1")
GRID = UnitRef(kind=UnitKind.GRID, id="G-101")


def refused(case: Case, cmd: c.Command) -> str:
    before = case.state
    with pytest.raises(DomainError) as err:
        decide(case.state, cmd, case.now)  # type: ignore[arg-type]
    assert case.state is before
    return err.value.rule


def context(**unit_work: object) -> SlaContext:
    """The built-in policy with its ``unit_work`` fields replaced."""
    base = sla()
    policy = base.policy
    assert policy.unit_work is not None
    uw = policy.unit_work.model_copy(update=unit_work)
    return base.model_copy(update={"policy": policy.model_copy(update={"unit_work": uw})})


def department_case(ctx: SlaContext | None = None, category: str = "noise") -> Case:
    case = Case()
    if ctx is not None:
        case.state = CaseState(case_id="C1", sla=ctx)
    case.open_hotline(category=category)
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=HOUSING))
    case.later().do(c.AcceptCase(actor=HANDLER))
    case.later().do(c.AssignCase(actor=HANDLER, handler=c.Member(person_id="wang", unit=HOUSING)))
    case.later().do(c.ContactResident(actor=HANDLER))
    return case


# --- internal review --------------------------------------------------------------------------------


def test_a_department_submits_its_reply_and_another_member_signs_it_off() -> None:
    case = department_case()
    assert refused(case, c.ResolveCase(actor=HANDLER, notes="done")) == "review.required"
    events = case.later().do(c.SubmitReply(actor=HANDLER, notes="已维修", evidence=["p1"]))
    sub = events[0]
    assert isinstance(sub, ReplySubmitted) and (sub.submitted_by, sub.round, sub.evidence) == ("wang", 1, ["p1"])
    review = case.state.running_clock(ClockKind.REPLY_REVIEW)
    assert review is not None and review.unit_key == HOUSING.key()
    resolve = case.state.running_clock(ClockKind.RESOLVE)
    assert resolve is not None  # the resolution clock keeps running
    assert refused(case, c.ApproveReply(actor=HANDLER)) == "review.self_approval"
    events = case.later().do(c.ApproveReply(actor=REVIEWER, note="同意"))
    approved = events[0]
    assert isinstance(approved, ReplyApproved) and (approved.approved_by, approved.submitted_by) == ("chen", "wang")
    resolved = next(e for e in events if isinstance(e, CaseResolved))
    assert (resolved.notes, resolved.evidence, resolved.unit) == ("已维修", ["p1"], HOUSING)
    s = case.state
    assert (s.status, s.pending_reply, s.approved_by) == (CaseStatus.RESOLVED, None, "chen")
    assert s.clocks[review.clock_id].status == sla_clocks.ClockStatus.MET
    assert s.clocks[resolve.clock_id].stopped_at == case.now
    assert s.running_clock(ClockKind.VERIFY) is not None


def test_a_reply_sent_back_returns_to_the_handler_and_a_second_round_counts() -> None:
    case = department_case()
    case.later().do(c.SubmitReply(actor=HANDLER, notes="v1"))
    events = case.later().do(c.SendBack(actor=REVIEWER, reason="缺照片"))
    back = events[0]
    assert isinstance(back, ReplySentBack) and (back.round, back.sent_back_count, back.reason) == (1, 1, "缺照片")
    assert case.state.status == CaseStatus.HANDLING and case.state.pending_reply is None
    assert case.state.running_clock(ClockKind.REPLY_REVIEW) is None
    assert refused(case, c.SendBack(actor=REVIEWER, reason="again")) == "review.none"
    case.later().do(c.SubmitReply(actor=HANDLER, notes="v2"))
    assert case.state.pending_reply is not None and case.state.pending_reply.round == 2
    case.later().do(c.ApproveReply(actor=REVIEWER))
    assert (case.state.reply_rounds, case.state.sent_back_count) == (2, 1)


def test_self_approval_where_the_policy_allows_it_and_a_late_review_breaches() -> None:
    ctx = context(review={UnitKind.DEPARTMENT: ReviewRule(required=True, self_approval=True)})
    case = department_case(ctx)
    case.later().do(c.SubmitReply(actor=HANDLER, notes="v1"))
    review = case.state.running_clock(ClockKind.REPLY_REVIEW)
    assert review is not None
    breaches = [e for e in case.tick(review.due_at + timedelta(minutes=1)) if isinstance(e, SlaBreached)]
    assert [b.kind for b in breaches] == [ClockKind.REPLY_REVIEW]
    case.later().do(c.ApproveReply(actor=HANDLER))
    assert case.state.status == CaseStatus.RESOLVED
    assert case.state.clocks[review.clock_id].status == sla_clocks.ClockStatus.LATE


def test_units_without_review_resolve_directly_and_may_not_submit() -> None:
    case = Case().open_hotline().to_street_handling()
    assert refused(case, c.SubmitReply(actor=STREET_ACTOR, notes="x")) == "review.not_required"
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="done"))
    assert case.state.status == CaseStatus.RESOLVED


def test_cases_started_before_the_patch_keep_their_lifecycle() -> None:
    """``unit_work`` off (the workflow turns it off for older cases): no review, no interim replies."""
    old = sla().model_copy(update={"unit_work": False})
    case = department_case(old, category="illegal-construction")
    assert case.state.running_clock(ClockKind.INTERIM_REPLY) is None
    assert refused(case, c.SubmitReply(actor=HANDLER, notes="x")) == "review.not_required"
    assert refused(case, c.InterimReply(actor=HANDLER, text="x")) == "interim.not_required"
    case.later().do(c.ResolveCase(actor=HANDLER, notes="done"))
    assert case.state.status == CaseStatus.RESOLVED


def test_review_checks_what_resolving_checks() -> None:
    case = department_case()
    case.later().do(c.PauseForResident(actor=HANDLER, reason="等待业主"))
    assert refused(case, c.SubmitReply(actor=HANDLER, notes="x")) == "resolve.paused"
    case.later().do(c.ResumeFromResident(actor=HANDLER))
    case.later().do(c.SubmitReply(actor=HANDLER, notes="x"))
    case.later().do(c.PauseForResident(actor=HANDLER, reason="等待业主"))
    assert refused(case, c.ApproveReply(actor=REVIEWER)) == "resolve.paused"
    assert refused(case, c.ApproveReply(actor=Actor(role=Role.DEPARTMENT, person_id="x", unit_id="water"))) == (
        "jurisdiction.not_assigned"
    )


def test_shelving_withdraws_a_pending_reply() -> None:
    case = department_case()
    case.later().do(c.SubmitReply(actor=HANDLER, notes="x"))
    case.later().do(c.ShelveCase(actor=DISPATCHER, reason="预算"))
    assert case.state.pending_reply is None and not case.state.running_clocks()
    case.later().do(c.UnshelveCase(actor=DISPATCHER))
    assert refused(case, c.ApproveReply(actor=REVIEWER)) == "review.none"


# --- interim replies --------------------------------------------------------------------------------


def long_case() -> Case:
    return Case().open_hotline(category="illegal-construction").to_street_handling()


def test_a_long_case_owes_interim_replies_each_period_and_late_ones_say_so() -> None:
    case = long_case()
    first = case.state.running_clock(ClockKind.INTERIM_REPLY)
    assert first is not None and first.unit_key == STREET.key()
    events = case.later().do(c.InterimReply(actor=STREET_ACTOR, text="正在调查"))
    reply = events[0]
    assert isinstance(reply, InterimReplied) and (reply.number, reply.on_time) == (1, True)
    assert reply.due_at == first.due_at
    second = case.state.running_clock(ClockKind.INTERIM_REPLY)
    assert second is not None and second.started_at == case.now
    case.tick(second.due_at + timedelta(hours=2))
    assert case.state.clocks[second.clock_id].breached_at is not None
    events = case.later().do(c.InterimReply(actor=STREET_ACTOR, text="方案报批中"))
    assert isinstance(events[0], InterimReplied) and events[0].on_time is False and events[0].number == 2
    assert case.state.last_interim_reply == "方案报批中"
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="已拆除"))
    assert case.state.running_clock(ClockKind.INTERIM_REPLY) is None


def test_a_short_case_needs_no_interim_reply_and_pause_holds_the_interim_clock() -> None:
    short = Case().open_hotline().to_street_handling()
    assert refused(short, c.InterimReply(actor=STREET_ACTOR, text="x")) == "interim.not_required"
    case = long_case()
    case.later().do(c.PauseForResident(actor=STREET_ACTOR, reason="等待业主开门"))
    interim = case.state.running_clock(ClockKind.INTERIM_REPLY)
    assert interim is not None and interim.paused_at is not None
    case.later(600).do(c.ResumeFromResident(actor=STREET_ACTOR))
    resumed = case.state.clocks[interim.clock_id]
    assert resumed.paused_at is None and resumed.due_at > interim.due_at


# --- corrections ------------------------------------------------------------------------------------


def test_reclassify_recomputes_the_resolution_clock_retroactively() -> None:
    case = Case().open_hotline().to_street_handling()
    resolve = case.state.running_clock(ClockKind.RESOLVE)
    assert resolve is not None and resolve.rule.duration == timedelta(days=7)
    events = case.later(60).do(c.Reclassify(actor=DISPATCHER, category="water", reason="实为停水"))
    assert isinstance(events[0], CaseReclassified) and events[0].previous_category == "noise"
    assert events[0].unit == STREET
    rc = next(e for e in events if isinstance(e, ClockRecomputed) and e.clock_id == resolve.clock_id)
    assert rc.mode == RecomputeMode.RETROACTIVE and rc.previous_due_at == resolve.due_at
    assert rc.due_at == resolve.started_at + timedelta(hours=24) == case.state.clocks[resolve.clock_id].due_at
    assert (case.state.category, case.state.corrections) == ("water", 1)


def test_a_retroactive_deadline_already_past_breaches_at_the_correction_not_before() -> None:
    case = Case().open_hotline().to_street_handling()
    resolve = case.state.running_clock(ClockKind.RESOLVE)
    assert resolve is not None
    later = resolve.started_at + timedelta(hours=30)
    events = case.do(c.Reclassify(actor=DISPATCHER, category="water", reason="实为停水"), later)
    breach = next(e for e in events if isinstance(e, SlaBreached) and e.clock_id == resolve.clock_id)
    assert breach.occurred_at == later and breach.due_at == resolve.started_at + timedelta(hours=24)
    times = [e.occurred_at for e in case.events]
    assert times == sorted(times)  # events stay in time order
    assert case.state.breached


def test_from_now_restarts_the_count_and_the_policy_chooses_per_clock_kind() -> None:
    ctx = context(recompute={ClockKind.RESOLVE: RecomputeMode.FROM_NOW})
    case = Case()
    case.state = CaseState(case_id="C1", sla=ctx)
    case.open_hotline().to_street_handling()
    resolve = case.state.running_clock(ClockKind.RESOLVE)
    assert resolve is not None
    case.later(120).do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="涉及老人"))
    after = case.state.clocks[resolve.clock_id]
    assert (after.started_at, after.due_at) == (case.now, case.now + timedelta(hours=24))
    changed = next(e for e in case.events if isinstance(e, UrgencyChanged))
    assert (changed.previous_urgency, changed.urgency) == (Urgency.ORDINARY, Urgency.URGENT)


def test_an_extension_survives_a_recompute() -> None:
    case = Case().open_hotline().to_street_handling()
    case.later().do(c.RequestExtension(actor=STREET_ACTOR, extra=timedelta(days=2), reason="备件"))
    case.later().do(c.DecideExtension(actor=SUPERVISOR, approved=True))
    resolve = case.state.running_clock(ClockKind.RESOLVE)
    assert resolve is not None and resolve.budget == timedelta(days=9)
    case.later().do(c.Reclassify(actor=DISPATCHER, category="water", reason="实为停水"))
    assert case.state.clocks[resolve.clock_id].budget == timedelta(days=3)  # 24 h + the 2 days granted


def test_reclassifying_into_and_out_of_a_long_category_starts_and_stops_interim_replies() -> None:
    case = Case().open_hotline().to_street_handling()
    assert case.state.running_clock(ClockKind.INTERIM_REPLY) is None
    case.later().do(c.Reclassify(actor=DISPATCHER, category="illegal-construction", reason="违建"))
    assert case.state.running_clock(ClockKind.INTERIM_REPLY) is not None
    case.later().do(c.Reclassify(actor=DISPATCHER, category="noise", reason="只是噪音"))
    assert case.state.running_clock(ClockKind.INTERIM_REPLY) is None


def test_an_unknown_category_is_refused_when_the_context_carries_the_catalogue() -> None:
    case = Case()
    case.state = CaseState(case_id="C1", sla=sla().model_copy(update={"categories": ("noise", "water")}))
    case.open_hotline()
    assert refused(case, c.Reclassify(actor=DISPATCHER, category="nonsense", reason="x")) == "registry.unknown_category"
    assert refused(case, c.Reclassify(actor=DISPATCHER, category="noise", reason="x")) == "reclassify.same"
    assert refused(case, c.SetUrgency(actor=DISPATCHER, urgency=Urgency.ORDINARY, reason="x")) == "set_urgency.same"
    case.do(c.Reclassify(actor=DISPATCHER, category="water", reason="x"))


def test_relocating_inside_the_units_territory_keeps_the_case_and_outside_recalls_it() -> None:
    case = Case().open_hotline().to_street_handling()
    events = case.later().do(c.Relocate(actor=DISPATCHER, location=OTHER_GRID, reason="同街道另一网格"))
    assert isinstance(events[0], CaseRelocated) and events[0].recalled is False
    assert case.state.status == CaseStatus.HANDLING and case.state.location == OTHER_GRID
    events = case.later().do(c.Relocate(actor=DISPATCHER, location=ELSEWHERE, reason="另一街道"))
    relocated = events[0]
    assert isinstance(relocated, CaseRelocated) and relocated.recalled is True
    assert relocated.previous_location == OTHER_GRID
    s = case.state
    assert (s.status, s.unit, s.handler_id, s.running_clocks()) == (CaseStatus.REGISTERED, None, None, [])
    assert refused(case, c.DispatchCase(actor=DISPATCHER, unit=STREET)) == "dispatch.outside_territory"
    case.later().do(c.DispatchCase(actor=DISPATCHER, unit=UnitRef(kind=UnitKind.STREET, id="S-2")))


def test_a_grid_handled_case_moved_to_another_grid_is_recalled_and_a_department_case_is_not() -> None:
    case = Case().open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=GRID))
    case.later().do(c.AcceptCase(actor=GRID_WORKER))
    case.later().do(c.Relocate(actor=DISPATCHER, location=OTHER_GRID, reason="另一网格"))
    assert case.state.status == CaseStatus.REGISTERED
    dept = department_case()
    dept.later().do(c.Relocate(actor=DISPATCHER, location=ELSEWHERE, reason="另一街道"))
    assert dept.state.status == CaseStatus.HANDLING and dept.state.unit == HOUSING


def test_an_open_whistle_holds_the_case_in_its_street() -> None:
    case = Case().open_hotline().to_street_handling()
    case.later().do(c.BlowWhistle(actor=STREET_ACTOR, tasks=[WhistleTask(department_id="housing", task="查")]))
    assert refused(case, c.Relocate(actor=DISPATCHER, location=ELSEWHERE, reason="x")) == "relocate.whistle_open"
    assert refused(case, c.Relocate(actor=DISPATCHER, location=LOCATION, reason="x")) == "relocate.same"
    case.later().do(c.Relocate(actor=DISPATCHER, location=OTHER_GRID, reason="同街道"))


def test_policy_files_without_the_new_steps_still_load_and_need_no_review() -> None:
    policy = default_policy()
    bare = policy.model_copy(
        update={
            "unit_work": None,
            "clocks": {
                k: v for k, v in policy.clocks.items() if k not in (ClockKind.REPLY_REVIEW, ClockKind.INTERIM_REPLY)
            },
        }
    )
    again = type(policy).model_validate(bare.model_dump())
    assert again.review_rule(UnitKind.DEPARTMENT) is None
    assert not again.interim_needed("illegal-construction", Urgency.ORDINARY)
    with pytest.raises(ValueError, match="reply_review"):
        type(policy).model_validate(
            {**bare.model_dump(), "unit_work": UnitWorkPolicy(review={UnitKind.STREET: ReviewRule()}).model_dump()}
        )


# --- every new action × every reachable state × every kind of actor -----------------------------------

UNIT_ROLES = (Role.GRID_WORKER, Role.STREET, Role.DEPARTMENT)
_CORRECTABLE = {
    CaseStatus.RECEIVED,
    CaseStatus.REGISTERED,
    CaseStatus.DISPATCHED,
    CaseStatus.RETURNED,
    CaseStatus.HANDLING,
    CaseStatus.RESOLVED,
    CaseStatus.VERIFIED,
    CaseStatus.CALLED_BACK,
    CaseStatus.SHELVED,
}
_RELOCATABLE = {
    CaseStatus.RECEIVED,
    CaseStatus.REGISTERED,
    CaseStatus.DISPATCHED,
    CaseStatus.RETURNED,
    CaseStatus.HANDLING,
}


def _actors(state: CaseState) -> list[Actor]:
    role = {UnitKind.STREET: Role.STREET, UnitKind.GRID: Role.GRID_WORKER, UnitKind.DEPARTMENT: Role.DEPARTMENT}
    out = [
        DISPATCHER,
        SUPERVISOR,
        GRID_WORKER,
        STREET_ACTOR,
        Actor(role=Role.DEPARTMENT, person_id="env-a", unit_id="environment"),
        Actor(role=Role.STREET, person_id="s2-a", unit_id="S-2"),
        Actor(role=Role.RESIDENT, person_id="r-1"),
    ]
    unit = state.unit
    if unit is not None and unit.kind in role:
        out.append(Actor(role=role[unit.kind], person_id="unit-reviewer", unit_id=unit.id))
        if state.handler_id is not None:
            out.append(Actor(role=role[unit.kind], person_id=state.handler_id, unit_id=unit.id))
        if state.pending_reply is not None:
            out.append(Actor(role=role[unit.kind], person_id=state.pending_reply.submitted_by, unit_id=unit.id))
    return out


def _commands(state: CaseState, actor: Actor) -> list[c.Command]:
    other = Urgency.URGENT if state.urgency == Urgency.ORDINARY else Urgency.ORDINARY
    return [
        c.SubmitReply(actor=actor, notes="办理结果"),
        c.ApproveReply(actor=actor),
        c.SendBack(actor=actor, reason="退回"),
        c.InterimReply(actor=actor, text="进展"),
        c.Reclassify(actor=actor, category="water" if state.category != "water" else "noise", reason="改类"),
        c.Reclassify(actor=actor, category=state.category or "noise", reason="同类"),
        c.SetUrgency(actor=actor, urgency=other, reason="调整"),
        c.Relocate(actor=actor, location=ELSEWHERE if state.location != ELSEWHERE else LOCATION, reason="改址"),
        c.Relocate(actor=actor, location=state.location or LOCATION, reason="同址"),
    ]


def _member(state: CaseState, a: Actor) -> bool:
    unit = state.unit
    role = {
        UnitKind.STREET: Role.STREET,
        UnitKind.GRID: Role.GRID_WORKER,
        UnitKind.DEPARTMENT: Role.DEPARTMENT,
        UnitKind.PROPERTY: Role.PROPERTY,
    }
    return unit is not None and role.get(unit.kind) == a.role and a.unit_id == unit.id


def _paused(state: CaseState) -> bool:
    return any(k.paused_at is not None for k in state.running_clocks())


def _resolvable_rule(state: CaseState) -> str | None:
    if state.open_whistle is not None:
        return "resolve.whistle_open"
    if state.open_volunteer_call is not None:
        return "resolve.volunteers_open"
    if state.has_resident and state.contacted_at is None:
        return "resolve.not_contacted"
    if _paused(state):
        return "resolve.paused"
    return None


def _expected_rule(state: CaseState, cmd: c.Command) -> str | None:
    """The rule that must refuse ``cmd`` on ``state`` (None: accepted), from the rules as written."""
    a = cmd.actor
    hotline = isinstance(cmd, c.Reclassify | c.SetUrgency | c.Relocate)
    if (a.role != Role.DISPATCHER) if hotline else (a.role not in UNIT_ROLES):
        return "role.not_allowed"
    if state.status in TERMINAL:
        return "case.finished"
    review = state.sla is not None and state.unit is not None and state.sla.policy.review_rule(state.unit.kind)
    if isinstance(cmd, c.Reclassify):
        if state.status not in _CORRECTABLE:
            return "status.not_allowed"
        return "reclassify.same" if cmd.category == state.category else None
    if isinstance(cmd, c.SetUrgency):
        return None if state.status in _CORRECTABLE else "status.not_allowed"
    if isinstance(cmd, c.Relocate):
        if state.status not in _RELOCATABLE:
            return "status.not_allowed"
        if cmd.location == state.location:
            return "relocate.same"
        assert state.location is not None
        if state.open_whistle is not None and cmd.location.street_id != state.location.street_id:
            return "relocate.whistle_open"
        if state.open_volunteer_call is not None and cmd.location.grid_id != state.location.grid_id:
            return "relocate.volunteers_open"
        return None
    if state.status != CaseStatus.HANDLING:
        return "status.not_allowed"
    if not _member(state, a):
        return "jurisdiction.not_assigned"
    own = state.handler_id is None or a.person_id == state.handler_id
    if isinstance(cmd, c.SubmitReply):
        if not own:
            return "jurisdiction.not_handler"
        if not review:
            return "review.not_required"
        if state.pending_reply is not None:
            return "review.pending"
        return _resolvable_rule(state)
    if isinstance(cmd, c.InterimReply):
        if not own:
            return "jurisdiction.not_handler"
        return None if state.running_clock(ClockKind.INTERIM_REPLY) is not None else "interim.not_required"
    pending = state.pending_reply
    if pending is None:
        return "review.none"
    if isinstance(cmd, c.SendBack):
        return None
    assert isinstance(cmd, c.ApproveReply) and state.unit is not None and state.sla is not None
    rule = state.sla.policy.review_rule(state.unit.kind)
    if rule is not None and not rule.self_approval and a.person_id == pending.submitted_by:
        return "review.self_approval"
    return _resolvable_rule(state)


#: Refusals that close the action to the actor whatever the form says (so it must not be offered).
CLOSED_TO_THE_ACTOR = frozenset(
    {
        "role.not_allowed",
        "case.finished",
        "status.not_allowed",
        "jurisdiction.not_assigned",
        "jurisdiction.not_handler",
        "review.not_required",
        "review.none",
        "review.pending",
        "interim.not_required",
    }
)


def test_every_new_action_in_every_reachable_state_by_every_actor() -> None:
    states = reachable_states(sla(), at("2026-03-02 09:00"), max_states=600)
    assert any(s.pending_reply is not None for s, _ in states), "the walk reaches replies under review"
    assert any(s.running_clock(ClockKind.INTERIM_REPLY) for s, _ in states), "the walk reaches long cases"
    checked = accepted = 0
    seen_rules: set[str] = set()
    for state, now in states:
        if state.status == CaseStatus.NEW:
            continue
        for actor in _actors(state):
            offered = {a.name for a in available_actions(state, actor, now)}
            for cmd in _commands(state, actor):
                want = _expected_rule(state, cmd)
                name = str(cmd.model_dump()["type"])
                try:
                    events = decide(state, cmd, now)  # type: ignore[arg-type]
                except DomainError as err:
                    assert err.rule == want, (state.status, actor.label(), cmd, err)
                    seen_rules.add(err.rule)
                    if err.rule in CLOSED_TO_THE_ACTOR:
                        assert name not in offered, (state.status, actor.label(), name)
                else:
                    assert want is None, (state.status, actor.label(), cmd, want)
                    accepted += 1
                    after = evolve_all(state, events)
                    assert after.seq == state.seq + len(events)
                    assert [e.event_id for e in events] == [
                        f"{state.case_id}:{state.seq + i + 1}" for i in range(len(events))
                    ]
                    if name in ("reclassify", "set_urgency", "relocate"):
                        assert after.corrections == state.corrections + 1
                    assert name in offered, (state.status, actor.label(), name)
                checked += 1
    assert checked > 3000 and accepted > 300, (checked, accepted)
    assert seen_rules >= {
        "review.not_required",
        "review.pending",
        "review.none",
        "review.self_approval",
        "interim.not_required",
        "reclassify.same",
        "relocate.same",
        "jurisdiction.not_handler",
        "role.not_allowed",
        "case.finished",
    }, seen_rules
