"""Graceful shutdown: SIGTERM on a gridcase process (worker, projector, API) finishes or hands back its
in-flight work and exits, with status 0, within a bounded time; nothing is lost.

Each test runs real ``gridcase`` processes on the shared stack with its own task queue, topic prefix,
consumer group and database (nothing here stops a service of the stack).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from events.base import Role
from events.topics import ensure_topics
from readmodel.db import migrate
from tests.integration.conftest import free_port
from tests.integration.drills import (
    CaseLoad,
    GridcaseProcess,
    check_delivery,
    dump_diff,
    processes,
    read_back,
    read_model_dump,
    rebuilt,
    wait_read_model,
)
from workers.case_client import CaseClient
from workers.composition import connect_temporal
from workers.settings import Settings
from workflows.domain import CaseStatus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EXIT_BOUND = 30.0  # seconds a process may take to exit after SIGTERM


@pytest.fixture
def settings(stack_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    suffix = uuid.uuid4().hex[:8]
    s = stack_settings.model_copy(
        update={
            "topic_prefix": f"term{suffix}",
            "task_queue": f"term-{suffix}",
            "database_url": f"sqlite:///{tmp_path / 'readmodel.db'}",
            "projector_group_id": f"term-projector-{suffix}",
        }
    )
    ensure_topics(s, partitions=2)
    yield s


def _stopped_cleanly(proc: GridcaseProcess) -> float:
    exit_ = proc.stop(signal.SIGTERM, EXIT_BOUND)
    assert exit_.returncode == 0, f"{proc.name}: {exit_} (None: still running after {EXIT_BOUND:.0f} s)\n{proc.tail()}"
    return exit_.seconds


async def test_worker_sigterm_hands_back_in_flight_work(settings: Settings, tmp_path: Path) -> None:
    """SIGTERM on a busy worker: it exits 0 in time; a second worker finishes every case, nothing lost."""
    client = await connect_temporal(settings)
    load = CaseLoad(CaseClient(client, settings.task_queue), 6, prefix="TRW", pace=0.1)
    with processes(settings, tmp_path) as procs:
        first = procs.worker("worker-1")
        await asyncio.to_thread(first.wait_for_log, "worker polling")
        driving = load.start(timeout=120)
        second = procs.worker("worker-2")  # a rolling update: the new worker is up before the old one goes
        await asyncio.to_thread(second.wait_for_log, "worker polling")
        await load.reached(0.4)
        seconds = await asyncio.to_thread(_stopped_cleanly, first)
        assert "stopping: finishing in-flight tasks" in first.log()
        await driving
        summaries = await load.results(client, timeout=120)
    assert {s.status for s in summaries.values()} == {CaseStatus.CLOSED}
    expected = {cid: s.events for cid, s in summaries.items()}
    check_delivery(await asyncio.to_thread(read_back, settings, expected), expected)
    print(f"SHUTDOWN worker: exited 0 in {seconds:.1f} s; longest stall {load.longest_stall():.1f} s")


async def test_projector_sigterm_finishes_its_batch(settings: Settings, tmp_path: Path) -> None:
    """SIGTERM on a projector mid-run: it commits what it applied and exits 0; its successor loses nothing."""
    assert settings.database_url is not None
    client = await connect_temporal(settings)
    load = CaseLoad(CaseClient(client, settings.task_queue), 6, prefix="TRP", pace=0.1)
    with processes(settings, tmp_path) as procs:
        worker = procs.worker("worker")
        first = procs.start("projector-1", "projector")
        await asyncio.to_thread(worker.wait_for_log, "worker polling")
        await asyncio.to_thread(first.wait_for_log, "projecting")
        driving = load.start(timeout=120)
        await load.reached(0.5)
        seconds = await asyncio.to_thread(_stopped_cleanly, first)
        assert "projector stopped: applied" in first.log()
        second = procs.start("projector-2", "projector")
        await driving
        summaries = await load.results(client, timeout=120)
        expected = {cid: s.events for cid, s in summaries.items()}
        await asyncio.to_thread(wait_read_model, settings.database_url, expected, 60.0)
        await asyncio.to_thread(_stopped_cleanly, second)
    live = await asyncio.to_thread(read_model_dump, settings.database_url)
    clean = await asyncio.to_thread(rebuilt, settings, f"sqlite:///{tmp_path / 'rebuild.db'}")
    assert live == clean, dump_diff(live, clean)
    print(f"SHUTDOWN projector: exited 0 in {seconds:.1f} s")


async def test_api_sigterm_answers_requests_in_flight(settings: Settings, tmp_path: Path) -> None:
    """SIGTERM on the API while actions wait for the case worker (held with SIGSTOP): every request in flight
    still gets its answer, the action applied, once the worker resumes; then the process exits in time."""
    from tests.integration.test_api_support import _geo, intake_body
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    settings = settings.model_copy(update={"api_port": free_port()})
    assert settings.database_url is not None
    migrate(settings.database_url)
    store = UserStore(create_engine_for(settings))
    store.create_tables()
    store.add_user("op-1", "op-1", Role.DISPATCHER, None)
    token, _ = store.issue_token("op-1", "test")
    geo = _geo(settings)
    base_url = f"http://127.0.0.1:{settings.api_port}"
    with processes(settings, tmp_path) as procs:
        worker = procs.worker("worker")
        api = procs.start("api", "api")
        await asyncio.to_thread(worker.wait_for_log, "worker polling")
        await asyncio.to_thread(api.wait_for_log, "Application startup complete")
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            ids = []
            for _ in range(4):
                r = await http.post("/cases", json=intake_body(geo), headers={"Idempotency-Key": uuid.uuid4().hex})
                assert r.status_code == 201, r.text
                ids.append(r.json()["case_id"])
            worker.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            try:
                in_flight = [asyncio.create_task(http.post(f"/cases/{cid}/register", json={})) for cid in ids]
                await asyncio.sleep(1.0)
                assert not any(t.done() for t in in_flight), "the actions should be waiting for the worker"
                term_at = time.monotonic()
                api.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
                await asyncio.sleep(0.5)
            finally:
                worker.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            answers = await asyncio.gather(*in_flight)
            answered = time.monotonic() - term_at
        assert [r.status_code for r in answers] == [200] * len(ids), [r.text for r in answers]
        exit_ = await asyncio.to_thread(api.stop, signal.SIGTERM, EXIT_BOUND)
        exited = time.monotonic() - term_at
        assert exit_.returncode == 0, f"{exit_}\n{api.tail()}"
        assert "Application shutdown complete" in api.log(), api.tail()
    assert {r.json()["status"] for r in answers} == {"registered"}
    print(f"SHUTDOWN api: requests in flight answered {answered:.1f} s and exit {exited:.1f} s after SIGTERM")
