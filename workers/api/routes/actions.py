"""The actions on a case, from the action catalogue.

* ``POST /cases/{case_id}/<path>`` — one route per catalogue action after intake (``dispatch``,
  ``review-return``...), its summary, body and role check taken from the catalogue row; each is the
  workflow's ``act`` update, the actor being the caller.
* ``GET /cases/{case_id}/actions`` — what the caller may do on the case now (the domain decides),
  each with its form.

Before a command is sent, the API refuses what would leave the case stuck or answer with a
server error: a finished case (409 ``case.finished``) and a unit the registry does not know
(422 ``registry.unknown_unit``, on every field whose form widget is a unit or a whistle's tasks).
A member named in a form (widget ``member``: the handler of ``assign`` / ``reassign``) is looked up
in the user directory: an unknown or disabled user is 422 ``registry.unknown_person``, and the
member's unit and name are the directory's, whatever the body said, so the domain's check that the
member belongs to the case's unit (``assign.outside_unit``) judges the truth.

A place (widget ``location``: ``relocate``'s ``location``) is given as intake takes it (a grid id,
coordinates or an address, :class:`~workers.api.schemas.LocationInput`) and resolved by the city
registry's ``locate`` to grid → community → street → district before the command is built; a place
the registry does not know (an unknown grid, a point outside every grid, an address no grid matches)
is 422 ``registry.unknown_location`` on the field (``body.location``, ``body.location.grid_id``...),
a latitude without its longitude 422 ``location.coordinates``. A category (a choice the command's
type does not enumerate: ``reclassify``'s ``category``) must be a code of the city catalogue: 422
``registry.unknown_category`` (:func:`workers.case_client.category_problems`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field, ValidationError, create_model

from events.base import Actor, Role, UnitKind, UnitRef
from workers.api.auth import api_roles, require_action_role, require_read
from workers.api.deps import KEY, Caller, CaseIdParam, load_case, services
from workers.api.errors import ApiError, invalid_fields, responses, validation_error
from workers.api.schemas import ActionResponse, AvailableAction, CaseActions, LocationInput, body_model
from workers.api.users import UserStore, member_of
from workers.case_client import RegistryCategories, finished_refusal
from workflows.domain.actions import Action, Catalogue, Widget, form_schema
from workflows.domain.commands import Member
from workflows.domain.registry import CityRegistry, RegistryError
from workflows.domain.state import TERMINAL, CaseState

UNKNOWN_UNIT = "registry.unknown_unit"
UNKNOWN_PERSON = "registry.unknown_person"
UNKNOWN_LOCATION = "registry.unknown_location"
#: A latitude without its longitude, or the other way round (as intake answers it).
COORDINATES = "location.coordinates"
ModelT = TypeVar("ModelT", bound=BaseModel)


def resolve_members(store: UserStore, action: Action, command: ModelT) -> ModelT:
    """``command`` with every member field (widget ``member``) filled from the user directory.

    Raises:
        ApiError: 422 ``registry.unknown_person`` naming each field whose person is not an enabled user.
    """
    update: dict[str, Member] = {}
    unknown: list[tuple[str, str, str]] = []
    for f in action.fields:
        value = getattr(command, f.name, None)
        if f.widget != Widget.MEMBER or not isinstance(value, Member):
            continue
        user = store.get_user(value.person_id)
        if user is None or user.disabled_at is not None:
            why = f"the user directory has no active user {value.person_id!r}"
            unknown.append((f"body.{f.name}.person_id", UNKNOWN_PERSON, why))
            continue
        update[f.name] = member_of(user)
    if unknown:
        raise invalid_fields(unknown)
    return command.model_copy(update=update) if update else command


def location_fields(action: Action) -> list[str]:
    """The fields of ``action`` that name a place of the registry (widget ``location``)."""
    return [f.name for f in action.fields if f.widget == Widget.LOCATION and f.name in action.command.model_fields]


def action_body(action: Action) -> type[BaseModel]:
    """The request body of ``action``: its command's fields but the actor; a whistle's tasks refuse
    unknown fields; a place is given as intake takes it (:class:`LocationInput`), not resolved."""
    body = body_model(action.command, frozenset(f.name for f in action.fields if f.widget == Widget.TASKS))
    places: dict[str, Any] = {}
    for name in location_fields(action):
        required = body.model_fields[name].is_required()
        places[name] = (
            LocationInput if required else LocationInput | None,
            Field(
                ... if required else None,
                description="A grid id, coordinates (lat and lon) or an address: the registry resolves it "
                "to grid, community, street and district",
            ),
        )
    if not places:
        return body
    model = create_model(body.__name__, __base__=body, __doc__=body.__doc__, **places)
    return cast(type[BaseModel], model)


def action_bodies(catalogue: Catalogue) -> dict[str, type[BaseModel]]:
    """The request body of each action on an existing case."""
    return {a.name: action_body(a) for a in catalogue.after_intake()}


# --- unit references ---------------------------------------------------------------------------


def unit_references(action: Action, command: BaseModel) -> Iterator[tuple[str, UnitRef]]:
    """Every unit ``command`` names, with its field (``unit``, ``tasks.0.department_id``): the
    fields whose form widget is a unit (a ``UnitRef``, or a list of them) or a whistle's tasks (each
    naming a department)."""
    for f in action.fields:
        value = getattr(command, f.name, None)
        if value is None:
            continue
        if f.widget == Widget.UNIT:
            if isinstance(value, UnitRef):
                yield f.name, value
            elif isinstance(value, list | tuple):
                for i, item in enumerate(value):
                    if isinstance(item, UnitRef):
                        yield f"{f.name}.{i}", item
        elif f.widget == Widget.TASKS and isinstance(value, list | tuple):
            for i, task in enumerate(value):
                dept = getattr(task, "department_id", None)
                if isinstance(dept, str):
                    yield f"{f.name}.{i}.department_id", UnitRef(kind=UnitKind.DEPARTMENT, id=dept)


def check_units(registry: CityRegistry, action: Action, command: BaseModel) -> None:
    """422 ``registry.unknown_unit`` naming each field whose unit the city's registry does not have."""
    unknown = [
        (f"body.{where}", UNKNOWN_UNIT, f"the registry has no {unit.kind.value} {unit.id!r}")
        for where, unit in unit_references(action, command)
        if not registry.unit_exists(unit)
    ]
    if unknown:
        raise invalid_fields(unknown)


