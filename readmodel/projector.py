"""The projector: a Kafka consumer group that keeps the read model up to date.

It reads the department-safe ``case-events`` topic as one consumer group (``GRIDCASE_PROJECTOR_GROUP_ID``), validates
each record with the same envelope code as :func:`events.consumer.consume`, dead-letters records
that are not valid gridcase events in the same format, and applies each poll's events to the
tables with :func:`readmodel.db.apply_events` in **one transaction**. Offsets are committed only
after that transaction committed, so a crash replays at most one batch, which the per-case
``last_seq`` makes harmless. (``consume`` calls its handler once per event and commits after the
poll, which leaves no place to commit the database first: hence this loop of its own.)

If the database is unavailable the batch is retried (offsets stay put) until it succeeds or the
projector is stopped. If a batch fails for another reason, its events are applied one by one and
the one that fails is dead-lettered with reason ``handler_failed``.

Prometheus metrics (served on ``GRIDCASE_PROJECTOR_METRICS_PORT`` by ``gridcase projector``):
``gridcase_projector_events_applied_total{type}``, ``gridcase_projector_events_skipped_total``,
``gridcase_projector_dead_lettered_total{reason}``, ``gridcase_projector_batch_seconds``,
``gridcase_projector_lag_records{partition}``, ``gridcase_projector_lag_seconds``,
``gridcase_projector_last_applied_timestamp_seconds`` and ``gridcase_readmodel_open_cases{status}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import InterfaceError, OperationalError

from events.config import KafkaSource, kafka_config
from events.consumer import _dead_letter_record
from events.envelope import EnvelopeError, from_cloudevent
from events.producer import LazyProducer
from events.schemas import CaseEvent
from events.topics import topic_names
from readmodel import tables as t
from readmodel.db import apply_events
from readmodel.projection import TERMINAL_STATUSES

log = logging.getLogger("gridcase.projector")

#: The consumer group of the projector when none is given (``GRIDCASE_PROJECTOR_GROUP_ID``'s default).
DEFAULT_GROUP_ID = "gridcase-projector"

EVENTS_APPLIED = Counter("gridcase_projector_events_applied", "Case events applied to the read model.", ["type"])
EVENTS_SKIPPED = Counter(
    "gridcase_projector_events_skipped", "Case events skipped: already applied (at or below the case's last seq)."
)
DEAD_LETTERED = Counter(
    "gridcase_projector_dead_lettered", "Records the projector sent to the dead-letter topic.", ["reason"]
)
BATCH_SECONDS = Histogram(
    "gridcase_projector_batch_seconds",
    "Time to apply one batch in one database transaction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
LAG_RECORDS = Gauge(
    "gridcase_projector_lag_records",
    "Records on the case-events topic not yet applied, per partition.",
    ["partition"],
)
LAG_SECONDS = Gauge(
    "gridcase_projector_lag_seconds",
    "How far the read model is behind: age of the last applied record while records wait (0 when caught up).",
)
LAST_APPLIED = Gauge(
    "gridcase_projector_last_applied_timestamp_seconds", "occurred_at of the latest event applied (Unix time)."
)
OPEN_CASES = Gauge("gridcase_readmodel_open_cases", "Open cases in the read model by status.", ["status"])


@dataclass
class ProjectorStats:
    """What one :meth:`Projector.run` did."""

    polled: int = 0
    applied: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    batches: int = 0
    db_retries: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def open_cases_by_status(engine: Engine) -> dict[str, int]:
    """Number of non-terminal cases per status in the read model."""
    c = t.cases.c
    q = select(c.status, func.count()).where(c.status.not_in(sorted(TERMINAL_STATUSES))).group_by(c.status)
    with engine.connect() as conn:
        return {str(s): int(n) for s, n in conn.execute(q)}


class Projector:
    """Applies the case-events topic to the read model as a member of a consumer group.

    Args:
        kafka: the broker and the topic names (a :class:`~events.config.KafkaConfig`, or settings carrying one).
        engine: the read-model database (already migrated).
        group_id: consumer group.
        max_poll_records: upper bound of a batch (one transaction per batch).
    """

    def __init__(
        self,
        kafka: KafkaSource,
        engine: Engine,
        *,
        group_id: str = DEFAULT_GROUP_ID,
        max_poll_records: int = 2000,
        poll_timeout_s: float = 0.5,
    ) -> None:
        self.kafka = kafka_config(kafka)
        self.engine = engine
        self.group_id = group_id
        self.max_poll_records = max_poll_records
        self.poll_timeout_s = poll_timeout_s
        self.topic = topic_names(self.kafka).case_events
        self.dead_letter_topic = topic_names(self.kafka).dead_letter
        self._gauge_statuses: set[str] = set()
        self._last_gauges = 0.0

    # --- the loop -----------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event | None = None,
        *,
        until_caught_up: bool = False,
        stop_after: float | None = None,
        on_batch: Callable[[ProjectorStats], None] | None = None,
    ) -> ProjectorStats:
        """Consume and apply until ``stop`` is set (the current batch finishes first).

        Args:
            stop: set it to stop after the current batch.
            until_caught_up: stop once every partition of the topic is read to its end (meant for a
                consumer alone in its group: rebuilds, syncs, tests).
            stop_after: stop after this many seconds.
            on_batch: called after each committed batch (for progress output).
        """
        from kafka import KafkaConsumer, TopicPartition
        from kafka.structs import OffsetAndMetadata

        stop = stop or threading.Event()
        stats = ProjectorStats()
        deadline = None if stop_after is None else time.monotonic() + stop_after
        dlq = LazyProducer(self.kafka, client_id=f"gridcase-dlq-{self.group_id}")
        consumer = KafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap,
            group_id=self.group_id,
            client_id=f"gridcase-projector-{self.group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a new read model needs the whole retained log
            max_poll_records=self.max_poll_records,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            # After a broker restart, reconnect within a second (the client's default backs off up to 30 s), and
            # a member that died without leaving hands its partitions over after 10 s instead of 45 s.
            reconnect_backoff_max_ms=1000,
            session_timeout_ms=10_000,
        )
        last_applied_ts: dict[Any, float] = {}  # partition -> timestamp (s) of its last applied record

        def dead_letter(record: Any, reason: str, error: str) -> None:
            key, value, headers = _dead_letter_record(record, reason, error, self.group_id)
            producer = dlq.get()
            try:
                producer.send(self.dead_letter_topic, value=value, key=key, headers=headers).get(timeout=dlq.timeout_s)
            except Exception:
                dlq.reset(producer)
                raise
            stats.dead_lettered += 1
            stats.reasons[reason] = stats.reasons.get(reason, 0) + 1
            DEAD_LETTERED.labels(reason).inc()
            log.warning("dead-lettered %s[%d]@%d: %s: %s", record.topic, record.partition, record.offset, reason, error)

        def caught_up() -> bool:
            """Every partition of the topic is assigned to this member and read to its end."""
            assigned = consumer.assignment()
            partitions = consumer.partitions_for_topic(self.topic) or set()
            if not assigned or {tp.partition for tp in assigned if tp.topic == self.topic} != partitions:
                return False
            ends = consumer.end_offsets(list(assigned))
            return all(consumer.position(tp) >= ends[tp] for tp in assigned)

        try:
            consumer.subscribe([self.topic])
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                batches = consumer.poll(timeout_ms=int(self.poll_timeout_s * 1000))
                records = [r for recs in batches.values() for r in recs]
                if records:
                    stats.polled += len(records)
                    for tp, recs in batches.items():
                        last_applied_ts[tp.partition] = recs[-1].timestamp / 1000.0
                    parsed: list[tuple[Any, CaseEvent]] = []
                    for record in records:
                        try:
                            _, event = from_cloudevent(record.value if record.value is not None else b"")
                        except EnvelopeError as exc:
                            dead_letter(record, exc.reason, exc.detail)
                            continue
                        parsed.append((record, event))
                    if not self._apply(parsed, stats, stop, dead_letter):
                        break  # stopped while the database was unavailable: commit nothing
                    offsets = {
                        TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(recs[-1].offset + 1, "", -1)
                        for tp, recs in batches.items()
                    }
                    if not self._commit(consumer, offsets, stop):
                        break
                    stats.batches += 1
                    if on_batch is not None:
                        on_batch(stats)
                self._update_gauges(consumer, last_applied_ts, force=not records)
                if until_caught_up and not records and caught_up():
                    break
        finally:
            try:
                consumer.close(autocommit=False)
            finally:
                dlq.close()
        return stats

    @staticmethod
    def _commit(consumer: Any, offsets: dict[Any, Any], stop: threading.Event) -> bool:
        """Commit a batch's offsets after the database took it; False if stopped before that succeeded.

        While the broker is away the commit is retried (the batch is safe in the database, and re-reading it
        after a restart is harmless). If the group rebalanced meanwhile the commit is refused for good and
        the partition's new owner re-reads the batch, equally harmlessly.
        """
        from kafka.errors import CommitFailedError, KafkaError

        delay = 0.5
        while True:
            try:
                consumer.commit(offsets, timeout_ms=5000)
                return True
            except CommitFailedError as exc:
                log.warning("offsets not committed, the group rebalanced (%s); the batch will be re-read", exc)
                return True
            except KafkaError as exc:
                log.warning("committing offsets failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, 2.0)

    def _apply(
        self,
        parsed: list[tuple[Any, CaseEvent]],
        stats: ProjectorStats,
        stop: threading.Event,
        dead_letter: Callable[[Any, str, str], None],
    ) -> bool:
        """Apply one batch in one transaction; False if stopped before the database took it."""
        events = [e for _, e in parsed]
        delay = 0.5
        while True:
            started = time.perf_counter()
            try:
                result = apply_events(self.engine, events)
            except (OperationalError, InterfaceError) as exc:
                stats.db_retries += 1
                log.warning("read-model database unavailable (%s); retrying in %.1fs", exc.__class__.__name__, delay)
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, 10.0)
                continue
            except Exception:
                log.exception("batch of %d events failed; applying them one by one", len(events))
                break
            BATCH_SECONDS.observe(time.perf_counter() - started)
            self._count(result.types, result.skipped, result.applied, result.last_occurred_at, stats)
            return True
        for record, event in parsed:
            try:
                result = apply_events(self.engine, [event])
            except Exception as exc:
                dead_letter(record, "handler_failed", f"{event.event_id}: {type(exc).__name__}: {exc}")
                continue
            self._count(result.types, result.skipped, result.applied, result.last_occurred_at, stats)
        return True

    @staticmethod
    def _count(types: dict[str, int], skipped: int, applied: int, last: datetime | None, stats: ProjectorStats) -> None:
        for name, n in types.items():
            EVENTS_APPLIED.labels(name).inc(n)
        if skipped:
            EVENTS_SKIPPED.inc(skipped)
        stats.applied += applied
        stats.skipped += skipped
        if last is not None:
            LAST_APPLIED.set(last.timestamp())

    def _update_gauges(self, consumer: Any, last_applied_ts: dict[int, float], *, force: bool) -> None:
        """Lag per partition and seconds behind, open cases by status (at most once a second)."""
        now = time.monotonic()
        if not force and now - self._last_gauges < 1.0:
            return
        self._last_gauges = now
        try:
            assigned = list(consumer.assignment())
            if assigned:
                ends = consumer.end_offsets(assigned)
                behind = 0.0
                for tp in assigned:
                    lag = max(0, ends[tp] - consumer.position(tp))
                    LAG_RECORDS.labels(str(tp.partition)).set(lag)
                    if lag and tp.partition in last_applied_ts:
                        behind = max(behind, datetime.now(UTC).timestamp() - last_applied_ts[tp.partition])
                LAG_SECONDS.set(behind)
            counts = open_cases_by_status(self.engine)
            for status in self._gauge_statuses - counts.keys():
                OPEN_CASES.labels(status).set(0)
            for status, n in counts.items():
                OPEN_CASES.labels(status).set(n)
            self._gauge_statuses |= counts.keys()
        except Exception as exc:  # gauges must never stop the projection
            log.warning("could not update projector gauges: %s", exc)
