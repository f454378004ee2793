"""The cluster profile of the local stack, pinned without running anything.

``gridcase stack up --profile cluster`` (:mod:`deploy.cluster`) derives every port, address, database
name and config file from :class:`deploy.config.ClusterConfig`, and the settings
(:class:`workers.settings.Settings`) switch their defaults to the cluster's. These tests check those
derivations by classes of input: the port layout for many base ports, the settings' defaults for each
field given or not (as keyword or as environment variable), the refusal of each kind of bad value,
the Temporal server's and the brokers' configuration, the build cache of :mod:`deploy.temporal_server`
(with stand-in binaries and a stand-in ``go``), and the ``gridcase stack`` commands that answer before
touching a process. No service is started; state directories live in ``tmp_path``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from deploy import cluster, temporal_server
from deploy import stack as st
from deploy.cluster import BROKER_PROPERTIES, SQL_POOLS, TEMPORAL_SERVICES
from deploy.config import CLUSTER, DEV, ClusterConfig, StackConfig
from workers.cli_stack import app
from workers.settings import Settings, get_settings

DEFAULT = ClusterConfig()
CLUSTER_FILLED = ("temporal_address", "kafka_bootstrap", "kafka_replication_factor", "database_url")
"""The settings the cluster profile fills from the cluster unless they are given."""


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ``GRIDCASE_*`` variable of the calling shell and no ``.env`` file reaches the settings."""
    for name in list(os.environ):
        if name.startswith("GRIDCASE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # Settings reads ./.env: an empty directory has none
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _ports(ports: dict[str, dict[str, int]]) -> list[int]:
    return [p for service in ports.values() for p in service.values()]


def _broker_ports(cfg: ClusterConfig) -> list[int]:
    return [p for n in range(1, cfg.brokers + 1) for p in cfg.broker_ports(n)]


# --------------------------------------------------------------------------------------------
# ClusterConfig: ports, addresses, URLs

BASES = [1024, 7333, 7364, 15000, 31000, 32000]


@pytest.mark.parametrize("base", BASES)
def test_temporal_ports_are_distinct_and_within_31_of_the_base(base: int) -> None:
    ports = ClusterConfig(temporal_port=base).temporal_ports
    assert set(ports) == set(TEMPORAL_SERVICES)
    for service in TEMPORAL_SERVICES:
        assert {"grpc", "membership", "metrics"} <= set(ports[service]), service
    assert set(ports["frontend"]) == {"grpc", "membership", "metrics", "http"}
    assert ports["frontend"]["grpc"] == base, "the frontend's gRPC port is the base (temporal_address)"
    flat = _ports(ports)
    assert len(flat) == len(set(flat)) == 13, f"a port is used twice: {sorted(flat)}"
    assert all(base <= p <= base + 30 for p in flat), sorted(flat)


@pytest.mark.parametrize("gap", [31, 32, 100, 1000])
@pytest.mark.parametrize("base", [1024, 7333, 20000])
def test_two_clusters_31_or_more_apart_share_no_temporal_port(base: int, gap: int) -> None:
    first = set(_ports(ClusterConfig(temporal_port=base).temporal_ports))
    second = set(_ports(ClusterConfig(temporal_port=base + gap).temporal_ports))
    assert not first & second


def test_two_clusters_30_apart_do_share_a_port() -> None:
    """The other side of the 31: the layout really spans 31 ports (the check above can fail)."""
    first = set(_ports(ClusterConfig(temporal_port=7333).temporal_ports))
    assert first & set(_ports(ClusterConfig(temporal_port=7333 + 30).temporal_ports)) == {7363}


@pytest.mark.parametrize("kafka_port", [1024, 9192, 19092, 64000])
def test_broker_ports_are_distinct_and_within_12_of_the_kafka_port(kafka_port: int) -> None:
    cfg = ClusterConfig(kafka_port=kafka_port)
    assert cfg.brokers == 3
    flat = _broker_ports(cfg)
    assert len(flat) == len(set(flat)) == 6, sorted(flat)
    assert all(kafka_port <= p <= kafka_port + 12 for p in flat), sorted(flat)
    assert cfg.broker_ports(1) == (kafka_port, kafka_port + 10)
    assert cfg.broker_ports(3) == (kafka_port + 2, kafka_port + 12)


@pytest.mark.parametrize("brokers", [1, 2, 3, 5, 10])
def test_broker_ports_stay_distinct_for_up_to_ten_brokers(brokers: int) -> None:
    flat = _broker_ports(ClusterConfig(brokers=brokers))
    assert len(flat) == len(set(flat)) == 2 * brokers


@pytest.mark.parametrize("brokers", [1, 3, 5])
def test_kafka_bootstrap_lists_one_entry_per_broker(brokers: int) -> None:
    cfg = ClusterConfig(kafka_port=20000, brokers=brokers)
    entries = cfg.kafka_bootstrap.split(",")
    assert entries == [f"localhost:{20000 + n}" for n in range(brokers)]
    assert st.bootstrap_addresses(cfg.kafka_bootstrap) == [
        ("localhost", cfg.broker_ports(n)[0]) for n in range(1, brokers + 1)
    ]


def test_temporal_address_is_the_frontend_grpc_port() -> None:
    cfg = ClusterConfig(temporal_port=8100)
    assert cfg.temporal_address == f"localhost:{cfg.temporal_ports['frontend']['grpc']}" == "localhost:8100"


def test_default_cluster_ports_avoid_the_dev_profiles_ports() -> None:
    """The module's promise: the cluster profile never collides with the default one."""
    dev = StackConfig()
    dev_ports = {dev.temporal_port, dev.temporal_ui_port, dev.kafka_port, dev.kafka_controller_port}
    cluster_ports = set(_ports(DEFAULT.temporal_ports)) | set(_broker_ports(DEFAULT))
    assert not dev_ports & cluster_ports


@pytest.mark.parametrize(
    ("postgres_url", "prefix", "expected"),
    [
        ("postgresql://u:p@h:5/postgres", "gridcase_cluster", "postgresql+psycopg2://u:p@h:5/gridcase_cluster"),
        ("postgresql://u:p@h:5/postgres", "rm", "postgresql+psycopg2://u:p@h:5/rm"),
        ("postgresql://u:p%40s%2Fs%3Aw@h:5/postgres", "rm", "postgresql+psycopg2://u:p%40s%2Fs%3Aw@h:5/rm"),
        ("postgres://u:p@h:5/other", "rm", "postgresql+psycopg2://u:p@h:5/rm"),
        ("postgresql://u:p@h:5/postgres?sslmode=require", "rm", "postgresql+psycopg2://u:p@h:5/rm?sslmode=require"),
    ],
)
def test_read_model_url_is_the_prefix_database_on_the_same_server(
    postgres_url: str, prefix: str, expected: str
) -> None:
    cfg = ClusterConfig(postgres_url=postgres_url, database_prefix=prefix)
    assert cfg.read_model_url == expected
    assert urlsplit(cfg.read_model_url).path.lstrip("/") == cluster._databases(cfg)["readmodel"]


def test_read_model_url_keeps_an_encoded_password_usable() -> None:
    from sqlalchemy.engine import make_url

    url = ClusterConfig(postgres_url="postgresql://u:p%40ss%2Fw@h:5/postgres", database_prefix="rm").read_model_url
    parsed = make_url(url)
    assert (parsed.drivername, parsed.username, parsed.password, parsed.host, parsed.port, parsed.database) == (
        "postgresql+psycopg2",
        "u",
        "p@ss/w",
        "h",
        5,
        "rm",
    )


def test_databases_carry_the_prefix() -> None:
    assert cluster._databases(ClusterConfig(database_prefix="px")) == {
        "default": "px_temporal",
        "visibility": "px_temporal_visibility",
        "readmodel": "px",
    }


# --------------------------------------------------------------------------------------------
# Settings: the cluster profile's defaults and the refusal of bad values


def _cluster_values(cfg: ClusterConfig) -> dict[str, Any]:
    return {
        "temporal_address": cfg.temporal_address,
        "kafka_bootstrap": cfg.kafka_bootstrap,
        "kafka_replication_factor": cfg.brokers,
        "database_url": cfg.read_model_url,
    }


def test_cluster_profile_fills_every_address_from_the_cluster() -> None:
    s = Settings(stack_profile="cluster")
    assert {name: getattr(s, name) for name in CLUSTER_FILLED} == _cluster_values(DEFAULT)
    assert s.kafka.replication_factor == 3 and s.kafka.bootstrap == DEFAULT.kafka_bootstrap
    assert s.resolved_database_url == DEFAULT.read_model_url


def test_cluster_profile_from_the_environment_fills_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDCASE_STACK_PROFILE", "cluster")
    s = Settings()
    assert s.stack_profile == CLUSTER
    assert {name: getattr(s, name) for name in CLUSTER_FILLED} == _cluster_values(DEFAULT)
    get_settings.cache_clear()
    assert get_settings().temporal_address == DEFAULT.temporal_address


@pytest.mark.parametrize("via", ["kwargs", "env"])
def test_cluster_defaults_follow_the_cluster_settings(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    given = {
        "stack_profile": "cluster",
        "cluster_temporal_port": "8100",
        "cluster_kafka_port": "21000",
        "cluster_postgres_url": "postgresql://acct:s%40cret@db.example:6543/postgres",
        "cluster_database_prefix": "other_prefix",
    }
    if via == "env":
        for name, value in given.items():
            monkeypatch.setenv(f"GRIDCASE_{name.upper()}", value)
        s = Settings()
    else:
        s = Settings(**given)  # type: ignore[arg-type]  # pydantic coerces the strings
    expected = ClusterConfig(
        temporal_port=8100,
        kafka_port=21000,
        postgres_url="postgresql://acct:s%40cret@db.example:6543/postgres",
        database_prefix="other_prefix",
    )
    assert s.cluster == expected
    assert {name: getattr(s, name) for name in CLUSTER_FILLED} == _cluster_values(expected)
    assert s.temporal_address == "localhost:8100"
    assert s.kafka_bootstrap == "localhost:21000,localhost:21001,localhost:21002"
    assert s.database_url == "postgresql+psycopg2://acct:s%40cret@db.example:6543/other_prefix"


EXPLICIT: dict[str, tuple[Any, str]] = {
    "temporal_address": ("elsewhere:7999", "elsewhere:7999"),
    "kafka_bootstrap": ("b1:9000,b2:9000", "b1:9000,b2:9000"),
    "kafka_replication_factor": (2, "2"),
    "database_url": ("sqlite:///explicit.db", "sqlite:///explicit.db"),
}
"""Per filled setting: a value given as keyword, and the same as environment variable text."""

DEV_DEFAULTS: dict[str, Any] = {
    "temporal_address": "localhost:7233",
    "kafka_bootstrap": "localhost:9092",
    "kafka_replication_factor": 1,
    "database_url": None,
}


@pytest.mark.parametrize("via", ["kwargs", "env"])
@pytest.mark.parametrize("field", CLUSTER_FILLED)
def test_cluster_profile_keeps_an_explicit_setting(field: str, via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    value, text = EXPLICIT[field]
    if via == "env":
        monkeypatch.setenv("GRIDCASE_STACK_PROFILE", "cluster")
        monkeypatch.setenv(f"GRIDCASE_{field.upper()}", text)
        s = Settings()
    else:
        s = Settings(stack_profile="cluster", **{field: value})
    assert getattr(s, field) == value, f"{field} given {via} was replaced"
    cluster_values = _cluster_values(s.cluster)
    for other in CLUSTER_FILLED:
        if other != field:
            assert getattr(s, other) == cluster_values[other], f"{other} not filled when only {field} is given"


@pytest.mark.parametrize("via", ["kwargs", "env"])
@pytest.mark.parametrize("field", ["temporal_address", "kafka_bootstrap", "kafka_replication_factor"])
def test_an_explicit_value_equal_to_the_dev_default_still_counts_as_given(
    field: str, via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given means given: the value that happens to equal the dev default is not overwritten."""
    value = DEV_DEFAULTS[field]
    if via == "env":
        monkeypatch.setenv("GRIDCASE_STACK_PROFILE", "cluster")
        monkeypatch.setenv(f"GRIDCASE_{field.upper()}", str(value))
        s = Settings()
    else:
        s = Settings(stack_profile="cluster", **{field: value})
    assert getattr(s, field) == value


@pytest.mark.parametrize("via", ["default", "kwargs", "env"])
def test_dev_profile_leaves_the_defaults(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # cluster settings changed too: they must not leak into the dev profile's addresses
    if via == "env":
        monkeypatch.setenv("GRIDCASE_STACK_PROFILE", "dev")
        monkeypatch.setenv("GRIDCASE_CLUSTER_TEMPORAL_PORT", "8100")
        s = Settings()
    elif via == "kwargs":
        s = Settings(stack_profile="dev", cluster_temporal_port=8100)
    else:
        s = Settings()
    assert s.stack_profile == DEV
    assert {name: getattr(s, name) for name in CLUSTER_FILLED} == DEV_DEFAULTS
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.stack.profile == DEV and s.stack.profile_state_dir == s.state_dir


BAD_VALUES = [
    ("cluster_temporal_port", 32001),
    ("cluster_temporal_port", 40000),
    ("cluster_temporal_port", 1023),
    ("cluster_temporal_port", 80),
    ("cluster_go_toolchain", "1.27"),
    ("cluster_go_toolchain", "go1"),
    ("cluster_go_toolchain", "go1.27.3rc1"),
    ("cluster_temporal_version", "1.32.2"),
    ("cluster_temporal_version", "v1.32"),
    ("cluster_temporal_version", "latest"),
    ("cluster_database_prefix", "grid-case"),
    ("cluster_database_prefix", "Gridcase"),
    ("cluster_database_prefix", "gridCase"),
    ("cluster_database_prefix", "1abc"),
    ("cluster_database_prefix", ""),
    ("stack_profile", "prod"),
    ("stack_profile", "Cluster"),
]


@pytest.mark.parametrize("via", ["kwargs", "env"])
@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_values_are_refused_naming_the_field(
    field: str, value: Any, via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError) as exc:
        if via == "env":
            monkeypatch.setenv(f"GRIDCASE_{field.upper()}", str(value))
            Settings()
        else:
            Settings(**{field: value})
    assert [e["loc"] for e in exc.value.errors()] == [(field,)]
    assert field in str(exc.value)


GOOD_VALUES = [
    ("cluster_temporal_port", 1024),
    ("cluster_temporal_port", 32000),
    ("cluster_go_toolchain", "go1.27"),
    ("cluster_go_toolchain", "go1.27.3"),
    ("cluster_temporal_version", "v1.32.2"),
    ("cluster_temporal_version", "v2.0.10"),
    ("cluster_database_prefix", "gridcase_2"),
    ("cluster_database_prefix", "_x"),
    ("stack_profile", "cluster"),
    ("stack_profile", "dev"),
]


@pytest.mark.parametrize(("field", "value"), GOOD_VALUES)
def test_values_at_the_edges_are_accepted(field: str, value: Any) -> None:
    """The other side of each rule above, so a rule tightened by mistake fails here."""
    assert getattr(Settings(**{field: value}), field) == value


def test_settings_carry_the_cluster_into_the_stack_config(tmp_path: Path) -> None:
    s = Settings(stack_profile="cluster", state_dir=tmp_path, cluster_temporal_port=8100, cluster_history_shards=8)
    cfg = s.stack
    assert cfg.profile == CLUSTER
    assert cfg.cluster == s.cluster and cfg.cluster.history_shards == 8
    assert cfg.temporal_address == "localhost:8100" and cfg.kafka_bootstrap == s.cluster.kafka_bootstrap
    assert cfg.kafka.replication_factor == 3
    assert cfg.resolved_database_url == s.cluster.read_model_url
    assert cfg.profile_state_dir == tmp_path / "cluster"


# --------------------------------------------------------------------------------------------
# StackConfig


@pytest.mark.parametrize("profile", ["x", "prod", "", "Cluster", "DEV"])
def test_stack_config_refuses_an_unknown_profile(profile: str) -> None:
    with pytest.raises(ValueError, match=r"^profile: ") as exc:
        StackConfig(profile=profile)
    assert repr(profile) in str(exc.value) and "dev" in str(exc.value) and "cluster" in str(exc.value)


def test_profile_state_dir(tmp_path: Path) -> None:
    assert StackConfig(state_dir=tmp_path, profile=CLUSTER).profile_state_dir == tmp_path / "cluster"
    assert StackConfig(state_dir=tmp_path, profile=DEV).profile_state_dir == tmp_path
    assert cluster._paths(StackConfig(state_dir=tmp_path, profile=CLUSTER)).state == (tmp_path / "cluster").resolve()


# --------------------------------------------------------------------------------------------
# stack.bootstrap_addresses


@pytest.mark.parametrize(
    ("bootstrap", "expected"),
    [
        ("localhost:9092", [("localhost", 9092)]),
        ("a:1,b:2,c:3", [("a", 1), ("b", 2), ("c", 3)]),
        ("a:1, b:2 ,  c:3", [("a", 1), ("b", 2), ("c", 3)]),
        ("[::1]:9092", [("::1", 9092)]),
        ("[::1]:9092,[fe80::1]:9093", [("::1", 9092), ("fe80::1", 9093)]),
        ("a:1,b:2,", [("a", 1), ("b", 2)]),
        ("a:1, ,b:2", [("a", 1), ("b", 2)]),
        (":9092", [("localhost", 9092)]),
    ],
)
def test_bootstrap_addresses(bootstrap: str, expected: list[tuple[str, int]]) -> None:
    assert st.bootstrap_addresses(bootstrap) == expected


# --------------------------------------------------------------------------------------------
# cluster.expand

TEMPORAL_NAMES = ["temporal-history", "temporal-matching", "temporal-frontend", "temporal-worker"]
KAFKA_NAMES = ["kafka-1", "kafka-2", "kafka-3"]


def test_process_names() -> None:
    assert cluster.temporal_names() == TEMPORAL_NAMES
    assert cluster.kafka_names(DEFAULT) == KAFKA_NAMES
    assert cluster.kafka_names(ClusterConfig(brokers=5))[-1] == "kafka-5"
    assert cluster.all_names(DEFAULT) == TEMPORAL_NAMES + KAFKA_NAMES


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        (("temporal",), TEMPORAL_NAMES),
        (("kafka",), KAFKA_NAMES),
        (("kafka", "temporal"), KAFKA_NAMES + TEMPORAL_NAMES),
        (("temporal-history",), ["temporal-history"]),
        (("kafka-2",), ["kafka-2"]),
        (("kafka-2", "kafka-2"), ["kafka-2"]),
        (("kafka-2", "kafka"), ["kafka-2", "kafka-1", "kafka-3"]),
        (("kafka", "kafka-2"), KAFKA_NAMES),
        (("temporal", "temporal"), TEMPORAL_NAMES),
        (("temporal-worker", "kafka-3", "temporal"), ["temporal-worker", "kafka-3", *TEMPORAL_NAMES[:3]]),
        ((), []),
    ],
)
def test_expand(services: tuple[str, ...], expected: list[str]) -> None:
    assert cluster.expand(DEFAULT, services) == expected


@pytest.mark.parametrize(
    "services",
    [("bogus",), ("kafka-4",), ("kafka-0",), ("temporal-web",), ("Temporal",), ("kafka", "nope"), ("",)],
)
def test_expand_refuses_an_unknown_name(services: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as exc:
        cluster.expand(DEFAULT, services)
    message = str(exc.value)
    assert message.startswith("services:")
    assert repr(services[-1]) in message
    for valid in ["temporal", "kafka", *TEMPORAL_NAMES, *KAFKA_NAMES]:
        assert valid in message


def test_expand_follows_the_number_of_brokers() -> None:
    assert cluster.expand(ClusterConfig(brokers=5), ("kafka-5",)) == ["kafka-5"]
    with pytest.raises(ValueError, match=r"kafka-1, kafka-2$"):
        cluster.expand(ClusterConfig(brokers=2), ("kafka-3",))


def test_stack_down_dispatches_the_cluster_profile(tmp_path: Path) -> None:
    """stack.down with the cluster profile takes the cluster's names, and refuses the dev stack's rule."""
    cfg = StackConfig(state_dir=tmp_path, profile=CLUSTER)
    with pytest.raises(ValueError, match=r"^services: .*kafka-3"):
        st.down(cfg, services=("kafka-9",))
    # no state directory: nothing is created, every named process is "not running"
    assert st.down(cfg, services=("kafka-2", "temporal-history")) == {
        "kafka-2": "not running",
        "temporal-history": "not running",
    }
    assert not (tmp_path / "cluster").exists()
    with pytest.raises(ValueError, match=r"^services: "):
        st.down(StackConfig(state_dir=tmp_path), services=("kafka-2",))


def test_down_group_summary_with_nothing_running(tmp_path: Path) -> None:
    cfg = StackConfig(state_dir=tmp_path, profile=CLUSTER)
    (tmp_path / "cluster").mkdir()
    done = st.down(cfg)
    assert done == {
        **dict.fromkeys(TEMPORAL_NAMES + KAFKA_NAMES, "not running"),
        "temporal": "not running",
        "kafka": "not running",
    }
    only = st.down(cfg, services=("temporal",))
    assert set(only) == {*TEMPORAL_NAMES, "temporal"}


# --------------------------------------------------------------------------------------------
# _Pg.of


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5/postgres", ("h", 5, "u", "p", "postgres")),
        ("postgresql://u:p%40ss%2Fw@h:5/db", ("h", 5, "u", "p@ss/w", "db")),
        ("postgres://us%40er@h/db", ("h", 5432, "us@er", "", "db")),
        ("postgresql+psycopg2://u:p@h:6543", ("h", 6543, "u", "p", "postgres")),
        ("postgresql://u:p@h:5/", ("h", 5, "u", "p", "postgres")),
        ("postgresql:///db", ("localhost", 5432, "", "", "db")),
    ],
)
def test_pg_of(url: str, expected: tuple[str, int, str, str, str]) -> None:
    pg = cluster._Pg.of(url)
    assert (pg.host, pg.port, pg.user, pg.password, pg.dbname) == expected


@pytest.mark.parametrize("url", ["mysql://u:s3cr3t@h/db", "sqlite:///x.db", "http://u:s3cr3t@h:5/db"])
def test_pg_of_refuses_another_database_without_showing_the_password(url: str) -> None:
    with pytest.raises(st.StackError, match="GRIDCASE_CLUSTER_POSTGRES_URL") as exc:
        cluster._Pg.of(url)
    assert "s3cr3t" not in str(exc.value)


# --------------------------------------------------------------------------------------------
# The Temporal server's configuration


def _cluster_cfg(tmp_path: Path, **cluster_fields: Any) -> StackConfig:
    return StackConfig(state_dir=tmp_path, profile=CLUSTER, cluster=ClusterConfig(**cluster_fields))


@pytest.mark.parametrize(
    ("postgres_url", "password"),
    [
        ("postgresql://tuser:plain@db.example:6543/postgres", "plain"),
        ("postgresql://tuser:p%40ss%3Aw%2Fd@db.example:6543/postgres", "p@ss:w/d"),
    ],
)
@pytest.mark.parametrize(("base", "shards"), [(7333, 4), (9100, 16)])
def test_temporal_config(tmp_path: Path, postgres_url: str, password: str, base: int, shards: int) -> None:
    cfg = _cluster_cfg(
        tmp_path, postgres_url=postgres_url, temporal_port=base, history_shards=shards, database_prefix="px"
    )
    paths = cluster._paths(cfg)
    config = cluster._temporal_config(cfg, paths)
    yaml.safe_load(yaml.safe_dump(config))  # it is written as YAML: plain values only

    persistence = config["persistence"]
    assert persistence["numHistoryShards"] == shards
    assert (persistence["defaultStore"], persistence["visibilityStore"]) == ("default", "visibility")
    assert set(persistence["datastores"]) == set(SQL_POOLS) == {"default", "visibility"}
    databases = cluster._databases(cfg.cluster)
    for store, (max_conns, max_idle) in SQL_POOLS.items():
        sql = persistence["datastores"][store]["sql"]
        assert sql["pluginName"] == "postgres12", store
        assert (sql["maxConns"], sql["maxIdleConns"]) == (max_conns, max_idle), store
        assert (
            sql["databaseName"]
            == databases[store]
            == {"default": "px_temporal", "visibility": "px_temporal_visibility"}[store]
        )
        assert sql["connectAddr"] == "db.example:6543"
        assert sql["user"] == "tuser"
        assert sql["password"] == password, "the schema tool and the server log in with the URL's password, decoded"

    ports = cfg.cluster.temporal_ports
    assert set(config["services"]) == set(TEMPORAL_SERVICES)
    for service in TEMPORAL_SERVICES:
        rpc = config["services"][service]["rpc"]
        assert rpc["grpcPort"] == ports[service]["grpc"], service
        assert rpc["membershipPort"] == ports[service]["membership"], service
        assert ("httpPort" in rpc) == (service == "frontend"), service
        # the server serves metrics from global.metrics only (a service's own section has rpc alone):
        # each process's configuration carries its service's metrics port there
        assert set(config["services"][service]) == {"rpc"}, service
        own = cluster._temporal_config(cfg, paths, service)
        assert own["global"]["metrics"]["prometheus"]["listenAddress"] == f"127.0.0.1:{ports[service]['metrics']}"
        assert {k: v for k, v in own.items() if k != "global"} == {k: v for k, v in config.items() if k != "global"}
        assert own["global"]["membership"] == config["global"]["membership"]
    assert "metrics" not in config["global"], "the shared part names no process's metrics port"
    assert config["services"]["frontend"]["rpc"]["httpPort"] == ports["frontend"]["http"] == base + 30
    active = config["clusterMetadata"]["clusterInformation"]["active"]
    assert active["rpcAddress"] == f"127.0.0.1:{base}"
    assert active["httpAddress"] == f"127.0.0.1:{base + 30}"

    assert config["dynamicConfigClient"]["filepath"] == str(paths.dynamic_config)
    assert Path(config["dynamicConfigClient"]["filepath"]).parent == (tmp_path / "cluster" / "temporal").resolve()


def test_sql_pools_fit_postgres_default_connection_limit() -> None:
    per_process = sum(max_conns for max_conns, _ in SQL_POOLS.values())
    assert per_process * len(TEMPORAL_SERVICES) <= 32
    assert all(idle <= max_conns for max_conns, idle in SQL_POOLS.values())


# --------------------------------------------------------------------------------------------
# The brokers' properties


@pytest.mark.parametrize("kafka_port", [19092, 25000])
@pytest.mark.parametrize("node", [1, 2, 3])
def test_broker_properties(tmp_path: Path, node: int, kafka_port: int) -> None:
    cfg = _cluster_cfg(tmp_path, kafka_port=kafka_port)
    paths = cluster._paths(cfg)
    props = cluster._broker_properties(cfg, paths, node)
    port, cport = cfg.cluster.broker_ports(node)

    assert props["node.id"] == str(node)
    assert props["process.roles"] == "broker,controller"
    voters = dict(v.split("@", 1) for v in props["controller.quorum.voters"].split(","))
    assert voters == {str(n): f"127.0.0.1:{cfg.cluster.broker_ports(n)[1]}" for n in (1, 2, 3)}
    assert props["listeners"] == f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}"
    assert props["advertised.listeners"] == f"PLAINTEXT://localhost:{port}"
    assert f"localhost:{port}" in cfg.cluster.kafka_bootstrap.split(",")
    assert props["log.dirs"] == str(paths.broker_dir(node) / "data")
    for key, value in BROKER_PROPERTIES.items():
        assert props.get(key) == value, key


def test_brokers_differ_only_in_their_identity(tmp_path: Path) -> None:
    cfg = _cluster_cfg(tmp_path)
    paths = cluster._paths(cfg)
    every = [cluster._broker_properties(cfg, paths, n) for n in (1, 2, 3)]
    for key in ("node.id", "listeners", "advertised.listeners", "log.dirs"):
        assert len({p[key] for p in every}) == 3, key
    assert len({p["controller.quorum.voters"] for p in every}) == 1
    for a, b in combinations(every, 2):
        assert set(a) == set(b)


# --------------------------------------------------------------------------------------------
# deploy.temporal_server: the build cache and its command line


def _fake_build(cache: Path, version: str, *, marker: bool = True, executable: bool = True) -> dict[str, Path]:
    root = temporal_server.version_dir(cache, version)
    (root / "bin").mkdir(parents=True)
    paths = {name: root / "bin" / name for name in (temporal_server.SERVER, temporal_server.SQL_TOOL)}
    for path in paths.values():
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755 if executable else 0o644)
    if marker:
        (root / temporal_server._MARKER).write_text(f"{version} (stand-in)\n")
    return paths


def test_version_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert temporal_server.version_dir(Path("~/cache"), "v1.2.3") == tmp_path.resolve() / "cache" / "v1.2.3"
    monkeypatch.chdir(tmp_path)
    assert temporal_server.version_dir(Path("rel"), "v0") == tmp_path.resolve() / "rel" / "v0"


def test_binaries_none_when_nothing_is_there(tmp_path: Path) -> None:
    assert temporal_server.binaries(tmp_path / "cache", "v0") is None


def test_binaries_none_without_the_marker(tmp_path: Path) -> None:
    _fake_build(tmp_path, "v0", marker=False)
    assert temporal_server.binaries(tmp_path, "v0") is None


def test_binaries_none_when_not_executable(tmp_path: Path) -> None:
    _fake_build(tmp_path, "v0", executable=False)
    assert temporal_server.binaries(tmp_path, "v0") is None


@pytest.mark.parametrize("missing", [temporal_server.SERVER, temporal_server.SQL_TOOL])
def test_binaries_none_when_one_is_missing(tmp_path: Path, missing: str) -> None:
    paths = _fake_build(tmp_path, "v0")
    paths[missing].unlink()
    assert temporal_server.binaries(tmp_path, "v0") is None


def test_binaries_found_once_built(tmp_path: Path) -> None:
    paths = _fake_build(tmp_path, "v0")
    assert temporal_server.binaries(tmp_path, "v0") == paths
    assert temporal_server.binaries(tmp_path, "v1") is None, "cached by version"


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``go`` first on PATH that records its arguments and GOTOOLCHAIN, then fails."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    record = tmp_path / "go-calls.txt"
    go = bindir / "go"
    go.write_text(f'#!/bin/sh\necho "$GOTOOLCHAIN $*" >> "{record}"\nexit 3\n')
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return record


def test_main_build_reuses_the_cache_without_running_go(
    tmp_path: Path, fake_go: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _fake_build(tmp_path / "cache", "v0")
    assert temporal_server.main(["build", "--version", "v0", "--cache", str(tmp_path / "cache")]) == 0
    assert not fake_go.exists(), f"go ran: {fake_go.read_text() if fake_go.exists() else ''}"
    out = capsys.readouterr().out
    assert "v0" in out and str(paths[temporal_server.SERVER]) in out


def test_main_build_runs_go_when_not_cached(tmp_path: Path, fake_go: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The other side: with nothing cached ``main`` does reach ``go`` (the stand-in fails, so exit 1)."""
    cache = tmp_path / "cache"
    assert temporal_server.main(["build", "--version", "v0", "--cache", str(cache), "--toolchain", "go1.99.0"]) == 1
    calls = fake_go.read_text().splitlines()
    assert calls == [
        "go1.99.0 install go.temporal.io/server/cmd/server@v0 go.temporal.io/server/cmd/tools/sql@v0",
    ]
    assert "error: building Temporal server v0 failed (exit 3)" in capsys.readouterr().err
    assert temporal_server.binaries(cache, "v0") is None
    assert not list((cache / "v0").glob("bin.tmp-*")), "the failed build's folder is removed"


def test_main_build_defaults_to_the_cluster_config(
    tmp_path: Path, fake_go: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # the default cache is under ~/.cache, not used: --cache given
    assert temporal_server.main(["build", "--cache", str(tmp_path / "cache")]) == 1
    assert fake_go.read_text().split()[0] == DEFAULT.go_toolchain
    assert f"@{DEFAULT.temporal_version}" in fake_go.read_text()


@pytest.mark.parametrize("argv", [[], ["rebuild"], ["build", "--bogus"]])
def test_main_refuses_a_bad_command_line(argv: list[str], fake_go: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        temporal_server.main(argv)
    assert exc.value.code == 2
    assert not fake_go.exists()


# --------------------------------------------------------------------------------------------
# gridcase stack ... --profile


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("GRIDCASE_STATE_DIR", str(state))
    get_settings.cache_clear()
    return state


def _env_lines(cfg: ClusterConfig) -> list[str]:
    return [
        "export GRIDCASE_STACK_PROFILE=cluster",
        f"export GRIDCASE_TEMPORAL_ADDRESS={cfg.temporal_address}",
        f"export GRIDCASE_KAFKA_BOOTSTRAP={cfg.kafka_bootstrap}",
        f"export GRIDCASE_KAFKA_REPLICATION_FACTOR={cfg.brokers}",
        f"export GRIDCASE_DATABASE_URL='{cfg.read_model_url}'",
    ]


def test_env_prints_the_clusters_addresses(state_dir: Path) -> None:
    result = CliRunner().invoke(app, ["env", "--profile", "cluster"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == _env_lines(DEFAULT)
    assert result.output.splitlines()[1:4] == [
        "export GRIDCASE_TEMPORAL_ADDRESS=localhost:7333",
        "export GRIDCASE_KAFKA_BOOTSTRAP=localhost:19092,localhost:19093,localhost:19094",
        "export GRIDCASE_KAFKA_REPLICATION_FACTOR=3",
    ]
    assert not state_dir.exists(), "env starts nothing and writes nothing"


def test_env_follows_the_cluster_settings(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDCASE_CLUSTER_TEMPORAL_PORT", "8100")
    monkeypatch.setenv("GRIDCASE_CLUSTER_KAFKA_PORT", "21000")
    monkeypatch.setenv("GRIDCASE_CLUSTER_DATABASE_PREFIX", "lane_b")
    result = CliRunner().invoke(app, ["env", "--profile", "cluster"])
    assert result.exit_code == 0, result.output
    expected = ClusterConfig(temporal_port=8100, kafka_port=21000, database_prefix="lane_b")
    assert result.output.splitlines() == _env_lines(expected)


def test_env_from_the_profile_setting(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --profile the settings' profile counts (through get_settings)."""
    monkeypatch.setenv("GRIDCASE_STACK_PROFILE", "cluster")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["env"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == _env_lines(DEFAULT)


def test_env_dev_profile_prints_the_dev_addresses(state_dir: Path) -> None:
    result = CliRunner().invoke(app, ["env", "--profile", "dev"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "export GRIDCASE_STACK_PROFILE=dev",
        "export GRIDCASE_TEMPORAL_ADDRESS=localhost:7233",
        "export GRIDCASE_KAFKA_BOOTSTRAP=localhost:9092",
        "export GRIDCASE_KAFKA_REPLICATION_FACTOR=1",
    ]
    assert lines[4].startswith("export GRIDCASE_DATABASE_URL='sqlite:///")


@pytest.mark.parametrize("command", [["status"], ["up"], ["down"], ["env"]])
@pytest.mark.parametrize("profile", ["prod", "Cluster", ""])
def test_unknown_profile_exits_2_naming_the_option(state_dir: Path, command: list[str], profile: str) -> None:
    result = CliRunner().invoke(app, [*command, "--profile", profile])
    assert result.exit_code == 2, result.output
    assert "--profile" in result.output
    assert repr(profile) in result.output
    assert not state_dir.exists(), "nothing is started or written"


@pytest.mark.parametrize("service", ["bogus", "kafka-4", "temporal-web"])
def test_down_unknown_service_exits_2_naming_the_option(state_dir: Path, service: str) -> None:
    result = CliRunner().invoke(app, ["down", "--profile", "cluster", "--service", service])
    assert result.exit_code == 2, result.output
    assert "--service" in result.output
    assert repr(service) in result.output and "kafka-3" in result.output
    assert "services:" not in result.output, "the option's name replaces the function's argument name"
    assert not state_dir.exists()


def test_down_one_process_with_nothing_running(state_dir: Path) -> None:
    result = CliRunner().invoke(app, ["down", "--profile", "cluster", "--service", "kafka-2"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["kafka-2", "not", "running"]


def test_down_reports_a_bad_setting_as_a_setting_not_as_service(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDCASE_CLUSTER_TEMPORAL_PORT", "99")
    result = CliRunner().invoke(app, ["down", "--profile", "cluster"])
    assert result.exit_code != 0
    assert "GRIDCASE_CLUSTER_TEMPORAL_PORT" in result.output, result.output
    assert "--service" not in result.output, result.output
