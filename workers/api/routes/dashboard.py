"""``/dashboard`` and ``/dashboard/export.csv``: the supervisor's page of one month, for supervisors
(their district or the city) and the hotline, on the same rules as ``/metrics``.

Every figure is computed by :mod:`readmodel.dashboard` from the facts ``gridcase report`` reads,
with the same settings (satisfaction weight, composite weights) and the same names, so the page and
the export equal ``gridcase report --period P --by B`` for the whole city. The command line always
sees the whole city; for a district supervisor both endpoints restrict the facts to the district
first (cases located in it, and their assignments and escalations), which is the report the command
would print on a read model holding only that district's cases.

The page carries the report's work inside the units too: per handling unit the replies submitted
for review and sent back (退回重办率), the interim replies and how many were on time (阶段性答复按时率)
and the corrections made to its cases; the corrections per category; and each handler's (承办人)
load, named from the user directory. The CSV carries the per-unit figures as its last columns
(:data:`readmodel.report.CSV_WORK_COLUMNS`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from readmodel.dashboard import Bucket, CaseDetail, EscalationFacts, RungCount, dashboard_from_facts
from readmodel.kpis import NO_UNIT, CaseFacts, CorrectionCounts, MetricSet, RankRow, UnitWork, WorkFacts, month_of
from workers.api.deps import Caller, Services, services
from workers.api.errors import ApiError, responses
from workers.api.routes.metrics import PERIOD, _facts

if TYPE_CHECKING:
    from city.registry import SqlCityRegistry

router = APIRouter()

By = Literal["street", "department", "grid", "community", "district", "category"]
PeriodQ = Annotated[
    str | None, Query(pattern=PERIOD, description="Month opened, YYYY-MM (local time); default: this month")
]
ByQ = Annotated[By, Query(description="What the report ranks (as `gridcase report --by`)")]


class DashboardMetrics(BaseModel):
    """The metrics of a slice (``readmodel.kpis.MetricSet``); rates are fractions, ``null`` when undefined."""

    cases: int
    response_rate: float | None = Field(description="响应率")
    resolution_rate: float | None = Field(description="解决率")
    satisfaction_rate: float | None = Field(description="满意率")
    composite: float | None = Field(description="综合: weighted response, resolution and satisfaction")
    on_time_resolution_rate: float | None = Field(description="按时办结率")
    on_time_closure_rate: float | None = Field(description="按时结案率")
    rework_rate: float | None = Field(description="返工率")
    return_rate: float | None
    whistle_rate: float | None
    on_time_report_in_rate: float | None
    grid_self_handled_share: float | None
    mean_handling_hours: float | None = Field(description="Policy hours")
    p90_handling_hours: float | None = Field(description="Policy hours")
    overdue_open: int = Field(description="Open cases of the slice overdue at as_of (超期未办结)")
    open: int
    closed: int
    valid_callbacks: int
    compressed_cases: int

    @classmethod
    def of(cls, m: MetricSet) -> DashboardMetrics:
        return cls.model_validate(m.as_dict())


class RankedUnit(BaseModel):
    rank: int = Field(description="Equal sort keys share a rank")
    key: str = Field(description="The unit's id (street, department...)")
    name: str | None = Field(description="Its name in the city registry")
    metrics: DashboardMetrics


class TrendPoint(BaseModel):
    key: str = Field(description="2026-11-03 (day), 2026-W45 (ISO week) or 2026-11 (month)")
    start: date = Field(description="First local date of the span")
    end: date = Field(description="Last local date of the span (inclusive; weeks are clipped to the month)")
    metrics: DashboardMetrics


class EscalationRung(BaseModel):
    level: str = Field(description="reminder (催办), supervision (督办), public_notice (通报)")
    count: int = Field(description="Escalations raised at this rung")
    manual: int = Field(description="Ordered by a supervisor or the hotline")
    automatic: int = Field(description="Raised by an SLA clock")
    cases: int = Field(description="Distinct cases that reached the rung")


class OverdueCase(BaseModel):
    case_id: str
    title: str | None
    status: str
    category: str | None
    street_id: str | None
    street_name: str | None
    grid_id: str | None
    grid_name: str | None
    unit_kind: str | None = Field(description="The current assignee")
    unit_id: str | None
    unit_name: str | None
    opened_at: datetime
    overdue_since: datetime = Field(description="The earliest deadline the case has missed")
    overdue_seconds: float = Field(description="Wall-clock seconds overdue at as_of")
    overdue_policy_hours: float = Field(description="Policy hours overdue (wall seconds ÷ time scale when compressed)")
    compressed: bool = Field(description="The case runs on compressed SLA time")


class CorrectionFigures(BaseModel):
    """Corrections by the hotline, by kind (``readmodel.kpis.CorrectionCounts``)."""

    reclassified: int = Field(0, description="改类")
    urgency_changed: int = Field(0, description="加急 / 降级")
    relocated: int = Field(0, description="改址")
    total: int = Field(0, description="Every kind")

    @classmethod
    def of(cls, c: CorrectionCounts) -> CorrectionFigures:
        return cls(reclassified=c.reclassified, urgency_changed=c.urgency_changed, relocated=c.relocated, total=c.total)


class UnitWorkFigures(BaseModel):
    """The work inside a unit (``readmodel.kpis.UnitWork``); rates are fractions, ``null`` when undefined."""

    replies_submitted: int = Field(0, description="Replies submitted for review (报审)")
    replies_sent_back: int = Field(0, description="Replies sent back by the reviewer (退回重办)")
    replies_approved: int = Field(0, description="Replies approved (审核签发)")
    sent_back_rate: float | None = Field(None, description="退回重办率: sent back ÷ submitted")
    interim_replies: int = Field(0, description="Interim replies (阶段性答复)")
    interim_on_time: int = Field(0, description="Interim replies given by their due time")
    interim_on_time_rate: float | None = Field(None, description="阶段性答复按时率: on time ÷ interim replies")
    corrections: CorrectionFigures = Field(default_factory=CorrectionFigures)

    @classmethod
    def of(cls, w: UnitWork) -> UnitWorkFigures:
        return cls(
            replies_submitted=w.replies_submitted,
            replies_sent_back=w.replies_sent_back,
            replies_approved=w.replies_approved,
            sent_back_rate=w.sent_back_rate,
            interim_replies=w.interim_replies,
            interim_on_time=w.interim_on_time,
            interim_on_time_rate=w.interim_on_time_rate,
            corrections=CorrectionFigures.of(w.corrections),
        )


class UnitWorkRow(BaseModel):
    unit: str = Field(description="kind:id of the unit, or - for corrections made while no unit had the case")
    unit_kind: str | None = Field(description="grid, street, department...; null for -")
    unit_id: str | None
    unit_name: str | None = Field(description="Its name in the city registry")
    work: UnitWorkFigures


class CategoryCorrections(BaseModel):
    category: str = Field(description="The category as it stands (after any reclassification)")
    name: str | None = Field(description="Its name in the city's catalogue")
    corrections: CorrectionFigures


class HandlerLoad(BaseModel):
    """One handler's (承办人) cases in one unit (``readmodel.kpis.PersonLoad``)."""

    handler_id: str
    name: str | None = Field(description="The person's name in the user directory")
    unit_kind: str | None
    unit_id: str | None
    unit_name: str | None
    open: int = Field(description="Open cases at as_of, whenever opened")
    overdue: int = Field(description="Of the open ones, overdue at as_of")
    closed: int = Field(description="Cases closed (结案) in the period")


