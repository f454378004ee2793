"""Scale-out on the local stack: two workers, two projectors (one consumer group, two partitions) and two
API processes at once, all real ``gridcase`` processes.

Cases are driven through the whole lifecycle over HTTP, half through each API. Mid-run one of each
(worker, projector, API) gets SIGTERM; callers of the stopped API fail over to the other one with
the same Idempotency-Key / Request-Id. Then:

* work was shared: both workers ran workflow or activity tasks (their identities are in the cases'
  histories), both projectors held a partition and applied events, both APIs answered requests;
* nothing was handled twice in effect: every case has exactly the events of one pass through the
  lifecycle, each case's records on the topic are complete and in order, and the read model (one
  timeline row per event id) is identical to a clean rebuild;
* nothing was lost: every case is closed, every event is in the read model.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.base import Role
from events.topics import ensure_topics
from tests.integration.conftest import free_port
from tests.integration.drills import (
    GridcaseProcess,
    check_delivery,
    dump_diff,
    longest_gap,
    processes,
    read_back,
    read_model_dump,
    rebuilt,
    wait_read_model,
    wait_until,
)
from tests.integration.rm_db import PG_ENV, fresh_database
from tests.integration.test_api_support import Geo, _geo, intake_body
from workers.composition import connect_temporal
from workers.settings import Settings
from workflows.case_workflow import CaseSummary, CaseWorkflow, workflow_id
from workflows.domain import CaseStatus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CASES = 12
EVENTS_PER_CASE = 24  # one pass through the lifecycle below


LANE = "postgres" if os.environ.get(PG_ENV) else "sqlite"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A fresh read-model database: PostgreSQL when GRIDCASE_TEST_POSTGRES_URL is set, else SQLite."""
    with fresh_database(LANE, tmp_path) as (url, _engine):
        yield url


@pytest.fixture
def rebuild_database(tmp_path: Path) -> Iterator[str]:
    """Another one, on the same lane, for the clean rebuild."""
    with fresh_database(LANE, tmp_path) as (url, _engine):
        yield url


def lifecycle(geo: Geo) -> list[tuple[str, str, dict[str, Any]]]:
    """(user, action, body) of every action after intake."""
    return [
        ("op-1", "register", {}),
        ("op-1", "dispatch", {"unit": {"kind": "street", "id": geo.street}}),
        ("street-1", "accept", {}),
        ("street-1", "contact", {}),
        ("street-1", "whistle", {"tasks": [{"department_id": "environment", "task": "夜间施工执法"}]}),
        ("env-1", "report-in", {}),
        ("env-1", "complete-task", {"result": "已责令停工"}),
        ("street-1", "resolve", {"notes": "夜间施工已停止"}),
        ("grid-1", "verify", {"passed": True}),
        ("op-1", "callback", {"rating": "satisfied"}),
        ("op-1", "close", {}),
    ]


class HttpLoad:
    """Drives cases over HTTP through two APIs; a call that cannot reach its API goes to the other one."""

    def __init__(self, urls: list[str], tokens: dict[str, str], geo: Geo) -> None:
        self.urls = urls
        self.tokens = tokens
        self.geo = geo
        self.down: set[int] = set()  # APIs seen refusing connections
        self.done_at: list[float] = []
        self.failovers = 0
        self.retries = 0  # answers 503 temporal.update_unconfirmed, sent again
        self.case_ids: list[str] = []
        self.total = CASES * (1 + len(lifecycle(geo)))

    async def _post(self, home: int, user: str, path: str, body: dict[str, Any], key: tuple[str, str]) -> Any:
        target = home
        deadline = time.monotonic() + 90
        while True:
            if target in self.down:
                target = 1 - target
            headers = {"Authorization": f"Bearer {self.tokens[user]}", key[0]: key[1]}
            try:
                async with httpx.AsyncClient(base_url=self.urls[target], timeout=60) as http:
                    r = await http.post(path, json=body, headers=headers)
            except httpx.TransportError:
                self.down.add(target)
                self.failovers += 1
                assert time.monotonic() < deadline, f"{path}: no API reachable"
                await asyncio.sleep(0.1)
                continue
            if r.status_code == 503 and r.json().get("rule") == "temporal.update_unconfirmed":
                # the API stopped (or was too busy) before the workflow answered: send it again, with
                # the same Request-Id, to whichever API is up (it applies once)
                self.retries += 1
                assert time.monotonic() < deadline, f"{path}: unconfirmed until the deadline: {r.text}"
                await asyncio.sleep(0.2)
                continue
            assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"
            self.done_at.append(time.monotonic())
            return r.json()

    async def drive(self, i: int) -> None:
        home = i % 2
        await asyncio.sleep(0.05 * i)
        opened = await self._post(
            home, "op-1", "/cases", intake_body(self.geo), ("Idempotency-Key", f"scale-{uuid.uuid4().hex}")
        )
        case_id = opened["case_id"]
        self.case_ids.append(case_id)
        for step, (user, action, body) in enumerate(lifecycle(self.geo)):
            await self._post(home, user, f"/cases/{case_id}/{action}", body, ("Request-Id", f"{case_id}-{step}"))
            await asyncio.sleep(0.1)


