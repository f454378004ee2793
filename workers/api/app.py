"""The gridcase HTTP API and the dispatcher console (FastAPI).

* ``POST /cases`` — intake, idempotent on the ``Idempotency-Key`` header: the key (scoped to the
  caller) gives a stable case id, and a retry returns the same case, never a second one.
* ``POST /cases/{case_id}/{action}`` — one endpoint per actor action (``dispatch``, ``accept``,
  ``whistle``, ``report-in``...), each the workflow's ``act`` update. The actor is the caller;
  an optional ``Request-Id`` header makes a retried call apply once.
* ``GET /cases/{case_id}`` — the case with its clocks and timeline, from the workflow's queries.
* ``GET /cases`` — lists with filters, from the read model.
* ``GET /events`` — live notices (server-sent events) fed from Kafka.
* ``GET /console/`` — the dispatcher console (static HTML, JavaScript and CSS).

Errors: a bad request gets 422 with ``{"error": "invalid_input", "errors": [{"field", "rule",
"message"}]}``; a refused transition gets 409 with the domain rule; 401 / 403 name the rule too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, cast, get_args

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, ValidationError, create_model
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.base import Role
from events.schemas import Channel, ResidentContact, Urgency
from readmodel.metrics import compute, ranking, slice_metrics
from readmodel.queries import CaseRow
from readmodel.queries import get_case as rm_get_case
from readmodel.queries import list_cases as rm_list_cases
from workers.api.auth import (
    ACTION_ROLES,
    AuthError,
    Principal,
    decode_jwt,
    list_scope,
    require_action_role,
    require_intake_role,
    require_read,
)
from workers.api.live import LiveFeed
from workers.api.users import UserStore
from workers.api.views import CaseView, case_view
from workers.case_client import ActionRefused, CaseClient, case_id_for_key
from workers.settings import Settings
from workflows.domain import commands as c
from workflows.domain.access import may_read as domain_may_read
from workflows.domain.registry import CityRegistry, RegistryError
from workflows.domain.state import CaseState, CaseStatus

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).parent / "console"
CASE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


# --- response and error bodies -----------------------------------------------------------------


class ErrorBody(BaseModel):
    error: str = Field(description="unauthenticated | forbidden | not_found | refused | unavailable")
    rule: str = Field(description="The rule that refused the request, e.g. jurisdiction.not_assigned")
    message: str


class FieldError(BaseModel):
    field: str = Field(description="Where the bad value is, e.g. body.location.grid_id or header.idempotency-key")
    rule: str = Field(description="The rule it breaks, e.g. string_too_short, missing, registry.unknown_category")
    message: str


class InvalidInput(BaseModel):
    error: Literal["invalid_input"] = "invalid_input"
    errors: list[FieldError]


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


class CaseList(BaseModel):
    items: list[CaseRow]
    limit: int
    offset: int


def _errors(status: int, *codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody, "description": "No or bad credentials"}}
    for code in codes:
        out[code] = {
            403: {"model": ErrorBody, "description": "Outside the caller's role or jurisdiction"},
            404: {"model": ErrorBody, "description": "No such case"},
            409: {"model": ErrorBody, "description": "Refused by a rule of the case lifecycle"},
            422: {"model": InvalidInput, "description": "Invalid input: the field and the rule"},
            503: {"model": ErrorBody, "description": "A backing service is unavailable"},
        }[code]
    return out


class ApiError(Exception):
    def __init__(self, status: int, error: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.rule, self.message = status, error, rule, message


def invalid(field: str, rule: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": tuple(field.split(".")), "type": rule, "msg": message}])


# --- request bodies ------------------------------------------------------------------------------


class LocationInput(BaseModel):
    """Where the matter is: a grid id, coordinates, or an address matched to a grid."""

    model_config = ConfigDict(extra="forbid")

    grid_id: str | None = Field(default=None, min_length=1, max_length=128)
    lat: StrictFloat | None = Field(default=None, ge=-90, le=90)
    lon: StrictFloat | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, min_length=1, max_length=500)


class ContactInput(BaseModel):
    """The resident's contact details (personal data: only the hotline sees them afterwards)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{2,30}$")


