"""The configuration of the local stack (:mod:`deploy.stack`), as a typed value of its own.

The command line builds a :class:`StackConfig` from the process settings (``Settings.stack`` in
:mod:`workers.settings`); nothing in :mod:`deploy` reads the environment. The stack's functions
accept a :class:`StackConfig` or any object carrying one as ``.stack`` (gridcase's ``Settings``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeAlias

from events.config import KafkaConfig


@dataclass(frozen=True)
class StackConfig:
    """Where the local stack keeps its data, and the addresses and sizes of its services.

    Attribute names follow the ``GRIDCASE_*`` settings they come from (``state_dir`` is
    ``GRIDCASE_STATE_DIR`` ...).
    """

    state_dir: Path = Path(".gridcase")
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    kafka_cache_dir: Path = Path.home() / ".cache" / "gridcase" / "kafka"
    resolved_database_url: str = ""
    """The SQLAlchemy URL the stack checks; empty: SQLite in ``state_dir``."""
    calendar_override_file: Path | None = None
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    """The broker (``kafka.bootstrap``) and the topics ``up`` creates."""

    def __post_init__(self) -> None:
        if not self.resolved_database_url:
            url = f"sqlite:///{(self.state_dir / 'gridcase.db').resolve()}"
            object.__setattr__(self, "resolved_database_url", url)

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def temporal_host(self) -> str:
        return self.temporal_address.rsplit(":", 1)[0]

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])

    @property
    def kafka_port(self) -> int:
        return int(self.kafka.bootstrap.rsplit(":", 1)[1])


class HasStackConfig(Protocol):
    """Anything that carries a :class:`StackConfig` as ``.stack`` (gridcase's settings)."""

    @property
    def stack(self) -> StackConfig: ...


StackSource: TypeAlias = StackConfig | HasStackConfig
"""What the functions of :mod:`deploy.stack` accept as their configuration."""


def stack_config(source: StackSource) -> StackConfig:
    """The :class:`StackConfig` of ``source`` (itself, or its ``.stack``)."""
    return source if isinstance(source, StackConfig) else source.stack
