"""Peak resident memory of the projector and the API under load, for the manifests' memory requests.

``python -m workers.bench.service_rss --postgres-url postgresql+psycopg2://…`` on a running stack
(``gridcase stack up``, either profile; settings from ``GRIDCASE_*`` as for every process):

1. **Projector catching up a backlog.** A scratch read-model database is created on the given
   PostgreSQL server and migrated. Case events made by the pure domain are put on a fresh
   ``case-events`` topic (12 partitions, as in the manifests) before any projector runs: the open
   cases of the workspace benchmark (intake, register, dispatch, most accepted, the SLA clock ticked
   up to now, in the seed city's grids) and the full-lifecycle cases of the projection benchmark.
   Then one ``gridcase projector`` process, alone in its consumer group so it holds every partition,
   applies the whole backlog; it is done when its ``gridcase_projector_events_applied_total`` and
   ``…_skipped_total`` together reach the number of records produced.
2. **API under concurrent requests.** ``gridcase worker`` is started over the same database, the
   projector still running, and for each ``--mix`` a fresh ``gridcase api`` process (one uvicorn
   process, as each replica of the manifests runs). ``--clients`` callers then send requests for
   ``--api-seconds`` seconds, each picking the next from a weighted mix (:data:`MIX`) of what the
   workspace sends: the case list page by page (``/queue``, 1,000 rows a page), queues, case pages
   and their actions, the map (grids, stats, points), registry search, unit load and intakes
   followed by register and dispatch through Temporal (mix ``workspace``), and with mix ``all`` also
   the city-wide reports (the dashboard and its CSV, the metrics); ``--streams`` live event streams
   stay open throughout. ``--keep-database`` keeps the read model, and ``--read-model URL`` measures
   the API again on it without a new backlog.

Peak resident memory is the kernel's high-water mark of each process (``VmHWM`` in
``/proc/<pid>/status``), read just before it is stopped; ``VmRSS`` is also sampled every 0.25 s
for the timeline. The result (figures, request counts and latencies, load average before and after)
is written as JSON to ``--out`` (``service-rss-<timestamp>.json`` and ``service-rss-latest.json``).
The figures are recorded in docs/performance.md ("Projector and API memory under load") and in
:data:`deploy.cluster.MEASURED_RSS_MIB`, from which the manifests' memory requests are derived.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.bench.common import machine_info, percentile, versions
from workers.settings import Settings

PARTITIONS = 12
"""Partitions of the backlog's case-events topic: ``GRIDCASE_KAFKA_CASE_EVENTS_PARTITIONS`` of the manifests."""

# (weight, key, what) of each request kind the API callers choose from
MIX: tuple[tuple[float, str, str], ...] = (
    (3, "queue-page", "the case list, a page of 1,000 (GET /queue?scope=jurisdiction)"),
    (2, "queue-mine", "a street's own queue (GET /queue)"),
    (2, "case-list", "GET /cases?limit=500&open_only=true"),
    (6, "case", "a case's page (GET /cases/{id})"),
    (3, "case-actions", "GET /cases/{id}/actions"),
    (1, "map-grids", "GET /map/grids (every grid's polygon)"),
    (2, "map-stats", "GET /map/stats"),
    (2, "map-points", "GET /map/points?limit=5000"),
    (1, "dashboard", "GET /dashboard (a month)"),
    (0.5, "dashboard-csv", "GET /dashboard/export.csv"),
    (1, "metrics-summary", "GET /metrics/summary"),
    (1, "metrics-slices", "GET /metrics/slices"),
    (1, "metrics-ranking", "GET /metrics/ranking"),
    (1, "search", "GET /registry/search"),
    (1, "unit-load", "GET /units/street/{id}/load"),
    (2, "intake", "POST /cases, then register and dispatch (through Temporal)"),
)
REPORTS = ("dashboard", "dashboard-csv", "metrics-summary", "metrics-slices", "metrics-ranking")
"""The city-wide reports: each computes over every case of its period in the API process."""
MIXES: dict[str, tuple[str, ...]] = {
    "all": tuple(k for _, k, _ in MIX),
    "workspace": tuple(k for _, k, _ in MIX if k not in REPORTS),
    "reports": REPORTS,
}
"""Named mixes: ``all``; ``workspace`` (the queues, lists, case pages, map and intakes, no reports);
``reports`` (the reports alone)."""


