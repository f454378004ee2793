"""Drills only a cluster has: one broker of three killed, a Temporal service killed, a rolling restart of
every gridcase process, and a worker upgrade gated by replaying the live cases.

They run on the cluster profile (``make test-cluster``: the Temporal server's four services on
PostgreSQL, three brokers, topics with three replicas and ``min.insync.replicas=2``) and are skipped
on the dev profile. Each drill drives cases through the whole lifecycle with real worker and
projector processes (``run_drill`` of the fault drills), breaks something mid-run, and checks that
every case closed, every event reached the topic with each case's records in order, and the read
model equals a clean rebuild. The ``DRILL`` lines (run with ``-s``) are the figures of
docs/fault-drills.md.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy import cluster as cl
from deploy import stack
from events.base import Role
from events.topics import ensure_topics, topic_names
from tests.integration.conftest import free_port, on_cluster, test_stack_mode
from tests.integration.drills import ROOT, GridcaseProcess, gridcase_env
from tests.integration.test_faults import PACE, Drill, drill_pg, run_drill
from workers.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.timeout(300)]

__all__ = ["drill_pg"]  # the private PostgreSQL of the fault drills, for the read model

UPGRADE_PATCH = "upgrade-drill-v2"


@pytest.fixture(scope="module")
def cluster(stack_settings: Settings) -> Iterator[Settings]:
    """The cluster itself: the drills break and repair its processes; whatever is left stopped is restarted."""
    if not on_cluster(stack_settings):
        pytest.skip("needs the cluster profile: make test-cluster (GRIDCASE_STACK_PROFILE=cluster)")
    if test_stack_mode() == "existing":
        pytest.skip("kills processes of the cluster: not on a stack this suite does not run")
    yield stack_settings
    stack.up(stack_settings, timeout=180.0)


def _leader(settings: Settings) -> int:
    """The broker leading partition 0 of the drill's case-events topic."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10000)
    try:
        (topic,) = admin.describe_topics([topic_names(settings).case_events])
        return int(next(p["leader_id"] for p in topic["partitions"] if p["partition_index"] == 0))
    finally:
        admin.close()


async def test_one_broker_killed(cluster: Settings, drill_pg: Any, tmp_path: Path) -> None:
    """kill -9 the broker leading the case events' partition 0: the other two carry on (RF 3, min ISR 2)."""

    async def kill_leader(d: Drill) -> None:
        node = await asyncio.to_thread(_leader, d.settings)
        name = f"kafka-{node}"
        killed_at = time.monotonic()
        await asyncio.to_thread(cl.kill, d.stack.stack, name)
        await asyncio.sleep(8)  # the load goes on with two brokers
        during = d.actions_between(killed_at, time.monotonic())
        status = await asyncio.to_thread(stack.up, d.stack, 180.0)
        d.repaired_at = time.monotonic()
        assert status[name].action == "started" and status.healthy, status
        d.notes.append(
            f"killed {name} (leader of partition 0); {during} actions while it was dead; "
            f"back after {d.repaired_at - killed_at:.1f} s"
        )
        assert during > 0, "no action was accepted while one broker of three was dead"

    report = await run_drill("onebroker", cluster, drill_pg, tmp_path, kill_leader, pace=PACE * 3)
    assert report.events >= 6 * 12


@pytest.mark.parametrize("service", ["temporal-history", "temporal-matching"])
async def test_temporal_service_killed(cluster: Settings, drill_pg: Any, tmp_path: Path, service: str) -> None:
    """kill -9 one Temporal service mid-run and start it again: every case closes, nothing is lost."""

    async def kill_service(d: Drill) -> None:
        killed_at = time.monotonic()
        await asyncio.to_thread(cl.kill, d.stack.stack, service)
        await asyncio.sleep(3)
        status = await asyncio.to_thread(stack.up, d.stack, 180.0)
        d.repaired_at = time.monotonic()
        assert status[service].action == "started" and status.healthy, status
        d.notes.append(f"{service} dead for {d.repaired_at - killed_at:.1f} s")

    report = await run_drill(service.removeprefix("temporal-"), cluster, drill_pg, tmp_path, kill_service)
    assert report.events >= 6 * 12


# --------------------------------------------------------------------------------------------------
# Rolling restart


