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
