"""Helpers for the fault drills, the scale-out test and the shutdown tests.

* :class:`GridcaseProcess` runs a real ``gridcase`` process (``python -m workers.cli ...``) with its
  configuration passed as ``GRIDCASE_*`` environment variables, its output in a log file, and stops
  it with a chosen signal, reporting the exit code and how long the exit took.
* :class:`CaseLoad` drives several cases concurrently through the whole lifecycle (intake → whistle →
  report-in → resolve → verify → callback → close). Every call carries a stable request id, so a call
  that failed because a service was down is simply retried and is applied once. Each successful action
  is time-stamped: the longest gap between two of them is the longest stall the actors saw.
* :class:`EventWatch` reads the case-events topic as events arrive (time-stamping the first copy of
  each event), and :func:`read_back` reads it again from the beginning once everything is done, so
  :func:`check_delivery` can assert that every event is there and that each case's records are in order.

Nothing here is a fake: the processes, the Temporal server and the broker are the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from events.base import UnitKind, UnitRef
from events.envelope import EnvelopeError, from_cloudevent
from events.schemas import Channel, Rating, ResidentContact, WhistleTask
from events.topics import topic_names
from workers.case_client import CaseClient
from workers.settings import Settings
from workflows.case_workflow import CaseSummary, CaseWorkflow, workflow_id
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, LOCATION, dept_actor, unit_actor

ROOT = Path(__file__).resolve().parents[2]

#: Settings fields handed to child processes as GRIDCASE_* variables (the rest keep their defaults).
_ENV_FIELDS = (
    "state_dir",
    "temporal_address",
    "temporal_namespace",
    "task_queue",
    "kafka_bootstrap",
    "topic_prefix",
    "database_url",
    "projector_group_id",
    "api_host",
    "api_port",
)


def gridcase_env(settings: Settings, **extra: str | int | None) -> dict[str, str]:
    """The environment of a child ``gridcase`` process configured like ``settings``.

    Inherited ``GRIDCASE_*`` variables are dropped first so the child sees exactly these settings;
    metrics endpoints are off unless ``extra`` sets them (two processes must not fight for a port).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCASE_")}
    env["GRIDCASE_METRICS_PORT"] = "0"
    env["GRIDCASE_PROJECTOR_METRICS_PORT"] = "0"
    for name in _ENV_FIELDS:
        value = getattr(settings, name)
        if value is not None:
            env[f"GRIDCASE_{name.upper()}"] = str(value)
    for key, value in extra.items():
        if value is not None:
            env[f"GRIDCASE_{key.upper()}"] = str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Exit:
    """How a process ended: its exit code and the seconds between the signal and the exit."""

    returncode: int | None
    seconds: float
    signal: str


class GridcaseProcess:
    """One real ``gridcase`` process; output goes to ``log_path``."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT) -> None:
        self.name = name
        self.args = list(args)
        self.env = env
        self.cwd = cwd  # the build the process runs: `python -m` imports from its working directory first
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GridcaseProcess:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", *self.args],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was not started"
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        """Wait until ``text`` appears in the process output; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if not self.alive:
                raise AssertionError(f"{self.name} exited ({self.proc and self.proc.returncode}): {self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {text!r} not seen within {timeout:.0f} s: {self.tail()}")
            time.sleep(0.1)

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> Exit:
        """Send ``sig`` and wait up to ``timeout`` s for the exit (then SIGKILL; ``returncode`` None)."""
        assert self.proc is not None, f"{self.name} was not started"
        started = time.monotonic()
        name = signal.Signals(sig).name
        if self.proc.poll() is not None:
            return Exit(self.proc.returncode, 0.0, name)
        self.proc.send_signal(sig)
        try:
            rc: int | None = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            rc = None
        return Exit(rc, time.monotonic() - started, name)


