"""The local publishing attempt: bounded, on threads of its own, and quick to refuse after a failure."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from temporalio.testing import ActivityEnvironment

from activities.publishing import PublishBatch, PublishingActivities, SinkUnavailable
from events.base import SYSTEM_ACTOR
from events.schemas import CaseEvent, CaseRegistered


class GatedSink:
    """Blocks every send until ``gate`` is set (a broker that accepts connections but does not acknowledge)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.sent: list[str] = []
        self.threads: dict[str, str] = {}

    def send(self, case_id: str, events: Sequence[CaseEvent]) -> None:
        if not self.gate.wait(timeout=30):
            raise RuntimeError("never released")
        self.sent += [e.event_id for e in events]
        self.threads[case_id] = threading.current_thread().name


def batch(case_id: str = "C1", seq: int = 1) -> PublishBatch:
    event = CaseRegistered(
        event_id=f"{case_id}:{seq}", case_id=case_id, seq=seq, occurred_at=datetime.now(UTC), actor=SYSTEM_ACTOR
    )
    return PublishBatch(case_id=case_id, events=[event])


async def test_delivered_batch_returns_its_size() -> None:
    sink = GatedSink()
    sink.gate.set()
    acts = PublishingActivities(sink, local_timeout_s=2.0)
    assert await ActivityEnvironment().run(acts.publish_case_events_local, batch()) == 1
    assert sink.sent == ["C1:1"]


async def test_unacknowledged_batch_fails_within_the_budget_then_refuses_at_once() -> None:
    sink = GatedSink()
    acts = PublishingActivities(sink, local_timeout_s=0.3, local_cooldown_s=60)
    started = time.monotonic()
    with pytest.raises(SinkUnavailable, match=r"no acknowledgement within 0\.3 s"):
        await ActivityEnvironment().run(acts.publish_case_events_local, batch())
    assert time.monotonic() - started < 2.0
    started = time.monotonic()
    with pytest.raises(SinkUnavailable, match=r"failed .* ago"):
        await ActivityEnvironment().run(acts.publish_case_events_local, batch(seq=2))
    assert time.monotonic() - started < 0.2  # refused without touching the sink
    sink.gate.set()


async def test_local_attempts_run_on_their_own_threads() -> None:
    """Regular deliveries blocked in the sink hold the worker's activity threads, never the local attempts'."""
    sink = GatedSink()
    sink.gate.set()
    acts = PublishingActivities(sink, local_timeout_s=5.0)
    assert await ActivityEnvironment().run(acts.publish_case_events_local, batch("L1")) == 1
    assert sink.threads["L1"].startswith("publish-local")


def test_the_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="local_timeout_s: must be positive"):
        PublishingActivities(GatedSink(), local_timeout_s=0)
