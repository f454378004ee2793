"""The pure projection of the work inside a unit and of the hotline's corrections: internal review
(``case.reply_submitted`` / ``reply_approved`` / ``reply_sent_back``), interim replies
(``case.interim_replied``), corrections (``case.reclassified`` / ``urgency_changed`` / ``relocated``)
and the clocks they recompute (``sla.clock_recomputed``).

Events come from the domain (``decide``/``evolve``), so every check is on a real event sequence, and
the read model is held to the workflow's own state after every event: on examples of each class of
input (with and without a unit, recalled or not, retroactive and from-now recomputes) and on seeded
random walks over the explorer's commands. No database here
(``tests/integration/test_projection_unit_review_sql.py`` writes the same events to SQL).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from events.base import Actor, CaseEventBase, Role, UnitKind, UnitRef
from events.schemas import (
    CaseRelocated,
    ClockKind,
    ClockRecomputed,
    InterimReplied,
    Location,
    RecomputeMode,
    ReturnReason,
    Urgency,
    UrgencyChanged,
)
from readmodel.projection import CaseView, apply_event, detail_value
from tests.unit.domain_helpers import DISPATCHER, LOCATION, STREET, STREET_ACTOR, SYSTEM, Case, at, sla
from workflows.domain import CaseState, DomainError, decide, evolve_all
from workflows.domain import commands as c
from workflows.domain.explore import OTHER_GRID, candidate_commands

HOUSING = UnitRef(kind=UnitKind.DEPARTMENT, id="housing")
H1 = Actor(role=Role.DEPARTMENT, person_id="h-1", unit_id="housing", name="李四")
H2 = Actor(role=Role.DEPARTMENT, person_id="h-2", unit_id="housing", name="王五")
OTHER_STREET_PLACE = Location(
    grid_id="G-201", community_id="C-20", street_id="S-2", district_id="D-1", lat=30.1, lon=104.2
)
SAME_STREET_POINT = OTHER_GRID.model_copy(update={"lat": 30.65, "lon": 104.05})
GRID = UnitRef(kind=UnitKind.GRID, id=LOCATION.grid_id)
GRID_ACTOR = Actor(role=Role.GRID_WORKER, person_id="gw-1", unit_id=GRID.id)


def project(events: list[CaseEventBase]) -> CaseView:
    view = CaseView.empty(events[0].case_id)
    for e in events:
        assert apply_event(view, e)
    return view


def agrees(view: CaseView, s: CaseState) -> None:
    """The read model's case row and clocks say what the workflow's state says."""
    row = view.case
    assert row["status"] == s.status.value
    assert (row["category"], row["urgency"]) == (s.category, s.urgency.value)
    assert (row["unit_kind"], row["unit_id"]) == ((s.unit.kind.value, s.unit.id) if s.unit else (None, None))
    assert (row["handler_id"], row["section_id"]) == (s.handler_id, s.section_id)
    assert (row["reply_rounds"], row["sent_back_count"], row["approved_by"]) == (
        s.reply_rounds,
        s.sent_back_count,
        s.approved_by,
    )
    assert (row["interim_replies"], row["corrections"]) == (s.interim_replies, s.corrections)
    loc = s.location
    assert loc is not None
    assert (row["district_id"], row["street_id"], row["community_id"], row["grid_id"], row["lat"], row["lon"]) == (
        loc.district_id,
        loc.street_id,
        loc.community_id,
        loc.grid_id,
        loc.lat,
        loc.lon,
    )
    running = {k.clock_id: k for k in s.running_clocks()}
    assert {cid for cid, r in view.clocks.items() if r["stopped_at"] is None} == set(running)
    for cid, clock in running.items():
        assert view.clocks[cid]["due_at"] == clock.due_at, cid
        assert view.clocks[cid]["working_time"] == clock.working_time, cid
    dues = [k.due_at for k in running.values() if k.paused_at is None]
    if s.status.value not in ("closed", "rejected", "merged"):
        assert row["next_due_at"] == (min(dues) if dues else None)


def follow(case: Case) -> CaseView:
    """Project the case's events one by one, checking the read model against the state each one led to."""
    view = CaseView.empty(case.state.case_id)
    state = CaseState(case_id=case.state.case_id, sla=sla())
    for e in case.events:
        assert apply_event(view, e)
        state = evolve_all(state, [e])
    agrees(view, state)
    return view


