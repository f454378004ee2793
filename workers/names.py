"""Display names of the city's units, from the city registry, for commands that print ids.

Reports and ``gridcase case show`` name streets, departments and grids by id (``S-0202``); these
helpers give the registry's name to show beside it (``S-0202 新华街道``). The read model never
imports the city: the command line builds the mapping and passes it in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from city.registry import SqlCityRegistry


def report_names(registry: SqlCityRegistry, by: str) -> dict[str, str]:
    """Names by id of the units a report ranks ``by`` (street, department, grid, community, district or
    category), plus the streets' names (the heat map's rows)."""
    streets = {s.id: s.name for s in registry.streets.values()}
    per_kind: dict[str, Any] = {
        "street": lambda: streets,
        "department": lambda: {d.id: d.name for d in registry.departments.values()},
        "grid": lambda: {g.id: g.name for g in registry.grids()},
        "community": lambda: {c.id: c.name for c in registry.communities.values()},
        "district": lambda: {d.id: d.name for d in registry.districts.values()},
        "category": lambda: {c.code: c.name_zh for c in registry.catalogue.values()},
    }
    return {**streets, **(per_kind[by]() if by in per_kind else {})}


def named(unit_id: str | None, name: str | None) -> str:
    """``S-0202 新华街道``; the id alone without a name, ``-`` without an id."""
    if not unit_id:
        return "-"
    return f"{unit_id} {name}" if name and name != unit_id else unit_id


class UnitNames:
    """Name lookups on a registry that may be missing: every lookup then gives ``None``."""

    def __init__(self, registry: SqlCityRegistry | None) -> None:
        self.registry = registry

    @classmethod
    def load(cls, settings: Any) -> UnitNames:
        """The registry of ``settings``, or none when it cannot be read (the names are decoration)."""
        try:
            from workers.composition import build_registry

            return cls(build_registry(settings))
        except Exception:
            return cls(None)

    def grid(self, grid_id: str | None) -> str | None:
        if self.registry is None or not grid_id:
            return None
        try:
            return self.registry.grid(grid_id).name
        except Exception:
            return None

    def community(self, community_id: str | None) -> str | None:
        c = self.registry.communities.get(community_id or "") if self.registry else None
        return c.name if c else None

    def street(self, street_id: str | None) -> str | None:
        s = self.registry.streets.get(street_id or "") if self.registry else None
        return s.name if s else None

    def district(self, district_id: str | None) -> str | None:
        d = self.registry.districts.get(district_id or "") if self.registry else None
        return d.name if d else None

    def department(self, department_id: str | None) -> str | None:
        d = self.registry.departments.get(department_id or "") if self.registry else None
        return d.name if d else None

    def unit(self, kind: str, unit_id: str) -> str | None:
        """The name of a unit ``kind:id`` (grid, street, department, hotline)."""
        if self.registry is None:
            return None
        from events.base import UnitKind, UnitRef

        try:
            name = self.registry.unit_name(UnitRef(kind=UnitKind(kind), id=unit_id))
        except ValueError:
            return None
        return None if name == unit_id else name

    def unit_key(self, key: str) -> str:
        """``street:S-0101`` → ``street:S-0101 新华街道``."""
        kind, _, unit_id = key.partition(":")
        name = self.unit(kind, unit_id) if unit_id else None
        return f"{key} {name}" if name else key
