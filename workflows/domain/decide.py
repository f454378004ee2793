"""``decide(state, command, now) -> events``: the rules of the case lifecycle.

Pure and deterministic: time comes in as ``now``, ids are derived (``case_id:seq``). A command
the rules forbid raises :class:`DomainError` naming the rule, and yields no event. Before any
command, every SLA alarm due by ``now`` is fired, so events come out in time order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from events.base import Actor, CaseEventBase, Duty, Role, UnitKind, UnitRef
from events.schemas import (
    AppealDecided,
    AppealFiled,
    AssignMode,
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
    Channel,
    ClockExtended,
    ClockKind,
    ClockOutcome,
    ClockPaused,
    ClockRecomputed,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    ClosureType,
    DepartmentReportedIn,
    DepartmentTaskCompleted,
    DuplicateAttached,
    EscalationLevel,
    EscalationRaised,
    ExtensionDecided,
    ExtensionRequested,
    InterimReplied,
    Rating,
    RecomputeMode,
    ReplyApproved,
    ReplySentBack,
    ReplySubmitted,
    ResidentContacted,
    ReturnReviewed,
    ReviewDecision,
    ReworkOrdered,
    SlaBreached,
    SlaWarningRaised,
    UrgencyChanged,
    VolunteersCalled,
    VolunteersReleased,
    VolunteersReported,
    WhistleBlown,
)
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action, Catalogue, role_allowed
from workflows.domain.errors import DomainError
from workflows.domain.evolve import apply_event
from workflows.domain.state import HOTLINE, TERMINAL, UNIT_ROLE, CaseState, CaseStatus, PendingReply, clone
from workflows.sla import clocks as sla_clocks
from workflows.sla.policy import ReviewRule


class _Decision:
    """A working copy of the state and the events decided so far."""

    def __init__(self, state: CaseState, actor: Actor, now: datetime) -> None:
        self._original = state
        self._copy: CaseState | None = None  # made on the first emitted event
        self.actor = actor
        self.now = now
        self.events: list[CaseEventBase] = []

    @property
    def state(self) -> CaseState:
        return self._copy if self._copy is not None else self._original

    def emit(
        self, cls: type[CaseEventBase], *, at: datetime | None = None, actor: Actor | None = None, **fields: Any
    ) -> CaseEventBase:
        if self._copy is None:
            self._copy = clone(self._original)
        s = self._copy
        seq = s.seq + 1
        case_id = fields.pop("case_id", None) or s.case_id
        event = cls(
            event_id=f"{case_id}:{seq}",
            case_id=case_id,
            seq=seq,
            occurred_at=at or self.now,
            actor=actor or self.actor,
            **fields,
        )
        apply_event(s, event)
        self.events.append(event)
        return event

    # --- clocks -----------------------------------------------------------------------------
    def start_clock(self, kind: ClockKind, unit: UnitRef) -> None:
        s = self.state
        if s.sla is None or not s.sla.policy.has_clock(kind):
            return  # a step the case's policy does not time (no review, no interim replies)
        rule = s.sla.policy.rule_for(kind, s.category, s.urgency)
        clock_id = f"{kind.value}-{s.clock_counter + 1}"
        clock = sla_clocks.start_clock(clock_id, kind, unit.key(), rule, s.sla.calendar, self.now)
        self.emit(
            ClockStarted,
            actor=_system(),
            clock_id=clock_id,
            kind=kind,
            unit=unit,
            due_at=clock.due_at,
            budget=clock.budget,
            working_time=rule.working_time,
            time_scale=s.sla.time_scale,
        )
        if kind == ClockKind.RESOLVE:
            self.sync_interim(unit)

    def sync_interim(self, unit: UnitRef | None = None) -> None:
        """Start the interim-reply clock when the running resolution clock needs one and none runs;
        cancel it when the case no longer needs one (a correction changed its budget)."""
        s = self.state
        if s.sla is None:
            return
        resolve = s.running_clock(ClockKind.RESOLVE)
        interim = s.running_clock(ClockKind.INTERIM_REPLY)
        needed = resolve is not None and interim_needed(s)
        if needed and interim is None:
            assert resolve is not None
            self.start_clock(ClockKind.INTERIM_REPLY, unit or _unit_from_key(resolve.unit_key))
        elif not needed and interim is not None:
            self.stop_clocks(ClockKind.INTERIM_REPLY, cancel=True)

    def recompute_clocks(self, cause: str) -> None:
        """After a correction (category or urgency): every running clock whose rule changed gets its
        budget and deadline recomputed, by the policy's mode for its kind; then the alarms the new
        deadlines make due now are raised, and the interim-reply clock follows the new budget."""
        s = self.state
        if s.sla is None:
            return
        policy = s.sla.policy
        for clock in list(s.running_clocks()):
            rule = policy.rule_for(clock.kind, s.category, s.urgency)
            if rule == clock.rule:
                continue
            mode = policy.recompute_mode(clock.kind) if s.sla.unit_work else RecomputeMode.RETROACTIVE
            new = sla_clocks.recompute(clock, rule, s.sla.calendar, self.now, mode)
            self.emit(
                ClockRecomputed,
                actor=_system(),
                clock_id=clock.clock_id,
                kind=clock.kind,
                unit=_unit_from_key(clock.unit_key),
                mode=mode,
                previous_due_at=clock.due_at,
                due_at=new.due_at,
                budget=new.budget,
                working_time=rule.working_time,
                cause=cause,
                time_scale=s.sla.time_scale,
            )
        self.fire_due(inclusive=True)
        self.sync_interim()

    def stop_clocks(self, kind: ClockKind | None = None, unit: UnitRef | None = None, *, cancel: bool = False) -> None:
        for clock in list(self.state.running_clocks()):
            if kind is not None and clock.kind != kind:
                continue
            if unit is not None and clock.unit_key != unit.key():
                continue
            if clock.clock_id not in {c.clock_id for c in self.state.running_clocks()}:
                continue  # stopped meanwhile (the interim clock goes with the resolution clock)
            # the clock module judges met or late (a breach already raised stays late)
            judged = sla_clocks.outcome(sla_clocks.stop(clock, self.now))
            outcome = ClockOutcome.CANCELLED if cancel else (judged or ClockOutcome.MET)
            self.emit(
                ClockStopped,
                actor=_system(),
                clock_id=clock.clock_id,
                kind=clock.kind,
                unit=_unit_from_key(clock.unit_key),
                outcome=outcome,
            )
            if clock.kind == ClockKind.RESOLVE:
                # interim replies are owed only while the case is being resolved
                self.stop_clocks(ClockKind.INTERIM_REPLY, cancel=True)

    def fire_due(self, *, inclusive: bool) -> None:
        """Emit every alarm due before now (at or before now when the clock itself ticks).

        An action taken at the very minute of its deadline is on time, so it is decided before the
        breach that the timer would raise at that minute.
        """
        s = self.state
        if s.sla is None:
            return
        horizon = self.now if inclusive else self.now - timedelta(microseconds=1)
        due: list[tuple[datetime, str, sla_clocks.Alarm]] = []
        for clock in s.running_clocks():
            _, alarms = sla_clocks.fire_due(clock, s.sla.calendar, horizon)
            # an alarm a correction made due earlier is raised when the correction is made
            floor = clock.recomputed_at
            due.extend((max(a.at, floor) if floor else a.at, clock.clock_id, a) for a in alarms)
        due.sort(key=lambda t: (t[0], t[1]))
        system = _system()
        hierarchy = s.hierarchy()
        for at, clock_id, alarm in due:
            clock = self.state.clocks[clock_id]
            unit = _unit_from_key(clock.unit_key)
            h = {**hierarchy, "unit": clock.unit_key}
            if unit.kind == UnitKind.DEPARTMENT:
                h["department_head"] = f"head:{unit.id}"
            if alarm.what == "warning":
                assert alarm.threshold is not None
                self.emit(
                    SlaWarningRaised,
                    at=at,
                    actor=system,
                    clock_id=clock_id,
                    kind=clock.kind,
                    unit=unit,
                    threshold=alarm.threshold,
                    due_at=clock.due_at,
                    recipients=[clock.unit_key],
                    time_scale=s.sla.time_scale,
                )
            elif alarm.what == "breach":
                self.emit(
                    SlaBreached,
                    at=at,
                    actor=system,
                    clock_id=clock_id,
                    kind=clock.kind,
                    unit=unit,
                    due_at=clock.due_at,
                    recipients=[clock.unit_key, HOTLINE.key()],
                    time_scale=s.sla.time_scale,
                )
            else:
                assert alarm.rung_index is not None and alarm.level is not None
                rung = clock.rule.ladder[alarm.rung_index]
                recipients = sla_clocks.resolve_recipients(rung.recipients, clock.unit_key, h)
                self.emit(
                    EscalationRaised,
                    at=at,
                    actor=system,
                    clock_id=clock_id,
                    kind=clock.kind,
                    level=alarm.level,
                    unit=unit,
                    recipients=recipients,
                )


_name = c.command_name


def _system() -> Actor:
    return Actor(role=Role.SYSTEM, person_id="sla-clock")


def _unit_from_key(key: str) -> UnitRef:
    kind, _, unit_id = key.partition(":")
    return UnitRef(kind=UnitKind(kind), id=unit_id)


# --- rule helpers -----------------------------------------------------------------------------


def _require_status(s: CaseState, cmd: c.Command, *allowed: CaseStatus) -> None:
    if s.status not in allowed:
        names = ", ".join(a.value for a in allowed)
        raise DomainError(
            "status.not_allowed",
            f"'{_name(cmd)}' needs the case to be {names}; it is {s.status.value}",
        )


def _require_assigned(s: CaseState, cmd: c.Command) -> UnitRef:
    """The actor must belong to the unit the case is assigned to."""
    unit = s.unit
    if unit is None:
        raise DomainError("jurisdiction.unassigned", "the case is not assigned to any unit")
    a = cmd.actor
    if UNIT_ROLE.get(unit.kind) != a.role or a.unit_id != unit.id:
        raise DomainError(
            "jurisdiction.not_assigned",
            f"only the assigned unit {unit.key()} may do '{_name(cmd)}'; the actor is {a.label()}",
        )
    return unit


def _require_handler(s: CaseState, cmd: c.Command) -> UnitRef:
    """The assigned unit's member acts; once the case has a handler (承办人), only the handler does."""
    unit = _require_assigned(s, cmd)
    if s.handler_id is not None and cmd.actor.person_id != s.handler_id:
        raise DomainError(
            "jurisdiction.not_handler",
            f"case {s.case_id} is handled by {s.handler_id} of {unit.key()}: only they may do '{_name(cmd)}' "
            f"(or the unit reassigns it); the actor is {cmd.actor.label()}",
        )
    return unit


