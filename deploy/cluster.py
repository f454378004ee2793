"""The cluster profile of the local stack: production's topology, run natively on one machine.

``gridcase stack up --profile cluster`` (or ``GRIDCASE_STACK_PROFILE=cluster``) starts:

- the **Temporal server** (not the dev server), built by :mod:`deploy.temporal_server`, as four
  processes (``temporal-history``, ``temporal-matching``, ``temporal-frontend``, ``temporal-worker``)
  on **PostgreSQL** persistence and SQL visibility (plugin ``postgres12``), with the schemas set up
  by the server's own schema tool and the namespace and search attributes registered by
  :func:`deploy.temporal_setup.setup_temporal` (what ``gridcase temporal setup`` runs);
- **three Kafka brokers** in KRaft combined mode from the cached jars, with the settings of
  :data:`BROKER_PROPERTIES` (replication 3, ``min.insync.replicas=2``, short broker session timeouts
  so a dead broker's partitions move in seconds), and gridcase's topics created with three replicas;
- the read model's and the API's database on the same PostgreSQL.

Everything lives in ``<state dir>/cluster`` (config files, broker data, logs, pid files) and every
port comes from :class:`deploy.config.ClusterConfig`, so the profile never collides with the
default one. Each process is supervised like the dev stack's: a pid file with its start time, a log
file, a real health probe; ``down`` stops exactly what ``up`` started, one process or a group of
them (``temporal``, ``kafka``, ``temporal-history``, ``kafka-2`` ...).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from deploy import stack as st
from deploy import temporal_server
from deploy.config import ClusterConfig, StackConfig
from readmodel.urls import mask_url

TEMPORAL_SERVICES = ("history", "matching", "frontend", "worker")
"""The Temporal server's services, in the order they are started."""

BROKER_PROPERTIES: dict[str, str] = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    "auto.create.topics.enable": "false",
    "unclean.leader.election.enable": "false",
    # A broker that stops heart-beating is fenced after this long and its partitions' leadership
    # moves; the default (9 s) is the producers' stall when a broker is killed.
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "group.initial.rebalance.delay.ms": "0",
    "num.network.threads": "2",
    "num.io.threads": "2",
    "log.segment.bytes": "67108864",
    "log.retention.hours": "168",
}
"""The brokers' settings that the cluster lane proves; deploy/compose and deploy/k8s carry the same."""

TEMPORAL_DYNAMIC_CONFIG: dict[str, Any] = {
    "frontend.enableUpdateWorkflowExecution": True,
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted": True,
    "frontend.workerVersioningWorkflowAPIs": True,
    "frontend.workerVersioningDataAPIs": True,
    "system.enableDeploymentVersions": True,
    "system.forceSearchAttributesCacheRefreshOnRead": True,
    "limit.maxIDLength": 255,
}
"""The Temporal server's dynamic configuration (one value, no constraints, per key)."""

SQL_POOLS = {"default": (6, 3), "visibility": (2, 1)}
"""(maxConns, maxIdleConns) per store and per process: 4 processes x 8 = 32 connections at most,
well inside PostgreSQL's default ``max_connections`` of 100 with gridcase's own pools beside them."""


def temporal_names() -> list[str]:
    return [f"temporal-{s}" for s in TEMPORAL_SERVICES]


def kafka_names(cluster: ClusterConfig) -> list[str]:
    return [f"kafka-{n}" for n in range(1, cluster.brokers + 1)]


def all_names(cluster: ClusterConfig) -> list[str]:
    return [*temporal_names(), *kafka_names(cluster)]


def expand(cluster: ClusterConfig, services: tuple[str, ...]) -> list[str]:
    """Process names for ``services``: group names (``temporal``, ``kafka``) or process names.

    Raises:
        ValueError: a name is neither.
    """
    out: list[str] = []
    for name in services:
        if name == st.TEMPORAL:
            names = temporal_names()
        elif name == st.KAFKA:
            names = kafka_names(cluster)
        elif name in all_names(cluster):
            names = [name]
        else:
            known = ", ".join([st.TEMPORAL, st.KAFKA, *all_names(cluster)])
            raise ValueError(f"services: unknown service {name!r}; expected one of {known}")
        out += [n for n in names if n not in out]
    return out


# --------------------------------------------------------------------------------------------
# Paths