class IntakeBody(BaseModel):
    """A complaint to open as a case."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel | None = Field(
        default=None, description="Default by role: dispatcher hotline, resident web, grid worker grid_patrol, "
        "community and street proactive")
    category: str = Field(min_length=1, max_length=64, description="Catalogue category code, e.g. noise")
    urgency: Urgency | None = Field(default=None, description="Default: the category's")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    location: LocationInput
    contact: ContactInput | None = None
    attachments: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(default=[], max_length=50)
    self_handle: StrictBool = Field(default=False, description="Grid patrol handled on the spot by the grid")


_DEFAULT_CHANNEL = {
    Role.DISPATCHER: Channel.HOTLINE,
    Role.RESIDENT: Channel.WEB,
    Role.GRID_WORKER: Channel.GRID_PATROL,
    Role.COMMUNITY: Channel.PROACTIVE,
    Role.STREET: Channel.PROACTIVE,
}

_COMMANDS: dict[str, type[c.Command]] = {}
for _cls in get_args(get_args(c.CaseCommand)[0]):
    _name = str(_cls.model_fields["type"].default)
    if _name in ACTION_ROLES:
        _COMMANDS[_name] = _cls


def _strict(annotation: Any) -> Any:
    return StrictBool if annotation is bool else annotation


def body_model(cls: type[c.Command]) -> type[BaseModel]:
    """The request body of an action: the command's fields without the actor (taken from the caller)."""
    fields: dict[str, Any] = {
        name: (_strict(f.annotation), f)
        for name, f in cls.model_fields.items()
        if name not in ("actor", "type")
    }
    model = create_model(
        f"{cls.__name__}Body", __config__=ConfigDict(extra="forbid"), __doc__=cls.__doc__, **fields
    )
    return cast(type[BaseModel], model)


ACTION_BODIES: dict[str, type[BaseModel]] = {name: body_model(cls) for name, cls in _COMMANDS.items()}


ACTION_SUMMARIES: dict[str, str] = {
    "reject": "不予受理: reject an invalid complaint",
    "register": "立案: register a received case",
    "dispatch": "派单: send the case to a street, a grid or a department",
    "accept": "签收: the assigned unit accepts the case",
    "return": "退单: the assigned unit returns a wrongly dispatched case",
    "review_return": "退单审核: re-dispatch a returned case elsewhere, or insist (final ruling)",
    "contact": "响应: first contact with the resident",
    "whistle": "吹哨: the street (or the hotline on its behalf) summons departments, each with a task",
    "report_in": "报到: a summoned department reports in",
    "complete_task": "A summoned department finishes its task",
    "resolve": "办结: the handler declares the matter resolved",
    "verify": "核查: the grid worker checks the fix (failed: rework)",
    "callback": "回访: record the resident's rating (unsatisfied: reopen)",
    "close": "结案: close the case",
    "request_extension": "延期: the handler asks for more time",
    "decide_extension": "Approve or refuse an extension request",
    "pause": "Waiting for the resident: pause the handling clocks",
    "resume": "The resident answered: resume the handling clocks",
    "shelve": "挂账: keep the case in the register as not resolvable now",
    "unshelve": "Take a shelved case up again",
    "terminate": "终止: stop handling after review (closes the case as special)",
    "appeal": "申诉: the handling unit asks to exclude the case from its evaluation",
    "decide_appeal": "A supervisor decides an appeal",
    "merge": "Merge a duplicate report into an existing case",
    "attach_duplicate": "Attach a duplicate report to this case",
    "supervise": "催办 / 督办 / 通报 by hand",
}


def _summary(name: str) -> str:
    head, sep, _ = ACTION_SUMMARIES[name].partition(": ")
    return f"{action_path(name)} ({head})" if sep else action_path(name)


def action_path(name: str) -> str:
    return name.replace("_", "-")


# --- the application -----------------------------------------------------------------------------


