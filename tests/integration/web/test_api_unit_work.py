"""Work inside a unit on the real stack: cases assigned, reassigned and taken through the API
(``case.assigned`` on Kafka, projected into the read model), then ``GET /queue?handler=…&section=…``
and ``GET /units/{kind}/{unit_id}/load`` for each role.

The stack is shared with the other web tests, so a queue may hold their cases too: membership is
checked case by case for this module's cases, and by the rule (the handler asked for) for every
other row.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from events.base import Role
from tests.integration.test_api_support import ApiStack, drive, open_case
from tests.integration.web.test_api_queue import all_rows, errors_of, queue, until

pytestmark = pytest.mark.integration

SECOND = "street-1c"  # another member of street-1's street, added by this module


@pytest.fixture(scope="module")
def members(web: ApiStack) -> dict[str, str]:
    """Tokens of this module's extra users (the stack's own are in ``web.tokens``)."""
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    engine = create_engine_for(web.settings)
    try:
        store = UserStore(engine)
        store.ensure_user(SECOND, "李四", Role.STREET, web.geo.street)
        token, _ = store.issue_token(SECOND, "unit-work test")
    finally:
        engine.dispose()
    return {SECOND: token}


def client(web: ApiStack, members: dict[str, str], user: str) -> httpx.Client:
    token = members.get(user) or web.tokens[user]
    return httpx.Client(base_url=web.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def section_of(web: ApiStack) -> str | None:
    """A section (科室) of street-1's street in the city registry, if it has one."""
    from workers.composition import build_registry

    ids = build_registry(web.settings).sections().get(f"street:{web.geo.street}", ())
    return ids[0] if ids else None


@pytest.fixture(scope="module")
def cases(web: ApiStack, members: dict[str, str]) -> dict[str, str]:
    """This module's cases, by what was done to them.

    taken:        dispatched to street-1's street, taken by street-1
    assigned:     dispatched there, assigned by street-1 to street-1b (in a section when the street has one)
    resolved:     taken by street-1, accepted, contacted and resolved
    inbox:        dispatched there, nobody inside the street yet
    other:        in another street, taken by street-2
    redispatched: assigned to street-1b, returned, re-dispatched to the environment department
    """
    geo = web.geo
    tag = uuid.uuid4().hex[:6]
    section = section_of(web)
    to_street = [("op-1", "register", {}), ("op-1", "dispatch", {"unit": {"kind": "street", "id": geo.street}})]
    handler: dict[str, Any] = {"handler": {"person_id": SECOND}}
    if section is not None:
        handler["section_id"] = section
    out: dict[str, str] = {}
    with web.client("op-1") as op:

        def new(name: str, **overrides: Any) -> str:
            out[name] = open_case(op, geo, title=f"承办测试 {name} {tag}", **overrides)
            return out[name]

        drive(web, new("taken"), [*to_street, ("street-1", "take", {})])
        drive(web, new("assigned"), [*to_street, ("street-1", "assign", handler)])
        drive(
            web,
            new("resolved"),
            [
                *to_street,
                ("street-1", "take", {}),
                ("street-1", "accept", {}),
                ("street-1", "contact", {}),
                ("street-1", "resolve", {"notes": "已处理"}),
            ],
        )
        drive(web, new("inbox"), to_street)
        drive(
            web,
            new("other", location={"grid_id": geo.other_grid}),
            [
                ("op-1", "register", {}),
                ("op-1", "dispatch", {"unit": {"kind": "street", "id": geo.other_street}}),
                ("street-2", "take", {}),
            ],
        )
        drive(
            web,
            new("redispatched"),
            [
                *to_street,
                ("street-1", "assign", handler),
                ("street-1", "return", {"reason_code": "overlapping_duties", "reason": "属环保职责"}),
                (
                    "op-1",
                    "review-return",
                    {
                        "decision": "redispatch",
                        "ruling": "转生态环境局",
                        "redispatch_to": {"kind": "department", "id": "environment"},
                    },
                ),
            ],
        )
    expected = {
        "taken": "street-1",
        "assigned": SECOND,
        "resolved": "street-1",
        "inbox": None,
        "other": "street-2",
        "redispatched": None,
    }

    def projected() -> bool:
        rows = queue(web, "op-1", scope="jurisdiction", open_only="false", case_id=list(out.values()))["items"]
        got = {r["case_id"]: r for r in rows}
        if not all(out[k] in got and got[out[k]]["handler_id"] == h for k, h in expected.items()):
            return False
        return got[out["redispatched"]]["unit"]["kind"] == "department" and got[out["resolved"]]["status"] == "resolved"

    until(projected, what="this module's assignments in the read model")
    return out