@dataclass(frozen=True)
class _ClusterPaths(st._Paths):
    @property
    def temporal_dir(self) -> Path:
        return self.state / "temporal"

    def temporal_config(self, service: str) -> Path:
        """The server configuration of one Temporal service's process."""
        return self.temporal_dir / f"config-{service}.yaml"

    @property
    def dynamic_config(self) -> Path:
        return self.temporal_dir / "dynamicconfig.yaml"

    def broker_dir(self, node: int) -> Path:
        return self.state / "kafka" / f"broker-{node}"

    def out_of(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def make(self) -> None:
        super().make()
        self.temporal_dir.mkdir(parents=True, exist_ok=True)


def _paths(cfg: StackConfig) -> _ClusterPaths:
    return _ClusterPaths(cfg.profile_state_dir.expanduser().resolve())


# --------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass(frozen=True)
class _Pg:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def of(cls, url: str) -> _Pg:
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise st.StackError(f"GRIDCASE_CLUSTER_POSTGRES_URL must be a postgresql:// URL, got {mask_url(url)}")
        return cls(
            parts.hostname or "localhost",
            parts.port or 5432,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            (parts.path or "/postgres").lstrip("/") or "postgres",
        )

    def connect(self, dbname: str | None = None) -> Any:
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.dbname,
            connect_timeout=5,
        )


def _databases(cluster: ClusterConfig) -> dict[str, str]:
    prefix = cluster.database_prefix
    return {"default": f"{prefix}_temporal", "visibility": f"{prefix}_temporal_visibility", "readmodel": prefix}


def _ensure_databases(cluster: ClusterConfig) -> None:
    pg = _Pg.of(cluster.postgres_url)
    try:
        conn = pg.connect()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise st.StackError(
            f"cannot connect to PostgreSQL {mask_url(cluster.postgres_url)} (GRIDCASE_CLUSTER_POSTGRES_URL): {first}"
        ) from exc
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in _databases(cluster).values():
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
                if cur.fetchone() is None:
                    with contextlib.suppress(Exception):  # lost a race with another `up`: it exists now
                        cur.execute(f'CREATE DATABASE "{db}"')
    finally:
        conn.close()


def _has_schema_table(cluster: ClusterConfig, db: str) -> bool:
    conn = _Pg.of(cluster.postgres_url).connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('public.schema_version') IS NOT NULL")
            row = cur.fetchone()
            return bool(row and row[0])
    finally:
        conn.close()


def _setup_schemas(cluster: ClusterConfig, sql_tool: Path, paths: _ClusterPaths) -> None:
    """Create or upgrade Temporal's two schemas with the server's schema tool (idempotent)."""
    pg = _Pg.of(cluster.postgres_url)
    env = {**os.environ, "SQL_PASSWORD": pg.password}
    schema_log = paths.logs / "temporal-schema.log"
    dbs = _databases(cluster)
    for store, schema in (("default", "temporal"), ("visibility", "visibility")):
        base = [
            str(sql_tool),
            "--plugin",
            "postgres12",
            "--ep",
            pg.host,
            "--port",
            str(pg.port),
            "--user",
            pg.user,
            "--db",
            dbs[store],
        ]
        steps = []
        if not _has_schema_table(cluster, dbs[store]):
            steps.append([*base, "setup-schema", "-v", "0.0"])
        steps.append([*base, "update-schema", "--schema-name", f"postgresql/v12/{schema}"])
        for argv in steps:
            with schema_log.open("a") as fh:
                fh.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv[1:])}\n")
                fh.flush()
                rc = subprocess.run(
                    argv, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=300
                ).returncode
            if rc != 0:
                raise st.StackError(f"Temporal's schema tool failed on {dbs[store]} (exit {rc}); see {schema_log}")


# --------------------------------------------------------------------------------------------
# Temporal server


