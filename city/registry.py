"""The SQL-backed city registry: lookups for intake, routing and the simulator.

:class:`SqlCityRegistry` implements :class:`workflows.domain.registry.CityRegistry` on a city read
from the registry's SQL tables and held in memory: grid polygons in a shapely ``STRtree`` for
point-in-polygon, names indexed for address matching. :func:`open_registry` keeps one registry
per database in the process and reloads it only when the stored city changes (one small query),
so an API process can call it per request.

Location rules:

* ``grid_id`` wins over coordinates, which win over address text.
* A point resolves to the grid whose polygon contains it (interior or border). A point on a
  border shared by several grids (an edge or a corner) belongs to the grid with the smallest id
  in string order, so the answer never depends on the order of the index.
* A point inside no grid is refused with a :class:`RegistryError`.
* Address text resolves to the grid whose name (the compound it covers, e.g. ``锦华花园``) appears
  in it; the longest name wins, and a tie is broken by the street or district name in the text.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from city.files import polygons_of, read_city
from city.model import (
    CategoryEntry,
    CityData,
    Department,
    PropertyCompany,
    Section,
    StaffMember,
    StaffRole,
    UnitStaffMember,
    VolunteerTeam,
)
from city.seed import SEED_DIR
from city.store import city_version, engine_for, ensure_tables, read_city_from_db, save_city
from events.base import UnitKind, UnitRef
from events.schemas import Location, Urgency
from workflows.domain.registry import Category, RegistryError, default_route, unit_known


@dataclass(frozen=True, slots=True)
class GridInfo:
    """A grid with its place in the hierarchy."""

    id: str
    name: str
    community_id: str
    street_id: str
    district_id: str


class SqlCityRegistry:
    """A city registry held in memory, read from the registry's SQL tables (see :func:`open_registry`)."""

    def __init__(self, data: CityData, version: str = "") -> None:
        self.data = data
        self.name = data.name
        self.version = version
        self.districts = {d.id: d for d in data.districts}
        self.streets = {s.id: s for s in data.streets}
        self.communities = {c.id: c for c in data.communities}
        self.departments: dict[str, Department] = {d.id: d for d in data.departments}
        self.catalogue: dict[str, CategoryEntry] = {c.code: c for c in data.categories}
        self._grids: dict[str, GridInfo] = {}
        for g in data.grids:
            community = self.communities[g.community_id]
            street = self.streets[community.street_id]
            self._grids[g.id] = GridInfo(g.id, g.name, g.community_id, street.id, street.district_id)
        self._grid_order = [g.id for g in data.grids]
        self._polygons = polygons_of(data.grids)
        self._tree = shapely.STRtree(self._polygons)
        self._polygon_of = dict(zip(self._grid_order, self._polygons, strict=True))
        self._staff: dict[str, list[StaffMember]] = {}
        for member in data.staff:
            self._staff.setdefault(member.grid_id, []).append(member)
        self._sections: dict[str, list[Section]] = {}
        for section in data.sections:
            self._sections.setdefault(section.unit_key, []).append(section)
        self._section_ids = {k: tuple(sorted(x.id for x in v)) for k, v in sorted(self._sections.items())}
        self.property_companies: dict[str, PropertyCompany] = {p.id: p for p in data.property_companies}
        self.volunteer_teams: dict[str, VolunteerTeam] = {t.id: t for t in data.volunteer_teams}
        self._unit_staff: dict[tuple[str, str], list[UnitStaffMember]] = {}
        for m in data.unit_staff:
            self._unit_staff.setdefault((m.unit_kind, m.unit_id), []).append(m)
        self._properties_of: dict[str, list[PropertyCompany]] = {}
        for p in sorted(data.property_companies, key=lambda x: x.id):
            for cid in p.communities:
                self._properties_of.setdefault(cid, []).append(p)
        self._teams_of: dict[str, list[VolunteerTeam]] = {}
        for t in sorted(data.volunteer_teams, key=lambda x: x.id):
            for cid in t.communities:
                self._teams_of.setdefault(cid, []).append(t)
        defaults = {u.category: u.urgency for u in data.urgency_rules if not u.keywords}
        self._keyword_rules = [u for u in data.urgency_rules if u.keywords]
        self._categories: dict[str, Category] = {}
        for r in data.routing_rules:
            entry = self.catalogue[r.category]
            self._categories[r.category] = Category(
                code=entry.code,
                name=entry.name,
                name_zh=entry.name_zh,
                default_urgency=defaults.get(r.category, Urgency.ORDINARY),
                route=r.route,
                departments=r.departments,
                needs_whistle=r.needs_whistle,
            )
        # longest names first, for address matching
        self._grid_names = sorted(((g.name, g.id) for g in data.grids), key=lambda t: (-len(t[0]), t[1]))
        self._community_names = sorted(((c.name, c.id) for c in data.communities), key=lambda t: (-len(t[0]), t[1]))
        w, s, e, n = shapely.total_bounds(self._polygons) if len(self._polygons) else (0.0, 0.0, 0.0, 0.0)
        self.bounds: tuple[float, float, float, float] = (float(w), float(s), float(e), float(n))

    # -- CityRegistry ----------------------------------------------------------------------------

    def locate(
        self,
        *,
        grid_id: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        address: str | None = None,
    ) -> Location:
        """Resolve a grid id, coordinates or address text to grid → community → street → district."""
        if grid_id is not None:
            g = self._grids.get(grid_id)
            if g is None:
                raise RegistryError(f"location.grid_id: unknown grid {grid_id!r}")
            return self._location(g, address, lat, lon)
        if (lat is None) != (lon is None):
            raise RegistryError("location: coordinates need both lat and lon")
        if lat is not None and lon is not None:
            return self._location(self._grids[self.grid_at(lat, lon)], address, lat, lon)
        if address:
            return self._location(self._grids[self.grid_for_address(address)], address, lat, lon)
        raise RegistryError("location: give a grid id, coordinates (lat and lon) or an address")

    def category(self, code: str) -> Category:
        try:
            return self._categories[code]
        except KeyError:
            raise RegistryError(
                f"category: unknown category {code!r} ({len(self._categories)} known, see `gridcase city show "
                "--categories`)"
            ) from None

    def unit_exists(self, unit: UnitRef) -> bool:
        return unit_known(
            unit,
            grids=self._grids,
            streets=self.streets,
            departments=self.departments,
            properties=self.property_companies,
            volunteer_teams=self.volunteer_teams,
        )

    def route(self, category: Category, location: Location) -> UnitRef:
        """The unit the hotline dispatches a case of ``category`` at ``location`` to."""
        return default_route(category, location)

    def sections(self) -> dict[str, tuple[str, ...]]:
        """The section (科室) ids of each unit that has sections, sorted, by unit key (``"street:S-0101"``,
        ``"department:housing"``, ``"grid:G-..."``); a unit without sections is not in it."""
        return dict(self._section_ids)

    # -- lookups ---------------------------------------------------------------------------------

    def grid_at(self, lat: float, lon: float) -> str:
        """The id of the grid containing the point (see the border rule in the module docstring)."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RegistryError(f"location: ({lat}, {lon}) is not a valid lat/lon")
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            w, s, e, n = self.bounds
            raise RegistryError(
                f"location: point (lat {lat}, lon {lon}) lies outside every grid of {self.name} "
                f"(the city spans lat {s:.4f}..{n:.4f}, lon {w:.4f}..{e:.4f})"
            )
        return min(self._grid_order[int(i)] for i in hits)

    def grid_for_address(self, address: str) -> str:
        """The id of the grid whose name appears in ``address`` (see the module docstring)."""
        found = [(name, gid) for name, gid in self._grid_names if name in address]
        if found:
            longest = len(found[0][0])
            found = [f for f in found if len(f[0]) == longest]
            if len(found) > 1:
                narrowed = [
                    f
                    for f in found
                    if self.streets[self._grids[f[1]].street_id].name in address
                    or self.districts[self._grids[f[1]].district_id].name in address
                ]
                found = narrowed or found
            if len(found) > 1:
                raise RegistryError(
                    f"location.address: {address!r} is ambiguous: it matches grids "
                    f"{', '.join(gid for _, gid in found)}; add the street name or give a grid id"
                )
            return found[0][1]
        for name, cid in self._community_names:
            if name in address:
                raise RegistryError(
                    f"location.address: {address!r} names community {name} ({cid}) but no grid in it; "
                    "add the compound name or give coordinates"
                )
        raise RegistryError(f"location.address: no grid matches address {address!r}")

    def grid(self, grid_id: str) -> GridInfo:
        try:
            return self._grids[grid_id]
        except KeyError:
            raise RegistryError(f"grid: unknown grid {grid_id!r}") from None

    def grids(self, *, street_id: str | None = None, community_id: str | None = None) -> list[GridInfo]:
        """All grids (in id order), or those of one street or community."""
        out = [self._grids[g] for g in self._grid_order]
        if street_id is not None:
            out = [g for g in out if g.street_id == street_id]
        if community_id is not None:
            out = [g for g in out if g.community_id == community_id]
        return out

    def grid_ids(self) -> list[str]:
        return list(self._grid_order)

    def staff_of(self, grid_id: str, role: StaffRole | None = None) -> list[StaffMember]:
        """The grid's staff ("1+1+1+N"), optionally of one role."""
        members = self._staff.get(grid_id, [])
        return [m for m in members if role is None or m.role == role]

    def unit_staff_of(self, unit_kind: str, unit_id: str) -> list[UnitStaffMember]:
        """The staff of a property company (``unit_kind`` ``"property"``) or a volunteer team
        (``"volunteer_team"``) in the order of ``unit_staff.csv``; ``[]`` for a unit unknown or without staff."""
        return list(self._unit_staff.get((str(unit_kind), unit_id), []))

    def properties_serving(self, community_id: str) -> list[PropertyCompany]:
        """The property companies serving the community, in id order (``[]``: none, or an unknown community)."""
        return list(self._properties_of.get(community_id, []))

    def teams_serving(self, community_id: str) -> list[VolunteerTeam]:
        """The volunteer teams serving the community, in id order (``[]``: none, or an unknown community)."""
        return list(self._teams_of.get(community_id, []))

    def property_communities(self) -> dict[str, tuple[str, ...]]:
        """Each property company's id → the ids of the communities it serves (sorted), in id order:
        what a case's SLA context carries (:attr:`workflows.domain.state.SlaContext.properties`)."""
        return {k: tuple(sorted(self.property_companies[k].communities)) for k in sorted(self.property_companies)}

    def volunteer_team_communities(self) -> dict[str, tuple[str, ...]]:
        """Each volunteer team's id → the ids of the communities it serves (sorted), in id order."""
        return {k: tuple(sorted(self.volunteer_teams[k].communities)) for k in sorted(self.volunteer_teams)}

    def categories(self) -> list[Category]:
        return [self._categories[c] for c in sorted(self._categories)]

    def category_weights(self) -> dict[str, float]:
        """Each category's share of the complaint mix (relative weights from the catalogue)."""
        return {c.code: c.weight for c in self.catalogue.values()}

    def urgency_for(self, code: str, text: str = "") -> Urgency:
        """The category's urgency for a complaint text: the first keyword rule that matches, else the default."""
        category = self.category(code)
        for rule in self._keyword_rules:
            if rule.category == code and any(k in text for k in rule.keywords):
                return rule.urgency
        return category.default_urgency

    def polygon(self, grid_id: str) -> shapely.Polygon:
        self.grid(grid_id)
        return self._polygon_of[grid_id]

    def random_point(self, grid_id: str, rng: random.Random) -> tuple[float, float]:
        """A uniformly random (lat, lon) strictly inside the grid (so it locates back to that grid)."""
        poly = self.polygon(grid_id)
        w, s, e, n = poly.bounds
        for _ in range(1000):
            lon, lat = round(rng.uniform(w, e), 6), round(rng.uniform(s, n), 6)
            if shapely.contains_xy(poly, lon, lat):  # interior only: never on a border
                return lat, lon
        c = poly.representative_point()
        return c.y, c.x

    def random_address(self, grid_id: str, rng: random.Random) -> str:
        """A plausible address in the grid that :meth:`locate` resolves back to it."""
        g = self.grid(grid_id)
        return f"{self.streets[g.street_id].name}{g.name}{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元"

    def section_names(self, unit_key: str) -> list[tuple[str, str]]:
        """``(id, name)`` of the sections of the unit ``unit_key`` (``"department:housing"``) in the
        registry's order (that of ``sections.csv``); ``[]`` for a unit without sections or unknown."""
        return [(x.id, x.name) for x in self._sections.get(unit_key, [])]

    def unit_name(self, unit: UnitRef) -> str:
        """A display name for a unit (its id when unknown)."""
        match unit.kind:
            case UnitKind.GRID if unit.id in self._grids:
                return self._grids[unit.id].name
            case UnitKind.STREET if unit.id in self.streets:
                return self.streets[unit.id].name
            case UnitKind.DEPARTMENT if unit.id in self.departments:
                return self.departments[unit.id].name
            case UnitKind.PROPERTY if unit.id in self.property_companies:
                return self.property_companies[unit.id].name
            case UnitKind.VOLUNTEER_TEAM if unit.id in self.volunteer_teams:
                return self.volunteer_teams[unit.id].name
            case UnitKind.HOTLINE:
                return "12345热线"
        return unit.id

    def _location(self, g: GridInfo, address: str | None, lat: float | None, lon: float | None) -> Location:
        return Location(
            grid_id=g.id,
            community_id=g.community_id,
            street_id=g.street_id,
            district_id=g.district_id,
            address=address,
            lat=lat,
            lon=lon,
        )

    def locate_points(self, points: Sequence[tuple[float, float]]) -> list[str | None]:
        """Grid ids for many (lat, lon) points at once (None outside every grid); same border rule."""
        if not points:
            return []
        arr = np.asarray(points, dtype=float)
        idx_points, idx_grids = self._tree.query(shapely.points(arr[:, 1], arr[:, 0]), predicate="intersects")
        out: list[str | None] = [None] * len(points)
        for p, g in zip(idx_points.tolist(), idx_grids.tolist(), strict=True):
            gid = self._grid_order[g]
            current = out[p]
            if current is None or gid < current:
                out[p] = gid
        return out


