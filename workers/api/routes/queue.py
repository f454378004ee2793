"""``GET /queue``: a unit's queue ("my queue") and a jurisdiction's case list, from the read model.

* ``scope=mine`` (the default): the cases on the caller's plate —

  =============  ==========================================================================
  role           its queue
  =============  ==========================================================================
  street         cases it handles now (dispatched to the street)
  grid_worker    cases its grid handles now, and resolved cases of its grid to verify
  department     cases it handles now, and cases whose whistle task it has not completed
  community      cases located in its community
  dispatcher     cases awaiting the hotline: received, registered, returned, verified,
                 called back
  supervisor     cases of its district (or of the city)
  =============  ==========================================================================

  ``open_only=false`` adds the finished cases, and those the unit was dispatched or summoned
  to before.
* ``scope=jurisdiction``: every case the caller may read (the case list of the hotline and the
  supervisors; the same rule as ``GET /cases``).

Work inside a unit (分派 / 改派 / 认领) narrows either scope:

  ===========  ===============================================================================
  parameter    keeps the cases
  ===========  ===============================================================================
  ``handler``  whose handler (承办人) inside the handling unit is this person id; ``me``: the
               caller (a member's own cases within its unit's queue). An id nobody handles
               gives an empty answer, not an error.
  ``section``  in the queue of this section (科室) of the unit handling them; a section no
               unit of the city registry has is refused (``registry.unknown_section``).
  ===========  ===============================================================================

  Each row carries ``handler_id`` (with ``handler_name`` from the user directory, when the person
  is in it) and ``section_id``.

Rows come sorted by the nearest deadline (``next_due_at``; cases without a running clock last),
with names beside ids (category, district, street, community, grid, handling unit) and their SLA
standing at ``as_of`` (the server's time): the worst running clock, whether a clock has warned,
and the seconds left until the next deadline. ``counts`` gives the cases of every status (all
filters but ``state``). ``case_id`` (repeated) narrows the answer to the rows a page already shows,
so a live notice refreshes them without reloading the whole list. The caller's jurisdiction
always applies: a filter never widens it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from city.registry import SqlCityRegistry
from events.base import Role, UnitKind, UnitRef
from readmodel import tables as t
from readmodel.queries import CasePage, CaseRow, Selection, running_clocks, select_cases
from readmodel.queries import summoned as summoned_condition
from workers.api.auth import AuthError, Principal
from workers.api.deps import CASE_ID, Caller, Services, services
from workers.api.errors import ApiError, invalid_fields, responses
from workers.api.users import USER_ID_RE
from workers.api.views import SlaState
from workflows.domain.registry import CityRegistry, RegistryError
from workflows.domain.state import ROLE_UNIT, CaseStatus

router = APIRouter(tags=["queue"])

UNKNOWN_UNIT = "registry.unknown_unit"
UNKNOWN_CATEGORY = "registry.unknown_category"
UNKNOWN_SECTION = "registry.unknown_section"

#: ``handler=me``: the caller's own cases.
ME = "me"
#: A handler as the query names it: a person id of the user directory, or ``me``.
HANDLER_PATTERN = USER_ID_RE.pattern
#: A section id, as commands name it (``workflows.domain.commands.SectionId``).
SECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

#: The statuses in which a case waits for the hotline (register/reject, dispatch, review a return,
#: call back, close).
HOTLINE_STEPS = (
    CaseStatus.RECEIVED.value,
    CaseStatus.REGISTERED.value,
    CaseStatus.RETURNED.value,
    CaseStatus.VERIFIED.value,
    CaseStatus.CALLED_BACK.value,
)

_UNIT_KIND = ROLE_UNIT
#: Roles whose unit is summoned to cases it does not handle: a department or a property company by a
#: street's whistle, a volunteer team by a grid's call.
SUMMONED_ROLES = frozenset({Role.DEPARTMENT, Role.PROPERTY, Role.VOLUNTEER})
_RANK = {SlaState.BREACHED: 3, SlaState.WARNED: 2, SlaState.ON_TIME: 1, SlaState.PAUSED: 0}

Reason = Literal["handling", "summoned", "to_verify", "hotline"]


# --- bodies --------------------------------------------------------------------------------------


class NamedUnit(BaseModel):
    kind: str
    id: str
    name: str


class QueueItem(BaseModel):
    """One case of a queue or a case list: the read model's row, with names and its SLA standing."""

    case_id: str
    status: str
    channel: str | None = None
    category: str | None = None
    category_name: str | None = Field(default=None, description="The category's Chinese name")
    category_name_en: str | None = None
    urgency: str | None = None
    title: str | None = None
    district_id: str | None = None
    district_name: str | None = None
    street_id: str | None = None
    street_name: str | None = None
    community_id: str | None = None
    community_name: str | None = None
    grid_id: str | None = None
    grid_name: str | None = None
    unit: NamedUnit | None = Field(default=None, description="The unit handling the case now")
    handler_id: str | None = Field(
        default=None, description="The member of the handling unit the case is with (承办人); None: nobody yet"
    )
    handler_name: str | None = Field(default=None, description="The handler's name in the user directory")
    section_id: str | None = Field(default=None, description="The section (科室) whose queue the case is in")
    accepted: bool = False
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    next_due_at: datetime | None = Field(default=None, description="The running clocks' earliest due time")
    next_clock: str | None = Field(default=None, description="The kind of the clock due first, e.g. accept")
    remaining_seconds: float | None = Field(
        default=None, description="Seconds from as_of to next_due_at (negative: overdue); None without one"
    )
    sla: SlaState = Field(description="The worst running clock at as_of: breached, warned, on_time, paused; none")
    warned: bool = Field(description="A running clock has raised its warning")
    breached: bool = Field(description="A clock of the case was ever breached")
    reason: Reason | None = Field(
        default=None,
        description="Why the case is on the caller's plate: it handles it, was summoned, verifies it, "
        "or the hotline's step is next",
    )
    dispatch_count: int = 0
    return_count: int = 0
    rework_count: int = 0
    whistle_count: int = 0
    escalation_count: int = 0
    shelved: bool = False
    terminated: bool = False