def rows_for(web: ApiStack, members: dict[str, str], user: str, **params: Any) -> list[dict[str, Any]]:
    if user not in members:
        return all_rows(web, user, **params)
    with client(web, members, user) as http:
        r = http.get("/queue", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


@pytest.mark.parametrize(
    ("user", "params", "inside", "outside"),
    [
        ("street-1", {"handler": "me"}, {"taken", "resolved"}, {"assigned", "inbox", "other", "redispatched"}),
        ("street-1", {"handler": SECOND}, {"assigned"}, {"taken", "resolved", "inbox", "other", "redispatched"}),
        ("street-1", {"handler": "street-2"}, set(), {"other"}),  # another street's: never widened
        (SECOND, {"handler": "me"}, {"assigned"}, {"taken", "resolved", "inbox", "other", "redispatched"}),
        ("street-2", {"handler": "me"}, {"other"}, {"taken", "assigned", "resolved", "inbox"}),
        ("env-1", {"handler": SECOND}, set(), {"redispatched", "assigned"}),  # the re-dispatch cleared it
        ("op-1", {"handler": "me"}, set(), {"taken", "assigned", "resolved", "other"}),
        ("op-1", {"handler": SECOND, "scope": "jurisdiction"}, {"assigned"}, {"taken", "redispatched"}),
        ("sv-district", {"handler": "street-1"}, {"taken", "resolved"}, {"assigned", "inbox", "other"}),
        ("sv-city", {"handler": "street-2"}, {"other"}, {"taken", "assigned"}),
        ("sv-other", {"handler": "street-1"}, set(), {"taken", "resolved"}),
        ("community-1", {"handler": SECOND}, {"assigned"}, {"taken", "resolved", "inbox"}),
        ("grid-1", {"handler": "me"}, set(), {"taken", "assigned", "resolved"}),
        ("grid-1", {"handler": "street-1", "scope": "jurisdiction"}, {"taken", "resolved"}, {"assigned"}),
        ("street-1", {"handler": f"nobody-{uuid.uuid4().hex[:6]}"}, set(), {"taken", "assigned"}),
    ],
)
def test_each_role_with_a_handler_filter_sees_exactly_that_handler_cases(
    web: ApiStack,
    members: dict[str, str],
    cases: dict[str, str],
    user: str,
    params: dict[str, str],
    inside: set[str],
    outside: set[str],
) -> None:
    rows = rows_for(web, members, user, **params)
    ids = {r["case_id"] for r in rows}
    assert {k for k in inside if cases[k] not in ids} == set(), f"missing from {user}'s answer"
    assert {k for k in outside if cases[k] in ids} == set(), f"not in {user}'s answer"
    person = user if params["handler"] == "me" else params["handler"]
    assert all(r["handler_id"] == person for r in rows)  # every row, this module's or not


def test_rows_carry_the_handler_their_name_and_the_section(
    web: ApiStack, members: dict[str, str], cases: dict[str, str]
) -> None:
    rows = {r["case_id"]: r for r in rows_for(web, members, "street-1", case_id=list(cases.values()))}
    assigned = rows[cases["assigned"]]
    assert (assigned["handler_id"], assigned["handler_name"]) == (SECOND, "李四")
    assert assigned["section_id"] == section_of(web)
    assert (rows[cases["taken"]]["handler_id"], rows[cases["taken"]]["handler_name"]) == ("street-1", "street-1")
    inbox = rows[cases["inbox"]]
    assert (inbox["handler_id"], inbox["handler_name"], inbox["section_id"]) == (None, None, None)
    env = {r["case_id"]: r for r in all_rows(web, "env-1", case_id=[cases["redispatched"]])}
    assert env[cases["redispatched"]]["handler_id"] is None and env[cases["redispatched"]]["section_id"] is None


def test_a_section_filter_keeps_the_section_queue(
    web: ApiStack, members: dict[str, str], cases: dict[str, str]
) -> None:
    section = section_of(web)
    if section is None:
        pytest.skip(f"street {web.geo.street} has no section in the city registry")
    rows = rows_for(web, members, "street-1", section=section)
    ids = {r["case_id"] for r in rows}
    assert cases["assigned"] in ids and cases["taken"] not in ids and cases["inbox"] not in ids
    assert all(r["section_id"] == section for r in rows)


def load(web: ApiStack, members: dict[str, str], user: str, url: str | None = None) -> httpx.Response:
    with client(web, members, user) as http:
        return http.get(url or f"/units/street/{web.geo.street}/load")


def test_the_street_reads_each_member_load(web: ApiStack, members: dict[str, str], cases: dict[str, str]) -> None:
    for _ in range(5):  # the projector may write between the load and the queue: try again then
        r = load(web, members, "street-1")
        assert r.status_code == 200, r.text
        body = r.json()
        # the street's open queue narrowed to a handler is that handler's open cases
        queues = {person: rows_for(web, members, "street-1", handler=person) for person in ("street-1", SECOND)}
        by = {h["handler_id"]: h for h in body["handlers"]}
        if all(by[person]["open"] == len(rows) for person, rows in queues.items()):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the load {body['handlers']} never matched the queues by handler")
    assert body["scope"] == "unit" and body["unit"]["id"] == web.geo.street
    mine, second = by["street-1"], by[SECOND]
    assert mine["member"] and second["member"] and second["handler_name"] == "李四"
    assert mine["open"] >= 2 and mine["resolved"] >= 1 and second["open"] >= 1
    assert body["unassigned"]["open"] >= 1  # the inbox case
    assert body["total"]["open"] >= mine["open"] + second["open"] + body["unassigned"]["open"]


@pytest.mark.parametrize(
    ("user", "status", "scope_or_rule"),
    [
        ("street-1", 200, "unit"),
        (SECOND, 200, "unit"),
        ("op-1", 200, "city"),
        ("sv-city", 200, "city"),
        ("sv-district", 200, "district:"),
        ("street-2", 403, "jurisdiction.street"),
        ("grid-1", 403, "jurisdiction.grid_worker"),
        ("env-1", 403, "jurisdiction.department"),
        ("community-1", 403, "jurisdiction.community"),
        ("resident-1", 403, "role.not_allowed"),
    ],
)
def test_who_may_read_a_unit_load(
    web: ApiStack, members: dict[str, str], cases: dict[str, str], user: str, status: int, scope_or_rule: str
) -> None:
    r = load(web, members, user)
    assert r.status_code == status, r.text
    body = r.json()
    assert (body["scope"] if status == 200 else body["rule"]).startswith(scope_or_rule)


def test_bad_input_is_refused_naming_the_field(web: ApiStack, members: dict[str, str]) -> None:
    with web.client("street-1") as http:
        assert errors_of(http.get("/queue", params={"handler": ""})).get("query.handler") == "string_too_short"
        assert errors_of(http.get("/queue", params={"handler": "x" * 129})).get("query.handler") == "string_too_long"
        bad = errors_of(http.get("/queue", params={"handler": "not a person"}))
        assert bad.get("query.handler") == "string_pattern_mismatch"
        bad = errors_of(http.get("/queue", params={"section": "no-such-section-anywhere"}))
        assert bad.get("query.section") == "registry.unknown_section"
    assert errors_of(load(web, members, "op-1", "/units/street/no-such-street/load")) == {
        "path.unit_id": "registry.unknown_unit"
    }
    assert errors_of(load(web, members, "op-1", "/units/hotline/hotline/load")) == {"path.kind": "unit.kind"}
    r = load(web, members, "op-1", f"/units/street/{web.geo.street}/load?period=2026-13")
    assert errors_of(r) == {"query.period": "string_pattern_mismatch"}
    with web.client() as http:
        assert http.get(f"/units/street/{web.geo.street}/load").status_code == 401
