"""``POST /cases`` (intake), ``GET /cases/{case_id}`` (the case from its workflow) and ``GET /cases``
(lists from the read model)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError

from events.base import Role
from events.schemas import Channel
from readmodel.projection import TERMINAL_STATUSES
from readmodel.queries import CaseRow
from readmodel.queries import get_case as rm_get_case
from readmodel.queries import list_cases as rm_list_cases
from workers.api.auth import AuthError, Principal, list_scope, require_intake_role, require_read
from workers.api.deps import KEY, Caller, CaseIdParam, Services, load_case, services
from workers.api.errors import ApiError, invalid, registry_error, responses, validation_error
from workers.api.schemas import CaseList, ContactInput, IntakeBody, IntakeResponse
from workers.api.views import CaseView, case_names, case_view, name_keys
from workers.case_client import ActionRefused, case_id_for_key
from workflows.domain import commands as c
from workflows.domain.access import may_read as domain_may_read
from workflows.domain.registry import RegistryError
from workflows.domain.state import CaseStatus

router = APIRouter()

_DEFAULT_CHANNEL = {
    Role.DISPATCHER: Channel.HOTLINE,
    Role.RESIDENT: Channel.WEB,
    Role.GRID_WORKER: Channel.GRID_PATROL,
    Role.COMMUNITY: Channel.PROACTIVE,
    Role.STREET: Channel.PROACTIVE,
}

KEY_REUSED = "idempotency.key_reused"


def fingerprint(body: IntakeBody) -> str:
    """The intake's payload fingerprint: SHA-256 of the body's canonical JSON (defaults filled in,
    keys sorted), so the same complaint sent again matches and any other complaint does not."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@router.post("/cases", status_code=201, tags=["cases"], responses=responses(401, 403, 409, 422, 503))
async def open_case(
    request: Request,
    body: IntakeBody,
    p: Caller,
    idempotency_key: Annotated[
        str,
        Header(
            pattern=KEY,
            min_length=1,
            max_length=128,
            description="Your id for this submission: a retry with the same key returns the same case",
        ),
    ],
) -> IntakeResponse:
    """受理: open a case. A retried submission (same Idempotency-Key, same body) never opens a second
    case; the same key with a different body is refused (422 ``idempotency.key_reused``)."""
    svc = services(request)
    require_intake_role(p)
    try:
        category = svc.registry.category(body.category)
    except RegistryError as err:
        raise registry_error(err) from None
    loc_in = body.location
    if (loc_in.lat is None) != (loc_in.lon is None):
        raise invalid("body.location", "location.coordinates", "give both lat and lon, or neither")
    try:
        location = svc.registry.locate(grid_id=loc_in.grid_id, lat=loc_in.lat, lon=loc_in.lon, address=loc_in.address)
    except RegistryError as err:
        raise registry_error(err) from None
    scoped_key = f"{p.person_id}:{idempotency_key}"
    case_id = case_id_for_key(scoped_key)
    contact = body.contact or ContactInput()
    try:
        command = c.OpenCase.model_validate(
            {
                "actor": p.actor(),
                "case_id": case_id,
                "channel": body.channel or _DEFAULT_CHANNEL[p.role],
                "category": category.code,
                "urgency": body.urgency or category.default_urgency,
                "title": body.title,
                "description": body.description,
                "location": location,
                "contact": {
                    "name": contact.name,
                    "phone": contact.phone,
                    "resident_id": p.person_id if p.role == Role.RESIDENT else None,
                },
                "attachments": list(body.attachments),
                "idempotency_key": scoped_key,
                "self_handle": body.self_handle,
            }
        )
    except ValidationError as err:
        raise validation_error(err) from None
    # the key is bound to this payload first: the same key with another complaint is refused
    sent = fingerprint(body)
    stored = await asyncio.to_thread(svc.store.bind_intake_key, scoped_key, case_id, sent)
    if stored != sent:
        raise invalid(
            "header.idempotency-key",
            KEY_REUSED,
            f"the key {idempotency_key!r} was used for another request body (case {case_id}); "
            "use a new key for a new complaint",
        )
    # who opened it is recorded next, so a resident never loses sight of an accepted case
    await asyncio.to_thread(svc.store.record_intake, case_id, p.person_id, p.role, idempotency_key)
    result = await svc.cases.open(command)
    return IntakeResponse(
        case_id=result.case_id,
        status=result.status,
        seq=result.seq,
        events=result.events,
        idempotency_key=idempotency_key,
    )