def interim_needed(s: CaseState) -> bool:
    """Does the case owe the resident interim replies (阶段性答复)? Its policy says so for its category
    and urgency (resolution budget over the threshold), for cases that run with the work inside the unit."""
    return s.sla is not None and s.sla.unit_work and s.sla.policy.interim_needed(s.category, s.urgency)


def review_rule(s: CaseState, unit: UnitRef) -> ReviewRule | None:
    """The internal review (审核签发) the unit's replies need on this case, or None."""
    if s.sla is None or not s.sla.unit_work:
        return None
    return s.sla.policy.review_rule(unit.kind)


def _require_supervisor_jurisdiction(s: CaseState, actor: Actor) -> None:
    if actor.role == Role.DISPATCHER:
        return
    district = s.location.district_id if s.location else None
    if actor.role != Role.SUPERVISOR or actor.unit_id not in ("city", district):
        raise DomainError(
            "jurisdiction.not_supervisor",
            f"only a supervisor of district {district} or of the city may do this; the actor is {actor.label()}",
        )


def _require_live(s: CaseState, cmd: c.Command) -> None:
    if s.status in (CaseStatus.NEW, CaseStatus.RECEIVED):  # a finished case never gets here
        raise DomainError(
            "status.not_allowed",
            f"'{_name(cmd)}' needs a registered, open case; it is {s.status.value}",
        )


# --- the decision -----------------------------------------------------------------------------


def role_refusal(action: Action, role: Role) -> DomainError | None:
    """The catalogue's role check, ``decide``'s first rule: the refusal when ``role`` may not act."""
    if role_allowed(action, role):
        return None
    names = ", ".join(r.value for r in action.roles)
    return DomainError("role.not_allowed", f"'{action.name}' may be done by {names}, not by {role.value}")


def decide(state: CaseState, command: c.CaseCommand, now: datetime) -> list[CaseEventBase]:
    """Decide the events that ``command`` causes on ``state`` at ``now``.

    Raises:
        DomainError: the command is not allowed; the message names the rule.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    action = CATALOGUE.by_command.get(type(command))
    if action is None:
        raise DomainError("action.unknown", f"{type(command).__name__} has no row in the action catalogue")
    refusal = role_refusal(action, command.actor.role)
    if refusal is not None:
        raise refusal
    if state.status in TERMINAL:
        if not action.manual:
            return []  # the clock's tick: a finished case has no running clock
        # a finished case's workflow completes: nothing could be applied to it (appeals included)
        raise DomainError(
            "case.finished", f"case {state.case_id} is {state.status.value}: a finished case takes no further action"
        )
    d = _Decision(state, command.actor, now)
    if state.status != CaseStatus.NEW:
        d.fire_due(inclusive=isinstance(command, c.Tick))
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise DomainError("action.unknown", f"{type(command).__name__} has no decide handler")
    handler(d, command)
    return d.events


def catch_up(state: CaseState, now: datetime) -> CaseState:
    """``state`` with every SLA alarm due before ``now`` applied (as ``decide`` does before a command).

    ``decide(catch_up(s, now), cmd, now)`` is decided exactly as ``decide(s, cmd, now)``; callers that
    try many commands on one state (:mod:`workflows.domain.available`) catch up once.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if state.status == CaseStatus.NEW:
        return state
    d = _Decision(state, _system(), now)
    d.fire_due(inclusive=False)
    return d.state


