"""Queries on the read model, shared by the HTTP API and the command line.

Nothing here returns personal data: the read model stores none (no resident name, phone or id).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, and_, exists, select

from events.times import as_utc
from readmodel import tables as t

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
        a = t.assignments.c
        conds.append(
            exists().where(and_(a.case_id == c.case_id, a.unit_kind == "department", a.unit_id == department_id))
        )
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
