"""The pure projection of work inside a unit (``case.assigned``): the handler and section on the
case row, the count, what the timeline keeps of it, and the dispatch elsewhere that clears them.

Events come from the domain (``decide``/``evolve``); no database here (``tests/integration/
test_projection_assign_sql.py`` writes them to SQL and rebuilds).
"""

from __future__ import annotations

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import ReturnReason, ReviewDecision
from readmodel.projection import CaseView, apply_event
from tests.unit.domain_helpers import DISPATCHER, STREET, STREET_ACTOR, Case
from workflows.domain import commands as c

ENVIRONMENT = UnitRef(kind=UnitKind.DEPARTMENT, id="environment")


def member(person: str, name: str, unit: UnitRef = STREET) -> c.Member:
    return c.Member(person_id=person, unit=unit, name=name)


def dispatched(case_id: str) -> Case:
    case = Case(case_id).open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    return case


def project(events: list) -> CaseView:
    view = CaseView.empty(events[0].case_id)
    for e in events:
        assert apply_event(view, e)
    return view


def test_an_assignment_puts_the_handler_and_section_on_the_case_row() -> None:
    case = dispatched("A1")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("p-1", "李四"), section_id="urban"))
    view = project(case.events)
    assert (view.case["handler_id"], view.case["section_id"], view.case["assign_count"]) == ("p-1", "urban", 1)
    assert view.case["unit_kind"] == "street" and view.case["unit_id"] == "S-1"
    row = view.new_timeline[-1]
    assert row["type"] == "case.assigned" and (row["unit_kind"], row["unit_id"]) == ("street", "S-1")
    assert "handler_id=p-1" in row["detail"] and "section_id=urban" in row["detail"]
    assert "李四" not in row["detail"]  # the handler's name stays in the user directory


def test_reassigning_and_taking_move_the_case_inside_the_unit() -> None:
    case = dispatched("A2")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, section_id="urban"))
    inbox = project(case.events)
    assert (inbox.case["handler_id"], inbox.case["section_id"]) == (None, "urban")
    taker = Actor(role=Role.STREET, person_id="p-2", unit_id="S-1", name="王五")
    case.later().do(c.TakeCase(actor=taker))
    taken = project(case.events)
    assert (taken.case["handler_id"], taken.case["section_id"], taken.case["assign_count"]) == ("p-2", "urban", 2)
    case.later().do(
        c.ReassignCase(actor=STREET_ACTOR, handler=member("p-3", "赵六"), section_id="safety", reason="轮岗")
    )
    moved = project(case.events)
    assert (moved.case["handler_id"], moved.case["section_id"], moved.case["assign_count"]) == ("p-3", "safety", 3)
    case.later().do(c.ReassignCase(actor=STREET_ACTOR, section_id="urban", reason="退回科室"))
    back = project(case.events)
    assert (back.case["handler_id"], back.case["section_id"], back.case["assign_count"]) == (None, "urban", 4)


def test_a_dispatch_to_another_unit_clears_the_handler_and_section() -> None:
    case = dispatched("A3")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("p-1", "李四"), section_id="urban"))
    case.later().do(c.ReturnCase(actor=STREET_ACTOR, reason_code=ReturnReason.TERRITORY_MISMATCH, reason="不属本街道"))
    returned = project(case.events)
    assert returned.case["handler_id"] == "p-1"  # a return alone leaves it; the hotline decides where it goes
    case.later().do(
        c.ReviewReturn(
            actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="转生态环境局", redispatch_to=ENVIRONMENT
        )
    )
    view = project(case.events)
    assert (view.case["unit_kind"], view.case["unit_id"]) == ("department", "environment")
    assert view.case["dispatch_count"] == 2
    assert (view.case["handler_id"], view.case["section_id"]) == (None, None)
    assert view.case["assign_count"] == 1  # a count of assignments, not of the current one
    assert view.case["handler_id"] == case.state.handler_id is None  # the workflow's state agrees


def test_replaying_assignments_changes_nothing() -> None:
    case = dispatched("A4")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=member("p-1", "李四")))
    case.later().do(c.AcceptCase(actor=Actor(role=Role.STREET, person_id="p-1", unit_id="S-1")))
    view = project(case.events)
    before = (dict(view.case), len(view.new_timeline))
    for e in case.events:
        assert not apply_event(view, e)
    assert (dict(view.case), len(view.new_timeline)) == before
    assert view.case["handler_id"] == "p-1" and view.case["status"] == "handling"
