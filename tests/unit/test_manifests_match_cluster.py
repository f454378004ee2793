"""The deployment manifests carry what the cluster profile runs.

``gridcase stack up --profile cluster`` (deploy/cluster.py) runs the topology of deploy/compose natively:
the Temporal server on PostgreSQL and three KRaft brokers. The manifests in deploy/compose and deploy/k8s
must say the same thing, and the values are read from the code, never copied into this test:

* every broker's ``KAFKA_*`` variables are exactly :data:`deploy.cluster.BROKER_PROPERTIES` (beside the
  listeners and ids that differ per host);
* compose runs the Temporal server's services (:data:`deploy.cluster.TEMPORAL_SERVICES`) as the profile
  does, one container each of the same image (``TEMPORAL_SERVICES`` names its service), started in the
  profile's order after the schema job, health-checked on their own ports, and every address naming
  the frontend (gridcase's, the UI's, Prometheus' targets) uses the profile's ports;
* the server configuration those containers read (deploy/compose/temporal.yaml, rendered with each
  container's environment as the server renders it) is the one deploy/cluster.py writes for its
  processes, setting for setting: services and ports, SQL pools, shards, log, cluster metadata,
  archival, dynamic-config polling; only the binding, the broadcast address, the database's address
  and credentials and the dynamic config file's path differ between one host and a compose network;
* the dynamic config file it reads equals :data:`deploy.cluster.TEMPORAL_DYNAMIC_CONFIG`, its SQL pools
  are :data:`deploy.cluster.SQL_POOLS`, and the server and admin-tools images are tagged
  ``ClusterConfig().temporal_version``;
* the schema job, run with a stand-in ``temporal-sql-tool`` that records its arguments, issues the
  steps deploy/cluster.py issues on a fresh database (embedded schema names included);
* the producers' description (``gridcase.io/kafka-producer``) is :func:`events.producer.producer_config`,
  and the worker settings and topic replication in the ConfigMap and the compose environment are
  the code's;
* every mention of a Temporal server version or of a broker property in the manifests' text agrees.

deploy/k8s runs no Temporal server (it assumes one run by its Helm chart or an operator, in a namespace
of its own: deploy/k8s/config.yaml), so only gridcase's side of it is compared there.

Every check returns the problems it finds. Each is also given a deliberately altered copy of the
manifests, so a check that cannot fail fails here.
"""

from __future__ import annotations

import copy
import inspect
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from activities.kafka_sink import KafkaEventSink
from deploy import cluster, temporal_server
from deploy.cluster import BROKER_PROPERTIES, SQL_POOLS, TEMPORAL_DYNAMIC_CONFIG, TEMPORAL_SERVICES
from deploy.config import ClusterConfig, StackConfig
from events.config import KafkaConfig
from events.producer import LazyProducer, producer_config
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPORAL_TAG = ClusterConfig().temporal_version.removeprefix("v")
BROKERS = ClusterConfig().brokers

TOPOLOGY = {
    "process.roles",
    "node.id",
    "controller.quorum.voters",
    "listeners",
    "advertised.listeners",
    "controller.listener.names",
    "inter.broker.listener.name",
    "listener.security.protocol.map",
    "log.dirs",
}
"""Broker properties that name the host's listeners, ids and paths: set per deployment, not shared."""
NOT_PROPERTIES = {"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS", "KAFKA_LOG4J_OPTS"}
"""``KAFKA_*`` variables of the apache/kafka image that are JVM options, not broker properties."""
WORKER_SETTINGS = ("worker_max_cached_workflows", "worker_sandboxed", "metrics_open_cases_interval_s")
PRODUCER_ANNOTATION = "gridcase.io/kafka-producer"
SCHEMA_STEP_FLAGS = {"--plugin", "--pl", "--endpoint", "--ep", "--port", "-p", "--user", "-u", "--password", "--pw"}
SCHEMA_DB_FLAGS = {"--db", "--database"}


# --------------------------------------------------------------------------------------------
# Reading the manifests


@dataclass
class Manifests:
    """deploy/compose and deploy/k8s of one tree (the repository's, or an altered copy)."""

    deploy: Path
    compose: dict[str, Any]
    k8s: list[dict[str, Any]]
    texts: dict[str, str]
    work: Path
    """A scratch directory for the checks that run something."""

    @classmethod
    def load(cls, deploy: Path, work: Path) -> Manifests:
        compose_file = deploy / "compose" / "compose.yaml"
        k8s: list[dict[str, Any]] = []
        for path in sorted((deploy / "k8s").glob("*.yaml")):
            if path.name != "kustomization.yaml":
                k8s += [d for d in yaml.safe_load_all(path.read_text()) if d]
        texts = {
            str(p.relative_to(deploy)): p.read_text()
            for sub in ("compose", "k8s")
            for p in sorted((deploy / sub).glob("*.yaml"))
        }
        return cls(deploy, yaml.safe_load(compose_file.read_text()), k8s, texts, work)

    @property
    def services(self) -> dict[str, Any]:
        return dict(self.compose["services"])

    def k8s_object(self, kind: str, name: str) -> dict[str, Any]:
        (obj,) = [d for d in self.k8s if d["kind"] == kind and d["metadata"]["name"] == name]
        return obj


