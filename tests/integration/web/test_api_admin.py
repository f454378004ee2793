"""``/admin`` on the real stack: only a supervisor of the city manages users and tokens; a new user
is checked as ``gridcase users add`` checks it (units against the city registry); a token issued
here logs in, and stops working once revoked; the policy is read-only for the hotline and supervisors."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.integration.test_api_support import ApiStack

pytestmark = pytest.mark.integration


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def me(web: ApiStack, token: str) -> httpx.Response:
    with httpx.Client(base_url=web.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        return http.get("/me")


def fields(r: httpx.Response) -> set[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return {(e["field"], e["rule"]) for e in r.json()["errors"]}


@pytest.mark.parametrize("user", ["op-1", "sv-district", "street-1", "grid-1", "community-1", "env-1", "resident-1"])
def test_only_a_city_supervisor_manages_users(web: ApiStack, user: str) -> None:
    with web.client(user) as http:
        for r in (
            http.get("/admin/users"),
            http.post("/admin/users", json={"user_id": uid(), "role": "dispatcher"}),
            http.post("/admin/users/op-1/tokens", json={}),
            http.delete("/admin/tokens/0123456789abcdef"),
            http.post("/admin/users/op-1/disable"),
        ):
            assert r.status_code == 403, (user, r.request.url, r.text)
            assert r.json()["rule"] == "role.not_allowed"
    with web.client() as anonymous:
        assert anonymous.get("/admin/users").status_code == 401


def test_the_policy_is_read_by_the_hotline_and_supervisors_only(web: ApiStack) -> None:
    for user in ("op-1", "sv-district", "sv-city"):
        with web.client(user) as http:
            r = http.get("/admin/policy")
            assert r.status_code == 200, r.text
            body = r.json()
            kinds = {rule["clock"] for rule in body["rules"]}
            assert kinds == {
                "accept",
                "contact",
                "report_in",
                "resolve",
                "verify",
                "callback",
                "return_review",
                "reply_review",
                "interim_reply",
            }
            assert all(rule["basis"] in ("working", "calendar") and rule["duration"] for rule in body["rules"])
            assert body["time_scale"] == 30.0 and body["version"]
            assert body["calendar"]["covered_to"] and body["calendar"]["summary"]
    for user in ("street-1", "env-1", "resident-1"):
        with web.client(user) as http:
            assert http.get("/admin/policy").status_code == 403


def test_the_users_list_names_units_and_never_shows_a_secret(web: ApiStack) -> None:
    with web.client("sv-city") as http:
        body = http.get("/admin/users").json()
    users = {u["user_id"]: u for u in body["items"]}
    assert users["street-1"]["role"] == "street" and users["street-1"]["unit_id"] == web.geo.street
    assert users["street-1"]["unit_name"] and users["street-1"]["unit_name"] != web.geo.street
    assert users["sv-city"]["unit_name"]  # the city's name
    assert users["op-1"]["unit_id"] is None and users["op-1"]["enabled"] is True
    assert users["op-1"]["tokens"] and all(t["active"] for t in users["op-1"]["tokens"])
    text = str(body)
    assert not any(token in text for token in web.tokens.values())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"user_id": "-bad", "role": "dispatcher"}, {("body.user_id", "user.invalid")}),
        ({"user_id": "has space", "role": "dispatcher"}, {("body.user_id", "user.invalid")}),
        ({"user_id": "x", "role": "street"}, {("body.unit", "user.invalid")}),
        ({"user_id": "x", "role": "dispatcher", "unit": "S-1"}, {("body.unit", "user.invalid")}),
        ({"user_id": "x", "role": "street", "unit": "NO-SUCH-STREET"}, {("body.unit", "registry.unknown_unit")}),
        ({"user_id": "x", "role": "supervisor", "unit": "D-NOPE"}, {("body.unit", "registry.unknown_unit")}),
        ({"user_id": "x", "role": "system"}, {("body.role", "literal_error")}),
        ({"user_id": "op-1", "role": "dispatcher"}, {("body.user_id", "user.exists")}),
        ({"role": "dispatcher"}, {("body.user_id", "missing")}),
    ],
)
def test_a_new_user_is_checked_as_the_command_line_checks_it(
    web: ApiStack, body: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    if body.get("user_id") == "x":
        body = {**body, "user_id": uid("x")}
    with web.client("sv-city") as http:
        assert fields(http.post("/admin/users", json=body)) == expected


def test_a_token_issued_here_logs_in_until_it_is_revoked(web: ApiStack) -> None:
    user = uid("st")
    with web.client("sv-city") as http:
        r = http.post(
            "/admin/users",
            json={"user_id": user, "name": "新街道值班", "role": "street", "unit": web.geo.street, "token": True},
        )
        assert r.status_code == 201, r.text
        created = r.json()
        first = created["token"]["token"]
        assert created["user"]["unit_name"] and created["user"]["enabled"]
        assert me(web, first).json() == {
            "person_id": user,
            "role": "street",
            "unit_id": web.geo.street,
            "name": "新街道值班",
            "via": "token",
            "sees_personal_data": False,
            "duties": ["coordinator", "reviewer"],  # its street designates nobody: every member holds both
        }
        put = http.put(f"/admin/users/{user}/duties", json={"duties": ["reviewer"]})
        assert put.status_code == 200 and put.json()["duties"] == ["reviewer"], put.text
        bad = http.put(f"/admin/users/{user}/duties", json={"duties": ["boss"]})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("body.duties"), bad.text
        second = http.post(f"/admin/users/{user}/tokens", json={"label": "平板"})
        assert second.status_code == 201
        listed = next(u for u in http.get("/admin/users").json()["items"] if u["user_id"] == user)
        assert {t["label"] for t in listed["tokens"]} == {"first", "平板"}
        assert first not in str(listed)  # only shown when issued

        revoked = http.delete(f"/admin/tokens/{created['token']['token_id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        assert me(web, first).status_code == 401
        assert me(web, second.json()["token"]).status_code == 200  # the other token still works
        assert http.delete(f"/admin/tokens/{created['token']['token_id']}").status_code == 200  # idempotent

        off = http.post(f"/admin/users/{user}/disable")
        assert off.status_code == 200 and off.json()["tokens_revoked"] == 1
        assert me(web, second.json()["token"]).status_code == 401
        refused = http.post(f"/admin/users/{user}/tokens", json={})
        assert refused.status_code == 409 and refused.json()["rule"] == "user.disabled"
        listed = next(u for u in http.get("/admin/users").json()["items"] if u["user_id"] == user)
        assert listed["enabled"] is False and not any(t["active"] for t in listed["tokens"])


def test_unknown_users_and_tokens_and_disabling_oneself(web: ApiStack) -> None:
    with web.client("sv-city") as http:
        assert http.post("/admin/users/nobody-here/tokens", json={}).json()["rule"] == "user.unknown"
        assert http.delete("/admin/tokens/ffffffffffffffff").json()["rule"] == "token.unknown"
        assert http.delete("/admin/tokens/not-a-token-id").status_code == 422
        me_off = http.post("/admin/users/sv-city/disable")
        assert me_off.status_code == 409 and me_off.json()["rule"] == "user.self"
