"""Reading a city data folder: every kind of bad input is refused with its file, row and rule."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from city.files import CityDataError, read_city, write_city
from city.model import (
    CategoryEntry,
    CategoryKind,
    CityData,
    Community,
    Department,
    District,
    GridCell,
    RoutingRule,
    StaffMember,
    StaffRole,
    Street,
    UrgencyRule,
)
from events.base import UnitKind
from events.schemas import Urgency


def box(col: int, row: int, size: float = 0.01) -> tuple[tuple[float, float], ...]:
    w, s = round(111.60 + size * col, 6), round(40.80 + size * row, 6)
    e, n = round(w + size, 6), round(s + size, 6)
    return ((w, s), (e, s), (e, n), (w, n), (w, s))


GRID_LAYOUT = [  # id, community, name, col, row
    ("G-101", "C-10", "青城花园", 0, 0),
    ("G-102", "C-10", "大召小区", 1, 0),
    ("G-111", "C-11", "通道街北", 2, 0),
    ("G-201", "C-20", "新华广场", 0, 1),
    ("G-202", "C-20", "海亮广场", 1, 1),
    ("G-203", "C-20", "满都海公园", 2, 1),
]


def tiny_city() -> CityData:
    """One district, two streets, three communities, six square grids (3 × 2, 0.01° each), full staff."""
    grids = [GridCell(g, c, name, box(col, row)) for g, c, name, col, row in GRID_LAYOUT]
    staff = [
        StaffMember(f"W-{g.id}-{n}", g.id, role, f"员工{n}")
        for g in grids
        for n, role in enumerate([StaffRole.LEADER, StaffRole.MANAGER, StaffRole.FULL_TIME], 1)
    ]
    return CityData(
        name="小城",
        districts=[District("D-1", "新城区")],
        streets=[Street("S-1", "D-1", "通道街道"), Street("S-2", "D-1", "新华街道")],
        communities=[
            Community("C-10", "S-1", "青城社区"),
            Community("C-11", "S-1", "通道社区"),
            Community("C-20", "S-2", "新华社区"),
        ],
        grids=grids,
        staff=staff,
        departments=[
            Department("urban-management", "城管局", "王强", "局长"),
            Department("water", "水务局", "李明", "局长"),
            Department("environment", "生态环境局", "张华", "局长"),
        ],
        categories=[
            CategoryEntry("noise", CategoryKind.EVENT, "环境保护", "Noise", "噪音扰民", 3.0),
            CategoryEntry("water", CategoryKind.EVENT, "公用事业", "Water outage", "停水", 1.0),
            CategoryEntry("illegal-parking", CategoryKind.EVENT, "街面秩序", "Illegal parking", "违规停车", 2.0),
            CategoryEntry("garbage", CategoryKind.EVENT, "市容环境", "Garbage", "垃圾清运", 4.0),
        ],
        urgency_rules=[
            UrgencyRule("noise", Urgency.ORDINARY),
            UrgencyRule("noise", Urgency.URGENT, ("深夜", "凌晨")),
            UrgencyRule("water", Urgency.URGENT),
            UrgencyRule("illegal-parking", Urgency.ORDINARY),
            UrgencyRule("garbage", Urgency.ORDINARY),
        ],
        routing_rules=[
            RoutingRule("noise", UnitKind.STREET, ("environment",)),
            RoutingRule("water", UnitKind.DEPARTMENT, ("water",)),
            RoutingRule("illegal-parking", UnitKind.STREET, ("urban-management",), True),
            RoutingRule("garbage", UnitKind.GRID),
        ],
    )


# -- file edits ------------------------------------------------------------------------------------


def rows(folder: Path, file: str) -> list[list[str]]:
    with (folder / file).open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def put_rows(folder: Path, file: str, table: list[list[str]]) -> None:
    with (folder / file).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


def set_cell(file: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Set one cell; ``row`` counts like a spreadsheet (header = 1)."""

    def edit(folder: Path) -> None:
        table = rows(folder, file)
        table[row - 1][table[0].index(column)] = value
        put_rows(folder, file, table)

    return edit