def department_case(case_id: str, category: str = "noise") -> Case:
    """Dispatched to housing (whose replies need review), accepted, contacted, assigned to h-1."""
    case = Case(case_id).open_hotline(category=category)
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=HOUSING))
    case.later().do(c.AcceptCase(actor=H1))
    case.later().do(c.AssignCase(actor=H1, handler=c.Member(person_id="h-1", unit=HOUSING, name="李四")))
    case.later().do(c.ContactResident(actor=H1))
    return case


def rows_of(view: CaseView, kind: str) -> list[dict[str, object]]:
    return [r for r in view.new_timeline if r["type"] == kind]


# --- internal review --------------------------------------------------------------------------------


@pytest.mark.parametrize("send_backs", [0, 1, 3])
def test_review_rounds_send_backs_and_the_approver_land_on_the_case_row(send_backs: int) -> None:
    case = department_case(f"R{send_backs}")
    for n in range(send_backs):
        case.later().do(c.SubmitReply(actor=H1, notes=f"第{n + 1}稿"))
        pending = project(case.events)
        assert (pending.case["reply_rounds"], pending.case["status"]) == (n + 1, "handling")
        case.later().do(c.SendBack(actor=H2, reason="照片不清"))
        back = project(case.events)
        assert (back.case["sent_back_count"], back.case["approved_by"]) == (n + 1, None)
    case.later().do(c.SubmitReply(actor=H1, notes="已整改", evidence=["photo-1"]))
    case.later().do(c.ApproveReply(actor=H2, note="同意"))
    view = follow(case)
    assert (view.case["reply_rounds"], view.case["sent_back_count"], view.case["approved_by"]) == (
        send_backs + 1,
        send_backs,
        "h-2",
    )
    assert view.case["status"] == "resolved" and view.case["first_resolved_at"] is not None
    submitted = rows_of(view, "case.reply_submitted")
    assert [detail_value(str(r["detail"]), "round") for r in submitted] == [str(i + 1) for i in range(send_backs + 1)]
    assert all((r["unit_kind"], r["unit_id"]) == ("department", "housing") for r in submitted)
    assert "photo-1" not in " ".join(str(r["detail"]) for r in view.new_timeline)  # evidence stays out
    (approved,) = rows_of(view, "case.reply_approved")
    assert detail_value(str(approved["detail"]), "approved_by") == "h-2"
    assert "王五" not in str(approved["detail"])  # names stay in the user directory
    sent = rows_of(view, "case.reply_sent_back")
    assert [detail_value(str(r["detail"]), "sent_back_count") for r in sent] == [str(i + 1) for i in range(send_backs)]
    review_clocks = [r for r in view.clocks.values() if r["kind"] == ClockKind.REPLY_REVIEW.value]
    assert len(review_clocks) == send_backs + 1 and all(r["stopped_at"] is not None for r in review_clocks)


def test_a_street_resolves_without_review_and_the_counters_stay_at_zero() -> None:
    case = Case("R-street").open_hotline().to_street_handling()
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="已处理"))
    view = follow(case)
    assert (view.case["reply_rounds"], view.case["sent_back_count"], view.case["approved_by"]) == (0, 0, None)
    assert not [r for r in view.new_timeline if str(r["type"]).startswith("case.reply_")]


