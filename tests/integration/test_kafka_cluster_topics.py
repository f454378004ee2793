"""The deployment's topics job on a real three-broker KRaft cluster, configured like deploy/compose.

Three brokers (each also a controller) run from the same Kafka jars as the local stack, with the
compose file's settings (default replication 3, ``min.insync.replicas=2``, no auto-created topics).
The job's exact command creates every topic with three replicas and ``min.insync.replicas=2``; case
events are then published with one broker down, and refused once a second one is down.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from activities.kafka_sink import KafkaEventSink, PublishError
from deploy import stack
from events.base import SYSTEM_ACTOR
from events.schemas import CaseRegistered
from events.topics import ensure_topics, topic_names
from tests.integration.conftest import free_port
from workers.settings import Settings

pytestmark = pytest.mark.integration
GRIDCASE = str(Path(sys.executable).parent / "gridcase")
COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "compose.yaml"
BROKERS = 3


def compose_kafka_properties() -> dict[str, str]:
    """The broker settings of deploy/compose/compose.yaml, as server.properties keys."""
    env = yaml.safe_load(COMPOSE.read_text())["services"]["kafka-1"]["environment"]
    keys = (
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
        "KAFKA_MIN_INSYNC_REPLICAS",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE",
        "KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE",
    )
    return {k.removeprefix("KAFKA_").lower().replace("_", "."): str(env[k]) for k in keys}


class Cluster:
    def __init__(self, base: Settings, root: Path) -> None:
        self.ports = [(free_port(), free_port()) for _ in range(BROKERS)]
        self.bootstrap = ",".join(f"127.0.0.1:{p}" for p, _ in self.ports)
        self.settings = base.model_copy(
            update={
                "kafka_bootstrap": self.bootstrap,
                "kafka_heap": "256m",
                "topic_prefix": f"rf3{uuid.uuid4().hex[:6]}",
            }
        )
        self.root = root
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * BROKERS
        java = stack._java_binary()
        libs = stack._kafka_libs(base.stack, stack._Paths.of(base.stack))  # fetched by the local stack already
        voters = ",".join(f"{i + 1}@127.0.0.1:{c}" for i, (_, c) in enumerate(self.ports))
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        self.commands: list[list[str]] = []
        formats = []
        for i, (port, cport) in enumerate(self.ports):
            paths = stack._Paths(root / f"broker-{i + 1}")
            paths.make()
            props = {
                "process.roles": "broker,controller",
                "node.id": str(i + 1),
                "controller.quorum.voters": voters,
                "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names": "CONTROLLER",
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs": str(paths.kafka_data),
                "group.initial.rebalance.delay.ms": "0",
                "num.network.threads": "2",
                "num.io.threads": "2",
                **compose_kafka_properties(),
            }
            paths.kafka_props.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
            base_cmd = stack._java_base(java, self.settings.stack, paths, libs)
            base_cmd.insert(1, "-XX:TieredStopAtLevel=1")  # quicker JVM start; throughput does not matter here
            formats.append(
                subprocess.Popen(
                    [
                        *base_cmd,
                        "kafka.tools.StorageTool",
                        "format",
                        f"--cluster-id={cluster_id}",
                        "-c",
                        str(paths.kafka_props),
                        "--ignore-formatted",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            self.commands.append([*base_cmd, "kafka.Kafka", str(paths.kafka_props)])
        assert all(f.wait(timeout=120) == 0 for f in formats), "formatting the brokers' storage failed"

    def start(self) -> None:
        for i, cmd in enumerate(self.commands):
            log = (self.root / f"broker-{i + 1}.out").open("wb")
            self.procs[i] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        from kafka import KafkaAdminClient

        deadline = time.monotonic() + 120
        while True:
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
                try:
                    if len(admin.describe_cluster()["brokers"]) == BROKERS:
                        return
                finally:
                    admin.close()
            except Exception:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the three brokers did not form a cluster; logs in {self.root}")
            time.sleep(1)

    def stop(self, index: int) -> None:
        proc = self.procs[index]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs[index] = None

    def stop_all(self) -> None:
        for i in range(BROKERS):
            proc = self.procs[i]
            if proc is not None and proc.poll() is None:
                proc.kill()  # the test is over: no need for a controlled shutdown
                proc.wait()
            self.procs[i] = None


@pytest.fixture
def cluster(stack_settings: Settings, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(stack_settings, tmp_path)
    c.start()
    try:
        yield c
    finally:
        c.stop_all()


def topic_layout(cluster: Cluster) -> dict[str, tuple[set[int], str]]:
    """Per topic: the replica counts of its partitions and its min.insync.replicas."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    names = topic_names(cluster.settings).all()
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap, request_timeout_ms=10000)
    try:
        topics = admin.describe_topics(names)
        replicas = {t["name"]: {len(p["replica_nodes"]) for p in t["partitions"]} for t in topics}
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])["topic"]
        return {n: (replicas[n], configs[n]["min.insync.replicas"]["value"]) for n in names}
    finally:
        admin.close()


def registered(case_id: str, seq: int) -> CaseRegistered:
    return CaseRegistered(
        event_id=f"{case_id}:{seq}", case_id=case_id, seq=seq, occurred_at=datetime.now(UTC), actor=SYSTEM_ACTOR
    )


def test_topics_job_creates_rf3_min_isr2_topics_that_survive_one_broker(cluster: Cluster) -> None:
    env = {
        **os.environ,
        "GRIDCASE_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "GRIDCASE_TOPIC_PREFIX": cluster.settings.topic_prefix,
        "GRIDCASE_KAFKA_MIN_INSYNC_REPLICAS": "2",
    }
    # the command of the compose service kafka-topics and of the Kubernetes Job gridcase-kafka-topics
    job = subprocess.run(
        [GRIDCASE, "topics", "ensure", "--replication-factor", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert job.returncode == 0, job.stdout + job.stderr
    names = topic_names(cluster.settings).all()
    assert all(f"{n}" in job.stdout and "replication=3" in job.stdout for n in names), job.stdout
    assert topic_layout(cluster) == {n: ({3}, "2") for n in names}
    # the job again (it runs at every deployment): nothing to do
    again = cluster.settings.model_copy(update={"kafka_min_insync_replicas": 2})
    assert ensure_topics(again, replication_factor=3) == []

    case_id = f"RF3{uuid.uuid4().hex[:8].upper()}"
    sink = KafkaEventSink(cluster.settings, timeout_s=10)
    try:
        sink.send(case_id, [registered(case_id, 1)])
        cluster.stop(2)  # one broker down: two in-sync replicas remain, acks=all still succeeds
        sink.send(case_id, [registered(case_id, 2)])
        cluster.stop(1)  # two down: fewer in-sync replicas than min.insync.replicas, the write is refused
        short = KafkaEventSink(cluster.settings, timeout_s=5)
        try:
            with pytest.raises(PublishError):
                short.send(case_id, [registered(case_id, 3)])
        finally:
            short.close()
    finally:
        sink.close()
