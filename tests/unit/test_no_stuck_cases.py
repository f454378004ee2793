"""No stuck cases: every open case always has someone of the city who can move it on.

Random command sequences from the simulator's vocabulary (the explorer's candidates, the same
commands sent by other real actors of the sample city, and the probes of whatever
``available_actions`` offers), with random waits that run past SLA deadlines so warnings, breaches
and escalations fire. After every step, a case that is not terminal (a shelved one included) must
offer a *moving* action to some actor of a known unit: an action other than the oversight side
actions below, which never take a case forward by themselves.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.base import Actor, Role
from tests.unit.domain_helpers import at, sla
from workflows.domain import CaseState, CaseStatus, DomainError, decide, evolve_all
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action
from workflows.domain.available import available_actions, probe_command
from workflows.domain.explore import candidate_commands
from workflows.domain.registry import sample_city
from workflows.domain.state import TERMINAL

CITY = sample_city()

SIDE_ACTIONS = frozenset(
    {
        "attach_duplicate",
        "supervise",
        "appeal",
        "decide_appeal",
        "terminate",
        "shelve",
        "merge",
        "reclassify",
        "set_urgency",
        "relocate",
    }
)
"""Actions that do not take a case forward: oversight and bookkeeping, the hotline's corrections
(category, urgency, place), or ending/parking it by fiat.

A case whose only offers are these is stuck for the people who should handle it.
"""


def city_actors(state: CaseState) -> list[Actor]:
    """Everyone of the sample city who might act on a case: the hotline first, then every unit."""
    districts = sorted({g.district_id for g in CITY.grids.values()})
    actors = [Actor(role=Role.DISPATCHER, person_id="op-1")]
    actors += [Actor(role=Role.SUPERVISOR, person_id=f"sv-{d}", unit_id=d) for d in [*districts, "city"]]
    actors += [Actor(role=Role.STREET, person_id=f"st-{s}", unit_id=s) for s in sorted(CITY.streets)]
    actors += [Actor(role=Role.GRID_WORKER, person_id=f"gw-{g}", unit_id=g) for g in sorted(CITY.grids)]
    actors += [Actor(role=Role.COMMUNITY, person_id=f"cm-{m}", unit_id=m) for m in sorted(CITY.communities)]
    actors += [Actor(role=Role.DEPARTMENT, person_id=f"dp-{d}", unit_id=d) for d in sorted(CITY.departments)]
    actors += [Actor(role=Role.PROPERTY, person_id=f"pm-{p}", unit_id=p) for p in sorted(CITY.properties)]
    actors += [Actor(role=Role.VOLUNTEER, person_id=f"vt-{v}", unit_id=v) for v in sorted(CITY.volunteer_teams)]
    actors.append(Actor(role=Role.RESIDENT, person_id=state.contact.resident_id or "resident-1"))
    return actors


def moving_offer(state: CaseState, now: datetime) -> tuple[Actor, Action] | None:
    """Some actor of the city and a moving action ``available_actions`` offers them, if any."""
    for actor in city_actors(state):
        for action in available_actions(state, actor, now):
            if action.name not in SIDE_ACTIONS:
                return actor, action
    return None


def assert_not_stuck(state: CaseState, now: datetime, history: list[str]) -> None:
    if state.status in TERMINAL or state.status == CaseStatus.NEW:  # no case yet: it is opened, not acted on
        return
    if moving_offer(state, now) is None:
        offers = {a.name for actor in city_actors(state) for a in available_actions(state, actor, now)}
        raise AssertionError(f"stuck: {state.status.value} case, offers only {sorted(offers)}; after {history[-8:]}")


def _known(actor: Actor) -> bool:
    """Whether the actor's unit is a unit of the sample city."""
    units = {
        Role.GRID_WORKER: CITY.grids,
        Role.STREET: CITY.streets,
        Role.COMMUNITY: CITY.communities,
        Role.DEPARTMENT: CITY.departments,
    }.get(actor.role)
    return units is None or actor.unit_id in units


WAITS = st.one_of(
    st.integers(min_value=0, max_value=120),  # minutes: on time
    st.integers(min_value=120, max_value=3 * 24 * 60),  # hours to days: warnings and breaches
    st.integers(min_value=3 * 24 * 60, max_value=40 * 24 * 60),  # weeks: every rung of the ladder
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.tuples(st.sampled_from([0, 1, 2, 2, 2]), st.integers(0, 10_000), WAITS), min_size=1, max_size=30),
    start=st.sampled_from(["2026-03-02 09:00", "2026-02-12 15:00", "2026-09-30 17:30"]),
)
def test_no_open_case_is_ever_stuck(steps: list[tuple[int, int, int]], start: str) -> None:
    state = CaseState(case_id="T1", sla=sla())
    now = at(start)
    history: list[str] = []
    for how, pick, wait in steps:
        now += timedelta(minutes=wait)
        if how == 0 or not state.seq:  # the explorer's candidate, by the actor who would normally send it
            cmds = candidate_commands(state)
            cmd: c.Command = cmds[pick % len(cmds)]
        elif how == 1:  # a candidate sent by another real actor
            cmds = [k for k in candidate_commands(state) if type(k) is not c.OpenCase]
            actors = city_actors(state)
            cmd = cmds[pick % len(cmds)].model_copy(update={"actor": actors[pick // len(cmds) % len(actors)]})
        else:  # the probe of an offered action: what a person clicking the workspace sends
            offers = [(actor, a) for actor in city_actors(state) for a in available_actions(state, actor, now)]
            if not offers:
                continue
            actor, action = offers[pick % len(offers)]
            cmd = probe_command(action, state, actor)
        assert _known(cmd.actor)
        try:
            events = decide(state, cmd, now)  # type: ignore[arg-type]
        except DomainError:
            continue
        state = evolve_all(state, events)
        history.append(f"{c.command_name(cmd)}@{cmd.actor.label()}")
        assert_not_stuck(state, now, history)
    tick = decide(state, c.Tick(actor=Actor(role=Role.SYSTEM, person_id="t")), now + timedelta(days=60))
    state = evolve_all(state, tick)
    assert_not_stuck(state, now + timedelta(days=60), history)


def test_no_state_the_walk_and_the_simulator_reach_is_stuck() -> None:
    from tests.unit.test_available_actions import reached_states

    for state, now in reached_states():
        assert_not_stuck(state, now, [state.case_id])


def test_the_side_actions_are_catalogue_actions() -> None:
    assert set(CATALOGUE.by_name) >= SIDE_ACTIONS


def test_a_stuck_case_would_be_reported() -> None:
    """The check can fail: a resolved case whose grid no worker of the city belongs to is stuck."""
    from events.schemas import Channel, Location
    from tests.unit.domain_helpers import Case

    k = Case().open_hotline().to_street_handling()
    k.later().do(c.ResolveCase(actor=Actor(role=Role.STREET, person_id="st", unit_id="S-1"), notes="done"))
    assert moving_offer(k.state, k.now) is not None
    elsewhere = k.state.model_copy(
        update={"location": Location(grid_id="G-999", community_id="C-99", street_id="S-1", district_id="D-1")}
    )
    assert elsewhere.channel == Channel.HOTLINE
    assert moving_offer(elsewhere, k.now) is None