# --- interim replies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "days_after",
    [(), (1,), (1, 3, 2), (5,), (1, 6, 1), (7, 7)],
    ids=["none", "on-time", "three-on-time", "late", "late-in-the-middle", "two-late"],
)
def test_interim_replies_count_and_the_late_ones_are_counted_apart(days_after: tuple[int, ...]) -> None:
    """Interim replies after 1-3 calendar days are within the 3-working-day period, after 5-7 not."""
    case = department_case(f"I{len(days_after)}-{sum(days_after)}", category="illegal-construction")
    when = case.now
    for days in days_after:
        when += timedelta(days=days)
        case.tick(when)
        case.do(c.InterimReply(actor=H1, text="张先生您好：材料已送审"), when)
    view = follow(case)
    replies = [e for e in case.events if isinstance(e, InterimReplied)]
    assert len(replies) == len(days_after)
    late = sum(1 for e in replies if not e.on_time)
    assert (view.case["interim_replies"], view.case["interim_late"]) == (len(replies), late)
    rows = rows_of(view, "case.interim_replied")
    assert [detail_value(str(r["detail"]), "on_time") for r in rows] == [str(e.on_time) for e in replies]
    assert [r["due_at"] for r in rows] == [e.due_at for e in replies]
    assert all("张先生" not in str(r["detail"]) for r in rows)  # the reply's text is for the resident only
    if days_after in ((1,), (5,)):
        assert late == (1 if days_after == (5,) else 0)  # the classes above are what their names say


# --- corrections ------------------------------------------------------------------------------------


def received(case_id: str) -> Case:
    return Case(case_id).open_hotline()


def registered(case_id: str) -> Case:
    case = received(case_id)
    case.do(c.RegisterCase(actor=DISPATCHER))
    return case


def dispatched(case_id: str) -> Case:
    case = registered(case_id)
    case.later().do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    return case


def handling(case_id: str) -> Case:
    return Case(case_id).open_hotline().to_street_handling()


def resolved(case_id: str) -> Case:
    case = handling(case_id)
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="已处理"))
    return case


STAGES = {"received": received, "registered": registered, "dispatched": dispatched, "handling": handling}
WITH_UNIT = {"dispatched", "handling", "resolved"}


@pytest.mark.parametrize("stage", [*STAGES, "resolved"])
def test_a_reclassification_changes_the_category_and_counts_for_the_unit_of_the_time(stage: str) -> None:
    case = {**STAGES, "resolved": resolved}[stage](f"RC-{stage}")
    before = project(case.events)
    case.later().do(c.Reclassify(actor=DISPATCHER, category="illegal-construction", reason="实为违建"))
    view = follow(case)
    assert (view.case["category"], view.case["corrections"]) == ("illegal-construction", 1)
    assert view.case["status"] == before.case["status"]
    (row,) = rows_of(view, "case.reclassified")
    assert detail_value(str(row["detail"]), "previous_category") == "noise"
    assert detail_value(str(row["detail"]), "category") == "illegal-construction"
    assert (row["unit_kind"], row["unit_id"]) == (("street", "S-1") if stage in WITH_UNIT else (None, None))
    case.later().do(c.Reclassify(actor=DISPATCHER, category="noise", reason="改回"))
    back = follow(case)
    assert (back.case["category"], back.case["corrections"]) == ("noise", 2)


@pytest.mark.parametrize("stage", [*STAGES, "resolved"])
@pytest.mark.parametrize("urgency", [Urgency.URGENT, Urgency.ORDINARY])
def test_an_urgency_change_both_ways_at_every_stage(stage: str, urgency: Urgency) -> None:
    case = {**STAGES, "resolved": resolved}[stage](f"U-{stage}-{urgency.value}")
    if urgency == Urgency.ORDINARY:  # lowering needs an urgent case first
        case.later().do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="加急"))
    case.later().do(c.SetUrgency(actor=DISPATCHER, urgency=urgency, reason="改"))
    view = follow(case)
    changes = [e for e in case.events if isinstance(e, UrgencyChanged)]
    assert view.case["urgency"] == urgency.value and view.case["corrections"] == len(changes)
    row = rows_of(view, "case.urgency_changed")[-1]
    assert detail_value(str(row["detail"]), "urgency") == urgency.value
    assert (row["unit_kind"] is not None) == (stage in WITH_UNIT)