def _rss_mib(pid: int) -> float:
    """The resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ApiReads:
    """Reads the drill's cases through two APIs in turn; a refused connection goes to the other API."""

    def __init__(self, urls: list[str], token: str, case_ids: list[str]) -> None:
        self.urls = urls
        self.token = token
        self.case_ids = case_ids
        self.served = [0, 0]
        self.failovers = 0
        self.failed: list[str] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        n = 0
        async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {self.token}"}) as http:
            while not self._stop.is_set():
                case_id = self.case_ids[n % len(self.case_ids)]
                target = n % 2
                for attempt in range(2):
                    try:
                        r = await http.get(f"{self.urls[target]}/cases/{case_id}")
                    except httpx.TransportError:
                        self.failovers += 1
                        target = 1 - target
                        if attempt == 1:
                            self.failed.append(f"{case_id}: neither API answered")
                        continue
                    if r.status_code == 200:
                        self.served[target] += 1
                    elif r.status_code != 404:  # 404: not projected yet
                        self.failed.append(f"{case_id}: {r.status_code} {r.text[:120]}")
                    break
                n += 1
                await asyncio.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()


async def test_rolling_restart_of_every_gridcase_process(cluster: Settings, drill_pg: Any, tmp_path: Path) -> None:
    """Workers, projectors and APIs restarted one at a time under load: no action fails, no read fails."""
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    state: dict[str, Any] = {}

    async def rolling(d: Drill) -> None:
        store = UserStore(create_engine_for(d.settings))
        store.create_tables()
        store.add_user("sup-1", "sup-1", Role.SUPERVISOR, "city")
        token, _ = store.issue_token("sup-1", "rolling")
        ports = [free_port(), free_port()]
        apis = [d.procs.start(f"api-{n}", "api", env={"api_port": p}) for n, p in zip((1, 2), ports, strict=True)]
        extra = [d.procs.worker("worker-2"), d.procs.start("projector-2", "projector")]
        waits = [(apis[0], "startup complete"), (apis[1], "startup complete")]
        waits += [(extra[0], "worker polling"), (extra[1], "projecting")]
        for proc, ready in waits:
            await asyncio.to_thread(proc.wait_for_log, ready, 90.0)
        reads = ApiReads([f"http://127.0.0.1:{p}" for p in ports], token, d.load.case_ids)
        reading = asyncio.create_task(reads.run())
        restarted: list[str] = []
        rss: dict[str, float] = {}
        gen = 3
        for old_name, kind in (
            ("worker-1", "worker"),
            ("worker-2", "worker"),
            ("projector-1", "projector"),
            ("projector-2", "projector"),
            ("api-1", "api"),
            ("api-2", "api"),
        ):
            old = d.procs.by_name(old_name)
            rss[kind] = max(rss.get(kind, 0.0), _rss_mib(old.pid))  # under load, before it stops
            exit_ = await asyncio.to_thread(old.stop, signal.SIGTERM, 30.0)
            assert exit_.returncode == 0, f"{old_name} did not stop cleanly: {exit_}\n{old.tail()}"
            if kind == "api":
                port = ports[int(old_name[-1]) - 1]
                new = d.procs.start(f"api-{gen}", "api", env={"api_port": port})
                await asyncio.to_thread(new.wait_for_log, "startup complete", 90.0)
            else:
                new = d.procs.worker(f"worker-{gen}") if kind == "worker" else d.procs.start(f"projector-{gen}", kind)
                await asyncio.to_thread(new.wait_for_log, "worker polling" if kind == "worker" else "projecting", 90.0)
            restarted.append(f"{old_name}->{new.name}")
            gen += 1
        d.repaired_at = time.monotonic()
        await asyncio.sleep(1)
        reads.stop()
        await reading
        state["reads"] = reads
        d.notes.append(
            f"restarted {len(restarted)} processes one at a time; {sum(reads.served)} reads served "
            f"({reads.failovers} failed over); RSS before the restart: "
            + ", ".join(f"{kind} {mib:.0f} MiB" for kind, mib in rss.items())
        )

    # a slow load: it goes on for the whole rolling restart (six processes, one after the other)
    report = await run_drill("rolling", cluster, drill_pg, tmp_path, rolling, at=0.2, pace=PACE * 24)
    reads: ApiReads = state["reads"]
    assert report.retries == 0, "an actor's call failed during the rolling restart"
    assert reads.failed == [], reads.failed[:5]
    assert all(n > 0 for n in reads.served), f"both APIs served reads: {reads.served}"