def mix_of(spec: str) -> tuple[str, ...]:
    """The request kinds of ``spec``: a named mix or a comma-separated list of kinds."""
    if spec in MIXES:
        return MIXES[spec]
    kinds = tuple(k.strip() for k in spec.split(",") if k.strip())
    unknown = [k for k in kinds if k not in MIXES["all"]]
    if unknown or not kinds:
        raise ValueError(f"--mix: {spec!r}: use {', '.join(MIXES)} or kinds among {', '.join(MIXES['all'])}")
    return kinds


# --- processes and their memory -------------------------------------------------------------------


def status_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (KiB) of ``pid`` from ``/proc/<pid>/status``; empty when it is gone."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


@dataclass
class Proc:
    """A ``gridcase`` process started for the measurement, and its memory samples."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the measurement started, VmRSS MiB)."""
    hwm_mib: float = 0.0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def sample(self, t: float) -> None:
        s = status_kib(self.pid)
        if s:
            self.samples.append((round(t, 2), round(s["VmRSS"] / 1024, 1)))
            self.hwm_mib = max(self.hwm_mib, s["VmHWM"] / 1024)

    def rss_at_end(self) -> float:
        return self.samples[-1][1] if self.samples else float("nan")

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode


def _gridcase() -> list[str]:
    beside = Path(sys.executable).parent / "gridcase"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "workers.cli"]