def test_a_relocation_within_the_units_territory_moves_the_case_but_keeps_the_unit() -> None:
    case = handling("RL-keep")
    case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=c.Member(person_id="p-1", unit=STREET)))
    case.later().do(c.Relocate(actor=DISPATCHER, location=SAME_STREET_POINT, reason="隔壁网格"))
    (event,) = [e for e in case.events if isinstance(e, CaseRelocated)]
    assert not event.recalled
    view = follow(case)
    assert (view.case["grid_id"], view.case["lat"], view.case["lon"]) == ("G-102", 30.65, 104.05)
    assert (view.case["status"], view.case["unit_id"], view.case["handler_id"]) == ("handling", "S-1", "p-1")
    assert view.case["corrections"] == 1 and view.current_dispatch() is not None
    (row,) = rows_of(view, "case.relocated")
    detail = str(row["detail"])
    assert detail_value(detail, "previous_location") == "D-1/S-1/C-10/G-101"
    assert detail_value(detail, "location") == "D-1/S-1/C-10/G-102"
    assert "青城花园" not in detail and detail_value(detail, "recalled") is None  # no address; False is not written


@pytest.mark.parametrize("stage", ["received", "registered"])
def test_a_relocation_before_dispatch_recalls_nothing(stage: str) -> None:
    case = STAGES[stage](f"RL-{stage}")
    case.later().do(c.Relocate(actor=DISPATCHER, location=OTHER_STREET_PLACE, reason="地址错"))
    view = follow(case)
    assert (view.case["street_id"], view.case["status"], view.case["unit_kind"]) == ("S-2", stage, None)
    (row,) = rows_of(view, "case.relocated")
    assert (row["unit_kind"], row["unit_id"]) == (None, None)


@pytest.mark.parametrize("stage", ["dispatched", "handling", "returned", "grid"])
def test_a_relocation_out_of_the_units_territory_recalls_the_case(stage: str) -> None:
    if stage == "returned":
        case = dispatched("RL-returned")
        case.later().do(
            c.ReturnCase(actor=STREET_ACTOR, reason_code=ReturnReason.TERRITORY_MISMATCH, reason="不属本街")
        )
        place = OTHER_STREET_PLACE
    elif stage == "grid":  # a grid loses the case to another grid of the same street
        case = registered("RL-grid")
        case.later().do(c.DispatchCase(actor=DISPATCHER, unit=GRID))
        case.later().do(c.AcceptCase(actor=GRID_ACTOR))
        place = OTHER_GRID
    else:
        case = STAGES[stage](f"RL-{stage}")
        if stage == "handling":
            case.later().do(c.AssignCase(actor=STREET_ACTOR, handler=c.Member(person_id="p-1", unit=STREET)))
        place = OTHER_STREET_PLACE
    before = project(case.events)
    dispatch_status = before.current_dispatch()["status"]  # type: ignore[index]
    case.later().do(c.Relocate(actor=DISPATCHER, location=place, reason="地址错"))
    (event,) = [e for e in case.events if isinstance(e, CaseRelocated)]
    assert event.recalled
    view = follow(case)
    assert view.case["status"] == "registered"
    assert (view.case["unit_kind"], view.case["unit_id"], view.case["handler_id"], view.case["section_id"]) == (
        None,
        None,
        None,
        None,
    )
    assert not view.case["accepted"] and view.case["next_due_at"] is None  # every clock cancelled
    assert all(r["outcome"] in ("met", "late", "cancelled") for r in view.clocks.values())
    (key,) = [k for k in view.assignments if k.startswith("d")]
    assert view.assignments[key]["status"] == ("returned" if dispatch_status == "returned" else "recalled")
    assert view.current_dispatch() is None or view.current_dispatch()["status"] == "returned"  # type: ignore[index]
    assert detail_value(str(rows_of(view, "case.relocated")[0]["detail"]), "recalled") == "True"
    # dispatched again, to the place's own unit: a fresh assignment, the recalled one left as it was
    own = (
        UnitRef(kind=UnitKind.STREET, id=place.street_id)
        if stage != "grid"
        else GRID.model_copy(update={"id": "G-102"})
    )
    case.later().do(c.DispatchCase(actor=DISPATCHER, unit=own))
    again = follow(case)
    assert (again.case["status"], again.case["unit_id"], again.case["dispatch_count"]) == ("dispatched", own.id, 2)
    current = again.current_dispatch()
    assert current is not None and current["unit_id"] == own.id and current["first_due_at"] is not None
    assert again.assignments[key]["status"] == view.assignments[key]["status"]