def append_row(file: str, *values: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        put_rows(folder, file, [*rows(folder, file), list(values)])

    return edit


def delete_row(file: str, row: int) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        table = rows(folder, file)
        del table[row - 1]
        put_rows(folder, file, table)

    return edit


def drop_column(file: str, column: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        table = rows(folder, file)
        k = table[0].index(column)
        put_rows(folder, file, [r[:k] + r[k + 1 :] for r in table])

    return edit


def edit_feature(n: int, change: Callable[[dict], None]) -> Callable[[Path], None]:
    """Change feature ``n`` (1-based) of grids.geojson."""

    def edit(folder: Path) -> None:
        doc = json.loads((folder / "grids.geojson").read_text(encoding="utf-8"))
        change(doc["features"][n - 1])
        (folder / "grids.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    return edit


def set_ring(n: int, ring: list[list[float]]) -> Callable[[Path], None]:
    def change(feature: dict) -> None:
        feature["geometry"]["coordinates"] = [ring]

    return edit_feature(n, change)


def write_text(file: str, text: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / file).write_text(text, encoding="utf-8")

    return edit


def remove(file: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / file).unlink()

    return edit


BOW_TIE = [[111.61, 40.80], [111.62, 40.81], [111.62, 40.80], [111.61, 40.81], [111.61, 40.80]]
OVERLAPPING = [[111.605, 40.80], [111.615, 40.80], [111.615, 40.81], [111.605, 40.81], [111.605, 40.80]]

# (what, edit, expected issues as (file, row, rule))
BAD_INPUTS: list[tuple[str, Callable[[Path], None], list[tuple[str, str, str]]]] = [
    (
        "street in an unknown district",
        set_cell("streets.csv", 3, "district_id", "D-9"),
        [
            ("streets.csv", "row 3", "unknown-parent"),
            ("communities.csv", "row 4", "unknown-parent"),
            ("grids.geojson", "feature 4 (id G-201)", "unknown-parent"),
            ("grids.geojson", "feature 5 (id G-202)", "unknown-parent"),
            ("grids.geojson", "feature 6 (id G-203)", "unknown-parent"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in range(11, 20)],
        ],
    ),
    (
        "duplicate community id",
        append_row("communities.csv", "C-10", "S-2", "重复社区"),
        [("communities.csv", "row 5", "duplicate-id")],
    ),
    (
        "duplicate grid id",
        edit_feature(2, lambda f: f["properties"].update(id="G-101")),
        [
            ("grids.geojson", "feature 2 (id G-101)", "duplicate-id"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in (5, 6, 7)],
        ],
    ),
    (
        "grid in an unknown community",
        edit_feature(3, lambda f: f["properties"].update(community_id="C-99")),
        [
            ("grids.geojson", "feature 3 (id G-111)", "unknown-parent"),
            ("communities.csv", "row 3", "empty-unit"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in (8, 9, 10)],
        ],
    ),
    (
        "self-intersecting polygon",
        set_ring(2, BOW_TIE),
        [
            ("grids.geojson", "feature 2 (id G-102)", "bad-polygon"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in (5, 6, 7)],
        ],
    ),
    (
        "ring not closed",
        set_ring(2, BOW_TIE[:-1]),
        [
            ("grids.geojson", "feature 2 (id G-102)", "bad-polygon"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in (5, 6, 7)],
        ],
    ),
    (
        "not a polygon",
        edit_feature(2, lambda f: f.update(geometry={"type": "Point", "coordinates": [111.6, 40.8]})),
        [
            ("grids.geojson", "feature 2 (id G-102)", "bad-polygon"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in (5, 6, 7)],
        ],
    ),
    (
        "coordinate out of range",
        set_ring(2, [[211.61, 40.80], [111.62, 40.80], [111.62, 40.81], [211.61, 40.80]]),
        [
            ("grids.geojson", "feature 2 (id G-102)", "bad-polygon"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in (5, 6, 7)],
        ],
    ),
    ("overlapping grids", set_ring(2, OVERLAPPING), [("grids.geojson", "feature 2 (id G-102)", "overlapping-grids")]),
    (
        "grid without a leader",
        delete_row("staff.csv", 14),
        [("grids.geojson", "feature 5 (id G-202)", "missing-staff-role")],
    ),
    (
        "grid without a full-time worker",
        delete_row("staff.csv", 4),
        [("grids.geojson", "feature 1 (id G-101)", "missing-staff-role")],
    ),
    (
        "two leaders in a grid",
        append_row("staff.csv", "W-x", "G-101", "leader", "赵六"),
        [("staff.csv", "row 20", "too-many-staff-role")],
    ),
    (
        "staff of an unknown grid",
        append_row("staff.csv", "W-x", "G-999", "part_time", "赵六"),
        [("staff.csv", "row 20", "unknown-parent")],
    ),
    (
        "unknown staff role",
        set_cell("staff.csv", 7, "role", "captain"),
        [("staff.csv", "row 7", "bad-role"), ("grids.geojson", "feature 2 (id G-102)", "missing-staff-role")],
    ),
    (
        "duplicate staff id",
        append_row("staff.csv", "W-G-101-3", "G-101", "part_time", "赵六"),
        [("staff.csv", "row 20", "duplicate-id")],
    ),
    (
        "unknown department in a routing rule",
        set_cell("routing_rules.csv", 4, "departments", "urban-management|police"),
        [("routing_rules.csv", "row 4", "unknown-department")],
    ),
    (
        "bad urgency",
        set_cell("urgency_rules.csv", 3, "urgency", "very-urgent"),
        [("urgency_rules.csv", "row 3", "bad-urgency")],
    ),
    (
        "urgency rule for an unknown category",
        append_row("urgency_rules.csv", "graffiti", "urgent", ""),
        [("urgency_rules.csv", "row 7", "unknown-category")],
    ),
    (
        "two default urgencies",
        append_row("urgency_rules.csv", "water", "ordinary", ""),
        [("urgency_rules.csv", "row 7", "duplicate-default-rule")],
    ),
    (
        "category without a default urgency",
        delete_row("urgency_rules.csv", 4),
        [("categories.csv", "row 3", "missing-urgency-rule")],
    ),
    (
        "bad route",
        set_cell("routing_rules.csv", 2, "route", "community"),
        [("routing_rules.csv", "row 2", "bad-route")],
    ),
    (
        "department route without a department",
        set_cell("routing_rules.csv", 3, "departments", ""),
        [("routing_rules.csv", "row 3", "bad-route")],
    ),
    (
        "whistle on a grid route",
        set_cell("routing_rules.csv", 5, "needs_whistle", "true"),
        [("routing_rules.csv", "row 5", "bad-whistle")],
    ),
    (
        "bad whistle flag",
        set_cell("routing_rules.csv", 4, "needs_whistle", "maybe"),
        [("routing_rules.csv", "row 4", "bad-flag")],
    ),
    (
        "two routing rules for a category",
        append_row("routing_rules.csv", "noise", "grid", "", "false"),
        [("routing_rules.csv", "row 6", "duplicate-routing-rule")],
    ),
    (
        "category without a routing rule",
        delete_row("routing_rules.csv", 5),
        [("categories.csv", "row 5", "missing-routing-rule")],
    ),
    (
        "bad weight",
        set_cell("categories.csv", 2, "weight", "-1"),
        [
            ("categories.csv", "row 2", "bad-weight"),
            ("urgency_rules.csv", "row 2", "unknown-category"),
            ("urgency_rules.csv", "row 3", "unknown-category"),
            ("routing_rules.csv", "row 2", "unknown-category"),
        ],
    ),
    (
        "bad category kind",
        set_cell("categories.csv", 3, "kind", "incident"),
        [
            ("categories.csv", "row 3", "bad-kind"),
            ("urgency_rules.csv", "row 4", "unknown-category"),
            ("routing_rules.csv", "row 3", "unknown-category"),
        ],
    ),
    (
        "empty field",
        set_cell("districts.csv", 2, "name", ""),
        [
            ("districts.csv", "row 2", "empty-field"),
            ("streets.csv", "row 2", "unknown-parent"),
            ("streets.csv", "row 3", "unknown-parent"),
            ("communities.csv", "row 2", "unknown-parent"),
            ("communities.csv", "row 3", "unknown-parent"),
            ("communities.csv", "row 4", "unknown-parent"),
            *[("grids.geojson", f"feature {n} (id {g[0]})", "unknown-parent") for n, g in enumerate(GRID_LAYOUT, 1)],
            *[("staff.csv", f"row {r}", "unknown-parent") for r in range(2, 20)],
        ],
    ),
    (
        "missing column",
        drop_column("departments.csv", "head"),
        [
            ("departments.csv", "header", "missing-column"),
            ("routing_rules.csv", "row 2", "unknown-department"),
            ("routing_rules.csv", "row 3", "unknown-department"),
            ("routing_rules.csv", "row 4", "unknown-department"),
        ],
    ),
    (
        "missing file",
        remove("districts.csv"),
        [
            ("districts.csv", "-", "missing-file"),
            ("streets.csv", "row 2", "unknown-parent"),
            ("streets.csv", "row 3", "unknown-parent"),
            ("communities.csv", "row 2", "unknown-parent"),
            ("communities.csv", "row 3", "unknown-parent"),
            ("communities.csv", "row 4", "unknown-parent"),
            *[("grids.geojson", f"feature {n} (id {g[0]})", "unknown-parent") for n, g in enumerate(GRID_LAYOUT, 1)],
            *[("staff.csv", f"row {r}", "unknown-parent") for r in range(2, 20)],
        ],
    ),
    (
        "street without communities",
        append_row("streets.csv", "S-3", "D-1", "空街道"),
        [("streets.csv", "row 4", "empty-unit")],
    ),
    (
        "grids file not GeoJSON",
        write_text("grids.geojson", "{not json"),
        [
            ("grids.geojson", "-", "bad-json"),
            ("communities.csv", "row 2", "empty-unit"),
            ("communities.csv", "row 3", "empty-unit"),
            ("communities.csv", "row 4", "empty-unit"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in range(2, 20)],
        ],
    ),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_city(tiny_city(), tmp_path / "city")
    return tmp_path / "city"


def test_the_tiny_city_reads_back_as_written(folder: Path) -> None:
    assert read_city(folder) == tiny_city()


@pytest.mark.parametrize(("what", "edit", "expected"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_with_file_row_and_rule(
    folder: Path, what: str, edit: Callable[[Path], None], expected: list[tuple[str, str, str]]
) -> None:
    edit(folder)
    with pytest.raises(CityDataError) as err:
        read_city(folder)
    found = [(i.file, i.row, i.rule) for i in err.value.issues]
    assert sorted(found) == sorted(expected), what
    first = err.value.issues[0]
    assert f"{first.file} {first.row}: {first.rule}: " in str(err.value)


def test_every_problem_is_listed_at_once(folder: Path) -> None:
    append_row("streets.csv", "S-2", "D-1", "重复街道")(folder)
    set_cell("urgency_rules.csv", 2, "urgency", "soon")(folder)
    set_ring(6, [[111.615, 40.81], [111.625, 40.81], [111.625, 40.82], [111.615, 40.82], [111.615, 40.81]])(folder)
    with pytest.raises(CityDataError) as err:
        read_city(folder)
    found = {(i.file, i.row, i.rule) for i in err.value.issues}
    assert ("streets.csv", "row 4", "duplicate-id") in found
    assert ("urgency_rules.csv", "row 2", "bad-urgency") in found
    assert ("grids.geojson", "feature 6 (id G-203)", "overlapping-grids") in found


def test_messages_name_the_offending_values(folder: Path) -> None:
    set_cell("routing_rules.csv", 4, "departments", "police")(folder)
    with pytest.raises(CityDataError) as err:
        read_city(folder)
    text = str(err.value)
    assert "routing_rules.csv row 4: unknown-department: department(s) 'police' not in departments.csv" in text


def test_touching_grids_are_not_overlapping(folder: Path) -> None:
    data = read_city(folder)  # the six squares share edges and corners
    assert len(data.grids) == 6


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CityDataError, match="missing-folder"):
        read_city(tmp_path / "nowhere")
