"""The one settings object of gridcase.

Every process reads its configuration from here: environment variables prefixed ``GRIDCASE_``
(for example ``GRIDCASE_DATABASE_URL``), or a ``.env`` file in the working directory. Nothing
connects when this module is imported.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.config import CLUSTER, ClusterConfig, StackConfig
from events.config import KafkaConfig


class Settings(BaseSettings):
    """Configuration for the stack, the worker and the command line."""

    model_config = SettingsConfigDict(env_prefix="GRIDCASE_", env_file=".env", extra="ignore")

    state_dir: Path = Field(default=Path(".gridcase"), description="Where the local stack keeps its data.")
    stack_profile: Literal["dev", "cluster"] = Field(
        default="dev",
        description=(
            "dev: the Temporal dev server and one broker; cluster: the Temporal server (four services) on "
            "PostgreSQL and three brokers. With cluster, the Temporal, Kafka and SQL addresses and the topics' "
            "replication default to the cluster's (each can still be set)."
        ),
    )

    # The cluster profile (GRIDCASE_STACK_PROFILE=cluster)
    cluster_temporal_version: str = Field(default=ClusterConfig.temporal_version, pattern=r"^v\d+\.\d+\.\d+$")
    cluster_go_toolchain: str = Field(default=ClusterConfig.go_toolchain, pattern=r"^go\d+\.\d+(\.\d+)?$")
    cluster_temporal_cache_dir: Path = Field(
        default=ClusterConfig.temporal_cache_dir, description="Where the built Temporal server is cached by version."
    )
    cluster_temporal_port: int = Field(
        default=ClusterConfig.temporal_port,
        ge=1024,
        le=32000,
        description="Frontend gRPC port; the cluster's Temporal ports are the 31 from here (Temporal: smallint).",
    )
    cluster_postgres_url: str = Field(
        default=ClusterConfig.postgres_url,
        description="PostgreSQL account that may create databases: Temporal's stores and the read model live there.",
    )
    cluster_database_prefix: str = Field(default=ClusterConfig.database_prefix, pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    cluster_history_shards: int = Field(default=ClusterConfig.history_shards, ge=1, le=1024)
    cluster_kafka_port: int = Field(default=ClusterConfig.kafka_port, ge=1024, le=64000)
    cluster_kafka_heap: str = Field(default=ClusterConfig.kafka_heap, pattern=r"^\d+[mg]$")

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    task_queue: str = "gridcase-cases"

    # Kafka
    kafka_bootstrap: str = "localhost:9092"
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    kafka_cache_dir: Path = Field(
        default=Path.home() / ".cache" / "gridcase" / "kafka",
        description="Where the broker's jars are cached after the first Maven fetch.",
    )
    topic_prefix: str = "gridcase"
    kafka_case_events_partitions: int = Field(
        default=6, ge=1, description="Partitions of the case-events topics, fixed when `topics ensure` creates them."
    )
    kafka_replication_factor: int = Field(default=1, ge=1, description="Replicas of every topic (3 in production).")
    kafka_min_insync_replicas: int | None = Field(
        default=None, ge=1, description="min.insync.replicas of every topic; default 2 with 3+ replicas, else 1."
    )

    # SQL
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file in the state directory."
    )

    # SLA
    policy_file: Path | None = Field(default=None, description="SLA policy YAML; default is the built-in one.")
    calendar_override_file: Path | None = Field(
        default=None, description="YAML adding or removing holidays and adjusted working days (调休)."
    )
    sla_time_scale: float | None = Field(
        default=None,
        gt=0,
        description="Compressed time for demos and tests: wall-clock seconds per policy hour. When set, clocks "
        "run continuously (no working calendar) and every output says so. Default: real time.",
    )

    # Worker
    metrics_port: int = Field(default=9464, description="Prometheus /metrics of the worker (0: off).")
    worker_max_cached_workflows: int = Field(
        default=500,
        ge=1,
        description="Cases a worker keeps in memory (about 0.2 MiB each); others replay their history on their "
        "next action. Bounds the worker's memory however many cases are open (see docs/performance.md).",
    )
    worker_sandboxed: bool = Field(
        default=False,
        description="Run case workflows in Temporal's workflow sandbox: it re-imports the workflow's modules "
        "for every case it loads and guards against non-deterministic calls, for about a third more worker CPU "
        "per action. The workflow tests and the replay tests always run sandboxed; the case domain is pure, so "
        "production workers run without it by default (docs/performance.md).",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address /metrics, /healthz and /readyz bind to (0.0.0.0 in containers)."
    )
    metrics_open_cases_interval_s: float = Field(
        default=30.0, ge=0, description="How often the worker counts open cases by state in Temporal (0: never)."
    )

    # Read model (projector)
    projector_group_id: str = Field(default="gridcase-projector", description="Kafka consumer group of the projector.")
    projector_metrics_port: int = Field(default=9465, description="Prometheus /metrics of the projector (0: off).")
    satisfaction_basic_weight: float = Field(
        default=0.9, description="Weight of 基本满意 in the satisfaction rate (满意 counts 1)."
    )
    composite_weights: tuple[float, float, float] = Field(
        default=(0.1, 0.5, 0.4), description="Weights of response, resolution and satisfaction in the composite."
    )

    # HTTP API and console
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_jwt_secret: str | None = Field(
        default=None, description="HS256 secret for signed JWTs; without it only API tokens are accepted."
    )

    # City registry
    city_data_dir: Path | None = Field(
        default=None, description="Folder of city registry files; default is the bundled seed city."
    )

    @model_validator(mode="after")
    def _cluster_defaults(self) -> Settings:
        """With the cluster profile, the addresses not set explicitly become the cluster's."""
        if self.stack_profile != CLUSTER:
            return self
        cluster = self.cluster
        given = self.model_fields_set
        defaults = {
            "temporal_address": cluster.temporal_address,
            "kafka_bootstrap": cluster.kafka_bootstrap,
            "kafka_replication_factor": cluster.brokers,
            "database_url": cluster.read_model_url,
        }
        for name, value in defaults.items():
            if name not in given:
                object.__setattr__(self, name, value)
        return self

    @property
    def cluster(self) -> ClusterConfig:
        """The cluster profile's topology (:class:`deploy.config.ClusterConfig`)."""
        return ClusterConfig(
            temporal_version=self.cluster_temporal_version,
            go_toolchain=self.cluster_go_toolchain,
            temporal_cache_dir=self.cluster_temporal_cache_dir,
            temporal_port=self.cluster_temporal_port,
            postgres_url=self.cluster_postgres_url,
            database_prefix=self.cluster_database_prefix,
            history_shards=self.cluster_history_shards,
            kafka_port=self.cluster_kafka_port,
            kafka_heap=self.cluster_kafka_heap,
        )

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL in force: the configured one, or SQLite in the state directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.state_dir / 'gridcase.db').resolve()}"

    @property
    def kafka(self) -> KafkaConfig:
        """What :mod:`events` needs to reach the broker and name and size the topics."""
        return KafkaConfig(
            bootstrap=self.kafka_bootstrap,
            topic_prefix=self.topic_prefix,
            case_events_partitions=self.kafka_case_events_partitions,
            replication_factor=self.kafka_replication_factor,
            min_insync_replicas=self.kafka_min_insync_replicas,
        )

    @property
    def stack(self) -> StackConfig:
        """What :mod:`deploy.stack` needs to run the local Temporal dev server and Kafka broker and check SQL."""
        return StackConfig(
            state_dir=self.state_dir,
            temporal_address=self.temporal_address,
            temporal_namespace=self.temporal_namespace,
            temporal_ui_port=self.temporal_ui_port,
            kafka_controller_port=self.kafka_controller_port,
            kafka_heap=self.kafka_heap,
            kafka_cache_dir=self.kafka_cache_dir,
            resolved_database_url=self.resolved_database_url,
            calendar_override_file=self.calendar_override_file,
            kafka=self.kafka,
            profile=self.stack_profile,
            cluster=self.cluster,
        )

    @property
    def temporal_host(self) -> str:
        return self.temporal_address.rsplit(":", 1)[0]

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.rsplit(":", 1)[1])


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
