"""``GET /units/{kind}/{unit_id}/load``: the work inside a unit, person by person, from the read model.

For a street office, a grid or a department: the open cases it handles now by handler (承办人) and
by section (科室) — how many, how many warned, breached and overdue — the cases with no handler yet
(the unit's inbox and its sections' queues), and the cases each person resolved (办结) for the unit
in a month (``period``, local time; default this month). Every enabled member of the unit (the user
directory) is listed, with nothing on their plate or not; a person who handled cases for the unit
but is no longer a member is listed too, with ``member: false``.

Who may read it:

=============  ==========================================================================
role           which units
=============  ==========================================================================
street         its own street
grid_worker    its own grid
department     its own department
dispatcher     every unit
supervisor     every unit; a district supervisor's figures count its district's cases only
=============  ==========================================================================

Others are refused with 403 (``role.not_allowed`` for residents, ``jurisdiction.<role>`` for staff
asking about a unit that is not theirs); an unknown unit is 422 ``registry.unknown_unit`` on
``path.unit_id``, a kind without members (the hotline) 422 ``unit.kind`` on ``path.kind``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError, ProgrammingError

from events.base import Role, UnitKind, UnitRef
from readmodel.kpis import month_of
from readmodel.queries import HandlerLoad, LoadFigures, Selection, month_span, unit_load
from workers.api.auth import AuthError, Principal
from workers.api.deps import Caller, Services, services
from workers.api.errors import ApiError, invalid_fields, responses
from workers.api.routes.metrics import PERIOD
from workers.api.routes.queue import NamedUnit, Names, jurisdiction
from workflows.domain.state import UNIT_ROLE

router = APIRouter(tags=["units"])

UNKNOWN_UNIT = "registry.unknown_unit"

#: The role whose users act for each kind of handling unit (its members).


class HandlerLoadItem(BaseModel):
    """One person's work in the unit."""

    handler_id: str = Field(description="The person id (承办人)")
    handler_name: str | None = Field(description="Their name in the user directory (None: not in it)")
    member: bool = Field(description="An enabled user of the unit now")
    open: int = Field(description="Open cases with them")
    warned: int = Field(description="Of which a running clock has raised its warning")
    breached: int = Field(description="Of which a clock was ever breached")
    overdue: int = Field(description="Of which the next deadline has passed at as_of")
    resolved: int = Field(description="Cases they resolved (办结) for the unit in the period")


class SectionLoadItem(BaseModel):
    """One section's (科室) open cases."""

    section_id: str
    open: int
    warned: int
    breached: int
    overdue: int
    unassigned: int = Field(description="Open cases in the section's queue with no handler")


class UnitLoadPage(BaseModel):
    unit: NamedUnit
    scope: str = Field(description="unit (its own users), city, or district:<id> (a district supervisor's cases)")
    period: str = Field(description="The month resolutions are counted in, YYYY-MM (local time)")
    since: datetime = Field(description="Start of the period (inclusive)")
    until: datetime = Field(description="End of the period (exclusive)")
    as_of: datetime = Field(description="The time overdue is counted at")
    total: LoadFigures = Field(description="Every open case the unit handles now")
    resolved: int = Field(description="Cases the unit resolved in the period (each once)")
    unassigned: LoadFigures = Field(description="Open cases with no handler: the unit's inbox and its sections' queues")
    handlers: list[HandlerLoadItem] = Field(
        description="Every member, and anyone else with open cases or resolutions here; most open cases first"
    )
    sections: list[SectionLoadItem] = Field(description="Each section with open cases, by id")


def refuse_residents(p: Principal) -> None:
    """403 ``role.not_allowed`` for a resident: a unit's load is for staff."""
    if p.role == Role.RESIDENT:
        raise AuthError(403, "role.not_allowed", "a unit's load is for staff; residents follow their cases at /public")


