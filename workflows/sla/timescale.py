"""Compressed time: run the SLA policy faster than real time, for demos, simulations and tests.

A time scale is a number of wall-clock seconds per *policy hour*. Under a scale every duration of
the policy (clock budgets, escalation delays, extensions) becomes ``hours × scale`` seconds of
wall-clock time and every clock runs continuously: there is no working calendar, no nights, no
weekends. Working-time durations count in working hours, so one working day is
``policy.working_day`` (7 h by default) = ``7 × scale`` seconds, and ``1d calendar`` is 24 policy
hours = ``24 × scale`` seconds.

Pure and deterministic: the case workflow uses it inside the sandbox. The scale is part of the
case's :class:`~workflows.domain.state.SlaContext`, recorded when the case starts, so it stays
fixed for the case's whole life; the events that carry due times say which scale they are on.
"""

from __future__ import annotations

from datetime import timedelta

from workflows.sla.policy import CategoryRules, ClockPolicy, ClockRule, Rung, SlaPolicy

POLICY_HOUR = timedelta(hours=1)
SCALE_RULE = "time_scale must be a number of wall-clock seconds per policy hour, greater than 0"


def check_scale(seconds_per_hour: float | None) -> float | None:
    """``seconds_per_hour`` when it is a valid scale (``None`` = real time); raises ValueError otherwise."""
    if seconds_per_hour is None:
        return None
    if isinstance(seconds_per_hour, bool) or not isinstance(seconds_per_hour, int | float):
        raise ValueError(f"{SCALE_RULE}, got {seconds_per_hour!r}")
    if not seconds_per_hour > 0 or seconds_per_hour == float("inf"):
        raise ValueError(f"{SCALE_RULE}, got {seconds_per_hour!r}")
    return float(seconds_per_hour)


def compress(duration: timedelta, seconds_per_hour: float | None) -> timedelta:
    """The wall-clock time ``duration`` of policy time lasts under the scale (unchanged when ``None``).

    A positive duration never compresses to zero: it lasts at least one microsecond.
    """
    if seconds_per_hour is None:
        return duration
    micros = round(duration / POLICY_HOUR * seconds_per_hour * 1_000_000)
    if duration > timedelta(0):
        micros = max(micros, 1)
    return timedelta(microseconds=micros)


def expand(wall: timedelta, seconds_per_hour: float | None) -> timedelta:
    """The policy time that ``wall`` of wall-clock time stands for (unchanged when ``None``)."""
    if seconds_per_hour is None:
        return wall
    return timedelta(hours=wall.total_seconds() / seconds_per_hour)


def compress_rule(rule: ClockRule, seconds_per_hour: float) -> ClockRule:
    """The rule with its duration and every rung delay compressed, all on continuous time."""
    ladder = [_compress_rung(r, seconds_per_hour) for r in rule.ladder]
    return rule.model_copy(
        update={"duration": compress(rule.duration, seconds_per_hour), "working_time": False, "ladder": ladder}
    )


def _compress_rung(rung: Rung, seconds_per_hour: float) -> Rung:
    return rung.model_copy(update={"delay": compress(rung.delay, seconds_per_hour), "working_time": False})


def _compress_category(rules: CategoryRules, seconds_per_hour: float) -> CategoryRules:
    return rules.model_copy(
        update={
            "urgent": None if rules.urgent is None else compress_rule(rules.urgent, seconds_per_hour),
            "ordinary": None if rules.ordinary is None else compress_rule(rules.ordinary, seconds_per_hour),
        }
    )


def _compress_clock_policy(cp: ClockPolicy, seconds_per_hour: float) -> ClockPolicy:
    return cp.model_copy(
        update={
            "urgent": compress_rule(cp.urgent, seconds_per_hour),
            "ordinary": compress_rule(cp.ordinary, seconds_per_hour),
            "by_category": {k: _compress_category(v, seconds_per_hour) for k, v in cp.by_category.items()},
        }
    )


def compress_policy(policy: SlaPolicy, seconds_per_hour: float) -> SlaPolicy:
    """The policy on compressed, continuous time; its version says so (``<version>@<scale>s/h``).

    Raises:
        ValueError: ``seconds_per_hour`` is not a positive number.
    """
    scale = check_scale(seconds_per_hour)
    assert scale is not None
    update: dict[str, object] = {
        "version": f"{policy.version}@{scale:g}s/h",
        "clocks": {k: _compress_clock_policy(cp, scale) for k, cp in policy.clocks.items()},
    }
    uw = policy.unit_work
    if uw is not None and uw.interim is not None:
        # compressed rules all run on continuous time: decide who needs interim replies now, on the
        # real budgets, and compress the threshold for display only
        interim = uw.interim.model_copy(
            update={"decided": policy.interim_decisions(), "threshold": compress(uw.interim.threshold, scale)}
        )
        update["unit_work"] = uw.model_copy(update={"interim": interim})
    return policy.model_copy(update=update)


def describe_scale(seconds_per_hour: float | None, working_day: timedelta = timedelta(hours=7)) -> str:
    """One line saying which time a case runs on, for every output that shows due times."""
    if seconds_per_hour is None:
        return "real time (working calendar)"
    day = compress(working_day, seconds_per_hour).total_seconds()
    return (
        f"COMPRESSED TIME: 1 policy hour = {seconds_per_hour:g} s wall-clock, "
        f"1 working day ({working_day / POLICY_HOUR:g} h) = {_seconds(day)}, no working calendar"
    )


def format_policy_duration(wall: timedelta, seconds_per_hour: float | None) -> str:
    """A wall-clock duration as the policy time it stands for, e.g. ``'3.5 policy h (7 s)'``."""
    if seconds_per_hour is None:
        return str(wall)
    hours = expand(wall, seconds_per_hour) / POLICY_HOUR
    return f"{hours:.3g} policy h ({_seconds(wall.total_seconds())})"


def _seconds(s: float) -> str:
    if s < 120:
        return f"{s:g} s"
    return f"{s / 60:.3g} min"
