"""Which case events a webhook subscription gets: pure rules, no I/O.

A subscription belongs to a unit (``department:D``, ``street:S``, ``grid:G``, ``property:P``,
``volunteer_team:V`` or ``hotline:<id>``) and sees what that unit sees on the department-safe topic,
with the semantics of ``gridcase events tail`` (:class:`events.consumer.EventFilter`): a case is
in a unit's scope from the first event that involves the unit on, and stays in it.

=================  ===========================================================================
unit kind          cases in scope
=================  ===========================================================================
``department``     dispatched to it, summoned to it by a whistle, or naming it (``department_id``)
``street``         located in it (at intake or after a relocation), dispatched to it, or where it
                   blew the whistle
``grid``           located in it (at intake or after a relocation), or dispatched to it
``property``       passed down or dispatched to the company, or summoned to it by a whistle
``volunteer_team`` the team called in on, reporting or released
``hotline``        every case (the 12345 centre; still the masked events)
=================  ===========================================================================

When a case comes into a unit's scope, the events of the case before that one (up to the dispatcher's
backlog per case, e.g. its ``case.received``) are delivered first, in order, so the receiver has the
case's context. A subscription gets only events that happen after it was created (and, when a case
comes into scope after that, the case's earlier events as context).

On top of the scope, a subscription may keep only some event types (a list of prefixes:
``case.dispatched``, ``sla.``; none: every type) and only one case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from events.base import UnitKind, UnitRef
from events.consumer import involvement, other_units
from events.schemas import CaseEvent, CaseReceived, CaseRelocated


def scope_keys(event: CaseEvent) -> set[str]:
    """The units (``kind:id``) an event brings its case into the scope of."""
    departments, streets = involvement(event)
    keys = {f"department:{d}" for d in departments} | {f"street:{s}" for s in streets}
    keys |= {f"{kind}:{uid}" for kind, uid in other_units(event)}
    unit = getattr(event, "unit", None)
    if isinstance(unit, UnitRef) and unit.kind == UnitKind.GRID:
        keys.add(f"grid:{unit.id}")
    if isinstance(event, CaseReceived | CaseRelocated):
        keys.add(f"grid:{event.location.grid_id}")
        keys.add(f"street:{event.location.street_id}")
    return keys


def type_matches(prefixes: Sequence[str], event_type: str) -> bool:
    """Whether ``event_type`` starts with one of ``prefixes`` (no prefixes: every type)."""
    return not prefixes or any(event_type.startswith(p) for p in prefixes)


@dataclass(frozen=True)
class WebhookFilter:
    """What one subscription keeps."""

    unit_kind: UnitKind
    unit_id: str
    event_types: tuple[str, ...] = ()
    case_id: str | None = None

    @property
    def unit_key(self) -> str:
        return f"{self.unit_kind.value}:{self.unit_id}"

    def in_scope(self, case_units: Iterable[str]) -> bool:
        """Whether a case with these scope keys is the unit's."""
        return self.unit_kind == UnitKind.HOTLINE or self.unit_key in set(case_units)

    def wants_case(self, case_id: str) -> bool:
        return self.case_id is None or self.case_id == case_id

    def wants_type(self, event_type: str) -> bool:
        return type_matches(self.event_types, event_type)


@dataclass(frozen=True)
class EventRef:
    """A case event as the dispatcher queues it: its id, place in the case and the masked CloudEvent."""

    event_id: str
    case_id: str
    seq: int
    event_type: str
    occurred_at: datetime
    payload: bytes = field(repr=False, default=b"")


def deliveries_for(
    flt: WebhookFilter,
    created_at: datetime,
    units_before: Iterable[str],
    units_after: Iterable[str],
    current: EventRef,
    backlog: Sequence[EventRef] = (),
) -> list[EventRef]:
    """The events to queue for one subscription because of ``current``, in the case's order.

    ``units_before`` / ``units_after``: the case's scope keys before and after ``current``;
    ``backlog``: the case's earlier events the dispatcher still holds (any order). Nothing for an
    event older than the subscription; the backlog (filtered by type) when ``current`` brings the case
    into scope.
    """
    if not flt.wants_case(current.case_id) or current.occurred_at < created_at:
        return []
    if not flt.in_scope(units_after):
        return []
    out: list[EventRef] = []
    if not flt.in_scope(units_before):
        out.extend(sorted((e for e in backlog if e.seq < current.seq), key=lambda e: e.seq))
    out.append(current)
    return [e for e in out if flt.wants_type(e.event_type)]
