"""SLA clocks: warnings, breach and ladder at exact minutes; pause, resume, extend and stop."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from events.schemas import ClockKind, ClockOutcome, EscalationLevel, Urgency
from workflows.sla.calendar import WorkCalendar, build_calendar
from workflows.sla.clocks import (
    Alarm,
    Clock,
    ClockStatus,
    extend,
    fire_due,
    next_alarm,
    outcome,
    pause,
    remaining,
    resolve_recipients,
    resume,
    start_clock,
    stop,
)
from workflows.sla.policy import ClockRule, HierarchyLevel, Rung, default_policy

CST = timezone(timedelta(hours=8))
H = timedelta(hours=1)


def local(mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=CST)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return build_calendar([2026])


@pytest.fixture(scope="module")
def one_working_day() -> ClockRule:
    # verify, ordinary: 1 working day (7 h), warnings 50/75 %, default ladder
    return default_policy().rule_for(ClockKind.VERIFY, "noise", Urgency.ORDINARY)


@pytest.fixture()
def clock(cal: WorkCalendar, one_working_day: ClockRule) -> Clock:
    # Monday 2 March 2026, 09:00: an ordinary week
    return start_clock("verify-1", ClockKind.VERIFY, "grid:G1", one_working_day, cal, local(3, 2, 9, 0))


def whats(alarms: list[Alarm]) -> list[tuple[str, datetime]]:
    return [(a.what, a.at) for a in alarms]


def test_start(clock: Clock) -> None:
    assert clock.due_at == local(3, 2, 17, 30)
    assert clock.budget == 7 * H and clock.status == ClockStatus.RUNNING


def test_warnings_and_breach_at_exact_minutes(clock: Clock, cal: WorkCalendar) -> None:
    # 50 % of 7 h = 3.5 h: 09:00–12:00, then 13:30–14:00. 75 % = 5.25 h → 15:45.
    assert next_alarm(clock, cal) == Alarm(at=local(3, 2, 14, 0), what="warning", threshold=0.5, clock_id="verify-1")
    c, fired = fire_due(clock, cal, local(3, 2, 13, 59))
    assert fired == [] and c == clock
    c, fired = fire_due(c, cal, local(3, 2, 14, 0))
    assert whats(fired) == [("warning", local(3, 2, 14, 0))]
    assert c.status == ClockStatus.WARNED and c.warnings_fired == [0.5]
    c, fired = fire_due(c, cal, local(3, 2, 17, 29))
    assert whats(fired) == [("warning", local(3, 2, 15, 45))] and fired[0].threshold == 0.75
    c, fired = fire_due(c, cal, local(3, 2, 17, 30))
    assert whats(fired) == [("breach", local(3, 2, 17, 30)), ("rung", local(3, 2, 17, 30))]
    assert fired[1].level == EscalationLevel.REMINDER and fired[1].recipients == [HierarchyLevel.UNIT]
    assert c.status == ClockStatus.BREACHED and c.breached_at == local(3, 2, 17, 30) and c.rungs_fired == 1


def test_full_ladder_fires_in_order_with_its_delays(clock: Clock, cal: WorkCalendar) -> None:
    c, fired = fire_due(clock, cal, local(12, 31))
    assert whats(fired) == [
        ("warning", local(3, 2, 14, 0)),
        ("warning", local(3, 2, 15, 45)),
        ("breach", local(3, 2, 17, 30)),
        ("rung", local(3, 2, 17, 30)),  # 催办 at the breach
        ("rung", local(3, 3, 17, 30)),  # 督办 one working day later
        ("rung", local(3, 10, 17, 30)),  # 通报 five more working days later
    ]
    assert [a.level for a in fired if a.what == "rung"] == list(EscalationLevel)
    assert [a.rung_index for a in fired if a.what == "rung"] == [0, 1, 2]
    assert c.rungs_fired == 3 and next_alarm(c, cal) is None
    # firing one alarm at a time gives the same sequence
    step, one_by_one = clock, []
    while (a := next_alarm(step, cal)) is not None:
        step, got = fire_due(step, cal, a.at)
        one_by_one.extend(got)
    assert one_by_one == fired and step == c


def test_ladder_after_a_calendar_clock(cal: WorkCalendar) -> None:
    rule = default_policy().rule_for(ClockKind.CONTACT, "noise", Urgency.URGENT)  # 2 h calendar
    c = start_clock("contact-1", ClockKind.CONTACT, "street:S1", rule, cal, local(3, 6, 20, 0))  # Friday night
    assert c.due_at == local(3, 6, 22, 0)
    _, fired = fire_due(c, cal, local(12, 31))
    assert whats(fired) == [
        ("warning", local(3, 6, 21, 0)),
        ("warning", local(3, 6, 21, 30)),
        ("breach", local(3, 6, 22, 0)),
        ("rung", local(3, 6, 22, 0)),
        ("rung", local(3, 9, 17, 30)),  # working-day delay: Monday's whole working day
        ("rung", local(3, 16, 17, 30)),
    ]


def test_custom_ladder_delays(cal: WorkCalendar) -> None:
    rule = ClockRule(
        duration=2 * H,
        working_time=True,
        warnings=[],
        ladder=[
            Rung(level=EscalationLevel.REMINDER, delay=30 * timedelta(minutes=1), working_time=False),
            Rung(level=EscalationLevel.REMINDER, delay=4 * H, working_time=False),
            Rung(level=EscalationLevel.PUBLIC_NOTICE, delay=2 * 7 * H, working_time=True),
        ],
    )
    c = start_clock("x", ClockKind.ACCEPT, "street:S1", rule, cal, local(3, 2, 16, 0))
    assert c.due_at == local(3, 3, 9, 30)
    _, fired = fire_due(c, cal, local(12, 31))
    assert whats(fired) == [
        ("breach", local(3, 3, 9, 30)),
        ("rung", local(3, 3, 10, 0)),
        ("rung", local(3, 3, 13, 30)),
        ("rung", local(3, 5, 9, 30)),
    ]


def test_pause_and_resume_shift_due_by_the_paused_working_time(clock: Clock, cal: WorkCalendar) -> None:
    paused = pause(clock, local(3, 2, 10, 0))
    assert paused.status == ClockStatus.PAUSED and next_alarm(paused, cal) is None
    assert fire_due(paused, cal, local(3, 20)) == (paused, [])
    resumed = resume(paused, cal, local(3, 3, 10, 0))  # 6 h on Monday + 1 h on Tuesday
    assert resumed.paused_working == 7 * H and resumed.paused_at is None
    assert resumed.due_at == local(3, 3, 17, 30)
    assert cal.working_time_between(clock.due_at, resumed.due_at) == 7 * H
    assert resumed.status == ClockStatus.RUNNING
    # 3.5 h counted: 1 h before the pause, then Tuesday 10:00–12:00 and 13:30–14:00
    assert next_alarm(resumed, cal) == Alarm(at=local(3, 3, 14, 0), what="warning", threshold=0.5, clock_id="verify-1")


def test_pause_over_the_spring_festival(cal: WorkCalendar, one_working_day: ClockRule) -> None:
    c = start_clock("v", ClockKind.VERIFY, "grid:G1", one_working_day, cal, local(2, 13, 15, 0))
    assert c.due_at == local(2, 14, 15, 0)  # Saturday 14 Feb is worked
    p = pause(c, local(2, 13, 16, 0))
    r = resume(p, cal, local(2, 24, 10, 0))
    assert r.paused_working == timedelta(hours=1, minutes=30) + 7 * H + H
    assert cal.working_time_between(c.due_at, r.due_at) == r.paused_working
    assert r.due_at == local(2, 24, 17, 30)


def test_calendar_clock_pause_is_wall_clock(cal: WorkCalendar) -> None:
    rule = default_policy().rule_for(ClockKind.CONTACT, "noise", Urgency.ORDINARY)  # 24 h calendar
    c = start_clock("c", ClockKind.CONTACT, "street:S1", rule, cal, local(3, 6, 18, 0))
    r = resume(pause(c, local(3, 6, 19, 0)), cal, local(3, 7, 1, 30))
    assert r.due_at == c.due_at + timedelta(hours=6, minutes=30)


def test_warning_fired_before_pause_is_not_repeated(clock: Clock, cal: WorkCalendar) -> None:
    c, fired = fire_due(clock, cal, local(3, 2, 14, 30))
    assert len(fired) == 1
    r = resume(pause(c, local(3, 2, 14, 30)), cal, local(3, 2, 15, 30))
    assert r.status == ClockStatus.WARNED
    assert next_alarm(r, cal) == Alarm(at=local(3, 2, 16, 45), what="warning", threshold=0.75, clock_id="verify-1")


def test_stop_before_a_warning_emits_nothing(clock: Clock, cal: WorkCalendar) -> None:
    stopped = stop(clock, local(3, 2, 10, 0))
    assert stopped.status == ClockStatus.MET and stopped.stopped_at == local(3, 2, 10, 0)
    assert outcome(stopped) == ClockOutcome.MET
    assert next_alarm(stopped, cal) is None
    assert fire_due(stopped, cal, local(12, 31)) == (stopped, [])


def test_stop_outcomes(clock: Clock, cal: WorkCalendar) -> None:
    assert stop(clock, local(3, 2, 17, 30)).status == ClockStatus.MET  # on the minute is in time
    assert stop(clock, local(3, 2, 17, 31)).status == ClockStatus.LATE
    assert outcome(stop(clock, local(3, 2, 18), cancelled=True)) == ClockOutcome.CANCELLED
    breached, _ = fire_due(clock, cal, local(3, 2, 17, 30))
    extended = extend(breached, 7 * H, cal)
    assert stop(extended, local(3, 2, 18)).status == ClockStatus.LATE  # a recorded breach stays late
    # a paused clock is judged when it was paused
    assert stop(pause(clock, local(3, 2, 10)), local(3, 20)).status == ClockStatus.MET
    assert outcome(clock) is None


def test_extend_moves_due(clock: Clock, cal: WorkCalendar) -> None:
    extended = extend(clock, 7 * H, cal)
    assert extended.budget == 14 * H and extended.due_at == local(3, 3, 17, 30)
    # warnings follow the new budget: 50 % of 14 h = 7 h → Monday 17:30
    assert next_alarm(extended, cal) == Alarm(
        at=local(3, 2, 17, 30), what="warning", threshold=0.5, clock_id="verify-1"
    )
    # extension while paused, then resume: both shifts add up
    p = extend(pause(clock, local(3, 2, 10)), 2 * H, cal)
    r = resume(p, cal, local(3, 2, 11))
    assert r.due_at == cal.add_working_time(clock.due_at, 3 * H) == local(3, 3, 12, 0)
    assert extend(clock, timedelta(0), cal) == clock


def test_remaining(clock: Clock, cal: WorkCalendar) -> None:
    assert remaining(clock, cal, local(3, 2, 12, 0)) == 4 * H
    assert remaining(clock, cal, local(3, 3, 10, 0)) == -H


def test_transitions_are_idempotent(clock: Clock, cal: WorkCalendar) -> None:
    p = pause(clock, local(3, 2, 10))
    assert pause(p, local(3, 2, 11)) == p
    assert resume(clock, cal, local(3, 2, 11)) == clock
    s = stop(clock, local(3, 2, 10))
    assert stop(s, local(3, 2, 11)) == s
    assert pause(s, local(3, 2, 11)) == s and extend(s, H, cal) == s


def test_working_clock_started_at_the_weekend(cal: WorkCalendar, one_working_day: ClockRule) -> None:
    c = start_clock("v", ClockKind.VERIFY, "grid:G1", one_working_day, cal, local(3, 7, 11, 0))  # Saturday
    assert c.due_at == local(3, 9, 17, 30)
    assert next_alarm(c, cal) is not None and next_alarm(c, cal).at == local(3, 9, 14, 0)  # type: ignore[union-attr]


def test_clock_round_trips_through_json(clock: Clock, cal: WorkCalendar) -> None:
    c, _ = fire_due(pause(clock, local(3, 2, 10)), cal, local(3, 2, 11))
    c, _ = fire_due(resume(c, cal, local(3, 2, 15)), cal, local(3, 3, 12))
    again = Clock.model_validate_json(c.model_dump_json())
    assert again == c and next_alarm(again, cal) == next_alarm(c, cal)


def test_resolve_recipients() -> None:
    hierarchy = {"grid": "G1", "community": "C1", "street": "S1", "district": "D1", "city": "city"}
    levels = [HierarchyLevel.UNIT, HierarchyLevel.STREET, HierarchyLevel.DEPARTMENT_HEAD, HierarchyLevel.CITY]
    assert resolve_recipients(levels, "department:water", hierarchy) == ["department:water", "S1", "city"]
    with_head = {**hierarchy, "department_head": "head:water"}
    assert resolve_recipients(levels, "department:water", with_head) == [
        "department:water",
        "S1",
        "head:water",
        "city",
    ]
    # duplicates collapse, order follows the levels
    assert resolve_recipients([HierarchyLevel.STREET, HierarchyLevel.UNIT], "S1", {"street": "S1"}) == ["S1"]
    assert resolve_recipients([HierarchyLevel.UNIT], "grid:G1", {"unit": "grid:G1"}) == ["grid:G1"]
