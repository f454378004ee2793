"""Pure projection of case events onto read-model rows (no I/O).

:class:`CaseView` holds every row of one case as plain dicts keyed like the tables in
:mod:`readmodel.tables`; :func:`apply_event` applies one event to it. The projector loads the views
of the cases a batch touches, applies the batch and writes the views back in one transaction.

Order-aware and idempotent: an event whose ``seq`` is at or below the case's ``last_seq`` changes
nothing (:func:`apply_event` returns ``False``), so a replay or a duplicate is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.base import CaseEventBase, UnitKind, UnitRef
from events.schemas import (
    AppealDecided,
    AppealFiled,
    CallbackRecorded,
    CaseAccepted,
    CaseAssigned,
    CaseClosed,
    CaseDispatched,
    CaseMerged,
    CaseReceived,
    CaseReclassified,
    CaseRegistered,
    CaseRejected,
    CaseRelocated,
    CaseReopened,
    CaseResolved,
    CaseReturned,
    CaseShelved,
    CaseTerminated,
    CaseUnshelved,
    CaseVerified,
    ClockExtended,
    ClockKind,
    ClockOutcome,
    ClockPaused,
    ClockRecomputed,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DepartmentReportedIn,
    DepartmentTaskCompleted,
    DuplicateAttached,
    EscalationRaised,
    ExtensionDecided,
    ExtensionRequested,
    InterimReplied,
    Location,
    Rating,
    ReplyApproved,
    ReplySentBack,
    ReplySubmitted,
    ResidentContacted,
    ReturnReviewed,
    ReworkOrdered,
    SlaBreached,
    SlaWarningRaised,
    UrgencyChanged,
    VolunteersCalled,
    VolunteersReleased,
    VolunteersReported,
    WhistleBlown,
)
from events.times import as_utc
from workflows.domain.state import TERMINAL

Row = dict[str, Any]

#: Events that only add a timeline row (no column of the case, assignment or clock rows changes).
#: :func:`apply_event` has an arm for every other event of :data:`events.schemas.CaseEvent`; an event
#: in neither raises, and ``tests/unit/test_exhaustive.py`` fails first.
TIMELINE_ONLY: frozenset[type[CaseEventBase]] = frozenset(
    {ReturnReviewed, ExtensionRequested, ExtensionDecided, AppealFiled, DuplicateAttached}
)

#: Statuses in which a case is finished, as stored in ``cases.status``: the domain's terminal statuses.
TERMINAL_STATUSES: frozenset[str] = frozenset(status.value for status in TERMINAL)

_BASE_FIELDS = frozenset({"schema_version", "event_id", "case_id", "seq", "occurred_at", "actor", "type"})
# Never copied into the timeline: personal data and long free text. (A location is summarised as its
# district/street/community/grid ids, without the address; an interim reply's text is addressed to
# the resident, like a callback's comment.)
_OMITTED_FIELDS = frozenset(
    {
        "contact",
        "description",
        "title",
        "attachments",
        "evidence",
        "recipients",
        "location",
        "previous_location",
        "idempotency_key",
        "comment",
        "handler_name",
        "text",
    }
)


def new_case_row(case_id: str) -> Row:
    """The row of a case no event has been applied to yet."""
    return {
        "case_id": case_id,
        "status": "new",
        "channel": None,
        "category": None,
        "urgency": None,
        "title": None,
        "district_id": None,
        "street_id": None,
        "community_id": None,
        "grid_id": None,
        "unit_kind": None,
        "unit_id": None,
        "accepted": False,
        "opened_at": None,
        "registered_at": None,
        "dispatched_at": None,
        "accepted_at": None,
        "contacted_at": None,
        "resolved_at": None,
        "first_resolved_at": None,
        "verified_at": None,
        "callback_at": None,
        "closed_at": None,
        "closure_type": None,
        "rating": None,
        "callback_resolved": None,
        "next_due_at": None,
        "breached": False,
        "dispatch_count": 0,
        "return_count": 0,
        "reopen_count": 0,
        "rework_count": 0,
        "whistle_count": 0,
        "escalation_count": 0,
        "self_handled": False,
        "shelved": False,
        "shelved_from": None,
        "terminated": False,
        "excluded_from_evaluation": False,
        "merged_into": None,
        "updated_at": None,
        "last_seq": 0,
        "time_scale": None,
        "lat": None,
        "lon": None,
        "handler_id": None,
        "section_id": None,
        "assign_count": 0,
        "reply_rounds": 0,
        "sent_back_count": 0,
        "approved_by": None,
        "interim_replies": 0,
        "interim_late": 0,
        "corrections": 0,
    }


@dataclass
class CaseView:
    """Every read-model row of one case.

    ``callbacks`` and ``escalations`` are insert-only: the projector does not load them back, so
    they hold only the rows added since the view was loaded.
    """

    case: Row
    assignments: dict[str, Row] = field(default_factory=dict)
    clocks: dict[str, Row] = field(default_factory=dict)
    whistles: dict[int, Row] = field(default_factory=dict)
    callbacks: dict[int, Row] = field(default_factory=dict)
    escalations: dict[int, Row] = field(default_factory=dict)
    new_timeline: list[Row] = field(default_factory=list)  # rows added since the view was loaded
    # Rows as loaded from the database (table attr -> key -> values), so only changes are written.
    snapshot: dict[str, dict[Any, tuple[Any, ...]]] = field(default_factory=dict)

    @classmethod
    def empty(cls, case_id: str) -> CaseView:
        return cls(case=new_case_row(case_id))

    @property
    def case_id(self) -> str:
        return str(self.case["case_id"])

    @property
    def last_seq(self) -> int:
        return int(self.case["last_seq"] or 0)

    # --- lookups ------------------------------------------------------------------------------
    def current_dispatch(self, unit: UnitRef | None = None) -> Row | None:
        """The latest dispatch assignment (of ``unit`` if given) that is not replaced (dispatched
        elsewhere) or recalled (taken back by the hotline when it relocated the case)."""
        for key in sorted((k for k in self.assignments if k.startswith("d")), reverse=True):
            row = self.assignments[key]
            if row["unit_kind"] == "property" and unit is not None and unit.kind.value != "property":
                continue  # a property company the street or community passed the case down to: look past it
            if row["status"] in _ENDED_DISPATCH:
                return None
            if unit is None or (row["unit_kind"] == unit.kind.value and row["unit_id"] == unit.id):
                return row
            return None
        return None

    def whistle_assignment(self, department_id: str, round_: int | None = None) -> Row | None:
        """The whistle assignment of a department in ``round_`` (default: its latest round)."""
        if round_ is not None:
            return self.assignments.get(whistle_key(round_, department_id))
        keys = sorted(
            (k for k, r in self.assignments.items() if r["kind"] == "whistle" and r["unit_id"] == department_id),
            reverse=True,
        )
        return self.assignments[keys[0]] if keys else None

    def volunteer_call(self, team_id: str) -> Row | None:
        """The open call of a volunteer team (the latest one), if any."""
        keys = sorted(
            (
                k
                for k, r in self.assignments.items()
                if r["kind"] == "volunteer" and r["unit_id"] == team_id and r["status"] == "open"
            ),
            reverse=True,
        )
        return self.assignments[keys[0]] if keys else None

    def clock_assignment(self, kind: ClockKind, unit: UnitRef) -> Row | None:
        """The assignment a clock of ``kind`` times: accept and resolve clocks time the current
        dispatch of ``unit``, report-in clocks the unit's whistle assignment; other clocks none."""
        if kind in (ClockKind.ACCEPT, ClockKind.RESOLVE):
            return self.current_dispatch(unit)
        if kind == ClockKind.REPORT_IN:
            return self.whistle_assignment(unit.id)
        return None


