"""The pure projection behind the metrics: side paths the SQL tests do not drive (no database here).

Extensions, pauses, appeals, termination, merging, supervision by hand, and the idempotence rule.
"""

from __future__ import annotations

from datetime import timedelta

from events.base import UnitKind, UnitRef
from events.schemas import ClosureType
from readmodel.projection import CaseView, apply_event
from tests.unit.domain_helpers import DISPATCHER, STREET_ACTOR, SUPERVISOR, Case
from workflows.domain import commands as c


def project(events: list) -> CaseView:
    view = CaseView.empty(events[0].case_id)
    for e in events:
        assert apply_event(view, e)
    return view


def test_replayed_and_older_events_change_nothing() -> None:
    case = Case("P1").open_hotline().to_street_handling()
    view = project(case.events)
    before = (dict(view.case), {k: dict(v) for k, v in view.clocks.items()}, len(view.new_timeline))
    for e in case.events:
        assert not apply_event(view, e)
    assert (dict(view.case), {k: dict(v) for k, v in view.clocks.items()}, len(view.new_timeline)) == before
    assert view.last_seq == case.events[-1].seq


def test_extension_moves_the_resolve_deadline_everywhere() -> None:
    case = Case("P2").open_hotline().to_street_handling()
    case.later().do(c.RequestExtension(actor=STREET_ACTOR, extra=timedelta(days=3), reason="parts on order"))
    case.later().do(c.DecideExtension(actor=DISPATCHER, approved=True))
    view = project(case.events)
    resolve = next(r for r in view.clocks.values() if r["kind"] == "resolve")
    assert resolve["extended_seconds"] > 0
    dispatch = view.current_dispatch()
    assert dispatch is not None and dispatch["resolve_due_at"] == resolve["due_at"]
    assert view.case["next_due_at"] == resolve["due_at"]


def test_pause_leaves_the_clock_out_of_next_due_until_resumed() -> None:
    case = Case("P3").open_hotline().to_street_handling()
    case.later().do(c.PauseForResident(actor=STREET_ACTOR, reason="resident away"))
    paused = project(case.events)
    resolve_id = next(k for k, r in paused.clocks.items() if r["kind"] == "resolve")
    assert paused.clocks[resolve_id]["paused"]
    assert paused.case["next_due_at"] is None  # the only running clock is paused
    case.later(60).do(c.ResumeFromResident(actor=STREET_ACTOR))
    resumed = project(case.events)
    assert not resumed.clocks[resolve_id]["paused"]
    assert resumed.case["next_due_at"] == resumed.clocks[resolve_id]["due_at"]
    assert resumed.clocks[resolve_id]["due_at"] > paused.clocks[resolve_id]["due_at"]


def test_appeal_granted_excludes_the_case_and_manual_supervision_is_recorded() -> None:
    case = Case("P4").open_hotline().to_street_handling()
    case.do(c.FileAppeal(actor=STREET_ACTOR, reason="force majeure"))
    case.do(c.DecideAppeal(actor=SUPERVISOR, granted=True))
    case.do(c.Supervise(actor=SUPERVISOR, note="督办"))
    view = project(case.events)
    assert view.case["excluded_from_evaluation"]
    assert view.case["escalation_count"] == 1
    (esc,) = view.escalations.values()
    assert esc["manual"] and esc["level"] == "supervision"


def test_terminated_and_merged_cases_end_without_due_times() -> None:
    case = Case("P5").open_hotline().to_street_handling()
    case.do(c.TerminateCase(actor=DISPATCHER, reason="claim unreasonable"))
    view = project(case.events)
    assert view.case["terminated"] and view.case["status"] == "closed"
    assert view.case["closure_type"] == ClosureType.SPECIAL.value and view.case["next_due_at"] is None
    assert all(r["stopped_at"] is not None for r in view.clocks.values())

    dup = Case("P6").open_hotline()
    dup.do(c.MergeInto(actor=DISPATCHER, into_case_id="P5"))
    merged = project(dup.events)
    assert merged.case["status"] == "merged" and merged.case["merged_into"] == "P5"


def test_unshelving_restores_the_status_and_keeps_the_assignment() -> None:
    case = Case("P7").open_hotline()
    case.do(c.RegisterCase(actor=DISPATCHER))
    case.do(c.DispatchCase(actor=DISPATCHER, unit=UnitRef(kind=UnitKind.DEPARTMENT, id="water")))
    case.do(c.ShelveCase(actor=DISPATCHER, reason="needs budget"))
    shelved = project(case.events)
    assert shelved.case["status"] == "shelved" and shelved.case["shelved_from"] == "dispatched"
    case.do(c.UnshelveCase(actor=DISPATCHER))
    view = project(case.events)
    assert view.case["status"] == "dispatched" and not view.case["shelved"]
    (only,) = view.assignments.values()
    assert only["unit_id"] == "water" and only["status"] == "open"


def test_time_scale_of_a_compressed_case_on_the_case_and_its_clocks() -> None:
    from activities.sla import SlaActivities
    from workflows.sla.calendar import build_calendar
    from workflows.sla.policy import default_policy

    fast = Case("P20")
    fast.state = fast.state.model_copy(
        update={"sla": SlaActivities(default_policy(), build_calendar([2026]), time_scale=2.0).context}
    )
    view = project(fast.open_hotline().to_street_handling().events)
    assert view.clocks and all(r["time_scale"] == 2.0 for r in view.clocks.values())
    assert view.case["time_scale"] == 2.0
    real = project(Case("P21").open_hotline().to_street_handling().events)
    assert real.clocks and all(r["time_scale"] is None for r in real.clocks.values())
    assert real.case["time_scale"] is None