def _open(d: _Decision, cmd: c.OpenCase) -> None:
    s = d.state
    if s.status != CaseStatus.NEW:
        raise DomainError("case.already_open", f"case {s.case_id} is already open ({s.status.value})")
    a = cmd.actor
    loc = cmd.location
    contact = cmd.contact.to_event()
    match a.role:
        case Role.DISPATCHER:
            if cmd.channel not in (Channel.HOTLINE, Channel.WEB):
                raise DomainError("intake.channel", "a dispatcher opens hotline or web cases")
        case Role.RESIDENT:
            if cmd.channel != Channel.WEB:
                raise DomainError("intake.channel", "a resident opens cases through the web channel")
            if contact.resident_id not in (None, a.person_id):
                raise DomainError("jurisdiction.resident", "a resident may only open cases in their own name")
            contact = contact.model_copy(update={"resident_id": a.person_id})
        case Role.GRID_WORKER:
            if cmd.channel not in (Channel.GRID_PATROL, Channel.PROACTIVE):
                raise DomainError("intake.channel", "a grid worker reports through grid_patrol or proactive")
            if loc.grid_id != a.unit_id:
                raise DomainError(
                    "jurisdiction.grid", f"grid worker of {a.unit_id} cannot report in grid {loc.grid_id}"
                )
        case Role.COMMUNITY | Role.STREET:
            own = loc.community_id if a.role == Role.COMMUNITY else loc.street_id
            if cmd.channel != Channel.PROACTIVE:
                raise DomainError("intake.channel", f"a {a.role.value} opens proactive (未诉先办) cases only")
            if own != a.unit_id:
                raise DomainError("jurisdiction.territory", f"{a.label()} cannot open a case outside its territory")
        case _:
            raise DomainError("role.not_allowed", f"'open' may not be done by {a.role.value}")
    if cmd.self_handle and a.role != Role.GRID_WORKER:
        raise DomainError("intake.self_handle", "only a grid worker may handle a patrol report on the spot")
    d.emit(
        CaseReceived,
        case_id=cmd.case_id,
        channel=cmd.channel,
        category=cmd.category,
        urgency=cmd.urgency,
        title=cmd.title,
        description=cmd.description,
        location=loc,
        contact=contact,
        attachments=list(cmd.attachments),
        idempotency_key=cmd.idempotency_key,
    )
    if cmd.channel in (Channel.GRID_PATROL, Channel.PROACTIVE):
        d.emit(CaseRegistered, note="registered on report (巡查上报 / 未诉先办)")
        if cmd.self_handle:
            grid = UnitRef(kind=UnitKind.GRID, id=loc.grid_id)
            d.emit(CaseDispatched, unit=grid, note="handled on the spot by the grid")
            d.emit(CaseAccepted, unit=grid)
            d.start_clock(ClockKind.RESOLVE, grid)


def _reject(d: _Decision, cmd: c.RejectCase) -> None:
    _require_status(d.state, cmd, CaseStatus.RECEIVED)
    d.emit(CaseRejected, reason=cmd.reason)


def _register(d: _Decision, cmd: c.RegisterCase) -> None:
    _require_status(d.state, cmd, CaseStatus.RECEIVED)
    d.emit(CaseRegistered, note=cmd.note)


def _require_known_department(s: CaseState, department_id: str, field: str) -> None:
    """The department must be one of the city's (when the case's context carries the registry's)."""
    known = s.sla.departments if s.sla is not None else None
    if known is not None and department_id not in known:
        raise DomainError("registry.unknown_unit", f"{field}: the city registry has no department {department_id!r}")


def _check_dispatch_target(s: CaseState, unit: UnitRef, field: str = "unit") -> None:
    loc = s.location
    assert loc is not None
    if unit.kind == UnitKind.DEPARTMENT:
        _require_known_department(s, unit.id, field)
    if unit.kind == UnitKind.HOTLINE:
        raise DomainError("dispatch.target", "a case is dispatched to a grid, a street or a department")
    if unit.kind == UnitKind.PROPERTY:
        raise DomainError(
            "dispatch.target",
            "the hotline dispatches to a grid, a street or a department; a property company gets its cases from the "
            "street or community (delegate) or by a whistle",
        )
    if unit.kind == UnitKind.VOLUNTEER_TEAM:
        raise DomainError(
            "dispatch.target", "a volunteer team handles no case of its own: the grid calls it in (call_volunteers)"
        )
    if unit.kind == UnitKind.GRID and unit.id != loc.grid_id:
        raise DomainError("dispatch.outside_territory", f"grid {unit.id} is not the case's grid {loc.grid_id}")
    if unit.kind == UnitKind.STREET and unit.id != loc.street_id:
        raise DomainError("dispatch.outside_territory", f"street {unit.id} is not the case's street {loc.street_id}")


def _dispatch(d: _Decision, cmd: c.DispatchCase) -> None:
    _require_status(d.state, cmd, CaseStatus.REGISTERED)
    _check_dispatch_target(d.state, cmd.unit)
    d.emit(CaseDispatched, unit=cmd.unit, note=cmd.note)
    d.start_clock(ClockKind.ACCEPT, cmd.unit)


def _accept(d: _Decision, cmd: c.AcceptCase) -> None:
    _require_status(d.state, cmd, CaseStatus.DISPATCHED)
    unit = _require_assigned(d.state, cmd)
    d.emit(CaseAccepted, unit=unit)
    d.stop_clocks(ClockKind.ACCEPT)
    contact_running = d.state.delegated_by is not None and d.state.running_clock(ClockKind.CONTACT) is not None
    if d.state.has_resident and d.state.contacted_at is None and not contact_running:
        d.start_clock(ClockKind.CONTACT, unit)
    if d.state.running_clock(ClockKind.RESOLVE) is None:
        d.start_clock(ClockKind.RESOLVE, unit)


def _return(d: _Decision, cmd: c.ReturnCase) -> None:
    _require_status(d.state, cmd, CaseStatus.DISPATCHED)
    unit = _require_assigned(d.state, cmd)
    if d.state.final_ruling:
        raise DomainError("return.final_ruling", "the hotline insisted on this dispatch (审定): it cannot be returned")
    back_to = d.state.delegated_by
    if back_to is not None:  # passed down by a street or community: straight back to it
        d.emit(
            CaseReturned,
            unit=unit,
            reason_code=cmd.reason_code,
            reason=cmd.reason,
            evidence=list(cmd.evidence),
            to=back_to,
        )
        d.stop_clocks(ClockKind.ACCEPT)
        return
    d.emit(CaseReturned, unit=unit, reason_code=cmd.reason_code, reason=cmd.reason, evidence=list(cmd.evidence))
    d.stop_clocks(ClockKind.ACCEPT)
    d.start_clock(ClockKind.RETURN_REVIEW, HOTLINE)


def _review(d: _Decision, cmd: c.ReviewReturn) -> None:
    _require_status(d.state, cmd, CaseStatus.RETURNED)
    pending = d.state.pending_return
    assert pending is not None
    if cmd.decision == ReviewDecision.REDISPATCH:
        target = cmd.redispatch_to
        if target is None:
            raise DomainError("review.target_missing", "re-dispatch needs 'redispatch_to': the unit to send it to")
        if target == pending.unit:
            raise DomainError("review.same_unit", "re-dispatch must go to another unit; to keep it there, insist")
        _check_dispatch_target(d.state, target, "redispatch_to")
        final = False
    else:
        if cmd.redispatch_to is not None and cmd.redispatch_to != pending.unit:
            raise DomainError("review.insist_target", "insisting keeps the case with the unit that returned it")
        target = pending.unit
        final = True
    d.emit(ReturnReviewed, decision=cmd.decision, ruling=cmd.ruling, returned_by=pending.unit)
    d.stop_clocks(ClockKind.RETURN_REVIEW)
    d.emit(CaseDispatched, unit=target, note=cmd.ruling, final_ruling=final)
    d.start_clock(ClockKind.ACCEPT, target)