class Processes:
    """The processes a test started; :meth:`close` stops whichever still run (never anything else)."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.started: list[GridcaseProcess] = []

    def start(
        self, name: str, *args: str, env: dict[str, str | int | None] | None = None, settings: Settings | None = None
    ) -> GridcaseProcess:
        """Start ``gridcase <args>`` named ``name``; ``env`` adds GRIDCASE_* settings (lower-case keys)."""
        proc = GridcaseProcess(name, args, gridcase_env(settings or self.settings, **(env or {})), self.log_dir)
        self.started.append(proc.start())
        return proc

    def by_name(self, name: str) -> GridcaseProcess:
        return next(p for p in self.started if p.name == name)

    def worker(self, name: str, **env: str | int | None) -> GridcaseProcess:
        return self.start(name, "worker", env=env)

    def close(self) -> None:
        for proc in self.started:
            if proc.alive:
                proc.stop(signal.SIGTERM, timeout=30)


@contextlib.contextmanager
def processes(settings: Settings, log_dir: Path) -> Iterator[Processes]:
    """A :class:`Processes` whose survivors are stopped on exit."""
    group = Processes(settings, log_dir)
    try:
        yield group
    finally:
        group.close()


# --------------------------------------------------------------------------------------------------
# Driving cases


STREET = UnitRef(kind=UnitKind.STREET, id="S-1")
_SA = unit_actor(STREET)
_ENV = dept_actor("environment")


def lifecycle(case_id: str) -> list[c.Command]:
    """Every action of one case, intake to closure (12 actions)."""
    return [
        c.OpenCase(
            actor=DISPATCHER,
            case_id=case_id,
            channel=Channel.HOTLINE,
            category="noise",
            title="噪音扰民",
            description="夜间施工噪音",
            location=LOCATION,
            contact=ResidentContact(name="李四", phone="13900001111"),
            idempotency_key=f"key-{case_id}",
        ),
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=STREET),
        c.AcceptCase(actor=_SA),
        c.ContactResident(actor=_SA),
        c.BlowWhistle(actor=_SA, tasks=[WhistleTask(department_id="environment", task="夜间施工执法")]),
        c.ReportIn(actor=_ENV),
        c.CompleteTask(actor=_ENV, result="已责令停工"),
        c.ResolveCase(actor=_SA, notes="夜间施工已停止"),
        c.VerifyCase(actor=GRID_WORKER, passed=True),
        c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED),
        c.CloseCase(actor=DISPATCHER),
    ]


STEPS_PER_CASE = len(lifecycle("X"))

#: What a call raises while a service it needs is down; the call is retried with the same request id.
TRANSIENT: tuple[type[BaseException], ...] = (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError)


def longest_gap(times: Sequence[float]) -> float:
    """The largest gap between consecutive instants (seconds); 0 for fewer than two."""
    ordered = sorted(times)
    return max((b - a for a, b in itertools.pairwise(ordered)), default=0.0)


class CaseLoad:
    """Drives ``n`` cases concurrently through the whole lifecycle against the real server.

    Each case waits ``pace`` seconds between its actions, so the load spans the fault; a failed call
    is retried with the same request id (the case applies it once) until ``deadline``.
    """

    def __init__(self, cases: CaseClient, n: int, *, prefix: str = "D", pace: float = 0.2) -> None:
        self.cases = cases
        self.pace = pace
        run = uuid.uuid4().hex[:8].upper()
        self.case_ids = [f"{prefix}{run}{i:02d}" for i in range(n)]
        self.done_at: list[float] = []  # monotonic time of every successful action
        self.retries = 0
        self.errors: list[str] = []
        self._progress = asyncio.Condition()

    @property
    def total(self) -> int:
        return len(self.case_ids) * STEPS_PER_CASE

    @property
    def done(self) -> int:
        return len(self.done_at)

    async def _call(self, case_id: str, step: int, command: c.Command, deadline: float) -> None:
        while True:
            try:
                if isinstance(command, c.OpenCase):
                    await self.cases.open(command)
                else:
                    await self.cases.act(case_id, command, request_id=f"{case_id}-{step}")  # type: ignore[arg-type]
                return
            except TRANSIENT as exc:
                self.retries += 1
                if time.monotonic() > deadline:
                    raise AssertionError(f"case {case_id} step {step} still failing at the deadline: {exc!r}") from exc
                await asyncio.sleep(0.25)

    async def _drive(self, index: int, deadline: float) -> None:
        case_id = self.case_ids[index]
        await asyncio.sleep(self.pace * index / max(len(self.case_ids), 1))  # stagger the cases
        for step, command in enumerate(lifecycle(case_id)):
            await self._call(case_id, step, command, deadline)
            async with self._progress:
                self.done_at.append(time.monotonic())
                self._progress.notify_all()
            await asyncio.sleep(self.pace)

    def start(self, timeout: float) -> asyncio.Task[None]:
        """Start driving every case; the task ends when every case was closed (or raises)."""
        deadline = time.monotonic() + timeout

        async def run() -> None:
            await asyncio.gather(*(self._drive(i, deadline) for i in range(len(self.case_ids))))

        return asyncio.create_task(run())

    async def reached(self, fraction: float, timeout: float = 60.0) -> None:
        """Wait until ``fraction`` of all actions succeeded."""
        target = int(self.total * fraction)

        async def wait() -> None:
            async with self._progress:
                await self._progress.wait_for(lambda: self.done >= target)

        await asyncio.wait_for(wait(), timeout)

    def longest_stall(self) -> float:
        """The longest time no action of any case succeeded, from the first action to the last."""
        return longest_gap(self.done_at)

    async def results(self, client: Client, timeout: float = 60.0) -> dict[str, CaseSummary]:
        """Each case's workflow result (returned once the case is closed and all its events published)."""

        async def one(case_id: str) -> CaseSummary:
            handle = client.get_workflow_handle_for(CaseWorkflow.run, workflow_id(case_id))
            while True:
                try:
                    return await handle.result()
                except TRANSIENT:
                    await asyncio.sleep(0.25)

        summaries = await asyncio.wait_for(asyncio.gather(*(one(cid) for cid in self.case_ids)), timeout)
        return dict(zip(self.case_ids, summaries, strict=True))


