"""Benchmark 5: the seed city's busiest hour, played faster than real time.

About 1,000 complaints arrive in the seed city's busiest hour. The simulator
(:mod:`workers.sim`) plans them on the seed city — its category mix, channels, routing, actor
behaviours and lateness — and this benchmark compresses the hour by a speed-up factor ``X``:
the hour lasts ``3600 / X`` seconds, arrivals are spread over it as a Poisson stream, and every
planned action that falls inside the hour (intake, register, dispatch, accept, contact, whistle,
report-in, ...; policy hours compressed by the same factor, with a worker on that SLA time scale)
is sent at its planned moment. Each case's actions stay in order, so an action that has to wait
for the previous one runs late.

The stack keeps up at speed-up ``X`` when the last in-hour action completes by the end of the
compressed hour; otherwise it keeps up with ``3600 / W`` where ``W`` is the wall time it took.
That figure, *kept-up speed-up*, is the headline (``min(X, 3600 / W)``); the lag of actions
behind their planned moment and the call latency show how close to the edge it ran. Actions that
could not even start within ``DRAIN_S`` after the hour are skipped, and calls not answered within
``CALL_TIMEOUT_S`` fail; the figure is then scaled by the share of in-hour actions completed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable

from temporalio.client import Client

from workers.bench.common import BenchResult, percentile
from workers.bench.harness import running_worker
from workers.case_client import ActionRefused, CaseClient
from workers.settings import Settings

#: complaints in the hour and offered speed-up, per size
SIZES: dict[str, tuple[int, float]] = {"tiny": (20, 600.0), "default": (1000, 90.0), "large": (3000, 40.0)}
DRAIN_S = 30.0  # at most this long past the compressed hour for in-hour actions still queued
CALL_TIMEOUT_S = 60.0  # a call not answered by then counts as failed (its error is recorded)


def peak_plans(settings: Settings, complaints: int, speedup: float, seed: int) -> tuple[list[object], str]:
    """The simulator's plans for ``complaints`` cases, arrivals re-timed into one compressed hour."""
    from workers.composition import active_policy
    from workers.sim.config import load_config
    from workers.sim.main import load_city
    from workers.sim.plan import plan_stream

    hour_s = 3600.0 / speedup
    try:
        city = load_city(settings)
        city_name = city.name
    except Exception as exc:  # no registry database: fall back to the sample city, and say so
        city = load_city(settings, sample=True)
        city_name = f"{city.name} (seed city unavailable: {type(exc).__name__})"
    cfg = load_config(None, {"cover_all_paths": False, "start_hour": 9.0})
    prefix = f"PK{seed}{random.Random().randrange(16**4):04X}"
    plans = list(
        plan_stream(
            cfg,
            city,
            active_policy(settings),
            seed=seed,
            prefix=prefix,
            rate_per_minute=60.0,
            seconds_per_hour=hour_s,
            count=complaints,
        )
    )
    rng = random.Random(seed)
    t = 0.0
    times = []
    for _ in plans:
        t += rng.expovariate(complaints / hour_s)
        times.append(t)
    scale = hour_s / times[-1] if times and times[-1] > hour_s else 1.0
    return [dataclasses.replace(p, arrival=at * scale) for p, at in zip(plans, times, strict=True)], city_name


def _act(cases: CaseClient, case_id: str, command: object, request_id: str) -> Callable[[], object]:
    return lambda: cases.act(case_id, command, request_id=request_id)  # type: ignore[arg-type]


