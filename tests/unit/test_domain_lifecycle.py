"""Every transition of the case lifecycle, as plain functions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import (
    Channel,
    ClockKind,
    ClosureType,
    Rating,
    ResidentContact,
    ReturnReason,
    ReviewDecision,
    WhistleTask,
)
from tests.unit.domain_helpers import (
    DISPATCHER,
    GRID_WORKER,
    LOCATION,
    STREET,
    STREET_ACTOR,
    SUPERVISOR,
    Case,
    dept_actor,
    unit_actor,
)
from workflows.domain import CaseStatus, DomainError, decide, evolve
from workflows.domain import commands as c

ENV = UnitRef(kind=UnitKind.DEPARTMENT, id="environment")
URBAN = UnitRef(kind=UnitKind.DEPARTMENT, id="urban-management")


def whistle(case: Case, *depts: str) -> None:
    case.later().do(
        c.BlowWhistle(actor=STREET_ACTOR, tasks=[WhistleTask(department_id=d, task=f"task of {d}") for d in depts])
    )


def test_full_hotline_loop_with_whistle_closes_normally() -> None:
    case = Case().open_hotline().to_street_handling()
    whistle(case, "environment", "urban-management")
    for dept in ("environment", "urban-management"):
        case.later().do(c.ReportIn(actor=dept_actor(dept)))
        case.later().do(c.CompleteTask(actor=dept_actor(dept), result="done"))
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="stopped"))
    case.later().do(c.VerifyCase(actor=GRID_WORKER, passed=True))
    case.later().do(c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED))
    case.later().do(c.CloseCase(actor=DISPATCHER))
    s = case.state
    assert s.status == CaseStatus.CLOSED
    assert s.closure_type == ClosureType.NORMAL
    assert not s.running_clocks()
    assert [e.seq for e in case.events] == list(range(1, len(case.events) + 1))
    assert all(e.event_id == f"C1:{e.seq}" for e in case.events)
    types = case.types()
    for expected in (
        "case.received",
        "case.registered",
        "case.dispatched",
        "case.accepted",
        "case.resident_contacted",
        "case.whistle_blown",
        "case.department_reported_in",
        "case.department_task_completed",
        "case.resolved",
        "case.verified",
        "case.callback_recorded",
        "case.closed",
    ):
        assert expected in types
    # every clock stopped, all met (each step took ten minutes)
    stopped = [e for e in case.events if e.model_dump()["type"] == "sla.clock_stopped"]
    kinds = {e.model_dump()["kind"] for e in stopped}
    assert {
        ClockKind.ACCEPT,
        ClockKind.CONTACT,
        ClockKind.REPORT_IN,
        ClockKind.RESOLVE,
        ClockKind.VERIFY,
        ClockKind.CALLBACK,
    } <= kinds
    assert s.units_involved == ["street:S-1", "department:environment", "department:urban-management"]


def test_grid_patrol_self_handled_on_the_spot() -> None:
    case = Case()
    case.do(
        c.OpenCase(
            actor=GRID_WORKER,
            case_id="C1",
            channel=Channel.GRID_PATROL,
            category="garbage",
            title="垃圾",
            description="垃圾堆放",
            location=LOCATION,
            self_handle=True,
        )
    )
    assert case.state.status == CaseStatus.HANDLING
    assert case.state.unit == UnitRef(kind=UnitKind.GRID, id="G-101")
    case.later().do(c.ResolveCase(actor=GRID_WORKER, notes="cleaned"))
    assert case.state.resolved_by_grid
    case.later().do(c.VerifyCase(actor=GRID_WORKER, passed=True))
    with pytest.raises(DomainError) as err:
        case.do(c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED))
    assert err.value.rule == "callback.no_resident"
    case.do(c.CloseCase(actor=DISPATCHER))
    assert case.state.status == CaseStatus.CLOSED


def test_return_review_and_redispatch_restarts_accept_clock() -> None:
    case = Case().open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=ENV))
    first_accept = case.state.running_clock(ClockKind.ACCEPT)
    assert first_accept is not None and first_accept.unit_key == "department:environment"
    case.later().do(
        c.ReturnCase(
            actor=dept_actor("environment"),
            reason_code=ReturnReason.TERRITORY_MISMATCH,
            reason="construction noise belongs to the street",
            evidence=["photo:1"],
        )
    )
    assert case.state.status == CaseStatus.RETURNED
    assert case.state.running_clock(ClockKind.RETURN_REVIEW) is not None
    case.later().do(
        c.ReviewReturn(
            actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="street handles it", redispatch_to=STREET
        )
    )
    s = case.state
    assert s.status == CaseStatus.DISPATCHED and s.unit == STREET and not s.final_ruling
    new_accept = s.running_clock(ClockKind.ACCEPT)
    assert new_accept is not None and new_accept.unit_key == "street:S-1"
    assert new_accept.clock_id != first_accept.clock_id
    assert new_accept.started_at == case.now
    assert s.clocks[first_accept.clock_id].stopped_at is not None
    case.later().do(c.AcceptCase(actor=STREET_ACTOR))
    assert case.state.status == CaseStatus.HANDLING


def test_insisted_review_is_final() -> None:
    case = Case().open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=ENV))
    case.do(c.ReturnCase(actor=dept_actor("environment"), reason_code=ReturnReason.OTHER, reason="not ours"))
    case.do(c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.INSIST, ruling="审定: environment handles"))
    assert case.state.final_ruling and case.state.unit == ENV
    with pytest.raises(DomainError) as err:
        case.do(c.ReturnCase(actor=dept_actor("environment"), reason_code=ReturnReason.OTHER, reason="again"))
    assert err.value.rule == "return.final_ruling"


def test_redispatch_to_same_unit_is_refused() -> None:
    case = Case().open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=ENV))
    case.do(c.ReturnCase(actor=dept_actor("environment"), reason_code=ReturnReason.OTHER, reason="not ours"))
    with pytest.raises(DomainError) as err:
        case.do(c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="x", redispatch_to=ENV))
    assert err.value.rule == "review.same_unit"
    with pytest.raises(DomainError) as err:
        case.do(c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="x"))
    assert err.value.rule == "review.target_missing"


def test_failed_verification_orders_rework_with_a_new_resolve_clock() -> None:
    case = Case().open_hotline().to_street_handling()
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="fixed"))
    case.later().do(c.VerifyCase(actor=GRID_WORKER, passed=False, note="still noisy"))
    s = case.state
    assert s.status == CaseStatus.HANDLING and s.rework_count == 1
    resolve_clocks = [k for k in s.clocks.values() if k.kind == ClockKind.RESOLVE]
    assert len(resolve_clocks) == 2 and resolve_clocks[-1].stopped_at is None


def test_unsatisfied_callback_reopens_case() -> None:
    case = Case().open_hotline().to_street_handling()
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="fixed"))
    case.later().do(c.VerifyCase(actor=GRID_WORKER, passed=True))
    case.later().do(c.RecordCallback(actor=DISPATCHER, rating=Rating.UNSATISFIED, resolved=False))
    s = case.state
    assert s.status == CaseStatus.HANDLING and s.reopen_count == 1
    assert s.running_clock(ClockKind.RESOLVE) is not None
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="fixed properly"))
    case.later().do(c.VerifyCase(actor=GRID_WORKER, passed=True))
    case.later().do(c.RecordCallback(actor=DISPATCHER, rating=Rating.BASICALLY_SATISFIED))
    case.later().do(c.CloseCase(actor=DISPATCHER))
    assert case.state.status == CaseStatus.CLOSED


def test_extension_approved_moves_resolution_deadline() -> None:
    case = Case().open_hotline().to_street_handling()
    clock = case.state.running_clock(ClockKind.RESOLVE)
    assert clock is not None
    case.later().do(c.RequestExtension(actor=STREET_ACTOR, extra=timedelta(days=3), reason="parts on order"))
    with pytest.raises(DomainError) as err:
        case.do(c.RequestExtension(actor=STREET_ACTOR, extra=timedelta(days=1), reason="again"))
    assert err.value.rule == "extension.pending"
    case.later().do(c.DecideExtension(actor=DISPATCHER, approved=True))
    extended = case.state.clocks[clock.clock_id]
    assert extended.due_at > clock.due_at
    assert case.types()[-1] == "sla.clock_extended"
    assert case.state.extensions_granted == [timedelta(days=3)]


def test_pause_and_resume_for_resident() -> None:
    case = Case().open_hotline().to_street_handling()
    case.later().do(c.PauseForResident(actor=STREET_ACTOR, reason="resident away"))
    with pytest.raises(DomainError) as err:
        case.do(c.ResolveCase(actor=STREET_ACTOR, notes="x"))
    assert err.value.rule == "resolve.paused"
    case.later(60).do(c.ResumeFromResident(actor=STREET_ACTOR))
    case.later().do(c.ResolveCase(actor=STREET_ACTOR, notes="fixed"))
    assert case.state.status == CaseStatus.RESOLVED


def test_shelve_unshelve_terminate_and_merge() -> None:
    case = Case().open_hotline().to_street_handling()
    case.do(c.ShelveCase(actor=DISPATCHER, reason="needs budget"))
    assert case.state.status == CaseStatus.SHELVED and not case.state.running_clocks()
    case.do(c.UnshelveCase(actor=DISPATCHER))
    assert case.state.status == CaseStatus.HANDLING and case.state.running_clock(ClockKind.RESOLVE)
    case.do(c.TerminateCase(actor=DISPATCHER, reason="claim unreasonable"))
    assert case.state.status == CaseStatus.CLOSED and case.state.closure_type == ClosureType.SPECIAL
    assert case.state.terminated and not case.state.running_clocks()

    dup = Case("C2").open_hotline()
    dup.do(c.MergeInto(actor=DISPATCHER, into_case_id="C1"))
    assert dup.state.status == CaseStatus.MERGED and dup.state.merged_into == "C1"
    with pytest.raises(DomainError):
        dup.do(c.RegisterCase(actor=DISPATCHER))


def test_attach_duplicate_and_appeal() -> None:
    case = Case().open_hotline().to_street_handling()
    case.do(c.AttachDuplicate(actor=DISPATCHER, duplicate_case_id="C9"))
    assert case.state.duplicates == ["C9"]
    with pytest.raises(DomainError):
        case.do(c.AttachDuplicate(actor=DISPATCHER, duplicate_case_id="C9"))
    case.do(c.FileAppeal(actor=STREET_ACTOR, reason="force majeure"))
    with pytest.raises(DomainError) as err:
        case.do(c.DecideAppeal(actor=Actor(role=Role.SUPERVISOR, person_id="x", unit_id="D-9"), granted=True))
    assert err.value.rule == "jurisdiction.not_supervisor"
    case.do(c.DecideAppeal(actor=SUPERVISOR, granted=True))
    assert case.state.excluded_from_evaluation


def test_manual_supervision_is_an_escalation_event() -> None:
    case = Case().open_hotline().to_street_handling()
    events = case.do(c.Supervise(actor=SUPERVISOR, note="督办: 尽快处理"))
    assert case.types(events) == ["sla.escalation_raised"]
    assert case.state.escalations == 1


# --- refusals: role, jurisdiction, status ------------------------------------------------------


def refused(case: Case, cmd: c.Command) -> str:
    before = case.state.model_copy(deep=True)
    with pytest.raises(DomainError) as err:
        decide(case.state, cmd, case.now)  # type: ignore[arg-type]
    assert case.state == before, "a refused command must change nothing"
    assert err.value.message
    return err.value.rule


def test_role_refusals() -> None:
    case = Case().open_hotline()
    assert refused(case, c.RegisterCase(actor=STREET_ACTOR)) == "role.not_allowed"
    assert refused(case, c.DispatchCase(actor=GRID_WORKER, unit=STREET)) == "role.not_allowed"
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    assert refused(case, c.Tick(actor=DISPATCHER)) == "role.not_allowed"


def test_jurisdiction_refusals() -> None:
    case = Case().open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    # another street, a department, a grid worker cannot accept the street's case
    other_street = unit_actor(UnitRef(kind=UnitKind.STREET, id="S-2"))
    assert refused(case, c.AcceptCase(actor=other_street)) == "jurisdiction.not_assigned"
    assert refused(case, c.AcceptCase(actor=dept_actor("water"))) == "jurisdiction.not_assigned"
    case.do(c.AcceptCase(actor=STREET_ACTOR))
    case.do(c.ContactResident(actor=STREET_ACTOR))
    # only the handling street may whistle; a department not summoned may not report in
    assert (
        refused(case, c.BlowWhistle(actor=other_street, tasks=[WhistleTask(department_id="water", task="x")]))
        == "jurisdiction.whistle"
    )
    whistle(case, "environment")
    assert refused(case, c.ReportIn(actor=dept_actor("water"))) == "jurisdiction.not_summoned"
    assert refused(case, c.CompleteTask(actor=dept_actor("environment"), result="x")) == "report_in.required"
    assert refused(case, c.ResolveCase(actor=STREET_ACTOR, notes="x")) == "resolve.whistle_open"
    case.do(c.ReportIn(actor=dept_actor("environment")))
    case.do(c.CompleteTask(actor=dept_actor("environment"), result="done"))
    case.do(c.ResolveCase(actor=STREET_ACTOR, notes="done"))
    # a worker of another grid cannot verify
    other_grid = Actor(role=Role.GRID_WORKER, person_id="gw-9", unit_id="G-202")
    assert refused(case, c.VerifyCase(actor=other_grid, passed=True)) == "jurisdiction.grid"


def test_intake_refusals() -> None:
    case = Case()
    base = dict(case_id="C1", category="noise", title="t", description="d", location=LOCATION)
    other_grid = Actor(role=Role.GRID_WORKER, person_id="gw-9", unit_id="G-202")
    assert refused(case, c.OpenCase(actor=other_grid, channel=Channel.GRID_PATROL, **base)) == "jurisdiction.grid"
    resident = Actor(role=Role.RESIDENT, person_id="r-1")
    assert (
        refused(
            case, c.OpenCase(actor=resident, channel=Channel.WEB, contact=ResidentContact(resident_id="r-2"), **base)
        )
        == "jurisdiction.resident"
    )
    assert refused(case, c.OpenCase(actor=resident, channel=Channel.HOTLINE, **base)) == "intake.channel"
    assert (
        refused(case, c.OpenCase(actor=DISPATCHER, channel=Channel.HOTLINE, self_handle=True, **base))
        == "intake.self_handle"
    )
    case.do(c.OpenCase(actor=resident, channel=Channel.WEB, **base))
    assert case.state.contact.resident_id == "r-1"
    assert refused(case, c.OpenCase(actor=resident, channel=Channel.WEB, **base)) == "case.already_open"


def test_status_refusals() -> None:
    case = Case().open_hotline()
    assert refused(case, c.AcceptCase(actor=STREET_ACTOR)) == "status.not_allowed"
    assert refused(case, c.DispatchCase(actor=DISPATCHER, unit=STREET)) == "status.not_allowed"
    case.do(c.RegisterCase(actor=DISPATCHER))
    wrong_grid = UnitRef(kind=UnitKind.GRID, id="G-202")
    assert refused(case, c.DispatchCase(actor=DISPATCHER, unit=wrong_grid)) == "dispatch.outside_territory"
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    case.do(c.AcceptCase(actor=STREET_ACTOR))
    assert refused(case, c.ResolveCase(actor=STREET_ACTOR, notes="x")) == "resolve.not_contacted"
    assert refused(case, c.CloseCase(actor=DISPATCHER)) == "status.not_allowed"


def test_rejected_case_is_terminal() -> None:
    case = Case().open_hotline()
    case.do(c.RejectCase(actor=DISPATCHER, reason="not within the hotline's remit"))
    assert case.state.status == CaseStatus.REJECTED
    assert refused(case, c.RegisterCase(actor=DISPATCHER)) == "case.finished"


def test_a_finished_case_refuses_every_action_of_every_role() -> None:
    """Closed, rejected, merged and terminated cases: each candidate command answers case.finished
    (or role.not_allowed for a role the catalogue does not list), never an event."""
    from tests.unit.domain_helpers import at, sla
    from workflows.domain.explore import candidate_commands, reachable_states
    from workflows.domain.state import TERMINAL

    finished = [(s, now) for s, now in reachable_states(sla(), at("2026-03-02 09:00")) if s.status in TERMINAL]
    assert {s.status for s, _ in finished} == set(TERMINAL)
    assert any(s.status == CaseStatus.CLOSED and s.closure_type is not None for s, _ in finished)
    for state, now in finished:
        for cmd in candidate_commands(state):
            with pytest.raises(DomainError) as err:
                decide(state, cmd, now)  # type: ignore[arg-type]
            assert err.value.rule in ("case.finished", "role.not_allowed"), (state.status, cmd, err.value)


def test_evolve_replays_to_the_same_state() -> None:
    case = Case().open_hotline().to_street_handling()
    whistle(case, "environment")
    case.do(c.ReportIn(actor=dept_actor("environment")))
    from tests.unit.domain_helpers import sla
    from workflows.domain import CaseState

    replayed = CaseState(case_id="C1", sla=sla())
    for event in case.events:
        replayed = evolve(replayed, event)
    assert replayed == case.state


def test_decide_never_mutates_its_input() -> None:
    case = Case().open_hotline()
    before = case.state.model_copy(deep=True)
    decide(case.state, c.RegisterCase(actor=DISPATCHER), case.now)
    assert case.state == before


def test_naive_time_is_refused() -> None:
    case = Case()
    with pytest.raises(ValueError):
        decide(case.state, open_cmd(), case.now.replace(tzinfo=None))


def open_cmd() -> c.OpenCase:
    return c.OpenCase(
        actor=DISPATCHER,
        case_id="C1",
        channel=Channel.HOTLINE,
        category="noise",
        title="t",
        description="d",
        location=LOCATION,
    )


def test_command_validation_names_field_and_rule() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        c.BlowWhistle(
            actor=STREET_ACTOR,
            tasks=[WhistleTask(department_id="a", task="x"), WhistleTask(department_id="a", task="y")],
        )
    assert "tasks" in str(err.value) and "once per whistle" in str(err.value)
    with pytest.raises(ValidationError) as err:
        c.RequestExtension(actor=STREET_ACTOR, extra=timedelta(0), reason="x")
    assert "extra" in str(err.value)
    with pytest.raises(ValidationError) as err:
        c.OpenCase(
            actor=DISPATCHER,
            case_id="bad id!",
            channel=Channel.HOTLINE,
            category="noise",
            title="t",
            description="d",
            location=LOCATION,
        )
    assert "case_id" in str(err.value)


def _city_case() -> Case:
    """A case whose context carries the city's departments (as a worker with a registry gives it)."""
    case = Case()
    assert case.state.sla is not None
    known = ("environment", "housing", "urban-management", "water")
    case.state = case.state.model_copy(update={"sla": case.state.sla.model_copy(update={"departments": known})})
    return case.open_hotline()


