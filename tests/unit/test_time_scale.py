"""Compressed time: the policy compressed onto continuous time, recorded per case, said in every output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.sla import SlaActivities
from events.schemas import ClockKind, ClockStarted, SlaBreached, SlaWarningRaised, Urgency
from workflows.domain import CaseState, decide
from workflows.domain import commands as c
from workflows.domain.evolve import apply_event
from workflows.domain.explore import DISPATCHER, LOCATION, unit_actor
from workflows.domain.state import SlaContext
from workflows.sla import clocks as sla_clocks
from workflows.sla.calendar import build_calendar
from workflows.sla.policy import default_policy
from workflows.sla.timescale import (
    check_scale,
    compress,
    compress_policy,
    describe_scale,
    expand,
    format_policy_duration,
)

T0 = datetime(2026, 2, 14, 22, 0, tzinfo=UTC)  # a Saturday night in Shanghai, in the Spring Festival


def test_compress_is_linear_in_policy_hours() -> None:
    assert compress(timedelta(hours=1), 2.0) == timedelta(seconds=2)
    assert compress(timedelta(hours=7), 2.0) == timedelta(seconds=14)
    assert compress(timedelta(minutes=30), 2.0) == timedelta(seconds=1)
    assert compress(timedelta(0), 2.0) == timedelta(0)
    assert compress(timedelta(hours=3), None) == timedelta(hours=3)
    assert expand(timedelta(seconds=14), 2.0) == timedelta(hours=7)


def test_a_positive_duration_never_compresses_to_zero() -> None:
    assert compress(timedelta(microseconds=1), 0.001) == timedelta(microseconds=1)


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), "2", True])
def test_a_bad_scale_is_refused_with_the_rule(bad: object) -> None:
    with pytest.raises(ValueError, match="time_scale must be a number of wall-clock seconds per policy hour"):
        check_scale(bad)  # type: ignore[arg-type]


def test_compressed_policy_runs_continuously_with_every_duration_scaled() -> None:
    policy = default_policy()
    fast = compress_policy(policy, 3.0)
    assert fast.version == f"{policy.version}@3s/h"
    for (kind, urgency, category, rule), (_, _, _, fast_rule) in zip(policy.rows(), fast.rows(), strict=True):
        assert not fast_rule.working_time, (kind, urgency, category)
        assert fast_rule.duration == compress(rule.duration, 3.0)
        assert fast_rule.warnings == rule.warnings
        assert [r.level for r in fast_rule.ladder] == [r.level for r in rule.ladder]
        assert [r.delay for r in fast_rule.ladder] == [compress(r.delay, 3.0) for r in rule.ladder]
        assert all(not r.working_time for r in fast_rule.ladder)
    # the default ladder: 督办 one working day (7 policy hours) after the breach, 通报 six
    accept = fast.rule_for(ClockKind.ACCEPT, None, Urgency.ORDINARY)
    assert [r.delay for r in accept.ladder] == [timedelta(0), timedelta(seconds=21), timedelta(seconds=126)]


def test_compressed_clock_ignores_nights_weekends_and_holidays() -> None:
    cal = build_calendar([2026])
    rule = compress_policy(default_policy(), 2.0).rule_for(ClockKind.ACCEPT, None, Urgency.ORDINARY)
    clock = sla_clocks.start_clock("accept-1", ClockKind.ACCEPT, "street:S-1", rule, cal, T0)
    assert clock.due_at == T0 + timedelta(seconds=2)  # 1 working hour, on a holiday night
    _, alarms = sla_clocks.fire_due(clock, cal, T0 + timedelta(seconds=2 + 14))
    assert [(a.what, a.at - T0) for a in alarms] == [
        ("warning", timedelta(seconds=1)),
        ("warning", timedelta(seconds=1.5)),
        ("breach", timedelta(seconds=2)),
        ("rung", timedelta(seconds=2)),
        ("rung", timedelta(seconds=16)),
    ]


def test_sla_activities_record_the_scale_in_the_context() -> None:
    cal = build_calendar([2026])
    real = SlaActivities(default_policy(), cal).context
    fast = SlaActivities(default_policy(), cal, time_scale=2).context
    assert real.time_scale is None and real.policy == default_policy()
    assert fast.time_scale == 2.0 and fast.policy.version.endswith("@2s/h")
    with pytest.raises(ValueError, match="time_scale"):
        SlaActivities(default_policy(), cal, time_scale=0)


def test_context_without_scale_still_loads() -> None:
    """Histories recorded before compressed time existed carry no ``time_scale``."""
    data = SlaContext(policy=default_policy(), calendar=build_calendar([2026])).model_dump(mode="json")
    data.pop("time_scale")
    assert SlaContext.model_validate(data).time_scale is None


def _run(state: CaseState, cmd: c.Command, now: datetime) -> list[object]:
    events = decide(state, cmd, now)  # type: ignore[arg-type]
    for e in events:
        apply_event(state, e)
    return list(events)


def _fast_case(scale: float) -> CaseState:
    cal = build_calendar([2026])
    ctx = SlaActivities(default_policy(), cal, time_scale=scale).context
    return CaseState(case_id="T1", sla=ctx)


def test_clock_events_say_they_are_on_compressed_time() -> None:
    from events.base import UnitKind, UnitRef
    from events.schemas import Channel

    s = _fast_case(2.0)
    street = UnitRef(kind=UnitKind.STREET, id="S-1")
    _run(
        s,
        c.OpenCase(
            actor=DISPATCHER,
            case_id="T1",
            channel=Channel.HOTLINE,
            category="noise",
            title="噪音",
            description="夜间施工",
            location=LOCATION,
        ),
        T0,
    )
    _run(s, c.RegisterCase(actor=DISPATCHER), T0)
    started = [e for e in _run(s, c.DispatchCase(actor=DISPATCHER, unit=street), T0) if isinstance(e, ClockStarted)]
    assert [(e.kind, e.budget, e.due_at, e.time_scale) for e in started] == [
        (ClockKind.ACCEPT, timedelta(seconds=2), T0 + timedelta(seconds=2), 2.0)
    ]
    alarms = _run(s, c.AcceptCase(actor=unit_actor(street)), T0 + timedelta(seconds=3))  # late by 1 s
    assert [type(e).__name__ for e in alarms if isinstance(e, SlaWarningRaised | SlaBreached)] == [
        "SlaWarningRaised",
        "SlaWarningRaised",
        "SlaBreached",
    ]
    assert all(e.time_scale == 2.0 for e in alarms if isinstance(e, SlaWarningRaised | SlaBreached))


def test_extension_is_compressed_like_every_policy_duration() -> None:
    from events.base import UnitKind, UnitRef
    from events.schemas import Channel, ClockExtended

    s = _fast_case(2.0)
    street = UnitRef(kind=UnitKind.STREET, id="S-1")
    sa = unit_actor(street)
    _run(
        s,
        c.OpenCase(
            actor=DISPATCHER,
            case_id="T1",
            channel=Channel.HOTLINE,
            category="noise",
            title="噪音",
            description="夜间施工",
            location=LOCATION,
        ),
        T0,
    )
    for cmd in (
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=street),
        c.AcceptCase(actor=sa),
    ):
        _run(s, cmd, T0)
    resolve = s.running_clock(ClockKind.RESOLVE)
    assert resolve is not None
    _run(s, c.RequestExtension(actor=sa, extra=timedelta(days=1), reason="parts"), T0)
    events = _run(s, c.DecideExtension(actor=DISPATCHER, approved=True), T0)
    extended = [e for e in events if isinstance(e, ClockExtended)]
    assert extended[0].extra == timedelta(days=1)  # what was asked, in policy time
    assert extended[0].due_at == resolve.due_at + timedelta(seconds=48)  # 24 policy hours × 2 s
    assert s.clocks[resolve.clock_id].due_at == extended[0].due_at  # evolve agrees with decide


def test_outputs_state_the_compression() -> None:
    assert describe_scale(None) == "real time (working calendar)"
    line = describe_scale(2.0)
    assert line.startswith("COMPRESSED TIME: 1 policy hour = 2 s wall-clock")
    assert "1 working day (7 h) = 14 s" in line
    assert format_policy_duration(timedelta(seconds=7), 2.0) == "3.5 policy h (7 s)"
