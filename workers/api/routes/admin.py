"""Administration: API users and tokens (what ``gridcase users`` does), the SLA policy and calendar.

There is no administrator role: user administration belongs to a **supervisor of the city**
(role ``supervisor``, unit ``city``) — the one role whose authority spans every unit, so issuing a
token for any of them stays within it. Everyone else gets 403 ``role.not_allowed``. The policy in
force and the calendar's coverage are read-only and open to the hotline and to supervisors.

* ``GET /admin/users`` — users with their unit's name and their tokens (never a secret);
* ``POST /admin/users`` — add a user (the rules of ``gridcase users add``; the unit must be one of
  the city registry's);
* ``POST /admin/users/{user_id}/tokens`` — issue a token, answered this once;
* ``DELETE /admin/tokens/{token_id}`` — revoke a token (``gridcase users revoke TOKEN``);
* ``POST /admin/users/{user_id}/disable`` — disable a user and revoke all their tokens
  (``gridcase users revoke --user``);
* ``GET /admin/policy`` — the active SLA policy (``gridcase policy show``) and the working
  calendar's coverage (``gridcase policy calendar-check``'s last line).
"""

from __future__ import annotations

import asyncio
from collections.abc import Container, Sequence
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from city.registry import SqlCityRegistry
from events.base import Duty, Role
from workers.api.auth import AuthError, Principal
from workers.api.deps import Caller, services
from workers.api.errors import ApiError, invalid, responses
from workers.api.routes.registry import city_of
from workers.api.users import (
    TOKEN_UNKNOWN,
    UNIT_ROLES,
    USER_DISABLED,
    USER_ID_RE,
    USER_UNKNOWN,
    TokenInfo,
    User,
    UserError,
    UserStore,
    check_duties,
)
from workflows.sla.policy import ClockRule, SlaPolicy

router = APIRouter(prefix="/admin", tags=["admin"])

USER_SELF = "user.self"
POLICY_INVALID = "policy.invalid"

#: Roles a user may be given (the SLA clock's ``system`` is no person).
UserRole = Literal[
    "dispatcher", "supervisor", "street", "community", "grid_worker", "department", "property", "volunteer", "resident"
]


def is_admin(p: Principal) -> bool:
    """Whether ``p`` administers users: a supervisor of the whole city."""
    return p.role == Role.SUPERVISOR and p.unit_id == "city"


def require_admin(p: Principal) -> None:
    if not is_admin(p):
        raise AuthError(
            403, "role.not_allowed", f"user administration is for a supervisor of the city, not {p.role.value}"
        )


def require_policy_reader(p: Principal) -> None:
    if p.role not in (Role.DISPATCHER, Role.SUPERVISOR):
        raise AuthError(
            403, "role.not_allowed", f"the SLA policy is shown to the hotline and supervisors, not {p.role.value}"
        )


# --- bodies --------------------------------------------------------------------------------------


class TokenItem(BaseModel):
    token_id: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class UserItem(BaseModel):
    user_id: str
    name: str
    role: Role
    unit_id: str | None
    unit_name: str | None = Field(description="The unit's name in the city registry")
    enabled: bool
    created_at: datetime
    disabled_at: datetime | None
    tokens: list[TokenItem]
    duties: list[Duty] = Field(
        default=[], description="Duties it is designated to in its unit: coordinator (分派), reviewer (审核签发)"
    )


class UserList(BaseModel):
    items: list[UserItem]
    units_required: dict[str, str] = Field(description="Roles that act for a unit, with what the unit is")


class NewUser(BaseModel):
    user_id: str = Field(min_length=1, max_length=128, description="The person's id, e.g. op-2, zhang.wei")
    name: str | None = Field(default=None, max_length=128, description="Display name (default: the id)")
    role: UserRole
    unit: str | None = Field(
        default=None, max_length=128, description="Grid, community, street, department, district id, or 'city'"
    )
    token: bool = Field(default=False, description="Also issue a first token (answered once)")
    duties: list[Duty] = Field(
        default=[],
        description="Duties in its unit: coordinator (assigns cases, 分派), reviewer (signs replies off, 审核签发). "
        "A unit that designates nobody to a duty gives it to every member.",
    )


class DutiesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duties: list[Duty] = Field(description="Exactly these duties from now on (none: a plain member)")


class NewToken(BaseModel):
    label: str | None = Field(default=None, max_length=128, description="What the token is for")


class IssuedToken(BaseModel):
    token: str = Field(description="The token itself: shown this once, only its salted hash is kept")
    token_id: str
    user_id: str
    label: str | None
    created_at: datetime


class CreatedUser(BaseModel):
    user: UserItem
    token: IssuedToken | None = None


class Revoked(BaseModel):
    token_id: str
    revoked_at: datetime | None


class Disabled(BaseModel):
    user_id: str
    tokens_revoked: int


class PolicyRule(BaseModel):
    clock: str
    urgency: str
    category: str | None = Field(description="A category override, or none for the clock's default")
    duration: str = Field(description="e.g. 2h, 7d (working days of the policy's working day)")
    basis: Literal["working", "calendar"]
    warnings: list[float]
    ladder: list[str] = Field(description="Escalation rungs: level +delay → recipients")


class CalendarCoverageView(BaseModel):
    today: date
    covered_from: date | None
    covered_to: date | None
    days_left: int = Field(description="Days until the Monday–Friday fallback starts")
    expiring: bool
    summary: str
    override_file: str | None
    work_periods: list[str]


class PolicyView(BaseModel):
    version: str
    source: str
    working_day: str
    time_scale: float | None = Field(description="Wall-clock seconds per policy hour when compressed")
    rules: list[PolicyRule]
    calendar: CalendarCoverageView


# --- helpers -------------------------------------------------------------------------------------


def unit_checker(city: SqlCityRegistry) -> dict[Role, Container[str]]:
    """The units a user of each role may act for (as ``gridcase users add`` checks them)."""
    return {
        Role.GRID_WORKER: set(city.grid_ids()),
        Role.COMMUNITY: city.communities,
        Role.STREET: city.streets,
        Role.DEPARTMENT: city.departments,
        Role.PROPERTY: city.property_companies,
        Role.VOLUNTEER: city.volunteer_teams,
        Role.SUPERVISOR: {"city", *city.districts},
    }


def unit_name(city: SqlCityRegistry, role: Role, unit_id: str | None) -> str | None:
    if unit_id is None:
        return None
    if role == Role.SUPERVISOR:
        if unit_id == "city":
            return city.name
        d = city.districts.get(unit_id)
        return d.name if d else None
    if role == Role.GRID_WORKER:
        try:
            return city.grid(unit_id).name
        except Exception:
            return None
    found: object = None
    if role == Role.COMMUNITY:
        found = city.communities.get(unit_id)
    elif role == Role.STREET:
        found = city.streets.get(unit_id)
    elif role == Role.DEPARTMENT:
        found = city.departments.get(unit_id)
    elif role == Role.PROPERTY:
        found = city.property_companies.get(unit_id)
    elif role == Role.VOLUNTEER:
        found = city.volunteer_teams.get(unit_id)
    name = getattr(found, "name", None)
    return str(name) if name else None


def _token(t: TokenInfo) -> TokenItem:
    return TokenItem(
        token_id=t.token_id,
        label=t.label,
        created_at=t.created_at,
        revoked_at=t.revoked_at,
        active=t.revoked_at is None,
    )


def _user(city: SqlCityRegistry, u: User, tokens: list[TokenInfo], duties: Sequence[Duty] = ()) -> UserItem:
    return UserItem(
        user_id=u.user_id,
        name=u.name,
        role=u.role,
        unit_id=u.unit_id,
        unit_name=unit_name(city, u.role, u.unit_id),
        enabled=u.disabled_at is None,
        created_at=u.created_at,
        disabled_at=u.disabled_at,
        tokens=[_token(t) for t in tokens if t.user_id == u.user_id],
        duties=list(duties),
    )


def _field_error(err: UserError) -> Exception:
    """A :class:`UserError` as the API answers it: 404 for an unknown user or token, else a 422
    naming the body's field (``body.unit``, ``body.user_id``...) and the rule."""
    if err.rule in (USER_UNKNOWN, TOKEN_UNKNOWN):
        return ApiError(404, "not_found", err.rule, str(err))
    field = {
        "user_id": "body.user_id",
        "role": "body.role",
        "unit": "body.unit",
        "name": "body.name",
        "duties": "body.duties",
    }.get(err.field, "body")
    return invalid(field, err.rule, str(err).partition(": ")[2] or str(err))


