"""Work inside a unit on the read side: selecting cases by handler (承办人) and section (科室)
(``readmodel.queries``), ``GET /queue?handler=…&section=…``, each handler's load
(``readmodel.queries.unit_load``) and ``GET /units/{kind}/{unit_id}/load``.

The read model is a small SQLite database written directly (as in ``test_queue``); the routes run
in FastAPI's test client on the in-memory API of ``test_api_routes``, its database holding the
read model's tables too.
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
from readmodel.queries import CaseRow, Selection, month_span, select_cases, unit_load
from tests.unit.test_api_routes import Api, make_api
from tests.unit.test_queue import NOW, add_case, add_clock, assign, who
from workers.api.routes.queue import jurisdiction, my_queue

FAR_PAST = datetime(2020, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
MARCH = month_span("2026-03")

#: Users beyond ``test_api_routes.PEOPLE`` (op-1, street-1 of S-1, resident-1, env-1 of environment).
MORE_PEOPLE: dict[str, tuple[str, Role, str | None]] = {
    "street-1b": ("李四", Role.STREET, "S-1"),
    "street-2": ("王五", Role.STREET, "S-2"),
    "grid-1": ("grid-1", Role.GRID_WORKER, "G-101"),
    "community-1": ("community-1", Role.COMMUNITY, "C-10"),
    "sv-d1": ("sv-d1", Role.SUPERVISOR, "D-1"),
    "sv-d2": ("sv-d2", Role.SUPERVISOR, "D-2"),
    "sv-city": ("sv-city", Role.SUPERVISOR, "city"),
}


def resolved_by(engine: Engine, case_id: str, seq: int, person: str, when: datetime, unit: str = "S-1") -> None:
    """A ``case.resolved`` row of the timeline: ``person`` of street ``unit`` resolved the case."""
    with engine.begin() as conn:
        conn.execute(
            insert(t.timeline).values(
                case_id=case_id,
                seq=seq,
                event_id=f"{case_id}-{seq}",
                type="case.resolved",
                actor_role="street",
                actor_unit=unit,
                actor_person=person,
                occurred_at=when,
                unit_kind="street",
                unit_id=unit,
            )
        )


def work(engine: Engine) -> Engine:
    """Cases of street S-1 with handlers and sections, and a few elsewhere.

    W-mine-1      street-1, open; a warned clock that has stopped; resolved in March, then reworked
    W-mine-late   street-1, open, breached and overdue
    W-mine-done   street-1, closed; resolved twice in March
    W-d2          street-1, open, located in district D-2
    W-li-warned   street-1b in section urban, open, a running clock warned
    W-urban-inbox section urban, nobody yet
    W-inbox       the street's inbox: no handler, no section
    W-gone        gone-1 (not in the user directory), open
    W-old         street-1b, closed; resolved in February
    W-boundary    street-1b, closed; resolved at 00:30 on 1 March local time (16:30 UTC on 28 February)
    W-s2          street S-2: street-2 in S-2's own section urban, open; resolved by street-2 in March
    W-env         department environment: env-1, open
    """
    s1 = {"unit_kind": "street", "unit_id": "S-1"}
    add_case(engine, "W-mine-1", **s1, handler_id="street-1", next_due_at=FAR_FUTURE)
    add_case(engine, "W-mine-late", **s1, handler_id="street-1", breached=True, next_due_at=FAR_PAST)
    add_case(engine, "W-mine-done", **s1, handler_id="street-1", status="closed")
    add_case(engine, "W-d2", **s1, handler_id="street-1", district_id="D-2", next_due_at=FAR_FUTURE)
    add_case(engine, "W-li-warned", **s1, handler_id="street-1b", section_id="urban", next_due_at=FAR_FUTURE)
    add_case(engine, "W-urban-inbox", **s1, section_id="urban", status="dispatched")
    add_case(engine, "W-inbox", **s1, status="dispatched")
    add_case(engine, "W-gone", **s1, handler_id="gone-1")
    add_case(engine, "W-old", **s1, handler_id="street-1b", status="closed")
    add_case(engine, "W-boundary", **s1, handler_id="street-1b", status="closed")
    add_case(
        engine,
        "W-s2",
        unit_kind="street",
        unit_id="S-2",
        street_id="S-2",
        community_id="C-20",
        grid_id="G-201",
        handler_id="street-2",
        section_id="urban",
    )
    add_case(engine, "W-env", unit_kind="department", unit_id="environment", handler_id="env-1")
    for cid in ("W-mine-1", "W-mine-late", "W-mine-done", "W-d2", "W-li-warned", "W-urban-inbox", "W-inbox"):
        assign(engine, cid, "street", "S-1")
    for cid in ("W-gone", "W-old", "W-boundary"):
        assign(engine, cid, "street", "S-1")
    assign(engine, "W-s2", "street", "S-2")
    assign(engine, "W-env", "department", "environment")
    add_clock(engine, "W-li-warned", "k1", FAR_FUTURE, warned_at=NOW - timedelta(hours=1))
    add_clock(engine, "W-mine-1", "k1", FAR_FUTURE, warned_at=NOW - timedelta(hours=2), stopped_at=NOW)
    add_clock(engine, "W-mine-1", "k2", FAR_FUTURE)
    resolved_by(engine, "W-mine-1", 5, "street-1", NOW - timedelta(hours=20))
    resolved_by(engine, "W-mine-done", 5, "street-1", NOW - timedelta(hours=30))
    resolved_by(engine, "W-mine-done", 7, "street-1", NOW - timedelta(hours=10))
    resolved_by(engine, "W-old", 5, "street-1b", datetime(2026, 2, 10, 3, 0, tzinfo=UTC))
    resolved_by(engine, "W-boundary", 5, "street-1b", datetime(2026, 2, 28, 16, 30, tzinfo=UTC))
    resolved_by(engine, "W-s2", 5, "street-2", NOW - timedelta(hours=5), unit="S-2")
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    t.metadata.create_all(eng)
    yield work(eng)
    eng.dispose()


def ids(engine: Engine, selection: Selection, **kwargs: Any) -> set[str]:
    return {r.case_id for r in select_cases(engine, selection, as_of=NOW, limit=1000, **kwargs).items}


# --- selections ------------------------------------------------------------------------------------


def test_a_selection_by_handler_is_the_cases_with_that_person() -> None:
    assert Selection(handled_by_person=("p-1",)).union(Selection(in_section=(("street", "S-1", "urban"),))) == (
        Selection(handled_by_person=("p-1",), in_section=(("street", "S-1", "urban"),))
    )


def test_selections_by_handler_and_section(engine: Engine) -> None:
    mine = Selection(handled_by_person=("street-1",))
    assert ids(engine, mine) == {"W-mine-1", "W-mine-late", "W-mine-done", "W-d2"}
    assert ids(engine, mine, open_only=True) == {"W-mine-1", "W-mine-late", "W-d2"}
    assert ids(engine, Selection(handled_by_person=("street-1b", "env-1"))) == {
        "W-li-warned",
        "W-old",
        "W-boundary",
        "W-env",
    }
    assert ids(engine, Selection(handled_by_person=("nobody",))) == set()
    # a section is one unit's: S-2's section urban is not S-1's
    assert ids(engine, Selection(in_section=(("street", "S-1", "urban"),))) == {"W-li-warned", "W-urban-inbox"}
    assert ids(engine, Selection(in_section=(("street", "S-2", "urban"),))) == {"W-s2"}
    assert ids(engine, Selection(in_section=(("department", "environment", "urban"),))) == set()


def test_handler_and_section_filters_narrow_within_the_jurisdiction(engine: Engine) -> None:
    street = my_queue(who(Role.STREET, "S-1"))
    assert ids(engine, street, open_only=True, handler_id="street-1") == {"W-mine-1", "W-mine-late", "W-d2"}
    assert ids(engine, street, open_only=True, handler_id="street-2") == set()  # S-2's, never widened
    assert ids(engine, street, open_only=True, section_id="urban") == {"W-li-warned", "W-urban-inbox"}
    assert ids(engine, street, open_only=True, section_id="urban", handler_id="street-1b") == {"W-li-warned"}
    district = jurisdiction(who(Role.SUPERVISOR, "D-1"))
    assert ids(engine, district, handler_id="street-1") == {"W-mine-1", "W-mine-late", "W-mine-done"}
    page = select_cases(engine, street, open_only=True, handler_id="street-1", as_of=NOW)
    assert page.total == 3 and page.counts == {"handling": 3} and page.overdue == 1


def test_case_rows_carry_the_handler_and_section(engine: Engine) -> None:
    rows = {r.case_id: r for r in select_cases(engine, Selection(everything=True), limit=100).items}
    assert (rows["W-li-warned"].handler_id, rows["W-li-warned"].section_id) == ("street-1b", "urban")
    assert (rows["W-inbox"].handler_id, rows["W-inbox"].section_id) == (None, None)
    assert rows["W-inbox"].assign_count == 0
    assert {"handler_id", "section_id", "assign_count"} <= CaseRow.model_fields.keys()


# --- each handler's load ---------------------------------------------------------------------------


def test_the_month_is_local_time() -> None:
    assert month_span("2026-03") == (datetime(2026, 2, 28, 16, 0, tzinfo=UTC), datetime(2026, 3, 31, 16, 0, tzinfo=UTC))
    assert month_span("2026-12")[1] == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    for bad in ("2026-13", "2026-00", "26-01", "2026-1", "2026/01", ""):
        with pytest.raises(ValueError, match="period"):
            month_span(bad)


def test_each_handler_has_its_open_late_and_resolved_cases(engine: Engine) -> None:
    load = unit_load(engine, ("street", "S-1"), since=MARCH[0], until=MARCH[1], as_of=NOW)
    got = {h.handler_id: (h.open, h.warned, h.breached, h.overdue, h.resolved) for h in load.handlers}
    assert got == {
        "street-1": (3, 0, 1, 1, 2),  # resolved: W-mine-done (twice, once counted) and W-mine-1
        "street-1b": (1, 1, 0, 0, 1),  # W-boundary is March's in local time; W-old is February's
        "gone-1": (1, 0, 0, 0, 0),
    }
    assert [h.handler_id for h in load.handlers] == ["street-1", "gone-1", "street-1b"]  # most open first, then id
    assert (load.total.open, load.total.warned, load.total.breached, load.total.overdue) == (7, 1, 1, 1)
    assert (load.unassigned.open, load.unassigned.warned) == (2, 0)
    assert load.resolved == 3
    (urban,) = load.sections
    assert (urban.section_id, urban.open, urban.warned, urban.unassigned) == ("urban", 2, 1, 1)
    assert (load.since, load.until, load.as_of) == (*MARCH, NOW)


def test_a_load_counts_only_the_cases_within(engine: Engine) -> None:
    d1 = unit_load(
        engine,
        ("street", "S-1"),
        since=MARCH[0],
        until=MARCH[1],
        as_of=NOW,
        within=jurisdiction(who(Role.SUPERVISOR, "D-1")),
    )
    assert {h.handler_id: h.open for h in d1.handlers}["street-1"] == 2  # not W-d2
    assert d1.total.open == 6
    d2 = unit_load(
        engine,
        ("street", "S-1"),
        since=MARCH[0],
        until=MARCH[1],
        as_of=NOW,
        within=jurisdiction(who(Role.SUPERVISOR, "D-2")),
    )
    assert [(h.handler_id, h.open, h.resolved) for h in d2.handlers] == [("street-1", 1, 0)]
    assert d2.resolved == 0 and d2.sections == []


def test_a_unit_without_work_has_an_empty_load(engine: Engine) -> None:
    load = unit_load(engine, ("grid", "G-101"), since=MARCH[0], until=MARCH[1], as_of=NOW)
    assert load.handlers == [] and load.sections == [] and load.total.open == 0 and load.resolved == 0
    env = unit_load(engine, ("department", "environment"), since=MARCH[0], until=MARCH[1], as_of=NOW)
    assert [(h.handler_id, h.open) for h in env.handlers] == [("env-1", 1)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": datetime(2026, 3, 1)}, "since"),
        ({"until": datetime(2026, 4, 1)}, "until"),
        ({"as_of": datetime(2026, 3, 2)}, "as_of"),
        ({"since": MARCH[1], "until": MARCH[0]}, "until"),
    ],
)
def test_bad_load_arguments_are_refused(engine: Engine, kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"since": MARCH[0], "until": MARCH[1], **kwargs}
    with pytest.raises(ValueError, match=message):
        unit_load(engine, ("street", "S-1"), **args)


# --- the routes ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One API for the module: the routes only read."""
    for a in make_api(tmp_path_factory.mktemp("api")):
        svc = a.http.app.state.services  # type: ignore[attr-defined]
        t.metadata.create_all(svc.engine)
        work(svc.engine)
        for person, (name, role, unit) in MORE_PEOPLE.items():
            svc.store.add_user(person, name, role, unit)
            a.tokens[person], _ = svc.store.issue_token(person)
        yield a