class DashboardPage(BaseModel):
    scope: str = Field(description="city, or district:<id> for a district supervisor")
    period: str
    by: str
    as_of: datetime
    basic_weight: float = Field(description="Weight of 基本满意 in the satisfaction rate")
    weights: list[float] = Field(description="Composite weights of response, resolution and satisfaction (3)")
    total: DashboardMetrics = Field(description="The period's figures: the report's total row")
    rankings: dict[str, list[RankedUnit]] = Field(description="street, department, and the `by` dimension")
    days: list[TrendPoint] = Field(description="Every local day of the period")
    weeks: list[TrendPoint] = Field(description="ISO weeks of the period, clipped to it")
    months: list[TrendPoint] = Field(description="The report's trend: the last months up to the period")
    escalations: list[EscalationRung] = Field(description="Escalations of the period's cases, lowest rung first")
    overdue: list[OverdueCase] = Field(description="The open cases longest overdue at as_of (any period), worst first")
    overdue_total: int = Field(description="Every open overdue case of the jurisdiction at as_of")
    notes: list[str]
    work: UnitWorkFigures = Field(
        default_factory=UnitWorkFigures, description="The work inside the units over the period's cases, every unit"
    )
    work_by_unit: list[UnitWorkRow] = Field(
        default_factory=list, description="The work inside each unit that had any (the report's rows), by unit"
    )
    corrections_by_category: list[CategoryCorrections] = Field(
        default_factory=list, description="Corrections per category of the period's cases (categories with any)"
    )
    people: list[HandlerLoad] = Field(
        default_factory=list, description="Each handler's load, most open cases first (the report's)"
    )


