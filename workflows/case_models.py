"""The case workflow's own data types: its input, carried state, action results and summary.

They live outside :mod:`workflows.case_workflow` so the workflow sandbox imports them once, passed
through, instead of rebuilding their pydantic schemas for every workflow run it starts (that
rebuild was most of a new case's worker CPU). :mod:`workflows.case_workflow` re-exports them.
"""

from __future__ import annotations

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