# --------------------------------------------------------------------------------------------------
# Reading the topic


@dataclass
class Record:
    """One copy of an event on the case-events topic."""

    case_id: str
    seq: int
    partition: int
    offset: int


def _consumer(settings: Settings) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id=f"drill-reader-{uuid.uuid4().hex[:6]}",
        request_timeout_ms=10_000,
        reconnect_backoff_max_ms=500,
    )


def _assign_all(consumer: Any, topic: str, timeout: float = 30.0) -> None:
    from kafka import TopicPartition

    deadline = time.monotonic() + timeout
    while not (parts := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            raise AssertionError(f"topic {topic} has no partitions")
        time.sleep(0.2)
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)


def _decode(raw: Any) -> Record | None:
    try:
        _envelope, event = from_cloudevent(raw.value if raw.value is not None else b"")
    except EnvelopeError:
        return None
    return Record(event.case_id, event.seq, raw.partition, raw.offset)


class EventWatch:
    """Reads the case-events topic in a thread while a drill runs; time-stamps each event's first copy."""

    def __init__(self, settings: Settings, case_ids: Sequence[str]) -> None:
        self.settings = settings
        self.case_ids = set(case_ids)
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-watch", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            consumer = _consumer(self.settings)
            try:
                _assign_all(consumer, topic_names(self.settings).case_events, timeout=60)
                while not self._stop.is_set():
                    for records in consumer.poll(timeout_ms=200).values():
                        now = time.monotonic()
                        for raw in records:
                            rec = _decode(raw)
                            if rec is not None and rec.case_id in self.case_ids:
                                self.first_seen.setdefault(f"{rec.case_id}:{rec.seq}", now)
            finally:
                consumer.close()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def __enter__(self) -> EventWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.first_seen) < count:
            assert self.error is None, f"event watch failed: {self.error!r}"
            assert time.monotonic() < deadline, f"only {len(self.first_seen)} of {count} events arrived"
            time.sleep(0.1)

    def longest_stall(self) -> float:
        """The longest time no new event arrived, from the first arrival to the last."""
        return longest_gap(list(self.first_seen.values()))


def read_back(settings: Settings, expected: dict[str, int], timeout: float = 60.0) -> dict[str, list[Record]]:
    """Every copy of the cases' events on the case-events topic, in partition (= per-case) order.

    Reads from the beginning of every partition until each case's ``expected`` number of distinct
    events was seen (and the end of the log reached), or ``timeout``.
    """
    topic = topic_names(settings).case_events
    consumer = _consumer(settings)
    copies: dict[str, list[Record]] = defaultdict(list)
    try:
        _assign_all(consumer, topic)
        deadline = time.monotonic() + timeout

        def complete() -> bool:
            return all(len({r.seq for r in copies[cid]}) >= n for cid, n in expected.items())

        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500)
            for records in batches.values():
                for raw in records:
                    rec = _decode(raw)
                    if rec is not None and rec.case_id in expected:
                        copies[rec.case_id].append(rec)
            if not batches and complete():
                break
    finally:
        consumer.close()
    return dict(copies)


def check_delivery(copies: dict[str, list[Record]], expected: dict[str, int]) -> int:
    """Assert every event of every case is on the topic, each case's copies in order; returns re-sends.

    A retried publish re-sends a batch, so a case's records may repeat a run of seqs, but a record
    never skips ahead of what was delivered before it (no gap, no reordering), all of one case sit in
    one partition, and every seq 1..n is there.
    """
    resent = 0
    for case_id, total in expected.items():
        records = copies.get(case_id, [])
        assert len({r.partition for r in records}) <= 1, f"case {case_id} is spread over several partitions"
        highest = 0
        for rec in records:
            assert rec.seq <= highest + 1, f"case {case_id}: seq {rec.seq} after {highest} (offset {rec.offset})"
            if rec.seq <= highest:
                resent += 1
            highest = max(highest, rec.seq)
        assert sorted({r.seq for r in records}) == list(range(1, total + 1)), (
            f"case {case_id}: events on the topic {sorted({r.seq for r in records})}, expected 1..{total}"
        )
    return resent