def _check_assignment(s: CaseState, unit: UnitRef, cmd: c.AssignCase | c.ReassignCase) -> None:
    """The member must belong to the case's unit, and the section be one of the unit's."""
    member = cmd.handler
    if member is not None and member.unit != unit:
        where = member.unit.key() if member.unit is not None else "no unit the directory knows"
        raise DomainError(
            "assign.outside_unit",
            f"handler.person_id: {member.person_id} belongs to {where}, not to {unit.key()} which handles the case",
        )
    sections = s.sla.sections if s.sla is not None else None
    if cmd.section_id is not None and sections is not None and cmd.section_id not in sections.get(unit.key(), ()):
        known = ", ".join(sections.get(unit.key(), ())) or "none"
        raise DomainError(
            "registry.unknown_section",
            f"section_id: {unit.key()} has no section {cmd.section_id!r} in the city registry (its sections: {known})",
        )


def _assignment(s: CaseState, cmd: c.AssignCase | c.ReassignCase) -> tuple[str | None, str | None, str | None]:
    """(handler id, handler name, section) after ``cmd``: a section named alone leaves the handler
    to the section; a member named alone keeps the case in its section."""
    member = cmd.handler
    section = cmd.section_id if cmd.section_id is not None else s.section_id
    if member is None:
        return None, None, section
    return member.person_id, member.name, section


def _require_duty(cmd: c.Command, duty: Duty, unit: UnitRef) -> None:
    """The actor must hold ``duty`` in ``unit`` when the API says which duties it holds (a unit that
    designates nobody to a duty gives it to every member: see ``UserStore.effective_duties``)."""
    duties = cmd.actor.duties
    if duties is not None and duty not in duties:
        what = {Duty.COORDINATOR: "assigns its cases (分派)", Duty.REVIEWER: "signs its replies off (审核签发)"}[duty]
        rule = "duty.coordinator" if duty == Duty.COORDINATOR else "duty.reviewer"
        raise DomainError(
            rule,
            f"{cmd.actor.label()} is not a {duty.value} of {unit.key()}: its {duty.value}s {what}",
        )


def _assign(d: _Decision, cmd: c.AssignCase) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.DISPATCHED, CaseStatus.HANDLING)
    unit = _require_assigned(s, cmd)
    _require_duty(cmd, Duty.COORDINATOR, unit)
    if s.handler_id is not None:
        raise DomainError(
            "assign.already", f"case {s.case_id} is already handled by {s.handler_id}: reassign it (改派) instead"
        )
    if cmd.handler is None and s.section_id is not None:
        raise DomainError(
            "assign.already", f"case {s.case_id} is already in section {s.section_id}'s queue: reassign it (改派)"
        )
    _check_assignment(s, unit, cmd)
    handler, name, section = _assignment(s, cmd)
    d.emit(
        CaseAssigned,
        unit=unit,
        mode=AssignMode.ASSIGNED,
        handler_id=handler,
        handler_name=name,
        section_id=section,
        previous_section_id=s.section_id,
        note=cmd.note,
    )


def _reassign(d: _Decision, cmd: c.ReassignCase) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.DISPATCHED, CaseStatus.HANDLING)
    unit = _require_assigned(s, cmd)
    _require_duty(cmd, Duty.COORDINATOR, unit)
    if s.handler_id is None and s.section_id is None:
        raise DomainError("reassign.unassigned", f"case {s.case_id} has no handler or section yet: assign it (分派)")
    _check_assignment(s, unit, cmd)
    handler, name, section = _assignment(s, cmd)
    if cmd.handler is None:
        handler = name = None  # to a section: the section's queue, whoever handled it before
    if (handler, section) == (s.handler_id, s.section_id):
        raise DomainError("reassign.same", "the handler and section named are the case's own: name another")
    d.emit(
        CaseAssigned,
        unit=unit,
        mode=AssignMode.REASSIGNED,
        handler_id=handler,
        handler_name=name,
        section_id=section,
        previous_handler_id=s.handler_id,
        previous_section_id=s.section_id,
        note=cmd.reason,
    )


def _take(d: _Decision, cmd: c.TakeCase) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.DISPATCHED, CaseStatus.HANDLING)
    unit = _require_assigned(s, cmd)
    if s.handler_id is not None:
        raise DomainError("take.already_handled", f"case {s.case_id} is already handled by {s.handler_id}")
    d.emit(
        CaseAssigned,
        unit=unit,
        mode=AssignMode.TAKEN,
        handler_id=cmd.actor.person_id,
        handler_name=cmd.actor.name,
        section_id=s.section_id,
        previous_section_id=s.section_id,
        note=cmd.note,
    )


def _contact(d: _Decision, cmd: c.ContactResident) -> None:
    _require_status(d.state, cmd, CaseStatus.HANDLING)
    unit = _require_handler(d.state, cmd)
    if not d.state.has_resident:
        raise DomainError("contact.no_resident", "this case has no resident to contact (patrol or proactive)")
    if d.state.contacted_at is not None:
        raise DomainError("contact.already", "the resident was already contacted")
    d.emit(ResidentContacted, unit=unit, note=cmd.note)
    d.stop_clocks(ClockKind.CONTACT)


def _whistle(d: _Decision, cmd: c.BlowWhistle) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    assert s.location is not None
    # the catalogue lets the street, or the hotline on the street's behalf, blow the whistle
    if cmd.actor.role == Role.STREET and (
        cmd.actor.unit_id != s.location.street_id or s.unit is None or s.unit.kind != UnitKind.STREET
    ):
        raise DomainError(
            "jurisdiction.whistle",
            f"only the street handling the case ({s.location.street_id}) may blow the whistle; "
            f"the actor is {cmd.actor.label()}",
        )
    if s.open_whistle is not None:
        raise DomainError("whistle.round_open", f"whistle round {s.open_whistle.round} is still open")
    for i, t in enumerate(cmd.tasks):
        if t.unit_kind == UnitKind.PROPERTY:
            _require_serving_property(s, t.department_id, f"tasks.{i}.department_id", "whistle.outside_service_area")
        else:
            _require_known_department(s, t.department_id, f"tasks.{i}.department_id")
    rnd = len(s.whistles) + 1
    tasks = [t.to_event() for t in cmd.tasks]
    d.emit(WhistleBlown, round=rnd, street_id=s.location.street_id, tasks=tasks, reason=cmd.reason)
    for t in cmd.tasks:
        d.start_clock(ClockKind.REPORT_IN, UnitRef(kind=t.unit_kind, id=t.department_id))


def _serving(known: dict[str, tuple[str, ...]] | None, community_id: str) -> list[str] | None:
    """The units of ``known`` serving ``community_id`` (sorted); ``None`` when not checked."""
    if known is None:
        return None
    return sorted(u for u, communities in known.items() if community_id in communities)


def _require_serving_property(s: CaseState, company_id: str, field: str, rule: str) -> None:
    """The property company must be in the registry and serve the case's community."""
    known = s.sla.properties if s.sla is not None else None
    assert s.location is not None
    if known is None:
        return
    if company_id not in known:
        raise DomainError("registry.unknown_unit", f"{field}: the city registry has no property company {company_id!r}")
    if s.location.community_id not in known[company_id]:
        raise DomainError(
            rule,
            f"{field}: property company {company_id} does not serve community {s.location.community_id}",
        )


