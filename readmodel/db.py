"""Read-model database: engine, Alembic migrations, and applying event batches in one transaction.

``migrate(url)`` upgrades the schema to the latest Alembic revision (the migration scripts ship
inside the package, ``readmodel/migrations``). :func:`apply_events` is the projector's core: it
applies a list of parsed events to the tables in a single transaction and can be used without
Kafka (benchmarks, tests, replays from files).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Table, create_engine, delete, event, insert, select

from events.base import CaseEventBase
from events.times import as_utc
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
            sqlite_pragmas(dbapi_conn)

        return engine
    if url.startswith("postgresql+psycopg2") or url.startswith("postgresql://"):
        # Batch UPDATE/upsert executemany too (not only plain INSERT): the projector writes in batches.
        kwargs.setdefault("executemany_mode", "values_plus_batch")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def sqlite_pragmas(dbapi_conn: Any, wait: float = 30.0) -> None:
    """WAL and ``synchronous=NORMAL`` on a new SQLite connection, waiting out other processes' locks.

    Switching to WAL takes an exclusive lock, and SQLite answers "database is locked" at once (its
    busy handler is not always consulted) while another process opens, recovers or checkpoints the
    same file. So the mode is only switched when the file is not in WAL yet (the mode is stored in
    the file), and a locked answer is retried until ``wait`` seconds have passed.
    """
    import sqlite3

    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            mode = cur.execute("PRAGMA journal_mode").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() + delay > deadline:
                raise
        finally:
            cur.close()
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


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


_DT_COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: tuple(c.name for c in table.columns if isinstance(c.type, DateTime)) for table in t.ALL_TABLES
}
# Child tables the projection reads back (the others are insert-only: callbacks and escalations).
_LOADED_CHILDREN: tuple[tuple[Table, str, str], ...] = (
    (t.assignments, "assignments", "assignment_id"),
    (t.clocks, "clocks", "clock_id"),
    (t.whistles, "whistles", "round"),
)
_WRITTEN_CHILDREN: tuple[tuple[Table, str], ...] = (
    (t.assignments, "assignments"),
    (t.clocks, "clocks"),
    (t.whistles, "whistles"),
    (t.callbacks, "callbacks"),
    (t.escalations, "escalations"),
)


def _utc_row(table: Table, row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    for name in _DT_COLUMNS[table.name]:
        v = d[name]
        if v is not None:
            d[name] = as_utc(v)
    return d


def load_views(conn: Connection, case_ids: Sequence[str]) -> dict[str, CaseView]:
    """The stored views of ``case_ids`` (cases never seen are absent), with a snapshot of each row."""
    views: dict[str, CaseView] = {}
    for chunk in _chunks(case_ids):
        for row in conn.execute(select(t.cases).where(t.cases.c.case_id.in_(chunk))):
            d = _utc_row(t.cases, row)
            view = views[d["case_id"]] = CaseView(case=d)
            view.snapshot["cases"] = {d["case_id"]: tuple(d.values())}
        for table, attr, key in _LOADED_CHILDREN:
            for row in conn.execute(select(table).where(table.c.case_id.in_(chunk))):
                d = _utc_row(table, row)
                owner = views.get(d["case_id"])
                if owner is not None:
                    getattr(owner, attr)[d[key]] = d
                    owner.snapshot.setdefault(attr, {})[d[key]] = tuple(d.values())
    return views


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert_statement(dialect: str, table: Table) -> Any:
    """``INSERT ... ON CONFLICT (pk) DO UPDATE`` for ``table`` (built once per dialect)."""
    stmt = _UPSERTS.get((dialect, table.name))
    if stmt is None:
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
        pk = [c.name for c in table.primary_key.columns]
        ins = dialect_insert(table)
        stmt = _UPSERTS[(dialect, table.name)] = ins.on_conflict_do_update(
            index_elements=pk, set_={c.name: ins.excluded[c.name] for c in table.columns if c.name not in pk}
        )
    return stmt


def _insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert append-only rows (timeline, callbacks, escalations), ignoring ones already there.

    Their content is fixed by (case id, seq), so a row already present was written by another
    projector member that applied the same event during a rebalance.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        stmt = _UPSERTS.get((dialect, f"{table.name}:new"))
        if stmt is None:
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            else:
                from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
            stmt = _UPSERTS[(dialect, f"{table.name}:new")] = dialect_insert(table).on_conflict_do_nothing()
        conn.execute(stmt, rows)
        return
    conn.execute(insert(table), rows)


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, updating the ones whose primary key exists (SQLite and PostgreSQL)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        conn.execute(_upsert_statement(dialect, table), rows)
        return
    pk = [c.name for c in table.primary_key.columns]
    for row in rows:  # other databases: delete then insert
        conn.execute(delete(table).where(*[table.c[k] == row[k] for k in pk]))
    conn.execute(insert(table), rows)


def write_views(conn: Connection, views: Iterable[CaseView]) -> None:
    """Write what changed in each view since it was loaded, and its new timeline rows."""
    views = list(views)
    changed: dict[str, list[dict[str, Any]]] = {"cases": []}
    timeline_rows: list[dict[str, Any]] = []
    for v in views:
        if tuple(v.case.values()) != v.snapshot.get("cases", {}).get(v.case_id):
            changed["cases"].append(v.case)
        timeline_rows.extend(v.new_timeline)
        for _, attr in _WRITTEN_CHILDREN:
            snap = v.snapshot.get(attr, {})
            bucket = changed.setdefault(attr, [])
            for key, row in getattr(v, attr).items():
                if snap.get(key) != tuple(row.values()):
                    bucket.append(row)
    _upsert(conn, t.cases, changed["cases"])
    _insert_new(conn, t.timeline, timeline_rows)
    for table, attr in _WRITTEN_CHILDREN:
        if attr in ("callbacks", "escalations"):
            _insert_new(conn, table, changed.get(attr, []))
        else:
            _upsert(conn, table, changed.get(attr, []))
    for v in views:
        v.new_timeline = []
        v.snapshot["cases"] = {v.case_id: tuple(v.case.values())}
        for _, attr, _ in _LOADED_CHILDREN:
            v.snapshot[attr] = {k: tuple(r.values()) for k, r in getattr(v, attr).items()}
        v.callbacks.clear()
        v.escalations.clear()


class ViewCache:
    """Case views kept between batches, so a busy case is not read back from the database each time.

    A cached view is used only if its ``last_seq`` equals the one stored in ``rm_cases`` (checked with
    one narrow query per batch), so a database emptied or written by someone else is simply read
    again. Least recently used cases are forgotten first.
    """

    def __init__(self, max_cases: int = 10_000) -> None:
        self.max_cases = max_cases
        self._views: OrderedDict[str, CaseView] = OrderedDict()

    def __len__(self) -> int:
        return len(self._views)

    def get(self, case_id: str) -> CaseView | None:
        return self._views.get(case_id)

    def put(self, views: Iterable[CaseView]) -> None:
        for v in views:
            self._views[v.case_id] = v
            self._views.move_to_end(v.case_id)
        while len(self._views) > self.max_cases:
            self._views.popitem(last=False)

    def discard(self, case_ids: Iterable[str]) -> None:
        for cid in case_ids:
            self._views.pop(cid, None)

    def clear(self) -> None:
        self._views.clear()


_CACHES: weakref.WeakKeyDictionary[Engine, ViewCache] = weakref.WeakKeyDictionary()


def view_cache(engine: Engine) -> ViewCache:
    """The view cache of ``engine`` in this process."""
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = ViewCache()
    return cache


def _current_views(conn: Connection, case_ids: Sequence[str], cache: ViewCache | None) -> dict[str, CaseView]:
    if cache is None:
        return load_views(conn, case_ids)
    stored: dict[str, int] = {}
    for chunk in _chunks(case_ids):
        stored.update(
            (str(cid), int(seq))
            for cid, seq in conn.execute(
                select(t.cases.c.case_id, t.cases.c.last_seq).where(t.cases.c.case_id.in_(chunk))
            )
        )
    views: dict[str, CaseView] = {}
    missing: list[str] = []
    for cid in case_ids:
        cached = cache.get(cid)
        if cached is not None and stored.get(cid) == cached.last_seq:
            views[cid] = cached
        else:
            cache.discard([cid])
            if cid in stored:
                missing.append(cid)
    views.update(load_views(conn, missing))
    return views


def apply_events_conn(
    conn: Connection, events: Sequence[CaseEventBase], cache: ViewCache | None = None
) -> tuple[ApplyResult, dict[str, CaseView]]:
    """Apply ``events`` (in order) inside the caller's transaction; returns the result and touched views."""
    result = ApplyResult()
    if not events:
        return result, {}
    case_ids = list(dict.fromkeys(e.case_id for e in events))
    views = _current_views(conn, case_ids, cache)
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
        name = str(ev.__dict__["type"])
        result.types[name] = result.types.get(name, 0) + 1
        if result.last_occurred_at is None or ev.occurred_at > result.last_occurred_at:
            result.last_occurred_at = ev.occurred_at
    result.cases = len(touched)
    write_views(conn, touched.values())
    return result, touched


def apply_events(engine: Engine, events: Sequence[CaseEventBase], *, use_cache: bool = True) -> ApplyResult:
    """Apply a batch of parsed events in one transaction (idempotent, order-aware per case).

    Usable without Kafka (replays, benchmarks). Views of recently touched cases are cached per
    engine (see :class:`ViewCache`); ``use_cache=False`` reads every case from the database.
    """
    cache = view_cache(engine) if use_cache else None
    try:
        with engine.begin() as conn:
            result, touched = apply_events_conn(conn, events, cache)
    except BaseException:
        if cache is not None:  # views may hold changes the database rolled back
            cache.discard({e.case_id for e in events})
        raise
    if cache is not None:
        cache.put(touched.values())
    return result


def clear(engine: Engine) -> None:
    """Empty every read-model table (the schema stays)."""
    view_cache(engine).clear()
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
            out[table.name] = [tuple(as_utc(v) if isinstance(v, datetime) else v for v in row) for row in rows]
    return out