@router.get("/cases/{case_id}", tags=["cases"], responses=responses(401, 403, 404, 422, 503))
async def get_case(request: Request, case_id: CaseIdParam, p: Caller) -> CaseView:
    """The case as its workflow knows it now: state, clocks (with SLA state) and timeline."""
    svc = services(request)
    state = await load_case(svc, case_id)
    opened_by = await asyncio.to_thread(svc.store.opened_by, case_id) if p.role == Role.RESIDENT else None
    require_read(p, state, opened_by)
    actor = p.actor()
    if p.role == Role.DISPATCHER or not domain_may_read(state, actor):
        # the hotline reads every case; a resident let in only by the API's intake record
        timeline = await svc.cases.timeline(case_id)
    else:  # the workflow checks the read jurisdiction again
        try:
            state = await svc.cases.view(case_id, actor)
            timeline = await svc.cases.view_timeline(case_id, actor)
        except ActionRefused as err:
            raise AuthError(403, err.rule, err.message) from None
    names = case_names(svc.registry, name_keys(state, timeline))
    return case_view(
        state,
        timeline,
        p,
        ui_port=svc.settings.temporal_ui_port,
        namespace=svc.settings.temporal_namespace,
        names=names,
    )


_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(?P<zone>[Zz]|[+-]\d{2}(:?\d{2})?)?$"
)


def _iso_datetime_with_zone(value: Any) -> Any:
    """Only an ISO 8601 date-time with a zone (``2026-11-26T10:00:00+08:00``): no Unix times."""
    if isinstance(value, datetime):
        return value
    match = _ISO_DATETIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError("datetime_iso8601", "give an ISO 8601 date-time, e.g. 2026-11-26T10:00:00+08:00")
    if match["zone"] is None:
        raise PydanticCustomError("timezone_required", "give a timezone, e.g. 2026-11-26T10:00:00+08:00")
    return value


DueBefore = Annotated[datetime, BeforeValidator(_iso_datetime_with_zone)]