def _delegate(d: _Decision, cmd: c.DelegateCase) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    loc = s.location
    assert loc is not None and s.unit is not None
    a = cmd.actor
    holder = s.unit
    if a.role == Role.STREET:
        allowed = holder.kind == UnitKind.STREET and holder.id == a.unit_id
    else:  # a community passes down a case of its territory that its street or one of its grids has
        allowed = a.unit_id == loc.community_id and (
            (holder.kind == UnitKind.STREET and holder.id == loc.street_id)
            or (holder.kind == UnitKind.GRID and holder.id == loc.grid_id)
        )
    if not allowed:
        raise DomainError(
            "jurisdiction.delegate",
            f"only the street handling the case, or the case's community ({loc.community_id}) while its street or grid "
            f"has it, may pass it down; it is with {holder.key()} and the actor is {a.label()}",
        )
    serving = _serving(s.sla.properties if s.sla is not None else None, loc.community_id)
    if serving == []:
        raise DomainError(
            "delegate.none_serving", f"no property company of the registry serves community {loc.community_id}"
        )
    if s.open_whistle is not None:
        raise DomainError("delegate.whistle_open", f"whistle round {s.open_whistle.round} is still open")
    if s.open_volunteer_call is not None:
        raise DomainError("delegate.volunteers_open", "the grid's volunteer call is still open")
    if s.pending_reply is not None:
        raise DomainError("review.pending", f"reply round {s.pending_reply.round} is waiting for the reviewer")
    if s.pending_extension is not None:
        raise DomainError("delegate.extension_pending", "an extension request is waiting for its decision")
    if cmd.unit.kind != UnitKind.PROPERTY:
        raise DomainError(
            "delegate.target", f"unit.kind: a case is passed down to a property company, not a {cmd.unit.kind.value}"
        )
    _require_serving_property(s, cmd.unit.id, "unit.id", "delegate.outside_service_area")
    d.emit(CaseDispatched, unit=cmd.unit, note=cmd.note, by=holder)
    d.start_clock(ClockKind.ACCEPT, cmd.unit)


def _require_handling_grid(s: CaseState, cmd: c.Command) -> str:
    loc = s.location
    assert loc is not None
    unit = s.unit
    if unit is None or unit.kind != UnitKind.GRID or cmd.actor.unit_id != unit.id:
        raise DomainError(
            "jurisdiction.volunteers",
            f"only the grid handling the case ({loc.grid_id}) calls or releases volunteers; the actor is "
            f"{cmd.actor.label()}",
        )
    return unit.id


def _call_volunteers(d: _Decision, cmd: c.CallVolunteers) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    grid = _require_handling_grid(s, cmd)
    loc = s.location
    assert loc is not None
    known = s.sla.volunteer_teams if s.sla is not None else None
    if _serving(known, loc.community_id) == []:
        raise DomainError(
            "volunteers.none_serving", f"no volunteer team of the registry serves community {loc.community_id}"
        )
    if s.open_volunteer_call is not None:
        raise DomainError("volunteers.open", f"volunteer team {s.open_volunteer_call.team_id} is still called in")
    if known is not None:
        if cmd.team_id not in known:
            raise DomainError(
                "registry.unknown_unit", f"team_id: the city registry has no volunteer team {cmd.team_id!r}"
            )
        if loc.community_id not in known[cmd.team_id]:
            raise DomainError(
                "volunteers.outside_service_area",
                f"team_id: volunteer team {cmd.team_id} does not serve community {loc.community_id}",
            )
    d.emit(VolunteersCalled, team_id=cmd.team_id, task=cmd.task, grid_id=grid)


def _volunteer_report(d: _Decision, cmd: c.ReportVolunteerHelp) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    call = s.open_volunteer_call
    if call is None or call.team_id != cmd.actor.unit_id:
        raise DomainError(
            "jurisdiction.not_called", f"volunteer team {cmd.actor.unit_id} is not called in on this case"
        )
    d.emit(VolunteersReported, team_id=call.team_id, result=cmd.result, evidence=list(cmd.evidence))


def _release_volunteers(d: _Decision, cmd: c.ReleaseVolunteers) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    _require_handling_grid(s, cmd)
    call = s.open_volunteer_call
    if call is None:
        raise DomainError("volunteers.none", "no volunteer team is called in on this case")
    d.emit(VolunteersReleased, team_id=call.team_id, reason=cmd.reason)


def _summoned_task(d: _Decision, cmd: c.Command) -> tuple[int, str]:
    w = d.state.open_whistle
    dept = cmd.actor.unit_id or ""
    kind = UnitKind.PROPERTY if cmd.actor.role == Role.PROPERTY else UnitKind.DEPARTMENT
    if w is None or dept not in w.tasks or w.tasks[dept].unit_kind != kind:
        what = "property company" if kind == UnitKind.PROPERTY else "department"
        raise DomainError(
            "jurisdiction.not_summoned", f"{what} {dept} was not summoned by an open whistle on this case"
        )
    return w.round, dept


def _report_in(d: _Decision, cmd: c.ReportIn) -> None:
    _require_status(d.state, cmd, CaseStatus.HANDLING)
    rnd, dept = _summoned_task(d, cmd)
    if d.state.whistles[rnd - 1].tasks[dept].reported_in_at is not None:
        raise DomainError("report_in.already", f"department {dept} already reported in for round {rnd}")
    kind = d.state.whistles[rnd - 1].tasks[dept].unit_kind
    d.emit(DepartmentReportedIn, round=rnd, department_id=dept, note=cmd.note, unit_kind=kind)
    d.stop_clocks(ClockKind.REPORT_IN, UnitRef(kind=kind, id=dept))


def _complete_task(d: _Decision, cmd: c.CompleteTask) -> None:
    _require_status(d.state, cmd, CaseStatus.HANDLING)
    rnd, dept = _summoned_task(d, cmd)
    task = d.state.whistles[rnd - 1].tasks[dept]
    if task.reported_in_at is None:
        raise DomainError("report_in.required", f"department {dept} must report in (报到) before finishing its task")
    if task.completed_at is not None:
        raise DomainError("task.already_completed", f"department {dept} already finished its task")
    d.emit(
        DepartmentTaskCompleted,
        round=rnd,
        department_id=dept,
        result=cmd.result,
        evidence=list(cmd.evidence),
        unit_kind=task.unit_kind,
    )


def _paused(s: CaseState) -> bool:
    return any(c.paused_at is not None for c in s.running_clocks())


def _resolve(d: _Decision, cmd: c.ResolveCase) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    unit = _require_handler(s, cmd)
    _resolvable(s, cmd)
    if review_rule(s, unit) is not None:
        raise DomainError(
            "review.required",
            f"a {unit.kind.value}'s reply needs its reviewer's sign-off (审核签发): submit it (submit_reply)",
        )
    _resolved(d, unit, cmd.notes, list(cmd.evidence))


def _resolvable(s: CaseState, cmd: c.Command) -> None:
    """What must hold for a reply to resolve the case (办结), whoever gives it."""
    if s.open_whistle is not None:
        raise DomainError("resolve.whistle_open", f"whistle round {s.open_whistle.round} has unfinished tasks")
    if s.open_volunteer_call is not None:
        raise DomainError(
            "resolve.volunteers_open",
            f"volunteer team {s.open_volunteer_call.team_id} is still called in: wait for its report or release it",
        )
    if s.has_resident and s.contacted_at is None:
        raise DomainError("resolve.not_contacted", "the resident must be contacted (响应) before resolving")
    if _paused(s):
        raise DomainError("resolve.paused", "the case is waiting for the resident; resume it first")