# --- recomputed clocks ------------------------------------------------------------------------------


def recomputes(case: Case) -> list[ClockRecomputed]:
    return [e for e in case.events if isinstance(e, ClockRecomputed)]


def accepted(case_id: str) -> Case:
    case = dispatched(case_id)
    case.later().do(c.AcceptCase(actor=STREET_ACTOR))
    return case


def review_pending(case_id: str) -> Case:
    case = department_case(case_id)
    case.later().do(c.SubmitReply(actor=H1, notes="已整改"))
    return case


RECOMPUTES = {
    # builder, correction, the clock kind, its recompute mode, the assignment column it times
    "resolve-reclassified": (handling, "reclassify", ClockKind.RESOLVE, RecomputeMode.RETROACTIVE, "resolve_due_at"),
    "resolve-urgent": (handling, "urgent", ClockKind.RESOLVE, RecomputeMode.RETROACTIVE, "resolve_due_at"),
    "contact-urgent": (accepted, "urgent", ClockKind.CONTACT, RecomputeMode.RETROACTIVE, None),
    "verify-urgent": (resolved, "urgent", ClockKind.VERIFY, RecomputeMode.FROM_NOW, None),
    "review-urgent": (review_pending, "urgent", ClockKind.REPLY_REVIEW, RecomputeMode.FROM_NOW, None),
    "interim-reclassified": (department_case, "reclassify-back", ClockKind.INTERIM_REPLY, None, None),
}


@pytest.mark.parametrize("name", RECOMPUTES)
def test_a_recomputed_clock_moves_its_due_time_its_assignments_deadline_and_the_next_due(name: str) -> None:
    build, correction, kind, mode, column = RECOMPUTES[name]
    case = build(f"RE-{name}")
    if correction == "reclassify-back":  # a complex category's interim clock, then a shorter budget
        case = department_case(f"RE-{name}", category="illegal-construction")
        case.later().do(c.Reclassify(actor=DISPATCHER, category="property-dispute", reason="实为物业纠纷"))
        assert not [e for e in recomputes(case) if e.kind == kind]  # the same rules: nothing to recompute
        case.later().do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="加急"))
        view = follow(case)  # the urgent budget needs no interim replies: the clock is cancelled
        assert [r["outcome"] for r in view.clocks.values() if r["kind"] == kind.value] == ["cancelled"]
        return
    case.later(30)
    if correction == "reclassify":
        case.do(c.Reclassify(actor=DISPATCHER, category="illegal-construction", reason="实为违建"))
    else:
        case.do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="加急"))
    ours = [e for e in recomputes(case) if e.kind == kind]
    assert ours, f"no {kind.value} clock recomputed"
    (event,) = ours
    assert event.mode == mode and event.due_at != event.previous_due_at
    view = follow(case)
    assert view.clocks[event.clock_id]["due_at"] == event.due_at
    assert view.clocks[event.clock_id]["budget_seconds"] == event.budget.total_seconds()
    if column is not None:
        dispatch = view.current_dispatch()
        assert dispatch is not None and dispatch[column] == event.due_at
    row = next(r for r in view.new_timeline if r["type"] == "sla.clock_recomputed" and r["clock_id"] == event.clock_id)
    detail = str(row["detail"])
    previous = datetime.fromisoformat(str(detail_value(detail, "previous_due_at")).replace("Z", "+00:00"))
    new = datetime.fromisoformat(str(detail_value(detail, "due_at")).replace("Z", "+00:00"))
    assert (previous, new, row["due_at"]) == (event.previous_due_at, event.due_at, event.due_at)  # both shown
    assert detail_value(detail, "mode") == event.mode.value
    assert detail_value(detail, "cause") == (
        "case.reclassified" if correction == "reclassify" else "case.urgency_changed"
    )
    assert row["clock_kind"] == kind.value


