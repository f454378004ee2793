"""Work inside a unit (分派 / 改派 / 认领): the domain rules, on examples and on every reachable state.

A unit's member is an actor whose role and unit are the unit's. ``assign`` gives an unassigned case
to a member and/or a section, ``reassign`` moves it, ``take`` lets a member take it; once a case has
a handler, only the handler acts for the unit on the handling steps.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import AssignMode, CaseAssigned, ReturnReason, ReviewDecision
from tests.unit.domain_helpers import DISPATCHER, GRID_WORKER, STREET, STREET_ACTOR, SUPERVISOR, Case, at, sla
from workflows.domain import CaseState, CaseStatus, DomainError, decide, evolve_all
from workflows.domain import commands as c
from workflows.domain.available import available_actions
from workflows.domain.explore import reachable_states

OTHER_STREET = UnitRef(kind=UnitKind.STREET, id="S-2")
HOUSING = UnitRef(kind=UnitKind.DEPARTMENT, id="housing")


def member(person: str, unit: UnitRef = STREET, name: str | None = None) -> c.Member:
    return c.Member(person_id=person, unit=unit, name=name)


def actor_of(unit: UnitRef, person: str) -> Actor:
    role = {
        UnitKind.STREET: Role.STREET,
        UnitKind.GRID: Role.GRID_WORKER,
        UnitKind.DEPARTMENT: Role.DEPARTMENT,
        UnitKind.PROPERTY: Role.PROPERTY,
    }
    return Actor(role=role[unit.kind], person_id=person, unit_id=unit.id)


def refused(case: Case, cmd: c.Command) -> str:
    with pytest.raises(DomainError) as err:
        decide(case.state, cmd, case.now)  # type: ignore[arg-type]
    return err.value.rule


def handling() -> Case:
    return Case().open_hotline().to_street_handling()


# --- examples -------------------------------------------------------------------------------------


def test_assign_to_a_member_puts_the_handler_on_the_case_and_the_event() -> None:
    case = handling()
    events = case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("li", name="李承办"), note="你来办"))
    assert [type(e) for e in events] == [CaseAssigned]
    e = events[0]
    assert isinstance(e, CaseAssigned)
    assert (e.unit, e.mode, e.handler_id, e.handler_name, e.section_id) == (
        STREET,
        AssignMode.ASSIGNED,
        "li",
        "李承办",
        None,
    )
    assert e.event_id == f"C1:{e.seq}"
    s = case.state
    assert (s.handler_id, s.handler_name, s.section_id, s.assign_count) == ("li", "李承办", None, 1)
    assert s.status == CaseStatus.HANDLING  # assigning changes no status and no clock
    assert not [x for x in events if "clock" in str(x.model_dump()["type"])]


def test_once_assigned_only_the_handler_takes_the_handling_steps() -> None:
    case = handling()
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("li")))
    colleague = actor_of(STREET, "wang")
    li = actor_of(STREET, "li")
    for cmd in (
        c.ResolveCase(actor=colleague, notes="done"),
        c.PauseForResident(actor=colleague, reason="waiting"),
        c.RequestExtension(actor=colleague, extra=timedelta(days=2), reason="parts"),
        c.ResolveCase(actor=STREET_ACTOR, notes="done"),  # the coordinator too: reassign to act
    ):
        assert refused(case, cmd) == "jurisdiction.not_handler"
    case.later().do(c.PauseForResident(actor=li, reason="waiting for access"))
    assert refused(case, c.ResumeFromResident(actor=colleague)) == "jurisdiction.not_handler"
    case.later().do(c.ResumeFromResident(actor=li))
    case.later().do(c.ResolveCase(actor=li, notes="fixed"))
    assert case.state.status == CaseStatus.RESOLVED


def test_the_contact_step_belongs_to_the_handler_too() -> None:
    case = Case().open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("li")))  # before 签收
    case.later().do(c.AcceptCase(actor=STREET_ACTOR))  # the unit signs for it
    assert refused(case, c.ContactResident(actor=STREET_ACTOR)) == "jurisdiction.not_handler"
    case.later().do(c.ContactResident(actor=actor_of(STREET, "li")))
    assert case.state.contacted_at is not None


def test_a_member_of_another_unit_or_of_none_is_refused_and_nothing_changes() -> None:
    case = handling()
    before = case.state
    for handler in (member("zhao", OTHER_STREET), member("zhao", HOUSING), c.Member(person_id="zhao")):
        cmd = c.AssignCase(actor=STREET_ACTOR, handler=handler)
        assert refused(case, cmd) == "assign.outside_unit"
    assert case.state == before


def test_assign_twice_is_refused_reassign_moves_it_and_records_who_had_it() -> None:
    case = handling()
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("li")))
    assert refused(case, c.AssignCase(actor=STREET_ACTOR, handler=member("wang"))) == "assign.already"
    assert refused(case, c.ReassignCase(actor=STREET_ACTOR, handler=member("li"), reason="x")) == "reassign.same"
    (e,) = case.later().do(c.ReassignCase(actor=STREET_ACTOR, handler=member("wang"), reason="li is on leave"))
    assert isinstance(e, CaseAssigned)
    assert (e.mode, e.handler_id, e.previous_handler_id, e.note) == (
        AssignMode.REASSIGNED,
        "wang",
        "li",
        "li is on leave",
    )
    assert case.state.handler_id == "wang"
    assert case.state.assign_count == 2


def test_reassign_to_a_section_alone_puts_the_case_in_the_sections_queue() -> None:
    case = handling()
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("li"), section_id="urban"))
    assert (case.state.handler_id, case.state.section_id) == ("li", "urban")
    case.later().do(c.ReassignCase(actor=STREET_ACTOR, section_id="community-affairs", reason="wrong section"))
    assert (case.state.handler_id, case.state.section_id) == (None, "community-affairs")
    # a member of the section takes it; the section stays
    (e,) = case.later().do(c.TakeCase(actor=actor_of(STREET, "zhou")))
    assert isinstance(e, CaseAssigned)
    assert (e.mode, e.handler_id, e.section_id) == (AssignMode.TAKEN, "zhou", "community-affairs")
    assert refused(case, c.TakeCase(actor=actor_of(STREET, "wu"))) == "take.already_handled"


def test_reassign_needs_an_assignment_and_assign_to_a_section_twice_is_a_reassign() -> None:
    case = handling()
    assert refused(case, c.ReassignCase(actor=STREET_ACTOR, handler=member("li"), reason="x")) == "reassign.unassigned"
    case.later().do(c.AssignCase(actor=STREET_ACTOR, section_id="urban"))
    assert refused(case, c.AssignCase(actor=STREET_ACTOR, section_id="safety")) == "assign.already"
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("li")))  # the section's head names the person
    assert (case.state.handler_id, case.state.section_id) == ("li", "urban")


def test_sections_are_checked_when_the_cases_context_carries_them() -> None:
    case = Case()
    case.state = case.state.model_copy(
        update={"sla": sla().model_copy(update={"sections": {"street:S-1": ("community-affairs", "urban")}})}
    )
    case.open_hotline().to_street_handling()
    assert refused(case, c.AssignCase(actor=STREET_ACTOR, section_id="finance")) == "registry.unknown_section"
    case.later().do(c.AssignCase(actor=STREET_ACTOR, section_id="urban"))
    assert case.state.section_id == "urban"


def test_a_dispatch_elsewhere_clears_the_handler_and_the_section() -> None:
    case = Case().open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("li"), section_id="urban"))
    case.later().do(c.ReturnCase(actor=STREET_ACTOR, reason_code=ReturnReason.UNCLEAR_OWNERSHIP, reason="housing's"))
    case.later().do(
        c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="to housing", redispatch_to=HOUSING)
    )
    s = case.state
    assert (s.unit, s.handler_id, s.section_id, s.assign_count) == (HOUSING, None, None, 1)
    housing = actor_of(HOUSING, "chen")
    case.later().do(c.TakeCase(actor=housing))
    assert case.state.handler_id == "chen"


def test_take_by_a_member_is_the_members_own_and_anyone_else_is_refused() -> None:
    case = handling()
    assert refused(case, c.TakeCase(actor=actor_of(OTHER_STREET, "x"))) == "jurisdiction.not_assigned"
    assert refused(case, c.TakeCase(actor=GRID_WORKER)) == "jurisdiction.not_assigned"
    for outsider in (DISPATCHER, SUPERVISOR):
        assert refused(case, c.TakeCase(actor=outsider)) == "role.not_allowed"
    case.later().do(c.TakeCase(actor=Actor(role=Role.STREET, person_id="li", unit_id="S-1", name="李")))
    assert (case.state.handler_id, case.state.handler_name) == ("li", "李")


def test_an_assignment_names_someone() -> None:
    with pytest.raises(ValidationError, match="name a handler"):
        c.AssignCase(actor=STREET_ACTOR)
    with pytest.raises(ValidationError, match="section_id"):
        c.AssignCase(actor=STREET_ACTOR, section_id="bad id!")
    with pytest.raises(ValidationError, match="reason"):
        c.ReassignCase(actor=STREET_ACTOR, handler=member("li"))  # type: ignore[call-arg]


# --- every reachable state × every actor ------------------------------------------------------------

ACTORS = (
    DISPATCHER,
    SUPERVISOR,
    GRID_WORKER,
    actor_of(STREET, "s1-a"),
    actor_of(OTHER_STREET, "s2-a"),
    actor_of(UnitRef(kind=UnitKind.DEPARTMENT, id="environment"), "env-a"),
    actor_of(HOUSING, "housing-a"),
    Actor(role=Role.RESIDENT, person_id="r-1"),
    Actor(role=Role.COMMUNITY, person_id="c-1", unit_id="C-10"),
)


def _commands(state: CaseState, actor: Actor) -> list[c.Command]:
    unit = state.unit or STREET
    return [
        c.AssignCase(actor=actor, handler=member("m-new", unit)),
        c.AssignCase(actor=actor, section_id="sec-1"),
        c.ReassignCase(actor=actor, handler=member("m-other", unit), reason="workload"),
        c.TakeCase(actor=actor),
    ]


def _expected_rule(state: CaseState, cmd: c.Command) -> str | None:
    """The rule that must refuse ``cmd`` on ``state`` (None: accepted), from the rules as written."""
    a = cmd.actor
    if a.role not in (Role.GRID_WORKER, Role.STREET, Role.DEPARTMENT):
        return "role.not_allowed"
    if state.status in (CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.MERGED):
        return "case.finished"
    if state.status not in (CaseStatus.DISPATCHED, CaseStatus.HANDLING):
        return "status.not_allowed"
    unit = state.unit
    assert unit is not None
    if actor_of(unit, a.person_id) != a.model_copy(update={"name": None}):
        return "jurisdiction.not_assigned"
    if isinstance(cmd, c.TakeCase):
        return "take.already_handled" if state.handler_id is not None else None
    if isinstance(cmd, c.AssignCase):
        if state.handler_id is not None or (cmd.handler is None and state.section_id is not None):
            return "assign.already"
        return None
    assert isinstance(cmd, c.ReassignCase)
    if state.handler_id is None and state.section_id is None:
        return "reassign.unassigned"
    return None


#: Refusals that close the action to the actor whatever the form says (so it must not be offered).
CLOSED_TO_THE_ACTOR = frozenset(
    {
        "role.not_allowed",
        "case.finished",
        "status.not_allowed",
        "jurisdiction.not_assigned",
        "take.already_handled",
        "reassign.unassigned",
    }
)


def test_every_action_of_the_unit_in_every_reachable_state_by_every_actor() -> None:
    states = reachable_states(sla(), at("2026-03-02 09:00"), max_states=400)
    assert {s.status for s, _ in states} >= {CaseStatus.DISPATCHED, CaseStatus.HANDLING, CaseStatus.CLOSED}
    assert any(s.handler_id is not None for s, _ in states), "the walk reaches assigned cases"
    checked = accepted = 0
    for state, now in states:
        if state.status == CaseStatus.NEW:
            continue
        for actor in ACTORS:
            offered = {a.name for a in available_actions(state, actor, now)}
            for cmd in _commands(state, actor):
                want = _expected_rule(state, cmd)
                try:
                    events = decide(state, cmd, now)  # type: ignore[arg-type]
                except DomainError as err:
                    assert err.rule == want, (state.status, actor.label(), cmd)
                    if err.rule in CLOSED_TO_THE_ACTOR:
                        assert str(cmd.model_dump()["type"]) not in offered, (state.status, actor.label(), cmd)
                else:
                    assert want is None, (state.status, actor.label(), cmd, want)
                    accepted += 1
                    after = evolve_all(state, events)
                    assert type(events[-1]) is CaseAssigned
                    assert after.status == state.status and after.unit == state.unit
                    assert after.assign_count == state.assign_count + 1
                    assert str(cmd.model_dump()["type"]) in offered, (state.status, actor.label(), cmd)
                checked += 1
    assert checked > 1000 and accepted > 50, (checked, accepted)
