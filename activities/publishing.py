"""The publishing activity: hands a case's events, in order, to the event sink (Kafka).

The workflow calls ``publish_case_events`` with batches in sequence order and waits for each to
finish before sending the next, so per-case order holds. The activity may be retried: the sink
must tolerate re-sending (consumers deduplicate on the event id ``case_id:seq``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel
from temporalio import activity

from events.schemas import CaseEvent

PUBLISH_ACTIVITY = "publish_case_events"


class PublishBatch(BaseModel):
    """Consecutive events of one case, lowest ``seq`` first."""

    case_id: str
    events: list[CaseEvent]


class EventSink(Protocol):
    """Where events go. Blocking; raises when delivery is not confirmed."""

    def send(self, case_id: str, events: Sequence[CaseEvent]) -> None: ...


class PublishingActivities:
    """Activities that publish case events. The sink comes in through ``__init__``."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    @activity.defn(name=PUBLISH_ACTIVITY)
    def publish_case_events(self, batch: PublishBatch) -> int:
        """Deliver a batch; returns the number of events delivered."""
        self._sink.send(batch.case_id, batch.events)
        return len(batch.events)
