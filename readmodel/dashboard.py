"""The supervisor dashboard: one month of the closed loop, aggregated from the same facts as the report.

Everything a supervisor's page shows is computed here from :mod:`readmodel.kpis` facts, so every
figure the report prints is the report's own: :func:`dashboard_from_facts` builds the
:class:`~readmodel.report.Report` of the period with :func:`~readmodel.report.report_from_facts`
and adds what the page needs besides:

* the trend *within* the month, by local day and by ISO week (Monday to Sunday, clipped to the
  month), each bucket computed with :func:`~readmodel.kpis.compute` on the cases opened in it;
* the rankings of streets and of departments (:func:`~readmodel.kpis.ranking`), whatever the
  report is ranked by;
* escalations (催办 reminder / 督办 supervision / 通报 public notice) of the month's cases by rung;
* the open cases longest overdue at ``as_of``.

Like the report's overdue heat map, the overdue list is "as of now": it takes every open case of
the facts, whenever it was opened, since an old overdue case is the one a supervisor must chase
first. The other figures count cases opened in the period.

Two steps as in :mod:`readmodel.kpis`: :func:`load_dashboard_facts` reads the escalation rows and the
few per-case details the facts lack (title, current unit, the deadline a case missed);
:func:`dashboard_from_facts` is pure (``as_of`` is a parameter).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, or_, select

from events.times import as_utc
from readmodel import tables as t
from readmodel.kpis import (
    AssignmentFacts,
    CaseFacts,
    MetricSet,
    RankRow,
    WorkFacts,
    compute,
    evaluated,
    is_overdue,
    policy_hours,
    ranking,
)
from readmodel.report import Report, parse_period, report_from_facts

CITY_ZONE = ZoneInfo("Asia/Shanghai")
#: The rungs of the escalation ladder, lowest first (``events.schemas.EscalationLevel``).
RUNGS: tuple[str, ...] = ("reminder", "supervision", "public_notice")
#: The dimensions the dashboard always ranks.
RANKED: tuple[str, ...] = ("street", "department")


@dataclass(frozen=True)
class EscalationFacts:
    """One rung of an escalation raised on a case (a row of ``rm_escalations``)."""

    case_id: str
    level: str
    manual: bool  # ordered by a supervisor rather than raised by a clock
    unit_kind: str
    unit_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class CaseDetail:
    """What the overdue list shows about an open case besides its facts."""

    case_id: str
    title: str | None = None
    unit_kind: str | None = None  # the current assignee
    unit_id: str | None = None
    missed_due_at: datetime | None = None  # the earliest deadline of a clock that breached or stopped late


@dataclass(frozen=True)
class Bucket:
    """A span of the period (a day or a week, local dates inclusive) and the metrics of its cases."""

    key: str
    start: date
    end: date
    metrics: MetricSet


@dataclass(frozen=True)
class RungCount:
    level: str
    count: int = 0  # escalations raised at this rung
    manual: int = 0
    automatic: int = 0
    cases: int = 0  # distinct cases that reached it


@dataclass(frozen=True)
class OverdueCase:
    """An open overdue case and since when (the earliest deadline it has missed)."""

    facts: CaseFacts
    detail: CaseDetail
    overdue_since: datetime
    overdue_seconds: float  # wall-clock seconds past ``overdue_since`` at ``as_of``

    @property
    def overdue_policy_hours(self) -> float:
        """How long overdue in policy hours (wall seconds ÷ time scale on compressed time)."""
        return policy_hours(self.overdue_seconds, self.facts.time_scale)


@dataclass
class Dashboard:
    """One period of one jurisdiction, for the supervisor's page."""

    report: Report  # the period's report: total, ranking by ``report.by``, monthly trend
    rankings: dict[str, list[RankRow]]  # street, department and the report's ``by``
    days: list[Bucket]
    weeks: list[Bucket]
    escalations: list[RungCount]
    overdue: list[OverdueCase]  # the worst first, at most ``worst``
    overdue_total: int  # every open overdue case of the facts
    names: Mapping[str, str] = field(default_factory=dict)


# --- loading --------------------------------------------------------------------------------------


