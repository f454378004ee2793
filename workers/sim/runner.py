"""Drive planned cases on the real stack, many at once, and keep a tally of what happened.

Each case is an asyncio task: it waits for its arrival, opens the case (update-with-start), then
sends each planned action its planned interval after the previous one completed (a slow stack
delays a case but never shortens an actor's planned lateness). Policy hours become wall-clock
seconds with the time scale *the case itself recorded* when it started (its SLA context), so the
simulator and the clocks always agree; a case that runs on real time while the simulation
expects compressed time is reported, not driven. When a case ends, its timeline is read once to
count warnings, breaches and every escalation rung it raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from temporalio.service import RPCError

from events.schemas import ClockKind, EscalationLevel, EscalationRaised, InterimReplied, SlaBreached, SlaWarningRaised
from workers.case_client import ActionRefused, CaseClient
from workers.sim.plan import CasePlan
from workflows.case_workflow import ActionResult
from workflows.domain.commands import Command
from workflows.domain.state import TERMINAL, CaseStatus

log = logging.getLogger(__name__)

RETRIES = 5
T = TypeVar("T")


@dataclass
class Tally:
    """What the simulation did and saw; every count is of cases unless it says events."""

    time_scale: float | None
    planned: int = 0
    opened: int = 0
    finished: int = 0
    in_flight: int = 0
    paths: Counter[str] = field(default_factory=Counter)
    features: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    final_status: Counter[str] = field(default_factory=Counter)
    closure: Counter[str] = field(default_factory=Counter)
    rung_cases: Counter[str] = field(default_factory=Counter)  # cases with ≥1 automatic rung of the level
    rung_events: Counter[str] = field(default_factory=Counter)  # automatic rung events by level
    manual_escalations: int = 0
    breached_cases: int = 0
    breaches: int = 0
    warnings: int = 0
    breach_kinds: Counter[str] = field(default_factory=Counter)  # breaches (events) by clock kind
    warning_kinds: Counter[str] = field(default_factory=Counter)  # warnings (events) by clock kind
    events: Counter[str] = field(default_factory=Counter)  # events of the finished cases, by type
    late_interim_replies: int = 0  # interim replies (events) given after their due time
    actions: int = 0
    lag_total: float = 0.0  # seconds from an action's planned time to its completion (its latency), summed
    lag_max: float = 0.0
    refused: Counter[str] = field(default_factory=Counter)  # by domain rule
    failures: list[str] = field(default_factory=list)
    scale_mismatch: list[str] = field(default_factory=list)
    case_ids: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)

    @property
    def lag_mean(self) -> float:
        """Mean seconds from an action's planned time to its completion (latency and scheduling)."""
        return self.lag_total / self.actions if self.actions else 0.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "time_scale_seconds_per_policy_hour": self.time_scale,
            "planned": self.planned,
            "opened": self.opened,
            "finished": self.finished,
            "unfinished": len(self.unfinished),
            "actions": self.actions,
            "paths": dict(self.paths),
            "features": dict(self.features),
            "channels": dict(self.channels),
            "final_status": dict(self.final_status),
            "closure": dict(self.closure),
            "rung_cases": dict(self.rung_cases),
            "rung_events": dict(self.rung_events),
            "manual_escalations": self.manual_escalations,
            "breached_cases": self.breached_cases,
            "breaches": self.breaches,
            "warnings": self.warnings,
            "breach_kinds": dict(self.breach_kinds),
            "warning_kinds": dict(self.warning_kinds),
            "events": dict(self.events),
            "late_interim_replies": self.late_interim_replies,
            "refused": dict(self.refused),
            "action_lag_mean_seconds": round(self.lag_mean, 3),
            "action_lag_max_seconds": round(self.lag_max, 3),
            "failures": list(self.failures),
            "scale_mismatch": list(self.scale_mismatch),
            "elapsed_seconds": round(self.elapsed, 1),
        }


