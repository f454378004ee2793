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

DEV = "dev"
CLUSTER = "cluster"
PROFILES = (DEV, CLUSTER)


@dataclass(frozen=True)
class ClusterConfig:
    """The production-shaped profile: a Temporal server of four services on PostgreSQL and three brokers.

    Attribute names follow the ``GRIDCASE_CLUSTER_*`` settings they come from. Every port is derived
    from two base ports, so a second profile (or a second cluster) only needs two settings changed.
    """

    temporal_version: str = "v1.32.2"
    """The ``go.temporal.io/server`` module version built with ``go install`` (cached by version)."""
    go_toolchain: str = "go1.27.3"
    """``GOTOOLCHAIN`` for the build: the server module needs a newer Go than the machine's."""
    temporal_cache_dir: Path = Path.home() / ".cache" / "gridcase" / "temporal-server"
    temporal_port: int = 7333
    """The frontend's gRPC port; the cluster's Temporal ports are the 31 from here (see ``temporal_ports``)."""
    postgres_url: str = "postgresql://gridcase:gridcase@localhost:5432/postgres"
    """An account allowed to create databases; Temporal's two databases and the read model's live there."""
    database_prefix: str = "gridcase_cluster"
    """``<prefix>_temporal``, ``<prefix>_temporal_visibility`` and ``<prefix>`` (read model, API tables)."""
    history_shards: int = 4
    kafka_port: int = 19092
    """The first broker's port; broker n listens on ``kafka_port + n - 1``, its controller 10 above."""
    brokers: int = 3
    kafka_heap: str = "384m"

    @property
    def temporal_ports(self) -> dict[str, dict[str, int]]:
        """Per Temporal service: its gRPC, membership and metrics ports (and the frontend's HTTP port).

        All within ``temporal_port`` .. ``temporal_port + 30``: two clusters whose base ports are 31 or
        more apart never share a port.
        """
        base = self.temporal_port
        ports = {
            name: {"grpc": base + n, "membership": base + 10 + n, "metrics": base + 20 + n}
            for n, name in enumerate(("frontend", "history", "matching", "worker"))
        }
        ports["frontend"]["http"] = base + 30
        return ports

    @property
    def temporal_address(self) -> str:
        return f"localhost:{self.temporal_port}"

    def broker_ports(self, node: int) -> tuple[int, int]:
        """(client port, controller port) of broker ``node`` (1-based): ``kafka_port + node - 1`` and 10 above."""
        return self.kafka_port + node - 1, self.kafka_port + 10 + node - 1

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"localhost:{self.broker_ports(n)[0]}" for n in range(1, self.brokers + 1))

    @property
    def read_model_url(self) -> str:
        """The SQLAlchemy URL of the read model's database on the cluster's PostgreSQL."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.postgres_url)
        scheme = "postgresql+psycopg2"
        return urlunsplit((scheme, parts.netloc, f"/{self.database_prefix}", parts.query, ""))


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
    profile: str = DEV
    """``dev``: the Temporal dev server and one broker; ``cluster``: :class:`ClusterConfig`'s topology."""
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile: must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        if not self.resolved_database_url:
            url = f"sqlite:///{(self.state_dir / 'gridcase.db').resolve()}"
            object.__setattr__(self, "resolved_database_url", url)

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def profile_state_dir(self) -> Path:
        """Where this profile keeps its processes' data: the cluster profile in ``state_dir/cluster``."""
        return self.state_dir / CLUSTER if self.profile == CLUSTER else self.state_dir

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
