"""Lookups of the city registry on the small test city: location inside, on the border of and outside
grids, addresses, categories, routing, urgency rules and the helpers the simulator uses."""

from __future__ import annotations

import dataclasses
import random

import pytest

from city.model import StaffRole
from city.registry import SqlCityRegistry
from events.base import UnitKind, UnitRef
from events.schemas import Urgency
from tests.unit.test_city_files import tiny_city
from workflows.domain.registry import CityRegistry, RegistryError


@pytest.fixture(scope="module")
def reg() -> SqlCityRegistry:
    return SqlCityRegistry(tiny_city(), "v1")


def test_implements_the_domain_protocol(reg: SqlCityRegistry) -> None:
    city: CityRegistry = reg  # checked by mypy
    assert city.locate(grid_id="G-101").street_id == "S-1"


@pytest.mark.parametrize(
    ("lat", "lon", "grid"),
    [
        (40.805, 111.605, "G-101"),
        (40.805, 111.615, "G-102"),
        (40.805, 111.625, "G-111"),
        (40.815, 111.605, "G-201"),
        (40.815, 111.615, "G-202"),
        (40.8199, 111.6299, "G-203"),
    ],
)
def test_a_point_inside_a_grid_resolves_to_it(reg: SqlCityRegistry, lat: float, lon: float, grid: str) -> None:
    loc = reg.locate(lat=lat, lon=lon)
    assert loc.grid_id == grid
    assert (loc.lat, loc.lon) == (lat, lon)
    expected = reg.grid(grid)
    assert (loc.community_id, loc.street_id, loc.district_id) == (
        expected.community_id,
        expected.street_id,
        expected.district_id,
    )


@pytest.mark.parametrize(
    ("lat", "lon", "grid", "touching"),
    [
        (40.805, 111.61, "G-101", {"G-101", "G-102"}),  # edge between two grids of one community
        (40.805, 111.62, "G-102", {"G-102", "G-111"}),  # edge between two communities
        (40.81, 111.605, "G-101", {"G-101", "G-201"}),  # edge between two streets
        (40.81, 111.61, "G-101", {"G-101", "G-102", "G-201", "G-202"}),  # corner of four grids
        (40.81, 111.62, "G-102", {"G-102", "G-111", "G-202", "G-203"}),
        (40.80, 111.60, "G-101", {"G-101"}),  # outer corner of the city
        (40.82, 111.625, "G-203", {"G-203"}),  # outer edge
    ],
)
def test_a_point_on_a_border_resolves_to_the_smallest_grid_id(
    reg: SqlCityRegistry, lat: float, lon: float, grid: str, touching: set[str]
) -> None:
    assert set(reg.locate_points([(lat, lon)])) == {grid}
    assert reg.locate(lat=lat, lon=lon).grid_id == grid == min(touching)


@pytest.mark.parametrize(("lat", "lon"), [(40.7999, 111.605), (40.805, 111.6301), (40.8201, 111.61), (0.0, 0.0)])
def test_a_point_outside_every_grid_is_refused(reg: SqlCityRegistry, lat: float, lon: float) -> None:
    with pytest.raises(RegistryError, match=r"lies outside every grid of 小城 \(the city spans lat 40.8000..40.8200"):
        reg.locate(lat=lat, lon=lon)
    assert reg.locate_points([(lat, lon)]) == [None]


def test_bad_coordinates_are_refused(reg: SqlCityRegistry) -> None:
    with pytest.raises(RegistryError, match="need both lat and lon"):
        reg.locate(lat=40.805)
    with pytest.raises(RegistryError, match="not a valid lat/lon"):
        reg.locate(lat=95.0, lon=111.6)
    with pytest.raises(RegistryError, match="give a grid id, coordinates"):
        reg.locate()


def test_grid_id_wins_and_unknown_grids_are_refused(reg: SqlCityRegistry) -> None:
    assert reg.locate(grid_id="G-203", lat=40.805, lon=111.605).grid_id == "G-203"
    with pytest.raises(RegistryError, match="unknown grid 'G-999'"):
        reg.locate(grid_id="G-999")


