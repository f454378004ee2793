"""Who is calling, what they may see and what they may try.

A request authenticates with ``Authorization: Bearer <token>``: an API token issued by
``gridcase users token`` (checked against its salted hash), or, when ``Settings.api_jwt_secret``
is set, an HS256 JWT whose claims are ``sub`` (the person), ``role``, ``unit`` (when the role has
one), optional ``name``, and ``exp`` (required).

The authenticated :class:`Principal` becomes the workflow's :class:`~events.base.Actor`; nothing in a
request body can name the actor. The API checks the role and the jurisdiction before a call
reaches the workflow, and the workflow's validators check them again (the domain's rules in
:mod:`workflows.domain.decide`), so a call that slips past one still meets the other.

Jurisdictions (what a principal may read; the rule is :mod:`workflows.domain.access`):

=============  ==============================================================================
role           cases it sees
=============  ==============================================================================
dispatcher     every case (the 12345 hotline)
supervisor     cases in its district (``unit`` = district id), or every case (``unit`` = city)
street         cases located in its street, or ever dispatched to it
community      cases located in its community
grid_worker    cases located in its grid, or ever dispatched to it
department     cases it was ever dispatched to or summoned to by a whistle
resident       cases whose contact they are, or that they opened through the API
=============  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from events.base import Actor, Duty, Role
from workflows.domain.access import may_read as domain_may_read
from workflows.domain.access import sees_everything as domain_sees_everything
from workflows.domain.actions import CATALOGUE, Action
from workflows.domain.state import CaseState

SYSTEM_ROLES = frozenset({Role.SYSTEM})


def api_roles(action: Action) -> tuple[Role, ...]:
    """The roles that may attempt ``action`` through the API: the catalogue's, but the system's."""
    return tuple(r for r in action.roles if r not in SYSTEM_ROLES)


#: Roles that see the resident's name and phone (the hotline calls residents back). A resident sees
#: their own contact details on their own cases; everyone else sees them removed.
PERSONAL_DATA_ROLES = frozenset({Role.DISPATCHER})


class _CatalogueRoles(Mapping[str, tuple[Role, ...]]):
    """``{action name: roles}`` read from the catalogue at each lookup (a row added later is seen)."""

    def _rows(self) -> dict[str, Action]:
        return {a.name: a for a in CATALOGUE.after_intake()}

    def __getitem__(self, name: str) -> tuple[Role, ...]:
        return api_roles(self._rows()[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())


#: Which roles may attempt each action through the API (the workflow then checks the unit and the
#: case's state): the action catalogue's roles, without the system's (no API caller is the system).
ACTION_ROLES: Mapping[str, tuple[Role, ...]] = _CatalogueRoles()

#: Roles that may open a case through the API, and through which channels (the domain rules again).
INTAKE_ROLES = frozenset(api_roles(CATALOGUE["open"]))

_UNIT_KIND_OF_ROLE = {
    Role.GRID_WORKER: "grid",
    Role.STREET: "street",
    Role.DEPARTMENT: "department",
    Role.PROPERTY: "property",
    Role.VOLUNTEER: "volunteer_team",
}


class AuthError(Exception):
    """Authentication failed (401) or the principal may not do this (403): ``rule`` names why."""

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(f"[{rule}] {message}")
        self.status = status
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    person_id: str
    role: Role
    unit_id: str | None = None
    name: str | None = None
    via: str = "token"  # token | jwt
    #: The duties it holds in its unit (分派, 审核签发: ``UserStore.effective_duties``); ``None``: none
    #: apply to its role. A JWT's ``duties`` claim names those it is designated to.
    duties: tuple[Duty, ...] | None = None

    def actor(self) -> Actor:
        """The workflow actor this principal acts as."""
        return Actor(role=self.role, person_id=self.person_id, unit_id=self.unit_id, name=self.name, duties=self.duties)

    @property
    def sees_everything(self) -> bool:
        return domain_sees_everything(self.actor())

    @property
    def sees_personal_data(self) -> bool:
        return self.role in PERSONAL_DATA_ROLES

    def label(self) -> str:
        return self.actor().label()


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """A principal from verified JWT claims; raises :class:`AuthError` naming the bad claim."""
    from workers.api.users import USER_ID_RE, UserError, check_user_fields

    sub = claims.get("sub")
    if not isinstance(sub, str) or not USER_ID_RE.match(sub):
        raise AuthError(401, "auth.jwt_claims", "sub: the person id (1-128 letters, digits, _ . @ -) is required")
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise AuthError(401, "auth.jwt_claims", f"role: one of {', '.join(r.value for r in Role)}") from None
    unit = claims.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise AuthError(401, "auth.jwt_claims", "unit: a string")
    try:
        check_user_fields(sub, role, unit)
    except UserError as err:
        raise AuthError(401, "auth.jwt_claims", str(err)) from None
    name = claims.get("name")
    given = claims.get("duties")
    try:
        if given is not None and not isinstance(given, list):
            raise ValueError
        duties = None if given is None else tuple(sorted({Duty(d) for d in given}))
    except ValueError:
        raise AuthError(401, "auth.jwt_claims", f"duties: a list of {', '.join(d.value for d in Duty)}") from None
    return Principal(
        person_id=sub,
        role=role,
        unit_id=unit,
        name=name if isinstance(name, str) else None,
        via="jwt",
        duties=duties,
    )


def decode_jwt(token: str, secret: str) -> Principal:
    """Verify an HS256 JWT and turn its claims into a principal."""
    import jwt

    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "auth.jwt_expired", "the JWT has expired") from None
    except jwt.InvalidTokenError as err:
        raise AuthError(401, "auth.jwt_invalid", f"the JWT is not valid: {err}") from None
    return principal_from_claims(claims)


def issue_jwt(
    secret: str, person_id: str, role: Role, unit_id: str | None, *, name: str | None = None, ttl_seconds: int = 3600
) -> str:
    """An HS256 JWT for a principal (used by ``gridcase users jwt`` and by tests)."""
    import time

    import jwt

    now = int(time.time())
    claims: dict[str, Any] = {"sub": person_id, "role": role.value, "iat": now, "exp": now + ttl_seconds}
    if unit_id:
        claims["unit"] = unit_id
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")


# --- jurisdiction ------------------------------------------------------------------------------


def may_read(p: Principal, case: CaseState, opened_by: str | None = None) -> bool:
    """Whether ``p`` may read ``case`` (``opened_by``: the API user who opened it, if known).

    The rule is the domain's (:func:`workflows.domain.access.may_read`), which the workflow's
    ``view`` query checks too; the API adds one thing only it knows: a resident may also read a
    case they opened through the API (its own table records ``opened_by``).
    """
    if domain_may_read(case, p.actor()):
        return True
    return p.role == Role.RESIDENT and opened_by is not None and opened_by == p.person_id


def require_read(p: Principal, case: CaseState, opened_by: str | None = None) -> None:
    if not may_read(p, case, opened_by):
        raise AuthError(
            403,
            f"jurisdiction.{p.role.value}",
            f"case {case.case_id} is outside the jurisdiction of {p.label()}",
        )


def require_action_role(p: Principal, action: str | Action) -> None:
    """403 ``role.not_allowed`` unless ``p``'s role may attempt ``action`` (a catalogue row or name)."""
    if isinstance(action, str):
        name, allowed = action, ACTION_ROLES.get(action, ())
    else:
        name, allowed = action.name, api_roles(action)
    if p.role not in allowed:
        names = ", ".join(r.value for r in allowed)
        raise AuthError(403, "role.not_allowed", f"'{name}' may be done by {names}, not by {p.role.value}")


