"""The publishing activities: hand a case's events, in order, to the event sink (Kafka).

The workflow publishes batches in sequence order and waits for each to finish before sending the
next, so per-case order holds. Two activities share the sink:

* ``publish_case_events_local`` runs as a *local* activity, inside the workflow task of the update
  that produced the events (no extra round trip through the server). It is tried once; while a
  recent delivery failed (the broker is likely down) it refuses at once instead of waiting for
  the sink's timeouts, so the workflow moves on to the regular activity without delay. It runs on
  threads of its own and gives up after ``local_timeout_s`` (counted as a failed delivery), so
  neither a broker that accepts connections but does not acknowledge (brokers shutting down, a
  leader moving) nor regular activities blocked in the sink's waits can hold the updates back.
* ``publish_case_events`` is the regular activity, retried by Temporal until delivered; the
  workflow uses it after a local attempt failed, until its backlog is out.

Either may be retried or repeated: the sink must tolerate re-sending (consumers deduplicate on the
event id ``case_id:seq``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel
from temporalio import activity

from events.schemas import CaseEvent

PUBLISH_ACTIVITY = "publish_case_events"
PUBLISH_LOCAL_ACTIVITY = "publish_case_events_local"


class PublishBatch(BaseModel):
    """Consecutive events of one case, lowest ``seq`` first."""

    case_id: str
    events: list[CaseEvent]


class EventSink(Protocol):
    """Where events go. Blocking; raises when delivery is not confirmed."""

    def send(self, case_id: str, events: Sequence[CaseEvent]) -> None: ...


class SinkUnavailable(RuntimeError):
    """The local publishing attempt was skipped: a recent delivery failed."""


class PublishingActivities:
    """Activities that publish case events. The sink comes in through ``__init__``.

    Args:
        sink: where events go.
        local_cooldown_s: after a failed delivery, local attempts refuse at once for this long
            (or until a regular attempt succeeds).
        local_timeout_s: how long a local attempt waits for the sink (below the workflow's
            local-activity timeout); a batch not acknowledged by then goes to the regular activity.
        local_threads: threads reserved for local attempts (the regular activities have the
            worker's activity executor).
    """

    def __init__(
        self,
        sink: EventSink,
        *,
        local_cooldown_s: float = 5.0,
        local_timeout_s: float = 1.5,
        local_threads: int = 4,
    ) -> None:
        if local_timeout_s <= 0:
            raise ValueError(f"local_timeout_s: must be positive, got {local_timeout_s}")
        self._sink = sink
        self._cooldown_s = local_cooldown_s
        self._local_timeout_s = local_timeout_s
        self._local_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=local_threads, thread_name_prefix="publish-local"
        )
        self._lock = threading.Lock()
        self._failed_at: float | None = None

    def _send(self, batch: PublishBatch) -> int:
        try:
            self._sink.send(batch.case_id, batch.events)
        except Exception:
            with self._lock:
                self._failed_at = time.monotonic()
            raise
        with self._lock:
            self._failed_at = None
        return len(batch.events)

    @activity.defn(name=PUBLISH_ACTIVITY)
    def publish_case_events(self, batch: PublishBatch) -> int:
        """Deliver a batch; returns the number of events delivered."""
        return self._send(batch)

    @activity.defn(name=PUBLISH_LOCAL_ACTIVITY)
    async def publish_case_events_local(self, batch: PublishBatch) -> int:
        """Deliver a batch now, or refuse at once while a recent delivery failed.

        The sink's blocking send runs on the local attempts' own threads; after ``local_timeout_s``
        without an acknowledgement the attempt fails (and counts as a failed delivery, so the next
        local attempts refuse at once) while the send may still complete in the background: a
        duplicate with the same event id, which consumers drop.
        """
        with self._lock:
            failed_at = self._failed_at
        if failed_at is not None and time.monotonic() - failed_at < self._cooldown_s:
            raise SinkUnavailable(f"a delivery failed {time.monotonic() - failed_at:.1f} s ago; not trying locally")
        loop = asyncio.get_running_loop()
        sending = loop.run_in_executor(self._local_pool, self._send, batch)
        try:
            return await asyncio.wait_for(sending, self._local_timeout_s)
        except TimeoutError:
            with self._lock:
                self._failed_at = time.monotonic()
            raise SinkUnavailable(
                f"no acknowledgement within {self._local_timeout_s:.1f} s; the retried activity takes the batch"
            ) from None
