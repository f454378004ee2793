"""``GET /registry/...`` on the real stack (the seed city, the projected read model): the catalogue,
units by name, the routing suggestion, address/grid search, locate, the summary, and similar cases
within each caller's jurisdiction. Bad input is a 422 naming the field and the rule."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack, act, open_case

pytestmark = pytest.mark.integration


def _registry(web: ApiStack) -> Any:
    from workers.composition import build_registry

    return build_registry(web.settings)


def get(web: ApiStack, user: str, url: str, **params: Any) -> Any:
    with web.client(user) as http:
        return http.get(url, params=params)


def ok(web: ApiStack, user: str, url: str, **params: Any) -> Any:
    r = get(web, user, url, **params)
    assert r.status_code == 200, r.text
    return r.json()


def fields(r: Any) -> set[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return {(e["field"], e["rule"]) for e in r.json()["errors"]}


# --- the catalogue and the units -----------------------------------------------------------------


def test_categories_are_the_registry_s_catalogue(web: ApiStack) -> None:
    reg = _registry(web)
    items = {c["code"]: c for c in ok(web, "op-1", "/registry/categories")["items"]}
    assert set(items) == {c.code for c in reg.categories()}
    noise = items["noise"]
    cat = reg.category("noise")
    assert (noise["name_zh"], noise["route"], noise["departments"], noise["default_urgency"]) == (
        "噪音扰民",
        cat.route.value,
        list(cat.departments),
        cat.default_urgency.value,
    )
    assert noise["group"] == reg.catalogue["noise"].group
    assert any(c["needs_whistle"] for c in items.values())
    assert ok(web, "env-1", "/registry/categories")["items"]  # every staff role


def test_units_by_name_and_id(web: ApiStack) -> None:
    reg = _registry(web)
    geo = web.geo
    depts = ok(web, "street-1", "/registry/units", kind="department", q="环境")["items"]
    assert {"kind": "department", "id": "environment", "name": reg.departments["environment"].name} in [
        {k: d[k] for k in ("kind", "id", "name")} for d in depts
    ]
    grids = ok(web, "op-1", "/registry/units", kind="grid", street=geo.street, limit=500)["items"]
    assert [g["id"] for g in grids] == [g.id for g in reg.grids(street_id=geo.street)]
    assert all(g["street_id"] == geo.street and g["street_name"] == reg.streets[geo.street].name for g in grids)
    grid = reg.grid(geo.grid)
    first = ok(web, "op-1", "/registry/units", kind="grid", q=grid.name)["items"][0]
    assert (first["id"], first["community_id"], first["district_id"]) == (geo.grid, geo.community, geo.district)
    street = ok(web, "op-1", "/registry/units", kind="street", q=geo.street.lower())["items"][0]
    assert (street["id"], street["name"]) == (geo.street, reg.streets[geo.street].name)
    communities = ok(web, "op-1", "/registry/units", kind="community", street=geo.other_street, limit=500)["items"]
    assert {c["id"] for c in communities} == {c.id for c in reg.communities.values() if c.street_id == geo.other_street}
    everything = ok(web, "op-1", "/registry/units", limit=500)["items"]
    assert [u["kind"] for u in everything][: len(reg.departments)] == ["department"] * len(reg.departments)
    assert ok(web, "op-1", "/registry/units", kind="grid", q="不存在的网格名")["items"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "district"}, {("query.kind", "literal_error")}),
        ({"street": "S-NOPE"}, {("query.street", "registry.unknown_unit")}),
        ({"limit": 0}, {("query.limit", "greater_than_equal")}),
        ({"limit": 501}, {("query.limit", "less_than_equal")}),
        ({"limit": "many"}, {("query.limit", "int_parsing")}),
        ({"q": "x" * 101}, {("query.q", "string_too_long")}),
        ({"name": "x"}, {("query.name", "extra_forbidden")}),
    ],
)
def test_units_bad_input(web: ApiStack, params: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert fields(get(web, "op-1", "/registry/units", **params)) == expected


# --- routing -------------------------------------------------------------------------------------


def test_the_routing_suggestion_follows_the_catalogue(web: ApiStack) -> None:
    reg = _registry(web)
    geo = web.geo
    noise = ok(web, "op-1", "/registry/route", category="noise", grid_id=geo.grid)
    assert noise["unit"] == {"kind": "street", "id": geo.street, "name": reg.streets[geo.street].name}
    assert noise["departments"] == [
        {"kind": "department", "id": d, "name": reg.departments[d].name} for d in reg.category("noise").departments
    ]
    for cat in reg.categories():
        got = ok(web, "street-1", "/registry/route", category=cat.code, grid_id=geo.other_grid)
        target = reg.route(cat, reg.locate(grid_id=geo.other_grid))
        assert (got["unit"]["kind"], got["unit"]["id"]) == (target.kind.value, target.id), cat.code
        assert got["unit"]["name"] == reg.unit_name(target)
        assert got["needs_whistle"] is cat.needs_whistle


def test_routing_bad_input(web: ApiStack) -> None:
    geo = web.geo
    assert fields(get(web, "op-1", "/registry/route", category="nope", grid_id=geo.grid)) == {
        ("query.category", "registry.unknown_category")
    }
    assert fields(get(web, "op-1", "/registry/route", category="noise", grid_id="G-NOPE")) == {
        ("query.grid_id", "registry.unknown_location")
    }
    assert fields(get(web, "op-1", "/registry/route")) == {("query.category", "missing"), ("query.grid_id", "missing")}


# --- search and locate ---------------------------------------------------------------------------


def test_search_finds_the_grid_of_an_address_a_name_or_an_id(web: ApiStack) -> None:
    reg = _registry(web)
    rng = random.Random(17)
    for gid in rng.sample(reg.grid_ids(), 8):
        address = reg.random_address(gid, rng)
        first = ok(web, "op-1", "/registry/search", q=address)["items"][0]
        g = reg.grid(gid)
        assert first == {
            "grid_id": gid,
            "grid_name": g.name,
            "community_id": g.community_id,
            "community_name": reg.communities[g.community_id].name,
            "street_id": g.street_id,
            "street_name": reg.streets[g.street_id].name,
            "district_id": g.district_id,
            "district_name": reg.districts[g.district_id].name,
            "lat": first["lat"],
            "lon": first["lon"],
            "address": address,
        }
        assert reg.grid_at(first["lat"], first["lon"]) == gid  # the point is inside the grid
        assert ok(web, "op-1", "/registry/search", q=gid.lower())["items"][0]["grid_id"] == gid
        by_name = ok(web, "op-1", "/registry/search", q=g.name, limit=100)["items"]
        assert gid in {p["grid_id"] for p in by_name}
    community = reg.communities[web.geo.community]
    in_community = ok(web, "op-1", "/registry/search", q=community.name, limit=100)["items"]
    assert {g.id for g in reg.grids(community_id=community.id)} <= {p["grid_id"] for p in in_community}
    assert ok(web, "op-1", "/registry/search", q="火星基地一号")["items"] == []
    assert len(ok(web, "op-1", "/registry/search", q="花园", limit=3)["items"]) == 3


def test_search_bad_input(web: ApiStack) -> None:
    assert fields(get(web, "op-1", "/registry/search", q="")) == {("query.q", "string_too_short")}
    assert fields(get(web, "op-1", "/registry/search", q="  ")) == {("query.q", "string_too_short")}
    assert fields(get(web, "op-1", "/registry/search")) == {("query.q", "missing")}
    assert fields(get(web, "op-1", "/registry/search", q="花园", limit=101)) == {("query.limit", "less_than_equal")}


def test_locate(web: ApiStack) -> None:
    reg = _registry(web)
    rng = random.Random(5)
    for gid in rng.sample(reg.grid_ids(), 5):
        lat, lon = reg.random_point(gid, rng)
        p = ok(web, "grid-1", "/registry/locate", lat=lat, lon=lon)
        assert p["grid_id"] == gid and p["street_id"] == reg.grid(gid).street_id
    w, s, _, _ = reg.bounds
    outside = get(web, "op-1", "/registry/locate", lat=s - 1, lon=w - 1)
    assert fields(outside) == {("query.lat", "registry.unknown_location"), ("query.lon", "registry.unknown_location")}
    assert "outside every grid" in outside.json()["errors"][0]["message"]
    assert fields(get(web, "op-1", "/registry/locate", lat=95, lon=w)) == {("query.lat", "less_than_equal")}
    assert fields(get(web, "op-1", "/registry/locate", lat=s, lon="east")) == {("query.lon", "float_parsing")}
    assert fields(get(web, "op-1", "/registry/locate", lat=s)) == {("query.lon", "missing")}


def test_summary(web: ApiStack) -> None:
    reg = _registry(web)
    body = ok(web, "sv-city", "/registry/summary")
    counts = reg.data.counts()
    for key in ("districts", "streets", "communities", "grids", "staff", "departments"):
        assert body[key] == counts[key], key
    assert body["grids"] == 3779
    assert body["categories"] == len(reg.categories())
    assert body["version"] == reg.version and body["version"]
    assert body["name"] == reg.name
    assert body["bounds"] == pytest.approx(list(reg.bounds))


@pytest.mark.parametrize(
    "url",
    [
        "/registry/categories",
        "/registry/units",
        "/registry/route?category=noise&grid_id=G-01010101",
        "/registry/search?q=花园",
        "/registry/locate?lat=40.8&lon=111.6",
        "/registry/summary",
        "/registry/similar?grid_id=G-01010101&category=noise",
    ],
)
def test_staff_only(web: ApiStack, url: str) -> None:
    with web.client("resident-1") as http:
        r = http.get(url)
    assert r.status_code == 403 and r.json()["rule"] == "role.not_allowed", r.text
    with web.client() as anonymous:
        assert anonymous.get(url).status_code == 401


# --- similar cases -------------------------------------------------------------------------------


def _wait_similar(web: ApiStack, user: str, case_id: str, timeout: float = 30, **params: Any) -> list[dict[str, Any]]:
    """The similar list once the projector has ``case_id`` (for the hotline, which sees every case)."""
    deadline = time.monotonic() + timeout
    while True:
        items: list[dict[str, Any]] = ok(web, user, "/registry/similar", **params)["items"]
        if any(i["case_id"] == case_id for i in items) or time.monotonic() > deadline:
            return items
        time.sleep(0.3)


def test_similar_cases_same_grid_first_by_title_within_jurisdiction(web: ApiStack) -> None:
    reg = _registry(web)
    geo = web.geo
    tag = "".join(random.choice("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉") for _ in range(6)) + uuid.uuid4().hex[:4]
    title = f"井盖缺失{tag}"
    same_street_grid = next(g.id for g in reg.grids(street_id=geo.street) if g.id != geo.grid)
    with web.client("op-1") as op:
        here = open_case(op, web.geo, category="manhole-cover", title=title, description="路口井盖丢失")
        older = open_case(op, web.geo, category="manhole-cover", title="路灯不亮", description="其他")
        cover = {"category": "manhole-cover", "title": title}
        nearby = open_case(op, web.geo, **cover, description="同街道", location={"grid_id": same_street_grid})
        elsewhere = open_case(op, web.geo, **cover, description="别的街道", location={"grid_id": geo.other_grid})
        other_kind = open_case(op, web.geo, category="noise", title=title, description="别的类别")
    params = {"grid_id": geo.grid, "category": "manhole-cover", "text": f"{title} 路口", "limit": 50}
    _wait_similar(web, "op-1", nearby, **params)
    items = _wait_similar(web, "op-1", here, **params)
    by_id = {i["case_id"]: i for i in items}
    assert here in by_id and older in by_id and nearby in by_id
    assert elsewhere not in by_id and other_kind not in by_id
    assert items[0]["case_id"] == here
    assert by_id[here] | {"opened_at": None} == {
        "case_id": here,
        "title": title,
        "status": "received",
        "opened_at": None,
        "grid_id": geo.grid,
        "street_id": geo.street,
        "category": "manhole-cover",
        "open": True,
        "match": "grid",
        "score": 1.0,
    }
    assert by_id[nearby]["match"] == "street" and by_id[nearby]["score"] == 1.0
    assert by_id[older]["score"] < 1.0
    order = [i["case_id"] for i in items]
    assert order.index(older) < order.index(nearby)  # a same-street case ranks below every same-grid one
    assert not any(k in by_id[here] for k in ("contact", "phone", "name", "description"))  # no personal data

    def seen_by(user: str) -> set[str]:
        return {i["case_id"] for i in ok(web, user, "/registry/similar", **params)["items"]}

    assert {here, nearby} <= seen_by("street-1")
    assert here in seen_by("grid-1") and nearby not in seen_by("grid-1")
    assert {here, nearby} <= seen_by("sv-district")
    assert here in seen_by("community-1")
    assert seen_by("street-2") & {here, nearby, older} == set()
    assert seen_by("grid-2") & {here, nearby, older} == set()
    assert seen_by("sv-other") == set()
    assert seen_by("water-1") & {here, nearby, older} == set()
    # a case dispatched to a department is in its jurisdiction from then on
    with web.client("op-1") as op:
        assert act(op, here, "register").status_code == 200
        assert act(op, here, "dispatch", {"unit": {"kind": "department", "id": "water"}}).status_code == 200
    deadline = time.monotonic() + 30
    while here not in seen_by("water-1") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert here in seen_by("water-1")
    assert seen_by("water-1") & {nearby, older} == set()


def test_similar_recent_closed_cases_and_the_window(web: ApiStack) -> None:
    geo = web.geo
    title = f"违规停车{uuid.uuid4().hex[:6]}"
    with web.client("op-1") as op:
        rejected = open_case(op, web.geo, category="streetlight", title=title, description="已处理")
        r = act(op, rejected, "reject", {"reason": "重复诉求"})
        assert r.status_code == 200, r.text
    params = {"grid_id": geo.grid, "category": "streetlight", "text": title, "limit": 50}
    deadline = time.monotonic() + 30
    while True:
        found = {i["case_id"]: i for i in ok(web, "op-1", "/registry/similar", **params)["items"]}
        if found.get(rejected, {}).get("status") == "rejected" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert found[rejected]["open"] is False and found[rejected]["status"] == "rejected"
    assert rejected not in {i["case_id"] for i in ok(web, "op-1", "/registry/similar", **params, days=0)["items"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "nope"}, {("query.category", "registry.unknown_category")}),
        ({"grid_id": "G-NOPE"}, {("query.grid_id", "registry.unknown_location")}),
        ({"days": -1}, {("query.days", "greater_than_equal")}),
        ({"days": 367}, {("query.days", "less_than_equal")}),
        ({"limit": 51}, {("query.limit", "less_than_equal")}),
        ({"text": "x" * 501}, {("query.text", "string_too_long")}),
        ({"grid": "G-1"}, {("query.grid", "extra_forbidden")}),
    ],
)
def test_similar_bad_input(web: ApiStack, params: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    query = {"grid_id": web.geo.grid, "category": "noise", **params}
    assert fields(get(web, "op-1", "/registry/similar", **query)) == expected


def test_similar_needs_a_grid_and_a_category(web: ApiStack) -> None:
    missing = {("query.grid_id", "missing"), ("query.category", "missing")}
    assert fields(get(web, "op-1", "/registry/similar")) == missing
