"""SLA clocks: a pure state machine the case workflow drives.

Every function takes a :class:`Clock` and returns a new one (clocks are frozen); nothing reads the
time: the caller passes ``now`` (``workflow.now()`` inside the workflow). Times are computed on the
:class:`~workflows.sla.calendar.WorkCalendar` in the clock's basis: working time when the rule says
``working_time``, wall-clock time otherwise.

Life of a clock::

    start_clock → running ─(warning)→ warned ─(due passes)→ breached ─(rungs)…
                    │  ↑ pause / resume (due moves by the paused time)
                    └──── stop → met | late | cancelled

Alarms, in order: each warning threshold ``t`` at the instant ``t × budget`` has elapsed since the
start (paused time excluded), the breach at ``due_at``, then rung ``i`` of the ladder at
``due_at + rung.delay`` (in the rung's own basis). A paused or stopped clock has no alarms. The
workflow sleeps until :func:`next_alarm`, then calls :func:`fire_due` to collect what is due.
Transitions that make no sense (pausing a paused clock, stopping a stopped one...) return the
clock unchanged, so replays and duplicate signals are harmless.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from events.schemas import ClockKind, ClockOutcome, EscalationLevel, RecomputeMode
from workflows.sla.calendar import WorkCalendar
from workflows.sla.policy import ClockRule, HierarchyLevel


class ClockStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    WARNED = "warned"  # running, at least one warning fired
    BREACHED = "breached"  # running past its due time
    MET = "met"  # stopped in time
    LATE = "late"  # stopped after its due time
    CANCELLED = "cancelled"  # stopped, no longer relevant


STOPPED = frozenset({ClockStatus.MET, ClockStatus.LATE, ClockStatus.CANCELLED})


class Clock(BaseModel):
    """One SLA clock of a case, for one handling unit (``unit_key`` like ``"street:S1"``).

    ``budget`` is the rule's duration plus approved extensions. ``paused_working`` is the total
    time spent paused, measured in the clock's basis (working time for a working-time clock,
    wall-clock time otherwise). ``due_at`` = start + budget + paused time, in that basis.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock_id: str
    kind: ClockKind
    unit_key: str
    rule: ClockRule
    started_at: datetime
    due_at: datetime
    budget: timedelta
    paused_at: datetime | None = None
    paused_working: timedelta = timedelta(0)
    warnings_fired: list[float] = Field(default_factory=list)
    breached_at: datetime | None = None
    rungs_fired: int = 0
    status: ClockStatus = ClockStatus.RUNNING
    stopped_at: datetime | None = None
    #: When a correction last recomputed the clock: alarms that fall due earlier because of it are
    #: raised at that moment, not back-dated.
    recomputed_at: datetime | None = None

    @property
    def working_time(self) -> bool:
        return self.rule.working_time

    @property
    def is_stopped(self) -> bool:
        return self.status in STOPPED

    @property
    def is_paused(self) -> bool:
        return self.status == ClockStatus.PAUSED


class Alarm(BaseModel):
    """Something a clock has to say at ``at``: a warning, its breach, or a rung of the ladder."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    what: Literal["warning", "breach", "rung"]
    threshold: float | None = None  # warnings
    rung_index: int | None = None  # rungs
    level: EscalationLevel | None = None  # rungs
    recipients: list[HierarchyLevel] = Field(default_factory=list)  # rungs
    clock_id: str = ""


# --- transitions --------------------------------------------------------------------------------


def start_clock(
    clock_id: str, kind: ClockKind, unit_key: str, rule: ClockRule, cal: WorkCalendar, now: datetime
) -> Clock:
    """A running clock whose due time is ``rule.duration`` after ``now`` in the rule's basis.

    A working-time clock started outside working hours starts counting at the next working period.
    """
    return Clock(
        clock_id=clock_id,
        kind=kind,
        unit_key=unit_key,
        rule=rule,
        started_at=now,
        due_at=cal.add(now, rule.duration, rule.working_time),
        budget=rule.duration,
    )


def pause(clock: Clock, now: datetime) -> Clock:
    """Stop the clock counting (e.g. waiting for the resident). Call :func:`fire_due` first."""
    if clock.is_stopped or clock.is_paused:
        return clock
    return clock.model_copy(update={"paused_at": now, "status": ClockStatus.PAUSED})


def resume(clock: Clock, cal: WorkCalendar, now: datetime) -> Clock:
    """Count again; ``due_at`` moves later by exactly the paused time, in the clock's basis."""
    if not clock.is_paused or clock.paused_at is None:
        return clock
    paused = max(cal.elapsed(clock.paused_at, now, clock.working_time), timedelta(0))
    resumed = clock.model_copy(update={"paused_at": None, "paused_working": clock.paused_working + paused})
    return resumed.model_copy(update={"due_at": _due(resumed, cal), "status": _running_status(resumed)})


