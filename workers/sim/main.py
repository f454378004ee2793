"""Run a simulation: plan the stream, optionally run a case worker on compressed time, drive, tally.

Used by ``gridcase simulate`` and by ``gridcase demo``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console, RenderableType
from rich.live import Live
from temporalio.client import Client

from workers.case_client import CaseClient
from workers.settings import Settings
from workers.sim.city import SimCity, from_registry, from_static
from workers.sim.config import SimConfig, load_config
from workers.sim.display import progress_panel
from workers.sim.plan import plan_stream
from workers.sim.runner import Simulator, Tally
from workflows.sla.timescale import check_scale

log = logging.getLogger(__name__)

DEFAULT_TIME_SCALE = 2.0
"""Wall-clock seconds per policy hour when neither the option nor GRIDCASE_SLA_TIME_SCALE says."""


@dataclass(frozen=True)
class SimOptions:
    """What to simulate: ``cases`` (a number) or ``minutes`` (a duration) of arrivals."""

    cases: int | None = None
    minutes: float | None = None
    rate: float = 30.0  # complaints per wall-clock minute, on average over the day
    time_scale: float | None = DEFAULT_TIME_SCALE
    seed: int = 1
    config: SimConfig = field(default_factory=SimConfig)
    drain_seconds: float | None = None  # after the last arrival (None: wait for every case)
    prefix: str | None = None  # case id prefix (default: from the seed and a random run tag)

    def __post_init__(self) -> None:
        if (self.cases is None) == (self.minutes is None):
            raise ValueError("--cases/--minutes: give either a number of complaints or how long they arrive")
        if self.cases is not None and self.cases < 1:
            raise ValueError(f"--cases: must be at least 1, got {self.cases}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"--minutes: must be more than 0, got {self.minutes:g}")
        if self.rate <= 0:
            raise ValueError(f"--rate: must be more than 0 complaints per minute, got {self.rate:g}")
        if self.drain_seconds is not None and self.drain_seconds < 0:
            raise ValueError(f"--drain: must be 0 or more seconds, got {self.drain_seconds:g}")
        try:
            check_scale(self.time_scale)
        except ValueError as err:
            raise ValueError(f"--time-scale: {err}") from None


def load_city(settings: Settings, *, sample: bool = False) -> SimCity:
    """The city to simulate: the city registry (seed city by default), or the small sample city."""
    if sample:
        from workflows.domain.registry import sample_city

        return from_static(sample_city())
    from workers.composition import build_registry

    return from_registry(build_registry(settings))


def options_from_cli(
    *,
    cases: int | None,
    minutes: float | None,
    rate: float,
    time_scale: float | None,
    seed: int,
    config_path: Path | None,
    tour: bool,
    drain: float | None,
) -> SimOptions:
    cfg = load_config(config_path, {"cover_all_paths": tour})
    return SimOptions(
        cases=cases, minutes=minutes, rate=rate, time_scale=time_scale, seed=seed, config=cfg, drain_seconds=drain
    )


class _Redrawn:
    """A renderable drawn afresh at every refresh of a live view (so the clock ticks between events)."""

    def __init__(self, draw: Callable[[], RenderableType]) -> None:
        self._draw = draw

    def __rich__(self) -> RenderableType:
        return self._draw()


class NoWorkerError(RuntimeError):
    """Nobody serves the task queue the simulation would open its cases on."""


async def count_pollers(client: Client, namespace: str, task_queue: str) -> int:
    """How many workers poll ``task_queue`` for workflow tasks right now."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    resp = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(resp.pollers)


@contextlib.asynccontextmanager
async def _maybe_worker(client: object, settings: Settings, run: bool) -> AsyncIterator[None]:
    if not run:
        yield
        return
    from workers.composition import build_worker

    async with build_worker(client, settings):  # type: ignore[arg-type]
        yield


async def simulate(
    settings: Settings,
    options: SimOptions,
    city: SimCity,
    *,
    with_worker: bool,
    console: Console | None = None,
    live: bool = True,
    on_change: Callable[[Tally], None] | None = None,
    render: Callable[[Tally], RenderableType] | None = None,
) -> Tally:
    """Run the simulation on the stack of ``settings``; returns the tally.

    With ``with_worker``, a case worker runs in this process on ``settings.task_queue`` with the
    options' time scale; otherwise a worker must already serve that queue on the same scale (each
    case is checked). ``render`` draws the live view (default: the progress panel).
    """
    from workers.composition import active_policy, connect_temporal

    settings = settings.model_copy(update={"sla_time_scale": options.time_scale})
    policy = active_policy(settings)
    prefix = options.prefix or f"SIM{options.seed}-{secrets.token_hex(2).upper()}"
    horizon = options.minutes * 60 if options.minutes is not None else None
    plans = plan_stream(
        options.config,
        city,
        policy,
        seed=options.seed,
        prefix=prefix,
        rate_per_minute=options.rate,
        seconds_per_hour=options.time_scale,
        count=options.cases,
        horizon=horizon,
    )
    client = await connect_temporal(settings)
    pollers = await count_pollers(client, settings.temporal_namespace, settings.task_queue)
    console = console or Console()
    if not with_worker and not pollers:
        raise NoWorkerError(
            f"no worker polls task queue {settings.task_queue}: start one with GRIDCASE_SLA_TIME_SCALE="
            f"{options.time_scale:g} gridcase worker, or let the simulation run its own (--worker)"
        )
    if with_worker and pollers:
        console.print(
            f"[yellow]{pollers} other poller(s) on task queue {settings.task_queue}: cases they pick up "
            "run on their time scale and are reported, not driven[/yellow]"
        )
    cases = CaseClient(client, settings.task_queue)
    target = f"of {options.minutes:g} min" if options.minutes is not None else f"· {options.cases} cases"
    draw = render or (lambda t: progress_panel(t, target=target, arrivals_seconds=horizon))
    async with _maybe_worker(client, settings, with_worker):
        if live and console.is_terminal:
            sim = Simulator(cases, time_scale=options.time_scale, on_change=on_change)
            with Live(_Redrawn(lambda: draw(sim.tally)), console=console, refresh_per_second=2, transient=False):
                tally = await sim.run(plans, drain_seconds=options.drain_seconds)
        else:
            last = [0.0]

            def report(t: Tally) -> None:  # a line every 10 s when there is no live panel
                if live and t.elapsed - last[0] >= 10.0:
                    last[0] = t.elapsed
                    console.print(
                        f"[{t.elapsed:5.0f} s = {t.elapsed / (options.time_scale or 3600):,.0f} policy h] "
                        f"{t.planned} arrived, {t.in_flight} in flight, {t.finished} finished, "
                        f"rungs {dict(t.rung_cases) or '-'}, breached {t.breached_cases}"
                    )
                if on_change:
                    on_change(t)

            sim = Simulator(cases, time_scale=options.time_scale, on_change=report)
            tally = await sim.run(plans, drain_seconds=options.drain_seconds)
    return tally