def _temporal_config(cfg: StackConfig, paths: _ClusterPaths, service: str | None = None) -> dict[str, Any]:
    """The server configuration of the Temporal process running ``service`` (all four share everything
    but the metrics listener: the server serves metrics from ``global.metrics`` only, one per process)."""
    cluster = cfg.cluster
    pg = _Pg.of(cluster.postgres_url)
    dbs = _databases(cluster)
    ports = cluster.temporal_ports

    def store(name: str) -> dict[str, Any]:
        max_conns, idle = SQL_POOLS[name]
        return {
            "sql": {
                "pluginName": "postgres12",
                "databaseName": dbs[name],
                "connectAddr": f"{pg.host}:{pg.port}",
                "connectProtocol": "tcp",
                "user": pg.user,
                "password": pg.password,
                "maxConns": max_conns,
                "maxIdleConns": idle,
                "maxConnLifetime": "1h",
            }
        }

    services: dict[str, Any] = {}
    for name in TEMPORAL_SERVICES:
        rpc: dict[str, Any] = {
            "grpcPort": ports[name]["grpc"],
            "membershipPort": ports[name]["membership"],
            "bindOnLocalHost": True,
        }
        if "http" in ports[name]:
            rpc["httpPort"] = ports[name]["http"]
        services[name] = {"rpc": rpc}
    membership = {"maxJoinDuration": "30s", "broadcastAddress": "127.0.0.1"}
    global_: dict[str, Any] = {"membership": membership}
    if service is not None:
        global_["metrics"] = {
            "prometheus": {
                "framework": "tally",
                "timerType": "histogram",
                "listenAddress": f"127.0.0.1:{ports[service]['metrics']}",
            }
        }
    return {
        "log": {"stdout": True, "level": "warn"},
        "persistence": {
            "defaultStore": "default",
            "visibilityStore": "visibility",
            "numHistoryShards": cluster.history_shards,
            "datastores": {"default": store("default"), "visibility": store("visibility")},
        },
        "global": global_,
        "services": services,
        "clusterMetadata": {
            "enableGlobalNamespace": False,
            "failoverVersionIncrement": 10,
            "masterClusterName": "active",
            "currentClusterName": "active",
            "clusterInformation": {
                "active": {
                    "enabled": True,
                    "initialFailoverVersion": 1,
                    "rpcName": "frontend",
                    "rpcAddress": f"127.0.0.1:{ports['frontend']['grpc']}",
                    "httpAddress": f"127.0.0.1:{ports['frontend']['http']}",
                }
            },
        },
        "dcRedirectionPolicy": {"policy": "noop"},
        "archival": {"history": {"state": "disabled"}, "visibility": {"state": "disabled"}},
        "namespaceDefaults": {"archival": {"history": {"state": "disabled"}, "visibility": {"state": "disabled"}}},
        "dynamicConfigClient": {"filepath": str(paths.dynamic_config), "pollInterval": "10s"},
    }


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (the server's config holds the database password)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def _prepare_temporal(cfg: StackConfig, paths: _ClusterPaths) -> dict[str, list[str]]:
    """Build (or reuse) the server, set up the schemas, write its config; each service's command line."""
    cluster = cfg.cluster
    try:
        bins = temporal_server.ensure_built(
            cluster.temporal_cache_dir,
            cluster.temporal_version,
            cluster.go_toolchain,
            log=paths.logs / "temporal-build.log",
        )
    except temporal_server.BuildError as exc:
        raise st.StackError(str(exc)) from exc
    _setup_schemas(cluster, bins[temporal_server.SQL_TOOL], paths)
    import yaml

    for name in TEMPORAL_SERVICES:
        text = yaml.safe_dump(_temporal_config(cfg, paths, name), sort_keys=False)
        _write_private(paths.temporal_config(name), text)
    paths.dynamic_config.write_text(
        yaml.safe_dump({k: [{"value": v, "constraints": {}}] for k, v in TEMPORAL_DYNAMIC_CONFIG.items()})
    )
    server = str(bins[temporal_server.SERVER])
    return {
        f"temporal-{name}": [
            server,
            "--config-file",
            str(paths.temporal_config(name)),
            "--allow-no-auth",
            "start",
            "--service",
            name,
        ]
        for name in TEMPORAL_SERVICES
    }


def _probe_temporal_service(cfg: StackConfig, name: str) -> tuple[bool, str]:
    service = name.removeprefix("temporal-")
    ports = cfg.cluster.temporal_ports[service]
    if service == "frontend":
        return st._probe_temporal(cfg)
    for what in ("grpc", "membership"):
        if not st._port_answers("127.0.0.1", ports[what]):
            return False, f"{what} port {ports[what]} not answering"
    return True, ""


# --------------------------------------------------------------------------------------------
# Kafka


def _broker_properties(cfg: StackConfig, paths: _ClusterPaths, node: int) -> dict[str, str]:
    cluster = cfg.cluster
    voters = ",".join(f"{n}@127.0.0.1:{cluster.broker_ports(n)[1]}" for n in range(1, cluster.brokers + 1))
    port, cport = cluster.broker_ports(node)
    return {
        "process.roles": "broker,controller",
        "node.id": str(node),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://localhost:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(paths.broker_dir(node) / "data"),
        "num.partitions": "1",
        **BROKER_PROPERTIES,
    }


def _cluster_id(paths: _ClusterPaths) -> str:
    path = paths.state / "kafka" / "cluster.id"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    path.write_text(cid + "\n")
    return cid


def _prepare_kafka(cfg: StackConfig, paths: _ClusterPaths, nodes: list[int]) -> dict[str, list[str]]:
    """Java, jars, each broker's properties and formatted storage; each broker's command line."""
    java = st._java_binary()
    libs = st._kafka_libs(cfg, paths)
    cid = _cluster_id(paths)
    heap_cfg = dataclasses.replace(cfg, kafka_heap=cfg.cluster.kafka_heap)
    argvs: dict[str, list[str]] = {}
    formats: list[tuple[int, subprocess.Popen[bytes], Path]] = []
    for node in nodes:
        bdir = paths.broker_dir(node)
        (bdir / "data").mkdir(parents=True, exist_ok=True)
        props = bdir / "server.properties"
        props.write_text(
            "# Generated by `gridcase stack up --profile cluster`; rewritten at every start.\n"
            + "".join(f"{k}={v}\n" for k, v in _broker_properties(cfg, paths, node).items())
        )
        # each broker's own log4j2 folder (kafka.log, controller.log ...)
        base = [
            f"-Dkafka.logs.dir={paths.logs / f'kafka-{node}'}" if a.startswith("-Dkafka.logs.dir=") else a
            for a in st._java_base(java, heap_cfg, paths, libs)
        ]
        if not (bdir / "data" / "meta.properties").is_file():
            fmt_log = paths.logs / f"kafka-{node}-format.log"
            fh = fmt_log.open("w")
            argv = [
                *base,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cid}",
                "-c",
                str(props),
                "--ignore-formatted",
            ]
            formats.append(
                (node, subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), fmt_log)
            )
            fh.close()
        argvs[f"kafka-{node}"] = [*base, "kafka.Kafka", str(props)]
    for node, proc, fmt_log in formats:
        if proc.wait(timeout=180) != 0:
            raise st.StackError(f"formatting broker {node}'s storage failed (exit {proc.returncode}); see {fmt_log}")
    return argvs