#: Statuses of a dispatch the unit no longer holds although it neither returned nor resolved it.
_ENDED_DISPATCH = frozenset({"replaced", "recalled"})


def dispatch_key(seq: int) -> str:
    return f"d{seq:06d}"


def volunteer_key(seq: int) -> str:
    """The assignment id of a volunteer team's call: the seq of its ``VolunteersCalled``."""
    return f"v{seq:06d}"


def whistle_key(round_: int, department_id: str) -> str:
    return f"w{round_:03d}:{department_id}"


def _new_assignment(
    case_id: str,
    assignment_id: str,
    kind: str,
    unit_kind: str,
    unit_id: str,
    *,
    round_: int | None,
    assigned_at: datetime,
    final_ruling: bool,
) -> dict[str, Any]:
    """A fresh, open assignment row: a dispatch to a unit, or a department summoned by a whistle."""
    return {
        "case_id": case_id,
        "assignment_id": assignment_id,
        "kind": kind,
        "unit_kind": unit_kind,
        "unit_id": unit_id,
        "round": round_,
        "assigned_at": assigned_at,
        "final_ruling": final_ruling,
        "first_due_at": None,
        "resolve_due_at": None,
        "accepted_at": None,
        "reported_at": None,
        "contacted_at": None,
        "returned_at": None,
        "return_reason": None,
        "resolved_at": None,
        "completed_at": None,
        "first_on_time": None,
        "status": "open",
    }


