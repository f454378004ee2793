"""Which case events become which messages, to whom: pure (no I/O, no clock, no settings).

:func:`plan` takes one case event (unmasked: the notifier reads the restricted topic) and what the
notifier remembers of the case (:class:`CaseFacts`), and returns the messages it calls for as
:class:`Intent` values — a recipient (``resident``, a unit key such as ``department:D-ENV``, a user as
``user:<id>``, or an escalation recipient as the policy resolved it, e.g. ``head:D-ENV`` or a street
id), a template and whether it is urgent. Addresses, channels, quiet hours, opt-outs and rate limits
are the notifier's business, not this module's.

To residents: the receipt at intake, each interim reply, the answer at resolve, the invitation to
rate when the callback is due, and the closure. To staff: a dispatch to their unit, an assignment to
them (or their section), a whistle summons, SLA warnings and breaches, and escalation rungs (to the
rung's recipients, which the policy resolved up the hierarchy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.schemas import (
    CaseAssigned,
    CaseClosed,
    CaseDispatched,
    CaseEvent,
    CaseReceived,
    CaseReclassified,
    CaseResolved,
    CaseVerified,
    EscalationRaised,
    InterimReplied,
    SlaBreached,
    SlaWarningRaised,
    Urgency,
    UrgencyChanged,
    WhistleBlown,
)

RESIDENT = "resident"

#: Every template a rule may ask for (each exists in every locale: a test renders them all).
RESIDENT_TEMPLATES = ("receipt", "interim", "answer", "callback", "closed")
STAFF_TEMPLATES = ("dispatched", "assigned", "summoned", "warning", "breached", "escalation")
TEMPLATES = RESIDENT_TEMPLATES + STAFF_TEMPLATES


@dataclass(frozen=True)
class CaseFacts:
    """What the notifier keeps of a case between its events (from ``case.received`` and corrections)."""

    case_id: str
    title: str = ""
    category: str = ""
    urgency: str = Urgency.ORDINARY.value
    #: The resident can be told (a phone is known); the number itself is not part of the plan.
    has_resident: bool = False
    #: When the case is expected to be resolved (the receipt says so), if known.
    expected_at: datetime | None = None


@dataclass(frozen=True)
class Intent:
    """One message a case event calls for."""

    recipient: str
    template: str
    urgent: bool = False
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def to_resident(self) -> bool:
        return self.recipient == RESIDENT


def _urgent(facts: CaseFacts) -> bool:
    return facts.urgency == Urgency.URGENT.value


def _base(event: CaseEvent, facts: CaseFacts) -> dict[str, Any]:
    return {
        "case_id": event.case_id,
        "title": facts.title,
        "category": facts.category,
        "occurred_at": event.occurred_at,
        "event_type": event.type,
    }


def plan(event: CaseEvent, facts: CaseFacts) -> list[Intent]:
    """The messages ``event`` calls for, given what is known of its case."""
    ctx = _base(event, facts)
    urgent = _urgent(facts)
    out: list[Intent] = []

    def resident(template: str, **extra: Any) -> None:
        if facts.has_resident:
            out.append(Intent(RESIDENT, template, urgent, {**ctx, **extra}))

    def staff(recipient: str, template: str, *, is_urgent: bool = urgent, **extra: Any) -> None:
        if recipient and all(i.recipient != recipient or i.template != template for i in out):
            out.append(Intent(recipient, template, is_urgent, {**ctx, **extra}))

    match event:
        case CaseReceived():
            resident("receipt", expected_at=facts.expected_at)
        case InterimReplied():
            resident("interim", text=event.text, number=event.number)
        case CaseResolved():
            resident("answer", notes=event.notes)
        case CaseVerified() if event.passed:
            resident("callback")
        case CaseClosed():
            resident("closed", closure_type=event.closure_type.value)
        case CaseDispatched():
            staff(event.unit.key(), "dispatched", unit=event.unit.key(), note=event.note or "")
        case CaseAssigned():
            who = f"user:{event.handler_id}" if event.handler_id else event.unit.key()
            staff(who, "assigned", unit=event.unit.key(), note=event.note or "")
        case WhistleBlown():
            for task in event.tasks:
                staff(f"{task.unit_kind.value}:{task.department_id}", "summoned", task=task.task, round=event.round)
        case SlaWarningRaised():
            for r in event.recipients:
                staff(r, "warning", unit=event.unit.key(), clock=event.kind.value, due_at=event.due_at)
        case SlaBreached():
            for r in event.recipients:
                staff(r, "breached", is_urgent=True, unit=event.unit.key(), clock=event.kind.value, due_at=event.due_at)
        case EscalationRaised():
            for r in event.recipients:
                staff(
                    r,
                    "escalation",
                    is_urgent=True,
                    unit=event.unit.key(),
                    level=event.level.value,
                    clock=event.kind.value if event.kind else "",
                    note=event.note or "",
                )
        case _:
            pass
    return out


def facts_after(facts: CaseFacts, event: CaseEvent) -> CaseFacts:
    """What is known of the case once ``event`` happened (title, category, urgency, the resident)."""
    from dataclasses import replace

    match event:
        case CaseReceived():
            return replace(
                facts,
                title=event.title,
                category=event.category,
                urgency=event.urgency.value,
                has_resident=bool(event.contact.phone),
            )
        case CaseReclassified():
            return replace(facts, category=event.category)
        case UrgencyChanged():
            return replace(facts, urgency=event.urgency.value)
        case _:
            return facts
