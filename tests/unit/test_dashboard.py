"""The supervisor dashboard's aggregation (readmodel.dashboard) on plain facts.

Classes of input: an empty period, a month of many cases (every figure is the report's), cases
without callbacks, every case overdue, cases opened on the local day boundary, escalations of
cases in and out of the period, and a district's facts (the export is the report of those facts).
"""

from __future__ import annotations

import csv
import io
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta

import pytest

from readmodel.dashboard import (
    RUNGS,
    CaseDetail,
    Dashboard,
    EscalationFacts,
    daily,
    dashboard_from_facts,
    escalations_by_rung,
    month_days,
    overdue_cases,
    weekly,
)
from readmodel.kpis import AssignmentFacts, CaseFacts, MetricSet, compute, ranking
from readmodel.report import render_csv, report_from_facts

H = timedelta(hours=1)
NOV = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 2 November, 09:00 Shanghai
AS_OF = datetime(2026, 11, 20, 4, tzinfo=UTC)
W = {"basic_weight": 0.9, "weights": (0.1, 0.5, 0.4)}


def case(case_id: str, opened_at: datetime = NOV, **kw: object) -> CaseFacts:
    base: dict[str, object] = {
        "case_id": case_id,
        "status": "closed",
        "opened_at": opened_at,
        "category": "noise",
        "district_id": "D-1",
        "street_id": "S-1",
        "grid_id": "G-1",
        "closure_type": "normal",
        "responded_on_time": True,
        "resolved_on_time": True,
        "first_resolved_at": opened_at + 2 * H,
        "resolved_at": opened_at + 2 * H,
        "closed_at": opened_at + 3 * H,
        "rating": "satisfied",
        "callback_resolved": True,
    }
    base.update(kw)
    return CaseFacts(**base)  # type: ignore[arg-type]


def open_case(case_id: str, opened_at: datetime = NOV, **kw: object) -> CaseFacts:
    defaults: dict[str, object] = {
        "status": "handling",
        "closure_type": None,
        "resolved_on_time": None,
        "first_resolved_at": None,
        "resolved_at": None,
        "closed_at": None,
        "rating": None,
        "callback_resolved": None,
    }
    return case(case_id, opened_at, **{**defaults, **kw})


def month_of_cases() -> tuple[list[CaseFacts], list[AssignmentFacts]]:
    """November: two streets, two departments, open and closed, rated in every way; one October case."""
    cases = [
        case("A"),
        case("B", NOV + 24 * H, rating="basically_satisfied", departments=frozenset({"water"}), whistled=True),
        case("C", NOV + 48 * H, rating="dissatisfied", callback_resolved=False, reworked=True),
        case("D", NOV + 7 * 24 * H, street_id="S-2", grid_id="G-2", rating="unreachable", self_handled=True),
        open_case("E", NOV + 8 * 24 * H, street_id="S-2", breached=True, responded_on_time=False),
        open_case("F", NOV + 9 * 24 * H, street_id="S-2", next_due_at=AS_OF + 24 * H),
        case("G", NOV, status="rejected"),
        case("J", NOV - 30 * 24 * H, departments=frozenset({"parks"})),
        open_case("K", NOV + 15 * 24 * H, departments=frozenset({"parks"}), next_due_at=AS_OF - 2 * H),
    ]
    assignments = [
        AssignmentFacts("B", "whistle", "department", "water", first_on_time=True),
        AssignmentFacts("B", "dispatch", "street", "S-1"),
        AssignmentFacts("K", "dispatch", "department", "parks", returned=True),
        AssignmentFacts("J", "dispatch", "department", "parks"),
    ]
    return cases, assignments


def board(
    cases: list[CaseFacts],
    assignments: list[AssignmentFacts],
    period: str = "2026-11",
    by: str = "street",
    *,
    escalations: list[EscalationFacts] | None = None,
    details: dict[str, CaseDetail] | None = None,
    report_names: dict[str, str] | None = None,
) -> Dashboard:
    return dashboard_from_facts(
        cases,
        assignments,
        escalations or [],
        details or {},
        period,
        by,
        as_of=AS_OF,
        basic_weight=0.9,
        weights=(0.1, 0.5, 0.4),
        report_names=report_names,
    )


# --- the month's figures are the report's -------------------------------------------------------


@pytest.mark.parametrize("by", ["street", "department", "grid", "category"])
def test_every_figure_is_the_reports(by: str) -> None:
    cases, assignments = month_of_cases()
    d = board(cases, assignments, by=by, report_names={"S-1": "新华街道"})
    report = report_from_facts(cases, assignments, "2026-11", by, as_of=AS_OF, **W, names={"S-1": "新华街道"})
    assert render_csv(d.report) == render_csv(report)
    november = [c for c in cases if c.period == "2026-11"]
    assert d.report.total == compute(november, assignments, as_of=AS_OF, **W)
    assert d.rankings[by] == report.rows
    for dim in ("street", "department"):
        assert d.rankings[dim] == ranking(cases, assignments, dim, "2026-11", as_of=AS_OF, **W)
    total_row = list(csv.DictReader(io.StringIO(render_csv(d.report))))[-1]
    assert total_row["key"] == "total" and int(total_row["cases"]) == d.report.total.cases == 7
    assert float(total_row["composite"]) == pytest.approx(d.report.total.composite, abs=1e-4)


