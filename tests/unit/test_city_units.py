"""Property companies (物业, 红色物业) and volunteer teams (志愿者队伍) in the city registry: their files and
rules (each problem with its file, row and rule), writing them back, the seed city's, the registry's
lookups, and what new cases carry of them (the SLA context)."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from activities.sla import SlaActivities
from city.files import CityDataError, read_city, write_city
from city.model import UNIT_DUTIES, CityData, PropertyCompany, UnitStaffMember, VolunteerTeam
from city.registry import SqlCityRegistry
from city.seed import SEED_DIR, generate_city
from events.base import UnitKind, UnitRef
from tests.unit.test_city_files import append_row, drop_column, remove, set_cell, tiny_city
from workflows.sla.calendar import build_calendar
from workflows.sla.policy import default_policy

PROPERTIES = [
    PropertyCompany("P-1", "青城物业服务有限公司", ("C-10", "C-11"), "赵刚"),
    PropertyCompany("P-2", "新华红色物业服务中心", ("C-20", "C-10"), "钱芳"),
]
TEAMS = [
    VolunteerTeam("V-C-10", "青城社区志愿服务队", ("C-10",), "孙丽"),
    VolunteerTeam("V-C-20", "新华社区志愿服务队", ("C-20",), "周强"),
]
UNIT_STAFF = [
    UnitStaffMember("P-1-1", "property", "P-1", "赵刚", "manager"),
    UnitStaffMember("P-1-2", "property", "P-1", "吴敏", "staff"),
    UnitStaffMember("P-2-1", "property", "P-2", "钱芳", "manager"),
    UnitStaffMember("V-C-10-1", "volunteer_team", "V-C-10", "孙丽", "leader"),
    UnitStaffMember("V-C-10-2", "volunteer_team", "V-C-10", "郑洁", "volunteer"),
    UnitStaffMember("V-C-20-1", "volunteer_team", "V-C-20", "周强", "leader"),
]
FILES = ("property_companies.csv", "volunteer_teams.csv", "unit_staff.csv")


def city_with_units() -> CityData:
    """The tiny test city with two property companies (P-2 shares C-10 with P-1), two teams and their staff."""
    return dataclasses.replace(
        tiny_city(), property_companies=list(PROPERTIES), volunteer_teams=list(TEAMS), unit_staff=list(UNIT_STAFF)
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_city(city_with_units(), tmp_path / "city")
    return tmp_path / "city"


# -- the files -------------------------------------------------------------------------------------


def test_units_read_back_as_written(folder: Path) -> None:
    assert (folder / "property_companies.csv").read_text(encoding="utf-8").splitlines() == [
        "id,name,communities,manager",
        "P-1,青城物业服务有限公司,C-10|C-11,赵刚",
        "P-2,新华红色物业服务中心,C-20|C-10,钱芳",
    ]
    assert (folder / "unit_staff.csv").read_text(encoding="utf-8").splitlines()[:2] == [
        "id,unit_kind,unit_id,name,duty",
        "P-1-1,property,P-1,赵刚,manager",
    ]
    data = read_city(folder)
    assert data == city_with_units()
    assert data.property_companies == PROPERTIES and data.volunteer_teams == TEAMS and data.unit_staff == UNIT_STAFF
    counts = data.counts()
    assert (counts["property_companies"], counts["volunteer_teams"], counts["unit_staff"]) == (2, 2, 6)


def test_a_folder_without_the_files_has_none(tmp_path: Path) -> None:
    write_city(tiny_city(), tmp_path / "city")
    assert not any((tmp_path / "city" / f).exists() for f in FILES)  # written only for a city with some
    data = read_city(tmp_path / "city")
    assert data.property_companies == [] and data.volunteer_teams == [] and data.unit_staff == []
    assert data.counts()["property_companies"] == 0


def test_writing_a_city_without_units_removes_stale_files(folder: Path) -> None:
    write_city(tiny_city(), folder)
    assert not any((folder / f).exists() for f in FILES)
    assert read_city(folder) == tiny_city()


def test_each_file_is_optional_on_its_own(folder: Path) -> None:
    remove("unit_staff.csv")(folder)
    remove("volunteer_teams.csv")(folder)
    data = read_city(folder)
    assert data.property_companies == PROPERTIES and data.volunteer_teams == [] and data.unit_staff == []


def test_header_only_files_are_fine(folder: Path) -> None:
    for file in FILES:
        (folder / file).write_text((folder / file).read_text(encoding="utf-8").splitlines()[0] + "\n")
    data = read_city(folder)
    assert data.property_companies == [] and data.volunteer_teams == [] and data.unit_staff == []


# (what, edit, expected issues as (file, row, rule)); rows count like a spreadsheet (header = 1)
BAD: list[tuple[str, Callable[[Path], None], list[tuple[str, str, str]]]] = [
    (
        "company serving an unknown community",
        set_cell("property_companies.csv", 2, "communities", "C-10|C-99"),
        [
            ("property_companies.csv", "row 2", "unknown-parent"),
            *[("unit_staff.csv", f"row {r}", "unknown-unit") for r in (2, 3)],
        ],
    ),
    (
        "team serving a street id, not a community",
        set_cell("volunteer_teams.csv", 3, "communities", "S-2"),
        [("volunteer_teams.csv", "row 3", "unknown-parent"), ("unit_staff.csv", "row 7", "unknown-unit")],
    ),
    (
        "a community listed twice",
        set_cell("property_companies.csv", 3, "communities", "C-20|C-10|C-20"),
        [("property_companies.csv", "row 3", "duplicate-community"), ("unit_staff.csv", "row 4", "unknown-unit")],
    ),
    (
        "communities only separators",
        set_cell("volunteer_teams.csv", 2, "communities", "| |"),
        [
            ("volunteer_teams.csv", "row 2", "empty-field"),
            *[("unit_staff.csv", f"row {r}", "unknown-unit") for r in (5, 6)],
        ],
    ),
    (
        "empty communities",
        set_cell("property_companies.csv", 2, "communities", ""),
        [
            ("property_companies.csv", "row 2", "empty-field"),
            *[("unit_staff.csv", f"row {r}", "unknown-unit") for r in (2, 3)],
        ],
    ),
    (
        "empty name",
        set_cell("volunteer_teams.csv", 2, "name", " "),
        [
            ("volunteer_teams.csv", "row 2", "empty-field"),
            *[("unit_staff.csv", f"row {r}", "unknown-unit") for r in (5, 6)],
        ],
    ),
    (
        "empty manager",
        set_cell("property_companies.csv", 3, "manager", ""),
        [("property_companies.csv", "row 3", "empty-field"), ("unit_staff.csv", "row 4", "unknown-unit")],
    ),
    (
        "duplicate company id",
        append_row("property_companies.csv", "P-1", "又一物业", "C-20", "冯军"),
        [("property_companies.csv", "row 4", "duplicate-id")],
    ),
    (
        "company id of a department",
        set_cell("property_companies.csv", 3, "id", "water"),
        [("property_companies.csv", "row 3", "duplicate-unit-id"), ("unit_staff.csv", "row 4", "unknown-unit")],
    ),
    (
        "team id of a property company",
        append_row("volunteer_teams.csv", "P-2", "新华志愿队", "C-20", "冯军"),
        [("volunteer_teams.csv", "row 4", "duplicate-unit-id")],
    ),
    (
        "team id of a department",
        append_row("volunteer_teams.csv", "urban-management", "城管志愿队", "C-11", "冯军"),
        [("volunteer_teams.csv", "row 4", "duplicate-unit-id")],
    ),
    (
        "missing column",
        drop_column("volunteer_teams.csv", "leader"),
        [
            ("volunteer_teams.csv", "header", "missing-column"),
            *[("unit_staff.csv", f"row {r}", "unknown-unit") for r in (5, 6, 7)],
        ],
    ),
    (
        "staff of a grid kind",
        set_cell("unit_staff.csv", 2, "unit_kind", "grid"),
        [("unit_staff.csv", "row 2", "bad-unit-kind")],
    ),
    (
        "staff of a department",
        append_row("unit_staff.csv", "D-1", "department", "water", "李明", "manager"),
        [("unit_staff.csv", "row 8", "bad-unit-kind")],
    ),
    (
        "staff of an unknown company",
        append_row("unit_staff.csv", "P-9-1", "property", "P-9", "冯军", "manager"),
        [("unit_staff.csv", "row 8", "unknown-unit")],
    ),
    (
        "a team id given as a property company",
        set_cell("unit_staff.csv", 5, "unit_kind", "property"),
        [("unit_staff.csv", "row 5", "unknown-unit")],
    ),
    (
        "a volunteer with a company duty",
        set_cell("unit_staff.csv", 6, "duty", "manager"),
        [("unit_staff.csv", "row 6", "bad-duty")],
    ),
    ("an unknown duty", set_cell("unit_staff.csv", 3, "duty", "boss"), [("unit_staff.csv", "row 3", "bad-duty")]),
    (
        "duplicate staff id",
        append_row("unit_staff.csv", "P-1-2", "property", "P-2", "冯军", "staff"),
        [("unit_staff.csv", "row 8", "duplicate-id")],
    ),
    (
        "staff id of a grid worker",
        append_row("unit_staff.csv", "W-G-101-1", "volunteer_team", "V-C-20", "冯军", "volunteer"),
        [("unit_staff.csv", "row 8", "duplicate-staff-id")],
    ),
    ("empty duty", set_cell("unit_staff.csv", 7, "duty", ""), [("unit_staff.csv", "row 7", "empty-field")]),
    (
        "the companies file is missing",
        remove("property_companies.csv"),
        [("unit_staff.csv", f"row {r}", "unknown-unit") for r in (2, 3, 4)],
    ),
    (
        "a served community's row is refused",
        set_cell("communities.csv", 4, "street_id", "S-9"),
        [
            ("communities.csv", "row 4", "unknown-parent"),
            ("grids.geojson", "feature 4 (id G-201)", "unknown-parent"),
            ("grids.geojson", "feature 5 (id G-202)", "unknown-parent"),
            ("grids.geojson", "feature 6 (id G-203)", "unknown-parent"),
            ("streets.csv", "row 3", "empty-unit"),
            ("property_companies.csv", "row 3", "unknown-parent"),
            ("volunteer_teams.csv", "row 3", "unknown-parent"),
            *[("staff.csv", f"row {r}", "unknown-parent") for r in range(11, 20)],
            *[("unit_staff.csv", f"row {r}", "unknown-unit") for r in (4, 7)],
        ],
    ),
]


@pytest.mark.parametrize(("what", "edit", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_units_are_refused_with_file_row_and_rule(
    folder: Path, what: str, edit: Callable[[Path], None], expected: list[tuple[str, str, str]]
) -> None:
    edit(folder)
    with pytest.raises(CityDataError) as err:
        read_city(folder)
    found = [(i.file, i.row, i.rule) for i in err.value.issues]
    assert sorted(found) == sorted(expected), what


def test_every_bad_unit_is_listed_at_once_with_its_values(folder: Path) -> None:
    set_cell("property_companies.csv", 2, "communities", "C-10|C-77")(folder)
    set_cell("property_companies.csv", 3, "id", "environment")(folder)
    append_row("volunteer_teams.csv", "V-C-10", "重复志愿队", "C-10", "冯军")(folder)
    append_row("unit_staff.csv", "W-G-203-2", "property", "P-1", "冯军", "staff")(folder)
    append_row("unit_staff.csv", "X-1", "community", "C-10", "冯军", "staff")(folder)
    append_row("unit_staff.csv", "X-2", "volunteer_team", "V-C-20", "冯军", "staff")(folder)
    with pytest.raises(CityDataError) as err:
        read_city(folder)
    text = str(err.value)
    expected = [
        "property_companies.csv row 2: unknown-parent: 'P-1': community(ies) 'C-77' not in communities.csv",
        "property_companies.csv row 3: duplicate-unit-id: id 'environment' is already a unit id at "
        "departments.csv row 4",
        "volunteer_teams.csv row 4: duplicate-id: id 'V-C-10' already defined at row 2",
        "unit_staff.csv row 8: duplicate-staff-id: staff id 'W-G-203-2' is already a grid staff id in staff.csv",
        "unit_staff.csv row 9: bad-unit-kind: unit_kind 'community' is not one of property, volunteer_team",
        "unit_staff.csv row 10: bad-duty: duty 'staff' of a volunteer_team member is not one of leader, volunteer",
        # the staff of the refused companies have no unit left
        "unit_staff.csv row 2: unknown-unit: staff 'P-1-1': property 'P-1' is not in property_companies.csv",
        "unit_staff.csv row 4: unknown-unit: staff 'P-2-1': property 'P-2' is not in property_companies.csv",
    ]
    for line in expected:
        assert line in text


# -- the registry ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reg() -> SqlCityRegistry:
    return SqlCityRegistry(city_with_units())


def test_the_registry_holds_the_units_by_id(reg: SqlCityRegistry) -> None:
    assert reg.property_companies == {p.id: p for p in PROPERTIES}
    assert reg.volunteer_teams == {t.id: t for t in TEAMS}


@pytest.mark.parametrize(
    ("community", "properties", "teams"),
    [("C-10", ["P-1", "P-2"], ["V-C-10"]), ("C-11", ["P-1"], []), ("C-20", ["P-2"], ["V-C-20"]), ("C-99", [], [])],
)
def test_units_serving_a_community_in_id_order(
    reg: SqlCityRegistry, community: str, properties: list[str], teams: list[str]
) -> None:
    assert [p.id for p in reg.properties_serving(community)] == properties
    assert [t.id for t in reg.teams_serving(community)] == teams
    expected = [p for p in PROPERTIES if community in p.communities]
    assert reg.properties_serving(community) == sorted(expected, key=lambda p: p.id)


def test_the_staff_of_a_unit(reg: SqlCityRegistry) -> None:
    for kind, uid in [
        ("property", "P-1"),
        ("property", "P-2"),
        ("volunteer_team", "V-C-10"),
        ("volunteer_team", "V-C-20"),
    ]:
        assert reg.unit_staff_of(kind, uid) == [m for m in UNIT_STAFF if (m.unit_kind, m.unit_id) == (kind, uid)]
    assert [m.name for m in reg.unit_staff_of(UnitKind.PROPERTY, "P-1")] == ["赵刚", "吴敏"]
    assert reg.unit_staff_of("volunteer_team", "P-1") == []  # the id of another kind
    assert reg.unit_staff_of("property", "P-9") == []
    reg.unit_staff_of("property", "P-1").clear()  # a copy: the registry keeps its own
    assert len(reg.unit_staff_of("property", "P-1")) == 2


@pytest.mark.parametrize(
    ("kind", "uid", "known", "name"),
    [
        (UnitKind.PROPERTY, "P-1", True, "青城物业服务有限公司"),
        (UnitKind.PROPERTY, "P-2", True, "新华红色物业服务中心"),
        (UnitKind.VOLUNTEER_TEAM, "V-C-20", True, "新华社区志愿服务队"),
        (UnitKind.PROPERTY, "V-C-10", False, "V-C-10"),
        (UnitKind.VOLUNTEER_TEAM, "P-1", False, "P-1"),
        (UnitKind.PROPERTY, "water", False, "water"),
        (UnitKind.DEPARTMENT, "P-1", False, "P-1"),
        (UnitKind.DEPARTMENT, "water", True, "水务局"),
        (UnitKind.GRID, "G-101", True, "青城花园"),
    ],
)
def test_unit_exists_and_unit_name_know_the_new_kinds(
    reg: SqlCityRegistry, kind: UnitKind, uid: str, known: bool, name: str
) -> None:
    unit = UnitRef(kind=kind, id=uid)
    assert reg.unit_exists(unit) is known
    assert reg.unit_name(unit) == name


def test_served_communities_as_a_case_carries_them(reg: SqlCityRegistry) -> None:
    assert reg.property_communities() == {"P-1": ("C-10", "C-11"), "P-2": ("C-10", "C-20")}
    assert reg.volunteer_team_communities() == {"V-C-10": ("C-10",), "V-C-20": ("C-20",)}
    empty = SqlCityRegistry(tiny_city())
    assert empty.property_communities() == {} and empty.volunteer_team_communities() == {}
    assert empty.properties_serving("C-10") == [] and empty.unit_staff_of("property", "P-1") == []
    assert not empty.unit_exists(UnitRef(kind=UnitKind.PROPERTY, id="P-1"))


# -- the SLA context ---------------------------------------------------------------------------------


def test_new_cases_carry_the_units_sorted() -> None:
    cal = build_calendar([2026])
    ctx = SlaActivities(
        default_policy(),
        cal,
        properties={"P-2": ["C-20", "C-10", "C-20"], "P-1": iter(["C-11", "C-10"])},
        volunteer_teams={"V-b": ("C-2",), "V-a": ["C-3", "C-1"]},
    ).context
    assert ctx.properties == {"P-1": ("C-10", "C-11"), "P-2": ("C-10", "C-20")}
    assert list(ctx.properties) == ["P-1", "P-2"]
    assert ctx.volunteer_teams == {"V-a": ("C-1", "C-3"), "V-b": ("C-2",)}
    unchecked = SlaActivities(default_policy(), cal).context
    assert unchecked.properties is None and unchecked.volunteer_teams is None
    none_known = SlaActivities(default_policy(), cal, properties={}, volunteer_teams={}).context
    assert none_known.properties == {} and none_known.volunteer_teams == {}


def test_the_case_worker_reads_the_units_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers import composition
    from workers.settings import Settings

    built: dict[str, Any] = {}

    class FakeWorker:
        def __init__(self, client: object, **kwargs: Any) -> None:
            built.update(kwargs)

    registry = SqlCityRegistry(city_with_units())
    monkeypatch.setattr(composition, "Worker", FakeWorker)
    monkeypatch.setattr(composition, "build_registry", lambda settings: registry)
    cal = build_calendar([2026])
    composition.build_worker(object(), Settings(), sink=object(), policy=default_policy(), calendar=cal)  # type: ignore[arg-type]
    sla = next(a for a in built["activities"] if getattr(a, "__name__", "") == "load_sla_context")
    ctx = sla.__self__.context
    assert ctx.properties == registry.property_communities() and ctx.properties["P-2"] == ("C-10", "C-20")
    assert ctx.volunteer_teams == registry.volunteer_team_communities()
    assert ctx.departments == tuple(sorted(registry.departments))
    # given departments: the registry is not read, and what is not given is not checked
    built.clear()
    monkeypatch.setattr(composition, "build_registry", lambda settings: pytest.fail("registry read"))
    composition.build_worker(  # type: ignore[arg-type]
        object(), Settings(), sink=object(), policy=default_policy(), calendar=cal, departments=["water"]
    )
    ctx = next(a for a in built["activities"] if getattr(a, "__name__", "") == "load_sla_context").__self__.context
    assert ctx.properties is None and ctx.volunteer_teams is None


# -- the seed city -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> CityData:
    return read_city(SEED_DIR)


def test_every_street_has_property_companies_serving_its_communities(seed: CityData) -> None:
    street_of = {c.id: c.street_id for c in seed.communities}
    per_street: dict[str, list[PropertyCompany]] = defaultdict(list)
    for p in seed.property_companies:
        streets = {street_of[c] for c in p.communities}
        assert len(streets) == 1, p.id  # a company serves communities of one street
        street = streets.pop()
        assert p.id.startswith(f"P-{street[2:]}-"), p.id
        per_street[street].append(p)
    assert set(per_street) == {s.id for s in seed.streets}
    served = Counter(c for p in seed.property_companies for c in p.communities)
    assert set(served) == set(street_of)  # every community has a company
    assert max(served.values()) >= 2  # and some have two
    assert all(1 <= len(ps) <= 3 for ps in per_street.values())


def test_every_community_has_its_volunteer_team(seed: CityData) -> None:
    assert [(t.id, t.communities) for t in seed.volunteer_teams] == [(f"V-{c.id}", (c.id,)) for c in seed.communities]
    names = {c.id: c.name for c in seed.communities}
    assert all(t.name == f"{names[t.communities[0]]}志愿服务队" for t in seed.volunteer_teams)


def test_seed_unit_ids_never_collide_and_names_look_real(seed: CityData) -> None:
    ids = (
        [d.id for d in seed.departments]
        + [p.id for p in seed.property_companies]
        + [t.id for t in seed.volunteer_teams]
    )
    assert len(ids) == len(set(ids))
    staff_ids = [s.id for s in seed.staff] + [m.id for m in seed.unit_staff]
    assert len(staff_ids) == len(set(staff_ids))
    chinese = re.compile(r"^[\u4e00-\u9fff]+$")
    assert all(chinese.match(p.name) and p.name.endswith(("有限公司", "服务中心")) for p in seed.property_companies)
    assert len({p.name for p in seed.property_companies}) == len(seed.property_companies)
    assert all(chinese.match(m.name) and 2 <= len(m.name) <= 3 for m in seed.unit_staff)


def test_every_seed_unit_has_two_or_three_staff_led_by_its_head(seed: CityData) -> None:
    by_unit: dict[tuple[str, str], list[UnitStaffMember]] = defaultdict(list)
    for m in seed.unit_staff:
        by_unit[(m.unit_kind, m.unit_id)].append(m)
    heads = {("property", p.id): p.manager for p in seed.property_companies}
    heads |= {("volunteer_team", t.id): t.leader for t in seed.volunteer_teams}
    assert set(by_unit) == set(heads)
    for key, members in by_unit.items():
        duties = UNIT_DUTIES[key[0]]
        assert 2 <= len(members) <= 3, key
        assert members[0].duty == duties[0] and members[0].name == heads[key], key
        assert all(m.duty == duties[1] for m in members[1:]), key


def test_the_seed_units_are_deterministic() -> None:
    a, b = generate_city(7), generate_city(7)
    assert a == b
    other = generate_city(8)
    assert [p.name for p in a.property_companies] != [p.name for p in other.property_companies]


# -- GET /registry/units: the kinds property and volunteer_team, the community filter -------------


@pytest.mark.parametrize(
    ("kind", "community", "street", "expected"),
    [
        ("property", None, None, ["P-1", "P-2"]),
        ("property", "C-20", None, ["P-2"]),
        ("property", "C-11", None, ["P-1"]),
        ("property", "C-10", None, ["P-1", "P-2"]),
        ("property", None, "S-2", ["P-2"]),
        ("property", "C-11", "S-2", []),  # both filters hold at once
        ("volunteer_team", None, None, ["V-C-10", "V-C-20"]),
        ("volunteer_team", "C-10", None, ["V-C-10"]),
        ("volunteer_team", "C-11", None, []),  # a community without a team
        ("volunteer_team", None, "S-1", ["V-C-10"]),
        ("grid", "C-10", None, ["G-101", "G-102"]),
        ("community", "C-20", None, ["C-20"]),
        ("department", "C-20", None, None),  # departments serve the whole city: not narrowed
    ],
)
def test_units_of_the_serving_kinds(
    kind: str, community: str | None, street: str | None, expected: list[str] | None
) -> None:
    from workers.api.routes.registry import list_units

    reg = SqlCityRegistry(city_with_units(), "v1")
    items = list_units(reg, kind=kind, community=community, street=street)  # type: ignore[arg-type]
    if expected is None:
        assert [u.id for u in items] == [u.id for u in list_units(reg, kind=kind)]  # type: ignore[arg-type]
        assert items
        return
    assert [u.id for u in items] == expected
    for u in items:
        assert u.kind == kind
        if kind in ("property", "volunteer_team"):
            served = {p.id: p.communities for p in [*PROPERTIES, *TEAMS]}[u.id]
            assert u.communities == list(served)
            assert u.name == {p.id: p.name for p in [*PROPERTIES, *TEAMS]}[u.id]
        else:
            assert u.communities is None


def test_units_of_every_kind_by_name() -> None:
    from workers.api.routes.registry import list_units

    reg = SqlCityRegistry(city_with_units(), "v1")
    assert [u.id for u in list_units(reg, kind="property", q="红色")] == ["P-2"]
    assert [u.id for u in list_units(reg, kind="volunteer_team", q="v-c-2")] == ["V-C-20"]
    # no kind: the units a dispatch goes to, not the serving ones
    assert {u.kind for u in list_units(reg, limit=500)} == {"department", "street", "community", "grid"}