def _registry(svc: Services) -> SqlCityRegistry | None:
    from city.registry import SqlCityRegistry

    return svc.registry if isinstance(svc.registry, SqlCityRegistry) else None


def _report_names(svc: Services, by: str) -> dict[str, str]:
    """The names ``gridcase report --by`` passes to the report (none without the registry)."""
    from workers.names import report_names

    registry = _registry(svc)
    return report_names(registry, by) if registry is not None else {}


def _load(svc: Services) -> tuple[list[EscalationFacts], dict[str, CaseDetail]]:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from readmodel.dashboard import load_dashboard_facts

    try:
        return load_dashboard_facts(svc.engine)
    except (OperationalError, ProgrammingError) as err:
        raise ApiError(
            503, "unavailable", "readmodel.unavailable", f"the read model cannot be read: {type(err).__name__}"
        ) from None


def _work(svc: Services) -> list[WorkFacts]:
    """The facts of the work inside the units (review, interim replies, corrections) for the report."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from readmodel.kpis import load_work_facts

    try:
        return load_work_facts(svc.engine)
    except (OperationalError, ProgrammingError) as err:
        raise ApiError(
            503, "unavailable", "readmodel.unavailable", f"the read model cannot be read: {type(err).__name__}"
        ) from None


def _point(b: Bucket) -> TrendPoint:
    return TrendPoint(key=b.key, start=b.start, end=b.end, metrics=DashboardMetrics.of(b.metrics))


def _month_point(period: str, m: MetricSet) -> TrendPoint:
    from readmodel.dashboard import month_days

    days = month_days(period)
    return TrendPoint(key=period, start=days[0], end=days[-1], metrics=DashboardMetrics.of(m))


def _rung(r: RungCount) -> EscalationRung:
    return EscalationRung(level=r.level, count=r.count, manual=r.manual, automatic=r.automatic, cases=r.cases)


@router.get("/dashboard", tags=["dashboard"], responses=responses(401, 403, 422, 503))
def dashboard(request: Request, p: Caller, period: PeriodQ = None, by: ByQ = "street") -> DashboardPage:
    """The supervisor's page for a month: the three rates and the composite, on-time and rework rates,
    the trend by day, week and month, the rankings of streets and departments, escalations by rung and
    the worst-overdue open cases, with names beside the ids. Its figures are ``gridcase report``'s."""
    from workers.names import UnitNames, report_names

    svc = services(request)
    now = datetime.now(UTC)
    period = period or month_of(now)
    scope, cases, assignments = _facts(svc, p, None)
    escalations, details = _load(svc)
    registry = _registry(svc)
    names: dict[str, str] = {}
    if registry is not None:
        for dim in ("department", "grid", by):
            names.update(report_names(registry, dim))
    board = dashboard_from_facts(
        cases,
        assignments,
        escalations,
        details,
        period,
        by,
        as_of=now,
        basic_weight=svc.settings.satisfaction_basic_weight,
        weights=svc.settings.composite_weights,
        names=names,
        report_names=_report_names(svc, by),
        work=_work(svc),
    )
    units = UnitNames(registry)
    category_names = report_names(registry, "category") if registry is not None else {}

    def ranked(rows: list[RankRow]) -> list[RankedUnit]:
        return [
            RankedUnit(rank=r.rank, key=r.key, name=names.get(r.key), metrics=DashboardMetrics.of(r.metrics))
            for r in rows
        ]

    def overdue_row(facts: CaseFacts, detail: CaseDetail, since: datetime, seconds: float, hours: float) -> OverdueCase:
        unit_name = units.unit(detail.unit_kind, detail.unit_id) if detail.unit_kind and detail.unit_id else None
        return OverdueCase(
            case_id=facts.case_id,
            title=detail.title,
            status=facts.status,
            category=facts.category,
            street_id=facts.street_id,
            street_name=names.get(facts.street_id or ""),
            grid_id=facts.grid_id,
            grid_name=names.get(facts.grid_id or ""),
            unit_kind=detail.unit_kind,
            unit_id=detail.unit_id,
            unit_name=unit_name,
            opened_at=facts.opened_at,
            overdue_since=since,
            overdue_seconds=seconds,
            overdue_policy_hours=hours,
            compressed=facts.compressed,
        )

    report = board.report

    def unit_name(kind: str | None, ident: str | None) -> str | None:
        return units.unit(kind, ident) if kind and ident else None

    def work_row(key: str, w: UnitWork) -> UnitWorkRow:
        kind, _, ident = key.partition(":") if key != NO_UNIT else (None, "", None)
        return UnitWorkRow(
            unit=key,
            unit_kind=kind or None,
            unit_id=ident or None,
            unit_name=unit_name(kind, ident),
            work=UnitWorkFigures.of(w),
        )

    handler_names = svc.store.names(p.handler_id for p in report.people) if report.people else {}
    return DashboardPage(
        scope=scope,
        period=period,
        by=by,
        as_of=now,
        basic_weight=report.basic_weight,
        weights=list(report.weights),
        total=DashboardMetrics.of(report.total),
        rankings={dim: ranked(rows) for dim, rows in board.rankings.items()},
        days=[_point(b) for b in board.days],
        weeks=[_point(b) for b in board.weeks],
        months=[_month_point(m, ms) for m, ms in report.trend],
        escalations=[_rung(r) for r in board.escalations],
        overdue=[
            overdue_row(o.facts, o.detail, o.overdue_since, o.overdue_seconds, o.overdue_policy_hours)
            for o in board.overdue
        ],
        overdue_total=board.overdue_total,
        notes=list(report.notes),
        work=UnitWorkFigures.of(report.work),
        work_by_unit=[work_row(k, w) for k, w in report.work_by_unit.items()],
        corrections_by_category=[
            CategoryCorrections(category=k, name=category_names.get(k), corrections=CorrectionFigures.of(c))
            for k, c in report.corrections_by_category.items()
        ],
        people=[
            HandlerLoad(
                handler_id=lp.handler_id,
                name=handler_names.get(lp.handler_id),
                unit_kind=lp.unit_kind,
                unit_id=lp.unit_id,
                unit_name=unit_name(lp.unit_kind, lp.unit_id),
                open=lp.open,
                overdue=lp.overdue,
                closed=lp.closed,
            )
            for lp in report.people
        ],
    )


