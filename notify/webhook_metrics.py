"""Prometheus instruments of the webhook dispatcher (served by ``gridcase webhooks run`` on
``GRIDCASE_WEBHOOKS_METRICS_PORT``; all prefixed ``gridcase_webhook_``).

``gridcase_webhook_deliveries_queued_total{unit_kind}``
    Deliveries written into the outbox (one per event and matching subscription).
``gridcase_webhook_deliveries_delivered_total{unit_kind}``
    Deliveries the receiver acknowledged with a 2xx.
``gridcase_webhook_attempts_failed_total{reason}``
    Attempts that failed: ``timeout``, ``connect``, ``3xx``, ``4xx``, ``410``, ``5xx``.
``gridcase_webhook_deliveries_dead_total{unit_kind}``
    Deliveries given up on (retries exhausted, refused, or 410 Gone).
``gridcase_webhook_subscriptions_disabled_total{reason}``
    Subscriptions disabled automatically: ``gone`` or ``failing``.
``gridcase_webhook_backlog``
    Deliveries of enabled subscriptions still to be sent (pending or waiting for a retry).
``gridcase_webhook_delivery_delay_seconds``
    From the event's ``occurred_at`` to the receiver's 2xx.
``gridcase_webhook_events_read_total``
    Case events the dispatcher read from the topic and processed.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

QUEUED = Counter("gridcase_webhook_deliveries_queued", "Webhook deliveries written to the outbox.", ["unit_kind"])
DELIVERED = Counter(
    "gridcase_webhook_deliveries_delivered", "Webhook deliveries acknowledged with a 2xx.", ["unit_kind"]
)
FAILED = Counter("gridcase_webhook_attempts_failed", "Webhook delivery attempts that failed, by reason.", ["reason"])
DEAD = Counter("gridcase_webhook_deliveries_dead", "Webhook deliveries given up on.", ["unit_kind"])
DISABLED = Counter(
    "gridcase_webhook_subscriptions_disabled", "Webhook subscriptions disabled automatically.", ["reason"]
)
BACKLOG = Gauge("gridcase_webhook_backlog", "Webhook deliveries of enabled subscriptions still to be sent.")
DELAY = Histogram(
    "gridcase_webhook_delivery_delay_seconds",
    "From a case event's occurred_at to its webhook delivery's 2xx.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0),
)
EVENTS_READ = Counter("gridcase_webhook_events_read", "Case events the webhook dispatcher processed.")
