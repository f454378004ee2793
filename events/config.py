"""The Kafka configuration the events package needs, as a typed value of its own.

:class:`KafkaConfig` is everything :mod:`events.topics`, :mod:`events.producer` and
:mod:`events.consumer` read: the bootstrap servers, the topic prefix and the topic sizing. The
composition root builds it from the process settings (``Settings.kafka`` in :mod:`workers.settings`);
nothing in this package reads the environment.

The functions of this package accept a :class:`KafkaConfig` or any object that carries one as
``.kafka`` (:class:`HasKafkaConfig`; gridcase's ``Settings`` does), so callers holding the settings
can pass them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeAlias


@dataclass(frozen=True)
class KafkaConfig:
    """Where the broker is and how gridcase's topics are named and sized.

    Attributes:
        bootstrap: ``host:port[,host:port...]`` of the brokers.
        topic_prefix: first part of every topic name (``<prefix>.case-events.v1`` ...).
        case_events_partitions: partitions of the case-events topics (fixed once created).
        replication_factor: replicas of every topic (1 for a single local broker; 3 in production).
        min_insync_replicas: ``min.insync.replicas`` of every topic; ``None``: 2 when the replication
            factor is at least 3, else 1.
    """

    bootstrap: str = "localhost:9092"
    topic_prefix: str = "gridcase"
    case_events_partitions: int = 6
    replication_factor: int = 1
    min_insync_replicas: int | None = None

    @property
    def effective_min_insync_replicas(self) -> int:
        """``min_insync_replicas``, or its default for the replication factor."""
        if self.min_insync_replicas is not None:
            return self.min_insync_replicas
        return 2 if self.replication_factor >= 3 else 1


class HasKafkaConfig(Protocol):
    """Anything that carries a :class:`KafkaConfig` as ``.kafka`` (gridcase's settings, the stack's config)."""

    @property
    def kafka(self) -> KafkaConfig: ...


KafkaSource: TypeAlias = KafkaConfig | HasKafkaConfig
"""What the functions of :mod:`events` accept as their Kafka configuration."""


def kafka_config(source: KafkaSource) -> KafkaConfig:
    """The :class:`KafkaConfig` of ``source`` (itself, or its ``.kafka``)."""
    return source if isinstance(source, KafkaConfig) else source.kafka