@router.get(
    "/dashboard/export.csv",
    tags=["dashboard"],
    responses={
        **responses(401, 403, 422, 503),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The report as CSV"},
    },
    response_class=Response,
)
def dashboard_export(request: Request, p: Caller, period: PeriodQ = None, by: ByQ = "street") -> Response:
    """The CSV of ``gridcase report --period P --by B --format csv``, byte for byte, as an attachment.

    The city's (a dispatcher's, a city supervisor's) is the command's own; a district supervisor's
    is the same report on the district's cases only."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from readmodel.report import build_report, render_csv, report_from_facts

    svc = services(request)
    now = datetime.now(UTC)
    period = period or month_of(now)
    basic_weight, weights = svc.settings.satisfaction_basic_weight, svc.settings.composite_weights
    if p.sees_everything:  # the hotline, a city supervisor: the command's own report
        scope = "city"
        try:
            report = build_report(svc.engine, period, by, as_of=now, basic_weight=basic_weight, weights=weights)
        except (OperationalError, ProgrammingError) as err:
            raise ApiError(
                503, "unavailable", "readmodel.unavailable", f"the read model cannot be read: {type(err).__name__}"
            ) from None
    else:  # the role check, and the district's facts
        scope, cases, assignments = _facts(svc, p, None)
        report = report_from_facts(
            cases, assignments, period, by, as_of=now, basic_weight=basic_weight, weights=weights, work=_work(svc)
        )
    report = replace(report, names=_report_names(svc, by))
    filename = f"gridcase-report-{period}-{by}" + ("" if scope == "city" else f"-{scope.split(':', 1)[1]}") + ".csv"
    return Response(
        content=render_csv(report).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Gridcase-Scope": scope},
    )
