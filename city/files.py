"""Read, validate and write a city data folder.

A data folder holds (UTF-8, CSV with a header row; rows are numbered as in a spreadsheet, the
header being row 1):

=====================  ============================================================
``city.json``          optional: ``{"name": "...", ...}`` (string values, kept as metadata)
``districts.csv``      ``id,name``
``streets.csv``        ``id,district_id,name``
``communities.csv``    ``id,street_id,name``
``grids.geojson``      FeatureCollection of Polygons (lon, lat); properties ``id, community_id, name``
``staff.csv``          ``id,grid_id,role,name``; role: leader, manager, full_time, part_time
``departments.csv``    ``id,name,head,head_title``
``sections.csv``       optional: ``unit_kind,unit_id,id,name``: the sections (科室) of a unit;
                       unit_kind: street, department, grid; id unique within the unit
``property_companies.csv``  optional: ``id,name,communities,manager``: the property companies (物业服务企业,
                       红色物业); communities ``|``-separated community ids it serves
``volunteer_teams.csv``  optional: ``id,name,communities,leader``: the community volunteer teams (志愿者队伍)
``unit_staff.csv``     optional: ``id,unit_kind,unit_id,name,duty``: the staff of those units; unit_kind:
                       property (duty manager, staff) or volunteer_team (duty leader, volunteer)
``categories.csv``     ``code,kind,group,name,name_zh,weight``; kind: part, event, hotline
``urgency_rules.csv``  ``category,urgency,keywords``; keywords ``|``-separated, empty = the default
``routing_rules.csv``  ``category,route,departments,needs_whistle``; route: grid, street, department
=====================  ============================================================

:func:`read_city` checks everything and raises :class:`CityDataError` listing every problem with
its file, row and rule; nothing is half-read.

A section's id starts with a letter or digit, then letters, digits, ``_``, ``.`` or ``-`` (at most 64
characters); its name is at most 128 characters; its unit must be in the city. A folder without
``sections.csv`` has no sections.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.validation import explain_validity

from city.model import (
    MAX_ROLES,
    REQUIRED_ROLES,
    SECTION_ID_MAX_LENGTH,
    SECTION_ID_PATTERN,
    SECTION_NAME_MAX_LENGTH,
    SECTION_UNIT_KINDS,
    STAFFED_UNIT_KINDS,
    UNIT_DUTIES,
    CategoryEntry,
    CategoryKind,
    CityData,
    Community,
    Department,
    District,
    GridCell,
    PropertyCompany,
    RoutingRule,
    Section,
    StaffMember,
    StaffRole,
    Street,
    UnitStaffMember,
    UrgencyRule,
    VolunteerTeam,
)
from events.base import UnitKind
from events.schemas import Urgency

COLUMNS: dict[str, tuple[str, ...]] = {
    "districts.csv": ("id", "name"),
    "streets.csv": ("id", "district_id", "name"),
    "communities.csv": ("id", "street_id", "name"),
    "staff.csv": ("id", "grid_id", "role", "name"),
    "departments.csv": ("id", "name", "head", "head_title"),
    "sections.csv": ("unit_kind", "unit_id", "id", "name"),
    "property_companies.csv": ("id", "name", "communities", "manager"),
    "volunteer_teams.csv": ("id", "name", "communities", "leader"),
    "unit_staff.csv": ("id", "unit_kind", "unit_id", "name", "duty"),
    "categories.csv": ("code", "kind", "group", "name", "name_zh", "weight"),
    "urgency_rules.csv": ("category", "urgency", "keywords"),
    "routing_rules.csv": ("category", "route", "departments", "needs_whistle"),
}
GRIDS_FILE = "grids.geojson"
META_FILE = "city.json"
SECTIONS_FILE = "sections.csv"
PROPERTIES_FILE = "property_companies.csv"
TEAMS_FILE = "volunteer_teams.csv"
UNIT_STAFF_FILE = "unit_staff.csv"
#: Columns that may be left empty.
OPTIONAL = {("urgency_rules.csv", "keywords"), ("routing_rules.csv", "departments")}
#: Two grids overlap when their common area exceeds this (square degrees, about 0.01 m²).
OVERLAP_TOLERANCE = 1e-12
_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": False}


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a data folder: where it is and which rule it breaks."""

    file: str
    row: str  # "row 4", "feature 12", "header" or "-"
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} {self.row}: {self.rule}: {self.message}"


