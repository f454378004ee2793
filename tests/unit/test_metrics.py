"""Every metric formula against a small set of cases computed by hand (see docs/metrics.md).

November 2026, street S-1 and S-2, departments water and parks. Evaluated cases: A B C D E F I
(G is rejected, H has a granted appeal). J is the one October case.

| case | status | street | responded | resolve on time | resolved after | callback (solved) | notes |
|---|---|---|---|---|---|---|---|
| A | closed normal | S-1 | yes | yes | 2 h | 满意 (yes) | street |
| B | closed overdue | S-1 | no | no | 10 h | 基本满意 (yes) | street, whistle: water on time, parks late |
| C | closed normal | S-1 | yes | yes | 4 h | 不满意 (no) | returned by water, then street; reworked |
| D | closed normal | S-2 | - | - | 1 h | - | grid self-handled |
| E | handling, breached | S-2 | no | no | - | - | dispatched to water, accepted late |
| F | handling, due +1 d | S-2 | yes | - | - | - | street |
| I | closed normal | S-2 | yes | yes | 3 h | unreachable | street |
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from readmodel.kpis import (
    AssignmentFacts,
    CaseFacts,
    composite_score,
    compute,
    evaluated,
    grid_self_handled_share,
    handling_hours,
    is_overdue,
    month_of,
    on_time_closure_rate,
    on_time_report_in_rate,
    on_time_resolution_rate,
    overdue_open,
    p90,
    policy_hours,
    ranking,
    resolution_rate,
    resolve_outcome,
    response_outcome,
    response_rate,
    return_rate,
    rework_rate,
    satisfaction_rate,
    slice_metrics,
    whistle_rate,
)

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
AS_OF = T0 + timedelta(hours=12)
H = timedelta(hours=1)


def _case(case_id: str, **kw: object) -> CaseFacts:
    base: dict[str, object] = dict(
        case_id=case_id,
        status="closed",
        opened_at=T0,
        district_id="D-1",
        street_id="S-1",
        community_id="C-1",
        grid_id="G-1",
        category="noise",
        channel="hotline",
    )
    base.update(kw)
    return CaseFacts(**base)  # type: ignore[arg-type]


A = _case(
    "A",
    closure_type="normal",
    responded_on_time=True,
    resolved_on_time=True,
    first_resolved_at=T0 + 2 * H,
    resolved_at=T0 + 2 * H,
    rating="satisfied",
    callback_resolved=True,
    street_handled=True,
)
B = _case(
    "B",
    closure_type="overdue",
    responded_on_time=False,
    resolved_on_time=False,
    first_resolved_at=T0 + 10 * H,
    resolved_at=T0 + 10 * H,
    rating="basically_satisfied",
    callback_resolved=True,
    street_handled=True,
    whistled=True,
    departments=frozenset({"water", "parks"}),
    breached=True,
)
C = _case(
    "C",
    closure_type="normal",
    responded_on_time=True,
    resolved_on_time=True,
    first_resolved_at=T0 + 1 * H,
    resolved_at=T0 + 4 * H,
    rating="unsatisfied",
    callback_resolved=False,
    reworked=True,
    street_handled=True,
    departments=frozenset({"water"}),
    category="roads",
    grid_id="G-2",
)
D = _case(
    "D",
    closure_type="normal",
    channel="grid_patrol",
    first_resolved_at=T0 + H,
    resolved_at=T0 + H,
    self_handled=True,
    street_id="S-2",
    grid_id="G-3",
    category="garbage",
)
E = _case(
    "E",
    status="handling",
    responded_on_time=False,
    resolved_on_time=False,
    breached=True,
    next_due_at=T0 + 2 * H,
    departments=frozenset({"water"}),
    street_id="S-2",
    grid_id="G-3",
    category="roads",
)
F = _case(
    "F",
    status="handling",
    responded_on_time=True,
    next_due_at=T0 + 24 * H,
    street_handled=True,
    street_id="S-2",
    grid_id="G-4",
)
G = _case("G", status="rejected")
HX = _case(
    "H",
    closure_type="normal",
    rating="unsatisfied",
    callback_resolved=False,
    excluded=True,
    responded_on_time=False,
    departments=frozenset({"parks"}),
)
I_ = _case(
    "I",
    closure_type="normal",
    responded_on_time=True,
    resolved_on_time=True,
    first_resolved_at=T0 + 3 * H,
    resolved_at=T0 + 3 * H,
    rating="unreachable",
    callback_resolved=True,
    street_handled=True,
    street_id="S-2",
    grid_id="G-4",
)
J = _case(
    "J",
    opened_at=datetime(2026, 10, 15, 2, tzinfo=UTC),
    closure_type="normal",
    responded_on_time=True,
    resolved_on_time=True,
    first_resolved_at=datetime(2026, 10, 15, 7, tzinfo=UTC),
    resolved_at=datetime(2026, 10, 15, 7, tzinfo=UTC),
    rating="satisfied",
    callback_resolved=True,
    street_handled=True,
)

NOV = [A, B, C, D, E, F, G, HX, I_]
EV = evaluated(NOV)

ASSIGNMENTS = [
    AssignmentFacts("A", "dispatch", "street", "S-1", first_on_time=True),
    AssignmentFacts("B", "dispatch", "street", "S-1", first_on_time=True),
    AssignmentFacts("B", "whistle", "department", "water", first_on_time=True),
    AssignmentFacts("B", "whistle", "department", "parks", first_on_time=False),
    AssignmentFacts("C", "dispatch", "department", "water", returned=True),
    AssignmentFacts("C", "dispatch", "street", "S-1", first_on_time=True),
    AssignmentFacts("E", "dispatch", "department", "water", first_on_time=False),
    AssignmentFacts("F", "dispatch", "street", "S-2"),
    AssignmentFacts("I", "dispatch", "street", "S-2", first_on_time=True),
    AssignmentFacts("H", "dispatch", "department", "parks", returned=True),
    AssignmentFacts("J", "dispatch", "street", "S-1", first_on_time=True),
]
EV_ASSIGNMENTS = [a for a in ASSIGNMENTS if a.case_id in {c.case_id for c in EV}]


def test_evaluated_drops_rejected_merged_and_appealed() -> None:
    assert [c.case_id for c in EV] == ["A", "B", "C", "D", "E", "F", "I"]
    assert evaluated([_case("M", status="merged")]) == []


def test_response_rate() -> None:
    assert response_rate(EV) == pytest.approx(4 / 6)  # A C F I of A B C E F I; D has no contact clock


def test_resolution_and_satisfaction_rates() -> None:
    # valid callbacks: A 满意 (solved), B 基本满意 (solved), C 不满意 (not solved); I unreachable
    assert resolution_rate(EV) == pytest.approx(2 / 3)
    assert satisfaction_rate(EV) == pytest.approx((1 + 0.9 * 1) / 3)
    assert satisfaction_rate(EV, basic_weight=0.5) == pytest.approx((1 + 0.5) / 3)
    assert satisfaction_rate([D, F]) is None and resolution_rate([D, F]) is None


def test_composite() -> None:
    assert composite_score(4 / 6, 2 / 3, 1.9 / 3) == pytest.approx(0.1 * 4 / 6 + 0.5 * 2 / 3 + 0.4 * 1.9 / 3)
    assert composite_score(0.5, 1.0, 0.25, (0.2, 0.4, 0.4)) == pytest.approx(0.1 + 0.4 + 0.1)
    assert composite_score(None, 1.0, 1.0) is None


def test_on_time_rates() -> None:
    assert on_time_resolution_rate(EV) == pytest.approx(3 / 5)  # A C I of A B C E I
    assert on_time_closure_rate(EV) == pytest.approx(4 / 5)  # A C D I normal, B overdue
    special = _case("S", closure_type="special")
    assert on_time_closure_rate([*EV, special]) == pytest.approx(4 / 5)


def test_rework_whistle_and_grid_share() -> None:
    # resolved at least once: A B C D I
    assert rework_rate(EV) == pytest.approx(1 / 5)  # C
    assert grid_self_handled_share(EV) == pytest.approx(1 / 5)  # D
    assert whistle_rate(EV) == pytest.approx(1 / 5)  # B of street-handled A B C F I


def test_assignment_rates() -> None:
    assert return_rate(EV_ASSIGNMENTS) == pytest.approx(1 / 7)  # C's dispatch to water, of 7 dispatches
    assert on_time_report_in_rate(EV_ASSIGNMENTS) == pytest.approx(1 / 2)  # water on time, parks late
    assert return_rate([]) is None and on_time_report_in_rate([]) is None


def test_handling_time_mean_and_p90() -> None:
    hours = sorted(handling_hours(EV))
    assert hours == pytest.approx([1, 2, 3, 4, 10])  # C counts from opening to its final resolution
    assert p90(hours) == 10  # nearest rank: ceil(0.9 × 5) = 5th
    assert p90([float(x) for x in range(1, 11)]) == 9  # ceil(0.9 × 10) = 9th
    assert p90([5.0]) == 5 and p90([]) is None


def test_overdue_open() -> None:
    assert is_overdue(E, AS_OF)  # breached
    assert not is_overdue(F, AS_OF)  # due in 24 h
    assert is_overdue(F, T0 + 25 * H)  # past due even without a breach event yet
    assert not is_overdue(B, AS_OF)  # breached but closed
    assert overdue_open(EV, AS_OF) == 1


def test_compute_bundles_every_formula() -> None:
    m = compute(NOV, ASSIGNMENTS, as_of=AS_OF)
    assert m.cases == 7 and m.open == 2 and m.closed == 5 and m.valid_callbacks == 3
    assert m.response_rate == pytest.approx(4 / 6)
    assert m.resolution_rate == pytest.approx(2 / 3)
    assert m.satisfaction_rate == pytest.approx(1.9 / 3)
    assert m.composite == pytest.approx(0.1 * 4 / 6 + 0.5 * 2 / 3 + 0.4 * 1.9 / 3)
    assert m.on_time_resolution_rate == pytest.approx(3 / 5)
    assert m.on_time_closure_rate == pytest.approx(4 / 5)
    assert m.rework_rate == pytest.approx(1 / 5)
    assert m.return_rate == pytest.approx(1 / 7)
    assert m.whistle_rate == pytest.approx(1 / 5)
    assert m.on_time_report_in_rate == pytest.approx(1 / 2)
    assert m.grid_self_handled_share == pytest.approx(1 / 5)
    assert m.mean_handling_hours == pytest.approx(4.0)
    assert m.p90_handling_hours == pytest.approx(10.0)
    assert m.overdue_open == 1
    custom = compute(NOV, ASSIGNMENTS, as_of=AS_OF, basic_weight=0.5, weights=(0.2, 0.4, 0.4))
    assert custom.satisfaction_rate == pytest.approx(0.5)
    assert custom.composite == pytest.approx(0.2 * 4 / 6 + 0.4 * 2 / 3 + 0.4 * 0.5)
    empty = compute([], [], as_of=AS_OF)
    assert empty.cases == 0 and all(
        v is None
        for k, v in empty.as_dict().items()
        if k not in ("cases", "overdue_open", "open", "closed", "valid_callbacks", "compressed_cases")
    )
    assert m.compressed_cases == 0  # every case above ran in real time


def test_slice_by_department() -> None:
    by = slice_metrics(NOV, ASSIGNMENTS, "department", as_of=AS_OF)
    assert list(by) == ["parks", "water"]
    water = by["water"]  # B C E; water's assignments: B whistle (on time), C dispatch (returned), E dispatch
    assert water.cases == 3
    assert water.response_rate == pytest.approx(1 / 3)
    assert water.resolution_rate == pytest.approx(1 / 2)
    assert water.satisfaction_rate == pytest.approx(0.9 / 2)
    assert water.composite == pytest.approx(0.1 / 3 + 0.5 * 0.5 + 0.4 * 0.45)
    assert water.return_rate == pytest.approx(1 / 2)
    assert water.on_time_report_in_rate == 1.0
    assert water.overdue_open == 1
    parks = by["parks"]  # B only (H is appealed away, so its returned dispatch does not count)
    assert parks.cases == 1 and parks.response_rate == 0.0 and parks.return_rate is None
    assert parks.on_time_report_in_rate == 0.0
    assert parks.composite == pytest.approx(0.0 + 0.5 + 0.4 * 0.9)


def test_slice_by_location_category_and_period() -> None:
    streets = slice_metrics(NOV, ASSIGNMENTS, "street", as_of=AS_OF)
    assert streets["S-1"].cases == 3 and streets["S-2"].cases == 4
    assert streets["S-1"].composite == pytest.approx(0.1 * 2 / 3 + 0.5 * 2 / 3 + 0.4 * 1.9 / 3)
    assert streets["S-2"].composite is None  # no valid callback in S-2
    assert streets["S-2"].grid_self_handled_share == pytest.approx(1 / 2)  # D of D I
    grids = slice_metrics(NOV, ASSIGNMENTS, "grid", as_of=AS_OF)
    assert {k: v.cases for k, v in grids.items()} == {"G-1": 2, "G-2": 1, "G-3": 2, "G-4": 2}
    assert slice_metrics(NOV, ASSIGNMENTS, "community", as_of=AS_OF)["C-1"].cases == 7
    assert slice_metrics(NOV, ASSIGNMENTS, "district", as_of=AS_OF)["D-1"].cases == 7
    cats = slice_metrics(NOV, ASSIGNMENTS, "category", as_of=AS_OF)
    assert {k: v.cases for k, v in cats.items()} == {"garbage": 1, "noise": 4, "roads": 2}  # noise: A B F I
    periods = slice_metrics([*NOV, J], ASSIGNMENTS, "period", as_of=AS_OF)
    assert list(periods) == ["2026-10", "2026-11"]
    assert periods["2026-10"].cases == 1 and periods["2026-10"].composite == pytest.approx(1.0)
    assert periods["2026-11"].cases == 7
    with pytest.raises(ValueError, match="by: must be one of"):
        slice_metrics(NOV, ASSIGNMENTS, "planet", as_of=AS_OF)


def test_monthly_rankings() -> None:
    streets = ranking([*NOV, J], ASSIGNMENTS, "street", "2026-11", as_of=AS_OF)
    assert [(r.rank, r.key) for r in streets] == [(1, "S-1"), (2, "S-2")]  # S-2 has no composite
    assert streets[0].metrics.cases == 3  # J (October) is not in the November ranking
    depts = ranking([*NOV, J], ASSIGNMENTS, "department", "2026-11", as_of=AS_OF)
    assert [(r.rank, r.key) for r in depts] == [(1, "parks"), (2, "water")]
    october = ranking([*NOV, J], ASSIGNMENTS, "street", "2026-10", as_of=AS_OF)
    assert [(r.rank, r.key, r.metrics.composite) for r in october] == [(1, "S-1", pytest.approx(1.0))]
    tied = ranking([_case("X1", street_id="S-8"), _case("X2", street_id="S-9")], [], "street", "2026-11", as_of=AS_OF)
    assert [(r.rank, r.key) for r in tied] == [(1, "S-8"), (1, "S-9")]


def test_period_is_the_local_month() -> None:
    assert month_of(datetime(2026, 10, 31, 17, tzinfo=UTC)) == "2026-11"  # 01:00 on 1 November in Shanghai
    assert month_of(datetime(2026, 10, 31, 15, tzinfo=UTC)) == "2026-10"
    assert J.period == "2026-10" and A.period == "2026-11"


def test_clock_outcomes() -> None:
    when = T0
    assert response_outcome([]) is None
    assert response_outcome([("met", None)]) is True
    assert response_outcome([("late", None)]) is False
    assert response_outcome([(None, when)]) is False  # breached, still running
    assert response_outcome([("cancelled", None)]) is None
    assert resolve_outcome([("met", None)], resolved=True) is True
    assert resolve_outcome([("met", None), (None, None)], resolved=False) is None  # reworked, running again
    assert resolve_outcome([("met", None), ("late", when)], resolved=True) is False
    assert resolve_outcome([], resolved=True) is None


# --- compressed SLA time: durations in policy hours ----------------------------------------------
#
# | case | time scale (wall s per policy h) | resolved after (wall) | handling, policy hours |
# |---|---|---|---|
# | R1 | real time | 3 h | 3 |
# | K1 | 10 | 50 s | 50 / 10 = 5 |
# | K2 | 2 | 48 s | 48 / 2 = 24 |
# | R2 | real time | open | - |
# | K3 | 10, rejected | - | - (not evaluated) |
#
# mean = (3 + 5 + 24) / 3 = 32 / 3; p90 = the ⌈0.9 × 3⌉ = 3rd smallest = 24.
# On wall-clock hours the mean would be (3 + 50/3600 + 48/3600) / 3 ≈ 1.009.

R1 = _case("R1", closure_type="normal", first_resolved_at=T0 + 3 * H, resolved_at=T0 + 3 * H)
K1 = _case(
    "K1",
    closure_type="normal",
    time_scale=10.0,
    first_resolved_at=T0 + timedelta(seconds=50),
    resolved_at=T0 + timedelta(seconds=50),
    street_id="S-2",
)
K2 = _case(
    "K2",
    closure_type="normal",
    time_scale=2.0,
    first_resolved_at=T0 + timedelta(seconds=48),
    resolved_at=T0 + timedelta(seconds=48),
    street_id="S-2",
)
R2 = _case("R2", status="handling")
K3 = _case("K3", status="rejected", time_scale=10.0)
MIXED = [R1, K1, K2, R2, K3]


def test_policy_hours() -> None:
    assert policy_hours(7200, None) == 2.0  # real time: wall-clock hours
    assert policy_hours(30, 10.0) == 3.0  # 10 wall-clock seconds per policy hour
    assert policy_hours(0.5, 0.25) == 2.0


def test_handling_hours_of_compressed_and_real_time_cases() -> None:
    assert sorted(handling_hours(evaluated(MIXED))) == pytest.approx([3.0, 5.0, 24.0])
    m = compute(MIXED, [], as_of=AS_OF)
    assert m.cases == 4 and m.compressed_cases == 2  # K1 K2; K3 is rejected
    assert m.mean_handling_hours == pytest.approx(32 / 3)
    assert m.p90_handling_hours == pytest.approx(24.0)
    streets = slice_metrics(MIXED, [], "street", as_of=AS_OF)
    assert streets["S-1"].compressed_cases == 0 and streets["S-1"].mean_handling_hours == pytest.approx(3.0)
    assert streets["S-2"].compressed_cases == 2 and streets["S-2"].mean_handling_hours == pytest.approx(14.5)


def test_report_says_when_handling_times_include_compressed_cases() -> None:
    import csv
    import io

    from readmodel.report import render_csv, render_html, render_table, report_from_facts, time_note

    mixed = report_from_facts(MIXED, [], "2026-11", "street", as_of=AS_OF, basic_weight=0.9, weights=(0.1, 0.5, 0.4))
    expected = (
        "handling times in policy hours; 2 of 4 cases ran on compressed time (wall-clock seconds ÷ time "
        "scale), 2 in real time (wall-clock hours)"
    )
    assert time_note(mixed) == expected
    text = render_table(mixed, width=400)
    assert expected in " ".join(text.split())  # the process table's caption
    assert "10.7" in text and "24.0" in text  # total mean 32/3 and p90, in policy hours
    assert expected in render_html(mixed) and "p90 handling, policy h" in render_html(mixed)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(render_csv(mixed)))}
    assert rows["total"]["compressed_cases"] == "2" and rows["S-1"]["compressed_cases"] == "0"
    assert float(rows["total"]["mean_handling_hours"]) == pytest.approx(32 / 3, abs=1e-4)
    only_compressed = report_from_facts(
        [K1, K2], [], "2026-11", "street", as_of=AS_OF, basic_weight=0.9, weights=(0.1, 0.5, 0.4)
    )
    assert time_note(only_compressed) == (
        "handling times in policy hours; 2 of 2 cases ran on compressed time (wall-clock seconds ÷ time scale)"
    )
    real = report_from_facts(
        NOV, ASSIGNMENTS, "2026-11", "street", as_of=AS_OF, basic_weight=0.9, weights=(0.1, 0.5, 0.4)
    )
    assert time_note(real) is None
    assert "compressed" not in render_table(real, width=400) and "compressed time" not in render_html(real)
