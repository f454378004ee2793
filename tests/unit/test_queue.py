"""Queues and case lists (``GET /queue``, ``readmodel.queries.select_cases``): who sees which cases,
the order by deadline, counts, SLA standing, and the route's refusals.

The read model is a small SQLite database written directly; the route runs in FastAPI's test
client on the in-memory API of ``test_api_routes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert

from events.base import Role
from readmodel import tables as t
from readmodel.queries import Selection, running_clocks, select_cases
from tests.unit.test_api_routes import Api, make_api
from workers.api.auth import Principal
from workers.api.routes.queue import HOTLINE_STEPS, jurisdiction, my_queue, reason_for, sla_standing
from workers.api.views import SlaState

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# --- SLA standing --------------------------------------------------------------------------------


def clock(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "resolve",
        "due_at": NOW + timedelta(hours=1),
        "paused": False,
        "warned_at": None,
        "breached_at": None,
        "stopped_at": None,
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("clocks", "expected", "warned"),
    [
        ([], SlaState.NONE, False),
        ([clock()], SlaState.ON_TIME, False),
        ([clock(warned_at=NOW)], SlaState.WARNED, True),
        ([clock(breached_at=NOW)], SlaState.BREACHED, False),
        ([clock(due_at=NOW)], SlaState.BREACHED, False),  # due now: breached before the tick says so
        ([clock(due_at=NOW - timedelta(seconds=1))], SlaState.BREACHED, False),
        ([clock(paused=True, due_at=NOW - timedelta(hours=1))], SlaState.PAUSED, False),
        ([clock(stopped_at=NOW, breached_at=NOW)], SlaState.NONE, False),  # stopped clocks do not count
        ([clock(), clock(warned_at=NOW), clock(paused=True)], SlaState.WARNED, True),
        ([clock(warned_at=NOW), clock(due_at=NOW - timedelta(minutes=5))], SlaState.BREACHED, True),
        ([clock(paused=True), clock()], SlaState.ON_TIME, False),
    ],
)
def test_the_worst_running_clock_is_the_case_standing(
    clocks: list[dict[str, Any]], expected: SlaState, warned: bool
) -> None:
    assert sla_standing(clocks, NOW) == (expected, warned)


# --- who sees what -------------------------------------------------------------------------------


def who(role: Role, unit: str | None = None) -> Principal:
    return Principal(person_id=f"{role.value}-x", role=role, unit_id=unit)


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (who(Role.DISPATCHER), Selection(everything=True)),
        (who(Role.SUPERVISOR, "city"), Selection(everything=True)),
        (who(Role.SUPERVISOR, "D-1"), Selection(located=(("district_id", "D-1"),))),
        (who(Role.STREET, "S-1"), Selection(located=(("street_id", "S-1"),), involved=(("street", "S-1"),))),
        (who(Role.COMMUNITY, "C-10"), Selection(located=(("community_id", "C-10"),))),
        (who(Role.GRID_WORKER, "G-101"), Selection(located=(("grid_id", "G-101"),), involved=(("grid", "G-101"),))),
        (who(Role.DEPARTMENT, "env"), Selection(involved=(("department", "env"),))),
        (who(Role.STREET), Selection()),  # a unit role without its unit sees nothing
        (who(Role.SYSTEM), Selection()),
        (who(Role.RESIDENT), Selection()),
    ],
)
def test_the_jurisdiction_is_the_read_rule(principal: Principal, expected: Selection) -> None:
    assert jurisdiction(principal) == expected


def test_each_role_has_its_queue() -> None:
    assert my_queue(who(Role.DISPATCHER)) == Selection(in_status=HOTLINE_STEPS)
    assert my_queue(who(Role.STREET, "S-1")) == Selection(handled_by=(("street", "S-1"),))
    assert my_queue(who(Role.GRID_WORKER, "G-1")) == Selection(handled_by=(("grid", "G-1"),), to_verify_in=("G-1",))
    assert my_queue(who(Role.DEPARTMENT, "env")) == Selection(
        handled_by=(("department", "env"),), summoned=(("department", "env"),)
    )
    assert my_queue(who(Role.COMMUNITY, "C-1")) == jurisdiction(who(Role.COMMUNITY, "C-1"))
    assert my_queue(who(Role.SUPERVISOR, "D-1")) == jurisdiction(who(Role.SUPERVISOR, "D-1"))
    assert my_queue(who(Role.RESIDENT)) == Selection()
    history = my_queue(who(Role.DEPARTMENT, "env"), open_only=False)
    assert history.involved == (("department", "env"),)


def test_a_selection_refuses_an_unknown_place_column() -> None:
    with pytest.raises(ValueError, match="located"):
        Selection(located=(("status", "x"),))


# --- the query on a read model -------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    t.metadata.create_all(eng)
    yield eng
    eng.dispose()


def add_case(engine: Engine, case_id: str, **fields: Any) -> None:
    row: dict[str, Any] = {
        "case_id": case_id,
        "status": "handling",
        "category": "noise",
        "district_id": "D-1",
        "street_id": "S-1",
        "community_id": "C-10",
        "grid_id": "G-101",
        "opened_at": NOW - timedelta(days=1),
        "last_seq": 1,
    }
    row.update(fields)
    with engine.begin() as conn:
        conn.execute(insert(t.cases).values(**row))


def assign(engine: Engine, case_id: str, kind: str, unit: str, *, via: str = "dispatch", status: str = "open") -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(t.assignments).values(
                case_id=case_id,
                assignment_id=f"{via}-{kind}-{unit}",
                kind=via,
                unit_kind=kind,
                unit_id=unit,
                round=1 if via == "whistle" else None,
                assigned_at=NOW,
                status=status,
            )
        )


def add_clock(engine: Engine, case_id: str, clock_id: str, due: datetime, **fields: Any) -> None:
    row: dict[str, Any] = {
        "case_id": case_id,
        "clock_id": clock_id,
        "kind": "resolve",
        "unit_kind": "street",
        "unit_id": "S-1",
        "started_at": NOW - timedelta(hours=1),
        "due_at": due,
        "budget_seconds": 3600.0,
        "working_time": False,
        "paused": False,
    }
    row.update(fields)
    with engine.begin() as conn:
        conn.execute(insert(t.clocks).values(**row))


def ids(engine: Engine, selection: Selection, **kwargs: Any) -> list[str]:
    return [r.case_id for r in select_cases(engine, selection, as_of=NOW, **kwargs).items]


@pytest.fixture
def city(engine: Engine) -> Engine:
    """Cases of two streets, handled by streets, grids and departments, some summoned."""
    add_case(engine, "S1-late", unit_kind="street", unit_id="S-1", next_due_at=NOW - timedelta(minutes=5))
    add_case(engine, "S1-soon", unit_kind="street", unit_id="S-1", next_due_at=NOW + timedelta(minutes=30))
    add_case(engine, "S1-later", unit_kind="street", unit_id="S-1", next_due_at=NOW + timedelta(hours=5))
    add_case(engine, "S1-noclock", unit_kind="street", unit_id="S-1", status="returned", next_due_at=None)
    add_case(engine, "S1-closed", unit_kind="street", unit_id="S-1", status="closed")
    add_case(engine, "G1-handles", unit_kind="grid", unit_id="G-101", next_due_at=NOW + timedelta(hours=1))
    add_case(engine, "G1-verify", status="resolved", unit_kind="street", unit_id="S-1", next_due_at=NOW)
    add_case(
        engine,
        "S2-env",
        street_id="S-2",
        community_id="C-20",
        grid_id="G-201",
        unit_kind="department",
        unit_id="env",
        next_due_at=NOW + timedelta(hours=2),
    )
    add_case(engine, "S2-received", street_id="S-2", grid_id="G-201", status="received", district_id="D-2")
    for cid in ("S1-late", "S1-soon", "S1-later", "S1-noclock", "S1-closed", "G1-verify"):
        assign(engine, cid, "street", "S-1")
    assign(engine, "G1-handles", "grid", "G-101")
    assign(engine, "S2-env", "department", "env")
    assign(engine, "S1-soon", "department", "env", via="whistle", status="reported")  # summoned, not done
    assign(engine, "S1-later", "department", "env", via="whistle", status="completed")  # task done
    assign(engine, "S1-late", "department", "water", via="whistle", status="open")
    return engine


def test_a_street_queue_is_its_open_cases_by_nearest_deadline_without_a_clock_last(city: Engine) -> None:
    mine = my_queue(who(Role.STREET, "S-1"))
    # G1-verify is resolved by the street and waits for the grid's verification: still the street's
    assert ids(city, mine, open_only=True) == ["S1-late", "G1-verify", "S1-soon", "S1-later", "S1-noclock"]
    history = my_queue(who(Role.STREET, "S-1"), open_only=False)
    assert set(ids(city, history)) == {"S1-late", "S1-soon", "S1-later", "S1-noclock", "S1-closed", "G1-verify"}


def test_a_department_queue_is_what_it_handles_and_its_unfinished_summons(city: Engine) -> None:
    assert ids(city, my_queue(who(Role.DEPARTMENT, "env")), open_only=True) == ["S1-soon", "S2-env"]
    assert ids(city, my_queue(who(Role.DEPARTMENT, "water")), open_only=True) == ["S1-late"]
    assert ids(city, my_queue(who(Role.DEPARTMENT, "nobody")), open_only=True) == []


def test_a_grid_worker_queue_has_its_cases_and_those_to_verify(city: Engine) -> None:
    assert ids(city, my_queue(who(Role.GRID_WORKER, "G-101")), open_only=True) == ["G1-verify", "G1-handles"]
    assert ids(city, my_queue(who(Role.GRID_WORKER, "G-201")), open_only=True) == []


def test_the_hotline_queue_is_the_cases_waiting_for_its_step(city: Engine) -> None:
    assert ids(city, my_queue(who(Role.DISPATCHER)), open_only=True) == ["S1-noclock", "S2-received"]


def test_within_never_widens_a_selection(city: Engine) -> None:
    everything = Selection(everything=True)
    s2 = jurisdiction(who(Role.COMMUNITY, "C-20"))
    assert ids(city, everything, within=s2) == ["S2-env"]
    assert ids(city, Selection(located=(("street_id", "S-1"),)), within=s2) == []
    assert ids(city, Selection()) == []  # an empty selection is no case, not every case


def test_filters_narrow_and_counts_ignore_only_the_status(city: Engine) -> None:
    street = jurisdiction(who(Role.STREET, "S-1"))
    page = select_cases(city, street, open_only=True, as_of=NOW)
    assert page.total == 6
    assert page.counts == {"handling": 4, "returned": 1, "resolved": 1}
    assert page.overdue == 1  # S1-late (G1-verify is due exactly now: not passed yet)
    only = select_cases(city, street, open_only=True, status="handling", as_of=NOW, limit=2)
    assert [r.case_id for r in only.items] == ["S1-late", "S1-soon"]
    assert only.total == 4
    assert only.counts == page.counts
    assert ids(city, street, department_id="env") == ["S1-soon", "S1-later"]
    assert ids(city, street, department_id="env", status="resolved") == []
    assert ids(city, Selection(everything=True), street_id="S-2", open_only=True) == ["S2-env", "S2-received"]
    assert ids(city, Selection(everything=True), grid_id="G-201", category="noise") == ["S2-env", "S2-received"]


def test_pages_follow_the_order_without_gaps_or_repeats(city: Engine) -> None:
    everything = Selection(everything=True)
    whole = ids(city, everything, limit=100)
    paged = [cid for off in range(0, 12, 2) for cid in ids(city, everything, limit=2, offset=off)]
    assert paged == whole
    assert len(set(whole)) == len(whole) == 9


def test_other_sorts(city: Engine) -> None:
    with city.begin() as conn:
        conn.execute(t.cases.update().where(t.cases.c.case_id == "S2-env").values(opened_at=NOW))
    assert ids(city, Selection(everything=True), sort="opened")[0] == "S2-env"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "name"}, "sort"),
        ({"as_of": datetime(2026, 1, 1)}, "as_of"),  # naive: no zone
    ],
)
def test_bad_arguments_are_refused(engine: Engine, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select_cases(engine, Selection(everything=True), **kwargs)


def test_running_clocks_skip_stopped_ones(city: Engine) -> None:
    add_clock(city, "S1-soon", "k1", NOW + timedelta(minutes=30))
    add_clock(city, "S1-soon", "k0", NOW + timedelta(minutes=10), kind="accept")
    add_clock(city, "S1-soon", "k2", NOW + timedelta(minutes=1), stopped_at=NOW)
    got = running_clocks(city, ["S1-soon", "S1-late"])
    assert [c["clock_id"] for c in got["S1-soon"]] == ["k0", "k1"]
    assert "S1-late" not in got
    assert running_clocks(city, []) == {}


def test_the_reason_says_why_a_case_is_on_the_plate(city: Engine) -> None:
    rows = {r.case_id: r for r in select_cases(city, Selection(everything=True), limit=100).items}
    env = who(Role.DEPARTMENT, "env")
    assert reason_for(env, rows["S2-env"], summoned=False) == "handling"
    assert reason_for(env, rows["S1-soon"], summoned=True) == "summoned"
    assert reason_for(env, rows["S1-later"], summoned=False) is None
    assert reason_for(who(Role.GRID_WORKER, "G-101"), rows["G1-verify"], summoned=False) == "to_verify"
    assert reason_for(who(Role.STREET, "S-1"), rows["S1-closed"], summoned=False) is None
    assert reason_for(who(Role.DISPATCHER), rows["S2-received"], summoned=False) == "hotline"
    assert reason_for(who(Role.COMMUNITY, "C-10"), rows["S1-soon"], summoned=False) is None


# --- the route -----------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(tmp_path)


def _errors(r: Any) -> set[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return {(e["field"], e["rule"]) for e in r.json()["errors"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "query.limit"),
        ({"limit": "1001"}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"offset": "-1"}, "query.offset"),
        ({"state": "lost"}, "query.state"),
        ({"scope": "everyone"}, "query.scope"),
        ({"sort": "name"}, "query.sort"),
        ({"open_only": "yes"}, "query.open_only"),
        ({"breached": "1"}, "query.breached"),
        ({"street": ""}, "query.street"),
        ({"colour": "red"}, "query.colour"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(api: Api, params: dict[str, str], field: str) -> None:
    assert field in {f for f, _ in _errors(api.get("street-1", "/queue", **params))}


def test_residents_have_no_queue(api: Api) -> None:
    r = api.get("resident-1", "/queue")
    assert r.status_code == 403
    assert r.json()["rule"] == "role.not_allowed"


def test_without_credentials_it_is_a_401(api: Api) -> None:
    assert api.http.get("/queue").status_code == 401


def test_case_ids_narrow_to_the_rows_asked_for(city: Engine) -> None:
    everything = Selection(everything=True)
    assert ids(city, everything, case_ids=["S2-env", "S1-late", "unknown"]) == ["S1-late", "S2-env"]
    assert ids(city, everything, case_ids=["S1-closed"], open_only=True) == []
    assert ids(city, jurisdiction(who(Role.DEPARTMENT, "env")), case_ids=["S1-late"]) == []


def test_case_id_parameters_are_checked(api: Api) -> None:
    assert "query.case_id.0" in {f for f, _ in _errors(api.get("street-1", "/queue", case_id="bad id!"))}
    r = api.http.get("/queue", params=[("case_id", f"C{i}") for i in range(201)], headers=api.as_("street-1"))
    assert "query.case_id" in {f for f, _ in _errors(r)}