def _first(row: Row, column: str, value: Any) -> None:
    if row.get(column) is None:
        row[column] = value


def _detail(event: CaseEventBase) -> str:
    """Key fields of an event as ``k=v`` text, without personal data or long free text."""
    data = event.model_dump(mode="json")
    parts: list[str] = []
    for key, value in data.items():
        if key in _BASE_FIELDS or key in _OMITTED_FIELDS or value is None or value == [] or value == "":
            continue
        if key in ("final_ruling", "by_grid", "recalled") and value is False:
            continue
        if (key == "unit" and isinstance(value, dict)) or (key == "returned_by" and isinstance(value, dict)):
            text = f"{value['kind']}:{value['id']}"
        elif key == "tasks" and isinstance(value, list):
            text = ",".join(str(t["department_id"]) for t in value)
        elif isinstance(value, str):
            text = value if len(value) <= 80 else value[:79] + "…"
        else:
            text = str(value)
        parts.append(f"{key}={text}")
    if isinstance(event, CaseReceived):
        parts.append(f"location={_place(event.location)}")
    elif isinstance(event, CaseRelocated):
        parts.append(f"previous_location={_place(event.previous_location)}")
        parts.append(f"location={_place(event.location)}")
    return " ".join(parts)[:1000]


def _place(loc: Location) -> str:
    return f"{loc.district_id}/{loc.street_id}/{loc.community_id}/{loc.grid_id}"


def detail_value(detail: str | None, key: str) -> str | None:
    """The value of ``key`` in a timeline row's detail (``k=v`` pairs), or ``None``.

    Meant for the fields the detail writes as single words (numbers, booleans, ids, times), the
    last occurrence winning: an event's own fields follow any free text it carries.
    """
    found = None
    for part in (detail or "").split(" "):
        name, sep, value = part.partition("=")
        if sep and name == key:
            found = value
    return found


def timeline_row(event: CaseEventBase) -> Row:
    """The timeline row of one event."""
    fields_ = event.__dict__  # the event's field values (avoids pydantic's slow path for absent attributes)
    unit: UnitRef | None = fields_.get("unit")
    unit_kind = unit.kind.value if unit is not None else None
    unit_id = unit.id if unit is not None else None
    department_id = fields_.get("department_id")
    if unit is None and isinstance(department_id, str):
        unit_kind, unit_id = "department", department_id
    if isinstance(event, WhistleBlown):
        unit_kind, unit_id = "street", event.street_id
    due = fields_.get("due_at")
    kind = fields_.get("kind")
    return {
        "case_id": event.case_id,
        "seq": event.seq,
        "event_id": event.event_id,
        "type": fields_["type"],
        "actor_role": event.actor.role.value,
        "actor_unit": event.actor.unit_id,
        "actor_person": event.actor.person_id,
        "occurred_at": as_utc(event.occurred_at),
        "unit_kind": unit_kind,
        "unit_id": unit_id,
        "clock_id": fields_.get("clock_id"),
        "clock_kind": kind.value if isinstance(kind, ClockKind) else None,
        "due_at": as_utc(due) if isinstance(due, datetime) else None,
        "detail": _detail(event),
    }


