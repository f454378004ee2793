"""Consume case events: validate, filter by department/street/case, deduplicate, dead-letter.

:func:`consume` subscribes to ``<prefix>.case-events.v1`` (the department-safe topic) and calls
``handler(envelope, event)`` for each new event, in per-case order.

* **Validation.** Every record goes through :func:`events.envelope.from_cloudevent`. A record that
  fails (not JSON, not a CloudEvent, not a valid gridcase event) is written to
  ``<prefix>.dead-letter.v1`` and skipped: the partition never blocks on it.
* **Deduplication.** Per case, the last handled ``seq`` is kept (order per case holds, so that is
  enough); a record with ``seq <=`` that is a duplicate (a retried publish) and is skipped. The
  memory is bounded (``max_tracked_cases``, least recently seen cases forgotten first).
* **Filtering.** ``case_id`` keeps one case. ``department`` keeps the cases the department is
  involved in, learned from the events themselves: ``case.dispatched``/``case.accepted``/... to a
  ``department`` unit, a ``case.whistle_blown`` task for it, a ``department_id`` on the event.
  ``street`` keeps cases located in the street (``case.received`` ``location.street_id``), or
  dispatched to it, or where it blew the whistle. When a case becomes involved, the events of
  that case seen earlier in this session (up to ``max_backlog_per_case``, e.g. its
  ``case.received``) are handed to the handler first, in order, so a department gets the case's
  context. Involvement is learned from what this consumer reads: a consumer that starts in the
  middle of the log does not know earlier involvements (use ``from_beginning=True`` to rebuild).
* **Offsets.** ``enable_auto_commit=False``; offsets are committed after the records of a poll
  were handled (and when stopping), never before: delivery to the handler is at-least-once, so
  the handler must be idempotent (the event id ``case_id:seq`` is a natural key).
* **Handler errors.** A handler exception is retried ``handler_attempts`` times in total (with a
  short backoff); if it still fails the record is dead-lettered with reason ``handler_failed``
  and the consumer goes on. Raise :class:`StopConsuming` from the handler to stop cleanly.

Dead-letter records: key = the original key, headers ``dlq.reason``, ``dlq.topic``,
``dlq.partition``, ``dlq.offset``, ``dlq.group``, and a JSON value::

    {"reason": "invalid_json", "error": "...", "topic": "...", "partition": 0, "offset": 41,
     "timestamp_ms": ..., "key": "C-1", "group_id": "...", "failed_at": "...",
     "original_b64": "<the original value, base64>"}
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from events.base import UnitKind, UnitRef
from events.config import KafkaSource, kafka_config
from events.envelope import EnvelopeError, from_cloudevent
from events.producer import LazyProducer
from events.schemas import CaseEvent, CaseReceived, WhistleBlown
from events.topics import topic_names

log = logging.getLogger(__name__)

Envelope = dict[str, Any]
Handler = Callable[[Envelope, CaseEvent], None]


class StopConsuming(Exception):
    """Raise from a handler to stop :func:`consume` after committing what was handled."""


@dataclass
class ConsumeStats:
    """What one :func:`consume` call did."""

    handled: int = 0  # handler calls that succeeded
    duplicates: int = 0
    filtered: int = 0  # valid events not for this consumer (yet)
    dead_lettered: int = 0
    gaps: int = 0  # a seq jumped forward (e.g. started mid-log)
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class _CaseState:
    last_seq: int = 0
    departments: set[str] = field(default_factory=set)
    streets: set[str] = field(default_factory=set)
    delivered: bool = False  # the case matched the filter at some point
    backlog: list[tuple[Envelope, CaseEvent, Any]] = field(default_factory=list)


def involvement(event: CaseEvent) -> tuple[set[str], set[str]]:
    """(departments, streets) an event involves in its case (property companies and volunteer teams
    summoned or called are not departments: see :func:`other_units`)."""
    departments: set[str] = set()
    streets: set[str] = set()
    unit = getattr(event, "unit", None)
    if unit is not None:
        if unit.kind == UnitKind.DEPARTMENT:
            departments.add(unit.id)
        elif unit.kind == UnitKind.STREET:
            streets.add(unit.id)
    dept = getattr(event, "department_id", None)
    if isinstance(dept, str) and getattr(event, "unit_kind", UnitKind.DEPARTMENT) == UnitKind.DEPARTMENT:
        departments.add(dept)  # a summoned property company reports in under its own kind
    if isinstance(event, WhistleBlown):
        departments.update(t.department_id for t in event.tasks if t.unit_kind == UnitKind.DEPARTMENT)
        streets.add(event.street_id)
    if isinstance(event, CaseReceived):
        streets.add(event.location.street_id)
    return departments, streets


def other_units(event: CaseEvent) -> set[tuple[str, str]]:
    """``(unit_kind, id)`` of the property companies and volunteer teams an event involves: a case
    delegated or dispatched to a company, a company summoned by a whistle or reporting in, a
    volunteer team called, reporting or released."""
    out: set[tuple[str, str]] = set()
    for attr in ("unit", "by"):
        unit = getattr(event, attr, None)
        if isinstance(unit, UnitRef) and unit.kind in (UnitKind.PROPERTY, UnitKind.VOLUNTEER_TEAM):
            out.add((unit.kind.value, unit.id))
    dept = getattr(event, "department_id", None)
    if isinstance(dept, str) and getattr(event, "unit_kind", UnitKind.DEPARTMENT) == UnitKind.PROPERTY:
        out.add((UnitKind.PROPERTY.value, dept))
    if isinstance(event, WhistleBlown):
        out.update((t.unit_kind.value, t.department_id) for t in event.tasks if t.unit_kind == UnitKind.PROPERTY)
    team = getattr(event, "team_id", None)
    if isinstance(team, str):
        out.add((UnitKind.VOLUNTEER_TEAM.value, team))
    return out


class EventFilter:
    """The dedup + filter state of one consumer (pure, no I/O)."""

    def __init__(
        self,
        *,
        department: str | None = None,
        street: str | None = None,
        case_id: str | None = None,
        max_tracked_cases: int = 100_000,
        max_backlog_per_case: int = 50,
    ) -> None:
        self.department = department
        self.street = street
        self.case_id = case_id
        self._cases: OrderedDict[str, _CaseState] = OrderedDict()
        self._max_cases = max_tracked_cases
        self._max_backlog = max_backlog_per_case

    def _state(self, case_id: str) -> _CaseState:
        st = self._cases.get(case_id)
        if st is None:
            st = self._cases[case_id] = _CaseState()
            while len(self._cases) > self._max_cases:
                self._cases.popitem(last=False)
        else:
            self._cases.move_to_end(case_id)
        return st

    def accept(
        self, envelope: Envelope, event: CaseEvent, stats: ConsumeStats, *, raw: Any = None
    ) -> list[tuple[Envelope, CaseEvent, Any]]:
        """The events to hand to the handler now because of this one (possibly none).

        ``raw`` (the Kafka record) travels along so a failed backlog event can be dead-lettered.
        """
        if self.case_id is not None and event.case_id != self.case_id:
            stats.filtered += 1
            return []
        st = self._state(event.case_id)
        if event.seq <= st.last_seq:
            stats.duplicates += 1
            return []
        if event.seq > st.last_seq + 1 and st.last_seq > 0:
            stats.gaps += 1
            log.warning("case %s: seq jumped from %d to %d", event.case_id, st.last_seq, event.seq)
        st.last_seq = event.seq
        departments, streets = involvement(event)
        st.departments |= departments
        st.streets |= streets
        wanted = (self.department is None or self.department in st.departments) and (
            self.street is None or self.street in st.streets
        )
        if not wanted:
            stats.filtered += 1
            if self.department is not None or self.street is not None:
                st.backlog.append((envelope, event, raw))
                if len(st.backlog) > self._max_backlog:
                    st.backlog.pop(0)
            return []
        out = [*st.backlog, (envelope, event, raw)]
        stats.filtered -= len(st.backlog)
        st.backlog = []
        st.delivered = True
        return out


def _dead_letter_record(
    record: Any, reason: str, error: str, group_id: str
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    value: bytes = record.value if record.value is not None else b""
    key: bytes | None = record.key
    doc = {
        "reason": reason,
        "error": error[:4000],
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp,
        "key": key.decode(errors="replace") if key is not None else None,
        "group_id": group_id,
        "failed_at": datetime.now(UTC).isoformat(),
        "original_b64": base64.b64encode(value).decode(),
    }
    headers = [
        ("dlq.reason", reason.encode()),
        ("dlq.topic", record.topic.encode()),
        ("dlq.partition", str(record.partition).encode()),
        ("dlq.offset", str(record.offset).encode()),
        ("dlq.group", group_id.encode()),
    ]
    return key, json.dumps(doc, ensure_ascii=False).encode(), headers


def consume(
    handler: Handler,
    *,
    settings: KafkaSource,
    group_id: str,
    department: str | None = None,
    street: str | None = None,
    case_id: str | None = None,
    from_beginning: bool = False,
    stop_after: float | None = None,
    max_events: int | None = None,
    handler_attempts: int = 3,
    stop: threading.Event | None = None,
    poll_timeout_s: float = 0.5,
) -> ConsumeStats:
    """Consume department-safe case events until stopped; returns what was done.

    Stops after ``stop_after`` seconds, after ``max_events`` handler calls, when ``stop`` is set,
    or when the handler raises :class:`StopConsuming`; otherwise runs until interrupted.
    ``from_beginning`` reads the whole retained log (it seeks to the start on every assignment of
    this call); otherwise a new group starts at the end and a known group where it left off.
    ``settings`` is the Kafka configuration: a :class:`~events.config.KafkaConfig`, or an object
    carrying one as ``.kafka`` (gridcase's ``Settings``).
    """
    from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    kafka = kafka_config(settings)
    topics = topic_names(kafka)
    flt = EventFilter(department=department, street=street, case_id=case_id)
    stats = ConsumeStats()
    dlq = LazyProducer(kafka, client_id=f"gridcase-dlq-{group_id}")
    deadline = None if stop_after is None else time.monotonic() + stop_after
    pending: dict[Any, int] = {}  # TopicPartition -> next offset to commit
    rewound: set[Any] = set()  # partitions already sought to the beginning (from_beginning)

    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap,
        group_id=group_id,
        client_id=f"gridcase-consumer-{group_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        max_poll_records=200,
    )

    class _Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked: Any) -> None:
            pass

        def on_partitions_assigned(self, assigned: Any) -> None:
            fresh = [tp for tp in assigned if tp not in rewound]
            if from_beginning and fresh:
                consumer.seek_to_beginning(*fresh)
                rewound.update(fresh)

    def commit() -> None:
        if pending:
            consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in pending.items()})
            pending.clear()

    def dead_letter(record: Any, reason: str, error: str) -> None:
        key, value, headers = _dead_letter_record(record, reason, error, group_id)
        producer = dlq.get()
        try:
            producer.send(topics.dead_letter, value=value, key=key, headers=headers).get(timeout=dlq.timeout_s)
        except Exception:
            dlq.reset(producer)
            raise  # do not commit past a record we could neither handle nor park
        stats.dead_lettered += 1
        stats.reasons[reason] = stats.reasons.get(reason, 0) + 1
        log.warning("dead-lettered %s[%d]@%d: %s: %s", record.topic, record.partition, record.offset, reason, error)

    def run_handler(envelope: Envelope, event: CaseEvent) -> str | None:
        """None on success, else the last error text; StopConsuming passes through."""
        error = ""
        for attempt in range(1, handler_attempts + 1):
            try:
                handler(envelope, event)
                return None
            except StopConsuming:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "handler failed on %s (attempt %d/%d): %s",
                    event.event_id,
                    attempt,
                    handler_attempts,
                    error,
                )
                if attempt < handler_attempts:
                    time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
        return error

    def process(record: Any) -> bool:
        """Handle one record; True when the handler asked to stop."""
        try:
            envelope, event = from_cloudevent(record.value if record.value is not None else b"")
        except EnvelopeError as exc:
            dead_letter(record, exc.reason, exc.detail)
            return False
        for env, ev, raw in flt.accept(envelope, event, stats, raw=record):
            try:
                error = run_handler(env, ev)
            except StopConsuming:
                stats.handled += 1  # the event that stopped the handler counts as handled
                return True
            if error is None:
                stats.handled += 1
            else:
                dead_letter(raw, "handler_failed", f"{ev.event_id}: {error}")
        return False

    def done() -> bool:
        return (
            (deadline is not None and time.monotonic() >= deadline)
            or (max_events is not None and stats.handled >= max_events)
            or (stop is not None and stop.is_set())
        )

    try:
        consumer.subscribe([topics.case_events], listener=_Listener())
        stopping = False
        while not stopping and not done():
            timeout = poll_timeout_s
            if deadline is not None:
                timeout = max(0.0, min(timeout, deadline - time.monotonic()))
            batches = consumer.poll(timeout_ms=int(timeout * 1000))
            for tp, records in batches.items():
                for record in records:
                    stopping = process(record)
                    pending[TopicPartition(tp.topic, tp.partition)] = record.offset + 1
                    if stopping or done():
                        stopping = True
                        break
                if stopping:
                    break
            commit()
    finally:
        try:
            consumer.close(autocommit=False)
        finally:
            dlq.close()
    return stats


def new_group_id(prefix: str = "gridcase-tail") -> str:
    """A fresh consumer group id (a throwaway group for tailing)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
