"""Queries on the read model, shared by the HTTP API and the command line.

Nothing here returns personal data: the read model stores none (no resident name, phone or id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Engine, and_, case, distinct, exists, false, func, or_, select, true

from events.times import CITY_TZ, as_utc
from readmodel import tables as t
from readmodel.projection import TERMINAL_STATUSES

_MAX_LIMIT = 1000


class CaseRow(BaseModel):
    """One case as the read model knows it (current state, key times, counters)."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    status: str
    channel: str | None = None
    category: str | None = None
    urgency: str | None = None
    title: str | None = None
    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    grid_id: str | None = None
    unit_kind: str | None = Field(default=None, description="Kind of the current handling unit.")
    unit_id: str | None = Field(default=None, description="The current handling unit.")
    handler_id: str | None = Field(
        default=None, description="The member of the handling unit the case is with (承办人); None: nobody yet"
    )
    section_id: str | None = Field(
        default=None, description="The section (科室) of the handling unit whose queue the case is in"
    )
    accepted: bool = False
    opened_at: datetime | None = None
    registered_at: datetime | None = None
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None
    contacted_at: datetime | None = None
    resolved_at: datetime | None = None
    first_resolved_at: datetime | None = None
    verified_at: datetime | None = None
    callback_at: datetime | None = None
    closed_at: datetime | None = None
    closure_type: str | None = None
    rating: str | None = None
    callback_resolved: bool | None = None
    next_due_at: datetime | None = Field(default=None, description="Earliest due time of a running clock.")
    breached: bool = False
    dispatch_count: int = 0
    return_count: int = 0
    reopen_count: int = 0
    rework_count: int = 0
    whistle_count: int = 0
    escalation_count: int = 0
    assign_count: int = Field(default=0, description="Assignments, reassignments and takes inside units")
    reply_rounds: int = Field(default=0, description="Replies submitted for the unit's internal review (报审)")
    sent_back_count: int = Field(default=0, description="Replies the reviewer sent back (退回重办)")
    approved_by: str | None = Field(
        default=None, description="The reviewer who signed the last approved reply off (审核签发); None: none"
    )
    interim_replies: int = Field(default=0, description="Interim replies given to the resident (阶段性答复)")
    interim_late: int = Field(default=0, description="Interim replies given after their due time")
    corrections: int = Field(default=0, description="Corrections by the hotline: reclassified, urgency, relocated")
    self_handled: bool = False
    shelved: bool = False
    terminated: bool = False
    excluded_from_evaluation: bool = False
    merged_into: str | None = None
    updated_at: datetime | None = None
    last_seq: int = 0