def _next_due(view: CaseView) -> datetime | None:
    dues = [r["due_at"] for r in view.clocks.values() if r["stopped_at"] is None and not r["paused"]]
    return min(dues) if dues else None


def apply_event(view: CaseView, event: CaseEventBase) -> bool:
    """Apply ``event`` to ``view`` in place; ``False`` (and no change) when already applied."""
    if event.seq <= view.last_seq:
        return False
    c = view.case
    now = as_utc(event.occurred_at)
    match event:
        case CaseReceived():
            loc = event.location
            c.update(
                status="received",
                channel=event.channel.value,
                category=event.category,
                urgency=event.urgency.value,
                title=event.title[:200],
                district_id=loc.district_id,
                street_id=loc.street_id,
                community_id=loc.community_id,
                grid_id=loc.grid_id,
                lat=loc.lat,
                lon=loc.lon,
                opened_at=now,
            )
        case CaseRejected():
            c["status"] = "rejected"
            c["closed_at"] = now
        case CaseRegistered():
            c["status"] = "registered"
            _first(c, "registered_at", now)
        case CaseDispatched():
            previous = view.current_dispatch()
            # a case passed down to a property company (``by``) stays the street's or grid's to answer for
            if previous is not None and previous["status"] in ("open", "accepted") and event.by is None:
                previous["status"] = "replaced"
            c.update(
                status="dispatched",
                unit_kind=event.unit.kind.value,
                unit_id=event.unit.id,
                accepted=False,
                handler_id=None,
                section_id=None,
            )
            c["dispatch_count"] += 1
            _first(c, "dispatched_at", now)
            view.assignments[dispatch_key(event.seq)] = _new_assignment(
                event.case_id,
                dispatch_key(event.seq),
                "dispatch",
                event.unit.kind.value,
                event.unit.id,
                round_=None,
                assigned_at=now,
                final_ruling=event.final_ruling,
            )
        case CaseAccepted():
            c.update(status="handling", accepted=True)
            _first(c, "accepted_at", now)
            row = view.current_dispatch(event.unit)
            if row is not None:
                row["accepted_at"] = now
                row["status"] = "accepted"
        case CaseAssigned():
            c.update(handler_id=event.handler_id, section_id=event.section_id)
            c["assign_count"] += 1
        case ReplySubmitted():
            c["reply_rounds"] = event.round
        case ReplyApproved():
            c["approved_by"] = event.approved_by  # the case.resolved that follows resolves it
        case ReplySentBack():
            c["sent_back_count"] = event.sent_back_count
        case InterimReplied():
            c["interim_replies"] = event.number
            if not event.on_time:
                c["interim_late"] += 1
        case CaseReclassified():
            c["category"] = event.category
            c["corrections"] += 1
        case UrgencyChanged():
            c["urgency"] = event.urgency.value
            c["corrections"] += 1
        case CaseRelocated():
            loc = event.location
            c.update(
                district_id=loc.district_id,
                street_id=loc.street_id,
                community_id=loc.community_id,
                grid_id=loc.grid_id,
                lat=loc.lat,
                lon=loc.lon,
            )
            c["corrections"] += 1
            if event.recalled:  # back with the hotline, to be dispatched to the place's own unit
                row = view.current_dispatch()
                if row is not None and row["status"] in ("open", "accepted"):
                    row["status"] = "recalled"
                c.update(
                    status="registered",
                    unit_kind=None,
                    unit_id=None,
                    accepted=False,
                    handler_id=None,
                    section_id=None,
                )
        case CaseReturned(to=UnitRef() as back_to):  # straight back to the street or community that passed it down
            c.update(status="handling", unit_kind=back_to.kind.value, unit_id=back_to.id, accepted=True)
            c.update(handler_id=None, section_id=None)
            c["return_count"] += 1
            row = view.current_dispatch(event.unit)
            if row is not None:
                row.update(returned_at=now, return_reason=event.reason_code.value, status="returned")
        case CaseReturned():
            c["status"] = "returned"
            c["return_count"] += 1
            row = view.current_dispatch(event.unit)
            if row is not None:
                row.update(returned_at=now, return_reason=event.reason_code.value, status="returned")
        case ResidentContacted():
            _first(c, "contacted_at", now)
            row = view.current_dispatch(event.unit)
            if row is not None:
                _first(row, "contacted_at", now)
        case WhistleBlown():
            c["whistle_count"] += 1
            view.whistles[event.round] = {
                "case_id": event.case_id,
                "round": event.round,
                "street_id": event.street_id,
                "blown_at": now,
                "departments": len(event.tasks),
                "reported": 0,
                "completed": 0,
            }
            for task in event.tasks:
                key = whistle_key(event.round, task.department_id)
                view.assignments[key] = _new_assignment(
                    event.case_id,
                    key,
                    "whistle",
                    task.unit_kind.value,
                    task.department_id,
                    round_=event.round,
                    assigned_at=now,
                    final_ruling=False,
                )
        case DepartmentReportedIn():
            row = view.whistle_assignment(event.department_id, event.round)
            if row is not None:
                row["reported_at"] = now
                row["status"] = "reported"
            if event.round in view.whistles:
                view.whistles[event.round]["reported"] += 1
        case DepartmentTaskCompleted():
            row = view.whistle_assignment(event.department_id, event.round)
            if row is not None:
                row["completed_at"] = now
                row["status"] = "completed"
            if event.round in view.whistles:
                view.whistles[event.round]["completed"] += 1
        case VolunteersCalled():
            # the case stays with its grid; the team's call is an assignment of its own (its queue)
            key = volunteer_key(event.seq)
            view.assignments[key] = _new_assignment(
                event.case_id,
                key,
                "volunteer",
                UnitKind.VOLUNTEER_TEAM.value,
                event.team_id,
                round_=None,
                assigned_at=now,
                final_ruling=False,
            )
        case VolunteersReported():
            row = view.volunteer_call(event.team_id)
            if row is not None:
                row.update(reported_at=now, completed_at=now, status="completed")
        case VolunteersReleased():
            row = view.volunteer_call(event.team_id)
            if row is not None:
                row.update(completed_at=now, status="released")
        case CaseResolved():
            c.update(status="resolved", resolved_at=now, self_handled=event.by_grid)
            _first(c, "first_resolved_at", now)
            row = view.current_dispatch(event.unit)
            if row is not None:
                row["resolved_at"] = now
                row["status"] = "resolved"
        case CaseVerified():
            if event.passed:
                c.update(status="verified", verified_at=now)
        case ReworkOrdered():
            c.update(status="handling", rework_count=event.rework_count, resolved_at=None, self_handled=False)
            row = view.current_dispatch(event.unit)
            if row is not None and row["status"] == "resolved":
                row["status"] = "accepted"
        case CallbackRecorded():
            c.update(status="called_back", rating=event.rating.value, callback_resolved=event.resolved, callback_at=now)
            view.callbacks[event.seq] = {
                "case_id": event.case_id,
                "seq": event.seq,
                "occurred_at": now,
                "rating": event.rating.value,
                "resolved": event.resolved,
                "valid": event.rating != Rating.UNREACHABLE,
                "unit_kind": c["unit_kind"],
                "unit_id": c["unit_id"],
            }
        case CaseReopened():
            c.update(
                status="handling",
                reopen_count=event.reopen_count,
                resolved_at=None,
                verified_at=None,
                self_handled=False,
            )
            row = view.current_dispatch(event.unit)
            if row is not None and row["status"] == "resolved":
                row["status"] = "accepted"
        case CaseClosed():
            c.update(status="closed", closure_type=event.closure_type.value, closed_at=now)
        case CaseShelved():
            c.update(shelved_from=c["status"], status="shelved", shelved=True)
        case CaseUnshelved():
            c.update(status=c["shelved_from"] or "registered", shelved_from=None, shelved=False)
        case CaseTerminated():
            c["terminated"] = True
        case AppealDecided():
            c["excluded_from_evaluation"] = event.granted
        case CaseMerged():
            c.update(status="merged", merged_into=event.into_case_id, closed_at=now)
        case ClockStarted():
            view.clocks[event.clock_id] = {
                "case_id": event.case_id,
                "clock_id": event.clock_id,
                "kind": event.kind.value,
                "unit_kind": event.unit.kind.value,
                "unit_id": event.unit.id,
                "started_at": now,
                "due_at": as_utc(event.due_at),
                "budget_seconds": event.budget.total_seconds(),
                "working_time": event.working_time,
                "extended_seconds": 0.0,
                "paused": False,
                "warned_at": None,
                "warnings": 0,
                "breached_at": None,
                "stopped_at": None,
                "outcome": None,
                "rungs": 0,
                "time_scale": event.time_scale,
            }
            if c["time_scale"] is None and event.time_scale is not None:
                c["time_scale"] = event.time_scale  # fixed for the case's whole life
            row = view.clock_assignment(event.kind, event.unit)
            if row is not None:
                row["resolve_due_at" if event.kind == ClockKind.RESOLVE else "first_due_at"] = as_utc(event.due_at)
        case ClockPaused():
            if event.clock_id in view.clocks:
                view.clocks[event.clock_id]["paused"] = True
        case ClockResumed():
            if event.clock_id in view.clocks:
                view.clocks[event.clock_id].update(paused=False, due_at=as_utc(event.due_at))
        case ClockExtended():
            clock = view.clocks.get(event.clock_id)
            if clock is not None:
                clock["due_at"] = as_utc(event.due_at)
                clock["extended_seconds"] += event.extra.total_seconds()
                if event.kind == ClockKind.RESOLVE:
                    row = view.current_dispatch(
                        UnitRef.model_validate({"kind": clock["unit_kind"], "id": clock["unit_id"]})
                    )
                    if row is not None:
                        row["resolve_due_at"] = as_utc(event.due_at)
        case ClockRecomputed():
            clock = view.clocks.get(event.clock_id)
            if clock is not None:
                clock.update(
                    due_at=as_utc(event.due_at),
                    budget_seconds=event.budget.total_seconds(),
                    working_time=event.working_time,
                )
            row = view.clock_assignment(event.kind, event.unit)
            if row is not None:
                row["resolve_due_at" if event.kind == ClockKind.RESOLVE else "first_due_at"] = as_utc(event.due_at)
        case ClockStopped():
            clock = view.clocks.get(event.clock_id)
            if clock is not None:
                clock.update(stopped_at=now, outcome=event.outcome.value, paused=False)
            if event.outcome != ClockOutcome.CANCELLED and event.kind in (ClockKind.ACCEPT, ClockKind.REPORT_IN):
                row = view.clock_assignment(event.kind, event.unit)
                if row is not None:
                    row["first_on_time"] = event.outcome == ClockOutcome.MET
        case SlaWarningRaised():
            clock = view.clocks.get(event.clock_id)
            if clock is not None:
                _first(clock, "warned_at", now)
                clock["warnings"] += 1
        case SlaBreached():
            c["breached"] = True
            clock = view.clocks.get(event.clock_id)
            if clock is not None:
                _first(clock, "breached_at", now)
        case EscalationRaised():
            c["escalation_count"] += 1
            view.escalations[event.seq] = {
                "case_id": event.case_id,
                "seq": event.seq,
                "occurred_at": now,
                "level": event.level.value,
                "clock_id": event.clock_id,
                "clock_kind": event.kind.value if event.kind is not None else None,
                "unit_kind": event.unit.kind.value,
                "unit_id": event.unit.id,
                "manual": event.actor.role.value != "system",
            }
            if event.clock_id is not None and event.clock_id in view.clocks:
                view.clocks[event.clock_id]["rungs"] += 1
        case _ if type(event) in TIMELINE_ONLY:
            pass
        case _:
            raise ValueError(f"no projection arm for {type(event).__name__}: add one, or list it in TIMELINE_ONLY")
    c["next_due_at"] = None if c["status"] in TERMINAL_STATUSES else _next_due(view)
    c["updated_at"] = now
    c["last_seq"] = event.seq
    view.new_timeline.append(timeline_row(event))
    return True
