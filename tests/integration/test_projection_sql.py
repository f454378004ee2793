"""The read model on SQLite and PostgreSQL: migrations, applying event batches, the API's queries.

Events come from the pure domain (``projection_scenarios``); the database is real.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from readmodel.db import (
    apply_events,
    clear,
    current_revision,
    dump,
    head_revision,
    load_views,
    make_engine,
    migrate,
    view_cache,
    write_views,
)
from readmodel.kpis import compute, load_facts
from readmodel.projection import apply_event
from readmodel.queries import CaseRow, get_case, get_timeline, list_cases
from readmodel.tables import ALL_TABLES
from readmodel.timeline import audit_trail
from tests.integration.projection_scenarios import PATHS, all_events, case_events
from tests.integration.rm_db import LANES, fresh_database

pytestmark = pytest.mark.integration

N_CASES = 3 * len(PATHS)


@pytest.fixture(params=LANES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with fresh_database(request.param, tmp_path) as pair:
        yield pair


def test_migrate_is_idempotent_and_at_head(db: tuple[str, Engine]) -> None:
    url, engine = db
    assert current_revision(engine) == head_revision() is not None
    migrate(url)  # a second upgrade is a no-op
    assert current_revision(engine) == head_revision()


def test_apply_twice_shuffled_batches_and_from_scratch_give_identical_tables(db: tuple[str, Engine]) -> None:
    _, engine = db
    events = all_events(N_CASES)
    result = apply_events(engine, events)
    assert result.applied == len(events) and result.skipped == 0 and result.gaps == 0
    first = dump(engine)
    assert len(first["rm_cases"]) == N_CASES
    assert len(first["rm_case_timeline"]) == len(events)

    again = apply_events(engine, events)  # the whole log again: nothing changes
    assert again.applied == 0 and again.skipped == len(events)
    assert dump(engine) == first

    clear(engine)
    assert all(rows == [] for rows in dump(engine).values())
    # From scratch in small batches, with re-delivered duplicates mixed in (at-least-once delivery).
    rng = random.Random(7)
    i = 0
    while i < len(events):
        n = rng.randint(1, 40)
        batch = events[i : i + n]
        dups = rng.sample(events[: i + n], k=min(3, i + n))
        apply_events(engine, [*batch, *[d for d in dups if d not in batch]])
        i += n
    assert dump(engine) == first


def test_case_rows_follow_each_path(db: tuple[str, Engine]) -> None:
    _, engine = db
    apply_events(engine, all_events(len(PATHS)))
    rows = {PATHS[i]: get_case(engine, f"RM-{i:05d}") for i in range(len(PATHS))}
    assert all(isinstance(r, CaseRow) for r in rows.values())

    w = rows["whistle"]
    assert w is not None and w.status == "closed" and w.closure_type == "overdue" and w.breached
    assert w.whistle_count == 1 and w.escalation_count >= 1 and w.rating == "satisfied"
    assert w.unit_kind == "street" and w.next_due_at is None and w.last_seq == len(case_events(0))

    r = rows["return"]
    assert r is not None and r.return_count == 1 and r.dispatch_count == 2 and r.unit_kind == "street"
    assert r.rating == "basically_satisfied" and r.closure_type == "normal"

    g = rows["grid"]
    assert g is not None and g.self_handled and g.channel == "grid_patrol" and g.rating is None

    ro = rows["reopen"]
    assert ro is not None and ro.rework_count == 1 and ro.reopen_count == 1 and ro.status == "closed"

    ob = rows["open_breached"]
    assert ob is not None and ob.status == "handling" and ob.breached and ob.next_due_at is not None
    assert ob.unit_kind == "department"

    assert rows["rejected"] is not None and rows["rejected"].status == "rejected"
    sh = rows["shelved"]
    assert sh is not None and sh.status == "handling" and not sh.shelved and sh.contacted_at is not None

    assert get_case(engine, "NO-SUCH-CASE") is None
    timeline = get_timeline(engine, "RM-00000")
    assert [t.seq for t in timeline] == list(range(1, len(case_events(0)) + 1))
    assert timeline[0].type == "case.received" and "张三" not in (timeline[0].detail or "")
    assert "13812345678" not in " ".join(t.detail or "" for t in timeline)


def test_list_cases_filters(db: tuple[str, Engine]) -> None:
    _, engine = db
    events = all_events(N_CASES)
    apply_events(engine, events)
    everything = list_cases(engine, limit=1000)
    assert len(everything) == N_CASES
    assert [r.opened_at for r in everything] == sorted((r.opened_at for r in everything), reverse=True)

    by_status = list_cases(engine, status="closed", limit=1000)
    assert by_status and all(r.status == "closed" for r in by_status)
    assert {r.case_id for r in by_status} == {r.case_id for r in everything if r.status == "closed"}

    s2 = list_cases(engine, street_id="S-2", limit=1000)
    assert s2 and {r.street_id for r in s2} == {"S-2"}
    g = everything[0].grid_id
    assert {r.grid_id for r in list_cases(engine, grid_id=g, limit=1000)} == {g}
    assert {r.category for r in list_cases(engine, category="roads", limit=1000)} == {"roads"}

    breached = list_cases(engine, breached=True, limit=1000)
    assert breached and all(r.breached for r in breached)
    assert len(breached) + len(list_cases(engine, breached=False, limit=1000)) == N_CASES

    # department: dispatched to it or summoned by a whistle
    housing = {r.case_id for r in list_cases(engine, department_id="housing", limit=1000)}
    expected = {
        e.case_id
        for e in events
        if (getattr(getattr(e, "unit", None), "id", None) == "housing" and e.type == "case.dispatched")
        or (e.type == "case.whistle_blown" and any(t.department_id == "housing" for t in e.tasks))
    }
    assert housing == expected and housing

    due = list_cases(engine, due_before=datetime(2027, 1, 1, tzinfo=UTC), limit=1000)
    assert due and all(r.next_due_at is not None and r.status not in ("closed", "rejected") for r in due)
    assert list_cases(engine, due_before=datetime(2000, 1, 1, tzinfo=UTC)) == []

    page1 = list_cases(engine, limit=5)
    page2 = list_cases(engine, limit=5, offset=5)
    assert [r.case_id for r in page1 + page2] == [r.case_id for r in everything[:10]]
    combined = list_cases(engine, street_id="S-1", status="closed", limit=1000)
    assert {r.case_id for r in combined} == {
        r.case_id for r in everything if r.street_id == "S-1" and r.status == "closed"
    }


def test_list_cases_rejects_bad_paging(db: tuple[str, Engine]) -> None:
    _, engine = db
    with pytest.raises(ValueError, match="limit"):
        list_cases(engine, limit=0)
    with pytest.raises(ValueError, match="offset"):
        list_cases(engine, offset=-1)
    with pytest.raises(ValueError, match="due_before"):
        list_cases(engine, due_before=datetime(2026, 1, 1))


def test_metric_facts_loaded_from_the_read_model(db: tuple[str, Engine]) -> None:
    _, engine = db
    apply_events(engine, all_events(len(PATHS)))
    cases, assignments = load_facts(engine)
    facts = {c.case_id: c for c in cases}
    by_path = {PATHS[i]: facts[f"RM-{i:05d}"] for i in range(len(PATHS))}

    w = by_path["whistle"]
    assert w.whistled and w.street_handled and w.breached and w.closure_type == "overdue"
    assert w.departments == {"environment", "urban-management"} and w.rating == "satisfied"
    assert w.responded_on_time is True and w.resolved_on_time is True
    summons = sorted(
        (a.unit_id, a.first_on_time) for a in assignments if a.case_id == w.case_id and a.kind == "whistle"
    )
    assert summons == [("environment", True), ("urban-management", False)]  # the second reported in late

    r = by_path["return"]
    assert r.departments == {"urban-management"} and r.rating == "basically_satisfied"
    assert [(a.unit_kind, a.returned) for a in assignments if a.case_id == r.case_id] == [
        ("department", True),
        ("street", False),
    ]

    g = by_path["grid"]
    assert g.self_handled and not g.street_handled and g.responded_on_time is None and g.rating is None

    ro = by_path["reopen"]
    assert ro.reworked and ro.rating == "satisfied" and ro.callback_resolved  # the last valid callback counts
    assert ro.resolved_at is not None and ro.first_resolved_at is not None and ro.resolved_at > ro.first_resolved_at

    ob = by_path["open_breached"]
    assert ob.open and ob.breached and ob.responded_on_time is False and ob.resolved_on_time is False
    assert by_path["rejected"].status == "rejected"

    m = compute(cases, assignments, as_of=datetime(2026, 12, 1, tzinfo=UTC))
    assert m.cases == len(PATHS) - 1  # the rejected one does not count
    assert m.return_rate == pytest.approx(1 / 7)  # 7 dispatches (the grid's own included), one returned
    assert m.whistle_rate == pytest.approx(1 / 4)  # whistle of whistle/return/reopen/shelved (street-handled)
    assert m.grid_self_handled_share == pytest.approx(1 / 4)  # grid of whistle/return/grid/reopen
    assert m.overdue_open == 2 and m.open == 2  # breached, and the unshelved case past its due time by December


def test_audit_trail_names_the_clock_of_each_action(db: tuple[str, Engine]) -> None:
    _, engine = db
    apply_events(engine, all_events(len(PATHS)))
    rows = [r.model_dump() for r in get_timeline(engine, "RM-00000")]  # the whistle path
    lines = audit_trail(rows)
    assert sum(1 + len(ln.folded) for ln in lines) == len(rows)  # every event appears once
    by_what = {ln.what: ln for ln in reversed(lines)}  # first occurrence of each action
    assert by_what["accepted"].who == "street:street-staff@S-1"
    assert by_what["accepted"].clock.startswith("stops accept-1 (due ") and ": met" in by_what["accepted"].clock
    assert "starts resolve-" in by_what["accepted"].clock
    late = [ln for ln in lines if ln.what == "department_reported_in" and ": late" in ln.clock]
    assert len(late) == 1 and late[0].unit == "department:urban-management"
    breach = by_what["breached"]
    assert breach.who.startswith("system:") and breach.clock.startswith("report_in-")
    raw = audit_trail(rows, fold=False)
    assert len(raw) == len(rows)


def test_cached_views_are_not_trusted_after_someone_else_wrote(db: tuple[str, Engine]) -> None:
    url, engine = db
    events = all_events(2 * len(PATHS))
    half = len(events) // 2
    apply_events(engine, events)
    expected = dump(engine)
    assert len(view_cache(engine)) == 2 * len(PATHS)
    # Another process empties the tables and replays only the first half: this engine's cache is stale.
    other = make_engine(url)
    try:
        with other.begin() as conn:
            for table in reversed(ALL_TABLES):
                conn.execute(delete(table))
        apply_events(other, events[:half])
    finally:
        other.dispose()
    result = apply_events(engine, events)  # the whole log again through the stale cache
    assert result.applied == len(events) - half and result.skipped == half
    assert dump(engine) == expected
    assert dump(engine) == dump_without_cache(engine, events)


def dump_without_cache(engine: Engine, events: list) -> dict:
    clear(engine)
    for i in range(0, len(events), 25):
        apply_events(engine, events[i : i + 25], use_cache=False)
    return dump(engine)


@pytest.mark.postgres
def test_two_members_applying_the_same_events_during_a_rebalance(tmp_path: Path) -> None:
    """Member A reads the case, member B applies and commits the same events, then A writes: same tables."""
    events = all_events(len(PATHS))
    head, tail = events[: len(events) // 2], events[len(events) // 2 :]
    with fresh_database("postgres", tmp_path) as (url, engine):
        apply_events(engine, head)
        member_b = make_engine(url)
        try:
            apply_events(engine, tail)
            once = dump(engine)

            clear(engine)
            apply_events(engine, head)
            with engine.begin() as conn_a:
                views = load_views(conn_a, list(dict.fromkeys(e.case_id for e in tail)))  # A reads first
                apply_events(member_b, tail, use_cache=False)  # B applies and commits meanwhile
                for e in tail:
                    apply_event(views[e.case_id], e)
                write_views(conn_a, views.values())  # A writes the same rows: no duplicate, no error
            assert dump(engine) == once
        finally:
            member_b.dispose()
