"""The city registry's data: districts → streets → communities → grids, staff, departments, catalogue.

Plain frozen dataclasses, no I/O: :mod:`city.files` reads and validates them from a data folder,
:mod:`city.store` keeps them in SQL, :mod:`city.registry` answers lookups from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from events.base import UnitKind
from events.schemas import Urgency


class StaffRole(StrEnum):
    """The grid staffing of "1+1+1+N": one leader, one manager, full-time and part-time workers."""

    LEADER = "leader"  # 网格长
    MANAGER = "manager"  # 网格管理员
    FULL_TIME = "full_time"  # 专职网格员
    PART_TIME = "part_time"  # 兼职网格员


#: The minimum number of staff of each role every grid must have.
REQUIRED_ROLES: dict[StaffRole, int] = {StaffRole.LEADER: 1, StaffRole.MANAGER: 1, StaffRole.FULL_TIME: 1}
#: The maximum (None: no limit).
MAX_ROLES: dict[StaffRole, int | None] = {
    StaffRole.LEADER: 1,
    StaffRole.MANAGER: 1,
    StaffRole.FULL_TIME: None,
    StaffRole.PART_TIME: None,
}


class CategoryKind(StrEnum):
    """城市管理部件 (a city-management part), 事件 (an event), or a 12345 hotline category."""

    PART = "part"
    EVENT = "event"
    HOTLINE = "hotline"


@dataclass(frozen=True, slots=True)
class District:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Street:
    id: str
    district_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Community:
    id: str
    street_id: str
    name: str


@dataclass(frozen=True, slots=True)
class GridCell:
    """A grid: its polygon as an exterior ring of (lon, lat) points (closed: first == last)."""

    id: str
    community_id: str
    name: str
    ring: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: str
    grid_id: str
    role: StaffRole
    name: str


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: str
    head: str  # name of the head of the department
    head_title: str


@dataclass(frozen=True, slots=True)
class CategoryEntry:
    """One category of the catalogue; ``weight`` is its share of the complaint mix (relative)."""

    code: str
    kind: CategoryKind
    group: str
    name: str
    name_zh: str
    weight: float


@dataclass(frozen=True, slots=True)
class UrgencyRule:
    """``urgency`` applies when the complaint text contains one of ``keywords``; no keywords: the default."""

    category: str
    urgency: Urgency
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Where the hotline dispatches a category, and which departments a street summons (吹哨)."""

    category: str
    route: UnitKind
    departments: tuple[str, ...] = ()
    needs_whistle: bool = False


@dataclass(frozen=True)
class CityData:
    """A whole city, as read from a data folder or from SQL."""

    name: str
    districts: list[District]
    streets: list[Street]
    communities: list[Community]
    grids: list[GridCell]
    staff: list[StaffMember]
    departments: list[Department]
    categories: list[CategoryEntry]
    urgency_rules: list[UrgencyRule]
    routing_rules: list[RoutingRule]
    meta: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many of each thing the city has."""
        by_role = {role: 0 for role in StaffRole}
        for s in self.staff:
            by_role[s.role] += 1
        return {
            "districts": len(self.districts),
            "streets": len(self.streets),
            "communities": len(self.communities),
            "grids": len(self.grids),
            "staff": len(self.staff),
            "leaders": by_role[StaffRole.LEADER],
            "managers": by_role[StaffRole.MANAGER],
            "full_time_workers": by_role[StaffRole.FULL_TIME],
            "part_time_workers": by_role[StaffRole.PART_TIME],
            "departments": len(self.departments),
            "categories": len(self.categories),
            "urgency_rules": len(self.urgency_rules),
            "routing_rules": len(self.routing_rules),
        }