def load_scope(p: Principal, unit: UnitRef) -> tuple[str, Selection | None]:
    """Whether ``p`` may read ``unit``'s load, and the cases its figures count: ``(scope, within)``.

    Raises:
        AuthError: 403 ``role.not_allowed`` for a resident, ``jurisdiction.<role>`` for staff
            asking about a unit that is not theirs.
    """
    refuse_residents(p)
    if p.sees_everything:
        return "city", None
    if p.role == Role.SUPERVISOR and p.unit_id:
        return f"district:{p.unit_id}", jurisdiction(p)
    if UNIT_ROLE.get(unit.kind) == p.role and p.unit_id == unit.id:
        return "unit", None
    raise AuthError(
        403,
        f"jurisdiction.{p.role.value}",
        f"the load of {unit.key()} is read by the unit itself, the hotline and supervisors, not by {p.label()}",
    )


def build_load(
    svc: Services, unit: UnitRef, period: str, *, scope: str, within: Selection | None, now: datetime
) -> UnitLoadPage:
    """The page of ``unit`` counting the cases of ``within`` (runs in the thread pool: it reads the database)."""
    since, until = month_span(period)
    role = UNIT_ROLE[unit.kind]
    try:
        load = unit_load(svc.engine, (unit.kind.value, unit.id), since=since, until=until, within=within, as_of=now)
    except (OperationalError, ProgrammingError) as err:
        raise ApiError(
            503,
            "unavailable",
            "readmodel.unavailable",
            f"the read model cannot be read (run `gridcase readmodel migrate` and the projector): {type(err).__name__}",
        ) from None
    members = {u.user_id: u.name for u in svc.store.members(role, unit.id)}
    rows = {h.handler_id: h for h in load.handlers}
    names = {**svc.store.names(i for i in rows if i not in members), **members}
    items = [
        HandlerLoadItem(
            handler_name=names.get(person),
            member=person in members,
            **(rows.get(person) or HandlerLoad(handler_id=person)).model_dump(),
        )
        for person in {*rows, *members}
    ]
    items.sort(key=lambda i: (-i.open, -i.overdue, -i.resolved, i.handler_name or "", i.handler_id))
    named = Names(svc.registry).unit(unit.kind.value, unit.id)
    return UnitLoadPage(
        unit=named or NamedUnit(kind=unit.kind.value, id=unit.id, name=unit.id),
        scope=scope,
        period=period,
        since=load.since,
        until=load.until,
        as_of=load.as_of,
        total=load.total,
        resolved=load.resolved,
        unassigned=load.unassigned,
        handlers=items,
        sections=[
            SectionLoadItem(
                section_id=s.section_id,
                open=s.open,
                warned=s.warned,
                breached=s.breached,
                overdue=s.overdue,
                unassigned=s.unassigned,
            )
            for s in load.sections
        ],
    )


@router.get("/units/{kind}/{unit_id}/load", name="unit_load", responses=responses(401, 403, 422, 503))
async def unit_load_route(
    request: Request,
    kind: Annotated[UnitKind, Path(description="grid, street or department")],
    unit_id: Annotated[str, Path(min_length=1, max_length=128)],
    p: Caller,
    period: Annotated[
        str | None,
        Query(pattern=PERIOD, description="The month resolutions are counted in, YYYY-MM (local time); default now"),
    ] = None,
) -> UnitLoadPage:
    """Each person's work in a unit: open cases (warned, breached, overdue) by handler and by section,
    the cases nobody handles yet, and who resolved how many in the month."""
    refuse_residents(p)  # before the registry checks: a resident learns nothing of the registry
    if kind not in UNIT_ROLE:
        raise invalid_fields([("path.kind", "unit.kind", f"{kind.value} has no members: grid, street or department")])
    svc = services(request)
    unit = UnitRef(kind=kind, id=unit_id)
    if not svc.registry.unit_exists(unit):
        raise invalid_fields([("path.unit_id", UNKNOWN_UNIT, f"the registry has no {kind.value} {unit_id!r}")])
    scope, within = load_scope(p, unit)
    now = datetime.now(UTC)
    return await asyncio.to_thread(build_load, svc, unit, period or month_of(now), scope=scope, within=within, now=now)
