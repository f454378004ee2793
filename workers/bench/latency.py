"""Benchmark 2: event latency, from an update being accepted to its event read by a Kafka consumer.

Cases run through the lifecycle of benchmark 1 while a pacer lets updates start at a fixed rate:
half of the saturation rate (the gridcase updates/s measured by benchmark 1 in the same
invocation, or by a short saturation run when it was not part of it). A Kafka consumer reads
the department-safe topic the whole time. For every event:

* **accept → read**: the consumer's read time minus the event's ``occurred_at`` (the workflow
  time at which the update was applied, i.e. accepted);
* **send → read**: the consumer's read time minus the moment the client sent the update.

Both clocks are this machine's wall clock. p50 and p99 are reported per run.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from temporalio.client import Client

from workers.bench.common import BenchResult, percentile
from workers.bench.harness import WorkerRef
from workers.bench.lifecycle import UPDATES_PER_CASE, lifecycle_actions, open_command, run_shape
from workers.case_client import CaseClient
from workers.settings import Settings

#: seconds of paced load per run, per size
SIZES: dict[str, float] = {"tiny": 3.0, "default": 20.0, "large": 60.0}


class _Reader:
    """A consumer thread recording when each event of the watched cases was read."""

    def __init__(self, settings: Settings, prefix: str) -> None:
        self.prefix = prefix
        self.read_at: dict[str, float] = {}
        self.occurred: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._settings = settings
        self._thread = threading.Thread(target=self._run, name="bench-latency-reader", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        from events.consumer import consume, new_group_id

        def handler(_env: object, event: object) -> None:
            now = time.time()
            cid = str(getattr(event, "case_id", ""))
            if cid.startswith(self.prefix):
                eid = str(getattr(event, "event_id", ""))
                self.read_at.setdefault(eid, now)
                self.occurred[eid] = getattr(event, "occurred_at")  # noqa: B009

        try:
            consume(
                handler,
                settings=self._settings,
                group_id=new_group_id("gridcase-bench-latency"),
                from_beginning=True,
                stop=self._stop,
                poll_timeout_s=0.05,
            )
        except BaseException as exc:  # reported by the benchmark
            self.error = exc

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


async def saturation_rate(client: Client, settings: Settings, worker: WorkerRef, size: str) -> float:
    """gridcase updates/s at saturation (a short closed-loop run of benchmark 1's gridcase shape)."""
    from workers.bench.lifecycle import SIZES as LIFECYCLE_SIZES

    n, concurrency = LIFECYCLE_SIZES[size]
    run = await run_shape("gridcase", client, settings, {"gridcase": worker}, n, concurrency)
    return run.cases * UPDATES_PER_CASE / run.seconds


async def paced_run(
    client: Client, settings: Settings, worker: WorkerRef, rate: float, seconds: float
) -> dict[str, float]:
    """Updates at ``rate``/s for ``seconds``; returns latency percentiles (ms) and the achieved rate."""
    cases = CaseClient(client, worker.task_queue)
    prefix = f"L{uuid.uuid4().hex[:6].upper()}"
    reader = _Reader(settings, prefix)
    reader.start()
    await asyncio.sleep(3.0)  # let the consumer join its group and get its partitions
    tokens: asyncio.Queue[None] = asyncio.Queue()
    sent_at: dict[str, float] = {}
    stop = asyncio.Event()
    counter = 0

    async def pacer() -> None:
        interval = 1.0 / rate
        next_at = time.monotonic()
        deadline = next_at + seconds
        while next_at < deadline:
            tokens.put_nowait(None)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        stop.set()

    async def lane() -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1
            case_id = f"{prefix}{counter:06d}"
            steps = [None, *lifecycle_actions()]
            for action in steps:
                await tokens.get()
                if stop.is_set():
                    return
                t0 = time.time()
                if action is None:
                    result = await cases.open(open_command(case_id))
                else:
                    result = await cases.act(case_id, action)
                for eid in result.events:
                    sent_at[eid] = t0

    lanes = max(4, int(rate * 0.25) + 4)  # enough callers that a slow update does not hold the pace back
    started = time.monotonic()
    pace = asyncio.create_task(pacer())
    workers = [asyncio.create_task(lane()) for _ in range(lanes)]
    await pace
    for _ in workers:
        tokens.put_nowait(None)  # release lanes waiting for a token
    await asyncio.gather(*workers)
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not set(sent_at) <= set(reader.read_at):
        await asyncio.sleep(0.2)
    await asyncio.to_thread(reader.stop)
    if reader.error is not None:
        raise RuntimeError(f"the latency consumer failed: {reader.error!r}")
    missing = set(sent_at) - set(reader.read_at)
    if missing:
        raise RuntimeError(f"{len(missing)} events were not read back within 30 s, e.g. {sorted(missing)[:3]}")
    accept = [1000 * (reader.read_at[e] - reader.occurred[e].timestamp()) for e in sent_at]
    send = [1000 * (reader.read_at[e] - sent_at[e]) for e in sent_at]
    updates = len({(e.split(":")[0], sent_at[e]) for e in sent_at})
    return {
        "accept_p50": percentile(accept, 50),
        "accept_p99": percentile(accept, 99),
        "send_p50": percentile(send, 50),
        "send_p99": percentile(send, 99),
        "events": float(len(sent_at)),
        "updates_per_s": updates / elapsed,
    }


async def bench_latency(
    client: Client,
    settings: Settings,
    worker: WorkerRef,
    *,
    size: str,
    repeat: int,
    saturation: float | None = None,
    log: Callable[[str], None] = print,
) -> BenchResult:
    """Benchmark 2 at half of ``saturation`` (gridcase updates/s; measured here when not given)."""
    result = BenchResult("latency", size, repeat)
    measured_here = saturation is None
    if saturation is None:
        saturation = await saturation_rate(client, settings, worker, size)
        log(f"  saturation (measured here): {saturation:.1f} updates/s")
    rate = saturation / 2
    runs = []
    started = time.perf_counter()
    for r in range(repeat):
        run = await paced_run(client, settings, worker, rate, SIZES[size])
        runs.append(run)
        log(
            f"  latency run {r + 1}/{repeat}: {run['updates_per_s']:.1f} updates/s, accept→read p50 "
            f"{run['accept_p50']:.0f} ms p99 {run['accept_p99']:.0f} ms; send→read p50 {run['send_p50']:.0f} ms "
            f"p99 {run['send_p99']:.0f} ms ({run['events']:.0f} events)"
        )
    result.seconds = time.perf_counter() - started
    result.add("accept→read p50", "ms", [r["accept_p50"] for r in runs], higher_is_better=False)
    result.add("accept→read p99", "ms", [r["accept_p99"] for r in runs], target="<= 250", higher_is_better=False)
    result.add("send→read p50", "ms", [r["send_p50"] for r in runs], higher_is_better=False)
    result.add("send→read p99", "ms", [r["send_p99"] for r in runs], higher_is_better=False)
    result.add("updates/s offered", "updates/s", [r["updates_per_s"] for r in runs])
    result.details = {
        "saturation_updates_per_s": saturation,
        "saturation_measured_here": measured_here,
        "target_updates_per_s": rate,
        "seconds_per_run": SIZES[size],
        "events_per_run": [r["events"] for r in runs],
    }
    return result
