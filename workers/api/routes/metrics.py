"""``/metrics/summary``, ``/metrics/slices`` and ``/metrics/ranking``: closed-loop metrics from the
read model, for supervisors (their district or the city) and the hotline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from events.base import Role
from readmodel.kpis import compute, ranking, slice_metrics
from workers.api.auth import AuthError, Principal
from workers.api.deps import Caller, Services, services
from workers.api.errors import ApiError, responses
from workers.api.schemas import MetricRanking, MetricSlices, MetricSummary, RankEntry

router = APIRouter()

METRIC_ROLES = frozenset({Role.SUPERVISOR, Role.DISPATCHER})
PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _facts(svc: Services, p: Principal, period: str | None) -> tuple[str, list[Any], list[Any]]:
    """The read model's facts within the caller's jurisdiction (supervisors and the hotline only)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from readmodel.kpis import load_facts

    if p.role not in METRIC_ROLES:
        raise AuthError(403, "role.not_allowed", f"metrics are for supervisors and the hotline, not {p.role.value}")
    try:
        cases, assignments = load_facts(svc.engine)
    except (OperationalError, ProgrammingError) as err:
        raise ApiError(
            503, "unavailable", "readmodel.unavailable", f"the read model cannot be read: {type(err).__name__}"
        ) from None
    scope = "city"
    if not p.sees_everything:
        scope = f"district:{p.unit_id}"
        cases = [c for c in cases if c.district_id == p.unit_id]
    if period is not None:
        cases = [c for c in cases if c.period == period]
    ids = {c.case_id for c in cases}
    return scope, cases, [a for a in assignments if a.case_id in ids]


PeriodQ = Annotated[str | None, Query(pattern=PERIOD, description="Month opened, YYYY-MM (local time)")]


@router.get("/metrics/summary", tags=["metrics"], responses=responses(401, 403, 422, 503))
def metrics_summary(request: Request, p: Caller, period: PeriodQ = None) -> MetricSummary:
    """The closed-loop metrics (response, resolution, satisfaction, composite, on-time rates...) of
    the caller's jurisdiction: the whole city, or a supervisor's district."""
    svc = services(request)
    scope, cases, assignments = _facts(svc, p, period)
    now = datetime.now(UTC)
    m = compute(
        cases,
        assignments,
        as_of=now,
        basic_weight=svc.settings.satisfaction_basic_weight,
        weights=svc.settings.composite_weights,
    )
    return MetricSummary(scope=scope, period=period, as_of=now, metrics=m.as_dict())


@router.get("/metrics/slices", tags=["metrics"], responses=responses(401, 403, 422, 503))
def metrics_slices(
    request: Request,
    p: Caller,
    by: Annotated[
        Literal["district", "street", "community", "grid", "department", "category", "period"],
        Query(description="How to slice"),
    ],
    period: PeriodQ = None,
) -> MetricSlices:
    """The metrics sliced by district, street, community, grid, department, category or month."""
    svc = services(request)
    scope, cases, assignments = _facts(svc, p, period)
    now = datetime.now(UTC)
    sliced = slice_metrics(
        cases,
        assignments,
        by,
        as_of=now,
        basic_weight=svc.settings.satisfaction_basic_weight,
        weights=svc.settings.composite_weights,
    )
    return MetricSlices(
        scope=scope, period=period, by=by, as_of=now, slices={k: v.as_dict() for k, v in sliced.items()}
    )


@router.get("/metrics/ranking", tags=["metrics"], responses=responses(401, 403, 422, 503))
def metrics_ranking(
    request: Request,
    p: Caller,
    period: Annotated[str, Query(pattern=PERIOD, description="The month, YYYY-MM (local time)")],
    by: Annotated[
        Literal["street", "department", "grid", "community", "district"], Query(description="What to rank")
    ] = "street",
) -> MetricRanking:
    """Monthly ranking of streets or departments (composite first, then on-time resolution...)."""
    svc = services(request)
    scope, cases, assignments = _facts(svc, p, None)
    now = datetime.now(UTC)
    rows = ranking(
        cases,
        assignments,
        by,
        period,
        as_of=now,
        basic_weight=svc.settings.satisfaction_basic_weight,
        weights=svc.settings.composite_weights,
    )
    return MetricRanking(
        scope=scope,
        period=period,
        by=by,
        as_of=now,
        rows=[RankEntry(rank=r.rank, key=r.key, metrics=r.metrics.as_dict()) for r in rows],
    )
