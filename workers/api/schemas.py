"""Request and response bodies of the API.

An action's request body is derived from its command (:func:`body_model`): the command's fields
without ``actor`` (the caller) and ``type`` (the path), extra fields refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, create_model

from events.base import Duty, Role
from events.schemas import Channel, Urgency
from readmodel.queries import CaseRow
from workflows.domain import commands as c
from workflows.domain.state import CaseStatus

# --- responses -----------------------------------------------------------------------------------


class ActionResponse(BaseModel):
    case_id: str
    status: CaseStatus
    seq: int
    events: list[str] = Field(description="Ids of the events the action emitted (empty for a replayed retry)")


class IntakeResponse(ActionResponse):
    idempotency_key: str


class Me(BaseModel):
    person_id: str
    role: Role
    unit_id: str | None
    name: str | None
    via: str
    sees_personal_data: bool
    duties: list[Duty] | None = Field(
        default=None,
        description="The duties it holds in its unit (coordinator 分派, reviewer 审核签发); null for roles without",
    )


class CaseList(BaseModel):
    items: list[CaseRow]
    limit: int
    offset: int


class AvailableAction(BaseModel):
    """An action the caller may take on the case now, with the form that fills its body."""

    name: str = Field(description="The action's canonical name, e.g. review_return")
    path: str = Field(description="How URLs spell it: POST /cases/{case_id}/<path>, e.g. review-return")
    summary_zh: str
    summary_en: str
    roles: list[Role] = Field(description="The roles that may attempt it")
    form: dict[str, Any] = Field(
        description="JSON schema of the request body, each property with its title (Chinese), x-label-en and x-widget"
    )


class CaseActions(BaseModel):
    case_id: str
    status: CaseStatus
    actions: list[AvailableAction] = Field(description="Empty for a finished case")


class Check(BaseModel):
    ok: bool
    reason: str | None = Field(default=None, description="Why not (or why it was not checked)")


class Health(BaseModel):
    ok: bool = Field(description="The process is up")
    live_feed: bool = Field(description="The live feed reads Kafka now (it noticed no broker outage)")


class Readiness(BaseModel):
    ok: bool = Field(description="Every dependency is reachable")
    checks: dict[str, Check] = Field(description="temporal, kafka and readmodel")


# --- metrics -------------------------------------------------------------------------------------

Metrics = dict[str, float | int | None]


class MetricSummary(BaseModel):
    scope: str = Field(description="The cases counted: city, or district:<id> for a district supervisor")
    period: str | None = Field(description="Month the cases were opened (YYYY-MM, local time), or every month")
    as_of: datetime
    metrics: Metrics


class MetricSlices(BaseModel):
    scope: str
    period: str | None
    by: str
    as_of: datetime
    slices: dict[str, Metrics]


class RankEntry(BaseModel):
    rank: int
    key: str
    metrics: Metrics


class MetricRanking(BaseModel):
    scope: str
    period: str
    by: str
    as_of: datetime
    rows: list[RankEntry]


# --- request bodies ------------------------------------------------------------------------------


class LocationInput(BaseModel):
    """Where the matter is: a grid id, coordinates, or an address matched to a grid."""

    model_config = ConfigDict(extra="forbid")

    grid_id: str | None = Field(default=None, min_length=1, max_length=128)
    lat: StrictFloat | None = Field(default=None, ge=-90, le=90)
    lon: StrictFloat | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, min_length=1, max_length=500)


class ContactInput(BaseModel):
    """The resident's contact details (personal data: only the hotline sees them afterwards).

    The phone number is checked by the domain's intake rule (``OpenCase``); a number it refuses
    gets a 422 on ``body.contact.phone`` naming that rule.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    phone: str | None = Field(default=None, min_length=1, max_length=32)


class IntakeBody(BaseModel):
    """A complaint to open as a case."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel | None = Field(
        default=None,
        description="Default by role: dispatcher hotline, resident web, grid worker grid_patrol, "
        "community and street proactive",
    )
    category: str = Field(min_length=1, max_length=64, description="Catalogue category code, e.g. noise")
    urgency: Urgency | None = Field(default=None, description="Default: the category's")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    location: LocationInput
    contact: ContactInput | None = None
    attachments: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(default=[], max_length=50)
    self_handle: StrictBool = Field(default=False, description="Grid patrol handled on the spot by the grid")


def _strict(annotation: Any) -> Any:
    return StrictBool if annotation is bool else annotation


def _forbid_extra(annotation: Any) -> Any:
    """``annotation`` with every nested model refusing unknown fields (e.g. a whistle's tasks)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation if annotation.model_config.get("extra") == "forbid" else _strict_model(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is None or not args:
        return annotation
    if origin is Annotated:
        return Annotated[(_forbid_extra(args[0]), *args[1:])]
    new = tuple(_forbid_extra(a) for a in args)
    if new == args:
        return annotation
    import types

    if origin is types.UnionType or origin is typing.Union:
        out = new[0]
        for a in new[1:]:
            out = out | a
        return out
    return origin[new]


_STRICT_MODELS: dict[type[BaseModel], type[BaseModel]] = {}


def _strict_model(cls: type[BaseModel]) -> type[BaseModel]:
    """A subclass of ``cls`` (same name and schema) that refuses unknown fields."""
    if cls not in _STRICT_MODELS:
        model = type(
            cls.__name__,
            (cls,),
            {
                "__module__": cls.__module__,
                "__doc__": cls.__doc__,
                "model_config": ConfigDict(**{**cls.model_config, "extra": "forbid"}),
            },
        )
        _STRICT_MODELS[cls] = cast(type[BaseModel], model)
    return _STRICT_MODELS[cls]


def body_model(cls: type[c.Command], strict_items: frozenset[str] = frozenset()) -> type[BaseModel]:
    """The request body of an action: the command's fields without the actor (taken from the caller).

    The models inside the fields named in ``strict_items`` (a whistle's tasks) refuse unknown fields
    too, whether or not the command's own model does.
    """
    fields: dict[str, Any] = {}
    for name, f in cls.model_fields.items():
        if name in ("actor", "type"):
            continue
        annotation = _strict(f.annotation)
        if name in strict_items:
            annotation = _forbid_extra(annotation)
        if annotation is not f.annotation:
            f = type(f).merge_field_infos(f, annotation=annotation)
        fields[name] = (annotation, f)
    model = create_model(f"{cls.__name__}Body", __config__=ConfigDict(extra="forbid"), __doc__=cls.__doc__, **fields)
    return cast(type[BaseModel], model)