# --- places ------------------------------------------------------------------------------------


def _location_problem(name: str, err: RegistryError) -> tuple[str, str, str]:
    """The field error of a place the registry refused: its message's head (``location.grid_id:
    ...``) names the part of the place, under the action's own field."""
    head, sep, rest = str(err).partition(": ")
    if sep and re.fullmatch(r"location(\.[a-z_]+)?", head):
        return f"body.{name}{head.removeprefix('location')}", UNKNOWN_LOCATION, rest
    return f"body.{name}", UNKNOWN_LOCATION, str(err)


def resolve_locations(registry: CityRegistry, action: Action, body: BaseModel) -> dict[str, Any]:
    """The body's values with every place (widget ``location``) resolved by the registry to a
    :class:`~events.schemas.Location` (grid → community → street → district).

    Raises:
        RequestValidationError: 422 ``registry.unknown_location`` naming each place the registry
            does not know, ``location.coordinates`` for a latitude without its longitude.
    """
    values = body.model_dump(exclude_unset=False)
    problems: list[tuple[str, str, str]] = []
    for name in location_fields(action):
        given = getattr(body, name, None)
        if not isinstance(given, LocationInput):
            continue
        if (given.lat is None) != (given.lon is None):
            problems.append((f"body.{name}", COORDINATES, "give both lat and lon, or neither"))
            continue
        try:
            values[name] = registry.locate(grid_id=given.grid_id, lat=given.lat, lon=given.lon, address=given.address)
        except RegistryError as err:
            problems.append(_location_problem(name, err))
    if problems:
        raise invalid_fields(problems)
    return values


# --- the routes --------------------------------------------------------------------------------


