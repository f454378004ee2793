"""The SLA context activity: the policy and calendar a new case runs on.

Called once per case as a local activity when the workflow starts, so the policy version and the
calendar snapshot are recorded in the case's history and stay fixed for its whole life.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from temporalio import activity

from workflows.domain.state import SlaContext
from workflows.sla.calendar import WorkCalendar
from workflows.sla.policy import SlaPolicy
from workflows.sla.timescale import check_scale, compress_policy

SLA_CONTEXT_ACTIVITY = "load_sla_context"


class SlaActivities:
    """Hands out the worker's active policy and calendar (loaded once, at start)."""

    def __init__(
        self,
        policy: SlaPolicy,
        calendar: WorkCalendar,
        time_scale: float | None = None,
        departments: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        properties: Mapping[str, Iterable[str]] | None = None,
        volunteer_teams: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """Args:
        policy: the SLA policy in force.
        calendar: the working-time calendar.
        time_scale: wall-clock seconds per policy hour for compressed time (``None``: real time).
            New cases then get the policy compressed onto continuous time, and the scale is
            recorded in their SLA context for their whole life.
        departments: the city registry's department ids; new cases refuse to summon or be
            dispatched to any other (``None``: not checked).
        categories: the city catalogue's category codes; new cases refuse to be reclassified to
            any other (``None``: not checked).
        properties: the city registry's property companies, id → the ids of the communities each
            serves; new cases pass down to or summon only a company serving their community
            (``None``: not checked).
        volunteer_teams: the city registry's volunteer teams, id → the communities each serves; a
            grid calls in only a team serving the case's community (``None``: not checked).
        """
        scale = check_scale(time_scale)
        if scale is not None:
            policy = compress_policy(policy, scale)
        known = None if departments is None else tuple(sorted(set(departments)))
        codes = None if categories is None else tuple(sorted(set(categories)))
        self._context = SlaContext(
            policy=policy,
            calendar=calendar,
            time_scale=scale,
            departments=known,
            categories=codes,
            properties=_served(properties),
            volunteer_teams=_served(volunteer_teams),
        )

    @property
    def context(self) -> SlaContext:
        """The context every new case receives."""
        return self._context

    @activity.defn(name=SLA_CONTEXT_ACTIVITY)
    async def load_sla_context(self) -> SlaContext:
        return self._context


def _served(units: Mapping[str, Iterable[str]] | None) -> dict[str, tuple[str, ...]] | None:
    """Each unit's communities as a sorted tuple without repeats, the units in id order."""
    if units is None:
        return None
    return {uid: tuple(sorted(set(units[uid]))) for uid in sorted(units)}
