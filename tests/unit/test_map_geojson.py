"""The map's pure parts: GeoJSON of the grids, jurisdictions as territories, ETags, the read-model
conditions of each role, and the read model's case point."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from datetime import UTC, datetime

import pytest
import shapely
from sqlalchemy import create_engine, insert, select

from city.files import read_city
from city.registry import SqlCityRegistry
from city.seed import SEED_DIR
from events.base import Role
from readmodel import tables as t
from readmodel.projection import CaseView, apply_event
from workers.api.auth import AuthError, Principal
from workers.api.routes.map import (
    _etag_matches,
    _GridCache,
    case_conditions,
    feature_collection,
    geometry_of,
    grid_feature,
    grids_of,
    round_ring,
    territory_of,
)


@pytest.fixture(scope="module")
def registry() -> SqlCityRegistry:
    return SqlCityRegistry(read_city(SEED_DIR), "seed-1")


# --- rounding and geometry ---------------------------------------------------------------------


@pytest.mark.parametrize("precision", [0, 3, 6])
def test_rounded_rings_stay_closed_without_repeats(precision: int) -> None:
    rng = random.Random(precision)
    for _ in range(200):
        n = rng.randint(3, 12)
        pts = [(111 + rng.random() / 10**precision, 40 + rng.random() / 10**precision) for _ in range(n)]
        ring = round_ring([*pts, pts[0]], precision)
        assert ring[0] == ring[-1]
        assert all(a != b for a, b in itertools.pairwise(ring))
        assert all(round(v, precision) == v for pt in ring for v in pt)


def test_a_ring_that_rounds_to_one_point_is_still_closed() -> None:
    assert round_ring([(1.0000001, 2.0), (1.0000002, 2.0), (1.0000001, 2.0)], 3) == [[1.0, 2.0]]
    assert round_ring([], 6) == []


def test_polygons_with_holes_and_multipolygons() -> None:
    outer = [(0, 0), (4, 0), (4, 4), (0, 4), (0, 0)]
    hole = [(1, 1), (2, 1), (2, 2), (1, 2), (1, 1)]
    g = geometry_of(shapely.Polygon(outer, [hole]))
    assert g["type"] == "Polygon" and len(g["coordinates"]) == 2
    m = geometry_of(shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)]))
    assert m["type"] == "MultiPolygon" and len(m["coordinates"]) == 2
    with pytest.raises(ValueError, match="polygon"):
        geometry_of(shapely.Point(0, 0))


def test_every_seed_grid_keeps_its_shape_within_the_rounding(registry: SqlCityRegistry) -> None:
    names = {**{s.id: s.name for s in registry.streets.values()}}
    for info in registry.grids():
        poly = registry.polygon(info.id)
        f = grid_feature(info, poly, names)
        drawn = shapely.Polygon(f["geometry"]["coordinates"][0])
        assert drawn.is_valid, info.id
        assert drawn.symmetric_difference(poly).area <= 1e-6 * poly.area + 1e-12, info.id
        assert f["id"] == f["properties"]["grid_id"] == info.id
        assert f["properties"]["street"] == registry.streets[info.street_id].name
        assert f["properties"]["community"] == info.community_id  # no name given: the id


def test_the_collection_bounds_its_features() -> None:
    fs = [{"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 1], [0, 0]]]}}]
    fs.append({"geometry": {"type": "MultiPolygon", "coordinates": [[[[-1, 5], [0, 5], [0, 6], [-1, 5]]]]}})
    doc = feature_collection(fs, "v9")
    assert doc["bbox"] == [-1, 0, 2, 6] and doc["version"] == "v9" and doc["type"] == "FeatureCollection"
    assert feature_collection([], "v")["bbox"] == []


# --- territories -------------------------------------------------------------------------------


def p(role: Role, unit: str | None = None) -> Principal:
    return Principal(person_id="u", role=role, unit_id=unit)


def test_territory_of_each_role(registry: SqlCityRegistry) -> None:
    g = registry.grids()[0]
    cases = {
        p(Role.DISPATCHER): ("city", ""),
        p(Role.SUPERVISOR, "city"): ("city", ""),
        p(Role.SUPERVISOR, g.district_id): ("district", g.district_id),
        p(Role.STREET, g.street_id): ("street", g.street_id),
        p(Role.COMMUNITY, g.community_id): ("community", g.community_id),
        p(Role.GRID_WORKER, g.id): ("grid", g.id),
        p(Role.DEPARTMENT, "environment"): ("city", ""),
    }
    for who, territory in cases.items():
        assert territory_of(who) == territory, who
    with pytest.raises(AuthError) as err:
        territory_of(p(Role.RESIDENT))
    assert err.value.status == 403 and err.value.rule == "role.not_allowed"


def test_grids_of_each_territory_partition_the_city(registry: SqlCityRegistry) -> None:
    every = grids_of(registry, ("city", ""))
    assert len(every) == len(registry.grid_ids()) == 3779
    by_street = sum(len(grids_of(registry, ("street", s))) for s in registry.streets)
    by_district = sum(len(grids_of(registry, ("district", d))) for d in registry.districts)
    assert by_street == by_district == len(every)
    g = every[100]
    assert [x.id for x in grids_of(registry, ("grid", g.id))] == [g.id]
    assert all(x.community_id == g.community_id for x in grids_of(registry, ("community", g.community_id)))
    assert grids_of(registry, ("district", "D-99")) == []


# --- the cached body and its ETag --------------------------------------------------------------


def test_the_body_is_built_once_per_version_and_territory(registry: SqlCityRegistry) -> None:
    cache = _GridCache(size=2)
    street = registry.grids()[0].street_id
    etag, raw, packed = cache.body(registry, ("street", street))
    assert cache.body(registry, ("street", street))[0] == etag
    assert gzip.decompress(packed) == raw
    doc = json.loads(raw)
    assert {f["properties"]["street_id"] for f in doc["features"]} == {street}
    assert cache.body(registry, ("city", ""))[0] != etag
    newer = SqlCityRegistry(registry.data, "seed-2")
    assert cache.body(newer, ("street", street))[0] != etag  # a new registry version: a new tag
    assert len(cache._bodies) == 2  # the oldest entry was dropped


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('"a"', True),
        ('W/"a"', True),
        ('"b", "a"', True),
        ('"b"', False),
        ("*", True),
    ],
)
def test_if_none_match(header: str | None, matches: bool) -> None:
    assert _etag_matches(header, '"a"') is matches


def test_representative_points_lie_in_their_grid(registry: SqlCityRegistry) -> None:
    cache = _GridCache()
    for gid in registry.grid_ids()[::97]:
        lat, lon = cache.representative(registry, gid)
        assert registry.grid_at(lat, lon) == gid or shapely.contains_xy(registry.polygon(gid), lon, lat)


# --- read-model conditions ---------------------------------------------------------------------


def test_case_conditions_select_what_each_role_may_see() -> None:
    engine = create_engine("sqlite://")
    t.metadata.create_all(engine)
    places = {"A": ("D1", "S1", "C1", "G1"), "B": ("D1", "S2", "C2", "G2"), "C": ("D2", "S3", "C3", "G3")}
    rows = [
        {"case_id": k, "status": "handling", "district_id": d, "street_id": s, "community_id": c, "grid_id": g}
        for k, (d, s, c, g) in places.items()
    ]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(t.cases), rows)
        conn.execute(
            insert(t.assignments),
            [
                {
                    "case_id": "C",
                    "assignment_id": "w001:env",
                    "kind": "whistle",
                    "unit_kind": "department",
                    "unit_id": "env",
                    "assigned_at": now,
                    "status": "open",
                },
            ],
        )

    def seen(who: Principal) -> list[str]:
        q = select(t.cases.c.case_id).where(*case_conditions(who)).order_by(t.cases.c.case_id)
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    assert seen(p(Role.DISPATCHER)) == ["A", "B", "C"]
    assert seen(p(Role.SUPERVISOR, "city")) == ["A", "B", "C"]
    assert seen(p(Role.SUPERVISOR, "D1")) == ["A", "B"]
    assert seen(p(Role.STREET, "S2")) == ["B"]
    assert seen(p(Role.COMMUNITY, "C1")) == ["A"]
    assert seen(p(Role.GRID_WORKER, "G3")) == ["C"]
    assert seen(p(Role.DEPARTMENT, "env")) == ["C"]
    assert seen(p(Role.DEPARTMENT, "water")) == []


# --- the read model keeps the intake's point ----------------------------------------------------


def test_the_projection_keeps_the_point_of_the_intake() -> None:
    from events.base import Actor
    from events.schemas import CaseReceived, Channel, Location, Urgency

    def received(case_id: str, lat: float | None, lon: float | None) -> CaseReceived:
        return CaseReceived(
            event_id=f"{case_id}-1",
            case_id=case_id,
            seq=1,
            occurred_at=datetime(2026, 12, 1, 8, tzinfo=UTC),
            actor=Actor(role=Role.DISPATCHER, person_id="op"),
            channel=Channel.HOTLINE,
            category="noise",
            urgency=Urgency.ORDINARY,
            title="噪音",
            description="夜间施工",
            location=Location(grid_id="G1", community_id="C1", street_id="S1", district_id="D1", lat=lat, lon=lon),
        )

    with_point = CaseView.empty("P1")
    assert apply_event(with_point, received("P1", 40.75, 111.6))
    assert (with_point.case["lat"], with_point.case["lon"]) == (40.75, 111.6)
    without = CaseView.empty("P2")
    assert apply_event(without, received("P2", None, None))
    assert without.case["lat"] is None and without.case["lon"] is None
    assert set(with_point.case) == {c.name for c in t.cases.columns}