def queue_ids(api: Api, user: str, **params: str) -> list[str]:
    r = api.get(user, "/queue", limit="1000", **params)
    assert r.status_code == 200, r.text
    return [row["case_id"] for row in r.json()["items"]]


USERS = ("op-1", "street-1", "street-1b", "street-2", "env-1", "grid-1", "community-1", "sv-d1", "sv-city")
HANDLERS = ("me", "street-1", "street-1b", "street-2", "env-1", "gone-1", "nobody")


@pytest.mark.parametrize("scope", ["mine", "jurisdiction"])
@pytest.mark.parametrize("user", USERS)
def test_a_handler_filter_only_narrows_each_role_answer(api: Api, user: str, scope: str) -> None:
    r = api.get(user, "/queue", scope=scope, limit="1000", open_only="false")
    assert r.status_code == 200, r.text
    rows = r.json()["items"]
    for handler in HANDLERS:
        person = user if handler == "me" else handler
        expected = [row["case_id"] for row in rows if row["handler_id"] == person]
        assert queue_ids(api, user, scope=scope, open_only="false", handler=handler) == expected, handler


@pytest.mark.parametrize(
    ("user", "params", "expected"),
    [
        ("street-1", {"handler": "me"}, {"W-mine-1", "W-mine-late", "W-d2"}),
        ("street-1", {"handler": "me", "open_only": "false"}, {"W-mine-1", "W-mine-late", "W-d2", "W-mine-done"}),
        ("street-1", {"handler": "street-1b"}, {"W-li-warned"}),
        ("street-1", {"handler": "street-2"}, set()),  # S-2's case: outside street-1's queue
        ("street-1", {"handler": "nobody"}, set()),  # an unknown person: an empty answer
        ("street-1", {"section": "urban"}, {"W-li-warned", "W-urban-inbox"}),  # not S-2's urban
        ("street-1", {"section": "urban", "handler": "street-1b"}, {"W-li-warned"}),
        ("street-1", {"section": "safety"}, set()),  # S-2's section
        ("street-1b", {"handler": "me"}, {"W-li-warned"}),
        ("street-2", {"handler": "me"}, {"W-s2"}),
        ("street-2", {"section": "urban"}, {"W-s2"}),
        ("env-1", {"handler": "me"}, {"W-env"}),
        ("env-1", {"handler": "street-1"}, set()),
        ("op-1", {"handler": "me"}, set()),  # the hotline's queue: no case has the dispatcher as handler
        ("op-1", {"handler": "street-1", "scope": "jurisdiction"}, {"W-mine-1", "W-mine-late", "W-d2"}),
        ("sv-d1", {"handler": "street-1"}, {"W-mine-1", "W-mine-late"}),  # W-d2 is in district D-2
        ("sv-city", {"handler": "street-1"}, {"W-mine-1", "W-mine-late", "W-d2"}),
        ("grid-1", {"handler": "street-1"}, set()),  # the grid handles none of them
        ("grid-1", {"handler": "street-1", "scope": "jurisdiction"}, {"W-mine-1", "W-mine-late", "W-d2"}),
        ("community-1", {"handler": "street-1b"}, {"W-li-warned"}),
    ],
)
def test_who_sees_whose_cases(api: Api, user: str, params: dict[str, str], expected: set[str]) -> None:
    assert set(queue_ids(api, user, **params)) == expected


