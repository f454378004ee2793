"""The city registry's SQL tables (SQLAlchemy Core) and loading a city into them.

The tables (all prefixed ``city_``) are created when missing. :func:`save_city` replaces the whole
city in one transaction: a refused or failed load leaves the previous city untouched.
Grid polygons are stored as WKT (``POLYGON ((lon lat, ...))``) with their bounding box.

``city_sections`` came later than the other tables, and ``city_property_companies``,
``city_volunteer_teams``, ``city_unit_communities`` (the communities each serves) and ``city_unit_staff``
later still: a database created before one of them reads as a city without those until
:func:`ensure_tables` (called by every :func:`save_city`) creates it.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from city.files import polygons_of
from city.model import (
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

metadata = MetaData()
ID = String(64)

meta_table = Table("city_meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text))
districts = Table("city_districts", metadata, Column("id", ID, primary_key=True), Column("name", String(128)))
streets = Table(
    "city_streets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("district_id", ID, ForeignKey("city_districts.id"), nullable=False),
    Column("name", String(128), nullable=False),
)
communities = Table(
    "city_communities",
    metadata,
    Column("id", ID, primary_key=True),
    Column("street_id", ID, ForeignKey("city_streets.id"), nullable=False),
    Column("name", String(128), nullable=False),
)
grids = Table(
    "city_grids",
    metadata,
    Column("id", ID, primary_key=True),
    Column("community_id", ID, ForeignKey("city_communities.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("min_lon", Float, nullable=False),
    Column("min_lat", Float, nullable=False),
    Column("max_lon", Float, nullable=False),
    Column("max_lat", Float, nullable=False),
    Column("geometry_wkt", Text, nullable=False),
)
staff = Table(
    "city_staff",
    metadata,
    Column("id", ID, primary_key=True),
    Column("grid_id", ID, ForeignKey("city_grids.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Index("ix_city_staff_grid", "grid_id"),
)
departments = Table(
    "city_departments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("head", String(128), nullable=False),
    Column("head_title", String(64), nullable=False),
)
sections = Table(
    "city_sections",
    metadata,
    # the unit: a street, a department or a grid (no foreign key: the kind says which table)
    Column("unit_kind", String(16), primary_key=True),
    Column("unit_id", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("position", Integer, nullable=False),  # the order of the data folder
)
property_companies = Table(
    "city_property_companies",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("manager", String(128), nullable=False),
    Column("position", Integer, nullable=False),  # the order of the data folder
)
volunteer_teams = Table(
    "city_volunteer_teams",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("leader", String(128), nullable=False),
    Column("position", Integer, nullable=False),
)
unit_communities = Table(
    "city_unit_communities",
    metadata,
    # the unit: a property company or a volunteer team (no foreign key: the kind says which table)
    Column("unit_kind", String(16), primary_key=True),
    Column("unit_id", ID, primary_key=True),
    Column("community_id", ID, ForeignKey("city_communities.id"), primary_key=True),
    Column("position", Integer, nullable=False),  # the community's place in the unit's list
    Index("ix_city_unit_communities_community", "community_id"),
)
unit_staff = Table(
    "city_unit_staff",
    metadata,
    Column("id", ID, primary_key=True),
    Column("unit_kind", String(16), nullable=False),
    Column("unit_id", ID, nullable=False),
    Column("name", String(128), nullable=False),
    Column("duty", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    Index("ix_city_unit_staff_unit", "unit_kind", "unit_id"),
)
categories = Table(
    "city_categories",
    metadata,
    Column("code", ID, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("grp", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("weight", Float, nullable=False),
)
urgency_rules = Table(
    "city_urgency_rules",
    metadata,
    Column("category", ID, ForeignKey("city_categories.code"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("urgency", String(16), nullable=False),
    Column("keywords", Text, nullable=False),  # "|"-separated; empty: the category's default
)
routing_rules = Table(
    "city_routing_rules",
    metadata,
    Column("category", ID, ForeignKey("city_categories.code"), primary_key=True),
    Column("route", String(16), nullable=False),
    Column("departments", Text, nullable=False),  # "|"-separated
    Column("needs_whistle", Boolean, nullable=False),
)
#: Children first: the order to delete in (reverse it to insert).
TABLES = [
    unit_staff,
    unit_communities,
    volunteer_teams,
    property_companies,
    sections,
    routing_rules,
    urgency_rules,
    categories,
    departments,
    staff,
    grids,
    communities,
    streets,
    districts,
    meta_table,
]

_engines: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """One engine per database URL per process (a SQLite file's folder is created if missing)."""
    engine = _engines.get(url)
    if engine is None:
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            connect_args["timeout"] = 30
        engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        _engines[url] = engine
    return engine


def ensure_tables(engine: Engine) -> None:
    """Create the city tables that do not exist yet (other processes creating them at the same time is fine).

    Each table is checked and created on its own, so a race lost on one table (another process created
    it between the check and the create) is retried from the check; with several processes the race can
    be lost on more than one table.
    """
    for attempt in range(20):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == 19:
                raise
            time.sleep(0.01 * (attempt + 1))  # lost a race: the other process's table is there now


def city_version(engine: Engine) -> str | None:
    """The version stamp of the loaded city (changes at every load), or None when no city is loaded."""
    try:
        with engine.connect() as conn:
            return conn.execute(select(meta_table.c.value).where(meta_table.c.key == "version")).scalar_one_or_none()
    except (OperationalError, ProgrammingError):  # tables not created yet
        return None


def _lock_city(conn: Connection) -> None:
    """Serialise writers of the city tables until the end of the transaction."""
    if conn.dialect.name == "sqlite":
        # a write takes SQLite's database write lock at once; a deferred transaction would only take it later
        conn.execute(delete(meta_table).where(meta_table.c.key == "__lock__"))
    else:
        conn.execute(text("LOCK TABLE city_meta IN SHARE ROW EXCLUSIVE MODE"))


def save_city(engine: Engine, data: CityData, source: str, *, only_if_empty: bool = False) -> str | None:
    """Replace the city in the database with ``data`` in one transaction; returns the new version stamp.

    With ``only_if_empty`` nothing is written (and None returned) when a city is already stored; the
    check and the load are atomic, so of several processes seeding an empty database one loads.
    """
    ensure_tables(engine)
    polys = polygons_of(data.grids)
    bounds = shapely.bounds(polys)
    wkt = shapely.to_wkt(polys, rounding_precision=-1, trim=True)
    version = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
    meta = {
        **data.meta,
        "name": data.name,
        "version": version,
        "source": source,
        "loaded_at": datetime.now(UTC).isoformat(),
        "counts": json.dumps(data.counts()),
    }
    rows: dict[Table, list[dict[str, Any]]] = {
        meta_table: [{"key": k, "value": v} for k, v in meta.items()],
        districts: [{"id": d.id, "name": d.name} for d in data.districts],
        streets: [{"id": s.id, "district_id": s.district_id, "name": s.name} for s in data.streets],
        communities: [{"id": c.id, "street_id": c.street_id, "name": c.name} for c in data.communities],
        grids: [
            {
                "id": g.id,
                "community_id": g.community_id,
                "name": g.name,
                "min_lon": float(b[0]),
                "min_lat": float(b[1]),
                "max_lon": float(b[2]),
                "max_lat": float(b[3]),
                "geometry_wkt": str(w),
            }
            for g, b, w in zip(data.grids, bounds, wkt, strict=True)
        ],
        staff: [{"id": s.id, "grid_id": s.grid_id, "role": s.role.value, "name": s.name} for s in data.staff],
        departments: [
            {"id": d.id, "name": d.name, "head": d.head, "head_title": d.head_title} for d in data.departments
        ],
        sections: [
            {"unit_kind": x.unit_kind, "unit_id": x.unit_id, "id": x.id, "name": x.name, "position": n}
            for n, x in enumerate(data.sections)
        ],
        property_companies: [
            {"id": x.id, "name": x.name, "manager": x.manager, "position": n}
            for n, x in enumerate(data.property_companies)
        ],
        volunteer_teams: [
            {"id": x.id, "name": x.name, "leader": x.leader, "position": n} for n, x in enumerate(data.volunteer_teams)
        ],
        unit_communities: [
            {"unit_kind": kind, "unit_id": u.id, "community_id": c, "position": n}
            for kind, units in (
                (UnitKind.PROPERTY.value, data.property_companies),
                (UnitKind.VOLUNTEER_TEAM.value, data.volunteer_teams),
            )
            for u in units
            for n, c in enumerate(u.communities)
        ],
        unit_staff: [
            {
                "id": m.id,
                "unit_kind": m.unit_kind,
                "unit_id": m.unit_id,
                "name": m.name,
                "duty": m.duty,
                "position": n,
            }
            for n, m in enumerate(data.unit_staff)
        ],
        categories: [
            {
                "code": c.code,
                "kind": c.kind.value,
                "grp": c.group,
                "name": c.name,
                "name_zh": c.name_zh,
                "weight": c.weight,
            }
            for c in data.categories
        ],
        urgency_rules: [
            {"category": u.category, "position": n, "urgency": u.urgency.value, "keywords": "|".join(u.keywords)}
            for n, u in enumerate(data.urgency_rules)
        ],
        routing_rules: [
            {
                "category": r.category,
                "route": r.route.value,
                "departments": "|".join(r.departments),
                "needs_whistle": r.needs_whistle,
            }
            for r in data.routing_rules
        ],
    }
    with engine.begin() as conn:
        _lock_city(conn)
        if (
            only_if_empty
            and conn.execute(select(meta_table.c.value).where(meta_table.c.key == "version")).first() is not None
        ):
            return None
        for table in TABLES:
            conn.execute(delete(table))
        for table in reversed(TABLES):
            if rows[table]:
                conn.execute(insert(table), rows[table])
    return version


def read_city_from_db(engine: Engine) -> CityData | None:
    """The city stored in the database, or None when none is loaded."""
    if city_version(engine) is None:
        return None
    with engine.connect() as conn:
        meta = {k: v for k, v in conn.execute(select(meta_table.c.key, meta_table.c.value))}
        ds = [District(*r) for r in conn.execute(select(districts.c.id, districts.c.name).order_by(districts.c.id))]
        ss = [
            Street(*r)
            for r in conn.execute(select(streets.c.id, streets.c.district_id, streets.c.name).order_by(streets.c.id))
        ]
        cs = [
            Community(*r)
            for r in conn.execute(
                select(communities.c.id, communities.c.street_id, communities.c.name).order_by(communities.c.id)
            )
        ]
        grid_rows = conn.execute(
            select(grids.c.id, grids.c.community_id, grids.c.name, grids.c.geometry_wkt).order_by(grids.c.id)
        ).all()
        polys = shapely.from_wkt([r[3] for r in grid_rows])
        coords, index = shapely.get_coordinates(shapely.get_exterior_ring(polys), return_index=True)
        ends = np.flatnonzero(np.diff(index)) + 1
        rings = [tuple(map(tuple, part.tolist())) for part in np.split(coords, ends)] if len(coords) else []
        gs = [GridCell(r[0], r[1], r[2], ring) for r, ring in zip(grid_rows, rings, strict=True)]
        roles = {r.value: r for r in StaffRole}
        st = [
            StaffMember(r[0], r[1], roles[r[2]], r[3])
            for r in conn.execute(
                select(staff.c.id, staff.c.grid_id, staff.c.role, staff.c.name).order_by(staff.c.grid_id, staff.c.id)
            ).all()
        ]
        dp = [
            Department(*r)
            for r in conn.execute(
                select(departments.c.id, departments.c.name, departments.c.head, departments.c.head_title).order_by(
                    departments.c.id
                )
            )
        ]
        cat = [
            CategoryEntry(r[0], CategoryKind(r[1]), r[2], r[3], r[4], float(r[5]))
            for r in conn.execute(
                select(
                    categories.c.code,
                    categories.c.kind,
                    categories.c.grp,
                    categories.c.name,
                    categories.c.name_zh,
                    categories.c.weight,
                ).order_by(categories.c.code)
            )
        ]
        ur = [
            UrgencyRule(r[0], Urgency(r[1]), tuple(k for k in r[2].split("|") if k))
            for r in conn.execute(
                select(urgency_rules.c.category, urgency_rules.c.urgency, urgency_rules.c.keywords).order_by(
                    urgency_rules.c.position
                )
            )
        ]
        rr = [
            RoutingRule(r[0], UnitKind(r[1]), tuple(d for d in r[2].split("|") if d), bool(r[3]))
            for r in conn.execute(
                select(
                    routing_rules.c.category,
                    routing_rules.c.route,
                    routing_rules.c.departments,
                    routing_rules.c.needs_whistle,
                ).order_by(routing_rules.c.category)
            )
        ]
        sc = (
            [
                Section(*r)
                for r in conn.execute(
                    select(sections.c.unit_kind, sections.c.unit_id, sections.c.id, sections.c.name).order_by(
                        sections.c.position
                    )
                )
            ]
            if inspect(conn).has_table(sections.name)  # a database from before sections: none
            else []
        )
        pc, vt, us = _read_community_units(conn)
    extra = {k: v for k, v in meta.items() if k not in ("name",)}
    return CityData(
        name=meta.get("name", "city"),
        districts=ds,
        streets=ss,
        communities=cs,
        grids=gs,
        staff=st,
        departments=dp,
        categories=cat,
        urgency_rules=ur,
        routing_rules=rr,
        meta=extra,
        sections=sc,
        property_companies=pc,
        volunteer_teams=vt,
        unit_staff=us,
    )


def _read_community_units(conn: Connection) -> tuple[list[PropertyCompany], list[VolunteerTeam], list[UnitStaffMember]]:
    """The property companies, volunteer teams and their staff (none from a database from before them)."""
    have = inspect(conn)
    if not all(have.has_table(t.name) for t in (property_companies, volunteer_teams, unit_communities, unit_staff)):
        return [], [], []
    served: dict[tuple[str, str], list[str]] = {}
    for kind, uid, cid in conn.execute(
        select(unit_communities.c.unit_kind, unit_communities.c.unit_id, unit_communities.c.community_id).order_by(
            unit_communities.c.unit_kind, unit_communities.c.unit_id, unit_communities.c.position
        )
    ):
        served.setdefault((kind, uid), []).append(cid)
    pk, vk = UnitKind.PROPERTY.value, UnitKind.VOLUNTEER_TEAM.value
    pc = [
        PropertyCompany(uid, name, tuple(served.get((pk, uid), ())), manager)
        for uid, name, manager in conn.execute(
            select(property_companies.c.id, property_companies.c.name, property_companies.c.manager).order_by(
                property_companies.c.position
            )
        )
    ]
    vt = [
        VolunteerTeam(uid, name, tuple(served.get((vk, uid), ())), leader)
        for uid, name, leader in conn.execute(
            select(volunteer_teams.c.id, volunteer_teams.c.name, volunteer_teams.c.leader).order_by(
                volunteer_teams.c.position
            )
        )
    ]
    us = [
        UnitStaffMember(*r)
        for r in conn.execute(
            select(
                unit_staff.c.id, unit_staff.c.unit_kind, unit_staff.c.unit_id, unit_staff.c.name, unit_staff.c.duty
            ).order_by(unit_staff.c.position)
        )
    ]
    return pc, vt, us