def _env(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCASE_")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("GRIDCASE_")})
    env.update(
        {
            "GRIDCASE_TOPIC_PREFIX": settings.topic_prefix,
            "GRIDCASE_DATABASE_URL": settings.resolved_database_url,
            "GRIDCASE_TASK_QUEUE": settings.task_queue,
            "GRIDCASE_KAFKA_CASE_EVENTS_PARTITIONS": str(PARTITIONS),
            **extra,
        }
    )
    return env


class Sampler:
    """Samples every registered process's memory every ``interval`` seconds on a thread of its own."""

    def __init__(self, interval: float = 0.25) -> None:
        self.procs: list[Proc] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.interval = interval
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for p in list(self.procs):
                p.sample(time.monotonic() - self.started)

    def final(self, proc: Proc) -> None:
        proc.sample(time.monotonic() - self.started)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@contextlib.contextmanager
def started(
    sampler: Sampler, settings: Settings, out: Path, name: str, argv: list[str], env: dict[str, str]
) -> Iterator[Proc]:
    """``gridcase <argv>`` as a sampled subprocess; its VmHWM is read right before it is stopped."""
    log = out / f"{name}.log"
    fh = log.open("wb")
    popen = subprocess.Popen([*_gridcase(), *argv], env=_env(settings, env), stdout=fh, stderr=subprocess.STDOUT)
    fh.close()
    proc = Proc(name, popen, log)
    sampler.procs.append(proc)
    try:
        yield proc
    finally:
        sampler.final(proc)
        sampler.procs.remove(proc)
        proc.stop()


def _get(url: str, timeout: float = 5.0) -> str | None:
    import httpx

    try:
        r = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None
    return r.text if r.status_code == 200 else None


def _wait(what: str, check: Any, proc: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}) while waiting for {what}; see {proc.log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s; see {proc.log}")
        time.sleep(0.25)


def events_done(metrics: str) -> int:
    """Events a projector applied or skipped (already applied), from the text of its /metrics."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(("gridcase_projector_events_applied_total", "gridcase_projector_events_skipped_total")):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def projector_counts(metrics_url: str) -> int:
    """Events the projector applied or skipped so far, from its /metrics."""
    return events_done(_get(metrics_url) or "")


# --- the backlog ----------------------------------------------------------------------------------


def make_backlog(
    settings: Settings, open_cases: int, full_cases: int
) -> tuple[list[tuple[bytes, bytes]], dict[str, Any]]:
    """(key, CloudEvent bytes) of every backlog record, in each case's order, and what they are."""
    from events.envelope import to_cloudevent
    from workers.bench.projection import generate_events
    from workers.bench.web import synthetic_open_cases

    t0 = time.perf_counter()
    records: list[tuple[bytes, bytes]] = []
    for events in (synthetic_open_cases(settings, open_cases), generate_events(full_cases)):
        for e in events:
            records.append((e.case_id.encode(), to_cloudevent(e, mask_pii=True)))  # type: ignore[arg-type]
        del events
    about = {
        "open_cases": open_cases,
        "full_lifecycle_cases": full_cases,
        "records": len(records),
        "bytes": sum(len(v) for _, v in records),
        "generated_s": round(time.perf_counter() - t0, 1),
    }
    return records, {"about": about}


def produce(settings: Settings, records: list[tuple[bytes, bytes]]) -> float:
    """Put ``records`` on the case-events topic (acks=all, idempotent: the producers' settings); seconds taken."""
    from events.producer import LazyProducer
    from events.topics import topic_names

    topic = topic_names(settings.kafka).case_events
    headers = [("content-type", b"application/cloudevents+json; charset=utf-8")]
    lazy = LazyProducer(settings.kafka, timeout_s=30.0, client_id="gridcase-bench-rss")
    t0 = time.perf_counter()
    producer = lazy.get()
    try:
        for i, (key, value) in enumerate(records):
            producer.send(topic, key=key, value=value, headers=headers)
            if i % 20000 == 19999:
                producer.flush(timeout=120)
        producer.flush(timeout=120)
    finally:
        lazy.close()
    return time.perf_counter() - t0


# --- the API load ---------------------------------------------------------------------------------


@dataclass
class Load:
    base: str
    tokens: dict[str, str]
    street: str
    grid: str
    open_cases: int
    period: str
    kinds: tuple[str, ...] = MIXES["all"]
    calls: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0
    stream_events: int = 0
    opened: list[str] = field(default_factory=list)
    """Cases opened through Temporal by the load (the backlog's cases are in the read model only)."""
    refusals: dict[str, str] = field(default_factory=dict)
    """The first answer other than 2xx of each kind of request."""

    def _note(self, kind: str, status: int, seconds: float, size: int) -> None:
        self.calls.setdefault(kind, []).append(seconds)
        per = self.statuses.setdefault(kind, {})
        per[status] = per.get(status, 0) + 1
        self.bytes_in += size

    async def _call(self, http: Any, kind: str, method: str, path: str, user: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}", **kw.pop("headers", {})}
        t0 = time.perf_counter()
        try:
            r = await http.request(method, path, headers=headers, **kw)
        except Exception as exc:  # counted; the load goes on
            self.errors[f"{kind}: {type(exc).__name__}"] = self.errors.get(f"{kind}: {type(exc).__name__}", 0) + 1
            return None
        self._note(kind, r.status_code, time.perf_counter() - t0, len(r.content))
        if r.status_code >= 300:
            self.refusals.setdefault(kind, f"{r.status_code} {r.text[:300]}")
        return r

    async def one(self, http: Any, kind: str, rng: random.Random) -> None:
        if kind in ("case", "case-actions") and not self.opened:
            kind = "intake"  # the page of a case is read from Temporal: one must exist
        cid = rng.choice(self.opened) if self.opened else ""
        if kind == "queue-page":
            pages = max(1, self.open_cases // 1000)
            params = {"scope": "jurisdiction", "limit": 1000, "offset": 1000 * rng.randrange(pages)}
            await self._call(http, kind, "GET", "/queue", "sv", params=params)
        elif kind == "queue-mine":
            await self._call(http, kind, "GET", "/queue", "street", params={"limit": 200})
        elif kind == "case-list":
            await self._call(http, kind, "GET", "/cases", "sv", params={"limit": 500, "open_only": "true"})
        elif kind == "case":
            await self._call(http, kind, "GET", f"/cases/{cid}", "sv")
        elif kind == "case-actions":
            await self._call(http, kind, "GET", f"/cases/{cid}/actions", "op")
        elif kind == "map-grids":
            await self._call(http, kind, "GET", "/map/grids", "sv")
        elif kind == "map-stats":
            await self._call(http, kind, "GET", "/map/stats", "sv")
        elif kind == "map-points":
            await self._call(http, kind, "GET", "/map/points", "sv", params={"limit": 5000})
        elif kind == "dashboard":
            period = rng.choice((self.period, "2026-03"))
            await self._call(http, kind, "GET", "/dashboard", "sv", params={"period": period})
        elif kind == "dashboard-csv":
            await self._call(http, kind, "GET", "/dashboard/export.csv", "sv", params={"period": self.period})
        elif kind == "metrics-summary":
            await self._call(http, kind, "GET", "/metrics/summary", "sv")
        elif kind == "metrics-slices":
            by = rng.choice(("street", "grid", "category", "department"))
            await self._call(http, kind, "GET", "/metrics/slices", "sv", params={"by": by})
        elif kind == "metrics-ranking":
            await self._call(http, kind, "GET", "/metrics/ranking", "sv", params={"period": self.period})
        elif kind == "search":
            q = rng.choice(("街道", "社区", "路", "小区", "幼儿园", "市场"))
            await self._call(http, kind, "GET", "/registry/search", "op", params={"q": q})
        elif kind == "unit-load":
            await self._call(http, kind, "GET", f"/units/street/{self.street}/load", "street")
        elif kind == "intake":
            body = {
                "category": "noise",
                "title": "噪音扰民",
                "description": "工地夜间施工",
                "location": {"grid_id": self.grid},
                "contact": {"name": "张三", "phone": "13812345678"},
            }
            headers = {"Idempotency-Key": uuid.uuid4().hex}
            r = await self._call(http, "intake", "POST", "/cases", "op", json=body, headers=headers)
            if r is None or r.status_code != 201:
                return
            new = r.json()["case_id"]
            for action, payload in (("register", {}), ("dispatch", {"unit": {"kind": "street", "id": self.street}})):
                headers = {"Request-Id": uuid.uuid4().hex}
                r = await self._call(
                    http, action, "POST", f"/cases/{new}/{action}", "op", json=payload, headers=headers
                )
                if r is None or r.status_code != 200:
                    return
            self.opened.append(new)
        else:
            raise ValueError(f"unknown request kind {kind!r}")

    async def caller(self, n: int, until: float) -> None:
        import httpx

        rng = random.Random(n)
        weights = [w for w, k, _ in MIX if k in self.kinds]
        kinds = [k for _, k, _ in MIX if k in self.kinds]
        async with httpx.AsyncClient(base_url=self.base, timeout=120) as http:
            while time.monotonic() < until:
                await self.one(http, rng.choices(kinds, weights)[0], rng)

    async def stream(self, until: float) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {self.tokens['sv']}"}
        while time.monotonic() < until:
            try:
                async with (
                    httpx.AsyncClient(base_url=self.base, timeout=httpx.Timeout(10, read=None)) as http,
                    http.stream("GET", "/events", headers=headers) as r,
                ):
                    async for line in r.aiter_lines():
                        if line.startswith("data:"):
                            self.stream_events += 1
                        if time.monotonic() >= until:
                            return
            except Exception as exc:
                self.errors[f"stream: {type(exc).__name__}"] = self.errors.get(f"stream: {type(exc).__name__}", 0) + 1
                await asyncio.sleep(0.5)

    async def run(self, clients: int, streams: int, seconds: float) -> None:
        until = time.monotonic() + seconds
        tasks = [asyncio.create_task(self.stream(until)) for _ in range(streams)]
        await asyncio.gather(*(self.caller(n, until) for n in range(clients)))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def summary(self) -> dict[str, Any]:
        return {
            kind: {
                "calls": len(times),
                "statuses": self.statuses.get(kind, {}),
                "p50_ms": round(percentile(times, 50) * 1000, 1),
                "p99_ms": round(percentile(times, 99) * 1000, 1),
            }
            for kind, times in sorted(self.calls.items())
        }


def _users(settings: Settings, street: str) -> dict[str, str]:
    from events.base import Role
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    engine = create_engine_for(settings)
    try:
        store = UserStore(engine)
        store.create_tables()
        store.ensure_user("rss-op", "Hotline seat", Role.DISPATCHER, None)
        store.ensure_user("rss-sv", "City supervisor", Role.SUPERVISOR, "city")
        store.ensure_user("rss-street", "Street office", Role.STREET, street)
        return {k: store.issue_token(f"rss-{k}", "service-rss")[0] for k in ("op", "sv", "street")}
    finally:
        engine.dispose()


def _busiest_street(settings: Settings) -> tuple[str, str]:
    """(street id, one of its grids) of the seed city's street with the most open cases in the read model.

    The open cases of the backlog lie in the seed city's grids; the full-lifecycle cases of the projection
    benchmark name units of their own, which the registry does not know.
    """
    import sqlalchemy as sa

    from readmodel import tables as t
    from workers.composition import build_readmodel_engine

    engine = build_readmodel_engine(settings)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(t.cases.c.street_id, sa.func.min(t.cases.c.grid_id), sa.func.count())
                .where(t.cases.c.street_id.is_not(None), t.cases.c.case_id.like("W%"))  # the seed city's
                .group_by(t.cases.c.street_id)
                .order_by(sa.func.count().desc())
                .limit(1)
            ).one()
    finally:
        engine.dispose()
    return str(row[0]), str(row[1])


# --- the measurement ------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def read_model(args: argparse.Namespace) -> Iterator[tuple[str, bool]]:
    """(URL, reused): ``--read-model`` as it is, else a scratch database (dropped unless ``--keep-database``)."""
    if args.read_model:
        yield args.read_model, True
        return
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from readmodel.db import migrate

    admin_url = make_url(args.postgres_url)
    name = f"gridcase_rss_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        migrate(url)
        try:
            yield url, False
        finally:
            if args.keep_database:
                print(f"read model kept: --read-model {admin_url.set(database=name).render_as_string()}")
            else:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def read_model_cases(settings: Settings) -> tuple[int, int]:
    """(cases, open cases) in the read model."""
    import sqlalchemy as sa

    from readmodel import tables as t
    from readmodel.projection import TERMINAL_STATUSES
    from workers.composition import build_readmodel_engine

    engine = build_readmodel_engine(settings)
    try:
        with engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(t.cases)).scalar_one()
            open_ = conn.execute(
                sa.select(sa.func.count()).select_from(t.cases).where(t.cases.c.status.not_in(TERMINAL_STATUSES))
            ).scalar_one()
    finally:
        engine.dispose()
    return int(total), int(open_)