def interpolate(value: object) -> str:
    """``value`` as Compose passes it on with no variable set.

    ``${X:-d}`` is ``d``, ``$X`` and ``${X}`` are empty, ``$$`` is ``$``.
    """
    pattern = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
    return pattern.sub(lambda m: "$" if m.group(0) == "$$" else (m.group(2) or ""), str(value))


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """A Compose service's environment (map or list form), interpolated."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): interpolate(v).lower() if isinstance(v, bool) else interpolate(v) for k, v in env.items()}


def kafka_property(variable: str) -> str:
    """The broker property an apache/kafka ``KAFKA_*`` variable sets.

    ``_`` stands for ``.``, ``__`` for ``_`` and ``___`` for ``-``.
    """
    name = variable.removeprefix("KAFKA_").lower()
    return name.replace("___", "\0").replace("__", "\1").replace("_", ".").replace("\0", "-").replace("\1", "_")


def image_tag(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference, variables resolved to their defaults."""
    repo, _, tag = interpolate(image).rpartition(":")
    return repo, tag


def render(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def same(a: object, b: object) -> bool:
    """Equal and of the same type (``True`` is not ``1`` in a dynamic config file)."""
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------------------------
# The checks: each returns its problems, an empty list when the manifests agree with the code


def check_brokers(m: Manifests) -> list[str]:
    problems: list[str] = []
    brokers = sorted(n for n in m.services if re.fullmatch(r"kafka-\d+", n))
    if len(brokers) != BROKERS:
        problems.append(
            f"compose has {len(brokers)} brokers ({', '.join(brokers)}); the cluster profile runs {BROKERS}"
        )
    for name in brokers:
        props = {
            kafka_property(k): v
            for k, v in env_of(m.services[name]).items()
            if k.startswith("KAFKA_") and k not in NOT_PROPERTIES
        }
        settings = {k: v for k, v in props.items() if k not in TOPOLOGY}
        for key, want in BROKER_PROPERTIES.items():
            if key not in settings:
                problems.append(f"{name}: {key} missing (BROKER_PROPERTIES has {want})")
            elif settings[key] != want:
                problems.append(f"{name}: {key}={settings[key]}, BROKER_PROPERTIES has {want}")
        for key in sorted(settings.keys() - BROKER_PROPERTIES.keys()):
            problems.append(f"{name}: {key}={settings[key]} is not in BROKER_PROPERTIES")
        if props.get("node.id") != name.rsplit("-", 1)[1]:
            problems.append(f"{name}: node.id is {props.get('node.id')}")
    return problems


def temporal_containers(m: Manifests) -> dict[str, dict[str, Any]]:
    """The compose services that run the Temporal server's image."""
    return {n: s for n, s in m.services.items() if image_tag(s.get("image", ""))[0] == "temporalio/server"}


def mounted_source(m: Manifests, service: dict[str, Any], target: str) -> Path | None:
    """The file of deploy/compose mounted at ``target`` in ``service``, if exactly one is."""
    sources = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            mounted_at = rest.split(":", 1)[0]
        else:
            source, mounted_at = volume.get("source", ""), volume.get("target", "")
        if mounted_at == target:
            sources.append(source)
    if len(sources) != 1 or not sources[0].startswith("."):
        return None
    return m.deploy / "compose" / sources[0]


TEMPLATE_ENV = re.compile(r"""\{\{-?\s*env\s+"([A-Za-z_][A-Za-z0-9_]*)"\s*-?\}\}""")
BROADCAST = "172.18.0.9"
"""TEMPORAL_BROADCAST_ADDRESS as the image's entrypoint sets it when BIND_ON_IP is 0.0.0.0 (a container's address)."""


def render_server_config(text: str, env: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """A server config file as the server reads it: rendered as a template when it asks for it.

    The server renders a file with ``enable-template`` in a comment of its first 1 KB (Go templates with
    sprig's functions). The files here use ``{{ env "NAME" }}`` only: anything else is reported.
    """
    problems: list[str] = []
    if "{{" in text:
        head = text.encode()[:1024].decode(errors="ignore").splitlines()
        if not any(line.strip().startswith("#") and "enable-template" in line for line in head):
            problems.append("it has template expressions but no '# enable-template' in its first 1 KB")
        for expr in re.findall(r"\{\{.*?\}\}", text):
            if not TEMPLATE_ENV.fullmatch(expr):
                problems.append(f'template expression {expr} is not of the form {{{{ env "NAME" }}}}')
        missing = sorted({n for n in TEMPLATE_ENV.findall(text) if n not in env})
        problems += [f"it reads {n} from the environment, which the container does not set" for n in missing]
        text = TEMPLATE_ENV.sub(lambda mm: env.get(mm.group(1), ""), text)
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return {}, [*problems, f"not YAML once rendered: {str(exc).splitlines()[0]}"]
    return loaded, problems


def container_env(service: dict[str, Any]) -> dict[str, str]:
    """A Temporal container's environment, with what the image's entrypoint adds."""
    env = env_of(service)
    if env.get("BIND_ON_IP") in {"0.0.0.0", "::0"}:
        env.setdefault("TEMPORAL_BROADCAST_ADDRESS", BROADCAST)
    return env


def server_config(m: Manifests, name: str) -> tuple[dict[str, Any], list[str]]:
    """The server configuration the Temporal container ``name`` reads, and the problems reaching it."""
    service = m.services[name]
    env = container_env(service)
    target = env.get("TEMPORAL_SERVER_CONFIG_FILE_PATH")
    if not target:
        return {}, [f"{name}: TEMPORAL_SERVER_CONFIG_FILE_PATH is not set (the image then runs its own template)"]
    path = mounted_source(m, service, target)
    if path is None or not path.is_file():
        return {}, [f"{name}: no file of deploy/compose is mounted at TEMPORAL_SERVER_CONFIG_FILE_PATH {target}"]
    config, problems = render_server_config(path.read_text(), env)
    return config, [f"{name}: {path.name}: {p}" for p in problems]


def cluster_server_config(service: str | None = None) -> dict[str, Any]:
    """The server configuration deploy/cluster.py writes for the Temporal process of ``service``
    (without a service: what all four share)."""
    cfg = StackConfig(profile="cluster")
    return cluster._temporal_config(cfg, cluster._paths(cfg), service)


def _port(address: object) -> str:
    return str(address).rsplit(":", 1)[-1]


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A server configuration without what is the host's or the network's own.

    Dropped: how the services bind (``bindOnLocalHost`` on one host, ``bindOnIP`` in a container), the
    broadcast address, the databases' address, names and credentials, the dynamic config file's path;
    addresses keep their port only.
    """
    out = copy.deepcopy(config)
    for service in (out.get("services") or {}).values():
        rpc = service.get("rpc") or {}
        rpc.pop("bindOnLocalHost", None)
        rpc.pop("bindOnIP", None)
    prometheus = (((out.get("global") or {}).get("metrics") or {}).get("prometheus")) or {}
    if "listenAddress" in prometheus:
        prometheus["listenAddress"] = _port(prometheus["listenAddress"])
    for store in ((out.get("persistence") or {}).get("datastores") or {}).values():
        for key in ("databaseName", "connectAddr", "user", "password"):
            (store.get("sql") or {}).pop(key, None)
    ((out.get("global") or {}).get("membership") or {}).pop("broadcastAddress", None)
    for info in ((out.get("clusterMetadata") or {}).get("clusterInformation") or {}).values():
        for key in ("rpcAddress", "httpAddress"):
            if key in info:
                info[key] = _port(info[key])
    (out.get("dynamicConfigClient") or {}).pop("filepath", None)
    return out


def differences(got: object, want: object, path: str = "") -> list[str]:
    """Where ``got`` differs from ``want``, path by path (values compared with their types)."""
    if isinstance(got, dict) and isinstance(want, dict):
        out: list[str] = []
        for key in sorted(set(got) | set(want), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in got:
                out.append(f"{where} missing (the cluster profile has {want[key]!r})")
            elif key not in want:
                out.append(f"{where}={got[key]!r} is not in the cluster profile's configuration")
            else:
                out += differences(got[key], want[key], where)
        return out
    return [] if same(got, want) else [f"{path}={got!r}, the cluster profile runs {want!r}"]


def check_temporal_services(m: Manifests) -> list[str]:
    containers = temporal_containers(m)
    want = {f"temporal-{s}": s for s in TEMPORAL_SERVICES}
    problems = [
        f"compose runs no container {n} (the cluster profile runs {s})" for n, s in want.items() if n not in containers
    ]
    problems += [
        f"{n}: a Temporal server container the cluster profile does not run" for n in containers if n not in want
    ]
    ports = ClusterConfig().temporal_ports
    first = f"temporal-{TEMPORAL_SERVICES[0]}"
    images = {name: interpolate(c.get("image", "")) for name, c in containers.items()}
    if len(set(images.values())) > 1:
        problems.append(f"the Temporal containers run different images: {images}")
    for name, service in sorted(want.items()):
        if name not in containers:
            continue
        container = containers[name]
        env = container_env(container)
        if env.get("TEMPORAL_SERVICES") != service:
            problems.append(f"{name}: TEMPORAL_SERVICES={env.get('TEMPORAL_SERVICES', '(unset: every service)')}")
        deps = container.get("depends_on") or {}
        deps = (
            {d: "service_started" for d in deps}
            if isinstance(deps, list)
            else {d: v.get("condition") for d, v in deps.items()}
        )
        expected = {"temporal-schema": "service_completed_successfully"}
        if name != first:  # the profile starts one service first on new databases, the others once it serves
            expected[first] = "service_healthy"
        if deps != expected:
            problems.append(f"{name}: depends_on {deps}, the cluster profile's order needs {expected}")
        health = " ".join(str(x) for x in (container.get("healthcheck") or {}).get("test") or [])
        probed = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", health)}
        own = set(ports[service].values())
        if not probed or not probed <= own:
            problems.append(f"{name}: the healthcheck probes {sorted(probed) or 'no port'}, not its own {sorted(own)}")
    frontend = f"temporal-frontend:{ports['frontend']['grpc']}"
    addresses = {
        "gridcase's GRIDCASE_TEMPORAL_ADDRESS": env_of(m.services["worker"]).get("GRIDCASE_TEMPORAL_ADDRESS"),
        "temporal-ui's TEMPORAL_ADDRESS": env_of(m.services["temporal-ui"]).get("TEMPORAL_ADDRESS"),
    }
    problems += [f"{what} is {got}, the frontend is {frontend}" for what, got in addresses.items() if got != frontend]
    published = [str(p) for p in (m.services.get("temporal-frontend") or {}).get("ports") or []]
    if not any(p.rsplit(":", 1)[-1] == str(ports["frontend"]["grpc"]) for p in published):
        problems.append(f"temporal-frontend publishes {published}, not its gRPC port {ports['frontend']['grpc']}")
    setup = m.services["temporal-setup"].get("depends_on") or {}
    if not isinstance(setup, dict) or (setup.get("temporal-frontend") or {}).get("condition") != "service_healthy":
        problems.append("temporal-setup does not wait for temporal-frontend to be healthy")
    prometheus = yaml.safe_load((m.deploy / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    targets = {t for sc in (jobs.get("temporal-server") or {}).get("static_configs", []) for t in sc["targets"]}
    wanted = {f"temporal-{s}:{ports[s]['metrics']}" for s in TEMPORAL_SERVICES}
    if targets != wanted:
        problems.append(f"prometheus.yml scrapes Temporal at {sorted(targets)}, the services serve {sorted(wanted)}")
    return problems


def check_server_config(m: Manifests) -> list[str]:
    problems: list[str] = []
    db = env_of(m.services["temporal-db"])
    for name in sorted(temporal_containers(m)):
        config, found = server_config(m, name)
        problems += found
        if not config:
            continue
        service = container_env(m.services[name]).get("TEMPORAL_SERVICES", "")
        want = cluster_server_config(service if service in TEMPORAL_SERVICES else None)
        problems += [f"{name}: {d}" for d in differences(comparable(config), comparable(want))]
        for store, item in ((config.get("persistence") or {}).get("datastores") or {}).items():
            sql = item.get("sql") or {}
            if sql.get("connectAddr") != "temporal-db:5432":
                problems.append(f"{name}: the {store} store connects to {sql.get('connectAddr')}, not temporal-db:5432")
            if (sql.get("user"), sql.get("password")) != (db.get("POSTGRES_USER"), db.get("POSTGRES_PASSWORD")):
                problems.append(f"{name}: the {store} store's credentials are not temporal-db's")
        rpc_address = (
            config.get("clusterMetadata", {}).get("clusterInformation", {}).get("active", {}).get("rpcAddress")
        )
        if str(rpc_address).rsplit(":", 1)[0] != "temporal-frontend":
            problems.append(f"{name}: the cluster's rpcAddress is {rpc_address}, not the frontend container's")
    return problems


def check_dynamic_config(m: Manifests) -> list[str]:
    problems: list[str] = []
    for name in sorted(temporal_containers(m)):
        config, _ = server_config(m, name)
        target = (config.get("dynamicConfigClient") or {}).get("filepath")
        if not target:
            problems.append(f"{name}: its server configuration names no dynamic config file (dynamicConfigClient)")
            continue
        path = mounted_source(m, m.services[name], target)
        if path is None:
            problems.append(f"{name}: no file of deploy/compose is mounted at the dynamic config's path {target}")
            continue
        if not path.is_file():
            problems.append(f"{name}: {path.name} (mounted at {target}) does not exist")
            continue
        loaded = yaml.safe_load(path.read_text()) or {}
        for key, want in TEMPORAL_DYNAMIC_CONFIG.items():
            if key not in loaded:
                problems.append(f"{path.name}: {key} missing (TEMPORAL_DYNAMIC_CONFIG has {want!r})")
                continue
            entries = loaded[key]
            ok = (
                isinstance(entries, list)
                and len(entries) == 1
                and isinstance(entries[0], dict)
                and same(entries[0].get("value"), want)
                and entries[0].get("constraints", {}) == {}
            )
            if not ok:
                problems.append(f"{path.name}: {key} is {entries!r}, TEMPORAL_DYNAMIC_CONFIG has one value {want!r}")
        for key in sorted(loaded.keys() - TEMPORAL_DYNAMIC_CONFIG.keys()):
            problems.append(f"{path.name}: {key} is not in TEMPORAL_DYNAMIC_CONFIG")
    return sorted(set(problems), key=problems.index)


def check_sql_pools(m: Manifests) -> list[str]:
    stores = cluster_server_config()["persistence"]["datastores"]
    problems = [
        f"cluster.py: the {s} store's pool is ({stores[s]['sql']['maxConns']}, {stores[s]['sql']['maxIdleConns']}), "
        f"SQL_POOLS says {SQL_POOLS[s]}"
        for s in ("default", "visibility")
        if (stores[s]["sql"]["maxConns"], stores[s]["sql"]["maxIdleConns"]) != SQL_POOLS[s]
    ]
    if stores["visibility"]["sql"]["pluginName"] != stores["default"]["sql"]["pluginName"]:
        problems.append("cluster.py: the visibility store's plugin is not the default store's")
    for name in sorted(temporal_containers(m)):
        config, _ = server_config(m, name)
        got = (config.get("persistence") or {}).get("datastores") or {}
        for store, (max_conns, idle) in SQL_POOLS.items():
            sql = (got.get(store) or {}).get("sql") or {}
            want = {
                "pluginName": stores[store]["sql"]["pluginName"],
                "maxConns": max_conns,
                "maxIdleConns": idle,
                "maxConnLifetime": stores[store]["sql"]["maxConnLifetime"],
            }
            for key, value in want.items():
                if not same(sql.get(key), value):
                    problems.append(
                        f"{name}: the {store} store's {key}={sql.get(key, '(unset: the server default)')}, "
                        f"the cluster profile runs {value}"
                    )
    return problems


def check_temporal_images(m: Manifests) -> list[str]:
    problems: list[str] = []
    seen = set()
    for name, service in m.services.items():
        repo, tag = image_tag(service.get("image", ""))
        if repo in {"temporalio/server", "temporalio/admin-tools"}:
            seen.add(repo)
            if tag != TEMPORAL_TAG:
                problems.append(f"{name}: {repo}:{tag}, the cluster profile builds {ClusterConfig().temporal_version}")
    for repo in sorted({"temporalio/server", "temporalio/admin-tools"} - seen):
        problems.append(f"compose runs no {repo} image")
    return problems


FAKE_SQL_TOOL = """#!/bin/sh
# Records one invocation: the plugin from the environment, then every argument.
{ printf '%s\\037' "${SQL_PLUGIN:-}" "$@"; printf '\\n'; } >> "$GRIDCASE_FAKE_SQL_LOG"
"""


def fake_sql_tool(directory: Path) -> tuple[Path, Path]:
    """A ``temporal-sql-tool`` that records its invocations; (its path, its log)."""
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / "temporal-sql-tool"
    tool.write_text(FAKE_SQL_TOOL)
    tool.chmod(0o755)
    return tool, directory / "calls.log"


def schema_steps(log: Path, databases: dict[str, str]) -> tuple[set[str], dict[str, list[tuple[str, ...]]]]:
    """(plugins used, each store's sub-commands in order) from a stand-in tool's log."""
    plugins: set[str] = set()
    steps: dict[str, list[tuple[str, ...]]] = {}
    store_of = {db: store for store, db in databases.items()}
    for line in log.read_text().splitlines() if log.is_file() else []:
        env_plugin, *args = line.split("\x1f")[:-1]
        plugin, db, rest, i = env_plugin, "temporal", [], 0
        while i < len(args):
            if args[i] in SCHEMA_STEP_FLAGS | SCHEMA_DB_FLAGS and i + 1 < len(args):
                if args[i] in SCHEMA_DB_FLAGS:
                    db = args[i + 1]
                elif args[i] in {"--plugin", "--pl"}:
                    plugin = args[i + 1]
                i += 2
            else:
                rest = args[i:]
                break
        plugins.add(plugin)
        steps.setdefault(store_of.get(db, f"unknown database {db!r}"), []).append(tuple(rest))
    return plugins, steps


def cluster_schema_steps(work: Path) -> tuple[set[str], dict[str, list[tuple[str, ...]]]]:
    """What deploy/cluster.py runs on fresh databases, recorded by a stand-in schema tool."""
    tool, log = fake_sql_tool(work / "cluster-tool")
    paths = cluster._ClusterPaths(work / "cluster-state")
    paths.logs.mkdir(parents=True, exist_ok=True)
    cfg = ClusterConfig()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cluster, "_has_schema_table", lambda *_: False)  # fresh databases: no PostgreSQL asked
        mp.setenv("GRIDCASE_FAKE_SQL_LOG", str(log))
        cluster._setup_schemas(cfg, tool, paths)
    return schema_steps(log, cluster._databases(cfg))


def check_schema_job(m: Manifests) -> list[str]:
    job = m.services["temporal-schema"]
    env = env_of(job)
    problems: list[str] = []
    for name in sorted(temporal_containers(m)):
        stores = (server_config(m, name)[0].get("persistence") or {}).get("datastores") or {}
        for key, store in (("DBNAME", "default"), ("VISIBILITY_DBNAME", "visibility")):
            server_db = ((stores.get(store) or {}).get("sql") or {}).get("databaseName")
            if env.get(key) != server_db:
                problems.append(f"temporal-schema: {key}={env.get(key)} but the server's is {server_db}")
    databases = {
        "default": env.get("DBNAME", "temporal"),
        "visibility": env.get("VISIBILITY_DBNAME", "temporal_visibility"),
    }
    tool, log = fake_sql_tool(m.work / "compose-tool")
    entrypoint = job.get("entrypoint") or []
    command = job.get("command") or []
    argv = [interpolate(a) for a in [*entrypoint, *command]]
    res = subprocess.run(
        argv,
        env={**env, "PATH": f"{tool.parent}{os.pathsep}{os.environ['PATH']}", "GRIDCASE_FAKE_SQL_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    if res.returncode != 0:
        problems.append(f"temporal-schema: the job's command fails (exit {res.returncode}): {res.stderr.strip()[:300]}")
    plugins, steps = schema_steps(log, databases)
    want_plugins, want_steps = cluster_schema_steps(m.work)
    if plugins != want_plugins:
        problems.append(f"temporal-schema: plugin {sorted(plugins)}, deploy/cluster.py uses {sorted(want_plugins)}")
    for store in sorted(want_steps.keys() | steps.keys()):
        got = [s for s in steps.get(store, []) if s != ("create-database",)]
        if got != want_steps.get(store):
            problems.append(
                f"temporal-schema: the {store} store gets {got}, deploy/cluster.py runs {want_steps.get(store)}"
            )
    return list(dict.fromkeys(problems))  # once, not once per Temporal container


def producer_description(timeout_s: float) -> dict[str, str]:
    """producer_config as the manifests describe it: everything but the addresses and the client id."""
    config = producer_config(KafkaConfig(), timeout_s=timeout_s)
    return {k: render(v) for k, v in config.items() if k not in {"bootstrap_servers", "client_id"}}


def parse_description(text: object) -> dict[str, str]:
    return dict(line.strip().split("=", 1) for line in str(text or "").splitlines() if "=" in line)


def default_of(func: Callable[..., object], parameter: str) -> Any:
    return inspect.signature(func).parameters[parameter].default


def check_producers(m: Manifests) -> list[str]:
    # the worker publishes through KafkaEventSink, the projector's dead letters through LazyProducer
    timeouts = {
        "worker": default_of(KafkaEventSink.__init__, "timeout_s"),
        "projector": default_of(LazyProducer.__init__, "timeout_s"),
    }
    problems: list[str] = []
    for process, timeout_s in timeouts.items():
        want = producer_description(timeout_s)
        described = {
            f"deploy/k8s gridcase-{process}": (
                m.k8s_object("Deployment", f"gridcase-{process}")["metadata"].get("annotations") or {}
            ).get(PRODUCER_ANNOTATION),
            f"compose {process}": (m.services[process].get("labels") or {}).get(PRODUCER_ANNOTATION),
        }
        for where, text in described.items():
            got = parse_description(text)
            if got != want:
                diff = sorted(
                    f"{k}={got.get(k)} (code: {want.get(k)})"
                    for k in want.keys() | got.keys()
                    if got.get(k) != want.get(k)
                )
                problems.append(f"{where}: {PRODUCER_ANNOTATION} differs from producer_config: {', '.join(diff)}")
    return problems


def check_gridcase_settings(m: Manifests) -> list[str]:
    environments = {
        "deploy/k8s gridcase-config": {
            str(k): str(v) for k, v in m.k8s_object("ConfigMap", "gridcase-config")["data"].items()
        },
        **{f"compose {p}": env_of(m.services[p]) for p in ("worker", "projector", "api", "kafka-topics")},
    }
    problems: list[str] = []
    for where, env in environments.items():
        for name in WORKER_SETTINGS:
            var, field = f"GRIDCASE_{name.upper()}", Settings.model_fields[name]
            if var not in env:
                problems.append(f"{where}: {var} missing (the code's default is {render(field.default)})")
            elif TypeAdapter[Any](field.annotation or str).validate_python(env[var]) != field.default:
                problems.append(f"{where}: {var}={env[var]}, the code's default is {render(field.default)}")
        expected = {
            "GRIDCASE_KAFKA_REPLICATION_FACTOR": str(BROKERS),
            "GRIDCASE_KAFKA_MIN_INSYNC_REPLICAS": BROKER_PROPERTIES["min.insync.replicas"],
        }
        for var, value in expected.items():
            if env.get(var) != value:
                problems.append(f"{where}: {var}={env.get(var)}, the cluster profile's is {value}")
        if len(env.get("GRIDCASE_KAFKA_BOOTSTRAP", "").split(",")) != BROKERS:
            problems.append(f"{where}: GRIDCASE_KAFKA_BOOTSTRAP does not list {BROKERS} brokers")
    return problems


VERSION_MENTION = re.compile(r"Temporal server v?(\d+\.\d+\.\d+)")


def check_mentions(m: Manifests) -> list[str]:
    problems: list[str] = []
    for part in ("compose", "k8s"):
        texts = {n: t for n, t in m.texts.items() if n.startswith(part + "/")}
        versions = [(n, v) for n, t in texts.items() for v in VERSION_MENTION.findall(t)]
        if not versions:
            problems.append(f"deploy/{part}: no 'Temporal server <version>' mention")
        problems += [
            f"{n}: mentions Temporal server {v}, the cluster profile runs {TEMPORAL_TAG}"
            for n, v in versions
            if v != TEMPORAL_TAG
        ]
        for name, text in texts.items():
            for key, want in BROKER_PROPERTIES.items():
                for match in re.finditer(rf"(?<![\w.]){re.escape(key)}(?:=([\w.-]+)|[ \t]+(\d+)\b)", text):
                    value = match.group(1) or match.group(2)
                    if value != want:
                        problems.append(f"{name}: mentions {key} {value}, BROKER_PROPERTIES has {want}")
    return problems


CHECKS: dict[str, Callable[[Manifests], list[str]]] = {
    "brokers": check_brokers,
    "temporal services": check_temporal_services,
    "temporal config": check_server_config,
    "dynamic config": check_dynamic_config,
    "sql pools": check_sql_pools,
    "temporal images": check_temporal_images,
    "schema job": check_schema_job,
    "producers": check_producers,
    "gridcase settings": check_gridcase_settings,
    "mentions": check_mentions,
}


# --------------------------------------------------------------------------------------------
# The repository's manifests agree


@pytest.mark.parametrize("name", list(CHECKS))
def test_the_manifests_carry_what_the_cluster_profile_runs(name: str, tmp_path: Path) -> None:
    problems = CHECKS[name](Manifests.load(DEPLOY, tmp_path))
    assert problems == [], "\n".join(problems)


def test_the_checks_read_real_values() -> None:
    """The values compared are the ones the brief of this test names: a vacuous comparison fails here."""
    assert BROKER_PROPERTIES["broker.session.timeout.ms"] == "3000"
    assert BROKER_PROPERTIES["broker.heartbeat.interval.ms"] == "500"
    assert TEMPORAL_DYNAMIC_CONFIG and SQL_POOLS.keys() == {"default", "visibility"}
    assert TEMPORAL_TAG == "1.32.2" and BROKERS == 3
    assert TEMPORAL_SERVICES == ("history", "matching", "frontend", "worker")
    ports = ClusterConfig().temporal_ports
    assert ports["frontend"] == {"grpc": 7333, "membership": 7343, "metrics": 7353, "http": 7363}
    assert ports["worker"] == {"grpc": 7336, "membership": 7346, "metrics": 7356}
    config, problems = render_server_config("# enable-template\na: '{{ env \"X\" }}'\nb: 1\n", {"X": "y"})
    assert (config, problems) == ({"a": "y", "b": 1}, [])
    assert render_server_config("a: '{{ env \"X\" }}'\n", {"X": "y"})[1] != []
    assert render_server_config('# enable-template\na: {{ default "1" (env "X") }}\n', {})[1] != []
    assert differences({"a": {"b": 1}}, {"a": {"b": True}}) == ["a.b=1, the cluster profile runs True"]
    description = producer_description(10.0)
    assert description["acks"] == "all" and description["enable_idempotence"] == "true"
    assert description["max_in_flight_requests_per_connection"] == "1"
    assert kafka_property("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR") == "share.coordinator.state.topic.min.isr"
    assert kafka_property("KAFKA_A__B___C") == "a_b-c"
    assert interpolate("temporalio/server:${TEMPORAL_VERSION:-1.32.2}") == "temporalio/server:1.32.2"
    assert interpolate('"$$db" $db ${X}') == '"$db"  '


def test_the_server_accepts_the_dynamic_config(tmp_path: Path) -> None:
    """The built server's own validator passes deploy/compose/dynamicconfig.yaml (key names and types)
    without an error or a warning, and warns about a copy with a value of the wrong type.

    Runs where the cluster profile's server is built (``deploy.temporal_server``, cached by version).
    """
    cfg = ClusterConfig()
    bins = temporal_server.binaries(cfg.temporal_cache_dir, cfg.temporal_version)
    if bins is None:
        pytest.skip(f"the Temporal server {cfg.temporal_version} is not built (make cluster-up builds it)")
    source = DEPLOY / "compose" / "dynamicconfig.yaml"
    broken = tmp_path / "dynamicconfig.yaml"
    broken.write_text(source.read_text().replace("value: 255", "value: many", 1))

    def validate(path: Path) -> subprocess.CompletedProcess[str]:
        argv = [str(bins[temporal_server.SERVER]), "validate-dynamic-config", str(path)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    good, bad = validate(source), validate(broken)
    assert good.returncode == 0, good.stdout + good.stderr
    assert not re.search(r"\b(error|warning):", good.stdout), good.stdout
    assert re.search(r"(error|warning):.*limit\.maxidlength", bad.stdout.lower()), bad.stdout + bad.stderr


# --------------------------------------------------------------------------------------------
# Each check detects an altered copy


@dataclass(frozen=True)
class Alteration:
    check: str
    file: str
    old: str
    new: str
    expect: str
    """A fragment of the problem the check must report."""


ALTERATIONS = [
    # one broker differs from the others
    Alteration(
        "brokers",
        "compose/compose.yaml",
        'KAFKA_NODE_ID: "2"\n',
        'KAFKA_NODE_ID: "2"\n      KAFKA_BROKER_HEARTBEAT_INTERVAL_MS: "2000"\n',
        "kafka-2: broker.heartbeat.interval.ms=2000",
    ),
    Alteration(
        "brokers",
        "compose/compose.yaml",
        'KAFKA_BROKER_SESSION_TIMEOUT_MS: "3000"',
        'KAFKA_BROKER_SESSION_TIMEOUT_MS: "9000"',
        "kafka-1: broker.session.timeout.ms=9000",
    ),
    Alteration(
        "brokers",
        "compose/compose.yaml",
        '  KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: "2"\n',
        "",
        "kafka-3: share.coordinator.state.topic.min.isr missing",
    ),
    Alteration(
        "brokers",
        "compose/compose.yaml",
        'KAFKA_NODE_ID: "3"\n',
        'KAFKA_NODE_ID: "3"\n      KAFKA_LOG_RETENTION_BYTES: "1073741824"\n',
        "kafka-3: log.retention.bytes=1073741824 is not in BROKER_PROPERTIES",
    ),
    Alteration("dynamic config", "compose/dynamicconfig.yaml", "value: 255", "value: 1024", "limit.maxIDLength"),
    Alteration(
        "dynamic config",
        "compose/dynamicconfig.yaml",
        "system.enableDeploymentVersions:\n  - value: true",
        "system.enableDeploymentVersions:\n  - value: 1",
        "system.enableDeploymentVersions",
    ),
    Alteration(
        "dynamic config",
        "compose/compose.yaml",
        "    - ./dynamicconfig.yaml:/etc/temporal/config/dynamicconfig/gridcase.yaml:ro\n",
        "",
        "no file of deploy/compose is mounted at the dynamic config's path",
    ),
    Alteration(
        "dynamic config",
        "compose/temporal.yaml",
        "  filepath: /etc/temporal/config/dynamicconfig/gridcase.yaml",
        "  filepath: /etc/temporal/config/dynamicconfig/docker.yaml",
        "mounted at the dynamic config's path /etc/temporal/config/dynamicconfig/docker.yaml",
    ),
    Alteration(
        "sql pools",
        "compose/temporal.yaml",
        "        maxConns: 2\n",
        "        maxConns: 10\n",
        "the visibility store's maxConns=10",
    ),
    Alteration(
        "sql pools", "compose/temporal.yaml", "        maxIdleConns: 3\n", "", "the default store's maxIdleConns=(unset"
    ),
    # the Temporal server's services: which containers, in which order, their health and addresses
    Alteration(
        "temporal services",
        "compose/compose.yaml",
        "  temporal-matching:\n",
        "  temporal-matcher:\n",
        "compose runs no container temporal-matching",
    ),
    Alteration(
        "temporal services",
        "compose/compose.yaml",
        "TEMPORAL_SERVICES: worker\n",
        "TEMPORAL_SERVICES: worker,frontend\n",
        "temporal-worker: TEMPORAL_SERVICES=worker,frontend",
    ),
    Alteration(
        "temporal services",  # started beside history on new databases: the race for the cluster metadata
        "compose/compose.yaml",
        "0.0.0.0:7353  # its metrics (temporal.yaml global.metrics)\n    depends_on: *temporal-after-history\n",
        "0.0.0.0:7353  # its metrics (temporal.yaml global.metrics)\n    depends_on:\n      temporal-schema:\n"
        "        condition: service_completed_successfully\n",
        "temporal-frontend: depends_on",
    ),
    Alteration(
        "temporal services",
        "compose/compose.yaml",
        "http://127.0.0.1:7355/metrics",
        "http://127.0.0.1:7354/metrics",
        "temporal-matching: the healthcheck probes [7354]",
    ),
    Alteration(
        "temporal services",
        "compose/compose.yaml",
        "GRIDCASE_TEMPORAL_ADDRESS: temporal-frontend:7333",
        "GRIDCASE_TEMPORAL_ADDRESS: temporal:7233",
        "GRIDCASE_TEMPORAL_ADDRESS is temporal:7233",
    ),
    Alteration(
        "temporal services", "compose/compose.yaml", '"7333:7333"', '"7233:7233"', "temporal-frontend publishes"
    ),
    Alteration(
        "temporal services",
        "prometheus/prometheus.yml",
        "temporal-matching:7355",
        "temporal-matching:8000",
        "prometheus.yml scrapes Temporal at",
    ),
    # the server configuration, rendered as the server renders it, against deploy/cluster.py's
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "grpcPort: 7335",
        "grpcPort: 7235",
        "services.matching.rpc.grpcPort=7235, the cluster profile runs 7335",
    ),
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "      httpPort: 7363\n",
        "",
        "services.frontend.rpc.httpPort missing",
    ),
    Alteration(
        "temporal config",
        "compose/compose.yaml",
        "PROMETHEUS_ENDPOINT: 0.0.0.0:7356",
        "PROMETHEUS_ENDPOINT: 0.0.0.0:8000",
        "temporal-worker: global.metrics.prometheus.listenAddress='8000', the cluster profile runs '7356'",
    ),
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "  metrics:\n    prometheus:\n",
        "  metric:\n    prometheus:\n",
        "global.metrics missing",
    ),
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "  pollInterval: 10s",
        "  pollInterval: 60s",
        "dynamicConfigClient.pollInterval='60s'",
    ),
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "numHistoryShards: 4",
        "numHistoryShards: 512",
        "persistence.numHistoryShards=512",
    ),
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "archival:\n  history:\n    state: disabled",
        "archival:\n  history:\n    state: enabled",
        "archival.history.state='enabled'",
    ),
    Alteration("temporal config", "compose/temporal.yaml", "  level: warn", "  level: info", "log.level='info'"),
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "rpcAddress: temporal-frontend:7333",
        "rpcAddress: temporal-history:7333",
        "the cluster's rpcAddress is temporal-history:7333",
    ),
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "'{{ env \"POSTGRES_PWD\" }}'",
        "'{{ env \"POSTGRES_PASSWORD\" }}'",
        "it reads POSTGRES_PASSWORD from the environment, which the container does not set",
    ),
    Alteration(
        "temporal config",
        "compose/temporal.yaml",
        "# enable-template\n",
        "",
        "no '# enable-template' in its first 1 KB",
    ),
    Alteration(
        "temporal config",
        "compose/compose.yaml",
        "  TEMPORAL_SERVER_CONFIG_FILE_PATH: /etc/temporal/config/gridcase.yaml\n",
        "",
        "TEMPORAL_SERVER_CONFIG_FILE_PATH is not set",
    ),
    Alteration(
        "temporal images",
        "compose/compose.yaml",
        "temporalio/admin-tools:${TEMPORAL_ADMIN_TOOLS_VERSION:-1.32.2}",
        "temporalio/admin-tools:${TEMPORAL_ADMIN_TOOLS_VERSION:-1.28.1}",
        "temporal-schema: temporalio/admin-tools:1.28.1",
    ),
    Alteration(
        "schema job",
        "compose/compose.yaml",
        'update-schema --schema-name "postgresql/v12/$${store#*:}"',
        'update-schema -d "/etc/temporal/schema/postgresql/v12/$${store#*:}/versioned"',
        "the default store gets",
    ),
    Alteration(
        "schema job",  # a single $ is Compose's, not the shell's: the database name would be empty
        "compose/compose.yaml",
        'temporal-sql-tool --db "$$db" setup-schema',
        'temporal-sql-tool --db "$db" setup-schema',
        "unknown database ''",
    ),
    Alteration(
        "schema job",
        "compose/compose.yaml",
        "      VISIBILITY_DBNAME: temporal_visibility\n    entrypoint:",
        "      VISIBILITY_DBNAME: visibility\n    entrypoint:",
        "VISIBILITY_DBNAME=visibility but the server's is temporal_visibility",
    ),
    Alteration("producers", "k8s/worker.yaml", "acks=all", "acks=1", "gridcase-worker: gridcase.io/kafka-producer"),
    Alteration(
        "producers",
        "compose/compose.yaml",
        "max_in_flight_requests_per_connection=1",
        "max_in_flight_requests_per_connection=5",
        "max_in_flight_requests_per_connection=5 (code: 1)",
    ),
    Alteration(
        "gridcase settings",
        "k8s/config.yaml",
        'GRIDCASE_WORKER_MAX_CACHED_WORKFLOWS: "500"',
        'GRIDCASE_WORKER_MAX_CACHED_WORKFLOWS: "1000"',
        "gridcase-config: GRIDCASE_WORKER_MAX_CACHED_WORKFLOWS=1000",
    ),
    Alteration(
        "gridcase settings",
        "compose/compose.yaml",
        '  GRIDCASE_WORKER_SANDBOXED: "false"\n',
        "",
        "compose worker: GRIDCASE_WORKER_SANDBOXED missing",
    ),
    Alteration(
        "mentions",
        "k8s/config.yaml",
        "Temporal server 1.32.2",
        "Temporal server 1.28.1",
        "mentions Temporal server 1.28.1",
    ),
    Alteration(
        "mentions",
        "k8s/config.yaml",
        "broker.session.timeout.ms=3000",
        "broker.session.timeout.ms=9000",
        "k8s/config.yaml: mentions broker.session.timeout.ms 9000",
    ),
]


@pytest.fixture
def altered(tmp_path: Path) -> Iterator[Callable[[Alteration], Manifests]]:
    def make(alteration: Alteration) -> Manifests:
        copy = tmp_path / "deploy"
        for sub in ("compose", "k8s", "prometheus"):
            shutil.copytree(DEPLOY / sub, copy / sub)
        path = copy / alteration.file
        text = path.read_text()
        assert alteration.old in text, f"{alteration.file} no longer contains {alteration.old!r}: update the test"
        path.write_text(text.replace(alteration.old, alteration.new, 1))
        return Manifests.load(copy, tmp_path / "work")

    yield make


def test_every_check_is_shown_an_altered_copy() -> None:
    assert {a.check for a in ALTERATIONS} == set(CHECKS)


@pytest.mark.parametrize("alteration", ALTERATIONS, ids=lambda a: f"{a.check}: {a.expect[:40]}")
def test_an_altered_copy_is_detected(alteration: Alteration, altered: Callable[[Alteration], Manifests]) -> None:
    problems = CHECKS[alteration.check](altered(alteration))
    assert any(alteration.expect in p for p in problems), "\n".join(problems) or "no problem reported"