def test_address_text_resolves_to_the_grid_named_in_it(reg: SqlCityRegistry) -> None:
    assert reg.locate(address="新城区通道街道青城花园3号楼2单元").grid_id == "G-101"
    assert reg.locate(address="满都海公园南门").grid_id == "G-203"
    with pytest.raises(RegistryError, match="names community 新华社区 \\(C-20\\) but no grid"):
        reg.locate(address="新华社区居委会旁边")
    with pytest.raises(RegistryError, match="no grid matches address"):
        reg.locate(address="火星基地1号")


def test_an_ambiguous_address_is_narrowed_by_street_name_or_refused() -> None:
    data = tiny_city()
    grids = [dataclasses.replace(g, name="青城花园") if g.id == "G-201" else g for g in data.grids]
    reg = SqlCityRegistry(dataclasses.replace(data, grids=grids))
    assert reg.locate(address="新华街道青城花园5号楼").grid_id == "G-201"
    assert reg.locate(address="通道街道青城花园5号楼").grid_id == "G-101"
    with pytest.raises(RegistryError, match="ambiguous: it matches grids G-101, G-201"):
        reg.locate(address="青城花园5号楼")


def test_categories_routing_and_units(reg: SqlCityRegistry) -> None:
    loc = reg.locate(grid_id="G-202")
    noise, water, parking, garbage = (reg.category(c) for c in ("noise", "water", "illegal-parking", "garbage"))
    assert reg.route(noise, loc) == UnitRef(kind=UnitKind.STREET, id="S-2")
    assert reg.route(water, loc) == UnitRef(kind=UnitKind.DEPARTMENT, id="water")
    assert reg.route(garbage, loc) == UnitRef(kind=UnitKind.GRID, id="G-202")
    assert parking.needs_whistle and parking.departments == ("urban-management",)
    assert water.default_urgency == Urgency.URGENT and noise.default_urgency == Urgency.ORDINARY
    with pytest.raises(RegistryError, match="unknown category 'graffiti'"):
        reg.category("graffiti")
    assert reg.unit_exists(UnitRef(kind=UnitKind.GRID, id="G-111"))
    assert reg.unit_exists(UnitRef(kind=UnitKind.STREET, id="S-2"))
    assert reg.unit_exists(UnitRef(kind=UnitKind.DEPARTMENT, id="environment"))
    assert not reg.unit_exists(UnitRef(kind=UnitKind.DEPARTMENT, id="police"))
    assert not reg.unit_exists(UnitRef(kind=UnitKind.STREET, id="G-111"))


def test_urgency_rules_apply_keywords(reg: SqlCityRegistry) -> None:
    assert reg.urgency_for("noise", "楼下广场舞") == Urgency.ORDINARY
    assert reg.urgency_for("noise", "凌晨两点施工") == Urgency.URGENT
    assert reg.urgency_for("water", "") == Urgency.URGENT


def test_helpers_for_the_simulator(reg: SqlCityRegistry) -> None:
    assert [g.id for g in reg.grids(street_id="S-1")] == ["G-101", "G-102", "G-111"]
    assert [g.id for g in reg.grids(community_id="C-20")] == ["G-201", "G-202", "G-203"]
    assert [m.role for m in reg.staff_of("G-102")] == [StaffRole.LEADER, StaffRole.MANAGER, StaffRole.FULL_TIME]
    assert [m.id for m in reg.staff_of("G-102", StaffRole.FULL_TIME)] == ["W-G-102-3"]
    assert reg.category_weights() == {"noise": 3.0, "water": 1.0, "illegal-parking": 2.0, "garbage": 4.0}
    assert reg.unit_name(UnitRef(kind=UnitKind.STREET, id="S-1")) == "通道街道"
    rng = random.Random(7)
    for grid in reg.grid_ids():
        for _ in range(50):
            lat, lon = reg.random_point(grid, rng)
            assert reg.locate(lat=lat, lon=lon).grid_id == grid
        assert reg.locate(address=reg.random_address(grid, rng)).grid_id == grid


def test_random_points_are_reproducible(reg: SqlCityRegistry) -> None:
    a = [reg.random_point("G-202", random.Random(3)) for _ in range(3)]
    b = [reg.random_point("G-202", random.Random(3)) for _ in range(3)]
    assert a == b