class CityDataError(ValueError):
    """A data folder that breaks the registry's rules; ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        shown = "\n".join(f"  {i}" for i in issues[:50])
        more = f"\n  ... and {len(issues) - 50} more" if len(issues) > 50 else ""
        super().__init__(f"city data refused ({len(issues)} problem{'s' if len(issues) != 1 else ''}):\n{shown}{more}")


class _Reader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.issues: list[Issue] = []

    def issue(self, file: str, row: str, rule: str, message: str) -> None:
        self.issues.append(Issue(file, row, rule, message))

    def rows(self, file: str) -> Iterator[tuple[str, dict[str, str]]]:
        """(row label, row) for each data row; reports missing files, columns and empty fields."""
        path = self.folder / file
        if not path.is_file():
            self.issue(file, "-", "missing-file", f"{path} does not exist")
            return
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in COLUMNS[file] if c not in header]
            if missing:
                self.issue(
                    file,
                    "header",
                    "missing-column",
                    f"missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS[file])}",
                )
                return
            reader.fieldnames = header
            for n, raw in enumerate(reader, start=2):
                row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
                label = f"row {n}"
                empty = [c for c in COLUMNS[file] if not row.get(c) and (file, c) not in OPTIONAL]
                if empty:
                    self.issue(file, label, "empty-field", f"{', '.join(empty)} must not be empty")
                    continue
                yield label, row

    def unique(self, file: str, label: str, key: str, seen: dict[str, str], what: str = "id") -> bool:
        if key in seen:
            self.issue(file, label, f"duplicate-{what}", f"{what} {key!r} already defined at {seen[key]}")
            return False
        seen[key] = label
        return True


def _ring(geometry: Any) -> tuple[tuple[tuple[float, float], ...] | None, str]:
    """The polygon's exterior ring, or None and why it cannot be one (validity is checked later)."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        return None, f"geometry must be a Polygon, got {kind}"
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or not coords:
        return None, "Polygon has no coordinates"
    if len(coords) > 1:
        return None, "Polygon with holes is not supported (a grid is one simple area)"
    try:
        arr = np.asarray(coords[0])
    except (TypeError, ValueError):
        return None, "coordinates must be [lon, lat] pairs of numbers"
    if arr.dtype.kind not in "iuf" or arr.ndim != 2 or arr.shape[1] != 2:
        return None, "coordinates must be [lon, lat] pairs of numbers"
    if not np.isfinite(arr).all() or (np.abs(arr[:, 0]) > 180).any() or (np.abs(arr[:, 1]) > 90).any():
        return None, "a coordinate is outside lon -180..180 / lat -90..90"
    if len(arr) < 4:
        return None, f"a ring needs at least 4 points (3 corners and the closing point), got {len(arr)}"
    if (arr[0] != arr[-1]).any():
        return None, "ring is not closed (first point must equal last point)"
    return tuple(map(tuple, arr.astype(float).tolist())), ""


