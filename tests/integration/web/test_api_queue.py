"""``GET /queue`` on the real stack: each role's queue holds exactly its cases, nearest deadline
first, with counts by status, names beside ids and the SLA standing; the case list of a
jurisdiction; bad input refused naming the field.

The stack is shared with the other web tests, so a queue may hold their cases too: membership is
checked case by case for this module's cases, and by the rule for every other row.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.integration.test_api_support import ApiStack, drive, lifecycle, open_case

pytestmark = pytest.mark.integration

TERMINAL = {"closed", "rejected", "merged"}


def until(check: Callable[[], Any], timeout: float = 45.0, what: str = "the read model") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def queue(web: ApiStack, user: str, **params: Any) -> dict[str, Any]:
    with web.client(user) as http:
        r = http.get("/queue", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def all_rows(web: ApiStack, user: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = queue(web, user, limit=1000, offset=offset, **params)
        rows += page["items"]
        if len(page["items"]) < 1000:
            return rows
        offset += 1000


@pytest.fixture(scope="module")
def cases(web: ApiStack) -> dict[str, str]:
    """This module's cases, by what was done to them.

    street:     dispatched to street-1's street
    other:      in another street, dispatched to that street (street-2)
    grid:       dispatched to grid-1's grid
    department: dispatched to the environment department
    whistled:   street-1 whistled environment and water; environment completed its task
    resolved:   resolved by street-1, waiting for grid-1's verification
    received:   just opened (the hotline's next step)
    closed:     the whole lifecycle
    """
    geo = web.geo
    steps = lifecycle(geo)
    tag = uuid.uuid4().hex[:6]
    out: dict[str, str] = {}
    with web.client("op-1") as op:

        def new(name: str, **overrides: Any) -> str:
            out[name] = open_case(op, geo, title=f"队列测试 {name} {tag}", **overrides)
            return out[name]

        drive(web, new("street"), steps[:2])
        drive(
            web,
            new("other", location={"grid_id": geo.other_grid}),
            [("op-1", "register", {}), ("op-1", "dispatch", {"unit": {"kind": "street", "id": geo.other_street}})],
        )
        drive(
            web,
            new("grid"),
            [("op-1", "register", {}), ("op-1", "dispatch", {"unit": {"kind": "grid", "id": geo.grid}})],
        )
        drive(
            web,
            new("department"),
            [("op-1", "register", {}), ("op-1", "dispatch", {"unit": {"kind": "department", "id": "environment"}})],
        )
        tasks = [{"department_id": "environment", "task": "执法"}, {"department_id": "water", "task": "查看管线"}]
        drive(
            web,
            new("whistled"),
            [
                *steps[:3],
                ("street-1", "whistle", {"tasks": tasks}),
                ("env-1", "report-in", {}),
                ("env-1", "complete-task", {"result": "已处理"}),
            ],
        )
        drive(web, new("resolved"), [*steps[:4], ("street-1", "resolve", {"notes": "已处理"})])
        new("received")
        drive(web, new("closed"), steps)
    expected = {
        "street": "dispatched",
        "other": "dispatched",
        "grid": "dispatched",
        "department": "dispatched",
        "whistled": "handling",
        "resolved": "resolved",
        "received": "received",
        "closed": "closed",
    }

    def projected() -> bool:
        rows = queue(web, "op-1", scope="jurisdiction", open_only="false", case_id=list(out.values()))["items"]
        got = {r["case_id"]: r["status"] for r in rows}
        return all(got.get(out[k]) == s for k, s in expected.items())

    until(projected, what="this module's cases in the read model")
    return out


@pytest.mark.parametrize(
    ("user", "inside", "outside"),
    [
        ("street-1", {"street", "whistled", "resolved"}, {"other", "grid", "department", "received", "closed"}),
        ("street-2", {"other"}, {"street", "grid", "department", "whistled", "resolved", "received"}),
        ("grid-1", {"grid", "resolved"}, {"street", "other", "department", "whistled", "received", "closed"}),
        ("grid-2", set(), {"street", "other", "grid", "department", "whistled", "resolved", "received"}),
        ("env-1", {"department"}, {"street", "other", "grid", "whistled", "resolved", "received"}),
        ("water-1", {"whistled"}, {"street", "other", "grid", "department", "resolved", "received"}),
        (
            "community-1",
            {"street", "grid", "department", "whistled", "resolved", "received"},
            {"other", "closed"},
        ),
        ("op-1", {"received"}, {"street", "other", "grid", "department", "whistled", "resolved", "closed"}),
        ("sv-other", set(), {"street", "other", "grid", "department", "whistled", "resolved", "received"}),
    ],
)
def test_each_role_sees_exactly_its_cases(
    web: ApiStack, cases: dict[str, str], user: str, inside: set[str], outside: set[str]
) -> None:
    rows = all_rows(web, user)
    ids = {r["case_id"] for r in rows}
    assert {k for k in inside if cases[k] not in ids} == set(), f"missing from {user}'s queue"
    assert {k for k in outside if cases[k] in ids} == set(), f"not {user}'s cases"
    geo = web.geo
    for r in rows:  # every row, this module's or not, follows the rule of the role
        assert r["status"] not in TERMINAL
        unit = r["unit"]
        if user == "street-1":
            assert unit == {"kind": "street", "id": geo.street, "name": unit["name"]}, r
            assert r["reason"] == "handling"
        elif user == "grid-1":
            handled = unit is not None and unit["kind"] == "grid" and unit["id"] == geo.grid
            assert handled or (r["status"] == "resolved" and r["grid_id"] == geo.grid), r
            assert r["reason"] == ("handling" if handled else "to_verify")
        elif user in ("env-1", "water-1"):
            dept = "environment" if user == "env-1" else "water"
            handled = unit is not None and unit["kind"] == "department" and unit["id"] == dept
            assert r["reason"] == ("handling" if handled else "summoned"), r
        elif user == "community-1":
            assert r["community_id"] == geo.community
        elif user == "op-1":
            assert r["status"] in {"received", "registered", "returned", "verified", "called_back"}
            assert r["reason"] == "hotline"


def test_a_summoned_department_sees_why(web: ApiStack, cases: dict[str, str]) -> None:
    row = next(r for r in all_rows(web, "water-1") if r["case_id"] == cases["whistled"])
    assert row["reason"] == "summoned"
    assert row["unit"]["kind"] == "street"  # the street still handles it


def test_history_adds_finished_cases_and_past_assignments(web: ApiStack, cases: dict[str, str]) -> None:
    ids = {r["case_id"] for r in all_rows(web, "street-1", open_only="false")}
    assert {cases["closed"], cases["street"], cases["whistled"]} <= ids
    env = {r["case_id"] for r in all_rows(web, "env-1", open_only="false")}
    assert {cases["whistled"], cases["department"], cases["closed"]} <= env  # summoned before
    assert cases["other"] not in env


def _due(r: dict[str, Any]) -> tuple[int, float]:
    due = r["next_due_at"]
    return (1, 0.0) if due is None else (0, datetime.fromisoformat(due).timestamp())


@pytest.mark.parametrize("user", ["street-1", "grid-1", "env-1", "community-1", "op-1", "sv-district"])
def test_sorted_by_the_nearest_deadline_with_counts_by_status(web: ApiStack, cases: dict[str, str], user: str) -> None:
    for _ in range(5):  # the projector may write between the page and its counts: try again then
        page = queue(web, user, limit=1000)
        rows = page["items"]
        if len(rows) == page["total"] and Counter(r["status"] for r in rows) == Counter(page["counts"]):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"counts {page['counts']} never matched the rows of {user}'s queue")
    keys = [_due(r) for r in rows]
    assert keys == sorted(keys)
    as_of = datetime.fromisoformat(page["as_of"]).timestamp()
    overdue = sum(1 for k in keys if k[0] == 0 and k[1] < as_of)
    assert page["overdue"] == overdue
    narrowed = queue(web, user, state="dispatched", limit=1000)
    assert {r["status"] for r in narrowed["items"]} <= {"dispatched"}
    assert narrowed["counts"].keys() >= {"dispatched"} or narrowed["total"] == 0


def test_rows_carry_names_and_their_sla_standing(web: ApiStack, cases: dict[str, str]) -> None:
    from workers.composition import build_registry

    city = build_registry(web.settings)
    geo = web.geo
    row = next(r for r in all_rows(web, "street-1") if r["case_id"] == cases["street"])
    g = city.grid(geo.grid)
    assert row["grid_name"] == g.name
    assert row["street_name"] == city.streets[geo.street].name
    assert row["community_name"] == city.communities[geo.community].name
    assert row["district_name"] == city.districts[geo.district].name
    assert row["unit"]["name"] == city.streets[geo.street].name
    assert row["category"] == "noise" and row["category_name"]
    assert row["next_clock"] == "accept"
    as_of = datetime.fromisoformat(queue(web, "street-1", limit=1)["as_of"])
    assert row["remaining_seconds"] is not None
    due = datetime.fromisoformat(row["next_due_at"])
    left = (due - as_of).total_seconds()
    assert abs(row["remaining_seconds"] - left) < 30  # another request, a moment apart
    expected = "breached" if row["remaining_seconds"] <= 0 else ("warned" if row["warned"] else "on_time")
    assert row["sla"] in {expected, "breached"}  # it may have run out between the two requests


def test_the_case_list_of_a_jurisdiction(web: ApiStack, cases: dict[str, str]) -> None:
    geo = web.geo
    street = {r["case_id"]: r for r in all_rows(web, "street-1", scope="jurisdiction")}
    assert {cases[k] for k in ("street", "grid", "department", "whistled", "resolved", "received")} <= street.keys()
    assert cases["other"] not in street
    assert all(r["street_id"] == geo.street or r["unit"] for r in street.values())
    hotline = all_rows(web, "op-1", scope="jurisdiction", open_only="false", case_id=[cases["other"], cases["closed"]])
    assert {r["case_id"] for r in hotline} == {cases["other"], cases["closed"]}
    env = {r["case_id"] for r in all_rows(web, "env-1", scope="jurisdiction")}
    assert cases["whistled"] in env and cases["street"] not in env


def test_a_filter_never_widens_the_jurisdiction(web: ApiStack, cases: dict[str, str]) -> None:
    geo = web.geo
    rows = all_rows(web, "street-1", scope="jurisdiction", street=geo.other_street)
    assert cases["other"] not in {r["case_id"] for r in rows}
    assert all(r["street_id"] == geo.other_street for r in rows)
    assert queue(web, "env-1", scope="jurisdiction", case_id=[cases["street"], cases["other"]])["items"] == []
    grid = all_rows(web, "grid-1", scope="jurisdiction", grid=geo.other_grid)
    assert cases["other"] not in {r["case_id"] for r in grid}


def errors_of(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {e["field"]: e["rule"] for e in r.json()["errors"]}


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"limit": 0}, "query.limit", "greater_than_equal"),
        ({"limit": 5000}, "query.limit", "less_than_equal"),
        ({"offset": -5}, "query.offset", "greater_than_equal"),
        ({"state": "lost"}, "query.state", "enum"),
        ({"scope": "all"}, "query.scope", "literal_error"),
        ({"sort": "title"}, "query.sort", "literal_error"),
        ({"open_only": "maybe"}, "query.open_only", "literal_error"),
        ({"street": "no-such-street"}, "query.street", "registry.unknown_unit"),
        ({"department": "no-such-dept"}, "query.department", "registry.unknown_unit"),
        ({"grid": "no-such-grid"}, "query.grid", "registry.unknown_unit"),
        ({"category": "no-such-category"}, "query.category", "registry.unknown_category"),
        ({"case_id": "not a case id"}, "query.case_id.0", "string_pattern_mismatch"),
        ({"unit": "S-1"}, "query.unit", "extra_forbidden"),
    ],
)
def test_bad_input_is_refused_naming_the_field(web: ApiStack, params: dict[str, Any], field: str, rule: str) -> None:
    with web.client("street-1") as http:
        assert errors_of(http.get("/queue", params=params)).get(field) == rule


def test_residents_and_strangers_are_refused(web: ApiStack) -> None:
    with web.client("resident-1") as http:
        r = http.get("/queue")
    assert r.status_code == 403 and r.json()["rule"] == "role.not_allowed"
    with web.client() as http:
        assert http.get("/queue").status_code == 401
