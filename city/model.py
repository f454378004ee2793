"""The city registry's data: districts → streets → communities → grids, staff, departments, sections,
property companies and volunteer teams with their staff, catalogue.

Plain frozen dataclasses, no I/O: :mod:`city.files` reads and validates them from a data folder,
:mod:`city.store` keeps them in SQL, :mod:`city.registry` answers lookups from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from events.base import UnitKind
from events.schemas import Urgency
from workflows.domain.registry import SECTION_UNIT_KINDS as _SECTION_UNIT_KINDS


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


#: The kinds of unit that may have sections (科室): a grid, a street office or a department.
SECTION_UNIT_KINDS: tuple[str, ...] = tuple(k.value for k in _SECTION_UNIT_KINDS)
#: A section id: a letter or digit, then letters, digits, ``_``, ``.`` or ``-``; at most
#: :data:`SECTION_ID_MAX_LENGTH` characters.
SECTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
SECTION_ID_MAX_LENGTH = 64
SECTION_NAME_MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Section:
    """A section (科室) of a unit: a case that lands in the unit's inbox is assigned to one of them.

    ``unit_kind`` is one of :data:`SECTION_UNIT_KINDS`; ``id`` is unique within the unit.
    """

    unit_kind: str
    unit_id: str
    id: str
    name: str

    @property
    def unit_key(self) -> str:
        """The unit's key, as :meth:`events.base.UnitRef.key` spells it (``"street:S-0101"``)."""
        return f"{self.unit_kind}:{self.unit_id}"


#: The kinds of unit that serve communities and have their own staff (:class:`UnitStaffMember`).
STAFFED_UNIT_KINDS: tuple[str, ...] = (UnitKind.PROPERTY.value, UnitKind.VOLUNTEER_TEAM.value)
#: The duties a staff member of each such unit may have, the unit's head first.
UNIT_DUTIES: dict[str, tuple[str, ...]] = {
    UnitKind.PROPERTY.value: ("manager", "staff"),  # 项目经理, 物业员工
    UnitKind.VOLUNTEER_TEAM.value: ("leader", "volunteer"),  # 队长, 志愿者
}


@dataclass(frozen=True, slots=True)
class PropertyCompany:
    """A property company (物业服务企业) joined into community governance (红色物业).

    A community or street office passes cases down to it, and a street's whistle may summon it, for
    the communities it serves (``communities``: community ids, in the data folder's order).
    """

    id: str
    name: str
    communities: tuple[str, ...]
    manager: str  # name of the company's manager (项目经理)


@dataclass(frozen=True, slots=True)
class VolunteerTeam:
    """A community volunteer team (社区志愿者队伍): a grid calls it in to help on the spot."""

    id: str
    name: str
    communities: tuple[str, ...]
    leader: str  # name of the team's leader (队长)


@dataclass(frozen=True, slots=True)
class UnitStaffMember:
    """A member of a property company or a volunteer team; ``duty`` is one of :data:`UNIT_DUTIES`."""

    id: str
    unit_kind: str  # one of STAFFED_UNIT_KINDS
    unit_id: str
    name: str
    duty: str

    @property
    def unit_key(self) -> str:
        """The unit's key, as :meth:`events.base.UnitRef.key` spells it (``"property:P-0101-1"``)."""
        return f"{self.unit_kind}:{self.unit_id}"


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
    sections: list[Section] = field(default_factory=list)
    property_companies: list[PropertyCompany] = field(default_factory=list)
    volunteer_teams: list[VolunteerTeam] = field(default_factory=list)
    unit_staff: list[UnitStaffMember] = field(default_factory=list)

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
            "sections": len(self.sections),
            "property_companies": len(self.property_companies),
            "volunteer_teams": len(self.volunteer_teams),
            "unit_staff": len(self.unit_staff),
            "categories": len(self.categories),
            "urgency_rules": len(self.urgency_rules),
            "routing_rules": len(self.routing_rules),
        }
