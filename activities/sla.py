"""The SLA context activity: the policy and calendar a new case runs on.

Called once per case as a local activity when the workflow starts, so the policy version and the
calendar snapshot are recorded in the case's history and stay fixed for its whole life.
"""

from __future__ import annotations

from temporalio import activity

from workflows.domain.state import SlaContext
from workflows.sla.calendar import WorkCalendar
from workflows.sla.policy import SlaPolicy

SLA_CONTEXT_ACTIVITY = "load_sla_context"


class SlaActivities:
    """Hands out the worker's active policy and calendar (loaded once, at start)."""

    def __init__(self, policy: SlaPolicy, calendar: WorkCalendar) -> None:
        self._context = SlaContext(policy=policy, calendar=calendar)

    @activity.defn(name=SLA_CONTEXT_ACTIVITY)
    async def load_sla_context(self) -> SlaContext:
        return self._context
