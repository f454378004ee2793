"""The work inside the units in the metrics and the reports: sent-back rate, interim-reply on-time
rate, corrections per unit and per category, each handler's load; on facts computed by hand.

November 2026. Evaluated cases: A B C H (E is rejected, F's appeal was granted); G and D were opened
in October.

| case | status | category | unit, handler | work events (unit) |
|---|---|---|---|---|
| A | closed in Nov | noise | housing, h-1 | submitted, sent back, submitted, approved; interim on time; reclassified |
| B | handling, overdue | illegal-construction | housing, h-1 | submitted; interim late, interim on time; urgency |
| C | handling | noise | street S-1, p-1 | relocated (S-1) |
| H | registered (recalled) | garbage | none | reclassified, relocated (no unit) |
| E | rejected | noise | housing, h-1 | submitted, sent back (not counted) |
| F | handling, appeal granted | noise | housing, h-2 | interim late (not counted) |
| G | opened Oct, closed Nov | noise | housing, h-2 | submitted, sent back (October's) |
| D | opened and closed Oct | noise | S-1, p-1 | - |

housing: 3 submitted, 1 sent back → 1/3; 3 interim replies, 2 on time → 2/3; 1 reclassified, 1 urgency.
S-1: no reply, no interim reply (both rates undefined); 1 relocated. No unit: 1 reclassified, 1 relocated.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from readmodel.dashboard import dashboard_from_facts
from readmodel.kpis import (
    NO_UNIT,
    CaseFacts,
    CorrectionCounts,
    PersonLoad,
    UnitWork,
    WorkFacts,
    corrections_by_category,
    interim_on_time_rate,
    person_load,
    sent_back_rate,
    unit_work,
    work_by_unit,
)
from readmodel.projection import detail_value
from readmodel.report import COLUMNS, REPORT_BY, Report, render_csv, render_html, render_table, report_from_facts

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
OCT = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
AS_OF = T0 + timedelta(days=10)
H = timedelta(hours=1)
WEIGHTS = (0.1, 0.5, 0.4)
HOUSING = ("department", "housing")
S1 = ("street", "S-1")


def fact(case_id: str, status: str, unit: tuple[str, str] | None, handler: str | None, **kw: object) -> CaseFacts:
    base: dict[str, object] = {
        "case_id": case_id,
        "status": status,
        "opened_at": T0,
        "category": "noise",
        "street_id": "S-1",
        "unit_kind": unit[0] if unit else None,
        "unit_id": unit[1] if unit else None,
        "handler_id": handler,
    }
    if status == "closed":
        base.update(closure_type="normal", closed_at=T0 + 48 * H, first_resolved_at=T0 + 24 * H)
    base.update(kw)
    return CaseFacts(**base)  # type: ignore[arg-type]


CASES = [
    fact("A", "closed", HOUSING, "h-1"),
    fact("B", "handling", HOUSING, "h-1", category="illegal-construction", breached=True),
    fact("C", "handling", S1, "p-1", next_due_at=AS_OF + 24 * H),
    fact("H", "registered", None, None, category="garbage"),
    fact("E", "rejected", HOUSING, "h-1"),
    fact("F", "handling", HOUSING, "h-2", excluded=True),
    fact("G", "closed", HOUSING, "h-2", opened_at=OCT),
    fact("D", "closed", S1, "p-1", opened_at=OCT, closed_at=OCT + 48 * H),
]


def ev(case_id: str, seq: int, type_: str, unit: tuple[str, str] | None, on_time: bool | None = None) -> WorkFacts:
    kind, ident = unit if unit else (None, None)
    return WorkFacts(case_id, seq, type_, T0 + seq * H, kind, ident, on_time)


SUB, BACK, OK = "case.reply_submitted", "case.reply_sent_back", "case.reply_approved"
INTERIM = "case.interim_replied"
WORK = [
    ev("A", 10, SUB, HOUSING),
    ev("A", 11, BACK, HOUSING),
    ev("A", 12, SUB, HOUSING),
    ev("A", 13, OK, HOUSING),
    ev("A", 9, INTERIM, HOUSING, True),
    ev("A", 5, "case.reclassified", HOUSING),
    ev("B", 10, SUB, HOUSING),
    ev("B", 8, INTERIM, HOUSING, False),
    ev("B", 9, INTERIM, HOUSING, True),
    ev("B", 6, "case.urgency_changed", HOUSING),
    ev("C", 7, "case.relocated", S1),
    ev("H", 2, "case.reclassified", None),
    ev("H", 3, "case.relocated", None),
    ev("E", 10, SUB, HOUSING),
    ev("E", 11, BACK, HOUSING),
    ev("F", 9, INTERIM, HOUSING, False),
    ev("G", 10, SUB, HOUSING),
    ev("G", 11, BACK, HOUSING),
]
NOVEMBER = [c for c in CASES if c.period == "2026-11"]


def test_the_rates_over_events() -> None:
    counted = [e for e in WORK if e.case_id in {"A", "B"}]
    assert sent_back_rate(counted) == pytest.approx(1 / 3)
    assert interim_on_time_rate(counted) == pytest.approx(2 / 3)
    assert sent_back_rate([e for e in WORK if e.case_id == "C"]) is None  # nothing submitted: undefined, not 0
    assert interim_on_time_rate([]) is None
    assert sent_back_rate([ev("X", 1, SUB, HOUSING), ev("X", 2, BACK, HOUSING)]) == 1.0
    assert interim_on_time_rate([ev("X", 1, INTERIM, S1, False)]) == 0.0


def test_work_per_unit_counts_only_the_evaluated_cases() -> None:
    by = work_by_unit(NOVEMBER, WORK)
    assert list(by) == [NO_UNIT, "department:housing", "street:S-1"]
    assert by["department:housing"] == UnitWork(
        replies_submitted=3,
        replies_sent_back=1,
        replies_approved=1,
        sent_back_rate=pytest.approx(1 / 3),  # type: ignore[arg-type]
        interim_replies=3,
        interim_on_time=2,
        interim_on_time_rate=pytest.approx(2 / 3),  # type: ignore[arg-type]
        corrections=CorrectionCounts(reclassified=1, urgency_changed=1),
    )
    s1 = by["street:S-1"]
    assert (s1.sent_back_rate, s1.interim_on_time_rate, s1.corrections) == (None, None, CorrectionCounts(relocated=1))
    assert by[NO_UNIT].corrections == CorrectionCounts(reclassified=1, relocated=1)
    assert by[NO_UNIT].corrections.total == 2
    everything = work_by_unit(CASES, WORK)  # with October's G: its submission and send-back count too
    assert everything["department:housing"].replies_submitted == 4
    assert everything["department:housing"].sent_back_rate == pytest.approx(2 / 4)


def test_the_total_is_every_units_together() -> None:
    ids = {"A", "B", "C", "H"}
    total = unit_work([e for e in WORK if e.case_id in ids])
    assert (total.replies_submitted, total.replies_sent_back, total.interim_replies, total.interim_on_time) == (
        3,
        1,
        3,
        2,
    )
    assert total.corrections == CorrectionCounts(reclassified=2, urgency_changed=1, relocated=2)
    parts = work_by_unit(NOVEMBER, WORK).values()
    assert sum(p.replies_submitted for p in parts) == total.replies_submitted
    assert sum(p.corrections.total for p in parts) == total.corrections.total == 5


def test_corrections_per_category_count_for_the_category_as_it_stands() -> None:
    assert corrections_by_category(NOVEMBER, WORK) == {
        "garbage": CorrectionCounts(reclassified=1, relocated=1),
        "illegal-construction": CorrectionCounts(urgency_changed=1),
        "noise": CorrectionCounts(reclassified=1, relocated=1),
    }
    assert corrections_by_category(NOVEMBER, [e for e in WORK if e.type == SUB]) == {}


def test_each_handlers_load_open_now_and_closed_in_the_period() -> None:
    assert person_load(CASES, "2026-11", as_of=AS_OF) == [
        PersonLoad("h-1", "department", "housing", open=1, overdue=1, closed=1),  # B open (breached); A closed
        PersonLoad("p-1", "street", "S-1", open=1, overdue=0, closed=0),  # D was closed in October
        PersonLoad("h-2", "department", "housing", open=0, overdue=0, closed=1),  # G (opened in October); F excluded
    ]
    october = person_load(CASES, "2026-10", as_of=AS_OF)
    assert {(p.handler_id, p.closed) for p in october} == {("h-1", 0), ("p-1", 1)}  # h-2 has nothing then
    assert person_load(CASES, "2026-11", as_of=T0) == [
        PersonLoad("h-1", "department", "housing", open=1, overdue=1, closed=1),
        PersonLoad("p-1", "street", "S-1", open=1, overdue=0, closed=0),
        PersonLoad("h-2", "department", "housing", open=0, overdue=0, closed=1),
    ]
    assert person_load([c for c in CASES if c.handler_id is None], "2026-11", as_of=AS_OF) == []


def test_detail_values_are_read_from_the_events_own_fields() -> None:
    detail = "unit=department:housing number=2 due_at=2026-11-05T01:00:00Z on_time=False"
    assert detail_value(detail, "on_time") == "False" and detail_value(detail, "number") == "2"
    assert detail_value(detail, "missing") is None and detail_value(None, "on_time") is None
    assert detail_value("reason=say on_time=True on_time=False", "on_time") == "False"  # the last one wins


# --- the reports ---------------------------------------------------------------------------------


def _report(
    work: list[WorkFacts], names: dict[str, str] | None = None, person_names: dict[str, str] | None = None
) -> Report:
    return report_from_facts(
        CASES,
        [],
        "2026-11",
        "street",
        as_of=AS_OF,
        basic_weight=0.9,
        weights=WEIGHTS,
        work=work,
        names=names,
        person_names=person_names,
    )


NAMES = {"housing": "住建局", "S-1": "通道街道"}
PEOPLE = {"h-1": "李四", "p-1": "王五"}


def test_the_report_carries_the_work_of_the_periods_cases() -> None:
    report = _report(WORK, names=NAMES, person_names=PEOPLE)
    assert report.work == unit_work([e for e in WORK if e.case_id in {"A", "B", "C", "H"}])
    assert report.work_by_unit == work_by_unit(NOVEMBER, WORK)
    assert report.corrections_by_category == corrections_by_category(NOVEMBER, WORK)
    assert report.people == person_load(CASES, "2026-11", as_of=AS_OF)
    assert report.has_work


def test_table_and_html_show_the_work_with_names_beside_the_ids() -> None:
    report = _report(WORK, names=NAMES, person_names=PEOPLE)
    text = render_table(report, width=400)
    assert "work inside the units" in text and "corrections by category" in text and "load per handler" in text
    assert "department:housing 住建局" in text and "h-1 李四" in text and "h-2" in text
    assert "33.3%" in text and "66.7%" in text  # sent back 1 of 3, interim on time 2 of 3
    page = render_html(report)
    assert "<h2>Work inside the units" in page and "<h2>Corrections by category</h2>" in page
    assert "<td>department:housing 住建局</td>" in page and "<td>h-1 李四</td>" in page
    assert "<td>illegal-construction</td>" in page
    # interim on time below 70 % is red; so is a sent-back rate of 20 % or more (lower is better there)
    assert '<td class="bad">66.7%</td>' in page and '<td class="bad">33.3%</td>' in page
    good = render_html(_report([ev("A", 10, SUB, HOUSING), *[ev("B", 10 + i, SUB, HOUSING) for i in range(19)]]))
    assert '<td class="good">0.0%</td>' in good  # 20 replies, none sent back
    assert page.count("<svg") == 3  # no new chart: the page stays as it was besides the tables
    unnamed = render_html(_report(WORK))
    assert "<td>h-1</td>" in unnamed and "李四" not in unnamed


# The cases of the CSV: in two departments, districts, streets, communities and grids and three
# categories, so that every dimension ranks more than one key; a department (parks) ranks without work.
CSV_CASES = [
    replace(
        c,
        departments=frozenset({"housing"} if c.unit_kind == "department" else {"parks"}),
        district_id="D-1" if c.case_id in {"A", "B"} else "D-2",
        street_id="S-2" if c.case_id == "H" else c.street_id,
        community_id="C-1" if c.case_id in {"A", "B", "C"} else "C-2",
        grid_id="G-1" if c.case_id in {"A", "B", "C"} else "G-2",
    )
    for c in CASES
]
LEADING = ["period", "by", "rank", "key", "name", *[c[0] for c in COLUMNS], "compressed_cases"]
TRAILING = ["replies_submitted", "sent_back_rate", "interim_replies", "interim_on_time_rate", "corrections"]


def _csv(by: str, work: list[WorkFacts]) -> list[dict[str, str]]:
    report = report_from_facts(
        CSV_CASES, [], "2026-11", by, as_of=AS_OF, basic_weight=0.9, weights=WEIGHTS, work=work, names=NAMES
    )
    return list(csv.DictReader(io.StringIO(render_csv(report))))


def _cells(events: list[WorkFacts]) -> list[str]:
    """The trailing cells, worked out from the events themselves."""
    submitted = sum(1 for e in events if e.type == SUB)
    sent_back = sum(1 for e in events if e.type == BACK)
    interim = [e for e in events if e.type == INTERIM]
    corrections = sum(1 for e in events if e.type in {"case.reclassified", "case.urgency_changed", "case.relocated"})
    return [
        str(submitted),
        f"{sent_back / submitted:.4f}" if submitted else "",
        str(len(interim)),
        f"{sum(1 for e in interim if e.on_time) / len(interim):.4f}" if interim else "",
        str(corrections),
    ]


COUNTED = [e for e in WORK if e.case_id in {"A", "B", "C", "H"}]  # November's evaluated cases


@pytest.mark.parametrize("by", REPORT_BY)
def test_the_csv_keeps_its_columns_and_rows_whatever_the_work(by: str) -> None:
    with_work, without = _csv(by, WORK), _csv(by, [])
    assert len(with_work) > 2, f"{by}: the facts rank one key at most"
    assert list(with_work[0]) == LEADING + TRAILING  # the new columns come after every existing one
    assert [[r[k] for k in LEADING] for r in with_work] == [[r[k] for k in LEADING] for r in without]
    assert with_work[-1]["key"] == "total" and with_work[-1]["rank"] == ""


@pytest.mark.parametrize("by", ["street", "department", "grid"])
def test_a_unit_row_carries_that_units_work(by: str) -> None:
    rows = {r["key"]: r for r in _csv(by, WORK)}
    for key, row in rows.items():
        events = COUNTED if key == "total" else [e for e in COUNTED if e.unit == f"{by}:{key}"]
        assert [row[k] for k in TRAILING] == _cells(events), key


def test_the_unit_rows_cover_defined_and_undefined_figures() -> None:
    department = {r["key"]: r for r in _csv("department", WORK)}
    assert [department["housing"][k] for k in TRAILING] == ["3", "0.3333", "3", "0.6667", "2"]
    assert [department["parks"][k] for k in TRAILING] == ["0", "", "0", "", "0"]  # no work: rates undefined
    street = {r["key"]: r for r in _csv("street", WORK)}
    assert [street["S-1"][k] for k in TRAILING] == ["0", "", "0", "", "1"]  # S-1 relocated C, reviewed nothing
    assert [street["total"][k] for k in TRAILING] == ["3", "0.3333", "3", "0.6667", "5"]  # with H's, no unit's
    quiet = {r["key"]: r for r in _csv("street", [])}
    assert [quiet["total"][k] for k in TRAILING] == ["0", "", "0", "", "0"]


def test_a_category_row_carries_the_work_over_its_cases() -> None:
    rows = {r["key"]: r for r in _csv("category", WORK)}
    category = {c.case_id: c.category for c in CSV_CASES}
    for key, row in rows.items():
        events = COUNTED if key == "total" else [e for e in COUNTED if category[e.case_id] == key]
        assert [row[k] for k in TRAILING] == _cells(events), key
    assert [rows["noise"][k] for k in TRAILING] == ["2", "0.5000", "1", "1.0000", "2"]  # A and C
    assert [rows["garbage"][k] for k in TRAILING] == ["0", "", "0", "", "2"]  # H: corrections only
    by_category = corrections_by_category(NOVEMBER, WORK)
    assert {k: int(r["corrections"]) for k, r in rows.items() if k != "total"} == {
        k: by_category[k].total if k in by_category else 0 for k in rows if k != "total"
    }


@pytest.mark.parametrize("by", ["district", "community"])
def test_a_row_of_no_handling_unit_has_empty_work_cells(by: str) -> None:
    rows = _csv(by, WORK)
    assert all([r[k] for k in TRAILING] == [""] * len(TRAILING) for r in rows[:-1])
    assert [rows[-1][k] for k in TRAILING] == _cells(COUNTED)


def test_a_period_without_any_work_shows_no_work_section() -> None:
    quiet = [c for c in CASES if c.handler_id is None]
    report = report_from_facts(quiet, [], "2026-11", "street", as_of=AS_OF, basic_weight=0.9, weights=WEIGHTS)
    assert not report.has_work and report.work == UnitWork()
    assert "Work inside" not in render_html(report) and "Load per handler" not in render_html(report)
    assert "work inside the units" not in render_table(report, width=400)


def test_the_dashboard_passes_the_work_to_its_report() -> None:
    d = dashboard_from_facts(CASES, [], [], {}, "2026-11", as_of=AS_OF, work=WORK, person_names=PEOPLE)
    assert d.report.work_by_unit == _report(WORK).work_by_unit and d.report.person_names == PEOPLE