# --------------------------------------------------------------------------------------------------
# Worker upgrade


def _build(root: Path, name: str, change: str) -> Path:
    """A copy of this build's packages with ``change`` inserted into the ``act`` update handler."""
    build = root / name
    ignore = shutil.ignore_patterns("node_modules", "__pycache__", "*.png", "src", "tests")
    for package in ("workflows", "activities", "events", "workers", "deploy", "readmodel", "city"):
        shutil.copytree(ROOT / package, build / package, ignore=ignore)
    path = build / "workflows" / "case_workflow.py"
    text = path.read_text()
    anchor = (
        '        """Every actor action after intake (dispatch, accept, whistle, resolve, callback...)."""\n'
        "        await workflow.wait_condition(lambda: self._ready)\n"
    )
    assert text.count(anchor) == 1, "the act handler changed: update the drill's anchor"
    path.write_text(text.replace(anchor, anchor + change))
    return build


def _replay_check(settings: Settings, build: Path) -> subprocess.CompletedProcess[str]:
    """`gridcase temporal replay-check` of ``build`` on the live cases of the drill's task queue."""
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", "temporal", "replay-check", "--task-queue", settings.task_queue],
        cwd=build,
        env=gridcase_env(settings),
        capture_output=True,
        text=True,
        timeout=180,
    )


async def _history(settings: Settings, case_id: str) -> Any:
    from workers.composition import connect_temporal
    from workflows.case_workflow import workflow_id

    client = await connect_temporal(settings)
    return await client.get_workflow_handle(workflow_id(case_id)).fetch_history()


def _has_patch(history: Any) -> bool:
    return any(
        e.HasField("marker_recorded_event_attributes") and UPGRADE_PATCH.encode() in e.SerializeToString()
        for e in history.events
    )


def _task_identities(history: Any) -> set[str]:
    return {
        e.workflow_task_completed_event_attributes.identity
        for e in history.events
        if e.HasField("workflow_task_completed_event_attributes")
    }


async def _new_case_on_the_new_build(settings: Settings) -> Any:
    """Open a case and take one action after the rollout; its history (the case is then terminated)."""
    from tests.integration.drills import lifecycle
    from workers.case_client import CaseClient
    from workers.composition import connect_temporal
    from workflows.case_workflow import workflow_id

    client = await connect_temporal(settings)
    cases = CaseClient(client, settings.task_queue)
    case_id = f"UPN{uuid.uuid4().hex[:10].upper()}"
    opening, register = lifecycle(case_id)[:2]
    await cases.open(opening)  # type: ignore[arg-type]
    await cases.act(case_id, register)  # type: ignore[arg-type]
    handle = client.get_workflow_handle(workflow_id(case_id))
    history = await handle.fetch_history()
    await handle.terminate("upgrade drill: only its history was needed")
    return history


