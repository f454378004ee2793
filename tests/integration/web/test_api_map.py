"""The map's API on the real stack: grids of each jurisdiction, counts per grid, case points.

``GET /map/grids`` (GeoJSON, gzip, ETag), ``GET /map/stats`` and ``GET /map/points``, with cases
opened through the API and projected by the real projector.
"""

from __future__ import annotations

import gzip
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import shapely

from tests.integration.test_api_support import ApiStack, act, open_case

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry(web: ApiStack) -> Any:
    from workers.composition import build_registry

    return build_registry(web.settings)


def until(check: Callable[[], Any], timeout: float = 30.0, what: str = "the read model") -> Any:
    """Poll ``check`` until it returns something truthy (the projector is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def points_of(http: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    r = http.get("/map/points", params=params)
    assert r.status_code == 200, r.text
    return {p["case_id"]: p for p in r.json()["items"]}


def errors_of(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {e["field"]: e["rule"] for e in r.json()["errors"]}


# --- grids -------------------------------------------------------------------------------------


def test_the_hotline_gets_every_grid_as_compressed_cacheable_geojson(web: ApiStack, registry: Any) -> None:
    with web.client("op-1") as http:
        r = http.get("/map/grids", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/geo+json")
        assert r.headers["content-encoding"] == "gzip"
        assert int(r.headers["content-length"]) < 400_000  # ~2 MB of GeoJSON, well compressed
        assert "private" in r.headers["cache-control"]
        etag = r.headers["etag"]
        doc = r.json()
        assert doc["type"] == "FeatureCollection"
        assert len(doc["features"]) == len(registry.grid_ids()) == 3779
        first = doc["features"][0]
        g = registry.grid(first["id"])
        assert first["properties"]["grid_id"] == g.id
        assert first["properties"]["street_id"] == g.street_id
        assert first["properties"]["street"] == registry.streets[g.street_id].name
        assert first["properties"]["district"] == registry.districts[g.district_id].name
        assert first["geometry"]["type"] == "Polygon"
        ring = first["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1]
        assert all(len(str(v).split(".")[-1]) <= 6 for pt in ring for v in pt)
        # the drawn shape is the registry's, to the rounding
        assert shapely.Polygon(ring).symmetric_difference(registry.polygon(g.id)).area < 1e-9
        w, s, e, n = registry.bounds
        assert doc["bbox"] == pytest.approx([w, s, e, n], abs=1e-6)

        again = http.get("/map/grids", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
        plain = http.get("/map/grids", headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
        assert gzip.compress(plain.content) and plain.json() == doc
        other = http.get("/map/grids", headers={"If-None-Match": '"grids-stale"'})
        assert other.status_code == 200


@pytest.mark.parametrize(
    ("user", "attr", "unit"),
    [
        ("street-1", "street_id", "street"),
        ("community-1", "community_id", "community"),
        ("grid-1", "grid_id", "grid"),
        ("sv-district", "district_id", "district"),
    ],
)
def test_a_local_user_gets_only_the_grids_of_its_territory(
    web: ApiStack, registry: Any, user: str, attr: str, unit: str
) -> None:
    unit_id = getattr(web.geo, unit)
    with web.client(user) as http:
        r = http.get("/map/grids")
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    expected = [g.id for g in registry.grids() if getattr(g, "id" if attr == "grid_id" else attr) == unit_id]
    assert [f["id"] for f in features] == expected and expected
    assert all(f["properties"][attr] == unit_id for f in features)
    with web.client("op-1") as http:
        assert http.get("/map/grids").headers["etag"] != r.headers["etag"]


def test_every_grid_for_a_city_supervisor_and_a_department_none_for_an_unknown_district(web: ApiStack) -> None:
    for user in ("sv-city", "env-1"):
        with web.client(user) as http:
            assert len(http.get("/map/grids").json()["features"]) == 3779, user
    with web.client("sv-other") as http:  # district D-99 has no grid
        doc = http.get("/map/grids").json()
    assert doc["features"] == [] and doc["bbox"] == []


def test_residents_and_strangers_get_no_map(web: ApiStack) -> None:
    with web.client("resident-1") as http:
        for path in ("/map/grids", "/map/stats", "/map/points"):
            r = http.get(path)
            assert r.status_code == 403 and r.json()["rule"] == "role.not_allowed", path
    with web.client() as http:
        assert http.get("/map/grids").status_code == 401
        assert http.get("/map/stats").json()["rule"] == "auth.missing"


# --- bad input ----------------------------------------------------------------------------------


def test_bad_queries_name_the_field_and_the_rule(web: ApiStack) -> None:
    with web.client("op-1") as http:
        assert errors_of(http.get("/map/points", params={"grid_id": "G-NOPE"})) == {
            "query.grid_id": "registry.unknown_location"
        }
        assert "query.limit" in errors_of(http.get("/map/points", params={"limit": 0}))
        assert "query.limit" in errors_of(http.get("/map/points", params={"limit": 5001}))
        assert "query.open_only" in errors_of(http.get("/map/points", params={"open_only": "yes"}))
        assert errors_of(http.get("/map/stats", params={"grid": "x"})) == {"query.grid": "extra_forbidden"}
    with web.client("street-1") as http:
        r = http.get("/map/points", params={"grid_id": web.geo.other_grid})
    assert r.status_code == 403 and r.json()["rule"] == "jurisdiction.street"


# --- stats and points ---------------------------------------------------------------------------


def test_a_new_case_counts_in_its_grid_with_its_point_for_those_who_see_it(web: ApiStack, registry: Any) -> None:
    grid = web.geo.grid
    lat, lon = registry.random_point(grid, random.Random(17))
    with web.client("op-1") as http:
        placed = open_case(http, web.geo, location={"lat": lat, "lon": lon}, title="地图测试 有坐标")
        by_grid = open_case(http, web.geo, title="地图测试 按网格")
        pts = until(
            lambda: (p := points_of(http, grid_id=grid, limit=5000)) and placed in p and by_grid in p and p,
            what="both cases on the map",
        )
        stats = http.get("/map/stats").json()
    exact, approx = pts[placed], pts[by_grid]
    assert (exact["lat"], exact["lon"], exact["approximate"]) == (lat, lon, False)
    assert exact["grid_id"] == grid and exact["status"] == "received" and exact["title"] == "地图测试 有坐标"
    assert exact["breached"] is False
    assert approx["approximate"] is True
    assert registry.grid_at(approx["lat"], approx["lon"]) == grid  # the grid's own representative point
    opened, breached, warned = stats["grids"][grid]
    assert opened >= 2 and 0 <= breached <= opened and 0 <= warned <= opened
    assert stats["totals"][0] == sum(v[0] for v in stats["grids"].values())
    assert all(v[0] > 0 for v in stats["grids"].values())  # grids without open cases are left out

    with web.client("street-1") as http:  # its own street
        assert placed in points_of(http, grid_id=grid)
        assert grid in http.get("/map/stats").json()["grids"]
    with web.client("street-2") as http:  # another street: neither the grid's counts nor its points
        assert grid not in http.get("/map/stats").json()["grids"]
        assert placed not in points_of(http, limit=5000)
    with web.client("env-1") as http:  # a department sees only what it was sent
        assert placed not in points_of(http, limit=5000)

    # finished cases leave the open counts and the default points, but stay findable
    with web.client("op-1") as http:
        r = act(http, by_grid, "reject", {"reason": "不属于受理范围"})
        assert r.status_code == 200, r.text
        until(lambda: by_grid not in points_of(http, grid_id=grid, limit=5000), what="the rejected case to leave")
        finished = points_of(http, grid_id=grid, open_only="false", limit=5000)
    assert finished[by_grid]["status"] == "rejected"


def test_points_are_capped_and_breached_come_first(web: ApiStack) -> None:
    with web.client("op-1") as http:
        open_case(http, web.geo, title="地图测试 上限")
        r = until(lambda: (x := http.get("/map/points", params={"limit": 1}).json()) and x["items"] and x)
        everything = http.get("/map/points", params={"limit": 5000}).json()
    assert len(r["items"]) == 1 and r["limit"] == 1
    assert r["truncated"] is (len(everything["items"]) > 1)
    flags = [p["breached"] for p in everything["items"]]
    assert flags == sorted(flags, reverse=True)
