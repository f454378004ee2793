"""The Kafka :class:`~activities.publishing.EventSink`: what ``publish_case_events`` sends through.

``KafkaEventSink.send(case_id, events)`` sends each event, in order, keyed by the case id:

* to ``<prefix>.case-events.v1`` with personal data masked (department-safe);
* to ``<prefix>.case-events-restricted.v1`` unmasked (the hotline's copy);
* SLA warnings, breaches and escalation rungs also to ``<prefix>.sla-alerts.v1`` (masked);

then flushes and checks every delivery; any failure raises, so the Temporal activity retries.
A retry re-sends the whole batch: consumers see duplicates (they deduplicate on the event id)
but never a gap or a reordering, because the workflow sends the next batch only after this one
succeeded and the producer keeps per-partition order under its own retries (idempotent, one
request in flight). After a failure the producer is closed and rebuilt on the next send.
Acknowledged events feed the lifecycle instruments of :mod:`activities.instruments`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Histogram

from activities.instruments import PUBLISHED_EVENTS, PublishedEventMetrics
from events.config import KafkaSource
from events.envelope import to_cloudevent
from events.producer import LazyProducer
from events.schemas import CaseEvent, event_type
from events.topics import is_sla_alert, topic_names

log = logging.getLogger(__name__)

EVENTS_PUBLISHED = Counter(
    "gridcase_events_published_total",
    "Case events acknowledged by Kafka, per topic and event type.",
    ["topic", "type"],
)
PUBLISH_FAILURES = Counter(
    "gridcase_event_publish_failures_total",
    "Failed publish_case_events batches, per error class.",
    ["error"],
)
PUBLISH_SECONDS = Histogram(
    "gridcase_event_publish_seconds",
    "Time to publish one batch of case events and have every record acknowledged.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


# CloudEvents Kafka protocol binding, structured content mode.
_HEADERS = [("content-type", b"application/cloudevents+json; charset=utf-8")]


class PublishError(RuntimeError):
    """A batch was not (fully) acknowledged by Kafka."""


class KafkaEventSink:
    """Sends case events to Kafka. Lazily connected; safe to share between activity threads."""

    def __init__(
        self,
        kafka: KafkaSource,
        *,
        timeout_s: float = 10.0,
        keep_restricted: bool = True,
        metrics: PublishedEventMetrics = PUBLISHED_EVENTS,
    ) -> None:
        self._metrics = metrics
        self._topics = topic_names(kafka)
        self._keep_restricted = keep_restricted
        self._timeout_s = timeout_s
        self._producer = LazyProducer(kafka, timeout_s=timeout_s, client_id="gridcase-publisher")

    def _records(self, case_id: str, events: Sequence[CaseEvent]) -> list[tuple[str, bytes, str]]:
        records: list[tuple[str, bytes, str]] = []
        for event in events:
            if event.case_id != case_id:
                raise ValueError(f"event {event.event_id} is not of case {case_id}")
            etype = event_type(event)
            masked = to_cloudevent(event, mask_pii=True)
            records.append((self._topics.case_events, masked, etype))
            if self._keep_restricted:
                records.append((self._topics.case_events_restricted, to_cloudevent(event, mask_pii=False), etype))
            if is_sla_alert(etype):
                records.append((self._topics.sla_alerts, masked, etype))
        return records

    def send(self, case_id: str, events: Sequence[CaseEvent]) -> None:
        """Deliver ``events`` (one case, ascending seq); raises :class:`PublishError` if not all acked."""
        if not events:
            return
        records = self._records(case_id, events)  # encoding errors raise before anything is sent
        key = case_id.encode()
        started = time.monotonic()
        producer: Any = None
        try:
            producer = self._producer.get()
            futures = []
            for topic, value, etype in records:
                futures.append((topic, etype, producer.send(topic, value=value, key=key, headers=_HEADERS)))
            producer.flush(timeout=self._timeout_s)
            for _topic, _etype, fut in futures:
                fut.get(timeout=0.1)  # raises the delivery error, if any
        except Exception as exc:
            PUBLISH_FAILURES.labels(error=type(exc).__name__).inc()
            log.warning("publishing %d events of case %s failed: %r", len(events), case_id, exc)
            self._producer.reset(producer)
            raise PublishError(f"publishing {len(events)} events of case {case_id} failed: {exc!r}") from exc
        PUBLISH_SECONDS.observe(time.monotonic() - started)
        self._metrics.observe(events)  # lifecycle counters and occurred_at → ack latency
        for topic, _value, etype in records:
            EVENTS_PUBLISHED.labels(topic=topic, type=etype).inc()

    def close(self) -> None:
        self._producer.close()