class QueuePage(BaseModel):
    scope: Literal["mine", "jurisdiction"]
    as_of: datetime = Field(description="The time remaining_seconds and sla are computed at")
    items: list[QueueItem]
    total: int = Field(description="Cases matching every filter (all pages)")
    counts: dict[str, int] = Field(description="Cases matching every filter but state, by status")
    overdue: int = Field(description="Cases matching every filter but state whose next deadline has passed")
    limit: int
    offset: int


# --- who sees what -------------------------------------------------------------------------------


def jurisdiction(p: Principal) -> Selection:
    """Every case ``p`` may read, as a read-model selection (the rule of ``workers.api.auth``)."""
    if p.sees_everything:
        return Selection(everything=True)
    unit = p.unit_id
    if unit is None:
        return Selection()
    match p.role:
        case Role.SUPERVISOR:
            return Selection(located=(("district_id", unit),))
        case Role.STREET:
            return Selection(located=(("street_id", unit),), involved=(("street", unit),))
        case Role.COMMUNITY:
            return Selection(located=(("community_id", unit),))
        case Role.GRID_WORKER:
            return Selection(located=(("grid_id", unit),), involved=(("grid", unit),))
        case Role.DEPARTMENT | Role.PROPERTY | Role.VOLUNTEER:
            return Selection(involved=((ROLE_UNIT[p.role].value, unit),))
    return Selection()


