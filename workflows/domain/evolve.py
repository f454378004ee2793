"""``evolve(state, event) -> state``: apply one event to the case state. Pure and total."""

from __future__ import annotations

from collections.abc import Iterable

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
from workflows.domain.state import (
    CaseState,
    CaseStatus,
    PendingExtension,
    PendingReply,
    PendingReturn,
    VolunteerCall,
    WhistleRound,
    WhistleTaskState,
    clone,
)
from workflows.sla import clocks as sla_clocks
from workflows.sla.clocks import ClockStatus


def evolve(state: CaseState, event: CaseEventBase) -> CaseState:
    """Return a new state with ``event`` applied; ``state`` is left untouched."""
    new = clone(state)
    apply_event(new, event)
    return new


def evolve_all(state: CaseState, events: Iterable[CaseEventBase]) -> CaseState:
    """Apply several events in order, copying the state once."""
    new = clone(state)
    for event in events:
        apply_event(new, event)
    return new


def _involve(s: CaseState, key: str) -> None:
    if key not in s.units_involved:
        s.units_involved.append(key)


def apply_event(s: CaseState, e: CaseEventBase) -> None:
    """Apply ``e`` to ``s`` in place. Used by :func:`evolve` and by ``decide`` on its working copy."""
    if e.seq != s.seq + 1:
        raise ValueError(f"event {e.event_id} out of order: state is at seq {s.seq}")
    s.seq = e.seq
    now = e.occurred_at
    match e:
        case CaseReceived():
            s.case_id = e.case_id
            s.status = CaseStatus.RECEIVED
            s.channel = e.channel
            s.category = e.category
            s.urgency = e.urgency
            s.title = e.title
            s.description = e.description
            s.location = e.location
            s.contact = e.contact
            s.attachments = list(e.attachments)
            s.opened_at = now
            s.idempotency_key = e.idempotency_key
        case CaseRejected():
            s.status = CaseStatus.REJECTED
        case CaseRegistered():
            s.status = CaseStatus.REGISTERED
        case CaseDispatched():
            s.status = CaseStatus.DISPATCHED
            s.unit = e.unit
            s.accepted = False
            s.final_ruling = e.final_ruling
            s.dispatch_count += 1
            s.pending_return = None
            s.handler_id = s.handler_name = s.section_id = None  # the unit's inbox: nobody inside it yet
            s.delegated_by = e.by
            _involve(s, e.unit.key())
        case CaseAccepted():
            s.status = CaseStatus.HANDLING
            s.accepted = True
        case CaseReturned(to=UnitRef() as back_to):  # a delegated case, straight back to the unit that passed it down
            s.status = CaseStatus.HANDLING
            s.return_count += 1
            s.unit = back_to
            s.accepted = True
            s.delegated_by = None
            s.handler_id = s.handler_name = s.section_id = None
        case CaseReturned():
            s.status = CaseStatus.RETURNED
            s.return_count += 1
            s.pending_return = PendingReturn(unit=e.unit, reason_code=e.reason_code, reason=e.reason)
        case ReturnReviewed():
            s.pending_return = None
        case CaseAssigned():
            s.handler_id = e.handler_id
            s.handler_name = e.handler_name
            s.section_id = e.section_id
            s.assign_count += 1
        case ReplySubmitted():
            s.pending_reply = PendingReply(
                unit=e.unit,
                notes=e.notes,
                evidence=list(e.evidence),
                submitted_by=e.submitted_by,
                submitted_at=now,
                round=e.round,
            )
            s.reply_rounds = e.round
        case ReplyApproved():
            s.pending_reply = None
            s.approved_by = e.approved_by
        case ReplySentBack():
            s.pending_reply = None
            s.sent_back_count = e.sent_back_count
        case InterimReplied():
            s.interim_replies = e.number
            s.last_interim_reply = e.text
        case CaseReclassified():
            s.category = e.category
            s.corrections += 1
        case UrgencyChanged():
            s.urgency = e.urgency
            s.corrections += 1
        case CaseRelocated():
            s.location = e.location
            s.corrections += 1
            if e.recalled:  # back with the hotline, to be dispatched to the place's own unit
                s.status = CaseStatus.REGISTERED
                s.unit = None
                s.accepted = False
                s.final_ruling = False
                s.pending_return = None
                s.pending_reply = None
                s.pending_extension = None  # asked by the unit that no longer has the case
                s.handler_id = s.handler_name = s.section_id = None
                s.delegated_by = None
        case ResidentContacted():
            s.contacted_at = now
        case WhistleBlown():
            s.whistles.append(
                WhistleRound(
                    round=e.round,
                    street_id=e.street_id,
                    blown_at=now,
                    tasks={
                        t.department_id: WhistleTaskState(
                            department_id=t.department_id, task=t.task, unit_kind=t.unit_kind
                        )
                        for t in e.tasks
                    },
                )
            )
            for t in e.tasks:
                _involve(s, t.unit().key())
        case DepartmentReportedIn():
            s.whistles[e.round - 1].tasks[e.department_id].reported_in_at = now
        case DepartmentTaskCompleted():
            task = s.whistles[e.round - 1].tasks[e.department_id]
            task.completed_at = now
            task.result = e.result
        case VolunteersCalled():
            s.volunteer_calls.append(VolunteerCall(team_id=e.team_id, task=e.task, called_at=now))
            _involve(s, f"{UnitKind.VOLUNTEER_TEAM.value}:{e.team_id}")
        case VolunteersReported():
            call = s.volunteer_calls[-1]
            call.reported_at = now
            call.result = e.result
        case VolunteersReleased():
            s.volunteer_calls[-1].released_at = now
        case CaseResolved():
            s.status = CaseStatus.RESOLVED
            s.resolved_at = now
            s.resolved_by_grid = e.by_grid
        case CaseVerified():
            if e.passed:
                s.status = CaseStatus.VERIFIED
                s.verified_at = now
        case ReworkOrdered():
            s.status = CaseStatus.HANDLING
            s.rework_count = e.rework_count
            s.resolved_at = None
            s.resolved_by_grid = False
        case CallbackRecorded():
            s.status = CaseStatus.CALLED_BACK
            s.rating = e.rating
            s.callback_resolved = e.resolved
        case CaseReopened():
            s.status = CaseStatus.HANDLING
            s.reopen_count = e.reopen_count
            s.resolved_at = None
            s.verified_at = None
            s.resolved_by_grid = False
        case CaseClosed():
            s.status = CaseStatus.CLOSED
            s.closure_type = e.closure_type
            s.closed_at = now
        case ExtensionRequested():
            s.pending_extension = PendingExtension(unit=e.unit, extra=e.extra, reason=e.reason)
        case ExtensionDecided():
            s.pending_extension = None
            if e.approved:
                s.extensions_granted.append(e.extra)
        case CaseShelved():
            s.pending_reply = None  # shelving withdraws a reply waiting for review
            s.shelved_from = s.status
            s.status = CaseStatus.SHELVED
        case CaseUnshelved():
            s.status = s.shelved_from or CaseStatus.REGISTERED
            s.shelved_from = None
        case CaseTerminated():
            s.terminated = True
        case AppealFiled():
            s.appeal_pending = True
        case AppealDecided():
            s.appeal_pending = False
            s.excluded_from_evaluation = e.granted
        case CaseMerged():
            s.status = CaseStatus.MERGED
            s.merged_into = e.into_case_id
        case DuplicateAttached():
            s.duplicates.append(e.duplicate_case_id)
        case ClockStarted():
            assert s.sla is not None, "a case with clocks needs its SLA context"
            rule = s.sla.policy.rule_for(e.kind, s.category, s.urgency)
            clock = sla_clocks.start_clock(e.clock_id, e.kind, e.unit.key(), rule, s.sla.calendar, now)
            s.clocks[e.clock_id] = clock
            s.clock_counter += 1
        case ClockPaused():
            s.clocks[e.clock_id] = sla_clocks.pause(s.clocks[e.clock_id], now)
        case ClockResumed():
            assert s.sla is not None
            s.clocks[e.clock_id] = sla_clocks.resume(s.clocks[e.clock_id], s.sla.calendar, now)
        case ClockExtended():
            assert s.sla is not None
            s.clocks[e.clock_id] = sla_clocks.extend(s.clocks[e.clock_id], s.sla.wall(e.extra), s.sla.calendar)
        case ClockRecomputed():
            assert s.sla is not None
            rule = s.sla.policy.rule_for(e.kind, s.category, s.urgency)
            s.clocks[e.clock_id] = sla_clocks.recompute(s.clocks[e.clock_id], rule, s.sla.calendar, now, e.mode)
        case ClockStopped():
            s.clocks[e.clock_id] = sla_clocks.stop(
                s.clocks[e.clock_id], now, cancelled=e.outcome == ClockOutcome.CANCELLED
            )
        case SlaWarningRaised():
            c = s.clocks[e.clock_id]
            s.clocks[e.clock_id] = c.model_copy(
                update={
                    "warnings_fired": [*c.warnings_fired, e.threshold],
                    "status": ClockStatus.BREACHED if c.breached_at else ClockStatus.WARNED,
                }
            )
        case SlaBreached():
            c = s.clocks[e.clock_id]
            s.clocks[e.clock_id] = c.model_copy(update={"breached_at": e.due_at, "status": ClockStatus.BREACHED})
            s.breached = True
        case EscalationRaised():
            s.escalations += 1
            if e.clock_id is not None and e.clock_id in s.clocks:
                c = s.clocks[e.clock_id]
                s.clocks[e.clock_id] = c.model_copy(update={"rungs_fired": c.rungs_fired + 1})
        case _:
            raise ValueError(f"unknown event {type(e).__name__}")