class Simulator:
    """Runs a stream of :class:`CasePlan` against the case workflows through a :class:`CaseClient`."""

    def __init__(
        self,
        cases: CaseClient,
        *,
        time_scale: float | None,
        max_concurrent_calls: int = 64,
        on_change: Callable[[Tally], None] | None = None,
    ) -> None:
        """Args:
        cases: the case client (update-with-start on the real server).
        time_scale: wall-clock seconds per policy hour the simulation expects (``None``: real time).
            Every case is checked against the scale it recorded.
        max_concurrent_calls: Temporal calls in flight at once.
        on_change: called after every change of the tally (for a progress display).
        """
        self.cases = cases
        self.time_scale = time_scale
        self.tally = Tally(time_scale=time_scale)
        self._calls = asyncio.Semaphore(max_concurrent_calls)
        self._on_change = on_change or (lambda _t: None)
        self._t0 = 0.0

    def _changed(self) -> None:
        try:
            self._on_change(self.tally)
        except Exception:  # a display must never stop the simulation
            log.exception("progress display failed")

    async def run(self, plans: Iterable[CasePlan], *, drain_seconds: float | None = None) -> Tally:
        """Play every plan (arrivals in real time) and wait for the cases to finish.

        ``drain_seconds``: after the last arrival, how long to wait for cases still running; the
        rest are counted as unfinished (``None``: wait for all).
        """
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self.tally.started_at = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        for plan in plans:
            delay = self._t0 + plan.arrival - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.tally.planned += 1
            tasks.append(asyncio.create_task(self._run_case(plan), name=plan.case_id))
            self._changed()
        if not tasks:
            return self.tally
        done, pending = await asyncio.wait(tasks, timeout=drain_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self.tally.failures.append(f"{task.get_name()}: {task.exception()!r}")
        self._changed()
        return self.tally

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``fn()`` with at most a few calls in flight, retried on transport errors (calls are idempotent)."""
        delay = 0.2
        for attempt in range(RETRIES):
            try:
                async with self._calls:
                    return await fn()
            except RPCError as err:
                if attempt == RETRIES - 1:
                    raise
                log.warning("%s: %s; retrying", what, err)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def _run_case(self, plan: CasePlan) -> None:
        t = self.tally
        sc = plan.scenario
        cid = plan.case_id
        try:
            await self._call(f"open {cid}", lambda: self.cases.open(plan.open))
            t.opened += 1
            t.in_flight += 1
            t.case_ids.append(cid)
            t.channels[sc.channel] += 1
            self._changed()
            state = await self._call(f"state {cid}", lambda: self.cases.state(cid))
            scale = state.sla.time_scale if state.sla is not None else None
            if scale != self.time_scale:
                t.scale_mismatch.append(
                    f"{cid}: case runs on {scale or 'real time'} s/h, "
                    f"the simulation on {self.time_scale or 'real time'}"
                )
                return
            hour = scale if scale is not None else 3600.0
            loop = asyncio.get_running_loop()
            done_at, done_hour = loop.time(), 0.0  # when the last action completed, and its planned hour
            for i, step in enumerate(plan.steps):
                # each action waits its planned interval after the previous one *completed*: a slow
                # stack delays the story but never shortens an actor's planned lateness
                planned = done_at + (step.at - done_hour) * hour
                delay = planned - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    await self._call(f"{step.label} {cid}", self._action(cid, step.command, f"{cid}-{i}"))
                except ActionRefused as err:
                    t.refused[err.rule] += 1
                    t.failures.append(f"{cid} {step.label}: {err}")
                    log.warning("case %s: %s refused: %s", cid, step.label, err)
                    break
                done_at, done_hour = loop.time(), step.at
                t.actions += 1
                lag = max(done_at - planned, 0.0)
                t.lag_total += lag
                t.lag_max = max(t.lag_max, lag)
            await self._finish(plan)
        except asyncio.CancelledError:
            t.unfinished.append(cid)
            raise
        finally:
            if cid in t.case_ids:
                t.in_flight -= 1
            self._changed()

    def _action(self, cid: str, command: Command, request_id: str) -> Callable[[], Awaitable[ActionResult]]:
        async def send() -> ActionResult:
            return await self.cases.act(cid, command, request_id=request_id)  # type: ignore[arg-type]

        return send

    async def _finish(self, plan: CasePlan) -> None:
        t = self.tally
        cid = plan.case_id
        state = await self._call(f"state {cid}", lambda: self.cases.state(cid))
        timeline = await self._call(f"timeline {cid}", lambda: self.cases.timeline(cid))
        status: CaseStatus = state.status
        t.final_status[status.value] += 1
        if status not in TERMINAL:
            t.unfinished.append(cid)
            return
        t.finished += 1
        t.paths[plan.path] += 1
        t.features.update(plan.features)
        if state.closure_type is not None:
            t.closure[state.closure_type.value] += 1
        levels: set[str] = set()
        breached = False
        for event in timeline:
            t.events[str(getattr(event, "type", type(event).__name__))] += 1
            if isinstance(event, SlaWarningRaised):
                t.warnings += 1
                t.warning_kinds[ClockKind(event.kind).value] += 1
            elif isinstance(event, SlaBreached):
                t.breaches += 1
                t.breach_kinds[ClockKind(event.kind).value] += 1
                breached = True
            elif isinstance(event, InterimReplied) and not event.on_time:
                t.late_interim_replies += 1
            elif isinstance(event, EscalationRaised) and event.clock_id is None:
                t.manual_escalations += 1
            elif isinstance(event, EscalationRaised):
                level = EscalationLevel(event.level).value
                t.rung_events[level] += 1
                levels.add(level)
        t.rung_cases.update(levels)
        t.breached_cases += int(breached)