def require_intake_role(p: Principal) -> None:
    if p.role not in INTAKE_ROLES:
        names = ", ".join(sorted(r.value for r in INTAKE_ROLES))
        raise AuthError(403, "role.not_allowed", f"'open' may be done by {names}, not by {p.role.value}")


def list_scope(p: Principal) -> dict[str, str]:
    """Filters the read model must apply for ``p`` (empty: everything; residents are scoped by id)."""
    if p.sees_everything:
        return {}
    unit = p.unit_id or ""
    match p.role:
        case Role.SUPERVISOR:
            return {"district": unit}
        case Role.STREET:
            return {"street": unit}
        case Role.COMMUNITY:
            return {"community": unit}
        case Role.GRID_WORKER:
            return {"grid": unit}
        case Role.DEPARTMENT:
            return {"department": unit}
        case Role.PROPERTY:
            return {"property": unit}
        case Role.VOLUNTEER:
            return {"volunteer_team": unit}
    return {"resident": p.person_id}


def scope_keys_match(p: Principal, keys: set[str]) -> bool:
    """Whether an event about a case with these scope keys is for ``p`` (live stream).

    Scope keys are ``district:D``, ``street:S``, ``community:C``, ``grid:G`` (the case's location)
    and the unit keys it was dispatched or summoned to (``street:S``, ``grid:G``, ``department:X``).
    """
    if p.sees_everything:
        return True
    kind = {Role.SUPERVISOR: "district", Role.COMMUNITY: "community", **_UNIT_KIND_OF_ROLE}.get(p.role)
    return kind is not None and f"{kind}:{p.unit_id}" in keys
