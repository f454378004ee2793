"""SLA clocks driven through the case domain, on the statutory calendar (2026 Spring Festival)."""

from __future__ import annotations

from events.schemas import ClockKind
from tests.unit.domain_helpers import DISPATCHER, STREET, STREET_ACTOR, Case, at
from workflows.domain import commands as c
from workflows.domain import next_alarm_at


def dispatched_at(when: str) -> Case:
    case = Case().open_hotline()
    case.now = at(when)
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    return case


def alarms(case: Case) -> list[tuple[str, str]]:
    return [
        (e.model_dump()["type"], e.occurred_at.astimezone(at("2026-01-01 00:00").tzinfo).strftime("%m-%d %H:%M"))
        for e in case.events
        if e.model_dump()["type"] in ("sla.warning_raised", "sla.breached")
    ]


def test_accept_clock_filed_on_the_last_working_afternoon_before_spring_festival() -> None:
    # 2026-02-14 is an adjusted working Saturday; 02-15..02-23 is the holiday; 1 working hour to accept.
    case = dispatched_at("2026-02-14 17:00")
    clock = case.state.running_clock(ClockKind.ACCEPT)
    assert clock is not None
    assert clock.due_at == at("2026-02-24 09:30")
    # the workflow sleeps until the next alarm: 50% at 17:30 on the Saturday itself
    assert next_alarm_at(case.state) == at("2026-02-14 17:30")
    case.tick(at("2026-02-14 17:30"))
    assert alarms(case) == [("sla.warning_raised", "02-14 17:30")]
    assert next_alarm_at(case.state) == at("2026-02-24 09:15")
    case.tick(at("2026-02-24 09:30"))
    assert alarms(case) == [
        ("sla.warning_raised", "02-14 17:30"),
        ("sla.warning_raised", "02-24 09:15"),
        ("sla.breached", "02-24 09:30"),
    ]
    assert case.state.breached


def test_action_at_the_deadline_minute_is_on_time() -> None:
    case = dispatched_at("2026-03-02 09:00")
    events = case.do(c.AcceptCase(actor=STREET_ACTOR), at("2026-03-02 10:00"))
    types = [e.model_dump()["type"] for e in events]
    assert "sla.breached" not in types
    stopped = [e for e in events if e.model_dump()["type"] == "sla.clock_stopped"]
    assert stopped[0].model_dump()["outcome"] == "met"


def test_adjusted_working_saturday_counts_as_working_time() -> None:
    case = dispatched_at("2026-02-28 11:30")  # an adjusted working Saturday
    clock = case.state.running_clock(ClockKind.ACCEPT)
    assert clock is not None and clock.due_at == at("2026-02-28 14:00")  # 30 min before lunch, 30 after
