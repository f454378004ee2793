"""What property companies (物业) and volunteer teams (志愿者队伍) see: their queue, their case list,
the map's cases, the similar cases offered and the live feed, each the cases they were delegated,
summoned or called to and no other; the units they are not see nothing of theirs.

The read model is a small SQLite database written directly (as in ``test_queue``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import Engine, create_engine, select

from events.base import Actor, Role, UnitKind, UnitRef
from events.consumer import involvement, other_units
from events.schemas import (
    CaseDispatched,
    DepartmentReportedIn,
    VolunteersCalled,
    VolunteersReleased,
    VolunteersReported,
    WhistleBlown,
    WhistleTask,
)
from readmodel import tables as t
from readmodel.queries import list_cases, select_cases
from readmodel.similar import _scope_condition
from tests.unit.test_queue import NOW, add_case, assign, who
from workers.api.auth import Principal, list_scope, scope_keys_match
from workers.api.live import scope_keys
from workers.api.routes.cases import query_read_model
from workers.api.routes.map import case_conditions, territory_of
from workers.api.routes.queue import jurisdiction, my_queue, reason_for


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = create_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    t.metadata.create_all(eng)
    return eng


@pytest.fixture
def city(engine: Engine) -> Engine:
    """Cases delegated to P-1, one summoned P-1 by a whistle (then done), volunteer calls of V-1 in
    each state, one case of P-2, and cases of nobody's."""
    add_case(engine, "deleg-open", unit_kind="property", unit_id="P-1", next_due_at=NOW + timedelta(hours=3))
    add_case(engine, "deleg-closed", unit_kind="property", unit_id="P-1", status="closed")
    add_case(engine, "whistle-p1", unit_kind="street", unit_id="S-1", next_due_at=NOW + timedelta(hours=1))
    add_case(engine, "whistle-done", unit_kind="street", unit_id="S-1", next_due_at=NOW + timedelta(hours=2))
    add_case(engine, "call-open", unit_kind="grid", unit_id="G-101", next_due_at=NOW + timedelta(minutes=30))
    add_case(engine, "call-reported", unit_kind="grid", unit_id="G-101", next_due_at=NOW + timedelta(minutes=40))
    add_case(engine, "call-released", unit_kind="grid", unit_id="G-101", next_due_at=NOW + timedelta(minutes=50))
    add_case(engine, "p2-only", unit_kind="property", unit_id="P-2", street_id="S-2", grid_id="G-201")
    add_case(engine, "nobody", unit_kind="street", unit_id="S-1")
    assign(engine, "deleg-open", "property", "P-1", via="delegate")
    assign(engine, "deleg-closed", "property", "P-1", via="delegate", status="completed")
    assign(engine, "whistle-p1", "property", "P-1", via="whistle", status="reported")
    assign(engine, "whistle-done", "property", "P-1", via="whistle", status="completed")
    assign(engine, "call-open", "volunteer_team", "V-1", via="volunteer")
    assign(engine, "call-reported", "volunteer_team", "V-1", via="volunteer", status="completed")
    assign(engine, "call-released", "volunteer_team", "V-1", via="volunteer", status="released")
    assign(engine, "p2-only", "property", "P-2", via="delegate")
    for cid in ("whistle-p1", "whistle-done", "nobody"):
        assign(engine, cid, "street", "S-1")
    return engine


P1 = who(Role.PROPERTY, "P-1")
P2 = who(Role.PROPERTY, "P-2")
V1 = who(Role.VOLUNTEER, "V-1")
P1_EVER = {"deleg-open", "deleg-closed", "whistle-p1", "whistle-done"}
V1_EVER = {"call-open", "call-reported", "call-released"}


def _ids(engine: Engine, selection: Any, **kw: Any) -> list[str]:
    return [r.case_id for r in select_cases(engine, selection, as_of=NOW, limit=100, **kw).items]


def test_scopes_name_the_unit_kind() -> None:
    assert list_scope(P1) == {"property": "P-1"}
    assert list_scope(V1) == {"volunteer_team": "V-1"}
    assert jurisdiction(P1).involved == (("property", "P-1"),)
    assert jurisdiction(V1).involved == (("volunteer_team", "V-1"),)
    assert my_queue(P1).summoned == (("property", "P-1"),)
    assert my_queue(V1).summoned == (("volunteer_team", "V-1"),)
    assert territory_of(P1) == ("city", "")  # a company's cases are wherever it serves


def test_the_queue_is_what_the_unit_handles_and_its_unfinished_summons_and_calls(city: Engine) -> None:
    # handled: the open delegation; summoned: the whistle task reported in, not completed
    assert _ids(city, my_queue(P1), open_only=True) == ["whistle-p1", "deleg-open"]
    # the open call only: a reported or released call is off the team's plate
    assert _ids(city, my_queue(V1), open_only=True) == ["call-open"]
    assert _ids(city, my_queue(P2), open_only=True) == ["p2-only"]
    assert _ids(city, my_queue(who(Role.PROPERTY, "P-9")), open_only=True) == []
    assert set(_ids(city, my_queue(P1, open_only=False))) == P1_EVER
    assert set(_ids(city, my_queue(V1, open_only=False))) == V1_EVER