def _group_partitions(settings: Settings) -> list[int]:
    """How many partitions each member of the projectors' consumer group holds (empty unless the group is stable)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="scale-out-test")
    try:
        group = admin.describe_groups([settings.projector_group_id])[settings.projector_group_id]
    finally:
        admin.close()
    if group.get("group_state") != "Stable":
        return []
    return sorted(
        sum(len(a["partitions"]) for a in (m.get("member_assignment") or {}).get("assigned_partitions", []))
        for m in group.get("members", [])
    )


def _applied(proc: GridcaseProcess) -> int:
    m = re.search(r"projector stopped: applied (\d+)", proc.log())
    assert m, f"{proc.name} did not report what it applied:\n{proc.tail()}"
    return int(m.group(1))


async def _identities(settings: Settings, case_ids: list[str]) -> set[str]:
    """The identities of the workers that completed workflow tasks or ran activities for these cases."""
    client = await connect_temporal(settings)
    seen: set[str] = set()
    for case_id in case_ids:
        history = await client.get_workflow_handle(workflow_id(case_id)).fetch_history()
        for event in history.events:
            for attrs in (event.workflow_task_completed_event_attributes, event.activity_task_started_event_attributes):
                if attrs.identity:
                    seen.add(attrs.identity)
    return seen


async def test_two_of_each_share_the_work_and_one_of_each_may_stop(
    stack_settings: Settings, database: str, rebuild_database: str, tmp_path: Path
) -> None:
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    suffix = uuid.uuid4().hex[:8]
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"scale{suffix}",
            "task_queue": f"scale-{suffix}",
            "database_url": database,
            "projector_group_id": f"scale-projector-{suffix}",
        }
    )
    ensure_topics(settings, partitions=2)
    geo = _geo(settings)
    store = UserStore(create_engine_for(settings))
    store.create_tables()
    tokens: dict[str, str] = {}
    for person, role, unit in (
        ("op-1", Role.DISPATCHER, None),
        ("street-1", Role.STREET, geo.street),
        ("env-1", Role.DEPARTMENT, "environment"),
        ("grid-1", Role.GRID_WORKER, geo.grid),
    ):
        store.add_user(person, person, role, unit)
        tokens[person], _ = store.issue_token(person, "scale-out")

    ports = [free_port(), free_port()]
    with processes(settings, tmp_path) as procs:
        workers = [procs.worker(f"worker-{n}") for n in (1, 2)]
        projectors = [procs.start(f"projector-{n}", "projector") for n in (1, 2)]
        apis = [procs.start(f"api-{n}", "api", env={"api_port": port}) for n, port in zip((1, 2), ports, strict=True)]
        for proc, ready in [
            *((w, "worker polling") for w in workers),
            *((p, "projecting") for p in projectors),
            *((a, "Application startup complete") for a in apis),
        ]:
            await asyncio.to_thread(proc.wait_for_log, ready, 90.0)
        # one consumer group, two partitions: once the group settled, each projector holds one
        await asyncio.to_thread(
            wait_until,
            lambda: _group_partitions(settings) == [1, 1],
            60.0,
            "each of the two projectors holding one partition",
            0.5,
        )

        load = HttpLoad([f"http://127.0.0.1:{p}" for p in ports], tokens, geo)
        driving = asyncio.gather(*(load.drive(i) for i in range(CASES)))
        await asyncio.to_thread(wait_until, lambda: len(load.done_at) >= 0.4 * load.total, 120.0, "40% of the actions")
        stopped_at = time.monotonic()
        exits = await asyncio.gather(
            *(asyncio.to_thread(p.stop, signal.SIGTERM, 30.0) for p in (workers[1], projectors[1], apis[1]))
        )
        for proc, exit_ in zip((workers[1], projectors[1], apis[1]), exits, strict=True):
            assert exit_.returncode == 0, f"{proc.name}: {exit_}\n{proc.tail()}"
        await asyncio.wait_for(driving, 180)
        during_stop = sum(1 for t in load.done_at if t >= stopped_at)

        client = await connect_temporal(settings)
        summaries: list[CaseSummary] = await asyncio.gather(
            *(client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(cid)).result() for cid in load.case_ids)
        )
        assert {s.status for s in summaries} == {CaseStatus.CLOSED}
        assert [s.events for s in summaries] == [EVENTS_PER_CASE] * CASES  # no action applied twice
        expected = {s.case_id: s.events for s in summaries}
        await asyncio.to_thread(wait_read_model, database, expected, 60.0)
        final = await asyncio.to_thread(projectors[0].stop, signal.SIGTERM, 30.0)
        assert final.returncode == 0, projectors[0].tail()

        identities = await _identities(settings, load.case_ids)
        for worker in workers:
            assert any(i.startswith(f"{worker.pid}@") for i in identities), f"{worker.name} ran no task: {identities}"
        applied = [_applied(p) for p in projectors]
        assert all(n > 0 for n in applied), f"each projector applies its partition's events: {applied}"
        for api in apis:
            assert "POST /cases" in api.log(), f"{api.name} answered no request"

    check_delivery(await asyncio.to_thread(read_back, settings, expected), expected)
    live = await asyncio.to_thread(read_model_dump, database)
    assert len(live["rm_case_timeline"]) == sum(expected.values())  # one row per event id
    clean = await asyncio.to_thread(rebuilt, settings, rebuild_database)
    assert live == clean, dump_diff(live, clean)
    print(
        f"SCALE-OUT: {CASES} cases, {sum(expected.values())} events; projectors applied {applied}; "
        f"{load.failovers} calls failed over, {load.retries} unconfirmed and sent again; "
        f"{during_stop} actions after one of each stopped; "
        f"longest stall {longest_gap(load.done_at):.1f} s"
    )
