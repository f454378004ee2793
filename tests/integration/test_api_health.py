"""The API's liveness and readiness against a broker that goes away: a *private* stack's Kafka is
stopped and started again (the shared stack is never touched).

``/healthz`` stays 200 (the process is up) but its ``live_feed`` turns false within seconds;
``/readyz`` answers 503 naming Kafka and why, while Temporal and the read model stay ready; when
the broker is back, both recover.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy import stack
from events.topics import ensure_topics
from tests.integration.conftest import start_private_stack, stop_private_stack
from workers.settings import Settings

pytestmark = pytest.mark.integration

NOTICE_WITHIN = 10.0  # seconds: the live feed probes the broker every second, stale after four


@pytest.fixture(scope="module")
def private_kafka(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A private stack whose broker this module stops at will."""
    private = start_private_stack(stack_settings, tmp_path_factory, "health")
    try:
        yield private
    finally:
        stop_private_stack(private)


def _wait(probe: Callable[[], Any], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if probe():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def test_readiness_and_the_live_feed_follow_the_broker(
    stack_settings: Settings, private_kafka: Settings, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from workers.api.app import create_app

    # the shared Temporal, the private broker, a database of its own
    settings = stack_settings.model_copy(
        update={
            "kafka_bootstrap": private_kafka.kafka_bootstrap,
            "topic_prefix": private_kafka.topic_prefix,
            "database_url": f"sqlite:///{tmp_path / 'api.db'}",
        }
    )
    ensure_topics(settings, partitions=1)
    with TestClient(create_app(settings)) as http:

        def ready() -> bool:
            return http.get("/readyz").status_code == 200

        _wait(ready, 60, "the API did not become ready")
        body = http.get("/readyz").json()
        assert body == {
            "ok": True,
            "checks": {
                "temporal": {"ok": True, "reason": None},
                "kafka": {"ok": True, "reason": None},
                "readmodel": {"ok": True, "reason": None},
            },
        }
        assert http.get("/healthz").json() == {"ok": True, "live_feed": True}

        stopped = stack.down(private_kafka, 30.0, (stack.KAFKA,))
        assert "stopped" in stopped[stack.KAFKA] or "killed" in stopped[stack.KAFKA], stopped
        took = _wait(
            lambda: not http.get("/healthz").json()["live_feed"],
            NOTICE_WITHIN,
            "the live feed did not notice the broker had gone",
        )
        health = http.get("/healthz")
        assert health.status_code == 200 and health.json()["ok"] is True  # still alive
        r = http.get("/readyz")
        assert r.status_code == 503, r.text
        checks = r.json()["checks"]
        assert checks["kafka"]["ok"] is False and checks["kafka"]["reason"], checks
        assert checks["temporal"]["ok"] is True and checks["readmodel"]["ok"] is True, checks
        print(f"the broker's outage was noticed after {took:.1f} s: {checks['kafka']['reason']}")

        assert stack.up(private_kafka, timeout=120).healthy
        _wait(ready, 60, "the API did not become ready again once the broker was back")
        assert http.get("/healthz").json()["live_feed"] is True
