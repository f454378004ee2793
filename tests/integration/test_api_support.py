"""The API on the real stack for the API and console tests (no tests in this module).

:func:`start_api_stack` runs, each on its own thread and event loop so that blocking test code
never starves them: a case worker (``workers.composition.build_worker``) on a unique task queue,
the read-model projector on a unique consumer group, and ``gridcase api`` (uvicorn) on a free
port, all on a unique topic prefix and a private SQLite database; it creates one user per role.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from events.base import Role
from tests.integration.conftest import free_port
from workers.settings import Settings

JWT_SECRET = "test-secret-for-hs256-signing-0123456789"


class LoopThread:
    """Runs one coroutine on a fresh event loop in a daemon thread until :meth:`stop`."""

    def __init__(self, name: str, main: Callable[[asyncio.Event, threading.Event], Coroutine[Any, Any, None]]) -> None:
        self._main = main
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        async def go() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self._main(self._stop, self._started)

        try:
            asyncio.run(go())
        except BaseException as exc:
            self.error = exc
            self._started.set()

    def start(self, timeout: float = 60) -> None:
        self.thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError(f"{self.thread.name} did not start")
        if self.error is not None:
            raise RuntimeError(f"{self.thread.name} failed: {self.error!r}") from self.error

    def stop(self, timeout: float = 30) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout)


@dataclass
class Geo:
    """Places of the seed city the tests use."""

    grid: str
    community: str
    street: str
    district: str
    other_grid: str  # in another street
    other_street: str


@dataclass
class ApiStack:
    settings: Settings
    base_url: str
    tokens: dict[str, str]
    geo: Geo
    threads: list[Any] = field(default_factory=list)

    def client(self, user: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60, **kwargs)

    def stop(self) -> None:
        for t in reversed(self.threads):
            t.stop()


def _geo(settings: Settings) -> Geo:
    from workers.composition import build_registry

    reg = build_registry(settings)
    first = reg.locate(grid_id=reg._grid_order[0])
    other = next(
        loc
        for gid in reg._grid_order
        if (loc := reg.locate(grid_id=gid)).street_id != first.street_id and loc.district_id == first.district_id
    )
    return Geo(first.grid_id, first.community_id, first.street_id, first.district_id, other.grid_id, other.street_id)


def start_api_stack(base: Settings, tmp: Path, *, time_scale: float | None = None) -> ApiStack:
    """The worker, the projector and the API on the local stack, with one user (and token) per role."""
    import uvicorn

    from events.topics import ensure_topics
    from readmodel.db import migrate
    from workers.api.app import create_app, create_engine_for
    from workers.api.users import UserStore
    from workers.composition import build_projector, build_worker, connect_temporal

    suffix = uuid.uuid4().hex[:8]
    settings = base.model_copy(
        update={
            "topic_prefix": f"api{suffix}",
            "task_queue": f"api-{suffix}",
            "database_url": f"sqlite:///{tmp / 'api.db'}",
            "sla_time_scale": time_scale,
            "api_jwt_secret": JWT_SECRET,
            "api_host": "127.0.0.1",
            "api_port": free_port(),
            "projector_group_id": f"api-projector-{suffix}",
            "metrics_port": 0,
            "projector_metrics_port": 0,
        }
    )
    ensure_topics(settings, partitions=1)
    migrate(settings.resolved_database_url)
    geo = _geo(settings)

    store = UserStore(create_engine_for(settings))
    store.create_tables()
    people: dict[str, tuple[Role, str | None]] = {
        "op-1": (Role.DISPATCHER, None),
        "resident-1": (Role.RESIDENT, None),
        "resident-2": (Role.RESIDENT, None),
        "street-1": (Role.STREET, geo.street),
        "street-1b": (Role.STREET, geo.street),  # a second member of the street (work inside the unit)
        "street-2": (Role.STREET, geo.other_street),
        "grid-1": (Role.GRID_WORKER, geo.grid),
        "grid-2": (Role.GRID_WORKER, geo.other_grid),
        "community-1": (Role.COMMUNITY, geo.community),
        "env-1": (Role.DEPARTMENT, "environment"),
        "water-1": (Role.DEPARTMENT, "water"),
        "sv-district": (Role.SUPERVISOR, geo.district),
        "sv-other": (Role.SUPERVISOR, "D-99"),
        "sv-city": (Role.SUPERVISOR, "city"),
    }
    tokens = {}
    for person, (role, unit) in people.items():
        store.add_user(person, person, role, unit)
        tokens[person], _ = store.issue_token(person, "test")

    stack = ApiStack(settings, f"http://127.0.0.1:{settings.api_port}", tokens, geo)

    async def run_worker(stop: asyncio.Event, started: threading.Event) -> None:
        client = await connect_temporal(settings)
        async with build_worker(client, settings, task_queue=settings.task_queue):
            started.set()
            await stop.wait()

    async def run_projector(stop: asyncio.Event, started: threading.Event) -> None:
        halt = threading.Event()
        projector = build_projector(settings)
        task = asyncio.get_running_loop().run_in_executor(None, lambda: projector.run(halt))
        started.set()
        await stop.wait()
        halt.set()
        await task

    async def run_api(stop: asyncio.Event, started: threading.Event) -> None:
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.api_port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                await serving
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.05)
        started.set()
        await stop.wait()
        server.should_exit = True
        await serving

    try:
        for name, main in (("worker", run_worker), ("projector", run_projector), ("api", run_api)):
            t = LoopThread(f"api-test-{name}", main)
            stack.threads.append(t)
            t.start(timeout=120)
        wait_live(stack)
    except BaseException:
        stack.stop()
        raise
    return stack


def wait_live(stack: ApiStack, timeout: float = 30) -> None:
    """Wait until the API's live feed reads Kafka (so a test's events reach its SSE clients)."""
    deadline = time.monotonic() + timeout
    with stack.client() as http:
        while time.monotonic() < deadline:
            if http.get("/healthz").json().get("live_feed"):
                return
            time.sleep(0.2)
    raise TimeoutError("the API's live feed did not start")


def intake_body(geo: Geo, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "noise",
        "title": "噪音扰民",
        "description": "工地夜间施工",
        "location": {"grid_id": geo.grid},
        "contact": {"name": "张三", "phone": "13812345678"},
    }
    body.update(overrides)
    return body


def open_case(http: httpx.Client, geo: Geo, key: str | None = None, **overrides: Any) -> str:
    r = http.post("/cases", json=intake_body(geo, **overrides), headers={"Idempotency-Key": key or uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


def act(http: httpx.Client, case_id: str, action: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return http.post(f"/cases/{case_id}/{action}", json=body or {})


def street_case(api: ApiStack, street_user: str = "street-1") -> str:
    """A hotline case dispatched to the first street and accepted by it."""
    with api.client("op-1") as op:
        cid = open_case(op, api.geo)
        assert act(op, cid, "register").status_code == 200
        r = act(op, cid, "dispatch", {"unit": {"kind": "street", "id": api.geo.street}})
        assert r.status_code == 200, r.text
    with api.client(street_user) as street:
        assert act(street, cid, "accept").status_code == 200
    return cid


def lifecycle(geo: Geo) -> list[tuple[str, str, dict[str, Any]]]:
    """(user, action, body) of a whole hotline case after intake, ending with ``close``."""
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


def drive(stack: ApiStack, case_id: str, steps: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Take ``steps`` on the case, each as its user; every one must be accepted."""
    for user, action, body in steps:
        with stack.client(user) as http:
            r = act(http, case_id, action, body)
            assert r.status_code == 200, f"{user} {action}: {r.text}"


def cases_in_every_state(stack: ApiStack) -> dict[str, str]:
    """Cases of the stack in several states, open and finished: ``{state: case id}`` for received,
    registered, dispatched, handling, whistle (a whistle round open), resolved, and the finished
    closed, rejected, merged and terminated."""
    steps = lifecycle(stack.geo)
    out: dict[str, str] = {}
    with stack.client("op-1") as op:
        for name, upto in (
            ("received", 0),
            ("registered", 1),
            ("dispatched", 2),
            ("handling", 4),
            ("whistle", 5),
            ("resolved", 8),
            ("closed", len(steps)),
        ):
            cid = open_case(op, stack.geo)
            drive(stack, cid, steps[:upto])
            out[name] = cid
        out["rejected"] = open_case(op, stack.geo)
        drive(stack, out["rejected"], [("op-1", "reject", {"reason": "不属于受理范围"})])
        out["merged"] = open_case(op, stack.geo)
        drive(stack, out["merged"], [("op-1", "merge", {"into_case_id": out["handling"]})])
        out["terminated"] = open_case(op, stack.geo)
        drive(stack, out["terminated"], [("op-1", "register", {}), ("op-1", "terminate", {"reason": "无法处理"})])
    return out