def test_queue_rows_carry_the_handler_their_name_and_the_section(api: Api) -> None:
    r = api.get("street-1", "/queue", limit="1000")
    rows = {row["case_id"]: row for row in r.json()["items"]}
    li = rows["W-li-warned"]
    assert (li["handler_id"], li["handler_name"], li["section_id"]) == ("street-1b", "李四", "urban")
    assert rows["W-mine-1"]["handler_name"] == "street-1"
    gone = rows["W-gone"]
    assert (gone["handler_id"], gone["handler_name"]) == ("gone-1", None)  # not in the directory: no name
    inbox = rows["W-inbox"]
    assert (inbox["handler_id"], inbox["handler_name"], inbox["section_id"]) == (None, None, None)
    assert li["reason"] == inbox["reason"] == "handling"


def _errors(r: Any) -> set[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return {(e["field"], e["rule"]) for e in r.json()["errors"]}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"handler": ""}, ("query.handler", "string_too_short")),
        ({"handler": "p" * 129}, ("query.handler", "string_too_long")),
        ({"handler": "bad id!"}, ("query.handler", "string_pattern_mismatch")),
        ({"handler": "-dash-first"}, ("query.handler", "string_pattern_mismatch")),
        ({"handler": "张三"}, ("query.handler", "string_pattern_mismatch")),
        ({"section": ""}, ("query.section", "string_too_short")),
        ({"section": "s" * 65}, ("query.section", "string_too_long")),
        ({"section": "bad section"}, ("query.section", "string_pattern_mismatch")),
        ({"section": "no-such-section"}, ("query.section", "registry.unknown_section")),
        ({"handlers": "me"}, ("query.handlers", "extra_forbidden")),
    ],
)
def test_bad_handler_or_section_is_a_422_naming_the_field(
    api: Api, params: dict[str, str], error: tuple[str, str]
) -> None:
    assert error in _errors(api.get("street-1", "/queue", **params))


