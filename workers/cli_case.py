"""``gridcase case ...``: drive one case through every path from the command line.

One command per action of the catalogue (:data:`workflows.domain.actions.CATALOGUE`), named by the
action's path (``report_in`` is ``gridcase case report-in``, ``review_return`` is ``case
review-return``), its help and options derived from the catalogue row and its command model
(:func:`build_case_app`); ``case new``, ``case show`` and ``case timeline`` are written by hand.

Every action names who acts with ``--as ROLE[:UNIT][/PERSON]``, e.g. ``--as dispatcher``,
``--as street:S-0101``, ``--as department:water``, ``--as grid_worker:G-01010101/zhang``,
``--as supervisor:D-01``; it defaults to ``dispatcher`` where the hotline may take the action. A
refused action prints the rule that refused it on one line and exits with 2.

Options by form widget: ``member`` → ``--<field> PERSON_ID`` (looked up in the API's user directory,
rule ``registry.unknown_person``); ``unit`` → ``--<field> KIND:ID`` (checked against the city registry before
anything is sent, rule ``registry.unknown_unit``); ``tasks`` → repeatable ``--task DEPT=TEXT``;
``duration`` → ``--<field> 3d|12h|90m|1d12h``; ``bool`` → ``--<field>/--no-<field>``; ``choice`` →
the enumeration's values, or a category code of the city catalogue where the command's type
enumerates none (``reclassify --category``, rule ``registry.unknown_category``); ``location`` →
``--grid-id ID``, ``--lat X --lon Y`` or ``--address TEXT`` (a field named otherwise than
``location`` prefixes them with its name), resolved by the city registry as ``case new`` does
(rule ``registry.unknown_location``); ``refs`` → repeatable; ``text``/``textarea``/``case`` → a
string.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from types import NoneType, UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import Channel, Location, ResidentContact, Urgency, WhistleTask
from events.times import city_time
from workers.case_client import (
    ActionRefused,
    CaseClient,
    RegistryCategories,
    case_id_for_key,
    category_fields,
    new_case_id,
)
from workers.names import UnitNames, named
from workers.settings import get_settings
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action, Catalogue, FormField, Widget
from workflows.domain.registry import RegistryError
from workflows.sla.timescale import describe_scale, format_policy_duration

T = TypeVar("T")

_ROLE_FOR_UNIT = {"street": Role.STREET, "department": Role.DEPARTMENT, "grid": Role.GRID_WORKER}
UNKNOWN_UNIT = "registry.unknown_unit"
UNKNOWN_LOCATION = "registry.unknown_location"
#: A latitude without its longitude, or the other way round.
COORDINATES = "location.coordinates"


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    typer.secho(" ".join(message.split()) if "\n" in message else message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def parse_actor(spec: str) -> Actor:
    """``ROLE[:UNIT][/PERSON]`` → Actor; ``grid`` is accepted for ``grid_worker``."""
    main, _, person = spec.partition("/")
    role_s, _, unit = main.partition(":")
    try:
        role = _ROLE_FOR_UNIT.get(role_s) or Role(role_s)
    except ValueError:
        fail(f"--as: unknown role {role_s!r} (one of: {', '.join(r.value for r in Role)})")
        raise
    return Actor(role=role, unit_id=unit or None, person_id=person or f"cli-{role.value}")


DISPATCH_KINDS = ("grid", "street", "department")
"""The kinds a unit field takes when its form names none (a dispatch's)."""


def parse_unit(spec: str, option: str = "--unit", kinds: tuple[str, ...] = DISPATCH_KINDS) -> UnitRef:
    """``street:S-0101`` / ``department:water`` / ``grid:G-01010101`` / ``property:P-0101-01`` → UnitRef,
    of one of ``kinds`` (the field's ``unit_kinds``)."""
    kind, _, unit_id = spec.partition(":")
    try:
        if kind not in kinds:
            raise ValueError(kind)
        return UnitRef(kind=UnitKind(kind), id=unit_id)
    except (ValueError, ValidationError):
        fail(f"{option} {spec!r}: expected KIND:ID with KIND one of {', '.join(kinds)}")
        raise


def parse_duration(text: str, option: str = "--extra") -> timedelta:
    """``3d``, ``12h``, ``90m``, or combinations like ``1d12h``."""
    parts = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?", text.strip())
    if not parts or not any(parts.groups()):
        fail(f"{option} {text!r}: use forms like 3d, 12h, 90m or 1d12h")
    assert parts is not None
    d, h, m = (int(x or 0) for x in parts.groups())
    return timedelta(days=d, hours=h, minutes=m)


def parse_tasks(specs: list[str], option: str = "--task") -> list[WhistleTask]:
    """``DEPARTMENT=task text`` or ``property:COMPANY=task text`` (repeated) → whistle tasks (a
    ``department:`` prefix is allowed too)."""
    tasks = []
    for spec in specs:
        unit, sep, text = spec.partition("=")
        kind, colon, unit_id = unit.partition(":")
        if not colon:
            kind, unit_id = "department", unit
        if not sep or not unit_id or kind not in ("department", "property"):
            fail(f"{option} {spec!r}: expected DEPARTMENT=task text or property:COMPANY=task text")
        tasks.append(WhistleTask(department_id=unit_id, task=text, unit_kind=UnitKind(kind)))
    return tasks


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _run(fn: Callable[[CaseClient], Awaitable[T]]) -> T:
    from workers.cli_errors import refuse_unavailable, service_failure

    settings = get_settings()

    async def go() -> T:
        from workers.composition import connect_temporal

        try:
            client = await connect_temporal(settings)
        except Exception as err:
            failure = service_failure(err, settings)
            if failure is not None:
                refuse_unavailable(failure)
            fail(f"cannot reach Temporal at {settings.temporal_address}: {_one_line(str(err))}", 1)
        return await fn(CaseClient(client, settings.task_queue))

    return asyncio.run(go())


def _build(cls: type[c.Command], **fields: Any) -> Any:
    try:
        return cls(**fields)
    except ValidationError as err:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        fail("invalid input: " + "; ".join(lines))


def _temporal_failure(case_id: str, err: Exception) -> None:
    """Any other Temporal error as one line (exit 1); an unreachable server as the service line."""
    from temporalio.service import RPCError, RPCStatusCode

    from workers.cli_errors import refuse_unavailable, service_failure

    failure = service_failure(err)
    if failure is not None:
        refuse_unavailable(failure)
    if isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND:
        fail(f"case {case_id}: no such case (Temporal: {_one_line(err.message)})", 1)
    status = getattr(getattr(err, "status", None), "name", None)
    kind = type(err).__name__ + (f" {status}" if status else "")
    fail(f"case {case_id}: Temporal refused the call ({kind}): {_one_line(str(err)) or kind}", 1)


UNKNOWN_PERSON = "registry.unknown_person"


def resolve_member(person_id: str, option: str) -> c.Member:
    """The member ``person_id`` as the user directory has them (their unit and name), or refuse
    (one line, exit 2, rule ``registry.unknown_person``)."""
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore, member_of

    store = UserStore(create_engine_for(get_settings()))
    store.create_tables()
    user = store.get_user(person_id)
    if user is None or user.disabled_at is not None:
        fail(
            f"refused by rule {UNKNOWN_PERSON}: {option} {person_id}: the user directory has no active user "
            f"{person_id!r} (see `gridcase users list`)"
        )
        raise AssertionError("unreachable")
    return member_of(user)


def check_units(units: list[tuple[str, UnitRef]]) -> None:
    """Refuse (one line, exit 2, rule ``registry.unknown_unit``) a unit the city registry does not know."""
    if not units:
        return
    from workers.composition import build_registry

    registry = build_registry(get_settings())
    for option, unit in units:
        if not registry.unit_exists(unit):
            fail(
                f"refused by rule {UNKNOWN_UNIT}: {option} {unit.key()}: the city registry has no "
                f"{unit.kind.value} {unit.id!r} (see `gridcase city show`)"
            )


#: The parts of a place (widget ``location``) as options: ``(part, type, metavar, help)``.
_PLACE_PARTS: tuple[tuple[str, type, str, str], ...] = (
    ("grid_id", str, "ID", "a grid of the city registry"),
    ("lat", float, "X", "latitude of a point (with the longitude)"),
    ("lon", float, "Y", "longitude of a point (with the latitude)"),
    ("address", str, "TEXT", "an address the registry matches to a grid"),
)


def place_flags(field: str) -> dict[str, str]:
    """The options of a place field by part: ``--grid-id``, ``--lat``, ``--lon``, ``--address`` for
    ``location``, the field's name in front for any other (``--destination-grid-id``)."""
    prefix = "" if field == "location" else field.replace("_", "-") + "-"
    return {part: f"--{prefix}{part.replace('_', '-')}" for part, *_ in _PLACE_PARTS}


def resolve_location(field: str, parts: dict[str, Any], required: bool) -> Location | None:
    """The place the options name, resolved by the city registry to grid → community → street →
    district, or refuse (one line, exit 2): nothing given for a required place, a latitude without its
    longitude (rule ``location.coordinates``), or a place the registry does not know (rule
    ``registry.unknown_location``, naming the option)."""
    flags = place_flags(field)
    point = f"{flags['lat']}/{flags['lon']}"
    if all(v is None for v in parts.values()):
        if required:
            fail(
                f"Missing option: {flags['grid_id']} ID, {flags['lat']} X {flags['lon']} Y, or "
                f"{flags['address']} TEXT (where the matter is)"
            )
        return None
    if (parts["lat"] is None) != (parts["lon"] is None):
        fail(f"refused by rule {COORDINATES}: {point}: give both the latitude and the longitude, or neither")
    from workers.composition import build_registry

    try:
        return build_registry(get_settings()).locate(**parts)
    except RegistryError as err:
        head, sep, rest = str(err).partition(": ")
        part = head.removeprefix("location.") if sep and head.startswith("location.") else None
        flag = flags.get(part or "", point if parts["lat"] is not None else flags["address"])
        fail(f"refused by rule {UNKNOWN_LOCATION}: {flag}: {rest if sep else err} (see `gridcase city locate`)")
        raise AssertionError("unreachable") from None


# --- commands generated from the catalogue --------------------------------------------------------


@dataclass(frozen=True)
class _Option:
    """One command-model field as a command-line option (a place: one option per part)."""

    field: str
    param: str
    widget: Widget
    annotation: Any
    option: typer.models.OptionInfo
    #: The part of a place (widget ``location``) the option gives: ``grid_id``, ``lat``...
    part: str | None = None
    required: bool = False
    #: The kinds a unit field takes (its form's ``unit_kinds``).
    unit_kinds: tuple[str, ...] = ("grid", "street", "department")

    @property
    def flag(self) -> str:
        return self.option.param_decls[0].split("/")[0] if self.option.param_decls else f"--{self.field}"


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        if len(args) == 1:
            return args[0]
    return annotation


def _widget_of(info: FieldInfo) -> Widget:
    """The widget of a field the catalogue row does not describe, from its type."""
    inner = _unwrap_optional(info.annotation)
    if inner is bool:
        return Widget.BOOL
    if isinstance(inner, type) and issubclass(inner, Enum):
        return Widget.CHOICE
    if inner is timedelta:
        return Widget.DURATION
    if inner is UnitRef:
        return Widget.UNIT
    if get_origin(inner) is list:
        args = get_args(inner)
        return Widget.TASKS if args and args[0] is WhistleTask else Widget.REFS
    return Widget.TEXT


def _options(action: Action) -> list[_Option]:
    """The options of an action's command: its model's fields (``actor`` and ``type`` aside), in the
    order of the catalogue row's form, each as its widget asks."""
    model: type[BaseModel] = action.command
    names = [f.name for f in action.fields if f.name in model.model_fields]
    names += [n for n in model.model_fields if n not in names and n not in ("actor", "type")]
    out = []
    catalogue_choices = set(category_fields(action))
    for name in names:
        info = model.model_fields[name]
        form = action.form_field(name) or FormField(name, name, name.replace("_", " ").capitalize(), _widget_of(info))
        if form.widget == Widget.LOCATION:
            out += _place_options(name, info, form)
        elif name in catalogue_choices:
            out.append(_category_option(name, info, form))
        else:
            out.append(_option(name, info, form))
    return out


def _place_options(name: str, info: FieldInfo, form: FormField) -> list[_Option]:
    """A place's options: a grid id, a point or an address (one of them)."""
    flags = place_flags(name)
    label = f"{form.label_zh} / {form.label_en}"
    which = "required: " if info.is_required() else ""
    out = []
    for part, kind, metavar, text in _PLACE_PARTS:
        option = typer.Option(
            None,
            flags[part],
            metavar=metavar,
            help=f"{label}: {text} ({which}{flags['grid_id']}, {flags['lat']} with {flags['lon']}, or "
            f"{flags['address']})",
        )
        out.append(
            _Option(
                field=name,
                param=f"field_{name}__{part}",
                widget=Widget.LOCATION,
                annotation=kind | None,
                option=option,
                part=part,
                required=info.is_required(),
            )
        )
    return out


def _category_option(name: str, info: FieldInfo, form: FormField) -> _Option:
    """A category code of the city catalogue (a choice its type does not enumerate)."""
    required = info.is_required()
    default: Any = ... if required else info.get_default(call_default_factory=True)
    option = typer.Option(
        default,
        "--" + name.replace("_", "-"),
        metavar="CODE",
        help=f"{form.label_zh} / {form.label_en}: a category code of the city catalogue "
        "(see `gridcase city show --categories`)",
    )
    annotation = str if required or default is not None else str | None
    return _Option(field=name, param=f"field_{name}", widget=Widget.CHOICE, annotation=annotation, option=option)


def _option(name: str, info: FieldInfo, form: FormField) -> _Option:
    required = info.is_required()
    default: Any = ... if required else info.get_default(call_default_factory=True)
    flag = "--" + name.replace("_", "-")
    label = f"{form.label_zh} / {form.label_en}"
    widget = form.widget
    annotation: Any
    if widget == Widget.MEMBER:
        annotation = str if required else str | None
        option = typer.Option(
            None if default is None else ...,
            flag,
            metavar="PERSON_ID",
            help=f"{label}: a user of the unit handling the case (the API's user directory)",
        )
    elif widget == Widget.UNIT:
        annotation = str if required else str | None
        kinds = tuple(form.unit_kinds or DISPATCH_KINDS)
        option = typer.Option(
            None if default is None else ...,
            flag,
            metavar="KIND:ID",
            help=f"{label}: {' or '.join(f'{k}:ID' for k in kinds)} of the city registry",
        )
    elif widget == Widget.TASKS:
        annotation = list[str]
        option = typer.Option(
            ... if required else [],
            "--task",
            metavar="DEPT=TEXT",
            help=f"{label}: a department of the city registry and its task, or property:COMPANY=TEXT for a "
            "property company serving the case's community (repeatable)",
        )
    elif widget == Widget.TEAM:
        annotation = str if required or default is not None else str | None
        option = typer.Option(
            default,
            flag,
            metavar="TEAM_ID",
            help=f"{label}: a volunteer team of the city registry serving the community",
        )
    elif widget == Widget.DURATION:
        annotation = str if required else str | None
        option = typer.Option(
            None if default is None else ...,
            flag,
            metavar="3d|12h|90m|1d12h",
            help=f"{label}: days, hours and minutes, e.g. 3d, 12h, 90m or 1d12h",
        )
    elif widget == Widget.BOOL:
        annotation = bool
        option = typer.Option(default, f"{flag}/--no-{flag[2:]}", help=label)
    elif widget == Widget.CHOICE:
        enum = _unwrap_optional(info.annotation)
        annotation = enum if required or default is not None else enum | None
        option = typer.Option(default, flag, help=label, case_sensitive=False)
    elif widget == Widget.REFS:
        annotation = list[str]
        option = typer.Option(
            ... if required else list(default or []),
            flag,
            metavar="REF",
            help=f"{label}: a reference to an attached file (repeatable)",
        )
    else:
        annotation = str if required or default is not None else str | None
        option = typer.Option(default, flag, metavar="CASE_ID" if widget == Widget.CASE else "TEXT", help=label)
    return _Option(
        field=name,
        param=f"field_{name}",
        widget=widget,
        annotation=annotation,
        option=option,
        unit_kinds=tuple(form.unit_kinds or DISPATCH_KINDS),
    )


def action_help(action: Action) -> str:
    """``签收: the assigned unit accepts the case.`` plus who may take the action."""
    summary = action.summary_en.rstrip(".")
    return (
        f"{action.summary_zh}: {summary}.\n\nAllowed roles: {', '.join(r.value for r in action.roles)}. "
        f"Action `{action.name}` of the catalogue."
    )


def action_command(action: Action) -> Callable[..., None]:
    """The ``gridcase case <path>`` command of one catalogue row, as a function typer can register."""
    options = _options(action)
    may_dispatcher = Role.DISPATCHER in action.roles
    roles = ", ".join(r.value for r in action.roles)
    as_help = f"Who acts: ROLE[:UNIT][/PERSON], e.g. street:S-0101 or department:water; allowed: {roles}"
    params = [
        inspect.Parameter(
            "case_id",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=str,
            default=typer.Argument(..., metavar="CASE_ID", help="The case's id"),
        ),
        *(
            inspect.Parameter(o.param, inspect.Parameter.KEYWORD_ONLY, annotation=o.annotation, default=o.option)
            for o in options
        ),
        inspect.Parameter(
            "actor",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=typer.Option(
                "dispatcher" if may_dispatcher else ..., "--as", metavar="ROLE[:UNIT][/PERSON]", help=as_help
            ),
        ),
        inspect.Parameter(
            "request_id",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str | None,
            default=typer.Option(
                None, "--request-id", metavar="ID", help="Stable id: a retried call with the same id applies once"
            ),
        ),
    ]

    def command(case_id: str, *, actor: str, request_id: str | None, **given: Any) -> None:
        fields: dict[str, Any] = {}
        units: list[tuple[str, UnitRef]] = []
        places: dict[str, dict[str, Any]] = {}
        for o in options:
            value = given[o.param]
            if o.widget == Widget.LOCATION and o.part is not None:
                places.setdefault(o.field, {})[o.part] = value
                continue
            if o.widget == Widget.MEMBER and value is not None:
                value = resolve_member(value, o.flag)
            elif o.widget == Widget.UNIT and value is not None:
                value = parse_unit(value, o.flag, o.unit_kinds)
                units.append((o.flag, value))
            elif o.widget == Widget.TASKS:
                value = parse_tasks(list(value), o.flag)
                units.extend((o.flag, UnitRef(kind=t.unit_kind, id=t.department_id)) for t in value)
            elif o.widget == Widget.TEAM and value is not None:
                units.append((o.flag, UnitRef(kind=UnitKind.VOLUNTEER_TEAM, id=value)))
            elif o.widget == Widget.DURATION and value is not None:
                value = parse_duration(value, o.flag)
            elif o.widget == Widget.REFS:
                value = list(value)
            fields[o.field] = value
        required = {o.field for o in options if o.widget == Widget.LOCATION and o.required}
        for field, parts in places.items():
            fields[field] = resolve_location(field, parts, field in required)
        command_ = _build(action.command, actor=parse_actor(actor), **fields)
        check_units(units)
        _send(case_id, command_, request_id, action)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    command.__name__ = action.name
    command.__qualname__ = f"case_{action.name}"
    command.__doc__ = action_help(action)
    return command


def _sections(action: Action | None) -> dict[str, tuple[str, ...]] | None:
    """The city registry's sections when ``action`` names one (checked before anything is sent)."""
    if action is None or not any(f.widget == Widget.SECTION for f in action.fields):
        return None
    from workers.composition import build_registry

    return build_registry(get_settings()).sections()


def _categories(action: Action | None) -> RegistryCategories | None:
    """The city catalogue's category codes when ``action`` names a category (checked before sending)."""
    if action is None or not category_fields(action):
        return None
    from workers.composition import build_registry

    return RegistryCategories(build_registry(get_settings()))


def _send(case_id: str, command: c.Command, request_id: str | None, action: Action | None = None) -> None:
    async def go(cc: CaseClient) -> None:
        from temporalio.exceptions import TemporalError
        from temporalio.service import RPCError

        try:
            sections = _sections(action)
            categories = _categories(action)
            refs = (
                await cc.reference_problems(action, case_id, command, sections, categories)
                if action is not None
                else []
            )
            for field, rule, message in refs:  # a case named in an option that does not exist, ...
                fail(f"refused by rule {rule}: --{field.replace('_', '-')}: {message}")
            result = await cc.act(case_id, command, request_id)  # type: ignore[arg-type]
        except ActionRefused as err:
            fail(f"refused by rule {err.rule}: {_one_line(err.message)}")
            return
        except (RPCError, TemporalError) as err:
            _temporal_failure(case_id, err)
            return
        typer.echo(f"{case_id}: {result.status.value} (seq {result.seq}) events {', '.join(result.events)}")

    _run(go)


def build_case_app(catalogue: Catalogue = CATALOGUE) -> typer.Typer:
    """The ``gridcase case`` group: ``new``, ``show``, ``timeline`` and one command per action of
    ``catalogue.after_intake()``, named by :attr:`Action.path`."""
    case_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
    case_app.command("new")(new)
    for action in catalogue.after_intake():
        if action.path in ("new", "show", "timeline"):
            raise ValueError(f"catalogue action {action.name!r} collides with the command `case {action.path}`")
        case_app.command(action.path, help=action_help(action))(action_command(action))
    case_app.command("show")(show)
    case_app.command("timeline")(timeline)
    return case_app


# --- hand-written commands ------------------------------------------------------------------------


def new(
    title: str = typer.Option(..., help="Short title of the complaint"),
    description: str = typer.Option(..., help="What the resident reports"),
    category: str = typer.Option(..., help="Catalogue category code, e.g. noise, garbage, water"),
    grid: str | None = typer.Option(None, help="Grid id, if known"),
    lat: float | None = typer.Option(None),
    lon: float | None = typer.Option(None),
    address: str | None = typer.Option(None),
    channel: Channel = typer.Option(Channel.HOTLINE),
    urgency: Urgency | None = typer.Option(None, help="Default: the category's urgency rules applied to the text"),
    name: str | None = typer.Option(None, help="Resident's name (personal data)"),
    phone: str | None = typer.Option(None, help="Resident's phone (personal data)"),
    key: str | None = typer.Option(None, "--key", help="Idempotency key: a retried intake opens no second case"),
    self_handle: bool = typer.Option(False, help="Grid patrol: handled on the spot by the grid"),
    actor: str = typer.Option(
        "dispatcher",
        "--as",
        metavar="ROLE[:UNIT][/PERSON]",
        help="Who takes the complaint, e.g. dispatcher or grid_worker:G-01010101",
    ),
) -> None:
    """受理: open a case from a complaint."""
    from workers.composition import build_registry

    city = build_registry(get_settings())
    try:
        location = city.locate(grid_id=grid, lat=lat, lon=lon, address=address)
        cat = city.category(category)
    except RegistryError as err:
        fail(f"invalid input: {err}")
        return
    urgency = urgency or city.urgency_for(cat.code, f"{title} {description}")
    case_id = case_id_for_key(key) if key else new_case_id()
    command = _build(
        c.OpenCase,
        actor=parse_actor(actor),
        case_id=case_id,
        channel=channel,
        category=cat.code,
        urgency=urgency,
        title=title,
        description=description,
        location=location,
        contact=ResidentContact(name=name, phone=phone),
        idempotency_key=key,
        self_handle=self_handle,
    )

    async def go(cc: CaseClient) -> None:
        from temporalio.exceptions import TemporalError
        from temporalio.service import RPCError

        try:
            result = await cc.open(command)
        except ActionRefused as err:
            fail(f"refused by rule {err.rule}: {_one_line(err.message)}")
            return
        except (RPCError, TemporalError) as err:
            _temporal_failure(case_id, err)
            return
        typer.echo(f"{result.case_id}: {result.status.value} (seq {result.seq}) events {', '.join(result.events)}")

    _run(go)


def _fmt(t: datetime | None, seconds: bool = False) -> str:
    if t is None:
        return "-"
    return city_time(t, "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def show(case_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The case's state and every SLA clock with its due time and state."""

    async def go(cc: CaseClient) -> None:
        try:
            s = await cc.state(case_id)
        except Exception as err:
            _temporal_failure(case_id, err)
            return
        if as_json:
            typer.echo(s.model_dump_json(indent=2, exclude={"sla"}))
            return
        loc = s.location
        names = UnitNames.load(get_settings())
        typer.echo(f"case {s.case_id}  status {s.status.value}  seq {s.seq}")
        typer.echo(f"  {s.title} [{s.category}/{s.urgency.value}] via {s.channel.value if s.channel else '-'}")
        if loc:
            typer.echo(
                f"  where: grid {named(loc.grid_id, names.grid(loc.grid_id))} / community "
                f"{named(loc.community_id, names.community(loc.community_id))} / street "
                f"{named(loc.street_id, names.street(loc.street_id))} / district "
                f"{named(loc.district_id, names.district(loc.district_id))}"
            )
        typer.echo(
            f"  unit: {names.unit_key(s.unit.key()) if s.unit else '-'}  accepted: {s.accepted}  "
            f"breached: {s.breached}  rework: {s.rework_count}  reopened: {s.reopen_count}"
        )
        if s.whistles:
            for w in s.whistles:
                for t in w.tasks.values():
                    who = (
                        names.unit_key(f"{t.unit_kind.value}:{t.department_id}")
                        if t.unit_kind != UnitKind.DEPARTMENT
                        else named(t.department_id, names.department(t.department_id))
                    )
                    typer.echo(
                        f"  whistle {w.round}: {who} reported {_fmt(t.reported_in_at)} done {_fmt(t.completed_at)}"
                    )
        scale = s.sla.time_scale if s.sla else None
        if scale is not None:
            typer.echo(f"  {describe_scale(scale, s.sla.policy.working_day if s.sla else timedelta(hours=7))}")
            typer.echo("  clocks (wall-clock times, Asia/Shanghai; budget in policy hours):")
            typer.echo(f"    {'clock':<16}{'unit':<30}{'started':<21}{'due':<21}{'budget':<24}{'state':<10}")
            for clock in s.clocks.values():
                typer.echo(
                    f"    {clock.clock_id:<16}{clock.unit_key:<30}{_fmt(clock.started_at, True):<21}"
                    f"{_fmt(clock.due_at, True):<21}{format_policy_duration(clock.budget, scale):<24}"
                    f"{clock.status.value:<10}"
                )
            return
        typer.echo("  clocks (times Asia/Shanghai):")
        typer.echo(f"    {'clock':<16}{'unit':<30}{'started':<18}{'due':<18}{'state':<10}")
        for clock in s.clocks.values():
            typer.echo(
                f"    {clock.clock_id:<16}{clock.unit_key:<30}{_fmt(clock.started_at):<18}"
                f"{_fmt(clock.due_at):<18}{clock.status.value:<10}"
            )

    _run(go)


def timeline(
    case_id: str,
    source: str = typer.Option(
        "auto",
        help="temporal (the workflow's own history), readmodel (the SQL read model), or auto: "
        "temporal, else the read model",
    ),
    raw: bool = typer.Option(False, "--raw", help="One line per event: do not fold clock events into actions."),
) -> None:
    """The audit trail of one case: who did what, when, against which clock."""
    from rich.console import Console

    from events.schemas import parse_event
    from readmodel.projection import timeline_row
    from readmodel.timeline import audit_trail, render_audit
    from workers.cli_errors import refuse_unavailable, service_failure

    if source not in ("auto", "temporal", "readmodel"):
        fail(f"--source: must be auto, temporal or readmodel, got {source!r}")
    settings = get_settings()
    rows: list[dict[str, Any]] | None = None
    used = source
    temporal_problem: str | None = None
    if source in ("auto", "temporal"):

        async def from_temporal() -> list[Any] | Exception:
            from workers.composition import connect_temporal

            try:
                client = await connect_temporal(settings)
                return list(await CaseClient(client, settings.task_queue).timeline(case_id))
            except Exception as err:
                return err

        got = asyncio.run(from_temporal())
        if isinstance(got, Exception):
            failure = service_failure(got, settings)
            if source == "temporal":
                if failure is not None:
                    refuse_unavailable(failure)
                _temporal_failure(case_id, got)
            temporal_problem = (
                f"Temporal at {settings.temporal_address} is not reachable"
                if failure is not None
                else f"Temporal: {_one_line(f'{type(got).__name__}: {got}')[:120]}"
            )
        else:
            rows = [timeline_row(parse_event(e) if isinstance(e, dict) else e) for e in got]
            used = "temporal"
    if rows is None:
        from readmodel.queries import get_timeline
        from workers.composition import build_readmodel_engine

        also = f" ({temporal_problem} either)" if temporal_problem else ""
        engine = build_readmodel_engine(settings)
        try:
            rows = [r.model_dump() for r in get_timeline(engine, case_id)]
        except Exception as err:
            failure = service_failure(err, settings)
            if failure is not None:
                fail(failure.line + also, 1)
            fail(
                f"case {case_id}: read model unavailable: {_one_line(str(getattr(err, 'orig', None) or err))[:200]} "
                f"(run `gridcase readmodel migrate`){also}",
                1,
            )
        finally:
            engine.dispose()
        used = "read model"
        if not rows:
            fail(f"case {case_id}: not in the read model (is `gridcase projector` running?){also}", 1)
        if temporal_problem:
            typer.secho(f"({temporal_problem}; reading the read model)", err=True, fg=typer.colors.YELLOW)
    assert rows is not None
    Console().print(render_audit(case_id, audit_trail(rows, fold=not raw), source=used))
    scales = {m.group(1) for r in rows if (m := re.search(r"time_scale=([0-9.e+-]+)", str(r.get("detail") or "")))}
    for scale in sorted(scales):  # the case ran on compressed time: its due times and budgets are compressed
        typer.echo(describe_scale(float(scale)))


app = build_case_app()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