def _resolved(d: _Decision, unit: UnitRef, notes: str, evidence: list[str]) -> None:
    s = d.state
    d.emit(CaseResolved, unit=unit, notes=notes, evidence=evidence, by_grid=unit.kind == UnitKind.GRID)
    d.stop_clocks(ClockKind.RESOLVE)
    d.stop_clocks(ClockKind.CONTACT, cancel=True)
    assert s.location is not None
    d.start_clock(ClockKind.VERIFY, UnitRef(kind=UnitKind.GRID, id=s.location.grid_id))


def _submit_reply(d: _Decision, cmd: c.SubmitReply) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    unit = _require_handler(s, cmd)
    if review_rule(s, unit) is None:
        raise DomainError(
            "review.not_required", f"a {unit.kind.value}'s reply on this case needs no sign-off: resolve it (resolve)"
        )
    if s.pending_reply is not None:
        raise DomainError(
            "review.pending",
            f"reply round {s.pending_reply.round} is waiting for the reviewer (approve_reply or send_back)",
        )
    _resolvable(s, cmd)
    d.emit(
        ReplySubmitted,
        unit=unit,
        notes=cmd.notes,
        evidence=list(cmd.evidence),
        submitted_by=cmd.actor.person_id,
        round=s.reply_rounds + 1,
    )
    d.start_clock(ClockKind.REPLY_REVIEW, unit)


def _pending_reply(s: CaseState, cmd: c.Command) -> tuple[UnitRef, PendingReply]:
    _require_status(s, cmd, CaseStatus.HANDLING)
    unit = _require_assigned(s, cmd)
    pending = s.pending_reply
    if pending is None:
        raise DomainError("review.none", "no reply is waiting for review: the handler submits one (submit_reply)")
    return unit, pending


def _approve_reply(d: _Decision, cmd: c.ApproveReply) -> None:
    s = d.state
    unit, pending = _pending_reply(s, cmd)
    _require_duty(cmd, Duty.REVIEWER, unit)
    rule = review_rule(s, unit)
    if rule is not None and not rule.self_approval and cmd.actor.person_id == pending.submitted_by:
        raise DomainError(
            "review.self_approval",
            f"{cmd.actor.person_id} submitted this reply: another reviewer of {unit.key()} signs it off",
        )
    _resolvable(s, cmd)
    d.emit(
        ReplyApproved,
        unit=unit,
        approved_by=cmd.actor.person_id,
        submitted_by=pending.submitted_by,
        round=pending.round,
        note=cmd.note,
    )
    d.stop_clocks(ClockKind.REPLY_REVIEW)
    _resolved(d, unit, pending.notes, list(pending.evidence))


def _send_back(d: _Decision, cmd: c.SendBack) -> None:
    s = d.state
    unit, pending = _pending_reply(s, cmd)
    _require_duty(cmd, Duty.REVIEWER, unit)
    d.emit(
        ReplySentBack,
        unit=unit,
        sent_back_by=cmd.actor.person_id,
        submitted_by=pending.submitted_by,
        round=pending.round,
        reason=cmd.reason,
        sent_back_count=s.sent_back_count + 1,
    )
    d.stop_clocks(ClockKind.REPLY_REVIEW)


def _interim_reply(d: _Decision, cmd: c.InterimReply) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    unit = _require_handler(s, cmd)
    clock = s.running_clock(ClockKind.INTERIM_REPLY)
    if clock is None:
        why = (
            "its resolution budget is within the policy's threshold"
            if not interim_needed(s)
            else "no resolution clock is running"
        )
        raise DomainError("interim.not_required", f"case {s.case_id} needs no interim reply (阶段性答复): {why}")
    late = clock.breached_at is not None or d.now > clock.due_at
    d.emit(
        InterimReplied,
        unit=unit,
        text=cmd.text,
        number=s.interim_replies + 1,
        due_at=clock.due_at,
        on_time=not late,
    )
    d.stop_clocks(ClockKind.INTERIM_REPLY)
    d.start_clock(ClockKind.INTERIM_REPLY, unit)


_CORRECTABLE = (
    CaseStatus.RECEIVED,
    CaseStatus.REGISTERED,
    CaseStatus.DISPATCHED,
    CaseStatus.RETURNED,
    CaseStatus.HANDLING,
    CaseStatus.RESOLVED,
    CaseStatus.VERIFIED,
    CaseStatus.CALLED_BACK,
    CaseStatus.SHELVED,
)


def _reclassify(d: _Decision, cmd: c.Reclassify) -> None:
    s = d.state
    _require_status(s, cmd, *_CORRECTABLE)
    known = s.sla.categories if s.sla is not None else None
    if known is not None and cmd.category not in known:
        raise DomainError("registry.unknown_category", f"category: the city catalogue has no category {cmd.category!r}")
    if cmd.category == s.category:
        raise DomainError("reclassify.same", f"the case is already of category {s.category!r}")
    d.emit(CaseReclassified, previous_category=s.category, category=cmd.category, reason=cmd.reason, unit=s.unit)
    d.recompute_clocks("case.reclassified")


def _set_urgency(d: _Decision, cmd: c.SetUrgency) -> None:
    s = d.state
    _require_status(s, cmd, *_CORRECTABLE)
    if cmd.urgency == s.urgency:
        raise DomainError("set_urgency.same", f"the case is already {s.urgency.value}")
    d.emit(UrgencyChanged, previous_urgency=s.urgency, urgency=cmd.urgency, reason=cmd.reason, unit=s.unit)
    d.recompute_clocks("case.urgency_changed")


_RELOCATABLE = (
    CaseStatus.RECEIVED,
    CaseStatus.REGISTERED,
    CaseStatus.DISPATCHED,
    CaseStatus.RETURNED,
    CaseStatus.HANDLING,
)


def _territorial_unit(s: CaseState) -> UnitRef | None:
    """The grid or street that has the case (or returned it and waits for the review), if any."""
    unit = s.pending_return.unit if s.status == CaseStatus.RETURNED and s.pending_return else s.unit
    if unit is None or unit.kind not in (UnitKind.GRID, UnitKind.STREET):
        return None
    return unit


