"""Sections (科室) of units in the city registry: ``sections.csv`` and its rules (each problem with its
file, row and rule), writing it back, the seed city's sections, and ``sections()`` of both registries."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from city.files import CityDataError, read_city, write_city
from city.model import SECTION_ID_PATTERN, CityData, Section
from city.registry import SqlCityRegistry
from city.seed import SEED_DIR, STREET_SECTIONS
from tests.unit.test_city_files import append_row, drop_column, remove, set_cell, tiny_city
from workflows.domain.registry import CityRegistry, RegistryError, StaticCity, sample_city, unit_of_key

SECTIONS = [
    Section("department", "urban-management", "enforcement", "执法监察科"),
    Section("department", "urban-management", "city-appearance", "市容环境管理科"),
    Section("department", "water", "supply", "供水科"),
    Section("street", "S-1", "urban", "城市管理科"),
    Section("street", "S-1", "community-affairs", "社区建设科"),
    Section("street", "S-2", "urban", "城市管理科"),
    Section("grid", "G-101", "patrol.1", "巡查一组"),
]


def city_with_sections() -> CityData:
    """The tiny test city with sections for two departments, both streets and one grid."""
    return dataclasses.replace(tiny_city(), sections=list(SECTIONS))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_city(city_with_sections(), tmp_path / "city")
    return tmp_path / "city"


# -- the file --------------------------------------------------------------------------------------


def test_sections_read_back_as_written(folder: Path) -> None:
    assert (folder / "sections.csv").read_text(encoding="utf-8").splitlines()[:2] == [
        "unit_kind,unit_id,id,name",
        "department,urban-management,enforcement,执法监察科",
    ]
    data = read_city(folder)
    assert data == city_with_sections()
    assert data.sections == SECTIONS  # in the file's order
    assert data.counts()["sections"] == len(SECTIONS)


def test_a_folder_without_sections_csv_has_no_sections(tmp_path: Path) -> None:
    write_city(tiny_city(), tmp_path / "city")
    assert not (tmp_path / "city" / "sections.csv").exists()  # written only for a city with sections
    data = read_city(tmp_path / "city")
    assert data.sections == [] and data.counts()["sections"] == 0


def test_writing_a_city_without_sections_removes_a_stale_file(folder: Path) -> None:
    written = write_city(tiny_city(), folder)
    assert folder / "sections.csv" not in written and not (folder / "sections.csv").exists()
    assert read_city(folder) == tiny_city()


def test_an_empty_sections_file_is_fine(folder: Path) -> None:
    (folder / "sections.csv").write_text("unit_kind,unit_id,id,name\n", encoding="utf-8")
    assert read_city(folder).sections == []


# (what, edit, expected issues as (file, row, rule)); rows count like a spreadsheet (header = 1)
BAD_SECTIONS: list[tuple[str, Callable[[Path], None], list[tuple[str, str, str]]]] = [
    (
        "unknown street",
        append_row("sections.csv", "street", "S-9", "urban", "城市管理科"),
        [("sections.csv", "row 9", "unknown-unit")],
    ),
    (
        "unknown department",
        set_cell("sections.csv", 4, "unit_id", "police"),
        [("sections.csv", "row 4", "unknown-unit")],
    ),
    (
        "unknown grid",
        append_row("sections.csv", "grid", "G-999", "patrol", "巡查组"),
        [("sections.csv", "row 9", "unknown-unit")],
    ),
    (
        "a street id given as a department",
        append_row("sections.csv", "department", "S-1", "urban", "城市管理科"),
        [("sections.csv", "row 9", "unknown-unit")],
    ),
    (
        "unit kind not one with sections",
        set_cell("sections.csv", 5, "unit_kind", "community"),
        [("sections.csv", "row 5", "bad-unit-kind")],
    ),
    (
        "the hotline has no sections",
        append_row("sections.csv", "hotline", "12345", "desk", "受理组"),
        [("sections.csv", "row 9", "bad-unit-kind")],
    ),
    ("id with a blank", set_cell("sections.csv", 2, "id", "law enforcement"), [("sections.csv", "row 2", "bad-id")]),
    (
        "id starting with a dash",
        set_cell("sections.csv", 3, "id", "-appearance"),
        [("sections.csv", "row 3", "bad-id")],
    ),
    ("id in Chinese", set_cell("sections.csv", 4, "id", "供水科"), [("sections.csv", "row 4", "bad-id")]),
    ("id with a colon", set_cell("sections.csv", 5, "id", "urban:1"), [("sections.csv", "row 5", "bad-id")]),
    ("id of 65 characters", set_cell("sections.csv", 6, "id", "a" * 65), [("sections.csv", "row 6", "bad-id")]),
    (
        "duplicate section of a unit",
        append_row("sections.csv", "street", "S-1", "urban", "城管科"),
        [("sections.csv", "row 9", "duplicate-section")],
    ),
    ("empty name", set_cell("sections.csv", 7, "name", "  "), [("sections.csv", "row 7", "empty-field")]),
    ("empty id", set_cell("sections.csv", 7, "id", ""), [("sections.csv", "row 7", "empty-field")]),
    (
        "name too long",
        set_cell("sections.csv", 7, "name", "科" * 129),
        [("sections.csv", "row 7", "name-too-long")],
    ),
    ("missing column", drop_column("sections.csv", "unit_id"), [("sections.csv", "header", "missing-column")]),
    (
        "the unit's file is missing",
        remove("departments.csv"),
        [
            ("departments.csv", "-", "missing-file"),
            ("routing_rules.csv", "row 2", "unknown-department"),
            ("routing_rules.csv", "row 3", "unknown-department"),
            ("routing_rules.csv", "row 4", "unknown-department"),
            *[("sections.csv", f"row {r}", "unknown-unit") for r in (2, 3, 4)],
        ],
    ),
]


@pytest.mark.parametrize(("what", "edit", "expected"), BAD_SECTIONS, ids=[b[0] for b in BAD_SECTIONS])
def test_bad_sections_are_refused_with_file_row_and_rule(
    folder: Path, what: str, edit: Callable[[Path], None], expected: list[tuple[str, str, str]]
) -> None:
    edit(folder)
    with pytest.raises(CityDataError) as err:
        read_city(folder)
    found = [(i.file, i.row, i.rule) for i in err.value.issues]
    assert sorted(found) == sorted(expected), what


def test_the_same_section_id_in_two_units_is_fine(folder: Path) -> None:
    data = read_city(folder)
    assert [s.unit_id for s in data.sections if s.id == "urban"] == ["S-1", "S-2"]


def test_every_bad_section_is_listed_at_once_with_its_values(folder: Path) -> None:
    append_row("sections.csv", "street", "S-9", "urban", "城市管理科")(folder)
    append_row("sections.csv", "district", "D-1", "office", "办公室")(folder)
    append_row("sections.csv", "street", "S-2", "bad id", "某科")(folder)
    append_row("sections.csv", "street", "S-2", "urban", "城管科")(folder)
    set_cell("streets.csv", 2, "name", "")(folder)  # and a problem in another file
    with pytest.raises(CityDataError) as err:
        read_city(folder)
    found = {(i.file, i.row, i.rule) for i in err.value.issues}
    assert {
        ("sections.csv", "row 9", "unknown-unit"),
        ("sections.csv", "row 10", "bad-unit-kind"),
        ("sections.csv", "row 11", "bad-id"),
        ("sections.csv", "row 12", "duplicate-section"),
        ("streets.csv", "row 2", "empty-field"),
    } <= found
    text = str(err.value)
    assert "sections.csv row 9: unknown-unit: section 'urban': street 'S-9' is not in streets.csv" in text
    assert "sections.csv row 10: bad-unit-kind: unit_kind 'district' is not one of grid, street, department" in text
    assert "sections.csv row 11: bad-id: id 'bad id' must match" in text
    assert "sections.csv row 12: duplicate-section: section 'street:S-2:urban' already defined at row 7" in text


# -- the seed city ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> CityData:
    return read_city(SEED_DIR)


def test_every_department_of_the_seed_has_two_to_four_sections(seed: CityData) -> None:
    per_department = Counter(s.unit_id for s in seed.sections if s.unit_kind == "department")
    assert set(per_department) == {d.id for d in seed.departments}
    assert all(2 <= n <= 4 for n in per_department.values()), per_department


def test_every_street_office_of_the_seed_has_its_sections(seed: CityData) -> None:
    by_street: dict[str, list[tuple[str, str]]] = {}
    for s in seed.sections:
        if s.unit_kind == "street":
            by_street.setdefault(s.unit_id, []).append((s.id, s.name))
    assert set(by_street) == {s.id for s in seed.streets}
    assert all(v == STREET_SECTIONS for v in by_street.values())
    assert {name for _, name in STREET_SECTIONS} >= {"综合办公室", "城市管理科", "社区建设科", "平安建设科"}


def test_seed_sections_have_chinese_names_and_valid_ids(seed: CityData) -> None:
    assert not any(s.unit_kind == "grid" for s in seed.sections)
    assert all(re.match(SECTION_ID_PATTERN, s.id) and len(s.id) <= 64 for s in seed.sections)
    assert all(re.search(r"[\u4e00-\u9fff]", s.name) for s in seed.sections)
    reg = SqlCityRegistry(seed)
    assert reg.section_names("department:housing")[0] == ("construction-market", "建筑市场监管科")
    assert reg.sections()["street:S-0101"] == ("community-affairs", "office", "safety", "urban")


# -- the registries --------------------------------------------------------------------------------


def test_sql_registry_sections_by_unit_key() -> None:
    reg = SqlCityRegistry(city_with_sections())
    city: CityRegistry = reg  # checked by mypy
    assert city.sections() == {
        "department:urban-management": ("city-appearance", "enforcement"),
        "department:water": ("supply",),
        "grid:G-101": ("patrol.1",),
        "street:S-1": ("community-affairs", "urban"),
        "street:S-2": ("urban",),
    }
    assert reg.section_names("street:S-1") == [("urban", "城市管理科"), ("community-affairs", "社区建设科")]
    assert reg.section_names("department:environment") == [] and reg.section_names("street:S-9") == []
    reg.sections().clear()  # a copy: the registry's own is untouched
    assert len(reg.sections()) == 5
    assert SqlCityRegistry(tiny_city()).sections() == {}


def test_static_city_sections() -> None:
    city: CityRegistry = sample_city()
    sections = city.sections()
    assert sections["department:housing"] == ("inspection", "repair")
    assert sections["street:S-1"] == ("community-affairs", "urban")
    assert "street:S-2" in sections
    assert "department:transport" not in sections  # a department without sections
    assert all(unit_of_key(k).kind.value in ("street", "department") for k in sections)
    assert sample_city().section_names("department:housing") == [("inspection", "监察科"), ("repair", "维修科")]
    assert sample_city().section_names("grid:G-101") == []
    plain = StaticCity(list(sample_city().grids.values()), {"water": "水务局"}, [])
    assert plain.sections() == {}


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"street:S-9": [("urban", "城管科")]}, "unknown unit 'street:S-9'"),
        ({"hotline:12345": [("desk", "受理组")]}, "unknown unit 'hotline:12345'"),
        ({"S-1": [("urban", "城管科")]}, "'S-1' is not <kind>:<id>"),
        ({"street:S-1": [("urban", "城管科"), ("urban", "城管二科")]}, "must be non-empty and unique"),
    ],
)
def test_static_city_refuses_bad_sections(sections: dict[str, list[tuple[str, str]]], message: str) -> None:
    base = sample_city()
    with pytest.raises(RegistryError, match=re.escape(message)):
        StaticCity(list(base.grids.values()), base.departments, list(base.categories.values()), sections)


def test_unit_of_key() -> None:
    assert unit_of_key("department:housing").key() == "department:housing"
    for bad in ("housing", "department:", "region:R-1", ":S-1"):
        with pytest.raises(RegistryError, match="is not <kind>:<id>"):
            unit_of_key(bad)
