"""The city registry interface the domain and the edges use, and a small test city.

Intake resolves a location to grid → community → street → district through a
:class:`CityRegistry`; dispatching checks that the target unit exists, and assigning inside a unit
that the section (科室) is one of the unit's (:meth:`CityRegistry.sections`). The full city registry
(SQL, loaded from files) plugs in behind the same interface.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from events.base import UnitKind, UnitRef
from events.schemas import Location, Urgency


class RegistryError(ValueError):
    """A location, category or unit the registry does not know; the message says which."""


class Category(BaseModel):
    """A complaint category of the catalogue, with its routing rule."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    name_zh: str
    default_urgency: Urgency = Urgency.ORDINARY
    route: UnitKind = UnitKind.STREET  # where the hotline dispatches it by default
    departments: tuple[str, ...] = ()  # responsible departments (route = department, or whistle targets)
    needs_whistle: bool = False  # the street usually needs to summon departments


class Grid(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    community_id: str
    street_id: str
    district_id: str
    # Bounding box in degrees (west, south, east, north); points on the west/south edge belong to it.
    bbox: tuple[float, float, float, float]


class CityRegistry(Protocol):
    """What the case domain needs to know about a city."""

    def locate(
        self,
        *,
        grid_id: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        address: str | None = None,
    ) -> Location: ...

    def category(self, code: str) -> Category: ...

    def unit_exists(self, unit: UnitRef) -> bool: ...

    def route(self, category: Category, location: Location) -> UnitRef: ...

    def sections(self) -> dict[str, tuple[str, ...]]:
        """The section ids of each unit that has sections (sorted), by unit key (:meth:`UnitRef.key`)."""
        ...


#: The kinds of unit that may have sections (科室).
SECTION_UNIT_KINDS = (UnitKind.GRID, UnitKind.STREET, UnitKind.DEPARTMENT)


def unit_of_key(key: str) -> UnitRef:
    """The unit a key spells (``"street:S-1"``, as :meth:`UnitRef.key` writes it).

    Raises:
        RegistryError: when ``key`` is not ``<kind>:<id>`` with a kind of unit.
    """
    kind, sep, unit_id = key.partition(":")
    kinds = {k.value: k for k in UnitKind}
    if not sep or kind not in kinds or not unit_id or len(unit_id) > 128:
        raise RegistryError(f"unit: {key!r} is not <kind>:<id> with kind one of {', '.join(kinds)}")
    return UnitRef(kind=kinds[kind], id=unit_id)


def unit_known(
    unit: UnitRef,
    *,
    grids: Container[str],
    streets: Container[str],
    departments: Container[str],
    properties: Container[str] = (),
    volunteer_teams: Container[str] = (),
) -> bool:
    """Whether a city with these grid, street, department, property-company and volunteer-team ids has
    ``unit`` (the hotline always)."""
    match unit.kind:
        case UnitKind.PROPERTY:
            return unit.id in properties
        case UnitKind.VOLUNTEER_TEAM:
            return unit.id in volunteer_teams
        case UnitKind.GRID:
            return unit.id in grids
        case UnitKind.STREET:
            return unit.id in streets
        case UnitKind.DEPARTMENT:
            return unit.id in departments
        case UnitKind.HOTLINE:
            return True
    return False


def default_route(category: Category, location: Location) -> UnitRef:
    """The unit the hotline dispatches a case of ``category`` at ``location`` to, by the category's rule."""
    if category.route == UnitKind.DEPARTMENT and category.departments:
        return UnitRef(kind=UnitKind.DEPARTMENT, id=category.departments[0])
    if category.route == UnitKind.GRID:
        return UnitRef(kind=UnitKind.GRID, id=location.grid_id)
    return UnitRef(kind=UnitKind.STREET, id=location.street_id)


class StaticCity:
    """An in-memory registry built from lists: the test city, and small deployments.

    ``sections``: the sections (科室) of units, by unit key (``"street:S-1"``), as ``(id, name)`` pairs
    in display order. ``properties`` and ``volunteer_teams``: property companies (物业) and volunteer
    teams, id → (name, the ids of the communities it serves).
    """

    def __init__(
        self,
        grids: list[Grid],
        departments: dict[str, str],
        categories: list[Category],
        sections: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        properties: Mapping[str, tuple[str, Sequence[str]]] | None = None,
        volunteer_teams: Mapping[str, tuple[str, Sequence[str]]] | None = None,
    ) -> None:
        self.grids = {g.id: g for g in grids}
        self.departments = departments
        communities = {g.community_id for g in grids}
        served: dict[str, dict[str, tuple[str, ...]]] = {}
        self.unit_names: dict[str, str] = {}
        for kind, given in ((UnitKind.PROPERTY, properties), (UnitKind.VOLUNTEER_TEAM, volunteer_teams)):
            served[kind.value] = {}
            for uid, (name, serves) in (given or {}).items():
                unknown = sorted(set(serves) - communities)
                if unknown or not serves:
                    raise RegistryError(f"{kind.value} {uid!r}: serves unknown or no communities {unknown}")
                served[kind.value][uid] = tuple(sorted(set(serves)))
                self.unit_names[f"{kind.value}:{uid}"] = name
        #: property company id → the communities it serves (sorted); likewise for volunteer teams
        self.properties: dict[str, tuple[str, ...]] = served[UnitKind.PROPERTY.value]
        self.volunteer_teams: dict[str, tuple[str, ...]] = served[UnitKind.VOLUNTEER_TEAM.value]
        self.categories = {c.code: c for c in categories}
        self.streets = {g.street_id for g in grids}
        self.communities = {g.community_id for g in grids}
        self._sections: dict[str, tuple[tuple[str, str], ...]] = {}
        for key, pairs in (sections or {}).items():
            unit = unit_of_key(key)
            if unit.kind not in SECTION_UNIT_KINDS or not self.unit_exists(unit):
                raise RegistryError(f"sections: unknown unit {key!r} (a grid, street or department of the city)")
            ids = [sid for sid, _ in pairs]
            if len(set(ids)) != len(ids) or not all(ids):
                raise RegistryError(f"sections: the section ids of {key!r} must be non-empty and unique: {ids}")
            if pairs:
                self._sections[unit.key()] = tuple((sid, name) for sid, name in pairs)

    def _location(self, g: Grid, address: str | None, lat: float | None, lon: float | None) -> Location:
        return Location(
            grid_id=g.id,
            community_id=g.community_id,
            street_id=g.street_id,
            district_id=g.district_id,
            address=address,
            lat=lat,
            lon=lon,
        )

    def locate(
        self,
        *,
        grid_id: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        address: str | None = None,
    ) -> Location:
        if grid_id is not None:
            g = self.grids.get(grid_id)
            if g is None:
                raise RegistryError(f"location.grid_id: unknown grid {grid_id!r}")
            return self._location(g, address, lat, lon)
        if lat is not None and lon is not None:
            for g in self.grids.values():
                w, s, e, n = g.bbox
                if w <= lon < e and s <= lat < n:
                    return self._location(g, address, lat, lon)
            raise RegistryError(f"location: point ({lat}, {lon}) lies outside every grid of the city")
        if address:
            for g in self.grids.values():
                if g.name in address:
                    return self._location(g, address, lat, lon)
            raise RegistryError(f"location.address: no grid matches address {address!r}")
        raise RegistryError("location: give a grid id, coordinates (lat and lon) or an address")

    def category(self, code: str) -> Category:
        try:
            return self.categories[code]
        except KeyError:
            known = ", ".join(sorted(self.categories))
            raise RegistryError(f"category: unknown category {code!r} (known: {known})") from None

    def unit_exists(self, unit: UnitRef) -> bool:
        return unit_known(
            unit,
            grids=self.grids,
            streets=self.streets,
            departments=self.departments,
            properties=self.properties,
            volunteer_teams=self.volunteer_teams,
        )

    def route(self, category: Category, location: Location) -> UnitRef:
        return default_route(category, location)

    def sections(self) -> dict[str, tuple[str, ...]]:
        """The section ids of each unit that has sections (sorted), by unit key."""
        return {k: tuple(sorted(sid for sid, _ in v)) for k, v in sorted(self._sections.items())}

    def section_names(self, unit_key: str) -> list[tuple[str, str]]:
        """``(id, name)`` of the unit's sections in the order given; ``[]`` for a unit without sections."""
        return list(self._sections.get(unit_key, ()))


def _box(col: int, row: int) -> tuple[float, float, float, float]:
    w, s = 111.60 + 0.01 * col, 40.80 + 0.01 * row
    return (round(w, 4), round(s, 4), round(w + 0.01, 4), round(s + 0.01, 4))


def sample_city() -> StaticCity:
    """A small city for tests and first runs: one district, two streets, three communities, six grids;
    sections (科室) for both streets and three of the six departments; two property companies and a
    volunteer team per community."""
    grids = [
        Grid(id="G-101", name="青城花园", community_id="C-10", street_id="S-1", district_id="D-1", bbox=_box(0, 0)),
        Grid(id="G-102", name="大召小区", community_id="C-10", street_id="S-1", district_id="D-1", bbox=_box(1, 0)),
        Grid(id="G-111", name="通道街北", community_id="C-11", street_id="S-1", district_id="D-1", bbox=_box(2, 0)),
        Grid(id="G-201", name="新华广场", community_id="C-20", street_id="S-2", district_id="D-1", bbox=_box(0, 1)),
        Grid(id="G-202", name="海亮广场", community_id="C-20", street_id="S-2", district_id="D-1", bbox=_box(1, 1)),
        Grid(id="G-203", name="满都海公园", community_id="C-20", street_id="S-2", district_id="D-1", bbox=_box(2, 1)),
    ]
    departments = {
        "urban-management": "城管局",
        "housing": "住建局",
        "water": "水务局",
        "environment": "生态环境局",
        "market": "市场监管局",
        "transport": "交通运输局",
    }
    categories = [
        Category(
            code="noise", name="Noise nuisance", name_zh="噪音扰民", route=UnitKind.STREET, departments=("environment",)
        ),
        Category(code="garbage", name="Garbage not collected", name_zh="垃圾清运", route=UnitKind.GRID),
        Category(
            code="illegal-parking",
            name="Illegal parking",
            name_zh="违规停车",
            route=UnitKind.STREET,
            departments=("urban-management", "transport"),
            needs_whistle=True,
        ),
        Category(
            code="water",
            name="Water supply outage",
            name_zh="停水",
            default_urgency=Urgency.URGENT,
            route=UnitKind.DEPARTMENT,
            departments=("water",),
        ),
        Category(
            code="illegal-construction",
            name="Illegal construction",
            name_zh="违法建设",
            route=UnitKind.STREET,
            departments=("urban-management", "housing", "market"),
            needs_whistle=True,
        ),
        Category(
            code="food-safety",
            name="Food safety",
            name_zh="食品安全",
            route=UnitKind.DEPARTMENT,
            departments=("market",),
        ),
    ]
    sections = {
        "department:housing": [("inspection", "监察科"), ("repair", "维修科")],
        "department:urban-management": [("enforcement", "执法科"), ("city-appearance", "市容科")],
        "department:water": [("supply", "供水科")],
        "street:S-1": [("urban", "城管科"), ("community-affairs", "社区建设科")],
        "street:S-2": [("urban", "城管科"), ("safety", "平安建设科")],
    }
    properties = {
        "P-1": ("青城物业服务有限公司", ("C-10", "C-11")),
        "P-2": ("新华红色物业服务中心", ("C-20",)),
    }
    volunteer_teams = {
        "V-10": ("青城社区志愿服务队", ("C-10",)),
        "V-11": ("通道街社区志愿服务队", ("C-11",)),
        "V-20": ("新华社区志愿服务队", ("C-20",)),
    }
    return StaticCity(grids, departments, categories, sections, properties, volunteer_teams)
