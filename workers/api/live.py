"""Live case events for the console: Kafka → server-sent events.

One :class:`LiveFeed` per API process reads the department-safe case-events topic without a
consumer group (every partition assigned, starting at its end), so each API process sees every
new event and no process steals another's. Each event is reduced to a small notice (case id,
seq, type, time, unit, clock) and handed to every subscriber whose jurisdiction covers the case;
the console then fetches the case itself through the API, with the caller's own rights.

The jurisdiction of a case is learned from the events themselves (location on ``case.received``,
units on dispatches and whistles). An event of a case whose earlier events this process never saw
reaches only the callers who see every case, until its location or unit appears in a later event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from events.consumer import involvement, other_units
from events.envelope import EnvelopeError, from_cloudevent
from events.schemas import CaseEvent, CaseReceived
from events.topics import topic_names
from workers.api.auth import Principal, scope_keys_match
from workers.settings import Settings

log = logging.getLogger(__name__)


def _describe(exc: BaseException) -> str:
    """``KafkaTimeoutError: ...``: the error's class, then its message (once)."""
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}" if text else name


def notice(event: CaseEvent) -> dict[str, Any]:
    """The small, personal-data-free notice sent to live clients for one event."""
    out: dict[str, Any] = {
        "case_id": event.case_id,
        "seq": event.seq,
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
    }
    unit = getattr(event, "unit", None)
    if unit is not None:
        out["unit"] = unit.key()
    kind = getattr(event, "kind", None)
    if kind is not None:
        out["clock_kind"] = str(kind.value if hasattr(kind, "value") else kind)
    return out


def scope_keys(event: CaseEvent) -> set[str]:
    """The jurisdiction keys an event reveals about its case (see :func:`auth.scope_keys_match`)."""
    departments, streets = involvement(event)
    keys = {f"department:{d}" for d in departments} | {f"street:{s}" for s in streets}
    keys |= {f"{kind}:{unit}" for kind, unit in other_units(event)}
    if isinstance(event, CaseReceived):
        loc = event.location
        keys |= {f"district:{loc.district_id}", f"community:{loc.community_id}", f"grid:{loc.grid_id}"}
    unit = getattr(event, "unit", None)
    if unit is not None and unit.kind.value == "grid":
        keys.add(f"grid:{unit.id}")
    return keys


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    queue: asyncio.Queue[dict[str, Any]]
    loop: asyncio.AbstractEventLoop
    dropped: int = 0


@dataclass
class FeedStats:
    received: int = 0
    invalid: int = 0
    delivered: int = 0
    dropped: int = 0
    assigned: list[str] = field(default_factory=list)


class LiveFeed:
    """Reads case events from Kafka on a background thread and fans them out to subscribers."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_cases: int = 100_000,
        queue_size: int = 1000,
        probe_every: float = 1.0,
        stale_after: float = 4.0,
    ) -> None:
        """Args:
        probe_every: seconds between two probes of the broker (an end-offsets request) while
            the feed reads; a broker that does not answer is noticed at the next probe.
        stale_after: the feed counts as down when the broker's last answer is older than this.
        """
        self.settings = settings
        self.topic = topic_names(settings).case_events
        self.stats = FeedStats()
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._scopes: OrderedDict[str, set[str]] = OrderedDict()
        self._max_cases = max_cases
        self._queue_size = queue_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once every partition is assigned and positioned at its end
        self.probe_every = probe_every
        self.stale_after = stale_after
        self._last_ok: float | None = None  # monotonic time of the broker's last answer
        self._reason: str | None = None  # why the feed is not reading, when it is not

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gridcase-live-feed", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def health(self) -> tuple[bool, str | None]:
        """Whether the feed reads Kafka now, and why not: not started, still connecting, or the
        broker has not answered a probe for :attr:`stale_after` seconds."""
        if self._thread is None:
            return False, "the live feed is not running"
        if not self.ready.is_set():
            return False, self._reason or "connecting to Kafka"
        last = self._last_ok
        age = None if last is None else time.monotonic() - last
        if age is None or age > self.stale_after:
            since = "" if age is None else f" for {age:.0f} s"
            return False, f"the broker has not answered{since}: {self._reason or 'no reply'}"
        return True, None

    @property
    def healthy(self) -> bool:
        return self.health()[0]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except Exception as exc:  # broker down or topic missing: try again shortly
                self._reason = _describe(exc)
                log.warning("live feed: %s; retrying in 2 s", exc)
                self._stop.wait(2.0)

    def _probe(self, consumer: Any, tps: list[Any]) -> None:
        """Ask the broker for the partitions' end offsets (a cheap request with a short timeout)."""
        try:
            consumer.end_offsets(tps, timeout_ms=int(self.probe_every * 1000) or 500)
        except Exception as exc:
            self._reason = _describe(exc)
            return
        self._last_ok = time.monotonic()
        self._reason = None

    def _consume(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            client_id="gridcase-api-live",
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        try:
            partitions = None
            deadline = time.monotonic() + 30
            while not partitions and not self._stop.is_set():
                partitions = consumer.partitions_for_topic(self.topic)
                if not partitions:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"topic {self.topic} not found")
                    self._stop.wait(0.5)
            if self._stop.is_set():
                return
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions or ())]
            consumer.assign(tps)
            consumer.seek_to_end(*tps)
            for tp in tps:
                consumer.position(tp)  # resolve the end offsets now, so nothing after "ready" is missed
            self.stats.assigned = [f"{tp.topic}[{tp.partition}]" for tp in tps]
            self._last_ok = time.monotonic()
            self._reason = None
            self.ready.set()
            probed = time.monotonic()
            while not self._stop.is_set():
                batches = consumer.poll(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._handle(record.value or b"")
                if time.monotonic() - probed >= self.probe_every:
                    self._probe(consumer, tps)
                    probed = time.monotonic()
        finally:
            self.ready.clear()
            self._last_ok = None
            consumer.close(autocommit=False)

    # --- fan-out ------------------------------------------------------------------------------
    def _handle(self, raw: bytes) -> None:
        self.stats.received += 1
        try:
            _, event = from_cloudevent(raw)
        except EnvelopeError:
            self.stats.invalid += 1
            return
        self.publish(event)

    def publish(self, event: CaseEvent) -> None:
        """Hand one event to every subscriber whose jurisdiction covers its case."""
        keys = self._scopes.get(event.case_id)
        if keys is None:
            keys = self._scopes[event.case_id] = set()
            while len(self._scopes) > self._max_cases:
                self._scopes.popitem(last=False)
        else:
            self._scopes.move_to_end(event.case_id)
        keys |= scope_keys(event)
        message = notice(event)
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if scope_keys_match(sub.principal, keys):
                sub.loop.call_soon_threadsafe(self._offer, sub, message)

    def _offer(self, sub: Subscriber, message: dict[str, Any]) -> None:
        try:
            sub.queue.put_nowait(message)
            self.stats.delivered += 1
        except asyncio.QueueFull:
            sub.dropped += 1
            self.stats.dropped += 1

    @contextlib.asynccontextmanager
    async def subscribe(self, principal: Principal) -> AsyncIterator[Subscriber]:
        sub = Subscriber(principal, asyncio.Queue(self._queue_size), asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)
