"""Metric plumbing without services: lifecycle counters, the Temporal metrics bridge, the HTTP endpoint.

The real worker's ``/metrics`` on the real stack is checked in tests/integration/test_worker_metrics.py.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.runtime import BUFFERED_METRIC_KIND_COUNTER, BUFFERED_METRIC_KIND_GAUGE, BUFFERED_METRIC_KIND_HISTOGRAM

from activities.instruments import PublishedEventMetrics
from events.base import SYSTEM_ACTOR, UnitKind, UnitRef
from events.schemas import CaseEvent, ClockKind, EscalationLevel, EscalationRaised, SlaBreached
from workers.observability import Health, MetricsServer, TemporalMetricsBridge, open_cases_query

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
UNIT = UnitRef(kind=UnitKind.DEPARTMENT, id="water-unit-test")


def breach(case_id: str, seq: int) -> SlaBreached:
    return SlaBreached(
        event_id=f"{case_id}:{seq}",
        case_id=case_id,
        seq=seq,
        occurred_at=T0,
        actor=SYSTEM_ACTOR,
        clock_id="c1",
        kind=ClockKind.RESOLVE,
        unit=UNIT,
        due_at=T0,
    )


def escalation(case_id: str, seq: int) -> EscalationRaised:
    return EscalationRaised(
        event_id=f"{case_id}:{seq}",
        case_id=case_id,
        seq=seq,
        occurred_at=T0,
        actor=SYSTEM_ACTOR,
        level=EscalationLevel.SUPERVISION,
        unit=UNIT,
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_published_events_are_counted_once_per_process_with_their_latency() -> None:
    metrics = PublishedEventMetrics(remember=3)
    breaches = lambda: sample("gridcase_sla_breaches_total", clock="resolve", unit="department:water-unit-test")  # noqa: E731
    escalations = lambda: sample("gridcase_escalations_total", level="supervision", unit="department:water-unit-test")  # noqa: E731
    latency_n, latency_sum = (
        sample("gridcase_event_publish_latency_seconds_count"),
        sample("gridcase_event_publish_latency_seconds_sum"),
    )
    b0, e0 = breaches(), escalations()

    batch: list[CaseEvent] = [breach("U1", 1), escalation("U1", 2)]
    assert metrics.observe(batch, acked_at=T0 + timedelta(seconds=2)) == 2
    assert metrics.observe(batch, acked_at=T0 + timedelta(seconds=9)) == 0  # a retried batch
    assert (breaches() - b0, escalations() - e0) == (1, 1)
    assert sample("gridcase_event_publish_latency_seconds_count") - latency_n == 2
    assert sample("gridcase_event_publish_latency_seconds_sum") - latency_sum == pytest.approx(4.0)
    # the memory is bounded: the oldest ids are forgotten first
    assert metrics.observe([breach("U2", 1), breach("U3", 1), breach("U4", 1)], acked_at=T0) == 3
    assert metrics.observe([breach("U1", 1)], acked_at=T0) == 1
    with pytest.raises(ValueError, match="remember: must be at least 1"):
        PublishedEventMetrics(remember=0)


@dataclass
class _Metric:
    name: str
    kind: int
    unit: str | None = None
    description: str | None = None


@dataclass
class _Update:
    metric: _Metric
    value: float
    attributes: dict[str, object]


class _Buffer:
    def __init__(self) -> None:
        self.pending: list[_Update] = []

    def retrieve_updates(self) -> list[_Update]:
        out, self.pending = self.pending, []
        return out


def test_bridge_turns_buffered_sdk_updates_into_prometheus_series() -> None:
    buffer = _Buffer()
    bridge = TemporalMetricsBridge(buffer)  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(bridge)
    polls = _Metric("temporal_workflow_task_queue_poll_succeed", BUFFERED_METRIC_KIND_COUNTER, description="polls")
    local = _Metric("temporal_local_activity_total", BUFFERED_METRIC_KIND_COUNTER)
    slots = _Metric("temporal_worker_task_slots_available", BUFFERED_METRIC_KIND_GAUGE)
    latency = _Metric("temporal_workflow_task_schedule_to_start_latency", BUFFERED_METRIC_KIND_HISTOGRAM, "s")
    tq = {"task_queue": "q", "eager": True}
    buffer.pending = [
        _Update(polls, 2, tq),
        _Update(polls, 3, tq),
        _Update(slots, 100, tq),
        _Update(slots, 98, tq),
        _Update(local, 4, tq),
        _Update(latency, 0.004, tq),
        _Update(latency, 0.2, tq),
        _Update(latency, 7200.0, tq),
    ]
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    labels = {"task_queue": "q", "eager": "true"}

    def get(family: str, sample: str, **extra: str) -> float:
        return next(s.value for s in families[family].samples if s.name == sample and s.labels == {**labels, **extra})

    assert families["temporal_workflow_task_queue_poll_succeed"].type == "counter"
    assert get("temporal_workflow_task_queue_poll_succeed", "temporal_workflow_task_queue_poll_succeed_total") == 5
    assert get("temporal_worker_task_slots_available", "temporal_worker_task_slots_available") == 98
    assert get("temporal_local_activity", "temporal_local_activity_total") == 4  # never _total_total
    h = "temporal_workflow_task_schedule_to_start_latency_seconds"
    assert families[h].type == "histogram"
    assert get(h, f"{h}_bucket", le="0.005") == 1
    assert get(h, f"{h}_bucket", le="0.25") == 2
    assert get(h, f"{h}_bucket", le="3600.0") == 2
    assert get(h, f"{h}_bucket", le="+Inf") == 3
    assert get(h, f"{h}_count") == 3
    assert get(h, f"{h}_sum") == pytest.approx(7200.204)
    # counters accumulate across drains
    buffer.pending = [_Update(polls, 1, tq)]
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert get("temporal_workflow_task_queue_poll_succeed", "temporal_workflow_task_queue_poll_succeed_total") == 6


def test_metrics_server_serves_metrics_liveness_and_readiness() -> None:
    health = Health(stale_after_s=60)
    registry = CollectorRegistry()
    server = MetricsServer("127.0.0.1", _free_port(), health, registry)
    assert server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 503
        health.ready = True
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/metrics").status_code == 200
        assert httpx.get(f"{base}/nothing").status_code == 404
        stale = Health(stale_after_s=0.0)
        assert not stale.alive()
        # a second server on the same port does not start (and says so) instead of crashing the process
        assert not MetricsServer("127.0.0.1", server.port or 0, health, registry).start()
    finally:
        server.stop()


def test_open_cases_query_names_the_task_queue_and_state_and_refuses_quotes() -> None:
    q = open_cases_query("gridcase-cases", "handling")
    assert "TaskQueue='gridcase-cases'" in q and "GridcaseStatus='handling'" in q and "ExecutionStatus='Running'" in q
    with pytest.raises(ValueError, match="task_queue: must not contain quotes"):
        open_cases_query("x' OR '1'='1", "handling")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
