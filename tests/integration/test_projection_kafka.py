"""Projection rebuild equality on the real Kafka broker, into SQLite and PostgreSQL.

Real event sequences (from the pure domain's decide/evolve) are published with the production
sink to a topic with a unique prefix, re-sent batches and a poison record included. The projector
then runs as a consumer group: once, a second time over the whole topic with another group, and
from scratch into an empty database; every table dump must be identical, and identical to
applying the events directly. ``gridcase projector`` itself runs as a process, serves /metrics and
stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from activities.kafka_sink import KafkaEventSink
from events.consumer import new_group_id
from events.topics import ensure_topics, topic_names
from readmodel import tables as t
from readmodel.db import apply_events, clear, dump, head_revision
from readmodel.projector import Projector
from tests.integration.conftest import free_port
from tests.integration.projection_scenarios import PATHS, all_events
from tests.integration.rm_db import LANES, fresh_database
from workers.settings import Settings

pytestmark = pytest.mark.integration

N_CASES = 4 * len(PATHS)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def published(stack_settings: Settings) -> Iterator[tuple[Settings, list]]:
    """A fresh topic prefix holding the events of ``N_CASES`` cases, some batches sent twice, one poison record."""
    settings = stack_settings.model_copy(update={"topic_prefix": f"rmtest{uuid.uuid4().hex[:10]}"})
    ensure_topics(settings)
    events = all_events(N_CASES, prefix=f"K{uuid.uuid4().hex[:6]}")
    by_case: dict[str, list] = defaultdict(list)
    for e in events:
        by_case[e.case_id].append(e)
    sink = KafkaEventSink(settings, keep_restricted=False)
    try:
        for n, (case_id, case_events) in enumerate(by_case.items()):
            half = len(case_events) // 2
            sink.send(case_id, case_events[:half])
            if n % 3 == 0:
                sink.send(case_id, case_events[:half])  # a retried publish: duplicates on the wire
            sink.send(case_id, case_events[half:])
    finally:
        sink.close()
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    producer.send(topic_names(settings).case_events, key=b"poison", value=b"{not json").get(timeout=10)
    producer.close()
    yield settings, events


@pytest.fixture(params=LANES)
def lane(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_projection_rebuild_equality(published: tuple[Settings, list], lane: str, tmp_path: Path) -> None:
    settings, events = published
    with fresh_database(lane, tmp_path) as (_, direct), fresh_database(lane, tmp_path) as (_, engine):
        apply_events(direct, events)
        expected = dump(direct)

        first = Projector(settings, engine, group_id=new_group_id("rm-a"), max_poll_records=50).run(
            until_caught_up=True, stop_after=60
        )
        assert first.applied == len(events), first
        assert first.skipped > 0, first  # the re-sent batches
        assert first.dead_lettered == 1 and first.reasons == {"invalid_json": 1}
        once = dump(engine)
        assert once == expected
        assert len(once["rm_cases"]) == N_CASES

        # The whole topic a second time (another group): nothing changes.
        second = Projector(settings, engine, group_id=new_group_id("rm-b")).run(until_caught_up=True, stop_after=60)
        assert second.applied == 0 and second.skipped == first.applied + first.skipped, (first, second)
        assert dump(engine) == expected

        # From the beginning into an emptied database.
        clear(engine)
        third = Projector(settings, engine, group_id=new_group_id("rm-c"), max_poll_records=7).run(
            until_caught_up=True, stop_after=60
        )
        assert third.applied == len(events), third
        assert dump(engine) == expected


def _metric(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + (("{" + labels) if labels else "")) and not line.startswith("#"):
            m = re.match(r"^" + re.escape(name) + r"(\{[^}]*\})?\s+(\S+)$", line)
            if m and (not labels or labels in (m.group(1) or "")):
                total += float(m.group(2))
    return total


def test_projector_command_serves_metrics_and_stops_on_sigterm(
    published: tuple[Settings, list], tmp_path: Path
) -> None:
    settings, events = published
    port = free_port()
    db_file = tmp_path / "projector.db"
    env = {
        **os.environ,
        "GRIDCASE_TOPIC_PREFIX": settings.topic_prefix,
        "GRIDCASE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "GRIDCASE_DATABASE_URL": f"sqlite:///{db_file}",
        "GRIDCASE_PROJECTOR_GROUP_ID": new_group_id("rm-cmd"),
        "GRIDCASE_PROJECTOR_METRICS_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "projector"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                text = ""
            if (
                _metric(text, "gridcase_projector_events_applied_total") >= len(events)
                and "gridcase_readmodel_open_cases{" in text
                and _metric(text, "gridcase_projector_lag_records") == 0
                and "gridcase_projector_lag_records{" in text
            ):
                break
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.5)
        assert _metric(text, "gridcase_projector_events_applied_total") == len(events), text
        assert _metric(text, "gridcase_projector_events_applied_total", 'type="case.received"') == N_CASES
        assert _metric(text, "gridcase_projector_dead_lettered_total", 'reason="invalid_json"') == 1
        assert _metric(text, "gridcase_projector_lag_seconds") == 0
        open_handling = _metric(text, "gridcase_readmodel_open_cases", 'status="handling"')
        assert open_handling > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"projector stopped: applied {len(events)}" in out
    from readmodel.db import make_engine
    from readmodel.projector import open_cases_by_status

    engine = make_engine(f"sqlite:///{db_file}")
    try:
        assert open_cases_by_status(engine).get("handling") == open_handling
    finally:
        engine.dispose()


def test_readmodel_commands_migrate_sync_and_rebuild(published: tuple[Settings, list], tmp_path: Path) -> None:
    settings, events = published
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {
        **os.environ,
        "GRIDCASE_TOPIC_PREFIX": settings.topic_prefix,
        "GRIDCASE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "GRIDCASE_DATABASE_URL": url,
        "GRIDCASE_PROJECTOR_GROUP_ID": new_group_id("rm-cli"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "workers.cli", "readmodel", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = run("migrate")
    assert out.returncode == 0 and f"revision {head_revision()}" in out.stdout, out.stderr
    out = run("sync", "--timeout", "60")
    assert out.returncode == 0, out.stderr
    assert f"applied {len(events)}," in out.stdout
    out = run("sync", "--timeout", "60")  # same group: nothing new
    assert out.returncode == 0 and "applied 0," in out.stdout, out.stdout + out.stderr

    from readmodel.db import make_engine

    engine = make_engine(url)
    try:
        expected = dump(engine)
        with engine.begin() as conn:  # damage the read model: a case row lost, another one wrong
            conn.execute(t.cases.delete().where(t.cases.c.case_id == events[0].case_id))
            conn.execute(t.cases.update().where(t.cases.c.case_id == events[1].case_id).values(status="bogus"))
        assert dump(engine) != expected
        out = run("rebuild", "--yes")
        assert out.returncode == 0, out.stderr
        assert f"rebuilt: applied {len(events)}," in out.stdout
        assert dump(engine) == expected
    finally:
        engine.dispose()
    status = run("status")
    assert status.returncode == 0 and f"rm_case_timeline    {len(events)}" in status.stdout, status.stdout
