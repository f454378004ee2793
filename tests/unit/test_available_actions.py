"""``available_actions`` held to ``decide`` for every role and every state the simulator and the explorer reach."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal

import pytest

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import ReviewDecision
from tests.unit.domain_helpers import DISPATCHER, STREET_ACTOR, Case, at, sla
from workers.sim.city import from_static
from workers.sim.config import SimConfig
from workers.sim.plan import compile_plan, coverage_tour, plan_stream
from workflows.domain import CaseState, CaseStatus, DomainError, SlaContext
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action, FormField, Widget
from workflows.domain.available import (
    FORM_RULES,
    PROBE_VALUES,
    ProbeError,
    Verdict,
    available_actions,
    is_form_rule,
    judge,
    offered_verdict,
    probe_command,
    why_not,
)
from workflows.domain.decide import HANDLERS, Decision, catch_up, decide, registered_action
from workflows.domain.evolve import apply_event
from workflows.domain.explore import candidate_commands, reachable_states
from workflows.domain.registry import sample_city
from workflows.domain.state import TERMINAL
from workflows.sla.calendar import build_calendar
from workflows.sla.policy import default_policy
from workflows.sla.timescale import compress_policy

CITY = sample_city()
SIM_CITY = from_static(CITY)
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SCALE = 1.0


@lru_cache(maxsize=1)
def _sim_context() -> SlaContext:
    return SlaContext(
        policy=compress_policy(default_policy(), SCALE), calendar=build_calendar([2026]), time_scale=SCALE
    )


def _signature(s: CaseState) -> tuple[object, ...]:
    if s.status in TERMINAL:
        return (s.status, s.channel, s.unit.kind if s.unit else None)
    w = s.open_whistle
    tasks = (
        tuple(sorted((d, t.reported_in_at is not None, t.completed_at is not None) for d, t in w.tasks.items()))
        if w
        else ()
    )
    return (
        s.status,
        s.channel,
        s.unit.kind if s.unit else None,
        s.accepted,
        s.contacted_at is not None,
        tuple(sorted(t[1:] for t in tasks)),
        len(s.whistles) > 0,
        s.final_ruling,
        s.pending_extension is not None,
        s.appeal_pending,
        any(k.paused_at is not None for k in s.running_clocks()),
        s.shelved_from,
        s.breached,
        s.pending_return.unit.kind if s.pending_return else None,
    )


def _sim_states() -> Iterator[tuple[CaseState, datetime]]:
    """Every state a simulated case passes through: the coverage tour and a seeded stream."""
    rng = random.Random(4)
    tour = [
        replace(sc, into_case_id="TOUR-0") if sc.outcome == "merged" else sc
        for sc in coverage_tour(SIM_CITY, rng, default_policy())
    ]
    plans = [compile_plan(sc, f"TOUR-{i}", 0.0, SIM_CITY, default_policy(), rng) for i, sc in enumerate(tour)]
    plans += list(
        plan_stream(
            SimConfig(),
            SIM_CITY,
            default_policy(),
            seed=21,
            prefix="S",
            rate_per_minute=60,
            seconds_per_hour=SCALE,
            count=80,
        )
    )
    for plan in plans:
        state = CaseState(case_id=plan.case_id, sla=_sim_context())
        for hours, cmd in [(0.0, plan.open), *[(s.at, s.command) for s in plan.steps]]:
            now = T0 + timedelta(seconds=hours * SCALE)
            yield state, now
            try:
                events = decide(state, cmd, now)  # type: ignore[arg-type]
            except DomainError as e:
                raise AssertionError(f"{plan.case_id}: the simulator's step {cmd!r} is refused: {e}") from e
            state = state.model_copy(deep=True)
            for e in events:
                apply_event(state, e)
        yield state, now + timedelta(seconds=SCALE)


@lru_cache(maxsize=1)
def reached_states() -> tuple[tuple[CaseState, datetime], ...]:
    """One state per signature: what the explorer's walk and the simulator's plans reach."""
    found: dict[tuple[object, ...], tuple[CaseState, datetime]] = {}
    for state, now in [*reachable_states(sla(), at("2026-03-02 09:00")), *_sim_states()]:
        found.setdefault(_signature(state), (state, now))
    return tuple(found.values())


def _other(ids: object, own: str | None) -> str:
    return next(i for i in sorted(ids) if i != own)  # type: ignore[call-overload]


def actors_for(s: CaseState) -> dict[str, Actor]:
    """A representative actor of every role, near the case and far from it."""
    loc = s.location
    grid = loc.grid_id if loc else "G-101"
    street = loc.street_id if loc else "S-1"
    district = loc.district_id if loc else "D-1"
    community = loc.community_id if loc else "C-10"
    summoned = sorted({d for w in s.whistles for d in w.tasks})
    assigned = s.unit.id if s.unit is not None and s.unit.kind == UnitKind.DEPARTMENT else None
    taken = {*summoned, assigned}
    actors = {
        "dispatcher": DISPATCHER,
        "supervisor-district": Actor(role=Role.SUPERVISOR, person_id="sv-d", unit_id=district),
        "supervisor-city": Actor(role=Role.SUPERVISOR, person_id="sv-c", unit_id="city"),
        "supervisor-other-district": Actor(role=Role.SUPERVISOR, person_id="sv-x", unit_id="D-9"),
        "street": Actor(role=Role.STREET, person_id="st", unit_id=street),
        "street-other": Actor(role=Role.STREET, person_id="st-x", unit_id=_other(CITY.streets, street)),
        "grid": Actor(role=Role.GRID_WORKER, person_id="gw", unit_id=grid),
        "grid-other": Actor(role=Role.GRID_WORKER, person_id="gw-x", unit_id=_other(CITY.grids, grid)),
        "community": Actor(role=Role.COMMUNITY, person_id="cm", unit_id=community),
        "department-other": Actor(
            role=Role.DEPARTMENT, person_id="dp-x", unit_id=next(d for d in sorted(CITY.departments) if d not in taken)
        ),
        "resident": Actor(role=Role.RESIDENT, person_id=s.contact.resident_id or "resident-1"),
        "system": Actor(role=Role.SYSTEM, person_id="sys"),
    }
    if assigned is not None:
        actors["department-assigned"] = Actor(role=Role.DEPARTMENT, person_id="dp-a", unit_id=assigned)
    for d in summoned:
        actors[f"department-summoned-{d}"] = Actor(role=Role.DEPARTMENT, person_id=f"dp-{d}", unit_id=d)
    return actors


def other_forms(action: Action, actor: Actor, candidates: list[c.Command]) -> list[c.Command]:
    """Reasonable forms of ``action`` for ``actor`` besides the probe: the explorer's candidates of that action."""
    return [k.model_copy(update={"actor": actor}) for k in candidates if type(k) is action.command]