async def play_hour(cases: CaseClient, plans: list[object], speedup: float) -> dict[str, float]:
    """Send every in-hour action at its planned moment; returns lag, latency and timing figures.

    Actions not started within ``DRAIN_S`` after the compressed hour are skipped (counted), and
    calls in flight are awaited rather than cancelled.
    """
    hour_s = 3600.0 / speedup
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    cutoff = hour_s + DRAIN_S
    lags: list[float] = []
    latencies: list[float] = []
    counts = {"actions": 0, "refused": 0, "failed": 0, "intakes": 0, "skipped": 0}
    errors: list[str] = []
    last_done = [0.0]
    calls = asyncio.Semaphore(64)

    async def timed(planned: float, call: Callable[[], object], label: str) -> bool:
        delay = t0 + planned - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        async with calls:
            start = loop.time()
            if start - t0 > cutoff:
                counts["skipped"] += 1
                return False
            lags.append(1000 * max(0.0, start - t0 - planned))
            try:
                await asyncio.wait_for(call(), CALL_TIMEOUT_S)  # type: ignore[arg-type]
            except ActionRefused:
                counts["refused"] += 1
                return False
            except Exception as exc:
                counts["failed"] += 1
                if len(errors) < 5:
                    errors.append(f"{label}: {type(exc).__name__}: {exc}"[:200])
                return False
            end = loop.time()
        latencies.append(1000 * (end - start))
        counts["actions"] += 1
        last_done[0] = max(last_done[0], end - t0)
        return True

    async def one(plan: object) -> None:
        arrival: float = getattr(plan, "arrival")  # noqa: B009
        cid: str = getattr(plan, "case_id")  # noqa: B009
        if not await timed(arrival, lambda: cases.open(getattr(plan, "open")), f"{cid} intake"):  # noqa: B009
            return
        counts["intakes"] += 1
        for i, step in enumerate(getattr(plan, "steps")):  # noqa: B009
            at = arrival + step.at * hour_s
            if at > hour_s:
                break
            if not await timed(at, _act(cases, cid, step.command, f"{cid}-{i}"), f"{cid} {step.label}"):
                break

    await asyncio.gather(*(one(p) for p in plans))
    wall = max(last_done[0], hour_s)
    planned = counts["actions"] + counts["skipped"] + counts["failed"]
    done_share = counts["actions"] / planned if planned else 0.0
    return {
        "kept_up": min(speedup, 3600.0 / wall) * done_share,
        "wall_s": wall,
        "hour_s": hour_s,
        "done_share": done_share,
        "lag_p50": percentile(lags, 50),
        "lag_p99": percentile(lags, 99),
        "latency_p50": percentile(latencies, 50),
        "latency_p99": percentile(latencies, 99),
        "actions_per_s": counts["actions"] / wall,
        **counts,
        "errors": errors,  # type: ignore[dict-item]
    }


async def terminate_open(client: Client, case_ids: list[str]) -> int:
    """Terminate the benchmark's cases that are still running; returns how many were."""
    from temporalio.service import RPCError

    from workflows.case_workflow import workflow_id

    gate = asyncio.Semaphore(32)

    async def one(cid: str) -> int:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id(cid)).terminate(reason="peak benchmark run over")
                return 1
            except RPCError:  # never opened (its intake was skipped), or already closed
                return 0

    return sum(await asyncio.gather(*(one(c) for c in case_ids)))


async def bench_peak(
    client: Client,
    settings: Settings,
    _worker: object,
    *,
    size: str,
    repeat: int,
    worker_mode: str = "subprocess",
    log: Callable[[str], None] = print,
) -> BenchResult:
    """Benchmark 5 (runs its own worker on the compressed SLA time scale)."""
    complaints, speedup = SIZES[size]
    result = BenchResult("peak", size, repeat)
    scaled = settings.model_copy(update={"sla_time_scale": 3600.0 / speedup / 1.0})
    runs: list[dict[str, float]] = []
    started = time.perf_counter()
    city_name = ""
    for r in range(repeat):
        plans, city_name = await asyncio.to_thread(peak_plans, scaled, complaints, speedup, r + 1)
        # Each run gets a fresh worker on its own task queue, and the cases a run leaves open are
        # terminated after it: on the compressed clock their SLA timers would otherwise keep the
        # next run's worker busy with a previous hour's warnings and escalations.
        async with running_worker(client, scaled, "gridcase", mode=worker_mode) as w:
            run = await play_hour(CaseClient(client, w.task_queue), plans, speedup)
        run["left_open_terminated"] = await terminate_open(client, [getattr(p, "case_id") for p in plans])  # noqa: B009
        runs.append(run)
        log(
            f"  peak run {r + 1}/{repeat}: {complaints} complaints in a {run['hour_s']:.0f} s hour ({speedup:g}×): "
            f"kept up {run['kept_up']:.0f}×, {run['actions']:.0f} actions ({run['actions_per_s']:.1f}/s), "
            f"lag p99 {run['lag_p99']:.0f} ms, call p99 {run['latency_p99']:.0f} ms, "
            f"{run['refused']:.0f} refused, {run['failed']:.0f} failed, {run['skipped']:.0f} skipped, "
            f"{run['left_open_terminated']:.0f} left open and terminated"
        )
    result.seconds = time.perf_counter() - started
    result.add("kept-up speed-up", "× real time", [r["kept_up"] for r in runs], target=f"offered {speedup:g}×")
    result.add("actions in the hour", "actions", [r["actions"] for r in runs])
    result.add("actions/s", "actions/s", [r["actions_per_s"] for r in runs])
    result.add("lag p50", "ms", [r["lag_p50"] for r in runs], higher_is_better=False)
    result.add("lag p99", "ms", [r["lag_p99"] for r in runs], higher_is_better=False)
    result.add("call p99", "ms", [r["latency_p99"] for r in runs], higher_is_better=False)
    result.details = {
        "complaints": complaints,
        "offered_speedup": speedup,
        "city": city_name,
        "sla_time_scale_s_per_policy_hour": 3600.0 / speedup,
        "runs": runs,
        "driver": "workers.sim plans (seed city mix), arrivals re-timed into the hour",
    }
    return result
