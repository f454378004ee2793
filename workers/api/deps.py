"""Dependencies of the API's routes: the services of the process, the caller, shared parameters.

* :func:`services` — the :class:`Services` the app's lifespan connected (Temporal, the database,
  the registry, the live feed, the action catalogue).
* :func:`authenticate` / :data:`Caller` — the :class:`~workers.api.auth.Principal` of the
  ``Authorization: Bearer`` token.
* :data:`CaseIdParam` — the ``{case_id}`` path parameter.
* :func:`no_unknown_query` — refuses query parameters the operation does not declare.
* :func:`load_case` — the case's state from its workflow (404 when there is none).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from workers.api.auth import AuthError, Principal, decode_jwt
from workers.api.errors import ApiError
from workers.api.live import LiveFeed
from workers.api.users import UserStore
from workers.case_client import CaseClient
from workers.settings import Settings
from workflows.domain.actions import Catalogue
from workflows.domain.registry import CityRegistry
from workflows.domain.state import CaseState

CASE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


@dataclass
class Services:
    """What the routes use, connected by the app's lifespan."""

    settings: Settings
    cases: CaseClient
    store: UserStore
    engine: Engine
    registry: CityRegistry
    live: LiveFeed | None
    catalogue: Catalogue


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


def no_unknown_query(request: Request) -> None:
    """Refuse query parameters the operation does not declare (a misspelt filter must not widen a list)."""
    from fastapi._compat import field_annotation_is_sequence
    from fastapi.routing import APIRoute

    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = {f.alias for f in route.dependant.query_params}
    unknown = sorted(k for k in request.query_params if k not in known)
    single = {
        f.alias for f in route.dependant.query_params if not field_annotation_is_sequence(f.field_info.annotation)
    }
    repeated = sorted(k for k in set(request.query_params) if k in single and len(request.query_params.getlist(k)) > 1)
    if repeated and not unknown:  # a filter given twice must not quietly keep one of its values
        raise RequestValidationError(
            [
                {"loc": ("query", k), "type": "repeated", "msg": "give this parameter once (it takes one value)"}
                for k in repeated
            ]
        )
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", k),
                    "type": "extra_forbidden",
                    "msg": f"unknown query parameter (known: {', '.join(sorted(known)) or 'none'})",
                }
                for k in unknown
            ]
        )


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
        duties = svc.store.effective_duties(user.role, user.unit_id, svc.store.duties_of(user.user_id))
        return Principal(person_id=user.user_id, role=user.role, unit_id=user.unit_id, name=user.name, duties=duties)
    if token.count(".") == 2 and svc.settings.api_jwt_secret:
        p = decode_jwt(token, svc.settings.api_jwt_secret)
        return dataclasses.replace(p, duties=svc.store.effective_duties(p.role, p.unit_id, p.duties or ()))
    raise AuthError(
        401,
        "auth.invalid_token",
        "not a gridcase API token" + (" or a valid JWT" if svc.settings.api_jwt_secret else " (JWTs are not enabled)"),
    )


Caller = Annotated[Principal, Depends(authenticate)]
CaseIdParam = Annotated[str, PathParam(pattern=CASE_ID, max_length=64, description="Case id, e.g. C1A2B3C4D5E6")]


async def load_case(svc: Services, case_id: str) -> CaseState:
    """The case's state from its workflow; 404 when there is no such case."""
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    try:
        state = await svc.cases.find(case_id)
    except RPCError as err:
        raise ApiError(503, "unavailable", "temporal.unavailable", f"Temporal: {err.message}") from None
    except WorkflowQueryFailedError as err:
        raise ApiError(503, "unavailable", "temporal.query_failed", str(err)) from None
    if state is None:
        raise ApiError(404, "not_found", "case.not_found", f"no case {case_id}")
    return state