def _store(request: Request, city: SqlCityRegistry) -> UserStore:
    units = unit_checker(city)

    def exists(role: Role, unit_id: str) -> bool:
        known = units.get(role)
        return known is None or unit_id in known

    return UserStore(services(request).store.engine, unit_exists=exists)


UserIdParam = Annotated[str, Path(pattern=USER_ID_RE.pattern, max_length=128)]
TokenIdParam = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


# --- routes: users and tokens ---------------------------------------------------------------------


@router.get("/users", responses=responses(401, 403, 503))
def list_users(request: Request, p: Caller) -> UserList:
    """Every user with the name of their unit, enabled or not, and their tokens (ids, labels,
    dates; never a secret)."""
    require_admin(p)
    city = city_of(request)
    store = services(request).store
    tokens = store.list_tokens()
    duties = store.all_duties()
    return UserList(
        items=[_user(city, u, tokens, duties.get(u.user_id, ())) for u in store.list_users()],
        units_required={r.value: what for r, what in UNIT_ROLES.items()},
    )


@router.post("/users", status_code=201, responses=responses(401, 403, 422, 503))
def add_user(request: Request, p: Caller, body: NewUser) -> CreatedUser:
    """Add a user (the rules of ``gridcase users add``: the id's form, a unit for the roles that act
    for one and none for the others, the unit one of the city registry's), and optionally a first
    token, answered this once."""
    require_admin(p)
    city = city_of(request)
    store = _store(request, city)
    unit = body.unit.strip() if body.unit and body.unit.strip() else None
    name = (body.name or "").strip() or body.user_id
    try:
        check_duties(Role(body.role), body.duties)  # before the user exists: nothing half-written
        user = store.add_user(body.user_id, name, Role(body.role), unit)
        if body.duties:
            store.set_duties(user.user_id, body.duties)
        issued = _issue(store, user.user_id, "first") if body.token else None
    except UserError as err:
        raise _field_error(err) from None
    return CreatedUser(
        user=_user(city, user, store.list_tokens(user.user_id), store.duties_of(user.user_id)), token=issued
    )


@router.put("/users/{user_id}/duties", responses=responses(401, 403, 404, 422))
def set_duties(request: Request, p: Caller, user_id: UserIdParam, body: DutiesBody) -> UserItem:
    """Designate the user to exactly these duties of its unit (分派 coordinator, 审核签发 reviewer). Once a
    unit designates someone to a duty, only its designated members hold it."""
    require_admin(p)
    city = city_of(request)
    store = services(request).store
    try:
        duties = store.set_duties(user_id, body.duties)
    except UserError as err:
        raise _field_error(err) from None
    user = store.get_user(user_id)
    assert user is not None
    return _user(city, user, store.list_tokens(user_id), duties)


def _issue(store: UserStore, user_id: str, label: str | None) -> IssuedToken:
    secret, info = store.issue_token(user_id, label)
    return IssuedToken(
        token=secret, token_id=info.token_id, user_id=user_id, label=info.label, created_at=info.created_at
    )


@router.post("/users/{user_id}/tokens", status_code=201, responses=responses(401, 403, 404, 409, 422))
def issue_token(request: Request, p: Caller, user_id: UserIdParam, body: NewToken | None = None) -> IssuedToken:
    """Issue a token for the user: the token is in this answer only (the database keeps its salted
    hash). A disabled user gets none (409 ``user.disabled``)."""
    require_admin(p)
    label = body.label.strip() if body and body.label and body.label.strip() else None
    try:
        return _issue(services(request).store, user_id, label)
    except UserError as err:
        if err.rule == USER_DISABLED:
            raise ApiError(409, "refused", err.rule, str(err)) from None
        raise _field_error(err) from None