def my_queue(p: Principal, *, open_only: bool = True) -> Selection:
    """The cases on ``p``'s plate (see the module's table); with ``open_only=False`` also those its
    unit was dispatched or summoned to before."""
    unit = p.unit_id
    match p.role:
        case Role.DISPATCHER:
            return Selection(in_status=HOTLINE_STEPS)
        case Role.SUPERVISOR | Role.COMMUNITY:
            return jurisdiction(p)
    kind = _UNIT_KIND.get(p.role)
    if kind is None or unit is None:
        return Selection()
    mine = Selection(handled_by=((kind.value, unit),))
    if p.role == Role.GRID_WORKER:
        mine = mine.union(Selection(to_verify_in=(unit,)))
    if p.role in SUMMONED_ROLES:
        mine = mine.union(Selection(summoned=((kind.value, unit),)))
    if not open_only:
        mine = mine.union(Selection(involved=((kind.value, unit),)))
    return mine


def sla_standing(clocks: Iterable[dict[str, Any]], now: datetime) -> tuple[SlaState, bool]:
    """The SLA state of a case from its running clocks at ``now`` (the worst one), and whether any
    of them has warned. A clock past its due time counts as breached before the tick records it."""
    worst: SlaState | None = None
    warned = False
    for ck in clocks:
        if ck.get("stopped_at") is not None:
            continue
        if ck.get("warned_at") is not None:
            warned = True
        if ck.get("paused"):
            state = SlaState.PAUSED
        elif ck.get("breached_at") is not None or now >= ck["due_at"]:
            state = SlaState.BREACHED
        elif ck.get("warned_at") is not None:
            state = SlaState.WARNED
        else:
            state = SlaState.ON_TIME
        if worst is None or _RANK[state] > _RANK[worst]:
            worst = state
    return (worst or SlaState.NONE), warned


def reason_for(p: Principal, row: CaseRow, summoned: bool) -> Reason | None:
    """Why ``row`` is on ``p``'s plate now, if it is."""
    if p.role == Role.DISPATCHER:
        return "hotline" if row.status in HOTLINE_STEPS else None
    kind = _UNIT_KIND.get(p.role)
    if kind is None:
        return None
    if row.unit_kind == kind.value and row.unit_id == p.unit_id and row.status not in _FINISHED:
        return "handling"
    if p.role in SUMMONED_ROLES and summoned:
        return "summoned"
    if p.role == Role.GRID_WORKER and row.status == CaseStatus.RESOLVED.value and row.grid_id == p.unit_id:
        return "to_verify"
    return None


_FINISHED = frozenset({CaseStatus.CLOSED.value, CaseStatus.REJECTED.value, CaseStatus.MERGED.value})


# --- names ---------------------------------------------------------------------------------------


class Names:
    """Display names from the city registry (ids when the registry has no names)."""

    def __init__(self, registry: CityRegistry) -> None:
        self.city = registry if isinstance(registry, SqlCityRegistry) else None

    def place(self, kind: str, ident: str | None) -> str | None:
        if ident is None or self.city is None:
            return None
        city = self.city
        match kind:
            case "district":
                d = city.districts.get(ident)
                return d.name if d else None
            case "street":
                s = city.streets.get(ident)
                return s.name if s else None
            case "community":
                c = city.communities.get(ident)
                return c.name if c else None
            case "grid":
                try:
                    return city.grid(ident).name
                except RegistryError:
                    return None
        return None

    def unit(self, kind: str | None, ident: str | None) -> NamedUnit | None:
        if kind is None or ident is None:
            return None
        name = ident
        if self.city is not None:
            with contextlib.suppress(ValueError):
                name = self.city.unit_name(UnitRef(kind=UnitKind(kind), id=ident))
        return NamedUnit(kind=kind, id=ident, name=name)

    def category(self, code: str | None) -> tuple[str | None, str | None]:
        if code is None or self.city is None:
            return None, None
        entry = self.city.catalogue.get(code)
        return (entry.name_zh, entry.name) if entry else (None, None)

    def unknown_filters(
        self, street: str | None, department: str | None, grid: str | None, category: str | None
    ) -> list[tuple[str, str, str]]:
        """``(field, rule, message)`` for each filter naming something the registry does not have."""
        city = self.city
        if city is None:
            return []
        errors: list[tuple[str, str, str]] = []
        if street is not None and street not in city.streets:
            errors.append(("query.street", UNKNOWN_UNIT, f"unknown street {street!r}"))
        if department is not None and department not in city.departments:
            errors.append(("query.department", UNKNOWN_UNIT, f"unknown department {department!r}"))
        if grid is not None and self.place("grid", grid) is None:
            errors.append(("query.grid", UNKNOWN_UNIT, f"unknown grid {grid!r}"))
        if category is not None and category not in city.catalogue:
            errors.append(("query.category", UNKNOWN_CATEGORY, f"unknown category {category!r}"))
        return errors


