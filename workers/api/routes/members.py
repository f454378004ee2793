"""``GET /units/{kind}/{unit_id}/members``: the people who act for a unit (the member picker).

A unit's members are the enabled users of the user directory whose role and unit are the unit's
(a street's street users, a grid's grid workers, a department's department users). The picker of
``assign`` / ``reassign`` offers them; the action routes look the chosen one up again.

Who may list them: the unit's own users, the hotline (dispatchers) and supervisors.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from events.base import Role, UnitKind, UnitRef
from workers.api.auth import AuthError
from workers.api.deps import Caller, services
from workers.api.errors import invalid_fields, responses
from workflows.domain.state import UNIT_ROLE

router = APIRouter(tags=["units"])

UNKNOWN_UNIT = "registry.unknown_unit"


class UnitMember(BaseModel):
    """One person who acts for the unit."""

    person_id: str
    name: str


class UnitMembers(BaseModel):
    kind: UnitKind
    unit_id: str
    members: list[UnitMember] = Field(description="Enabled users of the unit, by name")


@router.get(
    "/units/{kind}/{unit_id}/members",
    name="unit_members",
    responses=responses(401, 403, 422),
)
async def unit_members(
    request: Request,
    kind: Annotated[UnitKind, Path(description="grid, street or department")],
    unit_id: Annotated[str, Path(min_length=1, max_length=128)],
    p: Caller,
) -> UnitMembers:
    """The members of a unit: who its cases can be assigned to (分派 / 改派)."""
    role = UNIT_ROLE.get(kind)
    if role is None:
        raise invalid_fields([("path.kind", "unit.kind", f"{kind.value} has no members: grid, street or department")])
    svc = services(request)
    if not svc.registry.unit_exists(UnitRef(kind=kind, id=unit_id)):
        raise invalid_fields([("path.unit_id", UNKNOWN_UNIT, f"the registry has no {kind.value} {unit_id!r}")])
    own = p.role == role and p.unit_id == unit_id
    if not (own or p.role in (Role.DISPATCHER, Role.SUPERVISOR)):
        raise AuthError(
            403,
            "jurisdiction.members",
            f"the members of {kind.value}:{unit_id} are listed to the unit itself, the hotline and supervisors",
        )
    users = await asyncio.to_thread(svc.store.members, role, unit_id)
    return UnitMembers(
        kind=kind, unit_id=unit_id, members=[UnitMember(person_id=u.user_id, name=u.name) for u in users]
    )