def load_dashboard_facts(engine: Engine) -> tuple[list[EscalationFacts], dict[str, CaseDetail]]:
    """Escalation rows of every case, and the details of the open cases (keyed by case id)."""
    e, c, k = t.escalations.c, t.cases.c, t.clocks.c
    u = as_utc
    with engine.connect() as conn:
        escalation_rows = conn.execute(
            select(e.case_id, e.level, e.manual, e.unit_kind, e.unit_id, e.occurred_at).order_by(e.case_id, e.seq)
        ).all()
        case_rows = conn.execute(
            select(c.case_id, c.title, c.unit_kind, c.unit_id).where(
                c.opened_at.is_not(None), c.status.not_in(("closed", "rejected", "merged"))
            )
        ).all()
        missed_rows = conn.execute(
            select(k.case_id, k.due_at).where(or_(k.breached_at.is_not(None), k.outcome == "late"))
        ).all()
    missed: dict[str, datetime] = {}
    for mr in missed_rows:
        due = u(mr.due_at)
        if due is not None and (mr.case_id not in missed or due < missed[mr.case_id]):
            missed[mr.case_id] = due
    escalations = [
        EscalationFacts(
            case_id=r.case_id,
            level=r.level,
            manual=bool(r.manual),
            unit_kind=r.unit_kind,
            unit_id=r.unit_id,
            occurred_at=u(r.occurred_at),
        )
        for r in escalation_rows
    ]
    details = {
        r.case_id: CaseDetail(
            case_id=r.case_id,
            title=r.title,
            unit_kind=r.unit_kind,
            unit_id=r.unit_id,
            missed_due_at=missed.get(r.case_id),
        )
        for r in case_rows
    }
    return escalations, details


# --- the pure part --------------------------------------------------------------------------------


def local_day(when: datetime) -> date:
    """The local (Asia/Shanghai) date of ``when``."""
    return when.astimezone(CITY_ZONE).date()


def month_days(period: str) -> list[date]:
    """Every date of the month ``YYYY-MM``."""
    year, month = (int(x) for x in parse_period(period).split("-"))
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return [first + timedelta(days=i) for i in range((nxt - first).days)]


def _metrics(
    cases: Sequence[CaseFacts],
    assignments: Sequence[AssignmentFacts],
    as_of: datetime,
    basic_weight: float,
    weights: tuple[float, float, float],
) -> MetricSet:
    return compute(cases, assignments, as_of=as_of, basic_weight=basic_weight, weights=weights)


def daily(
    cases: Sequence[CaseFacts],
    assignments: Sequence[AssignmentFacts],
    period: str,
    *,
    as_of: datetime,
    basic_weight: float = 0.9,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
) -> list[Bucket]:
    """The metrics of the cases opened on each local day of ``period`` (every day, empty ones too)."""
    by_day: dict[date, list[CaseFacts]] = defaultdict(list)
    for c in cases:
        by_day[local_day(c.opened_at)].append(c)
    return [
        Bucket(d.isoformat(), d, d, _metrics(by_day.get(d, []), assignments, as_of, basic_weight, weights))
        for d in month_days(period)
    ]


def weekly(
    cases: Sequence[CaseFacts],
    assignments: Sequence[AssignmentFacts],
    period: str,
    *,
    as_of: datetime,
    basic_weight: float = 0.9,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
) -> list[Bucket]:
    """The metrics per ISO week (Monday to Sunday) of ``period``, each week clipped to the month.

    The weeks partition the month: every case opened in it falls in exactly one week.
    """
    days = month_days(period)
    first, last = days[0], days[-1]
    weeks: dict[tuple[int, int], list[date]] = defaultdict(list)
    for d in days:
        iso = d.isocalendar()
        weeks[(iso.year, iso.week)].append(d)
    by_week: dict[tuple[int, int], list[CaseFacts]] = defaultdict(list)
    for c in cases:
        d = local_day(c.opened_at)
        if first <= d <= last:
            iso = d.isocalendar()
            by_week[(iso.year, iso.week)].append(c)
    return [
        Bucket(
            f"{year:04d}-W{week:02d}",
            span[0],
            span[-1],
            _metrics(by_week.get((year, week), []), assignments, as_of, basic_weight, weights),
        )
        for (year, week), span in weeks.items()
    ]


