"""Shared vocabulary of case events: actors, roles, units and the event base class.

Pure pydantic, no I/O: imported by the case domain (inside the Temporal sandbox), by activities
and by consumers alike.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    """Who acts on a case."""

    RESIDENT = "resident"
    DISPATCHER = "dispatcher"  # 12345 hotline dispatcher
    GRID_WORKER = "grid_worker"
    COMMUNITY = "community"
    STREET = "street"  # street office (街道)
    DEPARTMENT = "department"
    PROPERTY = "property"  # a property company's staff (物业服务企业, 红色物业)
    VOLUNTEER = "volunteer"  # a community volunteer team's member (志愿者队伍)
    SUPERVISOR = "supervisor"  # of a district, or of the city (unit_id "city")
    SYSTEM = "system"  # the SLA clock and other automatic steps


class Duty(StrEnum):
    """A duty a member holds inside its unit (beyond handling the cases it is given)."""

    COORDINATOR = "coordinator"  # 分派: assigns and reassigns the unit's cases to members and sections
    REVIEWER = "reviewer"  # 审核签发: signs the unit's replies off or sends them back


class Actor(BaseModel):
    """The acting person and the unit whose authority they act with.

    ``unit_id`` is the grid, community, street, department or district the actor belongs to
    (``"city"`` for a city supervisor, ``None`` for a resident or a dispatcher). ``duties``: the
    duties the person holds in that unit as the API found them (``None``: not known, as for older
    callers and the system; then no duty is checked).
    """

    model_config = ConfigDict(frozen=True)

    role: Role
    person_id: str = Field(min_length=1, max_length=128)
    unit_id: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=128)
    duties: tuple[Duty, ...] | None = None

    def label(self) -> str:
        unit = f"@{self.unit_id}" if self.unit_id else ""
        return f"{self.role.value}:{self.person_id}{unit}"


SYSTEM_ACTOR = Actor(role=Role.SYSTEM, person_id="gridcase")


class UnitKind(StrEnum):
    """Kinds of handling unit a case can be dispatched to."""

    GRID = "grid"
    STREET = "street"
    DEPARTMENT = "department"
    HOTLINE = "hotline"  # the 12345 centre itself (e.g. for the return-review clock)
    PROPERTY = "property"  # a property company serving communities (红色物业): dispatched or summoned
    VOLUNTEER_TEAM = "volunteer_team"  # a community volunteer team a grid calls in to help


class UnitRef(BaseModel):
    """A handling unit: a grid, a street office, a department, a property company or a volunteer team."""

    model_config = ConfigDict(frozen=True)

    kind: UnitKind
    id: str = Field(min_length=1, max_length=128)

    def key(self) -> str:
        return f"{self.kind.value}:{self.id}"


class CaseEventBase(BaseModel):
    """Fields every case event carries.

    ``event_id`` is ``"<case_id>:<seq>"``; ``seq`` counts from 1 within one case, without gaps.
    New fields are only ever added with defaults, so published schemas stay compatible.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    event_id: str
    case_id: str
    seq: int = Field(ge=1)
    occurred_at: datetime
    actor: Actor