def extend(clock: Clock, extra: timedelta, cal: WorkCalendar) -> Clock:
    """Add an approved extension (延期) to the budget; ``due_at`` moves by ``extra`` in the clock's basis.

    ``extra`` is in the clock's basis: for a working-time clock, one working day is
    ``policy.working_day`` (7 h by default). An extension does not undo a breach already recorded.
    """
    if clock.is_stopped or extra <= timedelta(0):
        return clock
    extended = clock.model_copy(update={"budget": clock.budget + extra})
    return extended.model_copy(update={"due_at": _due(extended, cal)})


def recompute(clock: Clock, rule: ClockRule, cal: WorkCalendar, now: datetime, mode: RecomputeMode) -> Clock:
    """The clock under a new ``rule`` after a correction (the case's category or urgency changed).

    ``retroactive``: as if ``rule`` had held since the clock started — same start, same paused
    time, the new duration plus the extensions already granted; warnings already raised stay
    raised. ``from_now``: the new duration (plus the extensions) counted from ``now``, warnings
    counted afresh. Either way a breach already recorded stands (like an extension, a correction
    does not undo it). A paused clock stays paused.
    """
    if clock.is_stopped:
        return clock
    extensions = max(clock.budget - clock.rule.duration, timedelta(0))
    budget = rule.duration + extensions
    if mode == RecomputeMode.FROM_NOW:
        updated = clock.model_copy(
            update={
                "rule": rule,
                "budget": budget,
                "started_at": now,
                "paused_at": now if clock.is_paused else None,
                "paused_working": timedelta(0),
                "warnings_fired": [],
                "rungs_fired": clock.rungs_fired if clock.breached_at is not None else 0,
                "recomputed_at": now,
            }
        )
    else:
        fired = [t for t in clock.warnings_fired if t in rule.warnings]
        updated = clock.model_copy(
            update={"rule": rule, "budget": budget, "warnings_fired": fired, "recomputed_at": now}
        )
    status = ClockStatus.PAUSED if updated.is_paused else _running_status(updated)
    return updated.model_copy(update={"due_at": _due(updated, cal), "status": status})


def stop(clock: Clock, now: datetime, cancelled: bool = False) -> Clock:
    """Stop for good: ``cancelled``, else ``met`` if ``now <= due_at`` and ``late`` otherwise.

    A clock whose breach was already recorded is late. A paused clock is judged at the moment it
    was paused (it did not run since).
    """
    if clock.is_stopped:
        return clock
    if cancelled:
        status = ClockStatus.CANCELLED
    else:
        judged_at = clock.paused_at if clock.paused_at is not None else now
        late = clock.breached_at is not None or judged_at > clock.due_at
        status = ClockStatus.LATE if late else ClockStatus.MET
    return clock.model_copy(update={"status": status, "stopped_at": now, "paused_at": None})


def outcome(clock: Clock) -> ClockOutcome | None:
    """The event-level outcome of a stopped clock (``None`` while it runs)."""
    return {
        ClockStatus.MET: ClockOutcome.MET,
        ClockStatus.LATE: ClockOutcome.LATE,
        ClockStatus.CANCELLED: ClockOutcome.CANCELLED,
    }.get(clock.status)


def remaining(clock: Clock, cal: WorkCalendar, now: datetime) -> timedelta:
    """Time left until ``due_at`` in the clock's basis (negative once overdue)."""
    at = clock.paused_at if clock.paused_at is not None else now
    return cal.elapsed(at, clock.due_at, clock.working_time)


# --- alarms -------------------------------------------------------------------------------------