@dataclass
class DrillReport:
    """What one drill measured, printed by the test (``pytest -s``) and recorded in docs/fault-drills.md."""

    name: str
    cases: int
    events: int
    action_stall: float
    event_stall: float
    readmodel_stall: float
    retries: int = 0
    resent: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        extra = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (
            f"DRILL {self.name}: {self.cases} cases, {self.events} events; longest stall: actions "
            f"{self.action_stall:.1f} s, event arrivals {self.event_stall:.1f} s, read model "
            f"{self.readmodel_stall:.1f} s; {self.retries} retried calls, "
            f"{self.resent} re-sent records{extra}"
        )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f} s"
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------
# The read model


class ReadModelWatch:
    """Polls the read model's timeline row count in a thread; time-stamps every increase.

    Errors (the database restarting) are counted and polling goes on.
    """

    def __init__(self, url: str, interval: float = 0.1) -> None:
        self.url = url
        self.interval = interval
        self.grew_at: list[float] = []
        self.rows = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readmodel-watch", daemon=True)

    def _run(self) -> None:
        from sqlalchemy import func, select
        from sqlalchemy.pool import NullPool

        from readmodel import tables as t
        from readmodel.db import make_engine

        engine = make_engine(self.url, poolclass=NullPool)  # a new session per poll
        try:
            while not self._stop.wait(self.interval):
                try:
                    with engine.connect() as conn:
                        rows = int(conn.execute(select(func.count()).select_from(t.timeline)).scalar_one())
                except Exception:  # not migrated yet, or the database is down
                    self.errors += 1
                    continue
                if rows > self.rows:
                    self.rows = rows
                    self.grew_at.append(time.monotonic())
        finally:
            engine.dispose()

    def __enter__(self) -> ReadModelWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def longest_stall(self) -> float:
        """The longest time the read model did not grow, from its first growth to its last."""
        return longest_gap(self.grew_at)


def wait_read_model(url: str, expected: dict[str, int], timeout: float = 60.0) -> None:
    """Wait until the read model holds every case with its last event applied."""
    from sqlalchemy import select

    from readmodel import tables as t
    from readmodel.db import make_engine

    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    seen: dict[str, int] = {}
    try:
        while True:
            try:
                with engine.connect() as conn:
                    rows = conn.execute(
                        select(t.cases.c.case_id, t.cases.c.last_seq).where(t.cases.c.case_id.in_(list(expected)))
                    ).all()
                seen = {str(cid): int(seq) for cid, seq in rows}
            except Exception:
                seen = {}
            if seen == expected:
                return
            assert time.monotonic() < deadline, f"read model not caught up within {timeout:.0f} s: {seen} != {expected}"
            time.sleep(0.2)
    finally:
        engine.dispose()


def rebuilt(settings: Settings, url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Dump of a clean rebuild: a fresh database at ``url`` fed the whole topic by a new consumer group."""
    from events.consumer import new_group_id
    from readmodel.db import dump, make_engine, migrate
    from readmodel.projector import Projector

    migrate(url)
    engine = make_engine(url)
    try:
        stats = Projector(settings, engine, group_id=new_group_id("drill-rebuild")).run(
            until_caught_up=True, stop_after=60
        )
        assert stats.dead_lettered == 0, stats
        return dump(engine)
    finally:
        engine.dispose()


def dump_diff(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]], limit: int = 6) -> str:
    """The rows only in ``a`` and only in ``b``, per table (for a readable assertion message)."""
    lines: list[str] = []
    for table in sorted(set(a) | set(b)):
        only_a = [r for r in a.get(table, []) if r not in set(b.get(table, []))]
        only_b = [r for r in b.get(table, []) if r not in set(a.get(table, []))]
        if only_a or only_b:
            lines.append(f"{table}: {len(only_a)} rows only in the first, {len(only_b)} only in the second")
            lines += [f"  - {r}" for r in only_a[:limit]] + [f"  + {r}" for r in only_b[:limit]]
    return "\n".join(lines)


def read_model_dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    from readmodel.db import dump, make_engine

    engine = make_engine(url)
    try:
        return dump(engine)
    finally:
        engine.dispose()