# -- the process-wide registry ------------------------------------------------------------------

_cache: dict[str, SqlCityRegistry] = {}
_lock = threading.Lock()


def seed_database(url: str, data_dir: Path | None = None) -> str | None:
    """Load the city from ``data_dir`` (default: the bundled seed) if the database has none.

    Returns the version stamp written, or None when a city was already there.
    """
    engine = engine_for(url)
    ensure_tables(engine)
    if city_version(engine) is not None:
        return None
    folder = data_dir or SEED_DIR
    return save_city(engine, read_city(folder), str(folder), only_if_empty=True)


def open_registry(url: str, data_dir: Path | None = None) -> SqlCityRegistry:
    """The registry of the database at ``url``, seeded on first use, cached until the stored city changes."""
    engine = engine_for(url)
    version = city_version(engine)
    cached = _cache.get(url)
    if cached is not None and version is not None and cached.version == version:
        return cached
    with _lock:
        if version is None:
            seed_database(url, data_dir)
        data = read_city_from_db(engine)
        if data is None:
            raise RegistryError(f"no city in the registry database {engine.url!r}")
        registry = SqlCityRegistry(data, data.meta.get("version", ""))
        _cache[url] = registry
        return registry


def clear_cache() -> None:
    """Forget every cached registry (the next :func:`open_registry` reads the database again)."""
    _cache.clear()
