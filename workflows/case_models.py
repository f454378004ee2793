"""The case workflow's own data types: its input, carried state, action results and summary.

They live outside :mod:`workflows.case_workflow` so the workflow sandbox imports them once, passed
through, instead of rebuilding their pydantic schemas for every workflow run it starts (that
rebuild was most of a new case's worker CPU). :mod:`workflows.case_workflow` re-exports them.

:func:`shared_sla_context` lets every cached case of a worker point at one copy of an identical
SLA context (policy and calendar, about 70 KiB each) instead of holding its own.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel

from events.schemas import CaseEvent
from workflows.domain import CaseState, CaseStatus, SlaContext


class CaseWorkflowState(BaseModel):
    """Everything the workflow carries: the domain state, the timeline and the publishing cursor."""

    case: CaseState = CaseState()
    timeline: list[CaseEvent] = []
    published: int = 0  # events of the timeline confirmed by the publishing activity
    opened_events: list[str] = []  # what intake emitted, returned again to a retried intake


class CaseWorkflowInput(BaseModel):
    case_id: str
    carried: CaseWorkflowState | None = None  # set on continue-as-new
    sla: SlaContext | None = None  # optional: fixed by the starter instead of the worker's policy


class ActionResult(BaseModel):
    """What an accepted action did."""

    case_id: str
    status: CaseStatus
    seq: int
    events: list[str]  # the event ids it emitted, in order


class CaseSummary(BaseModel):
    case_id: str
    status: CaseStatus
    events: int
    closed_at: datetime | None = None


_SHARED_SLA: dict[str, SlaContext] = {}
_SHARED_SLA_MAX = 32


def shared_sla_context(ctx: SlaContext) -> SlaContext:
    """The process's one instance equal to ``ctx`` (``ctx`` itself the first time).

    Contexts are never modified in place (the domain replaces them), so equal ones can be shared.
    """
    key = hashlib.sha256(ctx.model_dump_json().encode()).hexdigest()
    found = _SHARED_SLA.get(key)
    if found is None:
        if len(_SHARED_SLA) >= _SHARED_SLA_MAX:
            _SHARED_SLA.clear()
        _SHARED_SLA[key] = found = ctx
    return found