@pytest.mark.parametrize("department", ["no-such-department", "", "Environment", "environment "])
def test_a_department_outside_the_city_is_refused_by_dispatch_review_and_whistle(department: str) -> None:
    ghost = UnitRef.model_construct(kind=UnitKind.DEPARTMENT, id=department)
    case = _city_case()
    case.do(c.RegisterCase(actor=DISPATCHER))
    assert refused(case, c.DispatchCase(actor=DISPATCHER, unit=ghost)) == "registry.unknown_unit"
    case.do(c.DispatchCase(actor=DISPATCHER, unit=STREET))
    case.do(c.ReturnCase(actor=STREET_ACTOR, reason_code=ReturnReason.UNCLEAR_OWNERSHIP, reason="不属本街道"))
    review = c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.REDISPATCH, ruling="改派", redispatch_to=ghost)
    assert refused(case, review) == "registry.unknown_unit"
    case.do(c.ReviewReturn(actor=DISPATCHER, decision=ReviewDecision.INSIST, ruling="属地办理"))
    case.do(c.AcceptCase(actor=STREET_ACTOR))
    tasks = [
        WhistleTask(department_id="environment", task="执法"),
        WhistleTask.model_construct(department_id=department, task="x"),
    ]
    assert refused(case, c.BlowWhistle.model_construct(actor=STREET_ACTOR, tasks=tasks, reason=None)) == (
        "registry.unknown_unit"
    )
    before = case.state.seq
    case.do(c.BlowWhistle(actor=STREET_ACTOR, tasks=[WhistleTask(department_id="environment", task="执法")]))
    assert case.state.open_whistle is not None and case.state.seq > before


def test_a_context_without_departments_checks_none() -> None:
    """Cases started before the registry was carried keep their behaviour (their histories replay)."""
    case = Case().open_hotline().to_street_handling()
    assert case.state.sla is not None and case.state.sla.departments is None
    case.do(c.BlowWhistle(actor=STREET_ACTOR, tasks=[WhistleTask(department_id="anything", task="x")]))
    assert case.state.open_whistle is not None