def escalations_by_rung(escalations: Sequence[EscalationFacts], case_ids: set[str]) -> list[RungCount]:
    """Escalations of the cases ``case_ids`` per rung, lowest rung first (every rung, zero ones too).

    A level outside :data:`RUNGS` (a newer ladder) is listed after them."""
    rows = [e for e in escalations if e.case_id in case_ids]
    levels = [*RUNGS, *sorted({e.level for e in rows} - set(RUNGS))]
    out = []
    for level in levels:
        at = [e for e in rows if e.level == level]
        manual = sum(1 for e in at if e.manual)
        out.append(
            RungCount(
                level=level,
                count=len(at),
                manual=manual,
                automatic=len(at) - manual,
                cases=len({e.case_id for e in at}),
            )
        )
    return out


def overdue_cases(
    cases: Sequence[CaseFacts],
    details: Mapping[str, CaseDetail],
    *,
    as_of: datetime,
) -> list[OverdueCase]:
    """Every open case overdue at ``as_of`` (:func:`readmodel.kpis.is_overdue`), longest overdue first.

    Overdue since the earliest deadline the case has missed: a clock that breached or stopped late,
    or its running clock's due time when that has passed. Rejected, merged and excluded cases do
    not count (as in :func:`readmodel.kpis.overdue_open`); ties go by case id.
    """
    out = []
    for c in evaluated(cases):
        if not is_overdue(c, as_of):
            continue
        detail = details.get(c.case_id) or CaseDetail(case_id=c.case_id)
        candidates = [d for d in (detail.missed_due_at, c.next_due_at) if d is not None and d <= as_of]
        since = min(candidates) if candidates else as_of
        out.append(OverdueCase(c, detail, since, max(0.0, (as_of - since).total_seconds())))
    out.sort(key=lambda o: (-o.overdue_policy_hours, o.facts.case_id))
    return out


def dashboard_from_facts(
    cases: list[CaseFacts],
    assignments: list[AssignmentFacts],
    escalations: Sequence[EscalationFacts],
    details: Mapping[str, CaseDetail],
    period: str,
    by: str = "street",
    *,
    as_of: datetime,
    basic_weight: float = 0.9,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
    trend_months: int = 6,
    names: Mapping[str, str] | None = None,
    report_names: Mapping[str, str] | None = None,
    worst: int = 10,
    work: Sequence[WorkFacts] = (),
    person_names: Mapping[str, str] | None = None,
) -> Dashboard:
    """The dashboard of ``period`` over these facts (already restricted to the caller's jurisdiction).

    ``report_names`` are the names the report gets (as ``gridcase report`` passes them); ``names`` are
    the display names of every unit the page shows (streets, departments, grids...). ``work`` (the
    work-inside-the-units facts, :func:`~readmodel.kpis.load_work_facts`) and ``person_names`` go to the
    report, which counts only the events of the cases given.
    """
    report = report_from_facts(
        cases,
        assignments,
        period,
        by,
        as_of=as_of,
        basic_weight=basic_weight,
        weights=weights,
        trend_months=trend_months,
        names=report_names,
        work=work,
        person_names=person_names,
    )
    rankings = {by: report.rows}
    for dim in RANKED:
        if dim not in rankings:
            rankings[dim] = ranking(
                cases, assignments, dim, period, as_of=as_of, basic_weight=basic_weight, weights=weights
            )
    in_period = [c for c in cases if c.period == period]
    overdue = overdue_cases(cases, details, as_of=as_of)
    return Dashboard(
        report=report,
        rankings=rankings,
        days=daily(in_period, assignments, period, as_of=as_of, basic_weight=basic_weight, weights=weights),
        weeks=weekly(in_period, assignments, period, as_of=as_of, basic_weight=basic_weight, weights=weights),
        escalations=escalations_by_rung(escalations, {c.case_id for c in evaluated(in_period)}),
        overdue=overdue[:worst],
        overdue_total=len(overdue),
        names=dict(names or {}),
    )