def _probe_kafka_cluster(cfg: StackConfig) -> tuple[bool, str]:
    """Every broker listed in the cluster metadata (a metadata request through the bootstrap list)."""
    return st._probe_kafka(cfg, brokers=cfg.cluster.brokers)


def _probe_broker(cfg: StackConfig, name: str) -> tuple[bool, str]:
    node = int(name.rsplit("-", 1)[1])
    port, _ = cfg.cluster.broker_ports(node)
    if not st._port_answers("127.0.0.1", port):
        return False, f"broker port {port} not answering"
    return True, ""


# --------------------------------------------------------------------------------------------
# Public API (called by deploy.stack for the cluster profile)


def _address(cfg: StackConfig, name: str) -> str:
    cluster = cfg.cluster
    if name.startswith("temporal-"):
        ports = cluster.temporal_ports[name.removeprefix("temporal-")]
        return f"127.0.0.1:{ports['grpc']} (metrics :{ports['metrics']})"
    port, cport = cluster.broker_ports(int(name.rsplit("-", 1)[1]))
    return f"localhost:{port} (controller :{cport})"


def _probe(cfg: StackConfig, name: str) -> tuple[bool, str]:
    if name.startswith("temporal-"):
        return _probe_temporal_service(cfg, name)
    return _probe_broker(cfg, name)


def _ports_of(cfg: StackConfig, name: str) -> list[int]:
    cluster = cfg.cluster
    if name.startswith("temporal-"):
        return list(cluster.temporal_ports[name.removeprefix("temporal-")].values())
    return list(cluster.broker_ports(int(name.rsplit("-", 1)[1])))


