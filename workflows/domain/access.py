"""Who may read a case: the read jurisdiction of each role, as a pure rule.

The API checks it before it answers (``workers.api.auth.may_read``) and the workflow's ``view``
query checks it again, so a read that slips past one still meets the other.

=============  ==============================================================================
role           cases it may read
=============  ==============================================================================
dispatcher     every case (the 12345 hotline)
supervisor     cases in its district (``unit_id`` = district id), or every case (``unit_id`` = city)
street         cases located in its street, or ever dispatched to it
community      cases located in its community
grid_worker    cases located in its grid, or ever dispatched to it
department     cases it was ever dispatched to or summoned to by a whistle
property       cases it was ever passed down to or summoned to by a whistle (a property company)
volunteer      cases its volunteer team was ever called in on
resident       cases whose contact is the resident (``contact.resident_id``)
system         none
=============  ==============================================================================
"""

from __future__ import annotations

from events.base import Actor, Role
from workflows.domain.errors import DomainError
from workflows.domain.state import CaseState

READ_RULE = "jurisdiction.read"


def sees_everything(actor: Actor) -> bool:
    """Whether ``actor`` may read every case (a dispatcher, or a supervisor of the whole city)."""
    return actor.role == Role.DISPATCHER or (actor.role == Role.SUPERVISOR and actor.unit_id == "city")


def may_read(state: CaseState, actor: Actor) -> bool:
    """Whether ``actor`` may read the case ``state`` (see the module table)."""
    if sees_everything(actor):
        return True
    loc = state.location
    involved = set(state.units_involved)
    unit = actor.unit_id
    match actor.role:
        case Role.SUPERVISOR:
            return unit is not None and loc is not None and loc.district_id == unit
        case Role.STREET:
            return unit is not None and ((loc is not None and loc.street_id == unit) or f"street:{unit}" in involved)
        case Role.COMMUNITY:
            return unit is not None and loc is not None and loc.community_id == unit
        case Role.GRID_WORKER:
            return unit is not None and ((loc is not None and loc.grid_id == unit) or f"grid:{unit}" in involved)
        case Role.DEPARTMENT:
            return unit is not None and f"department:{unit}" in involved
        case Role.PROPERTY:
            return unit is not None and f"property:{unit}" in involved
        case Role.VOLUNTEER:
            return unit is not None and f"volunteer_team:{unit}" in involved
        case Role.RESIDENT:
            return state.contact.resident_id is not None and state.contact.resident_id == actor.person_id
    return False


def check_read(state: CaseState, actor: Actor) -> None:
    """Raise :class:`DomainError` (rule ``jurisdiction.read``) unless ``actor`` may read ``state``."""
    if not may_read(state, actor):
        raise DomainError(READ_RULE, f"case {state.case_id} is outside the read jurisdiction of {actor.label()}")
