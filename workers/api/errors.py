"""The API's error bodies, its exceptions and their handlers.

Every error names a rule:

* ``422 {"error": "invalid_input", "errors": [{"field", "rule", "message"}]}`` — bad input: the
  field (``body.…``, ``header.…``, ``path.…``, ``query.…``) and the rule it breaks;
* ``401`` / ``403`` / ``404`` / ``405`` / ``409`` / ``503`` — ``{"error", "rule", "message"}``.

:func:`responses` gives an operation's ``responses=`` so that OpenAPI documents every status it
can answer.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from workers.api.auth import AuthError
from workers.case_client import ActionRefused
from workflows.domain.registry import RegistryError


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


_RESPONSES: dict[int, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Outside the caller's role or jurisdiction"},
    404: {"model": ErrorBody, "description": "No such case"},
    409: {"model": ErrorBody, "description": "Refused by a rule of the case lifecycle"},
    422: {"model": InvalidInput, "description": "Invalid input: the field and the rule"},
    503: {"model": ErrorBody, "description": "A backing service is unavailable"},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """An operation's documented error responses: ``401`` always (every operation but the meta ones
    authenticates), then ``codes`` (403, 404, 409, 422, 503)."""
    out: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody, "description": "No or bad credentials"}}
    for code in codes:
        if code != 401:
            out[code] = _RESPONSES[code]
    return out


class ApiError(Exception):
    """An error answered as ``status`` with ``{"error", "rule", "message"}``."""

    def __init__(self, status: int, error: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.rule, self.message = status, error, rule, message


def invalid(field: str, rule: str, message: str) -> RequestValidationError:
    """A 422 naming one field (``body.unit``, ``query.due_before``...) and its rule."""
    return RequestValidationError([{"loc": tuple(field.split(".")), "type": rule, "msg": message}])


def invalid_fields(errors: list[tuple[str, str, str]]) -> RequestValidationError:
    """A 422 naming several ``(field, rule, message)``."""
    return RequestValidationError(
        [{"loc": tuple(field.split(".")), "type": rule, "msg": message} for field, rule, message in errors]
    )


def validation_error(err: ValidationError, prefix: str = "body") -> RequestValidationError:
    """A pydantic error of a command built from a body, as field errors under ``prefix``; the rule is
    the error's type (a domain validator's own, e.g. ``contact.phone``, or pydantic's)."""
    return RequestValidationError(
        [{"loc": (prefix, *e["loc"]), "type": e["type"], "msg": e["msg"]} for e in err.errors()]
    )


def registry_error(err: RegistryError) -> RequestValidationError:
    """A registry lookup that failed (``category: ...`` or a location) as a field error."""
    text = str(err)
    head, sep, rest = text.partition(": ")
    field = head if sep and re.fullmatch(r"[a-z_.]+", head) else "location"
    rule = "registry.unknown_category" if field == "category" else "registry.unknown_location"
    return invalid(f"body.{field}", rule, rest if sep else text)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method the request's path supports (for ``Allow`` on a 405 or an OPTIONS answer): each
    method is tried against the app's routes (included routers too), OPTIONS added to a known path."""
    from starlette.routing import Match

    methods = [
        m
        for m in _METHODS
        if any(route.matches({**request.scope, "method": m})[0] == Match.FULL for route in request.app.routes)
    ]
    return [*methods, "OPTIONS"] if methods else []


#: 503: an action's update timed out or was cancelled before the workflow answered.
UPDATE_UNCONFIRMED = "temporal.update_unconfirmed"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with a body that names its rule."""

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
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # the body is not JSON at all
            bad = InvalidInput(errors=[FieldError(field="body", rule="json_invalid", message=str(exc.detail))])
            return JSONResponse(bad.model_dump(), status_code=422)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            if request.method == "OPTIONS" and allowed:
                return Response(status_code=204, headers={"Allow": ", ".join(allowed)})
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = ErrorBody(error=error, rule=f"http.{exc.status_code}", message=str(exc.detail))
        return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        error = "unauthenticated" if exc.status == 401 else "forbidden"
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            ErrorBody(error=error, rule=exc.rule, message=exc.message).model_dump(),
            status_code=exc.status,
            headers=headers,
        )

    @app.exception_handler(ActionRefused)
    async def _refused(request: Request, exc: ActionRefused) -> JSONResponse:
        return JSONResponse(
            ErrorBody(error="refused", rule=exc.rule, message=exc.message).model_dump(), status_code=409
        )

    @app.exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError)
    async def _unconfirmed(request: Request, exc: WorkflowUpdateRPCTimeoutOrCancelledError) -> JSONResponse:
        # the update may or may not have been applied: the same Request-Id applies it once either way
        message = (
            "the action was sent but its answer did not come back in time (a busy server, or this API "
            "stopping): send it again with the same Request-Id, it applies once"
        )
        return JSONResponse(
            ErrorBody(error="unavailable", rule=UPDATE_UNCONFIRMED, message=message).model_dump(),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            ErrorBody(error=exc.error, rule=exc.rule, message=exc.message).model_dump(), status_code=exc.status
        )