def test_the_rankings_name_streets_and_departments() -> None:
    cases, assignments = month_of_cases()
    d = board(cases, assignments)
    assert [r.key for r in d.rankings["street"]] == ["S-1", "S-2"]
    assert {r.key for r in d.rankings["department"]} == {"water", "parks"}  # J (October) does not count
    parks = next(r for r in d.rankings["department"] if r.key == "parks")
    assert parks.metrics.cases == 1 and parks.metrics.return_rate == 1.0


# --- trend within the month -----------------------------------------------------------------------


def test_days_and_weeks_partition_the_month() -> None:
    cases, assignments = month_of_cases()
    d = board(cases, assignments)
    assert [b.start for b in d.days] == month_days("2026-11") and len(d.days) == 30
    assert sum(b.metrics.cases for b in d.days) == d.report.total.cases
    assert sum(b.metrics.cases for b in d.weeks) == d.report.total.cases
    assert d.weeks[0].start == date(2026, 11, 1) and d.weeks[0].end == date(2026, 11, 1)  # Sunday 1st: W44
    assert d.weeks[0].key == "2026-W44" and d.weeks[1].key == "2026-W45"
    assert d.weeks[-1].end == date(2026, 11, 30)
    assert all((b.end - b.start).days <= 6 for b in d.weeks)
    by_day = {b.key: b.metrics for b in d.days}
    assert by_day["2026-11-02"].cases == 1 and by_day["2026-11-02"].composite == pytest.approx(1.0)
    assert by_day["2026-11-05"].cases == 0 and by_day["2026-11-05"].response_rate is None


def test_a_case_belongs_to_its_local_day() -> None:
    late = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 1 December 00:30 in Shanghai
    early = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)  # 1 November 00:30 in Shanghai
    cases = [case("late", late), case("early", early)]
    nov = daily([c for c in cases if c.period == "2026-11"], [], "2026-11", as_of=AS_OF)
    assert {b.key: b.metrics.cases for b in nov if b.metrics.cases} == {"2026-11-01": 1}
    dec = weekly([c for c in cases if c.period == "2026-12"], [], "2026-12", as_of=AS_OF)
    assert dec[0].start == date(2026, 12, 1) and dec[0].metrics.cases == 1


@pytest.mark.parametrize(("period", "days"), [("2026-02", 28), ("2028-02", 29), ("2026-12", 31), ("2026-04", 30)])
def test_month_days(period: str, days: int) -> None:
    d = month_days(period)
    assert len(d) == days and d[0].day == 1 and len({x.month for x in d}) == 1


def test_a_bad_period_is_refused() -> None:
    with pytest.raises(ValueError, match="period"):
        board([], [], period="2026-13")


# --- empty, no callbacks, all overdue -------------------------------------------------------------


def test_an_empty_period() -> None:
    cases, assignments = month_of_cases()
    d = board(cases, assignments, period="2027-03")
    assert d.report.total == MetricSet()
    assert d.report.notes == ["no case was opened in 2027-03"]
    assert d.rankings == {"street": [], "department": []}
    assert all(b.metrics.cases == 0 and b.metrics.composite is None for b in (*d.days, *d.weeks))
    assert [(r.level, r.count) for r in d.escalations] == [(level, 0) for level in RUNGS]
    # the overdue list is "as of now": the November cases still overdue show whatever the period
    # K's running clock is 2 h past due; E breached with no deadline known (as of now: 0 s)
    assert [o.facts.case_id for o in d.overdue] == ["K", "E"]
    assert d.overdue[0].overdue_seconds == 2 * 3600 and d.overdue[1].overdue_seconds == 0
    empty = board([], [])
    assert empty.overdue == [] and empty.overdue_total == 0 and len(empty.days) == 30


def test_cases_without_callbacks_have_no_resolution_satisfaction_or_composite() -> None:
    cases = [case(f"N{i}", NOV + i * H, rating=None, callback_resolved=None) for i in range(4)]
    d = board(cases, [])
    t = d.report.total
    assert t.cases == 4 and t.valid_callbacks == 0
    assert t.response_rate == 1.0 and t.resolution_rate is None and t.satisfaction_rate is None
    assert t.composite is None and t.on_time_resolution_rate == 1.0 and t.rework_rate == 0.0
    assert d.rankings["street"][0].metrics.composite is None
    unreachable = board([case("U", rating="unreachable", callback_resolved=False)], [])
    assert unreachable.report.total.valid_callbacks == 0 and unreachable.report.total.composite is None