def queue_item(
    row: CaseRow,
    clocks: Sequence[dict[str, Any]],
    names: Names,
    now: datetime,
    reason: Reason | None,
    people: Mapping[str, str] | None = None,
) -> QueueItem:
    """A read-model row as a queue row: names (``people``: the handlers' names by person id), and
    its SLA standing at ``now``."""
    sla, warned = sla_standing(clocks, now)
    due = row.next_due_at
    next_clock = next((str(ck["kind"]) for ck in clocks if not ck.get("paused") and ck["due_at"] == due), None)
    category_zh, category_en = names.category(row.category)
    return QueueItem(
        case_id=row.case_id,
        status=row.status,
        channel=row.channel,
        category=row.category,
        category_name=category_zh,
        category_name_en=category_en,
        urgency=row.urgency,
        title=row.title,
        district_id=row.district_id,
        district_name=names.place("district", row.district_id),
        street_id=row.street_id,
        street_name=names.place("street", row.street_id),
        community_id=row.community_id,
        community_name=names.place("community", row.community_id),
        grid_id=row.grid_id,
        grid_name=names.place("grid", row.grid_id),
        unit=names.unit(row.unit_kind, row.unit_id),
        handler_id=row.handler_id,
        handler_name=(people or {}).get(row.handler_id) if row.handler_id is not None else None,
        section_id=row.section_id,
        accepted=row.accepted,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        next_due_at=due,
        next_clock=next_clock,
        remaining_seconds=None if due is None else round((due - now).total_seconds(), 3),
        sla=sla,
        warned=warned,
        breached=row.breached,
        reason=reason,
        dispatch_count=row.dispatch_count,
        return_count=row.return_count,
        rework_count=row.rework_count,
        whistle_count=row.whistle_count,
        escalation_count=row.escalation_count,
        shelved=row.shelved,
        terminated=row.terminated,
    )


def _summoned(svc: Services, unit: tuple[str, str], case_ids: list[str]) -> set[str]:
    """The cases among ``case_ids`` where ``unit`` (a department or a property company) has a whistle
    task not completed yet, or (a volunteer team) an open call."""
    if not case_ids:
        return set()
    c = t.cases.c
    q = select(c.case_id).where(c.case_id.in_(case_ids), summoned_condition(unit))
    with svc.engine.connect() as conn:
        return {str(r[0]) for r in conn.execute(q)}


