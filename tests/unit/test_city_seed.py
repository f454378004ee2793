"""The seed city: the stated scale, deterministic files, grids that tile the city, full staffing."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import shapely

from city.files import overlapping_pairs, polygons_of, read_city, write_city
from city.model import CityData, StaffRole
from city.registry import SqlCityRegistry
from city.seed import DEFAULT_SEED, SEED_DIR, generate_city
from events.base import UnitKind


@pytest.fixture(scope="module")
def seed() -> CityData:
    return read_city(SEED_DIR)


@pytest.fixture(scope="module")
def reg(seed: CityData) -> SqlCityRegistry:
    return SqlCityRegistry(seed)


def test_the_seed_has_the_scale_of_the_report(seed: CityData) -> None:
    counts = seed.counts()
    assert counts["districts"] == 9
    assert counts["streets"] == 56
    assert counts["communities"] == 344
    assert counts["grids"] == 3779
    assert counts["full_time_workers"] == 6168
    assert counts["leaders"] == counts["managers"] == 3779
    assert counts["departments"] == 46
    assert counts["categories"] >= 40
    assert {c.kind for c in seed.categories} == {"part", "event", "hotline"}


def test_every_grid_is_staffed_one_plus_one_plus_one_plus_n(seed: CityData) -> None:
    roles: dict[str, Counter[StaffRole]] = defaultdict(Counter)
    for s in seed.staff:
        roles[s.grid_id][s.role] += 1
    assert set(roles) == {g.id for g in seed.grids}
    for grid, r in roles.items():
        assert r[StaffRole.LEADER] == 1 and r[StaffRole.MANAGER] == 1, grid
        assert 1 <= r[StaffRole.FULL_TIME] <= 2, grid


def test_the_shipped_files_are_what_the_seed_generates(tmp_path: Path) -> None:
    write_city(generate_city(DEFAULT_SEED), tmp_path)
    shipped = sorted(p.name for p in SEED_DIR.iterdir())
    assert shipped == sorted(p.name for p in tmp_path.iterdir())
    for name in shipped:
        assert (tmp_path / name).read_bytes() == (SEED_DIR / name).read_bytes(), name


def test_another_seed_gives_another_city_of_the_same_scale() -> None:
    other = generate_city(7)
    assert other.counts()["grids"] == 3779 and other.counts()["full_time_workers"] == 6168
    assert [g.name for g in other.grids[:20]] != [g.name for g in generate_city(DEFAULT_SEED).grids[:20]]


def test_grids_tile_each_community_street_and_district_without_gaps_or_overlaps(seed: CityData) -> None:
    assert overlapping_pairs(seed.grids) == []
    polys = polygons_of(seed.grids)
    assert shapely.is_valid(polys).all()
    whole = shapely.union_all(polys)
    assert whole.geom_type == "Polygon" and len(whole.interiors) == 0
    assert whole.area == pytest.approx(float(shapely.area(polys).sum()), rel=1e-9)
    street_of = {c.id: c.street_id for c in seed.communities}
    by_community: dict[str, list[int]] = defaultdict(list)
    by_street: dict[str, list[int]] = defaultdict(list)
    for n, g in enumerate(seed.grids):
        by_community[g.community_id].append(n)
        by_street[street_of[g.community_id]].append(n)
    for unit, members in [*by_community.items(), *by_street.items()]:
        shape = shapely.union_all(polys[members])
        assert shape.geom_type == "Polygon" and len(shape.interiors) == 0, unit


def test_grid_sizes_are_plausible(seed: CityData) -> None:
    polys = polygons_of(seed.grids)
    # square metres, roughly (1° lat = 111 km, 1° lon = 84 km here)
    areas = shapely.area(polys) * 111_000 * 84_000
    assert float(areas.min()) > 30_000 and float(areas.max()) < 1_500_000
    assert 100_000 < float(areas.mean()) < 400_000


def test_random_points_locate_back_to_their_grid(reg: SqlCityRegistry) -> None:
    rng = random.Random(11)
    grids = rng.sample(reg.grid_ids(), 300)
    points = [reg.random_point(g, rng) for g in grids]
    assert reg.locate_points(points) == grids
    for g in grids[:50]:
        assert reg.locate(address=reg.random_address(g, rng)).grid_id == g


def test_shared_vertices_of_the_seed_resolve_to_the_smallest_grid_id(reg: SqlCityRegistry, seed: CityData) -> None:
    owners: dict[tuple[float, float], set[str]] = defaultdict(set)
    for g in seed.grids[:400]:
        for p in g.ring:
            owners[p].add(g.id)
    shared = [(p, ids) for p, ids in owners.items() if len(ids) >= 2][:200]
    assert len(shared) == 200
    got = reg.locate_points([(lat, lon) for (lon, lat), _ in shared])
    assert got == [min(ids) for _, ids in shared]
    (lon, lat), ids = shared[0]
    assert reg.locate(lat=lat, lon=lon).grid_id == min(ids)


def test_every_category_routes_to_a_known_unit(reg: SqlCityRegistry) -> None:
    loc = reg.locate(grid_id=reg.grid_ids()[1234])
    whistles = 0
    for cat in reg.categories():
        unit = reg.route(cat, loc)
        assert reg.unit_exists(unit), cat.code
        assert all(d in reg.departments for d in cat.departments), cat.code
        whistles += cat.needs_whistle
        if cat.needs_whistle:
            assert cat.route == UnitKind.STREET and cat.departments
    assert whistles >= 3
    assert {c.route for c in reg.categories()} == {UnitKind.GRID, UnitKind.STREET, UnitKind.DEPARTMENT}
    assert sum(reg.category_weights().values()) > 0


def test_the_sample_city_codes_exist_in_the_seed(reg: SqlCityRegistry) -> None:
    from workflows.domain.registry import sample_city

    sample = sample_city()
    assert set(sample.categories) <= {c.code for c in reg.categories()}
    assert set(sample.departments) <= set(reg.departments)
