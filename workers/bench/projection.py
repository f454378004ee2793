"""Benchmark 4: events per second applied to the read model, on SQLite and on PostgreSQL.

The events are real: cases driven through the pure domain (``decide``/``evolve``) along the
lifecycle of benchmark 1, with one case in four left open part-way and one in four reopened
after an unsatisfied callback, interleaved the way a partitioned topic delivers them. Each run
gets a fresh, migrated database and applies the events in batches of ``BATCH`` with
:func:`readmodel.db.apply_events` (one transaction per batch, as the projector does). Two rates
are reported: *apply* (the database work only) and *decode+apply* (also parsing each record's
CloudEvent bytes, as the projector must).

PostgreSQL runs when a URL is given (``--postgres-url`` or ``GRIDCASE_TEST_POSTGRES_URL``): a
scratch database ``gridcase_bench_<random>`` is created on that server and dropped afterwards,
so the role needs ``CREATEDB``.
"""

from __future__ import annotations

import itertools
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from events.base import CaseEventBase
from events.schemas import Rating
from workers.bench.common import BenchResult
from workflows.domain import commands as c
from workflows.domain.decide import decide
from workflows.domain.evolve import apply_event
from workflows.domain.state import CaseState, SlaContext

#: cases generated, per size
SIZES: dict[str, int] = {"tiny": 12, "default": 800, "large": 6000}
BATCH = 500  # events per transaction


def _sla() -> SlaContext:
    from workflows.sla.calendar import build_calendar
    from workflows.sla.policy import default_policy

    return SlaContext(policy=default_policy(), calendar=build_calendar([2026, 2027]))


def generate_events(cases: int) -> list[CaseEventBase]:
    """Events of ``cases`` cases, interleaved across cases (deterministic)."""
    from workers.bench.lifecycle import lifecycle_actions, open_command

    sla = _sla()
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai
    per_case: list[list[CaseEventBase]] = []
    actions = lifecycle_actions()
    for i in range(cases):
        state = CaseState(case_id=f"P{i:06d}", sla=sla)
        now = start + timedelta(minutes=3 * i)
        steps: list[c.Command] = [open_command(state.case_id), *actions]
        if i % 4 == 1:
            steps = steps[: 3 + i % 8]  # left open part-way
        elif i % 4 == 2:  # unsatisfied: the callback reopens the case, handled again and closed
            steps = [
                *steps[:-2],
                c.RecordCallback(actor=actions[-2].actor, rating=Rating.UNSATISFIED),
                c.CloseCase(actor=actions[-1].actor),
            ]
        events: list[CaseEventBase] = []
        for cmd in steps:
            now += timedelta(minutes=20)
            try:
                emitted = decide(state, cmd, now)  # type: ignore[arg-type]
            except Exception:  # a step the path does not allow (e.g. close after reopening): stop here
                break
            for ev in emitted:
                apply_event(state, ev)
            events.extend(emitted)
        per_case.append(events)
    out: list[CaseEventBase] = []
    lanes: list[Iterator[CaseEventBase]] = [iter(evts) for evts in per_case]
    window = 50  # cases in flight at a time, like concurrent cases on one partition
    active = lanes[:window]
    pending = iter(lanes[window:])
    while active:
        still = []
        for lane in active:
            item: CaseEventBase | None = next(lane, None)
            if item is None:
                nxt = next(pending, None)
                if nxt is not None:
                    still.append(nxt)
            else:
                out.append(item)
                still.append(lane)
        active = still
    return out


@contextmanager
def scratch_database(kind: str, postgres_url: str | None) -> Iterator[str]:
    """A fresh, migrated read-model database URL, removed afterwards."""
    from readmodel.db import migrate

    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gridcase-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'readmodel.db'}"
            migrate(url)
            yield url
        return
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    assert postgres_url is not None
    admin_url = make_url(postgres_url)
    name = f"gridcase_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        try:
            migrate(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def apply_run(url: str, events: list[CaseEventBase], encoded: list[bytes] | None = None) -> tuple[float, float]:
    """Apply ``events`` to the database at ``url``; returns (apply seconds, decode seconds)."""
    from events.envelope import from_cloudevent
    from readmodel.db import apply_events, make_engine

    decode_s = 0.0
    if encoded is not None:
        t0 = time.perf_counter()
        decoded = [from_cloudevent(raw)[1] for raw in encoded]
        decode_s = time.perf_counter() - t0
        if [e.event_id for e in decoded] != [e.event_id for e in events]:
            raise RuntimeError("decoded events differ from the generated ones")
    engine = make_engine(url)
    try:
        applied = 0
        t0 = time.perf_counter()
        for i in range(0, len(events), BATCH):
            applied += apply_events(engine, events[i : i + BATCH]).applied
        apply_s = time.perf_counter() - t0
    finally:
        engine.dispose()
    if applied != len(events):
        raise RuntimeError(f"{len(events)} events given but {applied} applied")
    return apply_s, decode_s


def bench_projection(
    *, size: str, repeat: int, postgres_url: str | None = None, log: Callable[[str], None] = print
) -> BenchResult:
    """Benchmark 4 (PostgreSQL only when ``postgres_url`` is given)."""
    from events.envelope import to_cloudevent

    result = BenchResult("projection", size, repeat)
    t0 = time.perf_counter()
    events = generate_events(SIZES[size])
    encoded = [to_cloudevent(e, mask_pii=True) for e in events]  # type: ignore[arg-type]
    log(f"  {len(events)} events of {SIZES[size]} cases generated in {time.perf_counter() - t0:.1f} s")
    started = time.perf_counter()
    kinds = ["sqlite"] + (["postgresql"] if postgres_url else [])
    for kind in kinds:
        rates, full = [], []
        for r in range(repeat):
            with scratch_database(kind, postgres_url) as url:
                apply_s, decode_s = apply_run(url, events, encoded)
            rates.append(len(events) / apply_s)
            full.append(len(events) / (apply_s + decode_s))
            log(
                f"  {kind:<10} run {r + 1}/{repeat}: {rates[-1]:,.0f} events/s applied, "
                f"{full[-1]:,.0f} events/s decoded and applied"
            )
        result.add(f"{kind} apply", "events/s", rates, target=">= 2000")
        result.add(f"{kind} decode+apply", "events/s", full)
    result.seconds = time.perf_counter() - started
    result.details = {
        "events": len(events),
        "cases": SIZES[size],
        "batch": BATCH,
        "types": dict(itertools.islice(_type_counts(events).items(), 40)),
        "postgresql": "skipped (no URL)" if not postgres_url else "scratch database on the given server",
    }
    return result


def _type_counts(events: list[CaseEventBase]) -> dict[str, int]:
    from events.schemas import event_type

    counts: dict[str, int] = {}
    for e in events:
        name = event_type(e)
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