def build_page(
    svc: Services,
    p: Principal,
    *,
    scope: Literal["mine", "jurisdiction"],
    filters: dict[str, Any],
    open_only: bool,
    sort: str,
    limit: int,
    offset: int,
    now: datetime,
) -> QueuePage:
    """One page of the caller's queue or case list (runs in the thread pool: it reads the database)."""
    within = jurisdiction(p)
    selection = my_queue(p, open_only=open_only) if scope == "mine" else within
    try:
        page: CasePage = select_cases(
            svc.engine,
            selection,
            within=within,
            open_only=open_only,
            sort=sort,
            limit=limit,
            offset=offset,
            as_of=now,
            **filters,
        )
        ids = [r.case_id for r in page.items]
        clocks = running_clocks(svc.engine, ids)
        summoned = (
            _summoned(svc, (ROLE_UNIT[p.role].value, p.unit_id), ids)
            if p.role in SUMMONED_ROLES and p.unit_id
            else set()
        )
        people = svc.store.names(r.handler_id for r in page.items if r.handler_id is not None)
    except (OperationalError, ProgrammingError) as err:
        raise ApiError(
            503,
            "unavailable",
            "readmodel.unavailable",
            f"the read model cannot be read (run `gridcase readmodel migrate` and the projector): {type(err).__name__}",
        ) from None
    names = Names(svc.registry)
    items = [
        queue_item(r, clocks.get(r.case_id, []), names, now, reason_for(p, r, r.case_id in summoned), people)
        for r in page.items
    ]
    return QueuePage(
        scope=scope,
        as_of=now,
        items=items,
        total=page.total,
        counts=page.counts,
        overdue=page.overdue,
        limit=limit,
        offset=offset,
    )


# --- the route -----------------------------------------------------------------------------------


@router.get("/queue", responses=responses(401, 403, 422, 503))
async def queue(
    request: Request,
    p: Caller,
    scope: Annotated[
        Literal["mine", "jurisdiction"],
        Query(description="mine: the cases on the caller's plate; jurisdiction: every case it may read"),
    ] = "mine",
    state: Annotated[CaseStatus | None, Query(description="Only cases in this status")] = None,
    street: Annotated[str | None, Query(min_length=1, max_length=128, description="Located in this street")] = None,
    department: Annotated[
        str | None, Query(min_length=1, max_length=128, description="Ever dispatched or summoned to this department")
    ] = None,
    grid: Annotated[str | None, Query(min_length=1, max_length=128, description="Located in this grid")] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    breached: Annotated[Literal["true", "false"] | None, Query(description="A clock was ever breached")] = None,
    open_only: Annotated[Literal["true", "false"], Query(description="Only cases not closed")] = "true",
    sort: Annotated[
        Literal["due", "opened", "updated"],
        Query(description="due: nearest deadline first; opened: newest first; updated: last changed first"),
    ] = "due",
    case_id: Annotated[
        list[Annotated[str, StringConstraints(pattern=CASE_ID, max_length=64)]] | None,
        Query(max_length=200, description="Only these cases (repeat the parameter; at most 200)"),
    ] = None,
    handler: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=128,
            pattern=HANDLER_PATTERN,
            description="Only cases whose handler (承办人) is this person id; me: the caller's own",
        ),
    ] = None,
    section: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=SECTION_PATTERN,
            description="Only cases in this section's (科室) queue of the unit handling them",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> QueuePage:
    """The caller's queue (``scope=mine``) or case list (``scope=jurisdiction``), nearest deadline
    first, with counts by status, names beside ids and each case's SLA standing."""
    if p.role == Role.RESIDENT:
        raise AuthError(403, "role.not_allowed", "queues are for staff; residents follow their cases at /public")
    svc = services(request)
    names = Names(svc.registry)
    bad = names.unknown_filters(street, department, grid, category)
    if section is not None and not any(section in ids for ids in svc.registry.sections().values()):
        bad.append(("query.section", UNKNOWN_SECTION, f"no unit of the city registry has a section {section!r}"))
    if bad:
        raise invalid_fields(bad)
    filters: dict[str, Any] = {
        "status": state.value if state is not None else None,
        "street_id": street,
        "department_id": department,
        "grid_id": grid,
        "category": category,
        "breached": None if breached is None else breached == "true",
        "case_ids": case_id,
        "handler_id": p.person_id if handler == ME else handler,
        "section_id": section,
    }
    return await asyncio.to_thread(
        build_page,
        svc,
        p,
        scope=scope,
        filters=filters,
        open_only=open_only == "true",
        sort=sort,
        limit=limit,
        offset=offset,
        now=datetime.now(UTC),
    )
