"""Read-model database: engine, Alembic migrations, and applying event batches in one transaction.

``migrate(url)`` upgrades the schema to the latest Alembic revision (the migration scripts ship
inside the package, ``readmodel/migrations``). :func:`apply_events` is the projector's core: it
applies a list of parsed events to the tables in a single transaction and can be used without
Kafka (benchmarks, tests, replays from files).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, select

from events.base import CaseEventBase
from events.schemas import event_type
from readmodel import tables as t
from readmodel.projection import CaseView, apply_event

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "rm_alembic_version"
_CHUNK = 400  # ids per IN (...) clause


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode and a busy timeout so readers do not block the projector."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the read-model schema at ``url`` to ``revision`` (default: the latest)."""
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (``None`` if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def head_revision() -> str | None:
    """The latest revision among the shipped migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


# --- applying events -----------------------------------------------------------------------------


@dataclass
class ApplyResult:
    """What one :func:`apply_events` call did."""

    applied: int = 0
    skipped: int = 0  # at or below the case's last applied seq
    gaps: int = 0  # a case's seq jumped forward (applied anyway)
    cases: int = 0  # distinct cases touched
    types: dict[str, int] = field(default_factory=dict)
    last_occurred_at: datetime | None = None


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _utc_row(row: Any) -> dict[str, Any]:
    return {k: (t.as_utc(v) if isinstance(v, datetime) else v) for k, v in row._mapping.items()}


def load_views(conn: Connection, case_ids: Sequence[str]) -> dict[str, CaseView]:
    """The stored views of ``case_ids`` (cases never seen are absent)."""
    views: dict[str, CaseView] = {}
    for chunk in _chunks(case_ids):
        for row in conn.execute(select(t.cases).where(t.cases.c.case_id.in_(chunk))):
            d = _utc_row(row)
            views[d["case_id"]] = CaseView(case=d)
        for table, attr, key in (
            (t.assignments, "assignments", "assignment_id"),
            (t.clocks, "clocks", "clock_id"),
            (t.whistles, "whistles", "round"),
            (t.callbacks, "callbacks", "seq"),
            (t.escalations, "escalations", "seq"),
        ):
            for row in conn.execute(select(table).where(table.c.case_id.in_(chunk))):
                d = _utc_row(row)
                view = views.get(d["case_id"])
                if view is not None:
                    getattr(view, attr)[d[key]] = d
    return views


def write_views(conn: Connection, views: Iterable[CaseView]) -> None:
    """Replace the stored rows of each view's case and append its new timeline rows."""
    views = list(views)
    ids = [v.case_id for v in views]
    for chunk in _chunks(ids):
        for table in (t.cases, *t.CHILD_TABLES):
            conn.execute(delete(table).where(table.c.case_id.in_(chunk)))
    rows: dict[str, list[dict[str, Any]]] = {
        "cases": [v.case for v in views],
        "timeline": [r for v in views for r in v.new_timeline],
        "assignments": [r for v in views for r in v.assignments.values()],
        "clocks": [r for v in views for r in v.clocks.values()],
        "whistles": [r for v in views for r in v.whistles.values()],
        "callbacks": [r for v in views for r in v.callbacks.values()],
        "escalations": [r for v in views for r in v.escalations.values()],
    }
    for name, table in (
        ("cases", t.cases),
        ("timeline", t.timeline),
        ("assignments", t.assignments),
        ("clocks", t.clocks),
        ("whistles", t.whistles),
        ("callbacks", t.callbacks),
        ("escalations", t.escalations),
    ):
        if rows[name]:
            conn.execute(insert(table), rows[name])
    for v in views:
        v.new_timeline = []


def apply_events_conn(conn: Connection, events: Sequence[CaseEventBase]) -> ApplyResult:
    """Apply ``events`` (in order) inside the caller's transaction."""
    result = ApplyResult()
    if not events:
        return result
    case_ids = list(dict.fromkeys(e.case_id for e in events))
    views = load_views(conn, case_ids)
    touched: dict[str, CaseView] = {}
    for ev in events:
        view = views.get(ev.case_id)
        if view is None:
            view = views[ev.case_id] = CaseView.empty(ev.case_id)
        last = view.last_seq
        if not apply_event(view, ev):
            result.skipped += 1
            continue
        if ev.seq != last + 1:
            result.gaps += 1
            log.warning("case %s: seq jumped from %d to %d", ev.case_id, last, ev.seq)
        touched[ev.case_id] = view
        result.applied += 1
        name = event_type(ev)
        result.types[name] = result.types.get(name, 0) + 1
        if result.last_occurred_at is None or ev.occurred_at > result.last_occurred_at:
            result.last_occurred_at = ev.occurred_at
    result.cases = len(touched)
    write_views(conn, touched.values())
    return result


def apply_events(engine: Engine, events: Sequence[CaseEventBase]) -> ApplyResult:
    """Apply a batch of parsed events in one transaction (idempotent, order-aware per case)."""
    with engine.begin() as conn:
        return apply_events_conn(conn, events)


def clear(engine: Engine) -> None:
    """Empty every read-model table (the schema stays)."""
    with engine.begin() as conn:
        for table in reversed(t.ALL_TABLES):
            conn.execute(delete(table))


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table, in primary-key order, times normalised to UTC."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in t.ALL_TABLES:
            pk = list(table.primary_key.columns)
            rows = conn.execute(select(table).order_by(*pk)).all()
            out[table.name] = [
                tuple(t.as_utc(v) if isinstance(v, datetime) else v for v in row) for row in rows
            ]
    return out