def read_city(folder: Path) -> CityData:
    """Read and validate a city data folder.

    Raises:
        CityDataError: listing every problem, each with its file, row and rule.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CityDataError([Issue(str(folder), "-", "missing-folder", "not a directory")])
    r = _Reader(folder)

    meta: dict[str, str] = {}
    meta_path = folder / META_FILE
    if meta_path.is_file():
        try:
            loaded = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError("top level must be an object")
            meta = {str(k): str(v) for k, v in loaded.items()}
        except ValueError as err:
            r.issue(META_FILE, "-", "bad-json", str(err))

    districts: list[District] = []
    seen: dict[str, str] = {}
    for label, row in r.rows("districts.csv"):
        if r.unique("districts.csv", label, row["id"], seen):
            districts.append(District(row["id"], row["name"]))
    district_ids = {d.id for d in districts}

    streets: list[Street] = []
    seen = {}
    for label, row in r.rows("streets.csv"):
        if not r.unique("streets.csv", label, row["id"], seen):
            continue
        if row["district_id"] not in district_ids:
            r.issue(
                "streets.csv",
                label,
                "unknown-parent",
                f"street {row['id']!r}: district {row['district_id']!r} is not in districts.csv",
            )
            continue
        streets.append(Street(row["id"], row["district_id"], row["name"]))
    street_ids = {s.id for s in streets}

    communities: list[Community] = []
    seen = {}
    for label, row in r.rows("communities.csv"):
        if not r.unique("communities.csv", label, row["id"], seen):
            continue
        if row["street_id"] not in street_ids:
            r.issue(
                "communities.csv",
                label,
                "unknown-parent",
                f"community {row['id']!r}: street {row['street_id']!r} is not in streets.csv",
            )
            continue
        communities.append(Community(row["id"], row["street_id"], row["name"]))
    community_ids = {c.id for c in communities}

    grids, grid_rows = _read_grids(r, community_ids)
    grid_ids = {g.id for g in grids}

    staff: list[StaffMember] = []
    seen = {}
    roles: dict[str, Counter[StaffRole]] = {g: Counter() for g in grid_ids}
    for label, row in r.rows("staff.csv"):
        if not r.unique("staff.csv", label, row["id"], seen):
            continue
        try:
            role = StaffRole(row["role"])
        except ValueError:
            r.issue(
                "staff.csv",
                label,
                "bad-role",
                f"role {row['role']!r} is not one of {', '.join(x.value for x in StaffRole)}",
            )
            continue
        if row["grid_id"] not in grid_ids:
            r.issue(
                "staff.csv",
                label,
                "unknown-parent",
                f"staff {row['id']!r}: grid {row['grid_id']!r} is not in {GRIDS_FILE}",
            )
            continue
        roles[row["grid_id"]][role] += 1
        limit = MAX_ROLES[role]
        if limit is not None and roles[row["grid_id"]][role] > limit:
            r.issue(
                "staff.csv",
                label,
                "too-many-staff-role",
                f"grid {row['grid_id']!r} already has {limit} {role.value} (1+1+1+N: one leader, one manager)",
            )
            continue
        staff.append(StaffMember(row["id"], row["grid_id"], role, row["name"]))
    if (folder / "staff.csv").is_file():
        for g in grids:
            for role, need in REQUIRED_ROLES.items():
                if roles[g.id][role] < need:
                    r.issue(
                        GRIDS_FILE,
                        grid_rows[g.id],
                        "missing-staff-role",
                        f"grid {g.id!r} has no {role.value} in staff.csv (1+1+1+N: one leader, one manager, "
                        "at least one full-time worker per grid)",
                    )

    departments: list[Department] = []
    seen = {}
    for label, row in r.rows("departments.csv"):
        if r.unique("departments.csv", label, row["id"], seen):
            departments.append(Department(row["id"], row["name"], row["head"], row["head_title"]))
    department_ids = {d.id for d in departments}
    department_rows = {d.id: f"departments.csv {seen[d.id]}" for d in departments}

    sections = _read_sections(r, {"street": street_ids, "department": department_ids, "grid": grid_ids})
    property_companies, volunteer_teams, unit_staff = _read_community_units(
        r, community_ids, department_rows, {s.id for s in staff}
    )

    categories: list[CategoryEntry] = []
    category_rows: dict[str, str] = {}
    for label, row in r.rows("categories.csv"):
        if not r.unique("categories.csv", label, row["code"], category_rows, "code"):
            continue
        try:
            kind = CategoryKind(row["kind"])
        except ValueError:
            r.issue(
                "categories.csv",
                label,
                "bad-kind",
                f"kind {row['kind']!r} is not one of {', '.join(k.value for k in CategoryKind)}",
            )
            continue
        try:
            weight = float(row["weight"])
            if not math.isfinite(weight) or weight < 0:
                raise ValueError
        except ValueError:
            r.issue("categories.csv", label, "bad-weight", f"weight {row['weight']!r} must be a number >= 0")
            continue
        categories.append(CategoryEntry(row["code"], kind, row["group"], row["name"], row["name_zh"], weight))
    codes = {c.code for c in categories}

    urgency_rules: list[UrgencyRule] = []
    defaults: dict[str, str] = {}
    keyword_rows: dict[str, str] = {}
    for label, row in r.rows("urgency_rules.csv"):
        if row["category"] not in codes:
            r.issue(
                "urgency_rules.csv", label, "unknown-category", f"category {row['category']!r} is not in categories.csv"
            )
            continue
        try:
            urgency = Urgency(row["urgency"])
        except ValueError:
            r.issue(
                "urgency_rules.csv",
                label,
                "bad-urgency",
                f"urgency {row['urgency']!r} is not one of {', '.join(u.value for u in Urgency)}",
            )
            continue
        keywords = tuple(k.strip() for k in row["keywords"].split("|") if k.strip())
        if not keywords:
            if not r.unique("urgency_rules.csv", label, row["category"], defaults, "default-rule"):
                continue
        elif not r.unique(
            "urgency_rules.csv", label, f"{row['category']}:{'|'.join(keywords)}", keyword_rows, "keyword-rule"
        ):
            continue
        urgency_rules.append(UrgencyRule(row["category"], urgency, keywords))
    if (folder / "urgency_rules.csv").is_file():
        for c in categories:
            if c.code not in defaults:
                r.issue(
                    "categories.csv",
                    category_rows[c.code],
                    "missing-urgency-rule",
                    f"category {c.code!r} has no default urgency rule (a row with empty keywords) in urgency_rules.csv",
                )

    routing_rules: list[RoutingRule] = []
    routed: dict[str, str] = {}
    for label, row in r.rows("routing_rules.csv"):
        if row["category"] not in codes:
            r.issue(
                "routing_rules.csv", label, "unknown-category", f"category {row['category']!r} is not in categories.csv"
            )
            continue
        if not r.unique("routing_rules.csv", label, row["category"], routed, "routing-rule"):
            continue
        try:
            route = UnitKind(row["route"])
            if route == UnitKind.HOTLINE:
                raise ValueError
        except ValueError:
            r.issue(
                "routing_rules.csv", label, "bad-route", f"route {row['route']!r} is not grid, street or department"
            )
            continue
        depts = tuple(d.strip() for d in row["departments"].split("|") if d.strip())
        unknown = [d for d in depts if d not in department_ids]
        if unknown:
            r.issue(
                "routing_rules.csv",
                label,
                "unknown-department",
                f"department(s) {', '.join(repr(d) for d in unknown)} not in departments.csv",
            )
            continue
        flag = row["needs_whistle"].lower()
        if flag not in _BOOL:
            r.issue("routing_rules.csv", label, "bad-flag", f"needs_whistle {row['needs_whistle']!r} is not true/false")
            continue
        whistle = _BOOL[flag]
        if route == UnitKind.DEPARTMENT and not depts:
            r.issue("routing_rules.csv", label, "bad-route", "route department needs at least one department")
            continue
        if whistle and (route != UnitKind.STREET or not depts):
            r.issue(
                "routing_rules.csv",
                label,
                "bad-whistle",
                "needs_whistle requires route street and at least one department to summon",
            )
            continue
        routing_rules.append(RoutingRule(row["category"], route, depts, whistle))
    if (folder / "routing_rules.csv").is_file():
        for c in categories:
            if c.code not in routed:
                r.issue(
                    "categories.csv",
                    category_rows[c.code],
                    "missing-routing-rule",
                    f"category {c.code!r} has no row in routing_rules.csv",
                )

    # Every unit has something under it.
    streets_with = {c.street_id for c in communities}
    communities_with = {g.community_id for g in grids}
    districts_with = {s.district_id for s in streets}
    levels: list[tuple[list[str], set[str], str, str]] = [
        ([d.id for d in districts], districts_with, "districts.csv", "street"),
        ([s.id for s in streets], streets_with, "streets.csv", "community"),
        ([c.id for c in communities], communities_with, "communities.csv", "grid"),
    ]
    for units, have, file, what in levels:
        if not (r.folder / file).is_file():
            continue
        for n, unit_id in enumerate(units):
            if unit_id not in have:
                r.issue(file, _row_of(r.folder / file, unit_id, n), "empty-unit", f"{unit_id!r} has no {what}")

    if r.issues:
        raise CityDataError(r.issues)
    name = meta.pop("name", folder.name)
    return CityData(
        name=name,
        districts=districts,
        streets=streets,
        communities=communities,
        grids=grids,
        staff=staff,
        departments=departments,
        categories=categories,
        urgency_rules=urgency_rules,
        routing_rules=routing_rules,
        meta=meta,
        sections=sections,
        property_companies=property_companies,
        volunteer_teams=volunteer_teams,
        unit_staff=unit_staff,
    )


_SECTION_ID = re.compile(SECTION_ID_PATTERN)
_UNIT_FILES = {"street": "streets.csv", "department": "departments.csv", "grid": GRIDS_FILE}


def _read_sections(r: _Reader, units: dict[str, set[str]]) -> list[Section]:
    """The sections of ``sections.csv`` (none when the file is absent); ``units``: the unit ids by kind."""
    if not (r.folder / SECTIONS_FILE).is_file():
        return []
    sections: list[Section] = []
    seen: dict[str, str] = {}
    for label, row in r.rows(SECTIONS_FILE):
        kind, unit_id, sid, name = row["unit_kind"], row["unit_id"], row["id"], row["name"]
        if kind not in SECTION_UNIT_KINDS:
            r.issue(
                SECTIONS_FILE,
                label,
                "bad-unit-kind",
                f"unit_kind {kind!r} is not one of {', '.join(SECTION_UNIT_KINDS)}",
            )
            continue
        if unit_id not in units[kind]:
            r.issue(
                SECTIONS_FILE,
                label,
                "unknown-unit",
                f"section {sid!r}: {kind} {unit_id!r} is not in {_UNIT_FILES[kind]}",
            )
            continue
        if len(sid) > SECTION_ID_MAX_LENGTH or not _SECTION_ID.match(sid):
            r.issue(
                SECTIONS_FILE,
                label,
                "bad-id",
                f"id {sid!r} must match {SECTION_ID_PATTERN} and have at most {SECTION_ID_MAX_LENGTH} characters",
            )
            continue
        if len(name) > SECTION_NAME_MAX_LENGTH:
            r.issue(
                SECTIONS_FILE,
                label,
                "name-too-long",
                f"name of section {sid!r} has {len(name)} characters; at most {SECTION_NAME_MAX_LENGTH}",
            )
            continue
        if r.unique(SECTIONS_FILE, label, f"{kind}:{unit_id}:{sid}", seen, "section"):
            sections.append(Section(kind, unit_id, sid, name))
    return sections


def _read_community_units(
    r: _Reader, community_ids: set[str], unit_ids: dict[str, str], grid_staff_ids: set[str]
) -> tuple[list[PropertyCompany], list[VolunteerTeam], list[UnitStaffMember]]:
    """The property companies, volunteer teams and their staff (none of a kind whose file is absent).

    ``unit_ids``: the department ids with where they are defined; a company or team may not reuse one
    (nor each other's). ``grid_staff_ids``: the ids of ``staff.csv``, which unit staff may not reuse.
    """
    units: dict[str, set[str]] = {k: set() for k in STAFFED_UNIT_KINDS}
    read: dict[str, list[tuple[str, str, tuple[str, ...], str]]] = {k: [] for k in STAFFED_UNIT_KINDS}
    unit_ids = dict(unit_ids)
    for kind, file, head in (
        (UnitKind.PROPERTY.value, PROPERTIES_FILE, "manager"),
        (UnitKind.VOLUNTEER_TEAM.value, TEAMS_FILE, "leader"),
    ):
        if not (r.folder / file).is_file():
            continue
        seen: dict[str, str] = {}
        for label, row in r.rows(file):
            uid = row["id"]
            if not r.unique(file, label, uid, seen):
                continue
            if uid in unit_ids:
                r.issue(
                    file,
                    label,
                    "duplicate-unit-id",
                    f"id {uid!r} is already a unit id at {unit_ids[uid]} (department, property company and "
                    "volunteer team ids must differ: a dispatch or a whistle names the unit by its id)",
                )
                continue
            unit_ids[uid] = f"{file} {label}"
            served = [c.strip() for c in row["communities"].split("|")]
            served = [c for c in served if c]
            if not served:
                r.issue(file, label, "empty-field", f"communities of {uid!r} must name at least one community")
                continue
            twice = sorted({c for c in served if served.count(c) > 1})
            if twice:
                r.issue(
                    file,
                    label,
                    "duplicate-community",
                    f"{uid!r} lists community(ies) {', '.join(repr(c) for c in twice)} more than once",
                )
                continue
            unknown = [c for c in served if c not in community_ids]
            if unknown:
                r.issue(
                    file,
                    label,
                    "unknown-parent",
                    f"{uid!r}: community(ies) {', '.join(repr(c) for c in unknown)} not in communities.csv",
                )
                continue
            units[kind].add(uid)
            read[kind].append((uid, row["name"], tuple(served), row[head]))
    companies = [PropertyCompany(*x) for x in read[UnitKind.PROPERTY.value]]
    teams = [VolunteerTeam(*x) for x in read[UnitKind.VOLUNTEER_TEAM.value]]

    staff: list[UnitStaffMember] = []
    if (r.folder / UNIT_STAFF_FILE).is_file():
        files = {UnitKind.PROPERTY.value: PROPERTIES_FILE, UnitKind.VOLUNTEER_TEAM.value: TEAMS_FILE}
        seen = {}
        for label, row in r.rows(UNIT_STAFF_FILE):
            sid, kind, uid, duty = row["id"], row["unit_kind"], row["unit_id"], row["duty"]
            if not r.unique(UNIT_STAFF_FILE, label, sid, seen):
                continue
            if sid in grid_staff_ids:
                r.issue(
                    UNIT_STAFF_FILE,
                    label,
                    "duplicate-staff-id",
                    f"staff id {sid!r} is already a grid staff id in staff.csv",
                )
                continue
            if kind not in STAFFED_UNIT_KINDS:
                r.issue(
                    UNIT_STAFF_FILE,
                    label,
                    "bad-unit-kind",
                    f"unit_kind {kind!r} is not one of {', '.join(STAFFED_UNIT_KINDS)}",
                )
                continue
            if uid not in units[kind]:
                r.issue(
                    UNIT_STAFF_FILE,
                    label,
                    "unknown-unit",
                    f"staff {sid!r}: {kind} {uid!r} is not in {files[kind]}",
                )
                continue
            if duty not in UNIT_DUTIES[kind]:
                r.issue(
                    UNIT_STAFF_FILE,
                    label,
                    "bad-duty",
                    f"duty {duty!r} of a {kind} member is not one of {', '.join(UNIT_DUTIES[kind])}",
                )
                continue
            staff.append(UnitStaffMember(sid, kind, uid, row["name"], duty))
    return companies, teams, staff


def _row_of(path: Path, unit_id: str, fallback: int) -> str:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for n, raw in enumerate(csv.reader(fh), start=1):
            if raw and raw[0].strip() == unit_id:
                return f"row {n}"
    return f"row {fallback + 2}"


def _read_grids(r: _Reader, community_ids: set[str]) -> tuple[list[GridCell], dict[str, str]]:
    path = r.folder / GRIDS_FILE
    if not path.is_file():
        r.issue(GRIDS_FILE, "-", "missing-file", f"{path} does not exist")
        return [], {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        r.issue(GRIDS_FILE, "-", "bad-json", str(err))
        return [], {}
    features = doc.get("features") if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" else None
    if not isinstance(features, list):
        r.issue(GRIDS_FILE, "-", "bad-geojson", "top level must be a FeatureCollection with a features list")
        return [], {}
    grids: list[GridCell] = []
    rows: dict[str, str] = {}
    for n, feature in enumerate(features, start=1):
        label = f"feature {n}"
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            r.issue(GRIDS_FILE, label, "bad-geojson", "feature has no properties object")
            continue
        values = {k: str(props.get(k) or "").strip() for k in ("id", "community_id", "name")}
        empty = [k for k, v in values.items() if not v]
        if empty:
            r.issue(GRIDS_FILE, label, "empty-field", f"properties {', '.join(empty)} must not be empty")
            continue
        gid = values["id"]
        label = f"feature {n} (id {gid})"
        if not r.unique(GRIDS_FILE, label, gid, rows):
            continue
        if values["community_id"] not in community_ids:
            r.issue(
                GRIDS_FILE,
                label,
                "unknown-parent",
                f"grid {gid!r}: community {values['community_id']!r} is not in communities.csv",
            )
            continue
        ring, why = _ring(feature.get("geometry"))
        if ring is None:
            r.issue(GRIDS_FILE, label, "bad-polygon", why)
            continue
        grids.append(GridCell(gid, values["community_id"], values["name"], ring))
    polys = polygons_of(grids)
    bad = ~shapely.is_valid(polys) | (shapely.area(polys) <= 0)
    if bad.any():
        for i in np.flatnonzero(bad):
            why = explain_validity(polys[i]) if not shapely.is_valid(polys[i]) else "zero area"
            r.issue(GRIDS_FILE, rows[grids[i].id], "bad-polygon", f"invalid polygon: {why}")
        grids = [g for g, b in zip(grids, bad, strict=True) if not b]
        polys = polys[~bad]
    for a, b, area in overlapping_pairs(grids, polys):
        r.issue(
            GRIDS_FILE,
            rows[b.id],
            "overlapping-grids",
            f"grid {b.id!r} overlaps grid {a.id!r} ({rows[a.id]}) by {area:.3g} square degrees",
        )
    return grids, rows


def polygons_of(grids: list[GridCell]) -> np.ndarray:
    """The grids' polygons as a shapely geometry array (one vectorised construction)."""
    lengths = [len(g.ring) for g in grids]
    coords = np.array([p for g in grids for p in g.ring], dtype=float).reshape(-1, 2)
    rings = shapely.linearrings(coords, indices=np.repeat(np.arange(len(grids)), lengths))
    return shapely.polygons(rings)


def overlapping_pairs(grids: list[GridCell], polys: np.ndarray | None = None) -> list[tuple[GridCell, GridCell, float]]:
    """Pairs of grids whose interiors overlap by more than :data:`OVERLAP_TOLERANCE` (touching is fine).

    ``polys`` are the grids' polygons if already built (:func:`polygons_of`).
    """
    if len(grids) < 2:
        return []
    polys = polygons_of(grids) if polys is None else polys
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys)  # bounding boxes meet
    keep = left < right
    left, right = left[keep], right[keep]
    inner = shapely.relate_pattern(polys[left], polys[right], "T********")  # interiors meet
    left, right = left[inner], right[inner]
    areas = shapely.area(shapely.intersection(polys[left], polys[right]))
    return [(grids[i], grids[j], float(a)) for i, j, a in zip(left, right, areas, strict=True) if a > OVERLAP_TOLERANCE]


