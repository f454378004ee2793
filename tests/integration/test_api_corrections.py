"""Corrections by the hotline through the HTTP API on the real stack: 改址 to a place the city registry
resolves from a grid id, a point or an address (a place that leaves the handling street's territory
gives the case back for dispatch), 改类 to a category of the city catalogue, 加急; each place or
category the registry does not know refused with its field and rule, and nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_api_support import ApiStack, act, open_case, start_api_stack, street_case
from workers.settings import Settings

pytestmark = pytest.mark.integration

#: The correction forms the workspace's form tests read (``case-corrections.test.ts``).
FIXTURE = Path(__file__).resolve().parents[2] / "workers/api/web/tests/unit/case-corrections.fixture.json"


@pytest.fixture(scope="module")
def api(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    stack = start_api_stack(stack_settings, Path(tmp_path_factory.mktemp("api-corrections")))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def city(api: ApiStack) -> Any:
    from workers.composition import build_registry

    return build_registry(api.settings)


def _case(http: httpx.Client, cid: str) -> dict[str, Any]:
    r = http.get(f"/cases/{cid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _seq(http: httpx.Client, cid: str) -> int:
    return max(e["seq"] for e in _case(http, cid)["timeline"])


def _rules(r: httpx.Response) -> set[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return {(e["field"], e["rule"]) for e in r.json()["errors"]}


def _unique_address(city: Any, grid_id: str) -> str:
    """An address the registry matches to ``grid_id`` alone (its name, with its street's if needed)."""
    grid = city.grid(grid_id)
    for address in (f"{grid.name}2号楼", f"{city.streets[grid.street_id].name}{grid.name}2号楼"):
        try:
            if city.grid_for_address(address) == grid_id:
                return address
        except Exception:  # an ambiguous name: try with the street's
            continue
    pytest.skip(f"no address matches grid {grid_id} alone")


def _inside(city: Any, grid_id: str) -> tuple[float, float]:
    point = city._polygon_of[grid_id].representative_point()
    lat, lon = round(point.y, 6), round(point.x, 6)
    assert city.grid_at(lat, lon) == grid_id
    return lat, lon


def test_the_hotline_is_offered_the_corrections_with_their_forms(api: ApiStack) -> None:
    with api.client("op-1") as op:
        cid = open_case(op, api.geo)
        actions = {a["name"]: a for a in op.get(f"/cases/{cid}/actions").json()["actions"]}
    assert {"reclassify", "set_urgency", "relocate"} <= set(actions)
    assert actions["relocate"]["form"]["properties"]["location"]["x-widget"] == "location"
    assert actions["reclassify"]["form"]["properties"]["category"]["x-widget"] == "choice"
    assert "enum" not in actions["reclassify"]["form"]["properties"]["category"]  # the registry lists them
    fixture = {a["name"]: a for a in json.loads(FIXTURE.read_text())["actions"]}
    assert set(fixture) == {"reclassify", "set_urgency", "relocate"}
    for name, expected in fixture.items():  # what the workspace's tests fill in is what the API serves
        assert actions[name] == expected, f"{name}: regenerate {FIXTURE.name}"
    with api.client("street-1") as street:
        offered = {a["name"] for a in street.get(f"/cases/{street_case(api)}/actions").json()["actions"]}
    assert not {"reclassify", "set_urgency", "relocate"} & offered


def test_relocate_resolves_a_grid_a_point_and_an_address_in_the_registry(api: ApiStack, city: Any) -> None:
    same_street = next(g.id for g in city.grids(street_id=api.geo.street) if g.id != api.geo.grid)
    lat, lon = _inside(city, same_street)
    address = _unique_address(city, same_street)
    cid = street_case(api)
    with api.client("op-1") as op:
        for given in ({"grid_id": same_street}, {"lat": lat, "lon": lon}, {"address": address}):
            r = act(op, cid, "relocate", {"location": given, "reason": "地址有误"})
            assert r.status_code == 200, (given, r.text)
            case = _case(op, cid)
            expected = city.locate(**given).model_dump(mode="json")
            assert case["location"] == expected, given
            assert case["location"]["grid_id"] == same_street
            assert (case["status"], case["unit"]) == ("handling", {"kind": "street", "id": api.geo.street})
            [*_, moved] = [e for e in case["timeline"] if e["type"] == "case.relocated"]
            assert moved["details"]["recalled"] is False and moved["details"]["location"] == expected
        again = act(op, cid, "relocate", {"location": {"address": address}, "reason": "再改"})
        assert again.status_code == 409 and again.json()["rule"] == "relocate.same", again.text


def test_relocate_out_of_the_streets_territory_gives_the_case_back_for_dispatch(api: ApiStack, city: Any) -> None:
    cid = street_case(api)
    with api.client("op-1") as op:
        r = act(op, cid, "relocate", {"location": {"grid_id": api.geo.other_grid}, "reason": "不在本街道"})
        assert r.status_code == 200, r.text
        case = _case(op, cid)
        assert case["location"] == city.locate(grid_id=api.geo.other_grid).model_dump(mode="json")
        assert case["location"]["street_id"] == api.geo.other_street
        assert (case["status"], case["unit"]) == ("registered", None)
        assert all(c["status"] in ("cancelled", "met", "late") for c in case["clocks"]), case["clocks"]
        [moved] = [e for e in case["timeline"] if e["type"] == "case.relocated"]
        assert moved["details"]["recalled"] is True
        r = act(op, cid, "dispatch", {"unit": {"kind": "street", "id": api.geo.other_street}})
        assert r.status_code == 200, r.text
    with api.client("street-1") as street:  # the first street no longer has it
        assert act(street, cid, "contact").status_code in (403, 409)


def test_a_place_the_registry_does_not_know_is_a_field_error_and_writes_nothing(api: ApiStack, city: Any) -> None:
    w, s, e, n = city.bounds
    cid = street_case(api)
    refused = [
        ({"grid_id": "G-NOWHERE"}, {("body.location.grid_id", "registry.unknown_location")}),
        ({"lat": s - 1.0, "lon": w - 1.0}, {("body.location", "registry.unknown_location")}),
        ({"lat": n + 0.5, "lon": e + 0.5}, {("body.location", "registry.unknown_location")}),
        ({"address": "火星大道1号"}, {("body.location.address", "registry.unknown_location")}),
        ({"lat": (s + n) / 2}, {("body.location", "location.coordinates")}),
        ({}, {("body.location", "registry.unknown_location")}),
        ({"grid_id": api.geo.grid, "street_id": api.geo.street}, {("body.location.street_id", "extra_forbidden")}),
    ]
    with api.client("op-1") as op:
        before, where = _seq(op, cid), _case(op, cid)["location"]
        for given, rules in refused:
            assert _rules(act(op, cid, "relocate", {"location": given, "reason": "地址有误"})) == rules, given
        assert _seq(op, cid) == before and _case(op, cid)["location"] == where
    with api.client("street-1") as street:  # not the hotline's: refused whatever the place
        r = act(street, cid, "relocate", {"location": {"grid_id": api.geo.other_grid}, "reason": "x"})
        assert r.status_code == 403, r.text


def test_reclassify_takes_a_category_of_the_city_catalogue_and_writes_nothing_else(api: ApiStack, city: Any) -> None:
    codes = [cat.code for cat in city.categories()]
    other = next(code for code in codes if code != "noise")
    with api.client("op-1") as op:
        cid = open_case(op, api.geo, category="noise")
        before = _seq(op, cid)
        for code in ("nosie", "NOISE", "noise ", "噪音"):
            assert code not in codes
            r = act(op, cid, "reclassify", {"category": code, "reason": "类别有误"})
            assert _rules(r) == {("body.category", "registry.unknown_category")}, (code, r.text)
        assert _seq(op, cid) == before and _case(op, cid)["category"] == "noise"
        same = act(op, cid, "reclassify", {"category": "noise", "reason": "x"})
        assert same.status_code == 409 and same.json()["rule"] == "reclassify.same", same.text
        r = act(op, cid, "reclassify", {"category": other, "reason": "类别有误"})
        assert r.status_code == 200, r.text
        case = _case(op, cid)
        assert case["category"] == other
        [event] = [e for e in case["timeline"] if e["type"] == "case.reclassified"]
        assert (event["details"]["previous_category"], event["details"]["category"]) == ("noise", other)


def test_set_urgency_raises_and_lowers(api: ApiStack) -> None:
    with api.client("op-1") as op:
        cid = open_case(op, api.geo, category="noise", urgency="ordinary")
        assert ("body.urgency", "enum") in _rules(act(op, cid, "set-urgency", {"urgency": "asap", "reason": "x"}))
        for urgency in ("urgent", "ordinary"):
            r = act(op, cid, "set-urgency", {"urgency": urgency, "reason": "核实后调整"})
            assert r.status_code == 200, r.text
            assert _case(op, cid)["urgency"] == urgency
        same = act(op, cid, "set-urgency", {"urgency": "ordinary", "reason": "x"})
        assert same.status_code == 409 and same.json()["rule"] == "set_urgency.same", same.text
