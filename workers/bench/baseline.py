"""Temporal-only baselines for the lifecycle benchmark: the same number of updates, no domain.

* :class:`NaiveWorkflow` — each update is followed by one no-op activity (the naive way to publish
  an event: an activity per transition, answered when it finished).
* :class:`FloorWorkflow` — the same updates and nothing else: what Temporal itself costs.

Both end when an update says it is the last, like a case ends on its closing update.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

NAIVE_WORKFLOW = "BenchNaive"
FLOOR_WORKFLOW = "BenchFloor"
NOOP_ACTIVITY = "bench_noop"


@activity.defn(name=NOOP_ACTIVITY)
async def bench_noop(seq: int) -> int:
    """Does nothing; returns its argument."""
    return seq


@workflow.defn(name=NAIVE_WORKFLOW)
class NaiveWorkflow:
    def __init__(self) -> None:
        self._seq = 0
        self._last = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._last and workflow.all_handlers_finished())
        return self._seq

    @workflow.update(name="step")
    async def step(self, last: bool) -> int:
        self._seq += 1
        seq = self._seq
        await workflow.execute_activity(NOOP_ACTIVITY, seq, start_to_close_timeout=timedelta(seconds=30))
        self._last = self._last or last
        return seq


@workflow.defn(name=FLOOR_WORKFLOW)
class FloorWorkflow:
    def __init__(self) -> None:
        self._seq = 0
        self._last = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._last and workflow.all_handlers_finished())
        return self._seq

    @workflow.update(name="step")
    def step(self, last: bool) -> int:
        self._seq += 1
        self._last = self._last or last
        return self._seq