def next_alarm(clock: Clock, cal: WorkCalendar) -> Alarm | None:
    """The next alarm the clock will raise, or ``None`` (stopped, paused, or ladder exhausted)."""
    return next(_pending(clock, cal), None)


def fire_due(clock: Clock, cal: WorkCalendar, now: datetime) -> tuple[Clock, list[Alarm]]:
    """Every alarm due at ``now`` or before, in order, and the clock with them recorded."""
    fired: list[Alarm] = []
    limit = len(clock.rule.warnings) + 1 + len(clock.rule.ladder)
    for _ in range(limit):
        alarm = next_alarm(clock, cal)
        if alarm is None or alarm.at > now:
            break
        clock = _record(clock, alarm)
        fired.append(alarm)
    return clock, fired


def warning_at(clock: Clock, cal: WorkCalendar, threshold: float) -> datetime:
    """When ``threshold × budget`` of counted time has elapsed (paused time excluded)."""
    share = timedelta(microseconds=round(clock.budget / timedelta(microseconds=1) * threshold))
    return cal.add(clock.started_at, share + clock.paused_working, clock.working_time)


def rung_at(clock: Clock, cal: WorkCalendar, index: int) -> datetime:
    """When rung ``index`` fires: the due time plus the rung's delay in the rung's basis."""
    rung = clock.rule.ladder[index]
    return cal.add(clock.due_at, rung.delay, rung.working_time)


def _pending(clock: Clock, cal: WorkCalendar) -> Iterator[Alarm]:
    if clock.is_stopped or clock.is_paused:
        return
    for t in clock.rule.warnings:
        if t not in clock.warnings_fired:
            yield Alarm(at=warning_at(clock, cal, t), what="warning", threshold=t, clock_id=clock.clock_id)
    if clock.breached_at is None:
        yield Alarm(at=clock.due_at, what="breach", clock_id=clock.clock_id)
    previous = clock.due_at
    for i in range(clock.rungs_fired, len(clock.rule.ladder)):
        rung = clock.rule.ladder[i]
        at = max(rung_at(clock, cal, i), previous)  # mixed bases could go backwards: keep order
        previous = at
        yield Alarm(
            at=at,
            what="rung",
            rung_index=i,
            level=rung.level,
            recipients=list(rung.recipients),
            clock_id=clock.clock_id,
        )


def _record(clock: Clock, alarm: Alarm) -> Clock:
    if alarm.what == "warning":
        assert alarm.threshold is not None
        fired = clock.model_copy(update={"warnings_fired": [*clock.warnings_fired, alarm.threshold]})
    elif alarm.what == "breach":
        fired = clock.model_copy(update={"breached_at": alarm.at})
    else:
        fired = clock.model_copy(update={"rungs_fired": clock.rungs_fired + 1})
    return fired.model_copy(update={"status": _running_status(fired)})


def _running_status(clock: Clock) -> ClockStatus:
    if clock.breached_at is not None:
        return ClockStatus.BREACHED
    if clock.warnings_fired:
        return ClockStatus.WARNED
    return ClockStatus.RUNNING


def _due(clock: Clock, cal: WorkCalendar) -> datetime:
    return cal.add(clock.started_at, clock.budget + clock.paused_working, clock.working_time)


# --- recipients ---------------------------------------------------------------------------------


def resolve_recipients(levels: list[HierarchyLevel], unit_key: str, hierarchy: Mapping[str, str]) -> list[str]:
    """Recipient ids for the hierarchy ``levels`` of a rung.

    ``unit`` is the handling unit itself (``unit_key``, unless ``hierarchy`` maps ``"unit"``);
    every other level is looked up in ``hierarchy`` by its value, e.g. ``{"grid": "G1",
    "community": "C1", "street": "S1", "district": "D1", "city": "city", "department_head":
    "head:DEPT"}``. Levels the case has no entry for (a department case has no grid...) are
    skipped; ids come back in the order of ``levels``, without duplicates.
    """
    out: list[str] = []
    for level in levels:
        key = HierarchyLevel(level).value
        rid = hierarchy.get(key) or (unit_key if level == HierarchyLevel.UNIT else None)
        if rid and rid not in out:
            out.append(rid)
    return out
