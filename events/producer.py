"""A lazily connected Kafka producer configured for ordered, durable, bounded-time delivery.

* ``acks="all"`` and ``enable_idempotence=True`` (kafka-python 3.x supports idempotence; it needs
  a broker >= 0.11), with ``max_in_flight_requests_per_connection=1`` on top, so a retried batch
  can never overtake the next one: per-partition (hence per-case) order holds under retries.
* Every wait is bounded: connecting (``bootstrap_timeout_ms``), blocking in ``send`` for metadata
  or buffer space (``max_block_ms``), and delivery including retries (``delivery_timeout_ms``).
  With the broker down a send fails after about ``timeout_s`` instead of hanging.
* Nothing connects at import or in ``__init__``: the ``KafkaProducer`` is built on first use and
  rebuilt after :meth:`LazyProducer.reset` (the sink resets it after any failure).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from events.config import KafkaSource, kafka_config


def producer_config(kafka: KafkaSource, *, timeout_s: float = 10.0, client_id: str = "gridcase") -> dict[str, Any]:
    """KafkaProducer keyword arguments; ``timeout_s`` bounds connecting and delivering."""
    total_ms = max(int(timeout_s * 1000), 2000)
    request_ms = max(total_ms // 2, 1000)
    return {
        "bootstrap_servers": kafka_config(kafka).bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 1,
        "linger_ms": 5,
        "request_timeout_ms": request_ms,
        "delivery_timeout_ms": total_ms,  # >= request_timeout_ms + linger_ms
        "max_block_ms": total_ms,
        "bootstrap_timeout_ms": total_ms,
        "retry_backoff_ms": 100,
        "reconnect_backoff_max_ms": 1000,
        "allow_auto_create_topics": False,
    }


class LazyProducer:
    """Holds one ``KafkaProducer``, created on first :meth:`get`; thread-safe."""

    def __init__(self, kafka: KafkaSource, *, timeout_s: float = 10.0, client_id: str = "gridcase") -> None:
        self._config = producer_config(kafka, timeout_s=timeout_s, client_id=client_id)
        self._lock = threading.Lock()
        self._producer: Any = None
        self.timeout_s = timeout_s

    def get(self) -> Any:
        """The live producer, connecting now if needed (may raise ``NoBrokersAvailable``)."""
        with self._lock:
            if self._producer is None:
                from kafka import KafkaProducer

                self._producer = KafkaProducer(**self._config)
            return self._producer

    def reset(self, broken: Any = None) -> None:
        """Close and forget the producer (only if it is still ``broken``, when given)."""
        with self._lock:
            producer = self._producer
            if producer is None or (broken is not None and producer is not broken):
                return
            self._producer = None
        # drop whatever is still queued (the caller re-sends it); closing a broken client must not
        # mask the original error
        with contextlib.suppress(Exception):
            producer.close(timeout=0)

    def close(self, timeout_s: float | None = None) -> None:
        """Flush (up to ``timeout_s``) and close."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=self.timeout_s if timeout_s is None else timeout_s)

    @property
    def connected(self) -> bool:
        return self._producer is not None