def _service_status(cfg: StackConfig, paths: _ClusterPaths, name: str) -> st.ServiceStatus:
    pid = st._live_pid(paths, name)
    s = st.ServiceStatus(name, st.STOPPED, _address(cfg, name), paths.out_of(name), pid)
    if pid is None:
        for port in _ports_of(cfg, name):
            if st._port_answers("127.0.0.1", port):
                s.detail = f"port {port} is answered by a process not started by gridcase stack"
                break
        return s
    ok, detail = _probe(cfg, name)
    s.state = st.HEALTHY if ok else st.RUNNING
    s.detail = "" if ok else detail
    return s


def status(cfg: StackConfig) -> st.StackStatus:
    """Each process of the cluster, then the brokers as one cluster, then SQL."""
    paths = _paths(cfg)
    result = st.StackStatus(paths.state, [_service_status(cfg, paths, n) for n in all_names(cfg.cluster)])
    # each group as a whole, probed through its clients' entry points
    for group, members, check in (
        (st.TEMPORAL, temporal_names(), st._probe_temporal),
        (st.KAFKA, kafka_names(cfg.cluster), _probe_kafka_cluster),
    ):
        running = [s for s in result.services if s.name in members and s.pid is not None]
        if not running:
            state, detail = st.STOPPED, ""
        else:
            ok, detail = check(cfg)
            state = st.HEALTHY if ok and len(running) == len(members) else st.RUNNING
            if ok and len(running) < len(members):
                detail = f"{len(running)} of {len(members)} processes running"
        address = cfg.temporal_address if group == st.TEMPORAL else cfg.kafka_bootstrap
        result.services.append(st.ServiceStatus(group, state, address, detail="" if state == st.HEALTHY else detail))
    result.services.append(st._probe_sql(cfg))
    return result


def up(cfg: StackConfig, timeout: float = 180.0) -> st.StackStatus:
    """Start whatever process of the cluster is not running, wait until all are healthy, and report.

    The first call builds the Temporal server (minutes; cached after), creates the databases and
    schemas, and formats the brokers' storage; later calls start only what is stopped.

    Raises:
        StackError: PostgreSQL does not answer, a port is taken, the build, the schema tool or a
            format failed, or a process did not become healthy in time (those started are stopped).
    """
    paths = _paths(cfg)
    with st._locked(paths):
        paths.make()
        _ensure_databases(cfg.cluster)
        sql = st._probe_sql(cfg)
        if not sql.ok:
            raise st.StackError(f"cannot connect to the SQL database {sql.address}: {sql.detail}")
        to_start = [n for n in all_names(cfg.cluster) if st._live_pid(paths, n) is None]
        for name in to_start:
            for port in _ports_of(cfg, name):
                if st._port_in_use("127.0.0.1", port):
                    owner = st._port_owner(port)
                    raise st.StackError(
                        f"port {port} ({name}) is already in use{f' by {owner}' if owner else ''}: stop that process, "
                        "or move the cluster's ports (GRIDCASE_CLUSTER_TEMPORAL_PORT, GRIDCASE_CLUSTER_KAFKA_PORT)"
                    )
        argvs: dict[str, list[str]] = {}
        if any(n.startswith("temporal-") for n in to_start):
            temporal = _prepare_temporal(cfg, paths)
            argvs.update({n: a for n, a in temporal.items() if n in to_start})
        nodes = [int(n.rsplit("-", 1)[1]) for n in to_start if n.startswith("kafka-")]
        if nodes:
            argvs.update(_prepare_kafka(cfg, paths, nodes))
        started: dict[str, subprocess.Popen[bytes]] = {}
        try:
            first = next((n for n in argvs if n.startswith("temporal-")), None)
            if first is not None and not _cluster_metadata_saved(cfg.cluster):
                # On new databases every service would race to save the cluster's metadata row and the
                # losers exit: one service saves it first, the others start once it serves.
                started[first] = _start(paths, first, argvs.pop(first))
                _wait_serving(cfg, paths, first, started[first], timeout)
            for name, argv in argvs.items():
                started[name] = _start(paths, name, argv)
            _wait_healthy(cfg, paths, started, timeout)
            _after_start(cfg, timeout)
        except BaseException:
            for name in started:
                st._stop(paths, name, timeout=20.0)
            raise
        result = status(cfg)
        groups = {st.TEMPORAL: temporal_names(), st.KAFKA: kafka_names(cfg.cluster)}
        for s in result.services:
            members = groups.get(s.name, [s.name])
            if s.name in groups or s.name in all_names(cfg.cluster):
                s.action = "started" if any(m in started for m in members) else "already running"
        return result


