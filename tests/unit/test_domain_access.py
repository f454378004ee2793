"""The domain's read jurisdiction (``workflows.domain.access``), shared by the API and the workflow."""

from __future__ import annotations

import pytest

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import Location, ResidentContact
from workers.api.auth import Principal, may_read
from workflows.domain import DomainError
from workflows.domain.access import READ_RULE, check_read
from workflows.domain.access import may_read as domain_may_read
from workflows.domain.state import CaseState, CaseStatus

LOC = Location(grid_id="G-1", community_id="C-1", street_id="S-1", district_id="D-1", address="青城花园")


def _case(**update: object) -> CaseState:
    base = CaseState(
        case_id="C1",
        status=CaseStatus.HANDLING,
        location=LOC,
        contact=ResidentContact(resident_id="res-1", name="张三", phone="13812345678"),
        unit=UnitRef(kind=UnitKind.STREET, id="S-1"),
        units_involved=["street:S-1", "department:water"],
    )
    return base.model_copy(update=update)


def _actor(role: Role, unit: str | None = None, person: str = "p-1") -> Actor:
    return Actor(role=role, person_id=person, unit_id=unit)


ALLOWED = [
    _actor(Role.DISPATCHER),
    _actor(Role.SUPERVISOR, "city"),
    _actor(Role.SUPERVISOR, "D-1"),
    _actor(Role.STREET, "S-1"),
    _actor(Role.COMMUNITY, "C-1"),
    _actor(Role.GRID_WORKER, "G-1"),
    _actor(Role.DEPARTMENT, "water"),
    _actor(Role.RESIDENT, person="res-1"),
]
REFUSED = [
    _actor(Role.SUPERVISOR, "D-2"),
    _actor(Role.SUPERVISOR),
    _actor(Role.STREET, "S-2"),
    _actor(Role.COMMUNITY, "C-2"),
    _actor(Role.GRID_WORKER, "G-2"),
    _actor(Role.DEPARTMENT, "environment"),
    _actor(Role.RESIDENT, person="res-2"),
    _actor(Role.SYSTEM, person="sla"),
]


@pytest.mark.parametrize("actor", ALLOWED, ids=lambda a: a.label())
def test_each_role_reads_within_its_jurisdiction(actor: Actor) -> None:
    check_read(_case(), actor)
    assert domain_may_read(_case(), actor)


@pytest.mark.parametrize("actor", REFUSED, ids=lambda a: a.label())
def test_outside_its_jurisdiction_a_read_is_refused_naming_the_rule(actor: Actor) -> None:
    with pytest.raises(DomainError) as err:
        check_read(_case(), actor)
    assert err.value.rule == READ_RULE == "jurisdiction.read"
    assert "C1" in err.value.message and actor.person_id in err.value.message


def test_units_dispatched_or_summoned_read_outside_their_territory() -> None:
    case = _case(units_involved=["street:S-2", "grid:G-9", "department:housing"])
    for actor in (_actor(Role.STREET, "S-2"), _actor(Role.GRID_WORKER, "G-9"), _actor(Role.DEPARTMENT, "housing")):
        check_read(case, actor)
    with pytest.raises(DomainError):
        check_read(case, _actor(Role.DEPARTMENT, "water"))  # no longer involved in this case


def test_a_case_without_a_resident_or_location_is_read_by_no_resident_and_no_territory() -> None:
    case = _case(location=None, units_involved=[], contact=ResidentContact())
    for actor in (
        _actor(Role.RESIDENT, person="res-1"),
        _actor(Role.GRID_WORKER, "G-1"),
        _actor(Role.SUPERVISOR, "D-1"),
        _actor(Role.COMMUNITY, "C-1"),
    ):
        with pytest.raises(DomainError):
            check_read(case, actor)
    check_read(case, _actor(Role.DISPATCHER))


@pytest.mark.parametrize("actor", ALLOWED + REFUSED, ids=lambda a: a.label())
def test_the_api_uses_the_domain_rule(actor: Actor) -> None:
    principal = Principal(actor.person_id, actor.role, actor.unit_id)
    assert may_read(principal, _case()) is domain_may_read(_case(), actor)


def test_the_api_also_lets_a_resident_read_what_they_opened_through_it() -> None:
    case = _case(contact=ResidentContact(name="张三", phone="13812345678"))
    resident = Principal("res-2", Role.RESIDENT)
    assert not domain_may_read(case, resident.actor())
    assert may_read(resident, case, opened_by="res-2")
    assert not may_read(resident, case, opened_by="res-3")
    assert not may_read(Principal("gw", Role.GRID_WORKER, "G-2"), case, opened_by="gw")
