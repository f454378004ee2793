"""The lifecycle counters of the work inside the unit, on events the domain itself decided."""

from __future__ import annotations

from prometheus_client import REGISTRY

from activities.instruments import PublishedEventMetrics
from events.schemas import CaseEvent, Urgency
from tests.unit.domain_helpers import DISPATCHER, Case
from tests.unit.test_domain_review_corrections import ELSEWHERE, HANDLER, REVIEWER, department_case
from workflows.domain import commands as c

HOUSING = "department:housing"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_review_interim_and_corrections_are_counted_by_unit_and_category() -> None:
    submitted, sent_back = (
        sample("gridcase_replies_submitted_total", unit=HOUSING),
        sample("gridcase_replies_sent_back_total", unit=HOUSING),
    )
    approved = sample("gridcase_replies_approved_total", unit=HOUSING, approver="chen")
    reclassified = sample(
        "gridcase_corrections_total", kind="reclassified", unit=HOUSING, category="illegal-construction"
    )
    urgency = sample("gridcase_corrections_total", kind="urgency_changed", unit="hotline", category="")
    relocated = sample("gridcase_corrections_total", kind="relocated", unit=HOUSING, category="")
    interim_on_time = sample("gridcase_interim_replies_total", unit=HOUSING, on_time="true")

    dept = department_case()
    dept.later().do(c.SubmitReply(actor=HANDLER, notes="v1"))
    dept.later().do(c.SendBack(actor=REVIEWER, reason="缺照片"))
    dept.later().do(c.Reclassify(actor=DISPATCHER, category="illegal-construction", reason="违建"))
    dept.later().do(c.InterimReply(actor=HANDLER, text="调查中"))
    dept.later().do(c.Relocate(actor=DISPATCHER, location=ELSEWHERE, reason="改址"))
    dept.later().do(c.SubmitReply(actor=HANDLER, notes="v2"))
    dept.later().do(c.ApproveReply(actor=REVIEWER))
    early = Case("C2").open_hotline()
    early.do(c.SetUrgency(actor=DISPATCHER, urgency=Urgency.URGENT, reason="加急"))

    metrics = PublishedEventMetrics()
    events: list[CaseEvent] = [*dept.events, *early.events]  # type: ignore[list-item]
    assert metrics.observe(events) == len(events)
    assert metrics.observe(events) == 0  # a retried batch counts nothing twice
    assert sample("gridcase_replies_submitted_total", unit=HOUSING) - submitted == 2
    assert sample("gridcase_replies_sent_back_total", unit=HOUSING) - sent_back == 1
    assert sample("gridcase_replies_approved_total", unit=HOUSING, approver="chen") - approved == 1
    assert sample("gridcase_interim_replies_total", unit=HOUSING, on_time="true") - interim_on_time == 1
    assert (
        sample("gridcase_corrections_total", kind="reclassified", unit=HOUSING, category="illegal-construction")
        - reclassified
        == 1
    )
    assert sample("gridcase_corrections_total", kind="urgency_changed", unit="hotline", category="") - urgency == 1
    assert sample("gridcase_corrections_total", kind="relocated", unit=HOUSING, category="") - relocated == 1


def test_property_companies_and_volunteer_teams_are_counted() -> None:
    """Delegations, company returns, companies summoned and volunteer calls, on the timelines of
    simulated cases played through the domain (each counted once, a retried batch adds nothing)."""
    from collections import Counter

    from events.base import UnitKind
    from events.schemas import (
        CaseDispatched,
        CaseReturned,
        VolunteersCalled,
        VolunteersReleased,
        VolunteersReported,
        WhistleBlown,
    )
    from tests.unit.test_sim_plan import _stream, play_in_registry
    from workers.sim.config import Behaviour, SimConfig

    cfg = SimConfig(behaviour=Behaviour(delegate=0.6, property_return=0.4, whistle_property=0.8, volunteers=0.7))
    events: list[CaseEvent] = []
    for plan in _stream(23, 80, cfg):
        events += play_in_registry(plan)[1]  # type: ignore[arg-type]
    expected: Counter[tuple[str, ...]] = Counter()
    for e in events:
        if isinstance(e, CaseDispatched) and e.by is not None and e.unit.kind == UnitKind.PROPERTY:
            expected["gridcase_delegations_total", e.by.key(), e.unit.id] += 1
        elif isinstance(e, CaseReturned) and e.unit.kind == UnitKind.PROPERTY:
            expected["gridcase_property_returns_total", e.unit.id] += 1
        elif isinstance(e, WhistleBlown):
            for t in e.tasks:
                if t.unit_kind == UnitKind.PROPERTY:
                    expected["gridcase_companies_summoned_total", t.department_id] += 1
        elif isinstance(e, VolunteersCalled | VolunteersReported | VolunteersReleased):
            outcome = {VolunteersCalled: "called", VolunteersReported: "reported", VolunteersReleased: "released"}
            expected["gridcase_volunteer_calls_total", e.team_id, outcome[type(e)]] += 1
    names = {name for name, *_ in expected}
    assert names == {
        "gridcase_delegations_total",
        "gridcase_property_returns_total",
        "gridcase_companies_summoned_total",
        "gridcase_volunteer_calls_total",
    }

    def labels(key: tuple[str, ...]) -> dict[str, str]:
        name, *values = key
        keys = {
            "gridcase_delegations_total": ("by", "company"),
            "gridcase_property_returns_total": ("company",),
            "gridcase_companies_summoned_total": ("company",),
            "gridcase_volunteer_calls_total": ("team", "outcome"),
        }[name]
        return dict(zip(keys, values, strict=True))

    before = {k: sample(k[0], **labels(k)) for k in expected}
    metrics = PublishedEventMetrics()
    assert metrics.observe(events) == len(events)
    assert metrics.observe(events) == 0
    assert {k: sample(k[0], **labels(k)) - before[k] for k in expected} == dict(expected)