def _start(paths: _ClusterPaths, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    proc = st._spawn(argv, paths.out_of(name), cwd=paths.state)
    st._write_pidfile(paths, name, proc, argv)
    return proc


def _cluster_metadata_saved(cluster: ClusterConfig) -> bool:
    """Whether a Temporal service has saved the cluster's metadata in the default store already."""
    conn = _Pg.of(cluster.postgres_url).connect(_databases(cluster)["default"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('public.cluster_metadata_info') IS NOT NULL")
            row = cur.fetchone()
            if not (row and row[0]):
                return False
            cur.execute("SELECT 1 FROM cluster_metadata_info LIMIT 1")
            return cur.fetchone() is not None
    finally:
        conn.close()


def _wait_serving(
    cfg: StackConfig, paths: _ClusterPaths, name: str, proc: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    port = cfg.cluster.temporal_ports[name.removeprefix("temporal-")]["grpc"]
    while not (st._port_answers("127.0.0.1", port) and _cluster_metadata_saved(cfg.cluster)):
        if proc.poll() is not None:
            out = paths.out_of(name)
            raise st.StackError(
                f"{name} exited during start (exit {proc.returncode}); see {out}: {st._tail(out, 3)[:400]}"
            )
        if time.monotonic() > deadline:
            raise st.StackError(f"{name} did not serve within {timeout:.0f} s; see {paths.out_of(name)}")
        time.sleep(0.3)


def _wait_healthy(
    cfg: StackConfig, paths: _ClusterPaths, started: dict[str, subprocess.Popen[bytes]], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    pending = {n: "" for n in all_names(cfg.cluster)}
    pending["kafka"] = ""
    while pending:
        for name in list(pending):
            proc = started.get(name)
            if proc is not None and proc.poll() is not None:
                out = paths.out_of(name)
                raise st.StackError(
                    f"{name} exited during start (exit {proc.returncode}); see {out}: {st._tail(out, 3)[:400]}"
                )
            if name == "kafka":
                ok, detail = _probe_kafka_cluster(cfg)
            else:
                if proc is None and st._live_pid(paths, name) is None:
                    raise st.StackError(f"{name} is not running any more; see {paths.out_of(name)}")
                if name == "temporal-frontend":  # the namespace may not exist yet: its port for now
                    ok = st._port_answers("127.0.0.1", cfg.cluster.temporal_ports["frontend"]["grpc"])
                    detail = "" if ok else "frontend port not answering"
                else:
                    ok, detail = _probe(cfg, name)
            if ok:
                del pending[name]
            else:
                pending[name] = detail
        if not pending:
            return
        if time.monotonic() > deadline:
            what = ", ".join(f"{n} ({d or 'no answer'})" for n, d in pending.items())
            raise st.StackError(f"not healthy within {timeout:.0f} s: {what}; logs in {paths.logs}")
        time.sleep(0.5)


def _after_start(cfg: StackConfig, timeout: float) -> None:
    """The namespace and search attributes (as `gridcase temporal setup` does), then the topics."""
    import asyncio

    from deploy.temporal_setup import SetupError, setup_temporal

    try:
        asyncio.run(setup_temporal(cfg.temporal_address, cfg.temporal_namespace, wait_s=timeout))
    except SetupError as exc:
        raise st.StackError(str(exc)) from exc
    deadline = time.monotonic() + timeout
    while True:  # the frontend answers before the namespace reached its cache: wait for the real probe
        ok, detail = st._probe_temporal(cfg)
        if ok:
            break
        if time.monotonic() > deadline:
            raise st.StackError(f"Temporal frontend not healthy within {timeout:.0f} s: {detail}")
        time.sleep(0.5)
    st._run_topics_hook(cfg)


def down(
    cfg: StackConfig, timeout: float = 30.0, services: tuple[str, ...] = (st.KAFKA, st.TEMPORAL)
) -> dict[str, str]:
    """Stop the cluster's processes that ``up`` started (all, a group, or single processes); data stays."""
    names = expand(cfg.cluster, services)
    paths = _paths(cfg)
    if not paths.state.is_dir():
        return {n: "not running" for n in names}
    with st._locked(paths):
        done: dict[str, str] = {}
        # Temporal first, then the brokers; the processes of one group get SIGTERM at the same moment:
        # brokers stopped one after the other would lose the controllers' quorum and the last one
        # could not finish its controlled shutdown.
        for prefix in ("temporal-", "kafka-"):
            done.update(_stop_together(paths, [n for n in names if n.startswith(prefix)], timeout))
    for group, members in ((st.TEMPORAL, temporal_names()), (st.KAFKA, kafka_names(cfg.cluster))):
        if group in services:  # the group as a whole: "stopped" when every process stopped on SIGTERM
            what = [done[m] for m in members]
            if all(w.startswith("stopped") for w in what):
                done[group] = f"stopped ({len(what)} processes)"
            elif all(w == "not running" for w in what):
                done[group] = "not running"
            else:
                done[group] = "; ".join(f"{m} {w}" for m, w in zip(members, what, strict=True))
    return done


def _stop_together(paths: _ClusterPaths, names: list[str], timeout: float) -> dict[str, str]:
    """SIGTERM to every process of ``names`` at once; SIGKILL to those still alive after ``timeout``."""
    import signal

    pids = {n: st._live_pid(paths, n) for n in names}
    for pid in pids.values():
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    done: dict[str, str] = {}
    for name, pid in pids.items():
        if pid is None:
            paths.pidfile(name).unlink(missing_ok=True)
            done[name] = "not running"
            continue
        while time.monotonic() < deadline:
            st._reap(pid)
            if not st._pid_alive(pid):
                break
            time.sleep(0.2)
        if st._pid_alive(pid):
            _kill_and_wait(pid)
            paths.pidfile(name).unlink(missing_ok=True)
            done[name] = f"killed (pid {pid}, did not stop within {timeout:.0f} s)"
        else:
            paths.pidfile(name).unlink(missing_ok=True)
            done[name] = f"stopped (pid {pid})"
    return done


def kill(cfg: StackConfig, name: str) -> int:
    """SIGKILL one process of the cluster (for drills); returns its pid.

    Raises:
        ValueError: ``name`` is not one of the cluster's processes.
        StackError: it is not running.
    """

    if name not in all_names(cfg.cluster):
        raise ValueError(f"name: unknown process {name!r}; expected one of {', '.join(all_names(cfg.cluster))}")
    paths = _paths(cfg)
    pid = st._live_pid(paths, name)
    if pid is None:
        raise st.StackError(f"{name} is not running")
    _kill_and_wait(pid)
    paths.pidfile(name).unlink(missing_ok=True)
    return pid


def _kill_and_wait(pid: int, wait: float = 5.0) -> None:
    """SIGKILL ``pid`` and wait (up to ``wait`` seconds) until it is gone."""
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        st._reap(pid)
        if not st._pid_alive(pid):
            return
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# Sizing: the manifests' memory requests come from measured resident memory

MEASURED_RSS_MIB: dict[str, tuple[float, str]] = {
    "worker": (265.0, "gridcase bench --only memory --size cluster100k, at 100k open cases (workflow cache 500)"),
    "projector": (
        488.3,
        "python -m workers.bench.service_rss: VmHWM of one projector holding all 12 partitions while it applied "
        "a backlog of 446k events (30k open, 6k full-lifecycle cases); the higher of two runs (461.2, 488.3)",
    ),
    "api": (
        2217.6,
        "python -m workers.bench.service_rss --mix all: VmHWM of one API process under 32 concurrent callers and "
        "8 live streams for 180 s over a read model of 36k cases, the city-wide reports among the requests; the "
        "highest of three runs (2217.6, 2038.9, 1951.6; without the reports 314.9 and 305.0)",
    ),
}
"""Peak resident memory measured per gridcase process (MiB) and where it was measured
(docs/performance.md, "Process memory under load")."""

REQUEST_HEADROOM = 1.3
"""Memory request = measured RSS x this, rounded up to 32 MiB; the limit is twice the request."""


def memory_request_mib(kind: str) -> int:
    """The memory request of a ``worker``, ``projector`` or ``api`` process, from its measured RSS."""
    rss, _ = MEASURED_RSS_MIB[kind]
    return int(-(-rss * REQUEST_HEADROOM // 32) * 32)


def memory_limit_mib(kind: str) -> int:
    """The memory limit of a process: twice its request."""
    return 2 * memory_request_mib(kind)