def _relocate(d: _Decision, cmd: c.Relocate) -> None:
    s = d.state
    _require_status(s, cmd, *_RELOCATABLE)
    old = s.location
    assert old is not None
    new = cmd.location
    if new == old:
        raise DomainError("relocate.same", "the location named is the case's own")
    if s.open_whistle is not None and new.street_id != old.street_id:
        raise DomainError(
            "relocate.whistle_open",
            f"whistle round {s.open_whistle.round} of street {old.street_id} is open: finish it before moving the case "
            "to another street",
        )
    call = s.open_volunteer_call
    if call is not None and new.grid_id != old.grid_id:
        raise DomainError(
            "relocate.volunteers_open",
            f"volunteer team {call.team_id} is called in by grid {old.grid_id}: end the call before moving the case "
            "to another grid",
        )
    unit = _territorial_unit(s)
    recalled = False
    if unit is not None and s.status in (CaseStatus.DISPATCHED, CaseStatus.RETURNED, CaseStatus.HANDLING):
        territory = new.grid_id if unit.kind == UnitKind.GRID else new.street_id
        recalled = territory != unit.id
    elif (
        s.unit is not None
        and s.unit.kind == UnitKind.PROPERTY
        and s.status in (CaseStatus.DISPATCHED, CaseStatus.HANDLING)
    ):
        # a property company keeps the case while it serves the new place and its street passed it down
        known = s.sla.properties if s.sla is not None else None
        served = known is None or new.community_id in known.get(s.unit.id, ())
        by = s.delegated_by
        same_territory = by is None or (by.id == (new.grid_id if by.kind == UnitKind.GRID else new.street_id))
        recalled = not (served and same_territory)
    d.emit(CaseRelocated, previous_location=old, location=new, reason=cmd.reason, unit=s.unit, recalled=recalled)
    if recalled:
        d.stop_clocks(cancel=True)  # the unit's clocks: the case is back with the hotline for dispatch


def _verify(d: _Decision, cmd: c.VerifyCase) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.RESOLVED)
    assert s.location is not None
    if cmd.actor.unit_id != s.location.grid_id:
        raise DomainError(
            "jurisdiction.grid",
            f"only a worker of grid {s.location.grid_id} verifies this case; actor is {cmd.actor.label()}",
        )
    d.emit(CaseVerified, passed=cmd.passed, note=cmd.note, evidence=list(cmd.evidence))
    d.stop_clocks(ClockKind.VERIFY)
    if cmd.passed:
        if s.has_resident:
            d.start_clock(ClockKind.CALLBACK, HOTLINE)
        return
    assert s.unit is not None
    d.emit(ReworkOrdered, unit=s.unit, reason=cmd.note or "verification failed", rework_count=s.rework_count + 1)
    d.start_clock(ClockKind.RESOLVE, s.unit)


#: The person id of a resident identified by their case's number and phone (the public progress
#: page) when the case's contact has no resident id: ``public:<case id>``. No API user can bear it
#: (user ids have no ``:``), so only the verified public path acts under it.
PUBLIC_RESIDENT_PREFIX = "public:"


def resident_person_id(s: CaseState) -> str:
    """The person id under which the case's own resident acts: their resident id, or, for a contact
    without one (a hotline caller), ``public:<case id>``."""
    return s.contact.resident_id or f"{PUBLIC_RESIDENT_PREFIX}{s.case_id}"


def _callback(d: _Decision, cmd: c.RecordCallback) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.VERIFIED)
    if not s.has_resident:
        raise DomainError("callback.no_resident", "this case has no resident to call back; close it")
    if cmd.actor.role == Role.RESIDENT:  # the resident's online rating
        if cmd.actor.person_id != resident_person_id(s):
            raise DomainError("jurisdiction.resident", "a resident may only rate their own case")
        if cmd.rating == Rating.UNREACHABLE:
            raise DomainError(
                "callback.resident_rating", "a resident rates satisfied, basically satisfied or unsatisfied"
            )
    d.emit(CallbackRecorded, rating=cmd.rating, resolved=cmd.resolved, comment=cmd.comment)
    d.stop_clocks(ClockKind.CALLBACK)
    if cmd.rating == Rating.UNSATISFIED:
        assert s.unit is not None
        d.emit(CaseReopened, unit=s.unit, reason=cmd.comment or "resident unsatisfied", reopen_count=s.reopen_count + 1)
        d.start_clock(ClockKind.RESOLVE, s.unit)


def _close(d: _Decision, cmd: c.CloseCase) -> None:
    s = d.state
    if s.has_resident:
        _require_status(s, cmd, CaseStatus.CALLED_BACK)
    else:
        _require_status(s, cmd, CaseStatus.VERIFIED)
    closure = cmd.closure_type or (ClosureType.OVERDUE if s.breached else ClosureType.NORMAL)
    if closure == ClosureType.NORMAL and s.breached:
        raise DomainError("close.overdue", "a clock of this case was breached: it closes as overdue (超时)")
    d.stop_clocks(cancel=True)
    d.emit(CaseClosed, closure_type=closure, note=cmd.note)


def _request_extension(d: _Decision, cmd: c.RequestExtension) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    unit = _require_handler(s, cmd)
    if s.pending_extension is not None:
        raise DomainError("extension.pending", "an extension request is already waiting for a decision")
    clock = s.running_clock(ClockKind.RESOLVE)
    if clock is not None and d.now > clock.due_at:
        raise DomainError("extension.after_deadline", "an extension must be requested before the resolution deadline")
    d.emit(ExtensionRequested, unit=unit, extra=cmd.extra, reason=cmd.reason)


def _decide_extension(d: _Decision, cmd: c.DecideExtension) -> None:
    s = d.state
    _require_supervisor_jurisdiction(s, cmd.actor)
    pending = s.pending_extension
    if pending is None:
        raise DomainError("extension.none", "there is no extension request to decide")
    d.emit(ExtensionDecided, approved=cmd.approved, extra=pending.extra, note=cmd.note)
    clock = s.running_clock(ClockKind.RESOLVE)
    if cmd.approved and clock is not None and s.sla is not None:
        extended = sla_clocks.extend(clock, s.sla.wall(pending.extra), s.sla.calendar)
        d.emit(
            ClockExtended,
            actor=_system(),
            clock_id=clock.clock_id,
            kind=clock.kind,
            extra=pending.extra,
            due_at=extended.due_at,
            time_scale=s.sla.time_scale,
        )


def _pause(d: _Decision, cmd: c.PauseForResident) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    _require_handler(s, cmd)
    if _paused(s):
        raise DomainError("pause.already", "the case is already waiting for the resident")
    targets = [c for c in s.running_clocks() if c.kind in (ClockKind.RESOLVE, ClockKind.CONTACT)]
    if not targets:
        raise DomainError("pause.no_clock", "no resolution or contact clock is running")
    # interim replies are owed for the time the case is handled: they wait with it
    targets += [c for c in s.running_clocks() if c.kind == ClockKind.INTERIM_REPLY]
    for clock in targets:
        d.emit(ClockPaused, actor=cmd.actor, clock_id=clock.clock_id, kind=clock.kind, reason=cmd.reason)


def _resume(d: _Decision, cmd: c.ResumeFromResident) -> None:
    s = d.state
    _require_status(s, cmd, CaseStatus.HANDLING)
    _require_handler(s, cmd)
    paused = [c for c in s.running_clocks() if c.paused_at is not None]
    if not paused:
        raise DomainError("resume.not_paused", "the case is not waiting for the resident")
    for clock in paused:
        assert s.sla is not None
        resumed = sla_clocks.resume(clock, s.sla.calendar, d.now)
        d.emit(
            ClockResumed,
            actor=cmd.actor,
            clock_id=clock.clock_id,
            kind=clock.kind,
            due_at=resumed.due_at,
            time_scale=s.sla.time_scale,
        )


def _shelve(d: _Decision, cmd: c.ShelveCase) -> None:
    _require_status(
        d.state, cmd, CaseStatus.REGISTERED, CaseStatus.DISPATCHED, CaseStatus.RETURNED, CaseStatus.HANDLING
    )
    if d.state.open_whistle is not None:
        raise DomainError("shelve.whistle_open", "finish or close the open whistle round first")
    d.stop_clocks(cancel=True)
    d.emit(CaseShelved, reason=cmd.reason)


