"""The Kafka topics of gridcase: names, partitions, retention, replication and cleanup, in one place.

Names are versioned and built from the configured topic prefix:

``<prefix>.case-events.v1``
    Every case event, keyed by case id, **department-safe**: the resident's name and phone are
    masked and the resident id dropped (see :mod:`events.envelope`). Departments, streets and
    dashboards read this topic.
``<prefix>.case-events-restricted.v1``
    The same events unmasked, for the 12345 hotline only (callbacks need the resident's phone).
    Kept deliberately, with a shorter retention than the department-safe topic; in production
    only the hotline's principals get READ on it (Kafka ACLs).
``<prefix>.sla-alerts.v1``
    SLA warnings, breaches and escalation rungs (event types starting with ``sla.warning``,
    ``sla.breached``, ``sla.escalation``), masked like the case-events topic, keyed by case id.
``<prefix>.dead-letter.v1``
    Records a consumer could not validate or handle, wrapped with the reason and the original
    bytes (see :mod:`events.consumer`); the notifier's undeliverable messages too.
``<prefix>.notifications.v1``
    What the notifier and the webhooks did: ``notification.sent`` / ``notification.failed``
    (:mod:`events.notifications`), keyed by case id, with the recipient masked; the read model
    shows them on the case's timeline.

Names, partition count and replication come from the :class:`~events.config.KafkaConfig` passed in
(in a gridcase process: ``GRIDCASE_TOPIC_PREFIX``, ``GRIDCASE_KAFKA_CASE_EVENTS_PARTITIONS``,
``GRIDCASE_KAFKA_REPLICATION_FACTOR``, ``GRIDCASE_KAFKA_MIN_INSYNC_REPLICAS``); the defaults are 6
partitions and replication factor 1 (a single local broker). Production uses replication factor 3 with
``min.insync.replicas=2``. All topics use ``cleanup.policy=delete``: the topics are an event log
keyed by case, and compaction would keep only a case's last event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from events.config import KafkaSource, kafka_config

log = logging.getLogger(__name__)

TOPIC_VERSION = 1
DAY_MS = 24 * 60 * 60 * 1000

SLA_ALERT_PREFIXES: tuple[str, ...] = ("sla.warning", "sla.breached", "sla.escalation")


@dataclass(frozen=True)
class TopicSpec:
    """One topic: what :func:`ensure_topics` creates."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class TopicNames:
    case_events: str
    case_events_restricted: str
    sla_alerts: str
    dead_letter: str
    notifications: str = ""

    def all(self) -> list[str]:
        names = [self.case_events, self.case_events_restricted, self.sla_alerts, self.dead_letter]
        return names + ([self.notifications] if self.notifications else [])


def topic_names(kafka: KafkaSource) -> TopicNames:
    """The versioned topic names for the configured topic prefix."""
    p = kafka_config(kafka).topic_prefix
    v = f"v{TOPIC_VERSION}"
    return TopicNames(
        case_events=f"{p}.case-events.{v}",
        case_events_restricted=f"{p}.case-events-restricted.{v}",
        sla_alerts=f"{p}.sla-alerts.{v}",
        dead_letter=f"{p}.dead-letter.{v}",
        notifications=f"{p}.notifications.{v}",
    )


def is_sla_alert(event_type: str) -> bool:
    """True for event types that also go to the SLA alerts topic."""
    return event_type.startswith(SLA_ALERT_PREFIXES)


def topic_specs(
    kafka: KafkaSource, *, partitions: int | None = None, replication_factor: int | None = None
) -> list[TopicSpec]:
    """Every topic gridcase uses, with its configuration (``partitions``/``replication_factor`` override the config)."""
    cfg_ = kafka_config(kafka)
    parts = partitions if partitions is not None else cfg_.case_events_partitions
    repl = replication_factor if replication_factor is not None else cfg_.replication_factor
    min_isr = cfg_.effective_min_insync_replicas
    names = topic_names(cfg_)

    def cfg(retention_days: int) -> dict[str, str]:
        return {
            "cleanup.policy": "delete",
            "retention.ms": str(retention_days * DAY_MS),
            "min.insync.replicas": str(min(min_isr, repl)),
        }

    return [
        TopicSpec(
            names.case_events,
            parts,
            repl,
            cfg(90),
            "All case events, keyed by case id; personal data masked (department-safe).",
        ),
        TopicSpec(
            names.case_events_restricted,
            parts,  # same partitioning as case-events: same key → same partition number
            repl,
            cfg(30),
            "All case events unmasked, for the 12345 hotline only.",
        ),
        TopicSpec(
            names.sla_alerts,
            max(1, min(parts, 3)),
            repl,
            cfg(30),
            "SLA warnings, breaches and escalation rungs; masked.",
        ),
        TopicSpec(
            names.dead_letter,
            1,
            repl,
            cfg(30),
            "Records consumers could not validate or handle, with the reason and original bytes.",
        ),
        TopicSpec(
            names.notifications,
            parts,  # keyed by case id like case-events
            repl,
            cfg(90),
            "What the notifier and the webhooks delivered or failed to deliver; recipients masked.",
        ),
    ]


def _admin(kafka: KafkaSource, timeout_s: float) -> Any:
    from kafka import KafkaAdminClient

    ms = int(timeout_s * 1000)
    return KafkaAdminClient(
        bootstrap_servers=kafka_config(kafka).bootstrap,
        client_id="gridcase-topics",
        request_timeout_ms=ms,
        bootstrap_timeout_ms=ms,
    )


def ensure_topics(
    kafka: KafkaSource,
    *,
    partitions: int | None = None,
    replication_factor: int | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the missing gridcase topics; idempotent. Returns the names it created.

    Existing topics are left as they are (a differing partition count is logged, not changed:
    adding partitions would move cases to other partitions and break per-case order).
    """
    from kafka.errors import TopicAlreadyExistsError

    specs = topic_specs(kafka, partitions=partitions, replication_factor=replication_factor)
    admin = _admin(kafka, timeout_s)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created: list[str] = []
        if missing:
            request = {
                s.name: {
                    "num_partitions": s.partitions,
                    "replication_factor": s.replication_factor,
                    "configs": s.configs,
                }
                for s in missing
            }
            result = admin.create_topics(request, timeout_ms=int(timeout_s * 1000), raise_errors=False)
            for t in result.get("topics", []):
                code = t.get("error_code", 0)
                if code == 0:
                    created.append(t["name"])
                elif code != TopicAlreadyExistsError.errno:  # a concurrent ensure_topics is fine
                    raise RuntimeError(
                        f"could not create topic {t['name']}: error {code} {t.get('error_message') or ''}"
                    )
            admin.wait_for_topics([s.name for s in missing], timeout_ms=int(timeout_s * 1000))
        present = [s for s in specs if s.name in existing]
        if present:
            for info in admin.describe_topics([s.name for s in present]):
                spec = next(s for s in present if s.name == info.get("name"))
                n = len(info.get("partitions") or [])
                if n and n != spec.partitions:
                    log.warning("topic %s has %d partitions, spec says %d", spec.name, n, spec.partitions)
        for name in created:
            log.info("created topic %s", name)
        return created
    finally:
        admin.close()