# -- writing -------------------------------------------------------------------------------------


def write_city(data: CityData, folder: Path) -> list[Path]:
    """Write a city as a data folder (the format :func:`read_city` reads); returns the files written.

    ``sections.csv`` is written only for a city with sections (and ``property_companies.csv``,
    ``volunteer_teams.csv``, ``unit_staff.csv`` only for a city with some); a stale one in ``folder`` is
    removed otherwise, so the folder reads back as ``data``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[tuple[object, ...]]] = {
        "districts.csv": [(d.id, d.name) for d in data.districts],
        "streets.csv": [(s.id, s.district_id, s.name) for s in data.streets],
        "communities.csv": [(c.id, c.street_id, c.name) for c in data.communities],
        "staff.csv": [(s.id, s.grid_id, s.role.value, s.name) for s in data.staff],
        "departments.csv": [(d.id, d.name, d.head, d.head_title) for d in data.departments],
        SECTIONS_FILE: [(s.unit_kind, s.unit_id, s.id, s.name) for s in data.sections],
        PROPERTIES_FILE: [(p.id, p.name, "|".join(p.communities), p.manager) for p in data.property_companies],
        TEAMS_FILE: [(t.id, t.name, "|".join(t.communities), t.leader) for t in data.volunteer_teams],
        UNIT_STAFF_FILE: [(m.id, m.unit_kind, m.unit_id, m.name, m.duty) for m in data.unit_staff],
        "categories.csv": [
            (c.code, c.kind.value, c.group, c.name, c.name_zh, f"{c.weight:g}") for c in data.categories
        ],
        "urgency_rules.csv": [(u.category, u.urgency.value, "|".join(u.keywords)) for u in data.urgency_rules],
        "routing_rules.csv": [
            (x.category, x.route.value, "|".join(x.departments), str(x.needs_whistle).lower())
            for x in data.routing_rules
        ],
    }
    for file, present in (
        (SECTIONS_FILE, data.sections),
        (PROPERTIES_FILE, data.property_companies),
        (TEAMS_FILE, data.volunteer_teams),
        (UNIT_STAFF_FILE, data.unit_staff),
    ):
        if not present:
            del tables[file]
            (folder / file).unlink(missing_ok=True)
    written = []
    for file, rows in tables.items():
        path = folder / file
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(COLUMNS[file])
            w.writerows(rows)
        written.append(path)
    features = [
        json.dumps(
            {
                "type": "Feature",
                "properties": {"id": g.id, "community_id": g.community_id, "name": g.name},
                "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in g.ring]]},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for g in data.grids
    ]
    path = folder / GRIDS_FILE
    path.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n", encoding="utf-8")
    written.append(path)
    meta = {"name": data.name, **{k: v for k, v in data.meta.items() if k != "name"}}
    path = folder / META_FILE
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    written.append(path)
    return written