def _unshelve(d: _Decision, cmd: c.UnshelveCase) -> None:
    _require_status(d.state, cmd, CaseStatus.SHELVED)
    d.emit(CaseUnshelved, note=cmd.note)
    s = d.state
    if s.status == CaseStatus.DISPATCHED and s.unit is not None:
        d.start_clock(ClockKind.ACCEPT, s.unit)
    elif s.status == CaseStatus.RETURNED:
        d.start_clock(ClockKind.RETURN_REVIEW, HOTLINE)
    elif s.status == CaseStatus.HANDLING and s.unit is not None:
        d.start_clock(ClockKind.RESOLVE, s.unit)


def _terminate(d: _Decision, cmd: c.TerminateCase) -> None:
    _require_live(d.state, cmd)
    if d.state.open_whistle is not None:
        raise DomainError("terminate.whistle_open", "finish the open whistle round before terminating")
    d.emit(CaseTerminated, reason=cmd.reason)
    d.stop_clocks(cancel=True)
    d.emit(CaseClosed, closure_type=ClosureType.SPECIAL, note=f"terminated: {cmd.reason}")


def _appeal(d: _Decision, cmd: c.FileAppeal) -> None:
    s = d.state
    if s.status in (CaseStatus.NEW, CaseStatus.RECEIVED):
        raise DomainError("status.not_allowed", f"no appeal on a case that is {s.status.value}")
    unit = _require_assigned(s, cmd)
    if s.appeal_pending:
        raise DomainError("appeal.pending", "an appeal is already waiting for a decision")
    d.emit(AppealFiled, unit=unit, reason=cmd.reason)


def _decide_appeal(d: _Decision, cmd: c.DecideAppeal) -> None:
    _require_supervisor_jurisdiction(d.state, cmd.actor)
    if not d.state.appeal_pending:
        raise DomainError("appeal.none", "there is no appeal to decide")
    d.emit(AppealDecided, granted=cmd.granted, note=cmd.note)


def _merge(d: _Decision, cmd: c.MergeInto) -> None:
    _require_status(d.state, cmd, CaseStatus.RECEIVED, CaseStatus.REGISTERED, CaseStatus.DISPATCHED)
    if cmd.into_case_id == d.state.case_id:
        raise DomainError("merge.self", "a case cannot be merged into itself")
    d.stop_clocks(cancel=True)
    d.emit(CaseMerged, into_case_id=cmd.into_case_id)


def _attach(d: _Decision, cmd: c.AttachDuplicate) -> None:
    s = d.state
    if s.status == CaseStatus.NEW:
        raise DomainError("status.not_allowed", f"cannot attach a duplicate to a case that is {s.status.value}")
    if cmd.duplicate_case_id == s.case_id or cmd.duplicate_case_id in s.duplicates:
        raise DomainError("merge.duplicate", f"{cmd.duplicate_case_id} is already attached or is this case")
    d.emit(DuplicateAttached, duplicate_case_id=cmd.duplicate_case_id)


def _supervise(d: _Decision, cmd: c.Supervise) -> None:
    s = d.state
    _require_supervisor_jurisdiction(s, cmd.actor)
    _require_live(s, cmd)
    unit = s.unit or HOTLINE
    recipients = [unit.key()]
    if cmd.level != EscalationLevel.REMINDER and s.location is not None:
        recipients.append(f"district:{s.location.district_id}")
    d.emit(EscalationRaised, level=cmd.level, unit=unit, recipients=recipients, note=cmd.note)


def _tick(d: _Decision, cmd: c.Tick) -> None:
    """Nothing beyond the alarms ``decide`` fires before every command (the system alone ticks)."""


Decision = _Decision
"""What a handler receives: ``d.state`` (the case so far), ``d.actor``, ``d.now`` and ``d.emit(...)``."""

Handler = Callable[[_Decision, Any], None]
"""A command handler: checks the rules (raising :class:`DomainError`) and emits the events."""

HANDLERS: dict[type[c.Command], Handler] = {
    c.OpenCase: _open,
    c.RejectCase: _reject,
    c.RegisterCase: _register,
    c.DispatchCase: _dispatch,
    c.AcceptCase: _accept,
    c.ReturnCase: _return,
    c.ReviewReturn: _review,
    c.AssignCase: _assign,
    c.ReassignCase: _reassign,
    c.TakeCase: _take,
    c.SubmitReply: _submit_reply,
    c.ApproveReply: _approve_reply,
    c.SendBack: _send_back,
    c.InterimReply: _interim_reply,
    c.Reclassify: _reclassify,
    c.SetUrgency: _set_urgency,
    c.Relocate: _relocate,
    c.ContactResident: _contact,
    c.BlowWhistle: _whistle,
    c.DelegateCase: _delegate,
    c.CallVolunteers: _call_volunteers,
    c.ReportVolunteerHelp: _volunteer_report,
    c.ReleaseVolunteers: _release_volunteers,
    c.ReportIn: _report_in,
    c.CompleteTask: _complete_task,
    c.ResolveCase: _resolve,
    c.VerifyCase: _verify,
    c.RecordCallback: _callback,
    c.CloseCase: _close,
    c.RequestExtension: _request_extension,
    c.DecideExtension: _decide_extension,
    c.PauseForResident: _pause,
    c.ResumeFromResident: _resume,
    c.ShelveCase: _shelve,
    c.UnshelveCase: _unshelve,
    c.TerminateCase: _terminate,
    c.FileAppeal: _appeal,
    c.DecideAppeal: _decide_appeal,
    c.MergeInto: _merge,
    c.AttachDuplicate: _attach,
    c.Supervise: _supervise,
    c.Tick: _tick,
}
"""The handler of each command class. Plug-ins add theirs with :func:`register_action`."""

_HANDLERS = HANDLERS


def register_action(row: Action, handler: Handler, catalogue: Catalogue = CATALOGUE) -> None:
    """Add an action: its catalogue row and its ``decide`` handler.

    ``decide`` consults the module-level :data:`~workflows.domain.actions.CATALOGUE` (the default
    here); a row added to another catalogue is not seen by ``decide``. Raises ``ValueError`` when the
    action's name or command class is already registered (nothing is changed then).
    """
    if row.command in HANDLERS:
        raise ValueError(f"{row.command.__name__} already has a decide handler")
    catalogue.add(row)
    HANDLERS[row.command] = handler


def unregister_action(name: str, catalogue: Catalogue = CATALOGUE) -> Action:
    """Remove an action added by :func:`register_action`; returns its row."""
    row = catalogue.remove(name)
    HANDLERS.pop(row.command, None)
    return row


@contextmanager
def registered_action(row: Action, handler: Handler, catalogue: Catalogue = CATALOGUE) -> Iterator[Action]:
    """``with registered_action(row, handler): ...``: the action exists inside the block only (tests)."""
    register_action(row, handler, catalogue)
    try:
        yield row
    finally:
        unregister_action(row.name, catalogue)


def next_alarm_at(state: CaseState) -> datetime | None:
    """When the next SLA alarm of a running clock is due (the workflow sleeps until then)."""
    if state.sla is None:
        return None
    times = [a.at for clock in state.running_clocks() if (a := sla_clocks.next_alarm(clock, state.sla.calendar))]
    return min(times) if times else None