@router.get("/cases", tags=["cases"], responses=responses(401, 403, 422, 503))
def list_cases(
    request: Request,
    p: Caller,
    state: Annotated[CaseStatus | None, Query(description="Case status")] = None,
    street: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    department: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    breached: Annotated[Literal["true", "false"] | None, Query(description="true or false")] = None,
    due_before: Annotated[DueBefore | None, Query(description="Next deadline before this time (ISO 8601)")] = None,
    open_only: Annotated[Literal["true", "false"], Query(description="Only cases not closed")] = "false",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CaseList:
    """Cases from the read model, within the caller's jurisdiction (no personal data)."""
    svc = services(request)
    if due_before is not None and due_before.tzinfo is None:
        raise invalid("query.due_before", "timezone_required", "give a timezone, e.g. 2026-11-26T10:00:00+08:00")
    filters: dict[str, Any] = {
        "status": state.value if state else None,
        "street": street,
        "department": department,
        "category": category,
        "breached": None if breached is None else breached == "true",
        "due_before": due_before,
        "open_only": open_only == "true",
    }
    rows = query_read_model(svc, p, filters, limit, offset)
    return CaseList(items=rows, limit=limit, offset=offset)


# --- the read model ------------------------------------------------------------------------------

_PAGE = 500

#: Units whose jurisdiction is the cases they were involved in (delegated, summoned, called).
_INVOLVED_SCOPES = ("property", "volunteer_team")
_KNOWN_SCOPES = frozenset(
    {"street", "department", "grid", "district", "community", "resident", "city", *_INVOLVED_SCOPES}
)


def query_read_model(svc: Services, p: Principal, filters: dict[str, Any], limit: int, offset: int) -> list[CaseRow]:
    """Rows of the read model for ``p``: its jurisdiction applied on top of the filters.

    Filters the read model's query takes (status, street, department, category, grid, breached, due
    before) go to :func:`readmodel.queries.list_cases`; the rest of a jurisdiction (district,
    community, a resident's own cases) and ``open_only`` are applied to its pages here.
    """
    from sqlalchemy.exc import OperationalError, ProgrammingError

    scope = list_scope(p)
    kwargs: dict[str, Any] = {
        "status": filters["status"],
        "street_id": filters["street"],
        "department_id": filters["department"],
        "category": filters["category"],
        "breached": filters["breached"],
        "due_before": filters["due_before"],
    }
    for key, column in (("street", "street_id"), ("department", "department_id"), ("grid", "grid_id")):
        if key in scope:
            if kwargs.get(column) not in (None, scope[key]):
                return []  # a filter outside the caller's jurisdiction matches nothing it may see
            kwargs[column] = scope[key]
    for kind in _INVOLVED_SCOPES:
        if kind in scope:
            kwargs["involved_unit"] = (kind, scope[kind])
    unknown = set(scope) - _KNOWN_SCOPES
    if unknown:  # fail closed: a jurisdiction this function cannot apply sees nothing
        raise RuntimeError(f"list scope {sorted(unknown)} has no filter")
    post: list[Callable[[Any], bool]] = []
    if "district" in scope:
        post.append(lambda r: r.district_id == scope["district"])
    if "community" in scope:
        post.append(lambda r: r.community_id == scope["community"])
    if filters.get("open_only"):
        post.append(lambda r: r.status not in TERMINAL_STATUSES)
    try:
        if "resident" in scope:
            rows = [
                r
                for cid in svc.store.cases_opened_by(scope["resident"])
                if (r := rm_get_case(svc.engine, cid)) is not None and _matches(r, kwargs)
            ]
            rows = [r for r in rows if all(f(r) for f in post)]
            return rows[offset : offset + limit]
        if not post:
            return rm_list_cases(svc.engine, limit=limit, offset=offset, **kwargs)
        out: list[CaseRow] = []
        skipped = 0
        page_offset = 0
        while len(out) < limit:
            page = rm_list_cases(svc.engine, limit=_PAGE, offset=page_offset, **kwargs)
            for r in page:
                if all(f(r) for f in post):
                    if skipped < offset:
                        skipped += 1
                    elif len(out) < limit:
                        out.append(r)
            if len(page) < _PAGE:
                break
            page_offset += _PAGE
        return out
    except (OperationalError, ProgrammingError) as err:
        raise ApiError(
            503,
            "unavailable",
            "readmodel.unavailable",
            f"the read model cannot be read (run `gridcase readmodel migrate` and the projector): {type(err).__name__}",
        ) from None


def _matches(row: Any, kwargs: dict[str, Any]) -> bool:
    """The list filters applied to one row (for a resident's own cases, fetched one by one)."""
    checks = [
        kwargs["status"] is None or row.status == kwargs["status"],
        kwargs["street_id"] is None or row.street_id == kwargs["street_id"],
        kwargs["category"] is None or row.category == kwargs["category"],
        kwargs["breached"] is None or row.breached == kwargs["breached"],
        kwargs["due_before"] is None or (row.next_due_at is not None and row.next_due_at < kwargs["due_before"]),
        kwargs["department_id"] is None,  # residents do not filter by department
    ]
    return all(checks)