def load(api: Api, user: str, url: str = "/units/street/S-1/load", **params: str) -> dict[str, Any]:
    r = api.get(user, url, **{"period": "2026-03", **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_the_unit_reads_its_own_load_with_every_member(api: Api) -> None:
    body = load(api, "street-1")
    assert body["unit"] == {"kind": "street", "id": "S-1", "name": "S-1"}
    assert body["scope"] == "unit" and body["period"] == "2026-03"
    handlers = [(h["handler_id"], h["handler_name"], h["member"], h["open"], h["resolved"]) for h in body["handlers"]]
    assert handlers == [
        ("street-1", "street-1", True, 3, 2),
        ("street-1b", "李四", True, 1, 1),  # one open case, like gone-1, but one resolved
        ("gone-1", None, False, 1, 0),  # handled cases here, not a member (any more)
    ]
    assert body["total"] == {"open": 7, "warned": 1, "breached": 1, "overdue": 1}
    assert body["unassigned"]["open"] == 2 and body["resolved"] == 3
    assert body["sections"] == [
        {"section_id": "urban", "open": 2, "warned": 1, "breached": 0, "overdue": 0, "unassigned": 1}
    ]
    assert datetime.fromisoformat(body["since"]) == MARCH[0] and datetime.fromisoformat(body["until"]) == MARCH[1]
    other = load(api, "street-1b")  # another member of the street reads the same figures
    assert {k: v for k, v in other.items() if k != "as_of"} == {k: v for k, v in body.items() if k != "as_of"}


def test_a_member_without_cases_is_listed_with_nothing(api: Api) -> None:
    body = load(api, "street-2", "/units/street/S-2/load", period="2026-02")
    assert [(h["handler_id"], h["open"], h["resolved"], h["member"]) for h in body["handlers"]] == [
        ("street-2", 1, 0, True)  # its March resolution is not February's
    ]
    env = load(api, "env-1", "/units/department/environment/load")
    assert [(h["handler_id"], h["handler_name"], h["open"]) for h in env["handlers"]] == [("env-1", "env-1", 1)]
    grid = load(api, "grid-1", "/units/grid/G-101/load")
    assert [(h["handler_id"], h["open"]) for h in grid["handlers"]] == [("grid-1", 0)]
    assert grid["total"]["open"] == 0


@pytest.mark.parametrize(
    ("user", "scope", "street_1_open"),
    [("op-1", "city", 3), ("sv-city", "city", 3), ("sv-d1", "district:D-1", 2), ("sv-d2", "district:D-2", 1)],
)
def test_the_hotline_and_supervisors_read_any_unit_within_their_jurisdiction(
    api: Api, user: str, scope: str, street_1_open: int
) -> None:
    body = load(api, user)
    assert body["scope"] == scope
    assert {h["handler_id"]: h["open"] for h in body["handlers"]}["street-1"] == street_1_open


@pytest.mark.parametrize(
    ("user", "url", "rule"),
    [
        ("resident-1", "/units/street/S-1/load", "role.not_allowed"),
        ("resident-1", "/units/street/S-9/load", "role.not_allowed"),  # before the registry is asked
        ("street-2", "/units/street/S-1/load", "jurisdiction.street"),
        ("street-1", "/units/street/S-2/load", "jurisdiction.street"),
        ("env-1", "/units/street/S-1/load", "jurisdiction.department"),
        ("street-1", "/units/department/environment/load", "jurisdiction.street"),
        ("grid-1", "/units/street/S-1/load", "jurisdiction.grid_worker"),
        ("street-1", "/units/grid/G-101/load", "jurisdiction.street"),
        ("community-1", "/units/street/S-1/load", "jurisdiction.community"),
    ],
)
def test_others_are_refused_with_the_rule(api: Api, user: str, url: str, rule: str) -> None:
    r = api.get(user, url)
    assert r.status_code == 403, r.text
    assert r.json()["rule"] == rule


@pytest.mark.parametrize(
    ("url", "params", "error"),
    [
        ("/units/street/S-9/load", {}, ("path.unit_id", "registry.unknown_unit")),
        ("/units/grid/S-1/load", {}, ("path.unit_id", "registry.unknown_unit")),
        ("/units/hotline/hotline/load", {}, ("path.kind", "unit.kind")),
        ("/units/district/D-1/load", {}, ("path.kind", "enum")),
        (f"/units/street/{'S' * 129}/load", {}, ("path.unit_id", "string_too_long")),
        ("/units/street/S-1/load", {"period": "2026-13"}, ("query.period", "string_pattern_mismatch")),
        ("/units/street/S-1/load", {"period": ""}, ("query.period", "string_pattern_mismatch")),
        ("/units/street/S-1/load", {"month": "2026-03"}, ("query.month", "extra_forbidden")),
    ],
)
def test_bad_unit_or_period_is_a_422_naming_the_field(
    api: Api, url: str, params: dict[str, str], error: tuple[str, str]
) -> None:
    assert error in _errors(api.get("op-1", url, **params))


def test_a_load_needs_credentials(api: Api) -> None:
    assert api.http.get("/units/street/S-1/load").status_code == 401