class TimelineRow(BaseModel):
    """One event of a case's audit trail."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    seq: int
    event_id: str
    type: str
    actor_role: str
    actor_unit: str | None = None
    actor_person: str | None = None
    occurred_at: datetime
    unit_kind: str | None = None
    unit_id: str | None = None
    clock_id: str | None = None
    clock_kind: str | None = None
    due_at: datetime | None = None
    detail: str | None = None


_CASE_FIELDS = tuple(CaseRow.model_fields)


def _case_row(row: object) -> CaseRow:
    m = row._mapping  # type: ignore[attr-defined]
    return CaseRow.model_validate({k: as_utc(m[k]) if isinstance(m[k], datetime) else m[k] for k in _CASE_FIELDS})


def list_cases(
    engine: Engine,
    *,
    status: str | None = None,
    street_id: str | None = None,
    department_id: str | None = None,
    category: str | None = None,
    breached: bool | None = None,
    due_before: datetime | None = None,
    grid_id: str | None = None,
    involved_unit: UnitKey | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[CaseRow]:
    """Cases matching every given filter, most recently opened first.

    Args:
        status: current status (``handling``, ``closed``...).
        street_id: the street the case is located in.
        department_id: a department the case was ever dispatched to or summoned by a whistle.
        category: the case category.
        breached: whether any SLA clock of the case was breached.
        due_before: cases with a running clock due before this time (aware datetime).
        grid_id: the grid the case is located in.
        involved_unit: ``(unit_kind, unit_id)`` of a unit the case was ever assigned to, delegated to,
            summoned or called (any assignment row of any status: a property company, a volunteer team...).
        limit: at most this many rows (1..1000).
        offset: rows to skip (>= 0).

    Raises:
        ValueError: ``limit`` or ``offset`` out of range, or ``due_before`` without a time zone.
    """
    if not 1 <= limit <= _MAX_LIMIT:
        raise ValueError(f"limit: must be between 1 and {_MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise ValueError(f"offset: must be >= 0, got {offset}")
    c = t.cases.c
    conds = []
    if status is not None:
        conds.append(c.status == status)
    if street_id is not None:
        conds.append(c.street_id == street_id)
    if category is not None:
        conds.append(c.category == category)
    if grid_id is not None:
        conds.append(c.grid_id == grid_id)
    if breached is not None:
        conds.append(c.breached.is_(breached))
    if due_before is not None:
        if due_before.tzinfo is None:
            raise ValueError("due_before: must be a datetime with a time zone")
        conds.append(c.next_due_at.is_not(None))
        conds.append(c.next_due_at < as_utc(due_before))
    if department_id is not None:
        conds.append(involved(("department", department_id)))
    if involved_unit is not None:
        conds.append(involved(involved_unit))
    q = select(t.cases).where(*conds).order_by(c.opened_at.desc(), c.case_id).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [_case_row(r) for r in conn.execute(q)]


def get_case(engine: Engine, case_id: str) -> CaseRow | None:
    """One case, or ``None`` if the read model does not know it."""
    with engine.connect() as conn:
        row = conn.execute(select(t.cases).where(t.cases.c.case_id == case_id)).first()
    return None if row is None else _case_row(row)


def get_timeline(engine: Engine, case_id: str) -> list[TimelineRow]:
    """Every projected event of a case, in order."""
    tl = t.timeline.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.timeline).where(tl.case_id == case_id).order_by(tl.seq)).all()
    return [
        TimelineRow.model_validate({k: as_utc(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()})
        for r in rows
    ]


def get_clocks(engine: Engine, case_id: str) -> list[dict[str, object]]:
    """Every SLA clock of a case (plain dicts of the ``rm_clocks`` columns), in start order."""
    ck = t.clocks.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.clocks).where(ck.case_id == case_id).order_by(ck.started_at, ck.clock_id)).all()
    return [{k: as_utc(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()} for r in rows]


# --- case selections: a unit's queue, a jurisdiction's case list -----------------------------------

UnitKey = tuple[str, str]
"""A unit as ``(kind, id)``: ``("street", "S-1")``, ``("department", "env")``."""

SUMMONS = ("whistle", "volunteer")
"""Assignment kinds that summon a unit beside the handling one: a whistle task, a volunteer call."""
UNFINISHED = ("open", "reported")
"""Statuses of a summons the unit still owes its part on."""


def involved(unit: UnitKey) -> ColumnElement[bool]:
    """Condition on ``rm_cases``: ``unit`` has an assignment of the case, of any kind and status
    (dispatched, delegated, summoned by a whistle, called as volunteers)."""
    c, a = t.cases.c, t.assignments.c
    return exists().where(a.case_id == c.case_id, a.unit_kind == unit[0], a.unit_id == unit[1])


def summoned(unit: UnitKey) -> ColumnElement[bool]:
    """Condition on ``rm_cases``: ``unit`` was summoned to the case (a whistle task, a volunteer call)
    and has not finished its part."""
    c, a = t.cases.c, t.assignments.c
    return exists().where(
        a.case_id == c.case_id,
        a.kind.in_(SUMMONS),
        a.unit_kind == unit[0],
        a.unit_id == unit[1],
        a.status.in_(UNFINISHED),
    )


SectionKey = tuple[str, str, str]
"""A section (科室) of a unit as ``(unit kind, unit id, section id)``: ``("street", "S-1", "urban")``
(section ids are unique within their unit only)."""

SORTS = ("due", "opened", "updated")
"""Orders of :func:`select_cases`: nearest deadline first (cases without a running clock last),
most recently opened first, most recently changed first."""

_AREA_COLUMNS = frozenset({"district_id", "street_id", "community_id", "grid_id"})


@dataclass(frozen=True)
class Selection:
    """A set of cases of the read model: the union of the parts given (none given: no case).

    Attributes:
        everything: every case.
        handled_by: cases whose current handling unit is one of these.
        summoned: cases with a whistle task of one of these units (a department, a property company)
            not completed yet, or an open call of one of these volunteer teams.
        to_verify_in: resolved cases located in one of these grids (the grid worker verifies them).
        in_status: cases in one of these statuses.
        located: cases located in one of these places (``("street_id", "S-1")``; columns
            ``district_id``, ``street_id``, ``community_id``, ``grid_id``).
        involved: cases ever dispatched or summoned to one of these units.
        handled_by_person: cases whose handler (承办人, a person id) inside the handling unit is one
            of these: the member the case is with now, or was with when it finished (dispatching
            it to another unit clears the handler).
        in_section: cases in the queue of one of these sections (科室) of the unit handling them.
    """

    everything: bool = False
    handled_by: tuple[UnitKey, ...] = ()
    summoned: tuple[UnitKey, ...] = ()
    to_verify_in: tuple[str, ...] = ()
    in_status: tuple[str, ...] = ()
    located: tuple[tuple[str, str], ...] = ()
    involved: tuple[UnitKey, ...] = ()
    handled_by_person: tuple[str, ...] = ()
    in_section: tuple[SectionKey, ...] = ()

    def __post_init__(self) -> None:
        bad = sorted({col for col, _ in self.located} - _AREA_COLUMNS)
        if bad:
            raise ValueError(f"located: unknown place column {bad[0]!r}")

    def union(self, other: Selection) -> Selection:
        """The cases of either selection."""
        return Selection(
            everything=self.everything or other.everything,
            handled_by=self.handled_by + other.handled_by,
            summoned=self.summoned + other.summoned,
            to_verify_in=self.to_verify_in + other.to_verify_in,
            in_status=self.in_status + other.in_status,
            located=self.located + other.located,
            involved=self.involved + other.involved,
            handled_by_person=self.handled_by_person + other.handled_by_person,
            in_section=self.in_section + other.in_section,
        )

    def condition(self) -> ColumnElement[bool]:
        """The SQL condition on ``rm_cases`` that selects these cases."""
        c = t.cases.c
        if self.everything:
            return true()
        parts: list[ColumnElement[bool]] = []
        parts += [and_(c.unit_kind == kind, c.unit_id == ident) for kind, ident in self.handled_by]
        parts += [summoned(unit) for unit in self.summoned]
        if self.to_verify_in:
            parts.append(and_(c.status == "resolved", c.grid_id.in_(self.to_verify_in)))
        if self.in_status:
            parts.append(c.status.in_(self.in_status))
        parts += [c[col] == value for col, value in self.located]
        parts += [involved(unit) for unit in self.involved]
        if self.handled_by_person:
            parts.append(c.handler_id.in_(self.handled_by_person))
        parts += [
            and_(c.unit_kind == kind, c.unit_id == ident, c.section_id == section)
            for kind, ident, section in self.in_section
        ]
        return or_(*parts) if parts else false()


class CasePage(BaseModel):
    """One page of a selection, with its size and its cases counted by status."""

    items: list[CaseRow]
    total: int = Field(description="Cases matching every filter (all pages)")
    counts: dict[str, int] = Field(description="Cases matching every filter but the status, by status")
    overdue: int = Field(description="Cases matching every filter but the status whose next deadline has passed")


def select_cases(
    engine: Engine,
    selection: Selection,
    *,
    within: Selection | None = None,
    status: str | None = None,
    street_id: str | None = None,
    department_id: str | None = None,
    category: str | None = None,
    grid_id: str | None = None,
    breached: bool | None = None,
    case_ids: Sequence[str] | None = None,
    handler_id: str | None = None,
    section_id: str | None = None,
    open_only: bool = False,
    sort: str = "due",
    limit: int = 50,
    offset: int = 0,
    as_of: datetime | None = None,
) -> CasePage:
    """The cases of ``selection`` (and of ``within``, when given) matching every filter.

    Args:
        selection: which cases (a unit's queue, a jurisdiction).
        within: a second selection every case must also belong to (the caller's jurisdiction).
        status, street_id, department_id, category, grid_id, breached: as in :func:`list_cases`.
        case_ids: only these cases (a list refreshing the rows it shows).
        handler_id: only cases whose handler (承办人) is this person (as ``Selection.handled_by_person``).
        section_id: only cases in this section's (科室) queue of the unit handling them.
        open_only: only cases not closed, rejected or merged.
        sort: one of :data:`SORTS`; ties are broken by opening time, then case id.
        limit: at most this many rows (1..1000).
        offset: rows to skip (>= 0).
        as_of: the time ``overdue`` is counted at (aware; default now).

    Raises:
        ValueError: ``limit``, ``offset``, ``sort`` or ``as_of`` out of range.
    """
    if not 1 <= limit <= _MAX_LIMIT:
        raise ValueError(f"limit: must be between 1 and {_MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise ValueError(f"offset: must be >= 0, got {offset}")
    if sort not in SORTS:
        raise ValueError(f"sort: one of {', '.join(SORTS)}, got {sort!r}")
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError("as_of: must be a datetime with a time zone")
    now = as_utc(as_of) if as_of is not None else datetime.now(UTC)
    c = t.cases.c
    conds: list[ColumnElement[bool]] = [selection.condition()]
    if within is not None:
        conds.append(within.condition())
    if open_only:
        conds.append(c.status.not_in(sorted(TERMINAL_STATUSES)))
    for column, value in (
        ("street_id", street_id),
        ("category", category),
        ("grid_id", grid_id),
        ("handler_id", handler_id),
        ("section_id", section_id),
    ):
        if value is not None:
            conds.append(c[column] == value)
    if breached is not None:
        conds.append(c.breached.is_(breached))
    if case_ids is not None:
        conds.append(c.case_id.in_(list(case_ids)))
    if department_id is not None:
        conds.append(involved(("department", department_id)))
    page_conds = [*conds, c.status == status] if status is not None else conds
    order = {
        "due": (case((c.next_due_at.is_(None), 1), else_=0), c.next_due_at.asc(), c.opened_at.asc()),
        "opened": (c.opened_at.desc(),),
        "updated": (c.updated_at.desc(), c.opened_at.desc()),
    }[sort]
    q = select(t.cases).where(*page_conds).order_by(*order, c.case_id).limit(limit).offset(offset)
    by_status = select(c.status, func.count()).where(*conds).group_by(c.status)
    total_q = select(func.count()).select_from(t.cases).where(*page_conds)
    overdue_q = select(func.count()).select_from(t.cases).where(*conds, c.next_due_at.is_not(None), c.next_due_at < now)
    with engine.connect() as conn:
        items = [_case_row(r) for r in conn.execute(q)]
        counts = {str(s): int(n) for s, n in conn.execute(by_status)}
        total = int(conn.execute(total_q).scalar_one())
        overdue = int(conn.execute(overdue_q).scalar_one())
    return CasePage(items=items, total=total, counts=counts, overdue=overdue)


def running_clocks(engine: Engine, case_ids: Sequence[str]) -> dict[str, list[dict[str, object]]]:
    """The clocks still running (not stopped) of each of these cases, earliest due first."""
    if not case_ids:
        return {}
    ck = t.clocks.c
    out: dict[str, list[dict[str, object]]] = {}
    with engine.connect() as conn:
        for start in range(0, len(case_ids), 500):
            chunk = list(case_ids[start : start + 500])
            q = (
                select(t.clocks)
                .where(ck.case_id.in_(chunk), ck.stopped_at.is_(None))
                .order_by(ck.case_id, ck.due_at, ck.clock_id)
            )
            for r in conn.execute(q):
                row = {k: as_utc(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()}
                out.setdefault(str(row["case_id"]), []).append(row)
    return out


# --- work inside a unit: each handler's load -------------------------------------------------------


def month_span(period: str) -> tuple[datetime, datetime]:
    """The UTC bounds ``[since, until)`` of the local (Asia/Shanghai) month ``YYYY-MM``.

    Raises:
        ValueError: ``period`` is not ``YYYY-MM``.
    """
    head, sep, tail = period.partition("-")
    if not (sep and len(head) == 4 and head.isdigit() and len(tail) == 2 and tail.isdigit() and 1 <= int(tail) <= 12):
        raise ValueError(f"period: expected YYYY-MM (e.g. 2026-11), got {period!r}")
    year, month = int(head), int(tail)
    since = datetime(year, month, 1, tzinfo=CITY_TZ)
    until = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=CITY_TZ)
    return since.astimezone(UTC), until.astimezone(UTC)


class LoadFigures(BaseModel):
    """Open cases of a unit (or of one handler or section of it), and how many of them are late."""

    open: int = Field(default=0, description="Open cases (not closed, rejected or merged)")
    warned: int = Field(default=0, description="Open cases of which a running clock has raised its warning")
    breached: int = Field(default=0, description="Open cases of which a clock was ever breached")
    overdue: int = Field(default=0, description="Open cases whose next deadline has passed at as_of")


class HandlerLoad(LoadFigures):
    """One handler's (承办人) open cases in the unit, and the cases they resolved there in the period."""

    handler_id: str
    resolved: int = Field(default=0, description="Cases this person resolved (办结) for the unit in the period")


class SectionLoad(LoadFigures):
    """One section's (科室) open cases in the unit."""

    section_id: str
    unassigned: int = Field(default=0, description="Open cases in the section's queue without a handler")


class UnitLoad(BaseModel):
    """The work inside one unit: its open cases by handler and by section, and who resolved what in a period."""

    unit_kind: str
    unit_id: str
    since: datetime = Field(description="Start of the period resolutions are counted in (inclusive)")
    until: datetime = Field(description="End of the period (exclusive)")
    as_of: datetime = Field(description="The time overdue is counted at")
    total: LoadFigures = Field(description="Every open case the unit handles now")
    resolved: int = Field(description="Cases the unit resolved in the period (each once)")
    unassigned: LoadFigures = Field(description="Open cases with no handler: the unit's inbox and its sections' queues")
    handlers: list[HandlerLoad] = Field(
        description="Each person with open cases or resolutions, most open cases first, then by id"
    )
    sections: list[SectionLoad] = Field(description="Each section with open cases, by id")


def unit_load(
    engine: Engine,
    unit: UnitKey,
    *,
    since: datetime,
    until: datetime,
    within: Selection | None = None,
    as_of: datetime | None = None,
) -> UnitLoad:
    """Each handler's load in ``unit``: the open cases the unit handles now by handler (承办人) and by
    section (科室), those warned, breached and overdue, and the cases each person resolved for the
    unit between ``since`` (inclusive) and ``until`` (exclusive).

    "Open" is the queue's rule (not closed, rejected or merged: a resolved case waiting for its
    verification is still the unit's). Resolutions are the ``case.resolved`` events of the unit by
    the person who acted, so a case resolved and later dispatched elsewhere still counts, and a case
    resolved twice in the period counts once. ``within`` restricts every figure to a selection (the
    caller's jurisdiction).

    Raises:
        ValueError: ``since``, ``until`` or ``as_of`` without a time zone, or ``until`` before ``since``.
    """
    for name, value in (("since", since), ("until", until), ("as_of", as_of)):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name}: must be a datetime with a time zone")
    if until < since:
        raise ValueError("until: must not be before since")
    now = as_utc(as_of) if as_of is not None else datetime.now(UTC)
    kind, ident = unit
    c = t.cases.c
    ck = t.clocks.c
    tl = t.timeline.c
    conds: list[ColumnElement[bool]] = [
        c.unit_kind == kind,
        c.unit_id == ident,
        c.status.not_in(sorted(TERMINAL_STATUSES)),
    ]
    if within is not None:
        conds.append(within.condition())
    warned_ids = (
        select(ck.case_id.label("case_id"))
        .where(ck.stopped_at.is_(None), ck.warned_at.is_not(None))
        .group_by(ck.case_id)
        .subquery("warned")
    )
    source = t.cases.outerjoin(warned_ids, warned_ids.c.case_id == c.case_id)

    def count_if(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    figures = (
        func.count().label("open"),
        count_if(warned_ids.c.case_id.is_not(None)).label("warned"),
        count_if(c.breached.is_(True)).label("breached"),
        count_if(and_(c.next_due_at.is_not(None), c.next_due_at < now)).label("overdue"),
    )
    by_handler = select(c.handler_id, *figures).select_from(source).where(*conds).group_by(c.handler_id)
    by_section = (
        select(c.section_id, *figures, count_if(c.handler_id.is_(None)).label("unassigned"))
        .select_from(source)
        .where(*conds, c.section_id.is_not(None))
        .group_by(c.section_id)
    )
    a = t.assignments.c
    resolved_conds: list[ColumnElement[bool]] = [
        # the cases ever dispatched to the unit (its assignments' index), not the whole timeline
        tl.case_id.in_(select(a.case_id).where(a.unit_kind == kind, a.unit_id == ident, a.kind == "dispatch")),
        tl.type == "case.resolved",
        tl.unit_kind == kind,
        tl.unit_id == ident,
        tl.occurred_at >= as_utc(since),
        tl.occurred_at < as_utc(until),
    ]
    if within is not None:
        resolved_conds.append(within.condition())
    resolutions = t.timeline.join(t.cases, tl.case_id == c.case_id)
    resolved_by = (
        select(tl.actor_person, func.count(distinct(tl.case_id)))
        .select_from(resolutions)
        .where(*resolved_conds, tl.actor_person.is_not(None))
        .group_by(tl.actor_person)
    )
    resolved_total = select(func.count(distinct(tl.case_id))).select_from(resolutions).where(*resolved_conds)

    def load(m: Any) -> dict[str, int]:
        return {k: int(m[k] or 0) for k in ("open", "warned", "breached", "overdue")}

    with engine.connect() as conn:
        handler_rows = [r._mapping for r in conn.execute(by_handler)]
        section_rows = [r._mapping for r in conn.execute(by_section)]
        resolved = {str(person): int(n) for person, n in conn.execute(resolved_by)}
        total_resolved = int(conn.execute(resolved_total).scalar_one())
    total = LoadFigures(**{k: sum(load(m)[k] for m in handler_rows) for k in ("open", "warned", "breached", "overdue")})
    unassigned = next((LoadFigures(**load(m)) for m in handler_rows if m["handler_id"] is None), LoadFigures())
    handlers = {
        str(m["handler_id"]): HandlerLoad(handler_id=str(m["handler_id"]), **load(m))
        for m in handler_rows
        if m["handler_id"] is not None
    }
    for person, n in resolved.items():
        row = handlers.get(person) or HandlerLoad(handler_id=person)
        handlers[person] = row.model_copy(update={"resolved": n})
    return UnitLoad(
        unit_kind=kind,
        unit_id=ident,
        since=as_utc(since),
        until=as_utc(until),
        as_of=now,
        total=total,
        resolved=total_resolved,
        unassigned=unassigned,
        handlers=sorted(handlers.values(), key=lambda h: (-h.open, h.handler_id)),
        sections=sorted(
            (
                SectionLoad(section_id=str(m["section_id"]), unassigned=int(m["unassigned"] or 0), **load(m))
                for m in section_rows
            ),
            key=lambda s: s.section_id,
        ),
    )
