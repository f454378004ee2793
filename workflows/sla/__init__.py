"""The SLA layer: working-time calendar, SLA policy and clock arithmetic.

Pure and deterministic (stdlib, pydantic and :mod:`events` only), so the case workflow can use it
inside the Temporal sandbox. Building a calendar from ``chinese_calendar`` and loading a policy
file do I/O and happen outside the workflow (their third-party imports are lazy).
"""

from __future__ import annotations

from workflows.sla.calendar import (
    CalendarCoverage,
    CalendarError,
    CalendarOverrideError,
    WorkCalendar,
    build_calendar,
    calendar_coverage,
    read_override,
)
from workflows.sla.clocks import (
    Alarm,
    Clock,
    ClockStatus,
    extend,
    fire_due,
    next_alarm,
    pause,
    resolve_recipients,
    resume,
    start_clock,
    stop,
)
from workflows.sla.policy import (
    Basis,
    ClockPolicy,
    ClockRule,
    DurationSpec,
    HierarchyLevel,
    PolicyError,
    Rung,
    SlaPolicy,
    check_categories,
    default_policy,
    load_policy,
)

__all__ = [
    "Alarm",
    "Basis",
    "CalendarCoverage",
    "CalendarError",
    "CalendarOverrideError",
    "Clock",
    "ClockPolicy",
    "ClockRule",
    "ClockStatus",
    "DurationSpec",
    "HierarchyLevel",
    "PolicyError",
    "Rung",
    "SlaPolicy",
    "WorkCalendar",
    "build_calendar",
    "calendar_coverage",
    "check_categories",
    "default_policy",
    "extend",
    "fire_due",
    "load_policy",
    "next_alarm",
    "pause",
    "read_override",
    "resolve_recipients",
    "resume",
    "start_clock",
    "stop",
]