def test_a_correction_that_changes_no_rule_recomputes_nothing() -> None:
    case = handling("RE-none")
    due = {k: r["due_at"] for k, r in project(case.events).clocks.items()}
    case.later().do(c.Reclassify(actor=DISPATCHER, category="garbage", reason="改类"))  # the same budgets
    assert recomputes(case) == []
    view = follow(case)
    assert {k: r["due_at"] for k, r in view.clocks.items()} == due


def test_a_paused_clock_recomputed_stays_out_of_the_next_due() -> None:
    case = handling("RE-paused")
    case.later().do(c.PauseForResident(actor=STREET_ACTOR, reason="等业主"))
    case.later().do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="加急"))
    assert recomputes(case)
    view = follow(case)  # agrees() checks next_due_at leaves paused clocks out
    paused = [r for r in view.clocks.values() if r["paused"]]
    assert paused and all(r["due_at"] != view.case["next_due_at"] for r in paused)


# --- replays and random walks -------------------------------------------------------------------------


def test_replaying_the_new_events_changes_nothing() -> None:
    case = department_case("RP", category="illegal-construction")
    case.later().do(c.InterimReply(actor=H1, text="在办"))
    case.later().do(c.SubmitReply(actor=H1, notes="第一稿"))
    case.later().do(c.SendBack(actor=H2, reason="补材料"))
    case.later().do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="加急"))
    case.later().do(c.Relocate(actor=DISPATCHER, location=OTHER_STREET_PLACE, reason="地址错"))
    view = follow(case)
    before = (dict(view.case), {k: dict(v) for k, v in view.clocks.items()}, len(view.new_timeline))
    for e in case.events:
        assert not apply_event(view, e)
    assert (dict(view.case), {k: dict(v) for k, v in view.clocks.items()}, len(view.new_timeline)) == before


NEW_TYPES = {
    "case.reply_submitted",
    "case.reply_approved",
    "case.reply_sent_back",
    "case.interim_replied",
    "case.reclassified",
    "case.urgency_changed",
    "case.relocated",
    "sla.clock_recomputed",
}


_IDLE = (
    c.Supervise,
    c.AttachDuplicate,
    c.FileAppeal,
    c.DecideAppeal,
    c.RequestExtension,
    c.MergeInto,
    c.RejectCase,
    c.TerminateCase,
    c.ShelveCase,
)


def random_walk(seed: int, steps: int = 40) -> tuple[list[CaseEventBase], CaseState]:
    """A case driven by the explorer's commands in a seeded random order, with the clock ticking on."""
    rng = random.Random(seed)
    state = CaseState(case_id=f"W{seed}", sla=sla())
    now = at("2026-03-02 09:00")
    events: list[CaseEventBase] = []
    view = CaseView.empty(state.case_id)
    for _ in range(steps):
        now += timedelta(minutes=rng.choice([10, 60, 600, 3 * 24 * 60]))
        commands = candidate_commands(state)
        rng.shuffle(commands)
        # commands that change little come last most of the time, so walks get further along
        commands.sort(key=lambda cmd: isinstance(cmd, _IDLE) and rng.random() < 0.9)
        for cmd in [c.Tick(actor=SYSTEM), *commands]:
            try:
                new = decide(state, cmd, now)  # type: ignore[arg-type]
            except DomainError:
                continue
            for e in new:
                state = evolve_all(state, [e])
                assert apply_event(view, e)
                events.append(e)
            if not isinstance(cmd, c.Tick):
                break
        if state.status.value in ("closed", "rejected", "merged"):
            break
        agrees(view, state)
    return events, state


def test_random_walks_keep_the_read_model_with_the_workflow() -> None:
    seen: set[str] = set()
    for seed in range(120):
        events, _ = random_walk(seed)
        seen |= {str(e.__dict__["type"]) for e in events}
    assert seen >= NEW_TYPES, sorted(NEW_TYPES - seen)