def _verdicts(
    action: Action, state: CaseState, now: datetime, actor: Actor, offered: bool, candidates: list[c.Command]
) -> list[Verdict]:
    """Verdicts on the forms; the probe's own verdict is what ``available_actions`` read, unless a
    candidate contradicts it (then the probe is judged too, for the report)."""
    verdicts = [judge(state, k, now) for k in other_forms(action, actor, candidates)]
    if not verdicts or any(v.offered != offered for v in verdicts) or offered:
        verdicts.insert(0, judge(state, probe_command(action, state, actor), now))
    return verdicts


def test_the_walk_reaches_every_status_and_many_states() -> None:
    states = reached_states()
    assert {s.status for s, _ in states} == set(CaseStatus)
    assert len(states) > 300


def test_every_offer_is_accepted_by_decide_and_every_refusal_is_a_real_rule() -> None:
    problems: list[str] = []
    offers = 0
    for state, now in reached_states():
        current = catch_up(state, now)
        candidates = candidate_commands(state)
        for who, actor in actors_for(state).items():
            offered = {a.name for a in available_actions(state, actor, now)}
            offers += len(offered)
            for action in CATALOGUE.after_intake():
                verdicts = _verdicts(action, current, now, actor, action.name in offered, candidates)
                where = f"{state.case_id} {state.status.value} {who} {action.name}"
                if action.name in offered:
                    bad = [v for v in verdicts if not v.offered]
                    if bad:
                        problems.append(f"{where}: offered but refused by {[v.rule for v in bad]}")
                    if not any(v.accepted for v in verdicts):
                        problems.append(
                            f"{where}: offered but no reasonable form is accepted ({[v.rule for v in verdicts]})"
                        )
                else:
                    bad = [v for v in verdicts if v.offered]
                    if bad:
                        problems.append(f"{where}: not offered but {[v.rule or 'accepted' for v in bad]}")
    assert not problems, "\n".join(problems[:40])
    assert offers > 100


