"""The simulator's view of a city: where complaints come from, what they are about, who handles them.

Built from the city registry (the seed city) or from any :class:`~workflows.domain.registry.StaticCity`
(the small sample city of the tests).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from events.base import UnitKind
from events.schemas import Location, Urgency
from workflows.domain.registry import StaticCity


@dataclass(frozen=True)
class SimCategory:
    """A category of the catalogue with its share of the mix and its routing rule."""

    code: str
    name_zh: str
    weight: float = 1.0
    default_urgency: Urgency = Urgency.ORDINARY
    route: UnitKind = UnitKind.STREET
    departments: tuple[str, ...] = ()
    needs_whistle: bool = False


@dataclass(frozen=True)
class SimCity:
    """Grids (as locations), categories and departments: everything the simulator draws from."""

    name: str
    grids: list[Location]
    categories: list[SimCategory]
    departments: list[str]
    grid_workers: dict[str, list[str]] = field(default_factory=dict)  # grid id -> staff ids
    # property companies (物业) and volunteer teams: unit id -> the community ids it serves
    property_companies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    volunteer_teams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (grid id, rng) -> (lat, lon, address) strictly inside the grid; None: the grid's centre and name
    place: Callable[[str, random.Random], tuple[float, float, str]] | None = None

    def __post_init__(self) -> None:
        if not self.grids:
            raise ValueError(f"city {self.name}: the simulator needs at least one grid")
        if not self.categories:
            raise ValueError(f"city {self.name}: the simulator needs at least one category")
        if not self.departments:
            raise ValueError(f"city {self.name}: the simulator needs at least one department")

    def draw_location(self, rng: random.Random) -> Location:
        """A random place of the city: a grid, and a point and an address inside it when the registry knows them."""
        return self.locate(rng.choice(self.grids), rng)

    def locate(self, grid: Location, rng: random.Random) -> Location:
        """A place inside ``grid`` (one of :attr:`grids`): a point and an address when the registry knows them."""
        if self.place is None:
            return grid
        lat, lon, address = self.place(grid.grid_id, rng)
        return grid.model_copy(update={"lat": lat, "lon": lon, "address": address})

    def company_for(self, community_id: str) -> str | None:
        """The first property company (by id) serving ``community_id``, if any."""
        return next((u for u in sorted(self.property_companies) if community_id in self.property_companies[u]), None)

    def team_for(self, community_id: str) -> str | None:
        """The first volunteer team (by id) serving ``community_id``, if any."""
        return next((u for u in sorted(self.volunteer_teams) if community_id in self.volunteer_teams[u]), None)

    def category(self, code: str) -> SimCategory:
        for cat in self.categories:
            if cat.code == code:
                return cat
        raise ValueError(f"category: unknown category {code!r} in city {self.name}")


def from_static(city: StaticCity, name: str = "sample city") -> SimCity:
    """The simulator's view of an in-memory registry (every category weighs the same)."""
    grids = [
        Location(
            grid_id=g.id,
            community_id=g.community_id,
            street_id=g.street_id,
            district_id=g.district_id,
            address=g.name,
            lon=round((g.bbox[0] + g.bbox[2]) / 2, 6),
            lat=round((g.bbox[1] + g.bbox[3]) / 2, 6),
        )
        for g in city.grids.values()
    ]
    categories = [
        SimCategory(
            code=c.code,
            name_zh=c.name_zh,
            default_urgency=c.default_urgency,
            route=c.route,
            departments=tuple(c.departments),
            needs_whistle=c.needs_whistle,
        )
        for c in city.categories.values()
    ]
    return SimCity(
        name=name,
        grids=grids,
        categories=categories,
        departments=sorted(city.departments),
        property_companies=dict(city.properties),
        volunteer_teams=dict(city.volunteer_teams),
    )


def from_registry(registry: Any) -> SimCity:
    """The simulator's view of the city registry (:class:`city.registry.SqlCityRegistry`): complaints come
    from random points and addresses inside its grids."""

    def place(grid_id: str, rng: random.Random) -> tuple[float, float, str]:
        lat, lon = registry.random_point(grid_id, rng)
        return lat, lon, registry.random_address(grid_id, rng)

    view = from_city_data(registry.data)
    return SimCity(
        name=view.name,
        grids=view.grids,
        categories=view.categories,
        departments=view.departments,
        grid_workers=view.grid_workers,
        property_companies=view.property_companies,
        volunteer_teams=view.volunteer_teams,
        place=place,
    )


def from_city_data(data: Any) -> SimCity:
    """The simulator's view of a full city registry (:class:`city.model.CityData`)."""
    communities = {c.id: c for c in data.communities}
    streets = {s.id: s for s in data.streets}
    grids: list[Location] = []
    for g in data.grids:
        community = communities[g.community_id]
        street = streets[community.street_id]
        lons = [p[0] for p in g.ring]
        lats = [p[1] for p in g.ring]
        grids.append(
            Location(
                grid_id=g.id,
                community_id=community.id,
                street_id=street.id,
                district_id=street.district_id,
                address=g.name,
                lon=round(sum(lons) / len(lons), 6),
                lat=round(sum(lats) / len(lats), 6),
            )
        )
    routes = {r.category: r for r in data.routing_rules}
    urgency = {u.category: u.urgency for u in data.urgency_rules if not u.keywords}
    categories = []
    for c in data.categories:
        rule = routes.get(c.code)
        categories.append(
            SimCategory(
                code=c.code,
                name_zh=c.name_zh,
                weight=float(c.weight),
                default_urgency=urgency.get(c.code, Urgency.ORDINARY),
                route=rule.route if rule else UnitKind.STREET,
                departments=tuple(rule.departments) if rule else (),
                needs_whistle=bool(rule.needs_whistle) if rule else False,
            )
        )
    workers: dict[str, list[str]] = {}
    for s in data.staff:
        workers.setdefault(s.grid_id, []).append(s.id)
    return SimCity(
        name=data.name,
        grids=grids,
        categories=[c for c in categories if c.weight > 0] or categories,
        departments=sorted(d.id for d in data.departments),
        grid_workers=workers,
        property_companies={u.id: tuple(u.communities) for u in getattr(data, "property_companies", [])},
        volunteer_teams={u.id: tuple(u.communities) for u in getattr(data, "volunteer_teams", [])},
    )
