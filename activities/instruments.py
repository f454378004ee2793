"""Prometheus instruments of the case lifecycle, counted where every event passes: the publishing path.

(The closed-loop KPIs of the read model are another thing: :mod:`readmodel.kpis`.)

The Kafka event sink behind the publishing activity calls :meth:`PublishedEventMetrics.observe` once
the broker acknowledged a batch. Workflow code never counts anything (it replays); activities run once per attempt, and
a batch is re-sent only when an attempt did not complete, so an event is counted once per worker
process (a bounded memory of recently counted event ids absorbs retries that land on the same
process). A retry landing on another worker process after a worker crash can count an event
twice: these counters are for dashboards and alerts, the read model is the record.

Metrics (all prefixed ``gridcase_``):

``cases_opened_total{channel}``
    ``case.received`` events: cases opened (受理), by intake channel.
``cases_closed_total{closure_type}``
    ``case.closed`` events (结案), by closure type (normal, overdue, error, special).
``cases_reopened_total``
    ``case.reopened`` events (an unsatisfied callback or a failed check sent the case back).
``sla_warnings_total{clock, unit}`` / ``sla_breaches_total{clock, unit}``
    SLA warnings and breaches by clock kind (accept, contact, report_in, resolve, ...) and unit
    (``street:S-1``, ``department:water``...).
``escalations_total{level, unit}``
    Escalation rungs raised (reminder 催办, supervision 督办, public_notice 通报) by unit.
``replies_submitted_total{unit}`` / ``replies_sent_back_total{unit}`` / ``replies_approved_total{unit, approver}``
    Internal review (审核签发): replies submitted, sent back to the handler, and signed off (by whom).
``interim_replies_total{unit, on_time}``
    Interim replies (阶段性答复) to the resident, on time or late.
``corrections_total{kind, unit, category}``
    Corrections by the hotline: ``reclassified`` (with the new category), ``urgency_changed``,
    ``relocated``; ``unit`` is the unit handling the case then (``hotline`` before a dispatch).
``event_publish_latency_seconds``
    From an event's ``occurred_at`` to the broker's acknowledgement of its batch. Normally well under
    a second; it grows while the broker is unreachable (events wait in the workflow, in order).
``event_last_published_timestamp_seconds``
    Wall-clock time of the last acknowledged batch.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from events.base import UnitKind
from events.schemas import (
    CaseClosed,
    CaseDispatched,
    CaseEvent,
    CaseReceived,
    CaseReclassified,
    CaseRelocated,
    CaseReopened,
    CaseReturned,
    EscalationRaised,
    InterimReplied,
    ReplyApproved,
    ReplySentBack,
    ReplySubmitted,
    SlaBreached,
    SlaWarningRaised,
    UrgencyChanged,
    VolunteersCalled,
    VolunteersReleased,
    VolunteersReported,
    WhistleBlown,
)

CASES_OPENED = Counter("gridcase_cases_opened_total", "Cases opened (case.received), by intake channel.", ["channel"])
CASES_CLOSED = Counter("gridcase_cases_closed_total", "Cases closed (case.closed), by closure type.", ["closure_type"])
CASES_REOPENED = Counter("gridcase_cases_reopened_total", "Cases reopened (case.reopened).")
SLA_WARNINGS = Counter("gridcase_sla_warnings_total", "SLA warnings raised, by clock kind and unit.", ["clock", "unit"])
SLA_BREACHES = Counter("gridcase_sla_breaches_total", "SLA breaches, by clock kind and unit.", ["clock", "unit"])
ESCALATIONS = Counter(
    "gridcase_escalations_total", "Escalation rungs raised (催办, 督办, 通报), by level and unit.", ["level", "unit"]
)
REPLIES_SUBMITTED = Counter(
    "gridcase_replies_submitted_total", "Replies submitted for internal review (报审), by unit.", ["unit"]
)
REPLIES_APPROVED = Counter(
    "gridcase_replies_approved_total", "Replies signed off (审核签发), by unit and approver.", ["unit", "approver"]
)
REPLIES_SENT_BACK = Counter(
    "gridcase_replies_sent_back_total", "Replies sent back to the handler (退回重办), by unit.", ["unit"]
)
INTERIM_REPLIES = Counter(
    "gridcase_interim_replies_total", "Interim replies (阶段性答复), by unit and on time or late.", ["unit", "on_time"]
)
CORRECTIONS = Counter(
    "gridcase_corrections_total",
    "Corrections by the hotline (改类, 加急/降级, 改址), by kind, unit handling the case and category.",
    ["kind", "unit", "category"],
)
DELEGATIONS = Counter(
    "gridcase_delegations_total",
    "Cases passed down to a property company (下派物业), by the delegating unit and the company.",
    ["by", "company"],
)
PROPERTY_RETURNS = Counter(
    "gridcase_property_returns_total", "Delegated cases a property company returned, by company.", ["company"]
)
COMPANIES_SUMMONED = Counter(
    "gridcase_companies_summoned_total", "Property companies summoned by a whistle (吹哨), by company.", ["company"]
)
VOLUNTEER_CALLS = Counter(
    "gridcase_volunteer_calls_total",
    "Volunteer team calls (志愿者召集), by team and outcome (called, reported, released).",
    ["team", "outcome"],
)
PUBLISH_LATENCY = Histogram(
    "gridcase_event_publish_latency_seconds",
    "Time from an event's occurred_at to the broker's acknowledgement of its batch.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)
LAST_PUBLISHED = Gauge(
    "gridcase_event_last_published_timestamp_seconds", "Unix time of the last batch the broker acknowledged."
)

#: How many recently counted event ids a process remembers (absorbs retried batches).
REMEMBERED_EVENT_IDS = 50_000


class PublishedEventMetrics:
    """Counts acknowledged events once per process; thread-safe (activities run on a thread pool)."""

    def __init__(self, remember: int = REMEMBERED_EVENT_IDS) -> None:
        if remember < 1:
            raise ValueError(f"remember: must be at least 1, got {remember}")
        self._remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _first_time(self, events: Sequence[CaseEvent]) -> list[CaseEvent]:
        fresh: list[CaseEvent] = []
        with self._lock:
            for event in events:
                if event.event_id in self._seen:
                    self._seen.move_to_end(event.event_id)
                    continue
                self._seen[event.event_id] = None
                fresh.append(event)
            while len(self._seen) > self._remember:
                self._seen.popitem(last=False)
        return fresh

    def observe(self, events: Sequence[CaseEvent], acked_at: datetime | None = None) -> int:
        """Record a batch the broker acknowledged at ``acked_at`` (default: now); returns events counted."""
        acked = acked_at or datetime.now(UTC)
        fresh = self._first_time(events)
        for event in fresh:
            occurred = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
            PUBLISH_LATENCY.observe(max((acked - occurred).total_seconds(), 0.0))
            if isinstance(event, CaseReceived):
                CASES_OPENED.labels(channel=event.channel.value).inc()
            elif isinstance(event, CaseClosed):
                CASES_CLOSED.labels(closure_type=event.closure_type.value).inc()
            elif isinstance(event, CaseReopened):
                CASES_REOPENED.inc()
            elif isinstance(event, SlaWarningRaised):
                SLA_WARNINGS.labels(clock=event.kind.value, unit=event.unit.key()).inc()
            elif isinstance(event, SlaBreached):
                SLA_BREACHES.labels(clock=event.kind.value, unit=event.unit.key()).inc()
            elif isinstance(event, EscalationRaised):
                ESCALATIONS.labels(level=event.level.value, unit=event.unit.key()).inc()
            elif isinstance(event, ReplySubmitted):
                REPLIES_SUBMITTED.labels(unit=event.unit.key()).inc()
            elif isinstance(event, ReplyApproved):
                REPLIES_APPROVED.labels(unit=event.unit.key(), approver=event.approved_by).inc()
            elif isinstance(event, ReplySentBack):
                REPLIES_SENT_BACK.labels(unit=event.unit.key()).inc()
            elif isinstance(event, InterimReplied):
                INTERIM_REPLIES.labels(unit=event.unit.key(), on_time=str(event.on_time).lower()).inc()
            elif isinstance(event, CaseReclassified | UrgencyChanged | CaseRelocated):
                _count_correction(event)
            else:
                _count_unit_kinds(event)
        if events:
            LAST_PUBLISHED.set(time.time())
        return len(fresh)


_CORRECTION_KIND = {CaseReclassified: "reclassified", UrgencyChanged: "urgency_changed", CaseRelocated: "relocated"}


def _count_correction(event: CaseReclassified | UrgencyChanged | CaseRelocated) -> None:
    """A correction, counted under the unit that had the case and the category it ended in."""
    category = event.category if isinstance(event, CaseReclassified) else ""
    CORRECTIONS.labels(
        kind=_CORRECTION_KIND[type(event)], unit=event.unit.key() if event.unit else "hotline", category=category
    ).inc()


_VOLUNTEER_OUTCOME = {VolunteersCalled: "called", VolunteersReported: "reported", VolunteersReleased: "released"}


def _count_unit_kinds(event: CaseEvent) -> None:
    """Property companies and volunteer teams at work: delegations and their returns, companies summoned,
    volunteer calls and how they ended."""
    if isinstance(event, CaseDispatched) and event.by is not None and event.unit.kind == UnitKind.PROPERTY:
        DELEGATIONS.labels(by=event.by.key(), company=event.unit.id).inc()
    elif isinstance(event, CaseReturned) and event.unit.kind == UnitKind.PROPERTY:
        PROPERTY_RETURNS.labels(company=event.unit.id).inc()
    elif isinstance(event, WhistleBlown):
        for task in event.tasks:
            if task.unit_kind == UnitKind.PROPERTY:
                COMPANIES_SUMMONED.labels(company=task.department_id).inc()
    elif isinstance(event, VolunteersCalled | VolunteersReported | VolunteersReleased):
        VOLUNTEER_CALLS.labels(team=event.team_id, outcome=_VOLUNTEER_OUTCOME[type(event)]).inc()


#: The process-wide instance the publishing activity uses by default.
PUBLISHED_EVENTS = PublishedEventMetrics()