def test_the_reverse_check_agrees_with_available_actions() -> None:
    k = Case().open_hotline().to_street_handling()
    offered, verdict = offered_verdict(k.state, c.ResolveCase(actor=STREET_ACTOR, notes="done"), k.now)
    assert offered and verdict.accepted
    offered, verdict = offered_verdict(k.state, c.AcceptCase(actor=STREET_ACTOR), k.now)
    assert not offered and verdict.rule == "status.not_allowed"
    wrong = c.CloseCase(actor=DISPATCHER)
    offered, verdict = offered_verdict(k.state, wrong, k.now)
    assert not offered and not verdict.offered


def test_a_form_rule_keeps_the_action_offered() -> None:
    k = Case().open_hotline()
    k.do(c.RegisterCase(actor=DISPATCHER))
    assert "dispatch" in {a.name for a in available_actions(k.state, DISPATCHER, k.now)}
    wrong = c.DispatchCase(actor=DISPATCHER, unit=UnitRef(kind=UnitKind.STREET, id="S-2"))
    v = judge(k.state, wrong, k.now)
    assert v.rule == "dispatch.outside_territory" and v.form_only and v.offered
    self_merge = judge(k.state, c.MergeInto(actor=DISPATCHER, into_case_id=k.state.case_id), k.now)
    assert self_merge.rule == "merge.self" and self_merge.offered


def test_form_rules_are_rules_the_domain_raises() -> None:
    import inspect

    source = inspect.getsource(sys.modules["workflows.domain.decide"])
    for rule in FORM_RULES:
        assert f'"{rule}"' in source, rule
    assert not is_form_rule("role.not_allowed") and not is_form_rule("status.not_allowed")
    assert all(not r.startswith(("role.", "jurisdiction.", "status.")) for r in FORM_RULES)


def test_departments_see_their_own_task_only() -> None:
    from events.schemas import WhistleTask

    k = Case().open_hotline().to_street_handling()
    k.later().do(c.BlowWhistle(actor=STREET_ACTOR, tasks=[WhistleTask(department_id="housing", task="t")]))
    housing = Actor(role=Role.DEPARTMENT, person_id="h", unit_id="housing")
    water = Actor(role=Role.DEPARTMENT, person_id="w", unit_id="water")
    assert [a.name for a in available_actions(k.state, housing, k.now)] == ["report_in"]
    assert available_actions(k.state, water, k.now) == []
    err = why_not(k.state, water, CATALOGUE["report_in"], k.now)
    assert err is not None and err.rule == "jurisdiction.not_summoned"
    k.later().do(c.ReportIn(actor=housing))
    assert [a.name for a in available_actions(k.state, housing, k.now)] == ["complete_task"]


def test_open_and_tick_are_never_offered() -> None:
    k = Case().open_hotline()
    for actor in (DISPATCHER, Actor(role=Role.SYSTEM, person_id="s")):
        names = {a.name for a in available_actions(k.state, actor, k.now)}
        assert "open" not in names and "tick" not in names


def test_a_probe_exists_for_every_catalogue_action() -> None:
    k = Case().open_hotline().to_street_handling()
    for action in CATALOGUE.after_intake():
        for actor in actors_for(k.state).values():
            cmd = probe_command(action, k.state, actor)
            assert type(cmd) is action.command and cmd.actor == actor
    assert set(PROBE_VALUES) <= set(CATALOGUE.by_name)