@dataclass
class Services:
    settings: Settings
    cases: CaseClient
    store: UserStore
    engine: Engine
    registry: CityRegistry
    live: LiveFeed | None


def create_engine_for(settings: Settings) -> Engine:
    """The engine of the SQL database (the read model's tables and the API's own), from the composition root."""
    from workers.composition import build_readmodel_engine

    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return build_readmodel_engine(settings)


def create_app(
    settings: Settings,
    *,
    cases: CaseClient | None = None,
    engine: Engine | None = None,
    registry: CityRegistry | None = None,
    live: bool = True,
) -> FastAPI:
    """The API app. Its lifespan migrates the read model and creates the API's tables when missing
    (unless ``engine`` is given), connects to Temporal (unless ``cases`` is given), and starts the live
    feed from Kafka (unless ``live`` is false).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from workers.composition import build_registry, connect_temporal

        if engine is None:
            from readmodel.db import migrate

            # The lists and metrics read the read model: bring its schema to head (serialised
            # across processes), so a newer API never queries an older schema.
            await asyncio.to_thread(migrate, settings.resolved_database_url)
        eng = engine or create_engine_for(settings)
        store = UserStore(eng)
        await asyncio.to_thread(store.create_tables)
        city: CityRegistry = registry if registry is not None else await asyncio.to_thread(build_registry, settings)
        cc = cases or CaseClient(await connect_temporal(settings), settings.task_queue)
        feed = LiveFeed(settings) if live else None
        if feed is not None:
            feed.start()
        app.state.services = Services(settings, cc, store, eng, city, feed)
        try:
            yield
        finally:
            if feed is not None:
                await asyncio.to_thread(feed.stop)
            if engine is None:
                eng.dispose()

    app = FastAPI(
        dependencies=[Depends(no_unknown_query)],
        title="gridcase API",
        version="1",
        description="Cases of city grid governance: intake, actions by role and jurisdiction, clocks, "
        "timelines, lists and live events.",
        lifespan=lifespan,
    )
    app.state.stopping = threading.Event()  # set by `gridcase api` on SIGINT/SIGTERM: live streams end
    _install_error_handlers(app)
    _install_routes(app)
    if CONSOLE_DIR.is_dir():
        app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    return app


def no_unknown_query(request: Request) -> None:
    """Refuse query parameters the operation does not declare (a misspelt filter must not widen a list)."""
    from fastapi.routing import APIRoute

    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = {f.alias for f in route.dependant.query_params}
    unknown = sorted(k for k in request.query_params if k not in known)
    if unknown:
        raise RequestValidationError([
            {"loc": ("query", k), "type": "extra_forbidden",
             "msg": f"unknown query parameter (known: {', '.join(sorted(known)) or 'none'})"}
            for k in unknown
        ])


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


bearer = HTTPBearer(auto_error=False, description="An API token (gridcase users token) or an HS256 JWT")


def authenticate(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer ...`` (runs in the thread pool: it reads the database)."""
    if creds is None or not creds.credentials:
        raise AuthError(401, "auth.missing", "send Authorization: Bearer <token>")
    svc = services(request)
    token = creds.credentials
    if token.startswith("gct_"):
        user = svc.store.authenticate(token)
        if user is None:
            raise AuthError(401, "auth.invalid_token", "the token is unknown, revoked, or its user is disabled")
        return Principal(person_id=user.user_id, role=user.role, unit_id=user.unit_id, name=user.name)
    if token.count(".") == 2 and svc.settings.api_jwt_secret:
        return decode_jwt(token, svc.settings.api_jwt_secret)
    raise AuthError(401, "auth.invalid_token", "not a gridcase API token" + (
        " or a valid JWT" if svc.settings.api_jwt_secret else " (JWTs are not enabled)"))