def test_the_reason_is_handling_or_summoned(city: Engine) -> None:
    rows = {r.case_id: r for r in select_cases(city, jurisdiction(P1), limit=100).items}
    assert reason_for(P1, rows["deleg-open"], summoned=False) == "handling"
    assert reason_for(P1, rows["whistle-p1"], summoned=True) == "summoned"
    assert reason_for(P1, rows["whistle-done"], summoned=False) is None
    v = {r.case_id: r for r in select_cases(city, jurisdiction(V1), limit=100).items}
    assert reason_for(V1, v["call-open"], summoned=True) == "summoned"


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (P1, P1_EVER),
        (P2, {"p2-only"}),
        (V1, V1_EVER),
        (who(Role.PROPERTY, "P-9"), set()),
        (who(Role.VOLUNTEER, "V-9"), set()),
        (who(Role.PROPERTY), set()),  # a unit role without its unit sees nothing
    ],
)
def test_the_case_list_map_and_similar_cases_are_the_jurisdiction(
    city: Engine, principal: Principal, expected: set[str]
) -> None:
    svc = cast(Any, SimpleNamespace(engine=city, store=None))
    filters: dict[str, Any] = {
        "status": None,
        "street": None,
        "department": None,
        "category": None,
        "breached": None,
        "due_before": None,
        "open_only": False,
    }
    listed = {r.case_id for r in query_read_model(svc, principal, filters, 100, 0)}
    assert listed == expected
    assert set(_ids(city, jurisdiction(principal))) == expected  # the queue's read rule agrees
    with city.connect() as conn:
        mapped = {r[0] for r in conn.execute(select(t.cases.c.case_id).where(*case_conditions(principal)))}
        similar = {
            r[0] for r in conn.execute(select(t.cases.c.case_id).where(*_scope_condition(list_scope(principal))))
        }
    assert mapped == expected
    assert similar == expected
    # filters narrow within the jurisdiction, never widen it
    open_only = {r.case_id for r in query_read_model(svc, principal, {**filters, "open_only": True}, 100, 0)}
    assert open_only == expected - {"deleg-closed"}


def test_list_cases_by_an_involved_unit(city: Engine) -> None:
    assert {r.case_id for r in list_cases(city, involved_unit=("property", "P-1"))} == P1_EVER
    assert {r.case_id for r in list_cases(city, involved_unit=("volunteer_team", "V-1"))} == V1_EVER
    assert [r.case_id for r in list_cases(city, involved_unit=("property", "P-1"), status="closed")] == ["deleg-closed"]
    assert list_cases(city, involved_unit=("department", "P-1")) == []  # the kind counts, not the id alone


# --- the live feed -------------------------------------------------------------------------------

ACTOR = Actor(role=Role.STREET, person_id="st-1", unit_id="S-1")


def _base(seq: int) -> dict[str, Any]:
    return {"event_id": f"C-1:{seq}", "case_id": "C-1", "seq": seq, "occurred_at": NOW, "actor": ACTOR}


def test_events_name_the_property_companies_and_teams_they_involve() -> None:
    delegated = CaseDispatched(
        **_base(3), unit=UnitRef(kind=UnitKind.PROPERTY, id="P-1"), by=UnitRef(kind=UnitKind.STREET, id="S-1")
    )
    whistle = WhistleBlown(
        **_base(4),
        street_id="S-1",
        round=1,
        tasks=[
            WhistleTask(department_id="env", task="执法"),
            WhistleTask(department_id="P-2", task="清运", unit_kind=UnitKind.PROPERTY),
        ],
    )
    reported = DepartmentReportedIn(**_base(5), department_id="P-2", round=1, unit_kind=UnitKind.PROPERTY)
    called = VolunteersCalled(**_base(6), team_id="V-1", task="劝导", grid_id="G-101")
    done = VolunteersReported(**_base(7), team_id="V-1", result="已劝导")
    released = VolunteersReleased(**_base(8), team_id="V-1", reason="不需要了")
    assert other_units(delegated) == {("property", "P-1")}
    assert other_units(whistle) == {("property", "P-2")}
    assert other_units(reported) == {("property", "P-2")}
    for e in (called, done, released):
        assert other_units(e) == {("volunteer_team", "V-1")}
    # a summoned company is no department: department consumers do not get its reports
    assert involvement(whistle) == ({"env"}, {"S-1"})
    assert involvement(reported) == (set(), set())
    assert scope_keys(delegated) == {"property:P-1"}  # the live feed adds the case's place from its intake
    assert "property:P-2" in scope_keys(whistle) and "department:P-2" not in scope_keys(whistle)
    assert scope_keys_match(P1, scope_keys(delegated))
    assert not scope_keys_match(P2, scope_keys(delegated))
    assert scope_keys_match(P2, scope_keys(reported))
    assert not scope_keys_match(who(Role.DEPARTMENT, "P-2"), scope_keys(reported))
    assert all(scope_keys_match(V1, scope_keys(e)) for e in (called, done, released))
    assert not scope_keys_match(who(Role.VOLUNTEER, "V-2"), scope_keys(called))