@router.delete("/tokens/{token_id}", responses=responses(401, 403, 404, 422))
def revoke_token(request: Request, p: Caller, token_id: TokenIdParam) -> Revoked:
    """Revoke a token (idempotent: a revoked token stays revoked, listed with its time)."""
    require_admin(p)
    store = services(request).store
    try:
        store.revoke_token(token_id)
    except UserError as err:
        raise _field_error(err) from None
    found = next((t for t in store.list_tokens() if t.token_id == token_id), None)
    return Revoked(token_id=token_id, revoked_at=found.revoked_at if found else None)


@router.post("/users/{user_id}/disable", responses=responses(401, 403, 404, 409, 422))
def disable_user(request: Request, p: Caller, user_id: UserIdParam) -> Disabled:
    """Disable a user and revoke every token of theirs. Administrators cannot disable themselves
    (409 ``user.self``): the city would be left without anyone to undo it."""
    require_admin(p)
    if user_id == p.person_id:
        raise ApiError(409, "refused", USER_SELF, "you cannot disable your own account")
    try:
        n = services(request).store.disable_user(user_id)
    except UserError as err:
        raise _field_error(err) from None
    return Disabled(user_id=user_id, tokens_revoked=n)


# --- routes: the policy and the calendar ----------------------------------------------------------


def _ladder(rule: ClockRule, policy: SlaPolicy) -> list[str]:
    """Each rung as ``supervision +1d working → unit, street``."""
    from workflows.sla.policy import format_amount

    out = []
    for rung in rule.ladder:
        delay = format_amount(rung.delay, working=rung.working_time, working_day=policy.working_day)
        basis = "" if not rung.delay else (" working" if rung.working_time else " calendar")
        out.append(f"{rung.level.value} +{delay}{basis} → {', '.join(r.value for r in rung.recipients)}")
    return out


def policy_rules(policy: SlaPolicy) -> list[PolicyRule]:
    """Every rule of the policy, as ``gridcase policy show`` lists them."""
    from workflows.sla.policy import format_amount

    return [
        PolicyRule(
            clock=kind.value,
            urgency=urgency.value,
            category=category,
            duration=format_amount(rule.duration, working=rule.working_time, working_day=policy.working_day),
            basis="working" if rule.working_time else "calendar",
            warnings=list(rule.warnings),
            ladder=_ladder(rule, policy),
        )
        for kind, urgency, category, rule in policy.rows()
    ]


def _policy_view(request: Request) -> PolicyView:
    from workers.composition import active_calendar, active_policy
    from workflows.sla.calendar import calendar_coverage, quiet, today_in_shanghai
    from workflows.sla.policy import DEFAULT_POLICY_FILE, format_amount, horizon_days

    settings = services(request).settings
    policy = active_policy(settings)
    today = today_in_shanghai()
    with quiet():
        calendar = active_calendar(settings, today)
    coverage = calendar_coverage(calendar, today, horizon_days=horizon_days(policy))
    return PolicyView(
        version=policy.version,
        source=str(settings.policy_file) if settings.policy_file else f"built-in ({DEFAULT_POLICY_FILE.name})",
        working_day=format_amount(policy.working_day, working=False),
        time_scale=settings.sla_time_scale,
        rules=policy_rules(policy),
        calendar=CalendarCoverageView(
            today=today,
            covered_from=calendar.covered_from,
            covered_to=calendar.covered_to,
            days_left=coverage.days_left,
            expiring=coverage.expiring,
            summary=coverage.summary().removeprefix("calendar: "),
            override_file=str(settings.calendar_override_file) if settings.calendar_override_file else None,
            work_periods=[f"{a:%H:%M}–{b:%H:%M}" for a, b in calendar.work_periods],
        ),
    )


@router.get("/policy", responses=responses(401, 403, 503))
async def policy(request: Request, p: Caller) -> PolicyView:
    """The SLA policy in force (read-only): each clock's time limit per urgency and category
    override, its warnings and escalation ladder; and how far ahead the working calendar has
    official holiday data."""
    require_policy_reader(p)
    try:
        return await asyncio.to_thread(_policy_view, request)
    except Exception as err:  # an invalid policy or calendar file: the worker refuses to start on it too
        from workflows.sla.calendar import CalendarError
        from workflows.sla.policy import PolicyError

        if isinstance(err, PolicyError | CalendarError):
            raise ApiError(503, "unavailable", POLICY_INVALID, str(err).splitlines()[0]) from None
        raise