def api_phase(
    sampler: Sampler, settings: Settings, out: Path, args: argparse.Namespace, spec: str, load: Load
) -> dict[str, Any]:
    """One ``gridcase api`` process from its start, under ``load`` (the kinds of ``spec``) for ``--api-seconds``."""
    port = _free_port()
    env = {"GRIDCASE_API_PORT": str(port), "GRIDCASE_METRICS_PORT": "0"}
    with started(sampler, settings, out, f"api-{spec.replace(',', '+')}", ["api"], env) as api:
        load.base = f"http://127.0.0.1:{port}"
        _wait("the API ready", lambda: _get(f"{load.base}/readyz") is not None, api, 120)
        sampler.final(api)
        rss_ready = api.rss_at_end()
        uptime_before = _uptime()
        t0 = time.monotonic()
        asyncio.run(load.run(args.clients, args.streams, args.api_seconds))
        load_s = time.monotonic() - t0
        sampler.final(api)
        calls = sum(len(v) for v in load.calls.values())
        return {
            "mix": spec,
            "kinds": list(load.kinds),
            "clients": args.clients,
            "live_streams": args.streams,
            "seconds": round(load_s, 1),
            "requests": calls,
            "requests_per_s": round(calls / load_s, 1),
            "bytes_received": load.bytes_in,
            "stream_events": load.stream_events,
            "errors": load.errors,
            "refusals": load.refusals,
            "cases_opened": len(load.opened),
            "by_kind": load.summary(),
            "rss_ready_mib": rss_ready,
            "peak_rss_mib": round(api.hwm_mib, 1),
            "rss_at_end_mib": api.rss_at_end(),
            "uptime_before_load": uptime_before,
            "uptime_after_load": _uptime(),
            "timeline": api.samples,
        }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from events.topics import ensure_topics
    from workers.bench.harness import unique

    log = print
    specs = {spec: mix_of(spec) for spec in args.mix or ["workspace", "all"]}
    base = Settings()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "command": " ".join(["python -m workers.bench.service_rss", *sys.argv[1:]]),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "uptime_before": _uptime(),
        "versions": versions([args.postgres_url]),
        "stack_profile": base.stack_profile,
    }
    log(f"machine: {result['machine']}\nuptime: {result['uptime_before']}")
    sampler = Sampler()
    with read_model(args) as (url, reused):
        suffix = uuid.uuid4().hex[:8]
        settings = base.model_copy(
            update={
                "topic_prefix": f"rss{suffix}",
                "task_queue": unique("rss-"),
                "database_url": url,
                "kafka_case_events_partitions": PARTITIONS,
            }
        )
        ensure_topics(settings, partitions=PARTITIONS)
        total = 0
        if not reused:
            records, made = make_backlog(settings, args.open_cases, args.full_cases)
            log(f"backlog: {made['about']}")
            produced_s = produce(settings, records)
            total = len(records)
            del records
            log(f"produced {total:,} records in {produced_s:.1f} s")
        projector_port, worker_port = _free_port(), _free_port()
        metrics = f"http://127.0.0.1:{projector_port}/metrics"
        env = {"GRIDCASE_PROJECTOR_METRICS_PORT": str(projector_port), "GRIDCASE_PROJECTOR_GROUP_ID": f"rss-{suffix}"}
        with started(sampler, settings, out, "projector", ["projector"], env) as projector:
            t0 = time.monotonic()
            _wait(
                "the backlog applied",
                lambda: _get(metrics) is not None and projector_counts(metrics) >= total,
                projector,
                args.timeout,
            )
            if not reused:
                catch_up_s = time.monotonic() - t0
                sampler.final(projector)
                result["projector"] = {
                    "backlog": made["about"],
                    "partitions": PARTITIONS,
                    "produced_s": round(produced_s, 1),
                    "catch_up_s": round(catch_up_s, 1),
                    "events_per_s": round(total / catch_up_s),
                    "peak_rss_mib": round(projector.hwm_mib, 1),
                    "rss_when_caught_up_mib": projector.rss_at_end(),
                    "uptime_after_catch_up": _uptime(),
                    "timeline": list(projector.samples),
                }
                log(f"projector: { {k: v for k, v in result['projector'].items() if k != 'timeline'} }")
            cases, open_cases = read_model_cases(settings)
            street, grid = _busiest_street(settings)
            tokens = _users(settings, street)
            result["read_model"] = {"cases": cases, "open_cases": open_cases, "reused": reused}
            with started(
                sampler, settings, out, "worker", ["worker"], {"GRIDCASE_METRICS_PORT": str(worker_port)}
            ) as worker:
                _wait(
                    "the worker ready", lambda: _get(f"http://127.0.0.1:{worker_port}/readyz") is not None, worker, 120
                )
                result["api"] = {}
                for spec, kinds in specs.items():
                    period = dt.datetime.now(dt.UTC).strftime("%Y-%m")
                    load = Load("", tokens, street, grid, open_cases, period, kinds=kinds)
                    phase = api_phase(sampler, settings, out, args, spec, load)
                    result["api"][spec] = phase
                    log(
                        f"api ({spec}): "
                        + json.dumps(
                            {k: v for k, v in phase.items() if k not in ("by_kind", "timeline", "kinds")},
                            ensure_ascii=False,
                        )
                    )
                sampler.final(worker)
                result["worker_during_api_load"] = {"peak_rss_mib": round(worker.hwm_mib, 1)}
            sampler.final(projector)
            result.setdefault("projector", {})["peak_rss_mib_whole_run"] = round(projector.hwm_mib, 1)
    sampler.close()
    result["uptime_after"] = _uptime()
    stamp = result["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    (out / f"service-rss-{stamp}.json").write_text(text)
    (out / "service-rss-latest.json").write_text(text)
    log(f"written to {out / 'service-rss-latest.json'}")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", required=True, help="a role with CREATEDB; a scratch database is used")
    parser.add_argument("--open-cases", type=int, default=30000)
    parser.add_argument("--full-cases", type=int, default=6000, help="full-lifecycle (closed or reopened) cases")
    parser.add_argument("--clients", type=int, default=32, help="concurrent API callers")
    parser.add_argument("--streams", type=int, default=8, help="live event streams held open")
    parser.add_argument("--api-seconds", type=float, default=180.0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="for the projector's catch-up")
    parser.add_argument(
        "--mix",
        action="append",
        help=f"the API load, one phase (and a fresh API process) each: {', '.join(MIXES)} or a comma-separated "
        f"list of kinds ({', '.join(MIXES['all'])}); default: workspace, then all",
    )
    parser.add_argument("--read-model", help="reuse this read model (a URL) instead of a backlog: no projector figure")
    parser.add_argument("--keep-database", action="store_true", help="keep the scratch read model for --read-model")
    parser.add_argument("--out", default=".gridcase/bench")
    measure(parser.parse_args(argv))


if __name__ == "__main__":
    main()
