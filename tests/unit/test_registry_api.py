"""The registry routes (``workers/api/routes/registry.py``): unit listing and place search on the small
test city and on the seed city (Chinese names), and the routes in process (FastAPI's test client):
shapes, bad input naming the field and the rule, staff only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert

from city.files import read_city
from city.registry import SqlCityRegistry
from city.seed import SEED_DIR
from events.base import Role
from readmodel import tables as t
from tests.unit.test_api_routes import FakeCases
from tests.unit.test_city_files import tiny_city
from workers.api.app import create_app
from workers.api.routes.registry import list_units, place_of, search_places
from workers.api.users import UserStore
from workers.settings import Settings
from workflows.domain.registry import sample_city


@pytest.fixture(scope="module")
def reg() -> SqlCityRegistry:
    return SqlCityRegistry(tiny_city(), "v1")


@pytest.fixture(scope="module")
def seed() -> SqlCityRegistry:
    return SqlCityRegistry(read_city(SEED_DIR), "seed")


# --- units ---------------------------------------------------------------------------------------


def test_units_of_each_kind_with_their_place(reg: SqlCityRegistry) -> None:
    assert [u.id for u in list_units(reg, kind="street")] == ["S-1", "S-2"]
    assert [u.id for u in list_units(reg, kind="community")] == ["C-10", "C-11", "C-20"]
    assert len(list_units(reg, kind="grid")) == 6
    assert {u.id for u in list_units(reg, kind="department")} == {"urban-management", "water", "environment"}
    g = next(u for u in list_units(reg, kind="grid") if u.id == "G-111")
    assert (g.name, g.street_id, g.street_name, g.community_id, g.district_id) == (
        "通道街北",
        "S-1",
        "通道街道",
        "C-11",
        "D-1",
    )
    c = list_units(reg, kind="community")[2]
    assert (c.street_id, c.community_id, c.district_id) == ("S-2", "C-20", "D-1")
    d = list_units(reg, kind="department", q="water")[0]
    assert (d.name, d.street_id, d.district_id) == ("水务局", None, None)
    assert [u.kind for u in list_units(reg, limit=500)].count("department") == 3
    assert len(list_units(reg, limit=500)) == 3 + 2 + 3 + 6


@pytest.mark.parametrize(
    ("kind", "q", "expected"),
    [
        ("grid", "广场", ["G-201", "G-202"]),  # contained in the name
        ("grid", "海亮", ["G-202"]),
        ("grid", "g-20", ["G-201", "G-202", "G-203"]),  # id prefix, case-insensitive
        ("grid", "G-203", ["G-203"]),
        ("grid", "满都海公园", ["G-203"]),
        ("grid", "nothing", []),
        ("street", "新华", ["S-2"]),
        ("street", "s-1", ["S-1"]),
        ("community", "社区", ["C-10", "C-11", "C-20"]),
        ("department", "局", ["urban-management", "water", "environment"]),
        ("department", "环境", ["environment"]),
        ("department", "ENVIRONMENT", ["environment"]),
        ("grid", "  海亮 ", ["G-202"]),  # blanks around the text are ignored
    ],
)
def test_units_match_id_or_name(reg: SqlCityRegistry, kind: Any, q: str, expected: list[str]) -> None:
    assert [u.id for u in list_units(reg, kind=kind, q=q)] == expected


def test_best_match_first(reg: SqlCityRegistry) -> None:
    # the exact name first, then names starting with the text (street S-1 before community C-11)
    assert next(u.id for u in list_units(reg, q="通道街道")) == "S-1"
    ranked = [u.id for u in list_units(reg, kind="grid", q="广场")]
    assert ranked == ["G-201", "G-202"]
    # an exact id beats names containing it
    assert next(u.id for u in list_units(reg, q="water")) == "water"


def test_units_of_a_street_and_the_limit(reg: SqlCityRegistry) -> None:
    assert [u.id for u in list_units(reg, kind="grid", street="S-1")] == ["G-101", "G-102", "G-111"]
    assert [u.id for u in list_units(reg, kind="community", street="S-2")] == ["C-20"]
    assert [u.id for u in list_units(reg, kind="street", street="S-2")] == ["S-2"]
    assert len(list_units(reg, kind="department", street="S-2")) == 3  # the whole city's
    assert len(list_units(reg, kind="grid", limit=2)) == 2


# --- places --------------------------------------------------------------------------------------


def test_a_place_is_inside_its_grid(reg: SqlCityRegistry) -> None:
    for g in reg.grids():
        p = place_of(reg, g)
        assert reg.grid_at(p.lat, p.lon) == g.id
        assert p.address == f"{p.street_name}{p.grid_name}"
        assert (p.community_name, p.district_name) == (reg.communities[g.community_id].name, "新城区")


@pytest.mark.parametrize(
    ("q", "first", "also"),
    [
        ("G-202", "G-202", set()),
        ("g-202", "G-202", set()),
        ("海亮广场", "G-202", set()),
        ("新华街道海亮广场3号楼", "G-202", set()),  # an address
        ("广场", "G-201", {"G-202"}),
        ("新华社区", "G-201", {"G-202", "G-203"}),  # a community's grids
        ("通道街道", "G-101", {"G-102", "G-111"}),  # a street's grids
        ("通道社区5号院", "G-111", set()),  # names only its community
        ("新华街道某路12号", "G-201", {"G-202", "G-203"}),  # names only its street
    ],
)
def test_search(reg: SqlCityRegistry, q: str, first: str, also: set[str]) -> None:
    found = [p.grid_id for p in search_places(reg, q)]
    assert found[0] == first
    assert also <= set(found)
    assert len(found) == len(set(found))


def test_search_keeps_the_address_it_was_given(reg: SqlCityRegistry) -> None:
    p = search_places(reg, "新华街道海亮广场3号楼")[0]
    assert p.address == "新华街道海亮广场3号楼"
    assert search_places(reg, "广场")[0].address == "新华街道新华广场"


def test_search_finds_nothing_for_unknown_text(reg: SqlCityRegistry) -> None:
    assert search_places(reg, "火星基地") == []


def test_search_limit(reg: SqlCityRegistry) -> None:
    assert len(search_places(reg, "G-", limit=2)) == 2


def test_search_in_the_seed_city(seed: SqlCityRegistry) -> None:
    import random

    rng = random.Random(7)
    for gid in rng.sample(seed.grid_ids(), 20):
        address = seed.random_address(gid, rng)
        assert search_places(seed, address)[0].grid_id == gid
        g = seed.grid(gid)
        assert gid in {p.grid_id for p in search_places(seed, g.name, limit=100)}


# --- the routes in process -----------------------------------------------------------------------

PEOPLE: dict[str, tuple[Role, str | None]] = {
    "op-1": (Role.DISPATCHER, None),
    "street-1": (Role.STREET, "S-1"),
    "street-2": (Role.STREET, "S-2"),
    "env-1": (Role.DEPARTMENT, "environment"),
    "resident-1": (Role.RESIDENT, None),
}


class Client:
    def __init__(self, http: TestClient, tokens: dict[str, str], engine: Any) -> None:
        self.http, self.tokens, self.engine = http, tokens, engine

    def get(self, user: str, url: str, **params: Any) -> Any:
        return self.http.get(url, params=params, headers={"Authorization": f"Bearer {self.tokens[user]}"})


def _client(tmp_path: Path, registry: Any) -> Iterator[Client]:
    engine = create_engine(f"sqlite:///{tmp_path / 'api.db'}")
    t.metadata.create_all(engine)
    store = UserStore(engine)
    store.create_tables()
    tokens = {}
    for person, (role, unit) in PEOPLE.items():
        store.add_user(person, person, role, unit)
        tokens[person], _ = store.issue_token(person)
    app = create_app(Settings(), cases=FakeCases(), engine=engine, registry=registry, live=False)  # type: ignore[arg-type]
    with TestClient(app) as http:
        yield Client(http, tokens, engine)
    engine.dispose()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, reg: SqlCityRegistry) -> Iterator[Client]:
    yield from _client(tmp_path_factory.mktemp("registry"), reg)


def _fields(r: Any) -> set[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return {(e["field"], e["rule"]) for e in r.json()["errors"]}


def test_categories(api: Client) -> None:
    r = api.get("op-1", "/registry/categories")
    assert r.status_code == 200, r.text
    items = {c["code"]: c for c in r.json()["items"]}
    assert set(items) == {"noise", "water", "illegal-parking", "garbage"}
    assert items["water"] == {
        "code": "water",
        "name": "Water outage",
        "name_zh": "停水",
        "group": "公用事业",
        "kind": "event",
        "default_urgency": "urgent",
        "route": "department",
        "departments": ["water"],
        "needs_whistle": False,
    }
    assert items["illegal-parking"]["needs_whistle"] is True


def test_units_route(api: Client) -> None:
    r = api.get("street-1", "/registry/units", kind="grid", q="广场")
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["items"]] == ["G-201", "G-202"]
    assert set(r.json()["items"][0]) == {
        "kind",
        "id",
        "name",
        "street_id",
        "street_name",
        "community_id",
        "district_id",
        "communities",
    }
    assert _fields(api.get("op-1", "/registry/units", kind="district")) == {("query.kind", "literal_error")}
    assert _fields(api.get("op-1", "/registry/units", community="C-9")) == {
        ("query.community", "registry.unknown_unit")
    }
    assert _fields(api.get("op-1", "/registry/units", street="S-9")) == {("query.street", "registry.unknown_unit")}
    assert _fields(api.get("op-1", "/registry/units", limit=0)) == {("query.limit", "greater_than_equal")}
    assert _fields(api.get("op-1", "/registry/units", limit=501)) == {("query.limit", "less_than_equal")}
    assert _fields(api.get("op-1", "/registry/units", kinds="grid")) == {("query.kinds", "extra_forbidden")}


@pytest.mark.parametrize(
    ("category", "grid", "unit", "departments", "whistle"),
    [
        ("noise", "G-202", ("street", "S-2", "新华街道"), [("environment", "生态环境局")], False),
        ("garbage", "G-111", ("grid", "G-111", "通道街北"), [], False),
        ("water", "G-101", ("department", "water", "水务局"), [("water", "水务局")], False),
        ("illegal-parking", "G-101", ("street", "S-1", "通道街道"), [("urban-management", "城管局")], True),
    ],
)
def test_route_suggestion(
    api: Client, category: str, grid: str, unit: tuple[str, str, str], departments: list[Any], whistle: bool
) -> None:
    r = api.get("op-1", "/registry/route", category=category, grid_id=grid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["unit"]["kind"], body["unit"]["id"], body["unit"]["name"]) == unit
    assert [(d["id"], d["name"]) for d in body["departments"]] == departments
    assert all(d["kind"] == "department" for d in body["departments"])
    assert body["needs_whistle"] is whistle


def test_route_bad_input(api: Client) -> None:
    assert _fields(api.get("op-1", "/registry/route", category="nope", grid_id="G-101")) == {
        ("query.category", "registry.unknown_category")
    }
    assert _fields(api.get("op-1", "/registry/route", category="noise", grid_id="G-999")) == {
        ("query.grid_id", "registry.unknown_location")
    }
    assert _fields(api.get("op-1", "/registry/route", category="noise")) == {("query.grid_id", "missing")}


def test_search_and_locate_routes(api: Client, reg: SqlCityRegistry) -> None:
    r = api.get("op-1", "/registry/search", q="海亮广场2号楼")
    assert r.status_code == 200, r.text
    first = r.json()["items"][0]
    assert (first["grid_id"], first["street_name"], first["address"]) == ("G-202", "新华街道", "海亮广场2号楼")
    assert _fields(api.get("op-1", "/registry/search", q="")) == {("query.q", "string_too_short")}
    assert _fields(api.get("op-1", "/registry/search", q="   ")) == {("query.q", "string_too_short")}
    assert _fields(api.get("op-1", "/registry/search", q="x" * 201)) == {("query.q", "string_too_long")}
    p = place_of(reg, reg.grid("G-203"))
    r = api.get("street-1", "/registry/locate", lat=p.lat, lon=p.lon)
    assert r.status_code == 200, r.text
    assert r.json()["grid_id"] == "G-203" and r.json()["community_name"] == "新华社区"
    assert _fields(api.get("op-1", "/registry/locate", lat=10, lon=10)) == {
        ("query.lat", "registry.unknown_location"),
        ("query.lon", "registry.unknown_location"),
    }
    assert _fields(api.get("op-1", "/registry/locate", lat=91, lon=10)) == {("query.lat", "less_than_equal")}
    assert _fields(api.get("op-1", "/registry/locate", lat="north", lon=10)) == {("query.lat", "float_parsing")}
    assert _fields(api.get("op-1", "/registry/locate", lat=40.8)) == {("query.lon", "missing")}


def test_summary(api: Client) -> None:
    r = api.get("env-1", "/registry/summary")
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("districts", "streets", "communities", "grids", "departments", "categories")} == {
        "districts": 1,
        "streets": 2,
        "communities": 3,
        "grids": 6,
        "departments": 3,
        "categories": 4,
    }
    assert (body["name"], body["version"], body["staff"]) == ("小城", "v1", 18)
    assert len(body["bounds"]) == 4


@pytest.fixture(scope="module")
def api_with_sections(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    from tests.unit.test_city_sections import city_with_sections

    yield from _client(tmp_path_factory.mktemp("sections"), SqlCityRegistry(city_with_sections(), "v2"))


@pytest.mark.parametrize(
    ("user", "unit", "name", "items"),
    [
        ("op-1", "street:S-1", "通道街道", [("urban", "城市管理科"), ("community-affairs", "社区建设科")]),
        ("street-2", "street:S-1", "通道街道", [("urban", "城市管理科"), ("community-affairs", "社区建设科")]),
        ("env-1", "department:water", "水务局", [("supply", "供水科")]),
        ("op-1", "grid:G-101", "青城花园", [("patrol.1", "巡查一组")]),
        ("op-1", "department:environment", "生态环境局", []),  # a unit without sections
    ],
)
def test_sections_route(api_with_sections: Client, user: str, unit: str, name: str, items: list[Any]) -> None:
    r = api_with_sections.get(user, "/registry/sections", unit=unit)
    assert r.status_code == 200, r.text
    body = r.json()
    kind, _, unit_id = unit.partition(":")
    assert body["unit"] == {"kind": kind, "id": unit_id, "name": name}
    assert [(i["id"], i["name"]) for i in body["items"]] == items


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"unit": "street:S-9"}, {("query.unit", "registry.unknown_unit")}),
        ({"unit": "department:police"}, {("query.unit", "registry.unknown_unit")}),
        ({"unit": "S-1"}, {("query.unit", "string_pattern_mismatch")}),
        ({"unit": "community:C-10"}, {("query.unit", "string_pattern_mismatch")}),
        ({"unit": "hotline:12345"}, {("query.unit", "string_pattern_mismatch")}),
        ({"unit": "street:"}, {("query.unit", "string_pattern_mismatch")}),
        ({"unit": "street:S 1"}, {("query.unit", "string_pattern_mismatch")}),
        ({"unit": "grid:" + "G" * 129}, {("query.unit", "string_pattern_mismatch")}),
        ({}, {("query.unit", "missing")}),
    ],
)
def test_sections_route_bad_unit(api_with_sections: Client, params: dict[str, str], fields: set[Any]) -> None:
    assert _fields(api_with_sections.get("op-1", "/registry/sections", **params)) == fields


def test_sections_route_message_names_the_unit(api_with_sections: Client) -> None:
    r = api_with_sections.get("op-1", "/registry/sections", unit="street:S-9")
    assert r.json()["errors"][0]["message"] == "unknown street 'S-9'"


def test_similar_route(api: Client) -> None:
    now = datetime.now(UTC)
    with api.engine.begin() as conn:
        for case_id, grid, street, title in [
            ("C-A", "G-101", "S-1", "工地夜间施工噪音"),
            ("C-B", "G-102", "S-1", "夜间施工"),
            ("C-C", "G-201", "S-2", "夜间施工"),
        ]:
            conn.execute(
                insert(t.cases).values(
                    case_id=case_id,
                    status="received",
                    category="noise",
                    title=title,
                    district_id="D-1",
                    street_id=street,
                    community_id="C-10",
                    grid_id=grid,
                    opened_at=now,
                    last_seq=1,
                )
            )
    r = api.get("op-1", "/registry/similar", grid_id="G-101", category="noise", text="夜间施工噪音")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["case_id"], i["match"]) for i in items] == [("C-A", "grid"), ("C-B", "street")]
    assert set(items[0]) == {
        "case_id",
        "title",
        "status",
        "opened_at",
        "grid_id",
        "street_id",
        "category",
        "open",
        "match",
        "score",
    }
    assert api.get("street-2", "/registry/similar", grid_id="G-101", category="noise").json()["items"] == []
    assert _fields(api.get("op-1", "/registry/similar", grid_id="G-101", category="x")) == {
        ("query.category", "registry.unknown_category")
    }
    assert _fields(api.get("op-1", "/registry/similar", grid_id="G-9", category="noise")) == {
        ("query.grid_id", "registry.unknown_location")
    }
    assert _fields(api.get("op-1", "/registry/similar", grid_id="G-101", category="noise", days=400)) == {
        ("query.days", "less_than_equal")
    }
    assert _fields(api.get("op-1", "/registry/similar", category="noise")) == {("query.grid_id", "missing")}


@pytest.mark.parametrize(
    "url",
    [
        "/registry/categories",
        "/registry/units",
        "/registry/route?category=noise&grid_id=G-101",
        "/registry/search?q=广场",
        "/registry/locate?lat=40.805&lon=111.605",
        "/registry/summary",
        "/registry/similar?grid_id=G-101&category=noise",
        "/registry/sections?unit=street:S-1",
    ],
)
def test_staff_only(api: Client, url: str) -> None:
    r = api.http.get(url, headers={"Authorization": f"Bearer {api.tokens['resident-1']}"})
    assert r.status_code == 403 and r.json()["rule"] == "role.not_allowed"
    assert api.http.get(url).status_code == 401


def test_without_the_registry_s_names_it_is_unavailable(tmp_path: Path) -> None:
    for api in _client(tmp_path, sample_city()):
        r = api.get("op-1", "/registry/categories")
        assert r.status_code == 503 and r.json()["rule"] == "registry.unavailable"
        r = api.get("op-1", "/registry/sections", unit="street:S-1")
        assert r.status_code == 503 and r.json()["rule"] == "registry.unavailable"
