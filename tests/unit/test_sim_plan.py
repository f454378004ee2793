"""The simulator's planning: seeded, valid for the domain, and down every path and rung."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pytest

from events.base import CaseEventBase
from events.schemas import (
    CaseDispatched,
    CaseReclassified,
    CaseRelocated,
    CaseResolved,
    ClockKind,
    ClockRecomputed,
    EscalationLevel,
    EscalationRaised,
    InterimReplied,
    ReplyApproved,
    ReplySentBack,
    ReplySubmitted,
    SlaBreached,
    Urgency,
    UrgencyChanged,
)
from workers.sim.city import from_static
from workers.sim.config import Behaviour, ConfigError, Lateness, SimConfig, config_from_mapping, load_config
from workers.sim.plan import (
    FEATURES,
    PATHS,
    RUNGS,
    TOUR_SPACING,
    CasePlan,
    Scenario,
    arrivals,
    coverage_tour,
    draw_scenario,
    late_by_level,
    plan_stream,
)
from workflows.domain import CaseState, SlaContext, decide
from workflows.domain.evolve import apply_event
from workflows.domain.registry import sample_city
from workflows.domain.state import TERMINAL
from workflows.sla import clocks as sla_clocks
from workflows.sla.calendar import build_calendar
from workflows.sla.policy import default_policy
from workflows.sla.timescale import compress_policy

CITY = from_static(sample_city())
POLICY = default_policy()
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _stream(seed: int, count: int, cfg: SimConfig | None = None) -> list[CasePlan]:
    return list(
        plan_stream(
            cfg or SimConfig(),
            CITY,
            POLICY,
            seed=seed,
            prefix="T",
            rate_per_minute=60,
            seconds_per_hour=1.0,
            count=count,
        )
    )


@lru_cache(maxsize=4)
def _context(scale: float) -> SlaContext:
    return SlaContext(policy=compress_policy(POLICY, scale), calendar=build_calendar([2026]), time_scale=scale)


def play(plan: CasePlan, scale: float = 1.0) -> tuple[CaseState, list[CaseEventBase]]:
    """Run a plan through the pure domain on compressed time, at the planned instants."""
    ctx = _context(scale)
    state = CaseState(case_id=plan.case_id, sla=ctx)
    timeline: list[CaseEventBase] = []
    for at, cmd in [(0.0, plan.open), *[(s.at, s.command) for s in plan.steps]]:
        for event in decide(state, cmd, T0 + timedelta(seconds=at * scale)):  # type: ignore[arg-type]
            apply_event(state, event)
            timeline.append(event)
    return state, timeline


def rungs_of(timeline: list[CaseEventBase]) -> set[EscalationLevel]:
    return {e.level for e in timeline if isinstance(e, EscalationRaised) and e.clock_id}


def test_the_same_seed_plans_the_same_cases() -> None:
    a, b = _stream(7, 60), _stream(7, 60)
    assert [(p.case_id, p.arrival, p.open, p.steps) for p in a] == [(p.case_id, p.arrival, p.open, p.steps) for p in b]
    assert [p.steps for p in _stream(8, 60)] != [p.steps for p in a]


def test_the_tour_goes_down_every_path_side_path_and_rung() -> None:
    tour = _stream(1, 40)[: len(coverage_tour(CITY, random.Random(1), POLICY))]
    assert all(p.arrival == i * TOUR_SPACING for i, p in enumerate(tour))  # the tour's own cases only
    assert {p.path for p in tour} == set(PATHS)
    assert set().union(*(p.features for p in tour)) == set(FEATURES)
    assert set().union(*(p.scenario.planned_rungs for p in tour)) == set(RUNGS)


@pytest.mark.parametrize("kind", [ClockKind.ACCEPT, ClockKind.REPORT_IN, ClockKind.RESOLVE])
@pytest.mark.parametrize("urgency", list(Urgency))
def test_a_late_actor_reaches_exactly_the_rung_it_aims_at(kind: ClockKind, urgency: Urgency) -> None:
    cal = build_calendar([2026])
    sc = Scenario(channel="hotline", category=CITY.categories[0], urgency=urgency, location=CITY.grids[0], target=None)
    rule = compress_policy(POLICY, 1.0).rule_for(kind, sc.category.code, urgency)
    rng = random.Random(3)
    for level in range(4):
        for _ in range(20):
            hours = late_by_level(POLICY, kind, sc, level, rng)
            clock = sla_clocks.start_clock("c-1", kind, "street:S-1", rule, cal, T0)
            _, alarms = sla_clocks.fire_due(clock, cal, T0 + timedelta(seconds=hours))
            assert sum(a.what == "rung" for a in alarms) == level, (level, hours)
            assert any(a.what == "breach" for a in alarms) == (level > 0)


def test_every_planned_case_plays_through_the_domain_to_its_end() -> None:
    plans = _stream(11, 400)
    for plan in plans:
        state, timeline = play(plan)
        assert state.status in TERMINAL, (plan.case_id, plan.path, state.status)
        assert state.status.value == {"rejected": "rejected", "merged": "merged"}.get(plan.path, "closed")
        assert plan.scenario.planned_rungs <= rungs_of(timeline), plan.case_id


def test_the_mix_follows_the_configured_weights() -> None:
    cfg = SimConfig(
        channels={"hotline": 3, "web": 0, "app": 1, "patrol": 0},
        urgent_share=0.0,
        behaviour=Behaviour(reject=0.1, duplicate=0.0, unsatisfied=0.2, basic_satisfied=0.0),
    )
    rng = random.Random(5)
    draws = [draw_scenario(cfg, CITY, rng, []) for _ in range(4000)]
    channels = Counter(sc.channel for sc in draws)
    assert set(channels) == {"hotline", "app"}
    assert 0.71 < channels["hotline"] / len(draws) < 0.79
    assert 0.08 < sum(sc.outcome == "rejected" for sc in draws) / len(draws) < 0.12
    kept = [sc for sc in draws if sc.outcome == "closed"]
    assert 0.17 < sum("reopened" in sc.features for sc in kept) / len(kept) < 0.23
    assert all(sc.urgency == sc.category.default_urgency for sc in draws)
    assert not any(sc.outcome == "merged" for sc in draws)  # duplicate probability 0


def test_patrol_reports_are_self_handled_at_the_configured_share() -> None:
    cfg = SimConfig(channels={"patrol": 1}, behaviour=Behaviour(grid_self_handle=0.6, terminate=0))
    rng = random.Random(9)
    draws = [draw_scenario(cfg, CITY, rng, []) for _ in range(3000)]
    share = sum(sc.path == "self_handled" for sc in draws) / len(draws)
    assert 0.56 < share < 0.64
    assert not any(sc.has_resident for sc in draws)


def test_late_departments_follow_the_lateness_mix() -> None:
    cfg = SimConfig(
        channels={"hotline": 1},
        behaviour=Behaviour(
            street_whistle=1.0,
            street_whistle_other=1.0,
            return_case=0.0,
            reject=0,
            duplicate=0,
            terminate=0,
            dept_late_report=Lateness(reminder=0.3, supervision=0.1, public_notice=0.0),
        ),
    )
    rng = random.Random(2)
    levels = Counter(lv for sc in (draw_scenario(cfg, CITY, rng, []) for _ in range(3000)) for lv in sc.report_levels)
    total = sum(levels.values())
    assert levels[3] == 0
    assert 0.26 < levels[1] / total < 0.34 and 0.07 < levels[2] / total < 0.13


def test_arrivals_follow_the_rate_and_the_daily_rhythm() -> None:
    night = tuple([0.0] * 6 + [1.0] * 18)
    cfg = SimConfig(rhythm=night, start_hour=0.0)
    times = list(arrivals(random.Random(4), 60.0, 1.0, cfg, horizon=24 * 50))  # 50 compressed days of 24 s
    assert all((t % 24) >= 6 for t in times)  # nobody calls at night
    assert 0.9 < len(times) / (24 * 50) < 1.1  # 60 a minute = 1 a second on average over the day
    assert list(arrivals(random.Random(4), 60.0, 1.0, cfg, count=5)) == times[:5]


def test_a_stream_of_minutes_stops_at_its_horizon() -> None:
    plans = list(
        plan_stream(
            SimConfig(), CITY, POLICY, seed=3, prefix="H", rate_per_minute=120, seconds_per_hour=2.0, horizon=60.0
        )
    )
    assert plans and all(p.arrival <= 60.0 for p in plans)
    assert len({p.case_id for p in plans}) == len(plans)


def test_bad_configuration_names_the_key_and_the_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"behaviour\.unsatisfied: .*less than or equal to 1"):
        config_from_mapping({"behaviour": {"unsatisfied": 1.5}})
    with pytest.raises(ConfigError, match=r"channels: .*unknown channel\(s\) fax"):
        config_from_mapping({"channels": {"fax": 1}})
    with pytest.raises(ConfigError, match=r"behaviour\.accept_late: .*at most 1"):
        config_from_mapping({"behaviour": {"accept_late": {"reminder": 0.6, "supervision": 0.6}}})
    with pytest.raises(ConfigError, match=r"behaviour\.shout: unknown key"):
        config_from_mapping({"behaviour": {"shout": 1}})
    bad = tmp_path / "sim.yaml"
    bad.write_text("rhythm: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{bad}: rhythm: .*24"):
        load_config(bad)
    good = tmp_path / "ok.yaml"
    good.write_text("behaviour:\n  unsatisfied: 0.5\n", encoding="utf-8")
    cfg = load_config(good, {"cover_all_paths": False})
    assert cfg.behaviour.unsatisfied == 0.5 and not cfg.cover_all_paths and cfg.behaviour.reject == 0.03


def test_duplicates_are_merged_into_cases_still_open() -> None:
    plans = list(
        plan_stream(
            SimConfig(behaviour=Behaviour(duplicate=0.3)),
            CITY,
            POLICY,
            seed=6,
            prefix="D",
            rate_per_minute=60,
            seconds_per_hour=1.0,
            count=150,
        )
    )
    ends = {p.case_id: p.arrival + p.duration for p in plans}  # 1 s per policy hour
    merged = [p for p in plans if p.path == "merged"]
    assert len(merged) > 10
    for p in merged:
        target = p.scenario.into_case_id
        assert target in ends and target != p.case_id
        assert ends[target] > p.arrival, (p.case_id, target)  # the target is still being handled


def _work_inside(plan: CasePlan, timeline: list[CaseEventBase]) -> set[str]:
    """The side paths of the work inside the unit and of the corrections that ``timeline`` shows."""
    seen: set[str] = set()
    for i, e in enumerate(timeline):
        later = timeline[i + 1 :]
        match e:
            case ReplyApproved():
                seen.add("reply_approved")
            case ReplySentBack():
                seen.add("reply_sent_back")
            case InterimReplied(on_time=True):
                seen.add("interim_replied")
            case InterimReplied(on_time=False):
                seen.add("interim_late")
            case CaseReclassified() if any(isinstance(x, ClockRecomputed) for x in later[:3]):
                seen.add("reclassified")  # the resolution rule differs: a running clock was recomputed
            case UrgencyChanged(urgency=Urgency.URGENT):
                seen.add("urgency_raised")
            case CaseRelocated(recalled=False):
                seen.add("relocated")
            case CaseRelocated(recalled=True) if any(isinstance(x, CaseDispatched) for x in later):
                seen.add("relocated_recalled")  # recalled, then dispatched to the new place
    return seen


WORK_INSIDE = frozenset(
    {
        "reply_approved",
        "reply_sent_back",
        "interim_replied",
        "interim_late",
        "reclassified",
        "urgency_raised",
        "relocated",
        "relocated_recalled",
    }
)


@pytest.mark.parametrize(
    "cfg",
    [
        SimConfig(),
        SimConfig(  # the draws alone, most of them down the new paths
            cover_all_paths=False,
            categories={"illegal-construction": 3, "food-safety": 2, "water": 1, "noise": 1, "garbage": 1},
            behaviour=Behaviour(
                send_back=0.5, interim_late=0.5, reclassify=0.4, raise_urgency=0.3, relocate=0.5, pause=0.3, shelve=0.2
            ),
        ),
    ],
    ids=["default", "busy"],
)
def test_the_work_inside_the_unit_and_the_corrections_happen_as_planned(cfg: SimConfig) -> None:
    """What each plan says it does (review, send-back, interim replies on time or late, corrections)
    is what the domain records; replies are approved by another member of the unit; an interim
    deadline is breached only where the plan misses it."""
    plans = _stream(13, 300, cfg)
    seen: Counter[str] = Counter()
    for plan in plans:
        state, timeline = play(plan)
        assert _work_inside(plan, timeline) == plan.features & WORK_INSIDE, plan.case_id
        seen.update(plan.features & WORK_INSIDE)
        for e in timeline:
            if isinstance(e, ReplyApproved):
                assert e.approved_by != e.submitted_by and e.unit == state.unit
        interim_breached = any(isinstance(e, SlaBreached) and e.kind == ClockKind.INTERIM_REPLY for e in timeline)
        assert interim_breached == ("interim_late" in plan.features), plan.case_id
        resolved = sum(isinstance(e, CaseResolved) for e in timeline)
        if state.unit is not None and POLICY.review_rule(state.unit.kind) is not None:
            # a reviewed unit's case is resolved by sign-off only, every submission ends in one
            approved = sum(isinstance(e, ReplyApproved) for e in timeline)
            sent_back = sum(isinstance(e, ReplySentBack) for e in timeline)
            assert approved == resolved, plan.case_id
            assert sum(isinstance(e, ReplySubmitted) for e in timeline) == approved + sent_back, plan.case_id
        else:
            assert not any(isinstance(e, ReplySubmitted) for e in timeline), plan.case_id
    assert set(FEATURES) >= WORK_INSIDE
    assert set(seen) == WORK_INSIDE
    if not cfg.cover_all_paths:
        assert min(seen.values()) >= 5, seen


# --- property companies and volunteer teams --------------------------------------------------------

UNIT_KINDS = frozenset(
    {"delegated_to_property", "property_returned", "property_summoned", "volunteers_called", "volunteers_released"}
)


def _unit_kinds(timeline: list[CaseEventBase]) -> set[str]:
    """The side paths of property companies and volunteer teams that ``timeline`` shows."""
    from events.base import UnitKind
    from events.schemas import (
        CaseReturned,
        DepartmentTaskCompleted,
        VolunteersReleased,
        VolunteersReported,
        WhistleBlown,
    )

    seen: set[str] = set()
    for e in timeline:
        match e:
            case CaseDispatched(by=by, unit=unit) if by is not None and unit.kind == UnitKind.PROPERTY:
                seen.add("delegated_to_property")
            case CaseReturned(unit=unit) if unit.kind == UnitKind.PROPERTY:
                seen.add("property_returned")
            case WhistleBlown(tasks=tasks) if any(t.unit_kind == UnitKind.PROPERTY for t in tasks):
                done = [x for x in timeline if isinstance(x, DepartmentTaskCompleted)]
                if any(getattr(x, "unit_kind", None) == UnitKind.PROPERTY for x in done):
                    seen.add("property_summoned")  # summoned, and it did its part
            case VolunteersReported():
                seen.add("volunteers_called")
            case VolunteersReleased():
                seen.add("volunteers_released")
    return seen


def play_in_registry(plan: CasePlan) -> tuple[CaseState, list[CaseEventBase]]:
    """As :func:`play`, with the registry's companies and teams in the SLA context: their service areas
    are checked as on the real stack."""
    city = sample_city()
    ctx = _context(1.0).model_copy(
        update={"properties": dict(city.properties), "volunteer_teams": dict(city.volunteer_teams)}
    )
    state = CaseState(case_id=plan.case_id, sla=ctx)
    timeline: list[CaseEventBase] = []
    for at, cmd in [(0.0, plan.open), *[(s.at, s.command) for s in plan.steps]]:
        for event in decide(state, cmd, T0 + timedelta(seconds=at)):  # type: ignore[arg-type]
            apply_event(state, event)
            timeline.append(event)
    return state, timeline


@pytest.mark.parametrize(
    "cfg",
    [
        SimConfig(),
        SimConfig(  # the draws alone, most of them down the new paths
            cover_all_paths=False,
            behaviour=Behaviour(delegate=0.5, property_return=0.4, whistle_property=0.7, volunteers=0.6),
        ),
    ],
    ids=["default", "busy"],
)
def test_property_companies_and_volunteer_teams_take_part_as_planned(cfg: SimConfig) -> None:
    """What each plan says (delegated, returned by the company, a company summoned, volunteers called or
    released) is what the domain records, within the companies' and teams' service areas; every such
    case still ends as planned."""
    plans = _stream(17, 300, cfg)
    seen: Counter[str] = Counter()
    for plan in plans:
        state, timeline = play_in_registry(plan)
        assert state.status in TERMINAL, (plan.case_id, plan.path, state.status)
        assert _unit_kinds(timeline) == plan.features & UNIT_KINDS, plan.case_id
        seen.update(plan.features & UNIT_KINDS)
    assert set(FEATURES) >= UNIT_KINDS
    assert set(seen) == UNIT_KINDS
    if not cfg.cover_all_paths:
        assert min(seen.values()) >= 5, seen