async def test_worker_upgrade_gated_by_replay(cluster: Settings, drill_pg: Any, tmp_path: Path) -> None:
    """A new build rolls out while cases are open, through the patch path; replaying the live cases is the gate.

    The gate (``gridcase temporal replay-check`` run with the new build) refuses a build that changes the
    workflow's commands without ``workflow.patched`` and lets the patched build through; the patched
    build then takes over from the old worker and finishes the cases.
    """
    unpatched = _build(tmp_path, "build-unpatched", "        await workflow.sleep(timedelta(milliseconds=5))\n")
    patched = _build(tmp_path, "build-v2", f'        if workflow.patched("{UPGRADE_PATCH}"):\n            pass\n')
    state: dict[str, Any] = {}

    async def upgrade(d: Drill) -> None:
        refused = await asyncio.to_thread(_replay_check, d.settings, unpatched)
        assert refused.returncode == 1, f"the gate let an unpatched change through:\n{refused.stdout}{refused.stderr}"
        assert "nondetermin" in (refused.stdout + refused.stderr).lower(), refused.stderr[-2000:]
        allowed = await asyncio.to_thread(_replay_check, d.settings, patched)
        assert allowed.returncode == 0, f"the gate refused the patched build:\n{allowed.stdout}{allowed.stderr}"
        for check in (refused, allowed):  # every case was still open, and each was replayed
            assert f"replayed {len(d.load.case_ids)} case(s)" in check.stdout, check.stdout + check.stderr[-2000:]
        state["gate"] = allowed.stdout.strip().splitlines()[-1]
        new = GridcaseProcess("worker-v2", ["worker"], gridcase_env(d.settings), d.procs.log_dir, cwd=patched)
        d.procs.started.append(new.start())
        await asyncio.to_thread(new.wait_for_log, "worker polling", 90.0)
        old = d.procs.by_name("worker-1")
        exit_ = await asyncio.to_thread(old.stop, signal.SIGTERM, 30.0)
        assert exit_.returncode == 0, f"the old worker did not stop cleanly: {exit_}\n{old.tail()}"
        d.repaired_at = time.monotonic()
        # a case opened after the rollout, on a queue and topics of its own (the drill's read model
        # must hold only the drill's cases), served by the same new build
        probe = d.settings.model_copy(
            update={"task_queue": f"{d.settings.task_queue}-new", "topic_prefix": f"{d.settings.topic_prefix}new"}
        )
        await asyncio.to_thread(ensure_topics, probe, partitions=1)
        probe_worker = GridcaseProcess("worker-v2-probe", ["worker"], gridcase_env(probe), d.procs.log_dir, cwd=patched)
        probe_worker.start()
        try:
            await asyncio.to_thread(probe_worker.wait_for_log, "worker polling", 90.0)
            state["new_case"] = await _new_case_on_the_new_build(probe)
        finally:
            await asyncio.to_thread(probe_worker.stop, signal.SIGTERM, 30.0)
        state["settings"], state["case_ids"], state["v2"] = d.settings, list(d.load.case_ids), f"{new.pid}@"
        d.notes.append(f"gate: unpatched build refused, patched build {state['gate']}; old worker stopped")

    # a slow load: the cases are still open after the two gate runs and the rollout
    report = await run_drill("upgrade", cluster, drill_pg, tmp_path, upgrade, at=0.25, pace=PACE * 12)
    assert report.retries == 0, "an actor's call failed during the upgrade"
    # A case opened after the rollout takes the new path (the patch marker is in its history) ...
    assert _has_patch(state["new_case"]), "the case opened on the new build has no patch marker"
    # ... while the cases opened before it finished on the new build's worker, on the old path:
    # `workflow.patched` answered False when their first update replayed, and keeps that answer.
    for case_id in state["case_ids"]:
        history = await _history(state["settings"], case_id)
        assert any(i.startswith(state["v2"]) for i in _task_identities(history)), (
            f"{case_id} never ran on the new build"
        )
        assert not _has_patch(history), f"{case_id} switched paths mid-run"


def test_the_new_build_is_the_one_the_worker_imports(tmp_path: Path) -> None:
    """A process started in a build's folder imports that build (so the drill really runs the new code)."""
    build = _build(tmp_path, "probe", "        pass\n")
    out = subprocess.run(
        [sys.executable, "-c", "import workflows.case_workflow as m; print(m.__file__)"],
        cwd=build,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(build / "workflows" / "case_workflow.py")


def test_temporal_connections_stay_within_the_pools(cluster: Settings) -> None:
    """The four Temporal processes hold no more PostgreSQL connections than SQL_POOLS allows, with room to spare."""
    from deploy.cluster import SQL_POOLS, TEMPORAL_SERVICES, _databases, _Pg

    dbs = _databases(cluster.cluster)
    conn = _Pg.of(cluster.cluster_postgres_url).connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW max_connections")
            row = cur.fetchone()
            assert row is not None
            max_connections = int(row[0])
            cur.execute(
                "SELECT datname, count(*) FROM pg_stat_activity WHERE datname IN (%s, %s) GROUP BY datname",
                (dbs["default"], dbs["visibility"]),
            )
            held = dict(cur.fetchall())
    finally:
        conn.close()
    for store in ("default", "visibility"):
        budget = len(TEMPORAL_SERVICES) * SQL_POOLS[store][0]
        assert held.get(dbs[store], 0) <= budget, f"{dbs[store]}: {held} over the pools' {budget}"
    total_budget = len(TEMPORAL_SERVICES) * sum(size for size, _ in SQL_POOLS.values())
    assert total_budget <= max_connections // 2, f"the pools ({total_budget}) leave too little of {max_connections}"
    print(
        f"POSTGRES: Temporal holds {held} connections (pools allow {total_budget}; max_connections {max_connections})"
    )