Caller = Annotated[Principal, Depends(authenticate)]
CaseIdParam = Annotated[str, PathParam(pattern=CASE_ID, max_length=64, description="Case id, e.g. C1A2B3C4D5E6")]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(
                field=".".join(str(p) for p in e.get("loc", ())) or "request",
                rule=str(e.get("type", "invalid")),
                message=str(e.get("msg", "invalid value")),
            )
            for e in exc.errors()
        ]
        return JSONResponse(InvalidInput(errors=errors).model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # the body is not JSON at all
            invalid = InvalidInput(errors=[FieldError(field="body", rule="json_invalid", message=str(exc.detail))])
            return JSONResponse(invalid.model_dump(), status_code=422)
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = ErrorBody(error=error, rule=f"http.{exc.status_code}", message=str(exc.detail))
        return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        error = "unauthenticated" if exc.status == 401 else "forbidden"
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(ErrorBody(error=error, rule=exc.rule, message=exc.message).model_dump(),
                            status_code=exc.status, headers=headers)

    @app.exception_handler(ActionRefused)
    async def _refused(request: Request, exc: ActionRefused) -> JSONResponse:
        return JSONResponse(ErrorBody(error="refused", rule=exc.rule, message=exc.message).model_dump(),
                            status_code=409)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(ErrorBody(error=exc.error, rule=exc.rule, message=exc.message).model_dump(),
                            status_code=exc.status)


def _validation_error(err: ValidationError, prefix: str = "body") -> RequestValidationError:
    return RequestValidationError(
        [{"loc": (prefix, *e["loc"]), "type": e["type"], "msg": e["msg"]} for e in err.errors()]
    )


async def load_case(svc: Services, case_id: str) -> CaseState:
    """The case's state from its workflow; 404 when there is no such case."""
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError, RPCStatusCode

    try:
        state = await svc.cases.state(case_id)
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise ApiError(404, "not_found", "case.not_found", f"no case {case_id}") from None
        raise ApiError(503, "unavailable", "temporal.unavailable", f"Temporal: {err.message}") from None
    except WorkflowQueryFailedError as err:
        raise ApiError(503, "unavailable", "temporal.query_failed", str(err)) from None
    if state.status == CaseStatus.NEW:
        raise ApiError(404, "not_found", "case.not_found", f"no case {case_id}")
    return state


def _registry_error(err: RegistryError) -> RequestValidationError:
    text = str(err)
    head, sep, rest = text.partition(": ")
    field = head if sep and re.fullmatch(r"[a-z_.]+", head) else "location"
    rule = "registry.unknown_category" if field == "category" else "registry.unknown_location"
    return invalid(f"body.{field}", rule, rest if sep else text)


def _install_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get("/healthz", tags=["meta"])
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness, and whether the live feed is reading Kafka."""
        svc = services(request)
        return {"ok": True, "live_feed": bool(svc.live and svc.live.ready.is_set())}

    @app.get("/me", tags=["meta"], responses=_errors(401))
    def me(p: Caller) -> Me:
        """Who the token belongs to."""
        return Me(person_id=p.person_id, role=p.role, unit_id=p.unit_id, name=p.name, via=p.via,
                  sees_personal_data=p.sees_personal_data)

    @app.post("/cases", status_code=201, tags=["cases"], responses=_errors(401, 403, 409, 422, 503))
    async def open_case(
        request: Request,
        body: IntakeBody,
        p: Caller,
        idempotency_key: Annotated[str, Header(
            pattern=KEY, min_length=1, max_length=128,
            description="Your id for this submission: a retry with the same key returns the same case")],
    ) -> IntakeResponse:
        """受理: open a case. A retried submission (same Idempotency-Key) never opens a second case."""
        svc = services(request)
        require_intake_role(p)
        try:
            category = svc.registry.category(body.category)
        except RegistryError as err:
            raise _registry_error(err) from None
        loc_in = body.location
        if (loc_in.lat is None) != (loc_in.lon is None):
            raise invalid("body.location", "location.coordinates", "give both lat and lon, or neither")
        try:
            location = svc.registry.locate(grid_id=loc_in.grid_id, lat=loc_in.lat, lon=loc_in.lon,
                                           address=loc_in.address)
        except RegistryError as err:
            raise _registry_error(err) from None
        scoped_key = f"{p.person_id}:{idempotency_key}"
        case_id = case_id_for_key(scoped_key)
        contact = body.contact or ContactInput()
        try:
            command = c.OpenCase(
                actor=p.actor(), case_id=case_id, channel=body.channel or _DEFAULT_CHANNEL[p.role],
                category=category.code, urgency=body.urgency or category.default_urgency, title=body.title,
                description=body.description, location=location,
                contact=ResidentContact(name=contact.name, phone=contact.phone,
                                        resident_id=p.person_id if p.role == Role.RESIDENT else None),
                attachments=list(body.attachments), idempotency_key=scoped_key, self_handle=body.self_handle,
            )
        except ValidationError as err:
            raise _validation_error(err) from None
        # who opened it is recorded first, so a resident never loses sight of an accepted case
        await asyncio.to_thread(svc.store.record_intake, case_id, p.person_id, p.role, idempotency_key)
        result = await svc.cases.open(command)
        return IntakeResponse(case_id=result.case_id, status=result.status, seq=result.seq, events=result.events,
                              idempotency_key=idempotency_key)

    @app.get("/cases/{case_id}", tags=["cases"], responses=_errors(401, 403, 404, 422, 503))
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
        return case_view(state, timeline, p, ui_port=svc.settings.temporal_ui_port,
                         namespace=svc.settings.temporal_namespace)

    @app.get("/cases", tags=["cases"], responses=_errors(401, 403, 422, 503))
    def list_cases(
        request: Request,
        p: Caller,
        state: Annotated[CaseStatus | None, Query(description="Case status")] = None,
        street: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        department: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        breached: Annotated[Literal["true", "false"] | None, Query(description="true or false")] = None,
        due_before: Annotated[datetime | None, Query(description="Next deadline before this time (ISO 8601)")] = None,
        open_only: Annotated[Literal["true", "false"], Query(description="Only cases not closed")] = "false",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> CaseList:
        """Cases from the read model, within the caller's jurisdiction (no personal data)."""
        svc = services(request)
        if due_before is not None and due_before.tzinfo is None:
            raise invalid("query.due_before", "timezone_required", "give a timezone, e.g. 2026-11-26T10:00:00+08:00")
        filters: dict[str, Any] = {
            "status": state.value if state else None, "street": street, "department": department,
            "category": category, "breached": None if breached is None else breached == "true",
            "due_before": due_before, "open_only": open_only == "true",
        }
        rows = query_read_model(svc, p, filters, limit, offset)
        return CaseList(items=rows, limit=limit, offset=offset)

    for name in ACTION_ROLES:
        _add_action_route(app, name)

    _install_metric_routes(app)

    @app.get("/events", tags=["live"], responses=_errors(401, 403),
             response_class=StreamingResponse)
    async def events(request: Request, p: Caller) -> StreamingResponse:
        """Server-sent events: one ``case`` event per case event in the caller's jurisdiction.

        Each carries a small JSON notice (``case_id``, ``seq``, ``type``, ``occurred_at``, ``unit``,
        ``clock_kind``); fetch the case for the rest. A ``ready`` event comes first.
        """
        svc = services(request)
        if p.role == Role.RESIDENT:
            raise AuthError(403, "role.not_allowed", "the live stream is for staff; residents read their cases")
        if svc.live is None:
            raise ApiError(503, "unavailable", "live.disabled", "the live feed is not running in this process")
        stopping: threading.Event = request.app.state.stopping
        return StreamingResponse(_sse(request, svc.live, p, stopping), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _sse(request: Request, feed: LiveFeed, p: Principal, stopping: threading.Event,
               ping_every: float = 15.0) -> AsyncIterator[bytes]:
    """The event stream of one client; it ends when the client goes or the server is stopping."""
    async with feed.subscribe(p) as sub:
        ready = {"live": feed.ready.is_set(), "principal": p.label()}
        yield f"retry: 3000\nevent: ready\ndata: {json.dumps(ready)}\n\n".encode()
        quiet = 0.0
        while not stopping.is_set():
            try:
                message = await asyncio.wait_for(sub.queue.get(), timeout=1.0)
            except TimeoutError:
                quiet += 1.0
                if quiet >= ping_every:
                    quiet = 0.0
                    if await request.is_disconnected():
                        return
                    yield b": ping\n\n"
                continue
            quiet = 0.0
            yield f"id: {message['event_id']}\nevent: case\ndata: {json.dumps(message)}\n\n".encode()


def _add_action_route(app: FastAPI, name: str) -> None:
    body_cls = ACTION_BODIES[name]
    command_cls = _COMMANDS[name]
    roles = ", ".join(r.value for r in ACTION_ROLES[name])

    async def act(
        request: Request,
        case_id: CaseIdParam,
        body: body_cls,  # type: ignore[valid-type]
        p: Caller,
        request_id: Annotated[str | None, Header(
            pattern=KEY, min_length=1, max_length=128,
            description="Your id for this call: a retry with the same id applies once")] = None,
    ) -> ActionResponse:
        svc = services(request)
        require_action_role(p, name)
        state = await load_case(svc, case_id)
        require_read(p, state)
        try:
            command = command_cls(actor=p.actor(), **body.model_dump(exclude_unset=False))  # type: ignore[attr-defined]
        except ValidationError as err:
            raise _validation_error(err) from None
        rid = f"{p.person_id}:{request_id}" if request_id else None
        result = await svc.cases.act(case_id, cast(Any, command), rid)
        return ActionResponse(case_id=result.case_id, status=result.status, seq=result.seq, events=result.events)

    act.__doc__ = f"{ACTION_SUMMARIES[name]}.\n\nMay be attempted by: {roles}; the workflow checks the rest."
    act.__name__ = f"act_{name}"
    act.__annotations__["body"] = body_cls  # a per-action model: resolved here, not from the module's globals
    app.post(f"/cases/{{case_id}}/{action_path(name)}", tags=["actions"], name=name,
             summary=_summary(name),
             responses=_errors(401, 403, 404, 409, 422, 503))(act)


# --- metrics for supervisors -------------------------------------------------------------------

METRIC_ROLES = frozenset({Role.SUPERVISOR, Role.DISPATCHER})
PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
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


def _facts(svc: Services, p: Principal, period: str | None) -> tuple[str, list[Any], list[Any]]:
    """The read model's facts within the caller's jurisdiction (supervisors and the hotline only)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from readmodel.metrics import load_facts

    if p.role not in METRIC_ROLES:
        raise AuthError(403, "role.not_allowed", f"metrics are for supervisors and the hotline, not {p.role.value}")
    try:
        cases, assignments = load_facts(svc.engine)
    except (OperationalError, ProgrammingError) as err:
        raise ApiError(503, "unavailable", "readmodel.unavailable",
                       f"the read model cannot be read: {type(err).__name__}") from None
    scope = "city"
    if not p.sees_everything:
        scope = f"district:{p.unit_id}"
        cases = [c for c in cases if c.district_id == p.unit_id]
    if period is not None:
        cases = [c for c in cases if c.period == period]
    ids = {c.case_id for c in cases}
    return scope, cases, [a for a in assignments if a.case_id in ids]


PeriodQ = Annotated[str | None, Query(pattern=PERIOD, description="Month opened, YYYY-MM (local time)")]


def _install_metric_routes(app: FastAPI) -> None:

    @app.get("/metrics/summary", tags=["metrics"], responses=_errors(401, 403, 422, 503))
    def metrics_summary(request: Request, p: Caller, period: PeriodQ = None) -> MetricSummary:
        """The closed-loop metrics (response, resolution, satisfaction, composite, on-time rates...) of
        the caller's jurisdiction: the whole city, or a supervisor's district."""
        svc = services(request)
        scope, cases, assignments = _facts(svc, p, period)
        now = datetime.now(UTC)
        m = compute(cases, assignments, as_of=now, basic_weight=svc.settings.satisfaction_basic_weight,
                    weights=svc.settings.composite_weights)
        return MetricSummary(scope=scope, period=period, as_of=now, metrics=m.as_dict())

    @app.get("/metrics/slices", tags=["metrics"], responses=_errors(401, 403, 422, 503))
    def metrics_slices(
        request: Request,
        p: Caller,
        by: Annotated[Literal["district", "street", "community", "grid", "department", "category", "period"],
                      Query(description="How to slice")],
        period: PeriodQ = None,
    ) -> MetricSlices:
        """The metrics sliced by district, street, community, grid, department, category or month."""
        svc = services(request)
        scope, cases, assignments = _facts(svc, p, period)
        now = datetime.now(UTC)
        sliced = slice_metrics(cases, assignments, by, as_of=now, basic_weight=svc.settings.satisfaction_basic_weight,
                               weights=svc.settings.composite_weights)
        return MetricSlices(scope=scope, period=period, by=by, as_of=now,
                            slices={k: v.as_dict() for k, v in sliced.items()})

    @app.get("/metrics/ranking", tags=["metrics"], responses=_errors(401, 403, 422, 503))
    def metrics_ranking(
        request: Request,
        p: Caller,
        period: Annotated[str, Query(pattern=PERIOD, description="The month, YYYY-MM (local time)")],
        by: Annotated[Literal["street", "department", "grid", "community", "district"],
                      Query(description="What to rank")] = "street",
    ) -> MetricRanking:
        """Monthly ranking of streets or departments (composite first, then on-time resolution...)."""
        svc = services(request)
        scope, cases, assignments = _facts(svc, p, None)
        now = datetime.now(UTC)
        rows = ranking(cases, assignments, by, period, as_of=now, basic_weight=svc.settings.satisfaction_basic_weight,
                       weights=svc.settings.composite_weights)
        return MetricRanking(scope=scope, period=period, by=by, as_of=now,
                             rows=[RankEntry(rank=r.rank, key=r.key, metrics=r.metrics.as_dict()) for r in rows])


# --- the read model ------------------------------------------------------------------------------

TERMINAL_STATUSES = frozenset({"closed", "rejected", "merged"})
_PAGE = 500


def query_read_model(svc: Services, p: Principal, filters: dict[str, Any], limit: int,
                     offset: int) -> list[CaseRow]:
    """Rows of the read model for ``p``: its jurisdiction applied on top of the filters.

    Filters the read model's query takes (status, street, department, category, grid, breached, due
    before) go to :func:`readmodel.queries.list_cases`; the rest of a jurisdiction (district,
    community, a resident's own cases) and ``open_only`` are applied to its pages here.
    """
    from sqlalchemy.exc import OperationalError, ProgrammingError


    scope = list_scope(p)
    kwargs: dict[str, Any] = {
        "status": filters["status"], "street_id": filters["street"], "department_id": filters["department"],
        "category": filters["category"], "breached": filters["breached"], "due_before": filters["due_before"],
    }
    for key, column in (("street", "street_id"), ("department", "department_id"), ("grid", "grid_id")):
        if key in scope:
            if kwargs.get(column) not in (None, scope[key]):
                return []  # a filter outside the caller's jurisdiction matches nothing it may see
            kwargs[column] = scope[key]
    post: list[Callable[[Any], bool]] = []
    if "district" in scope:
        post.append(lambda r: r.district_id == scope["district"])
    if "community" in scope:
        post.append(lambda r: r.community_id == scope["community"])
    if filters.get("open_only"):
        post.append(lambda r: r.status not in TERMINAL_STATUSES)
    try:
        if "resident" in scope:
            rows = [r for cid in svc.store.cases_opened_by(scope["resident"])
                    if (r := rm_get_case(svc.engine, cid)) is not None and _matches(r, kwargs)]
            rows = [r for r in rows if all(f(r) for f in post)]
            return rows[offset:offset + limit]
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
        raise ApiError(503, "unavailable", "readmodel.unavailable",
                       f"the read model cannot be read (run `gridcase readmodel migrate` and the projector): "
                       f"{type(err).__name__}") from None


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