def test_all_overdue_worst_first_and_cut_at_ten() -> None:
    cases = [open_case(f"O{i:02d}", NOV + i * H, breached=i % 2 == 0, next_due_at=NOV + (i + 1) * H) for i in range(14)]
    details = {c.case_id: CaseDetail(c.case_id, title=f"t{c.case_id}") for c in cases}
    d = board(cases, [], details=details)
    assert d.report.total.overdue_open == 14 == d.overdue_total
    assert [o.facts.case_id for o in d.overdue] == [f"O{i:02d}" for i in range(10)]  # earliest deadline first
    hours = [o.overdue_policy_hours for o in d.overdue]
    assert hours == sorted(hours, reverse=True)
    assert d.overdue[0].overdue_since == NOV + H and d.overdue[0].detail.title == "tO00"
    assert d.overdue[0].overdue_seconds == (AS_OF - (NOV + H)).total_seconds()


def test_overdue_since_the_earliest_missed_deadline() -> None:
    missed = NOV + 3 * H
    c = open_case("M", breached=True, next_due_at=AS_OF + 5 * H)  # breached earlier; its running clock is on time
    [o] = overdue_cases([c], {"M": CaseDetail("M", missed_due_at=missed)}, as_of=AS_OF)
    assert o.overdue_since == missed
    # both a missed deadline and a running clock past due: the earlier one
    c2 = open_case("P", breached=True, next_due_at=NOV + H)
    [o2] = overdue_cases([c2], {"P": CaseDetail("P", missed_due_at=missed)}, as_of=AS_OF)
    assert o2.overdue_since == NOV + H


def test_overdue_excludes_finished_rejected_excluded_and_on_time_cases() -> None:
    cases = [
        case("closed", breached=True),
        open_case("rejected", status="rejected", breached=True),
        open_case("excluded", breached=True, excluded=True),
        open_case("on-time", next_due_at=AS_OF + H),
        open_case("no-clock"),
        open_case("due", next_due_at=AS_OF - H),
    ]
    assert [o.facts.case_id for o in overdue_cases(cases, {}, as_of=AS_OF)] == ["due"]


def test_overdue_is_ranked_in_policy_hours() -> None:
    # 2 wall hours on compressed time (30 s per policy hour) are 240 policy hours: worse than 10 real hours
    fast = open_case("fast", next_due_at=AS_OF - 2 * H, time_scale=30.0)
    slow = open_case("slow", next_due_at=AS_OF - 10 * H)
    out = overdue_cases([slow, fast], {}, as_of=AS_OF)
    assert [o.facts.case_id for o in out] == ["fast", "slow"]
    assert out[0].overdue_policy_hours == pytest.approx(240.0) and out[1].overdue_policy_hours == pytest.approx(10.0)


# --- escalations ----------------------------------------------------------------------------------


def esc(case_id: str, level: str, manual: bool = False) -> EscalationFacts:
    return EscalationFacts(case_id, level, manual, "street", "S-1", NOV)


def test_escalations_by_rung() -> None:
    cases, assignments = month_of_cases()
    rows = [
        esc("E", "reminder"),
        esc("E", "reminder"),
        esc("E", "supervision"),
        esc("K", "reminder", manual=True),
        esc("K", "public_notice", manual=True),
        esc("J", "public_notice"),  # October: not this period
        esc("G", "reminder"),  # rejected: not evaluated
    ]
    d = board(cases, assignments, escalations=rows)
    got = {r.level: (r.count, r.manual, r.automatic, r.cases) for r in d.escalations}
    assert [r.level for r in d.escalations] == list(RUNGS)
    assert got == {"reminder": (3, 1, 2, 2), "supervision": (1, 0, 1, 1), "public_notice": (1, 1, 0, 1)}


def test_an_unknown_rung_is_listed_after_the_ladder() -> None:
    out = escalations_by_rung([esc("A", "hearing"), esc("A", "reminder")], {"A"})
    assert [(r.level, r.count) for r in out] == [
        ("reminder", 1),
        ("supervision", 0),
        ("public_notice", 0),
        ("hearing", 1),
    ]
    assert all(r.count == 0 for r in escalations_by_rung([esc("A", "reminder")], set()))


# --- a district's facts ---------------------------------------------------------------------------


def test_a_districts_dashboard_is_the_report_of_its_facts() -> None:
    cases, assignments = month_of_cases()
    other = [case("X1", district_id="D-2", street_id="S-9"), open_case("X2", district_id="D-2", breached=True)]
    everything = [*cases, *other]
    district = [c for c in everything if c.district_id == "D-1"]
    d = board(district, assignments)
    assert render_csv(d.report) == render_csv(
        report_from_facts(district, assignments, "2026-11", "street", as_of=AS_OF, **W)
    )
    assert "S-9" not in {r.key for r in d.rankings["street"]}
    assert d.overdue_total == 2  # E and K; X2 is another district's
    city = board(everything, assignments)
    assert city.report.total.cases == d.report.total.cases + 2 and city.overdue_total == 3


def test_the_api_model_carries_every_metric() -> None:
    from workers.api.routes.dashboard import DashboardMetrics

    names = {f.name for f in fields(MetricSet)} - {"extra"}
    assert set(DashboardMetrics.model_fields) == names
    cases, assignments = month_of_cases()
    m = board(cases, assignments).report.total
    assert DashboardMetrics.of(m).model_dump() == m.as_dict()