# --- plug-in actions --------------------------------------------------------------------------


class Mood(StrEnum):
    CALM = "calm"
    ANGRY = "angry"


class NoteMood(c.Command):
    """A toy action: the assigned street records the resident's mood."""

    type: Literal["note_mood"] = "note_mood"
    mood: Mood
    text: c.Text
    urgent: bool
    remark: str | None = None


def _note_mood(d: Decision, cmd: NoteMood) -> None:
    s = d.state
    if s.status != CaseStatus.HANDLING:
        raise DomainError("status.not_allowed", "moods are noted while handling")
    if s.unit is None or cmd.actor.unit_id != s.unit.id:
        raise DomainError("jurisdiction.not_assigned", "the assigned unit notes moods")
    if cmd.text == "":
        raise DomainError("mood.text", "unreachable")


TOY = Action(
    "note_mood",
    NoteMood,
    (Role.STREET,),
    "记录情绪",
    "note the resident's mood",
    (
        FormField("mood", "情绪", "Mood", Widget.CHOICE),
        FormField("text", "说明", "Text", Widget.TEXTAREA),
        FormField("urgent", "紧急", "Urgent", Widget.BOOL),
        FormField("remark", "备注", "Remark"),
    ),
)


@pytest.fixture
def toy_action() -> Iterator[Action]:
    with registered_action(TOY, _note_mood) as row:
        yield row
    assert "note_mood" not in CATALOGUE and NoteMood not in HANDLERS


def test_a_plugged_in_action_is_probed_from_its_field_types(toy_action: Action) -> None:
    k = Case().open_hotline()
    assert toy_action.name not in {a.name for a in available_actions(k.state, STREET_ACTOR, k.now)}
    k.to_street_handling()
    assert toy_action in available_actions(k.state, STREET_ACTOR, k.now)
    other = Actor(role=Role.STREET, person_id="x", unit_id="S-2")
    assert toy_action not in available_actions(k.state, other, k.now)
    err = why_not(k.state, DISPATCHER, toy_action, k.now)
    assert err is not None and err.rule == "role.not_allowed"
    probe = probe_command(toy_action, k.state, STREET_ACTOR)
    assert isinstance(probe, NoteMood) and probe.mood == Mood.CALM and probe.urgent is True and probe.remark is None


def test_registering_twice_is_refused(toy_action: Action) -> None:
    with pytest.raises(ValueError), registered_action(toy_action, _note_mood):
        pass
    assert "note_mood" in CATALOGUE  # the failed second registration left the first alone


def test_a_field_type_without_a_probe_value_is_reported() -> None:
    class Weird(c.Command):
        type: Literal["weird"] = "weird"
        blob: complex

    row = Action("weird", Weird, (Role.DISPATCHER,), "怪", "weird")
    with pytest.raises(ProbeError):
        probe_command(row, CaseState(case_id="X"), DISPATCHER)


def test_verdicts_name_their_rule() -> None:
    k = Case().open_hotline()
    v = judge(k.state, c.AcceptCase(actor=STREET_ACTOR), k.now)
    assert isinstance(v, Verdict) and not v.accepted and v.rule == "status.not_allowed"
    ok = judge(k.state, c.RegisterCase(actor=DISPATCHER), k.now)
    assert ok.accepted and ok.events and ok.rule is None


def test_insist_is_the_review_probe() -> None:
    assert PROBE_VALUES["review_return"](CaseState(), DISPATCHER)["decision"] == ReviewDecision.INSIST


def test_the_role_shortcut_is_decides_own_answer() -> None:
    k = Case().open_hotline().to_street_handling()
    for action in CATALOGUE.after_intake():
        for actor in actors_for(k.state).values():
            if actor.role in action.roles:
                continue
            short = why_not(k.state, actor, action, k.now)
            full = judge(k.state, probe_command(action, k.state, actor), k.now)
            assert short is not None and full.error is not None
            assert (short.rule, short.message) == (full.error.rule, full.error.message)
