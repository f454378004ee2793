"""``/healthz`` (liveness), ``/readyz`` (readiness: every dependency reachable) and ``/me``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from workers.api.deps import Caller, Services, services
from workers.api.errors import responses
from workers.api.schemas import Check, Health, Me, Readiness

router = APIRouter()

#: Seconds each readiness check may take (a probe must answer fast or count as down).
CHECK_TIMEOUT = 2.0


@router.get("/healthz", tags=["meta"])
async def healthz(svc: Annotated[Services, Depends(services)]) -> Health:
    """Liveness: the process is up (200 while it answers); and whether the live feed reads Kafka now.

    Readiness (Temporal, Kafka and the read model reachable) is ``/readyz``."""
    return Health(ok=True, live_feed=bool(svc.live and svc.live.healthy))


@router.get(
    "/readyz",
    tags=["meta"],
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is unreachable: see its check"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when Temporal, Kafka (the live feed) and the read model are reachable, else 503;
    each check says why it failed."""
    svc = services(request)
    temporal, readmodel = await asyncio.gather(_temporal(svc), _readmodel_within(svc, CHECK_TIMEOUT))
    checks = {"temporal": temporal, "kafka": _kafka(svc), "readmodel": readmodel}
    ready = Readiness(ok=all(c.ok for c in checks.values()), checks=checks)
    return JSONResponse(ready.model_dump(mode="json"), status_code=200 if ready.ok else 503)


async def _temporal(svc: Services) -> Check:
    try:
        serving = await asyncio.wait_for(
            svc.cases.client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT)),
            CHECK_TIMEOUT + 0.5,
        )
    except Exception as exc:  # unreachable, timed out, refused: all mean not ready
        return Check(ok=False, reason=f"{type(exc).__name__}: {exc}".strip())
    return Check(ok=True) if serving else Check(ok=False, reason="the workflow service is not serving")


def _kafka(svc: Services) -> Check:
    if svc.live is None:
        return Check(ok=True, reason="not checked: the live feed is disabled in this process")
    ok, reason = svc.live.health()
    return Check(ok=ok, reason=reason)


async def _readmodel_within(svc: Services, timeout: float) -> Check:
    try:
        return await asyncio.wait_for(asyncio.to_thread(_readmodel, svc), timeout)
    except TimeoutError:
        return Check(ok=False, reason=f"the database did not answer within {timeout:.0f} s")


def _readmodel(svc: Services) -> Check:
    from sqlalchemy import select

    from readmodel.tables import cases

    try:
        with svc.engine.connect() as conn:
            conn.execute(select(cases.c.case_id).limit(1)).all()
    except Exception as exc:  # no database, no table, locked: not ready
        return Check(ok=False, reason=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return Check(ok=True)


@router.get("/me", tags=["meta"], responses=responses(401))
def me(p: Caller) -> Me:
    """Who the token belongs to."""
    return Me(
        person_id=p.person_id,
        role=p.role,
        unit_id=p.unit_id,
        name=p.name,
        via=p.via,
        sees_personal_data=p.sees_personal_data,
        duties=None if p.duties is None else list(p.duties),
    )