def _available(state: CaseState, actor: Actor, now: datetime, catalogue: Catalogue) -> list[Action]:
    """The domain's answer (:func:`workflows.domain.available.available_actions`)."""
    try:
        from workflows.domain.available import available_actions
    except ImportError as err:
        raise ApiError(
            503, "unavailable", "actions.unavailable", f"the domain's available actions cannot be loaded: {err}"
        ) from None
    return available_actions(state, actor, now, catalogue)


def build_router(catalogue: Catalogue) -> APIRouter:
    """The action routes of ``catalogue`` (a new row gets its route, summary and role check here)."""
    router = APIRouter()
    rows = catalogue.after_intake()
    routed = {a.name for a in rows}

    @router.get(
        "/cases/{case_id}/actions", tags=["actions"], name="case_actions", responses=responses(401, 403, 404, 422, 503)
    )
    async def case_actions(request: Request, case_id: CaseIdParam, p: Caller) -> CaseActions:
        """The actions the caller may take on this case now (the domain's role, jurisdiction and state
        rules), each with its form; none for a finished case."""
        svc = services(request)
        state = await load_case(svc, case_id)
        opened_by = await asyncio.to_thread(svc.store.opened_by, case_id) if p.role == Role.RESIDENT else None
        require_read(p, state, opened_by)
        found: list[Action] = []
        if state.status not in TERMINAL:
            found = [a for a in _available(state, p.actor(), datetime.now(UTC), catalogue) if a.name in routed]
        return CaseActions(
            case_id=state.case_id,
            status=state.status,
            actions=[
                AvailableAction(
                    name=a.name,
                    path=a.path,
                    summary_zh=a.summary_zh,
                    summary_en=a.summary_en,
                    roles=list(api_roles(a)),
                    form=form_schema(a),
                )
                for a in found
            ],
        )

    for action in rows:
        _add_action_route(router, action)
    return router


def _add_action_route(router: APIRouter, action: Action) -> None:
    body_cls = action_body(action)
    command_cls = action.command
    roles = ", ".join(r.value for r in api_roles(action))

    async def act(
        request: Request,
        case_id: CaseIdParam,
        body: body_cls,  # type: ignore[valid-type]
        p: Caller,
        request_id: Annotated[
            str | None,
            Header(
                pattern=KEY,
                min_length=1,
                max_length=128,
                description="Your id for this call: a retry with the same id applies once",
            ),
        ] = None,
    ) -> ActionResponse:
        svc = services(request)
        require_action_role(p, action)
        state = await load_case(svc, case_id)
        require_read(p, state)
        if state.status in TERMINAL:
            raise finished_refusal(case_id, action.name, state)
        values = resolve_locations(svc.registry, action, body)
        try:
            command = command_cls(actor=p.actor(), **values)
        except ValidationError as err:
            raise validation_error(err) from None
        check_units(svc.registry, action, command)
        command = await asyncio.to_thread(resolve_members, svc.store, action, command)
        refs = await svc.cases.reference_problems(
            action, case_id, command, svc.registry.sections(), RegistryCategories(svc.registry)
        )
        if refs:  # a case named in the body that does not exist, or a merge into a finished case
            raise invalid_fields([(f"body.{field}", rule, message) for field, rule, message in refs])
        rid = f"{p.person_id}:{request_id}" if request_id else None
        # a case that finished meanwhile (a double click on close) is refused by the domain and the
        # case client with case.finished
        result = await svc.cases.act(case_id, cast(Any, command), rid)
        return ActionResponse(case_id=result.case_id, status=result.status, seq=result.seq, events=result.events)

    act.__doc__ = f"{action.summary}.\n\nMay be attempted by: {roles}; the workflow checks the rest."
    act.__name__ = f"act_{action.name}"
    act.__annotations__["body"] = body_cls  # a per-action model: resolved here, not from the module's globals
    router.post(
        f"/cases/{{case_id}}/{action.path}",
        tags=["actions"],
        name=action.name,
        summary=f"{action.path} ({action.summary_zh})",
        responses=responses(401, 403, 404, 409, 422, 503),
    )(act)
