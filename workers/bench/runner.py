"""Run the benchmarks: ``gridcase bench`` calls :func:`run_benchmarks`.

Each benchmark prints a table (median, min, max and spread over ``repeat`` runs) and writes
``<out>/<name>-<timestamp>.json`` (and ``<name>-latest.json``) with the machine and the versions.

The stack is that of the settings' profile (``GRIDCASE_STACK_PROFILE``, ``gridcase bench --profile``):
on ``cluster``, the benchmarks run on the cluster (:mod:`deploy.cluster`), the memory benchmark
among them (see :mod:`workers.bench.memory`), and ``lifecycle-scale`` compares one worker process
with two.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from deploy.config import CLUSTER, DEV
from workers.bench.common import (
    CLUSTER_SIZES,
    SIZES,
    BenchResult,
    machine_info,
    render_table,
    versions,
    write_result,
)
from workers.bench.harness import WorkerRef, running_worker, unique
from workers.settings import Settings

BENCHMARKS = ("lifecycle", "latency", "memory", "projection", "peak")
#: Benchmarks run only when named: ``web`` needs more than the stack (the built workspace and
#: Chromium); ``lifecycle-scale`` (one worker process against two) is meant for the cluster profile.
ON_REQUEST = ("web", "lifecycle-scale")


def _check(only: list[str] | None, size: str, repeat: int, profile: str = DEV) -> list[str]:
    names = list(only or BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS + ON_REQUEST:
            raise ValueError(f"--only: unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS + ON_REQUEST)}")
    if size in CLUSTER_SIZES:
        if names != ["memory"]:
            raise ValueError(f"--size {size} is a size of the memory benchmark alone: run it with --only memory")
        if profile != CLUSTER:
            raise ValueError(
                f"--size {size} runs on the cluster profile only: add --profile cluster (or GRIDCASE_STACK_PROFILE)"
            )
    elif size not in SIZES:
        raise ValueError(
            f"--size must be one of {', '.join(SIZES)} (or, for --only memory on the cluster profile, "
            f"{', '.join(CLUSTER_SIZES)}), not {size!r}"
        )
    if repeat < 1:
        raise ValueError(f"--repeat must be at least 1, not {repeat}")
    return names


async def _run(
    settings: Settings,
    names: list[str],
    *,
    size: str,
    repeat: int,
    out_dir: Path,
    worker_mode: str,
    log: Callable[[str], None],
    postgres_url: str | None,
) -> list[BenchResult]:
    from events.topics import ensure_topics
    from workers.composition import connect_temporal

    settings = settings.model_copy(update={"topic_prefix": unique("bench")})
    await asyncio.to_thread(ensure_topics, settings)
    client = await connect_temporal(settings)
    machine = machine_info()
    urls = [postgres_url] if postgres_url else []
    if settings.stack_profile == CLUSTER:
        urls.append(settings.cluster.read_model_url)
    vers = await asyncio.to_thread(versions, urls)
    if settings.stack_profile == CLUSTER:
        vers["temporal_server"] = f"{settings.cluster_temporal_version} (cluster profile: four services on PostgreSQL)"
    log(
        f"machine: {machine['cores']} cores, {machine['memory_mib']} MiB, {machine['cpu_model']}, "
        f"load {machine['load_average']}"
    )
    log("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    results: list[BenchResult] = []
    saturation: float | None = None  # gridcase updates/s measured by the lifecycle benchmark
    async with contextlib.AsyncExitStack() as stack:
        workers: dict[str, WorkerRef] = {}

        async def worker(kind: str) -> WorkerRef:
            if kind not in workers:
                workers[kind] = await stack.enter_async_context(
                    running_worker(client, settings, kind, mode=worker_mode)
                )
            return workers[kind]

        for name in names:
            log(f"\n== {name} ==")
            started = time.perf_counter()
            if name == "lifecycle":
                from workers.bench.lifecycle import bench_lifecycle

                await worker("gridcase")
                await worker("baseline")
                result = await bench_lifecycle(client, settings, workers, size=size, repeat=repeat, log=log)
                rates = result.details["gridcase_updates_per_s"]
                saturation = sorted(rates)[len(rates) // 2]
            elif name == "latency":
                from workers.bench.latency import bench_latency

                result = await bench_latency(
                    client, settings, await worker("gridcase"), size=size, repeat=repeat, saturation=saturation, log=log
                )
            elif name == "memory":
                from workers.bench.memory import bench_memory

                result = await bench_memory(settings, size=size, repeat=repeat, worker_mode=worker_mode, log=log)
            elif name == "lifecycle-scale":
                from workers.bench.lifecycle import bench_lifecycle_scale

                result = await bench_lifecycle_scale(
                    client, settings, size=size, repeat=repeat, worker_mode=worker_mode, log=log
                )
            elif name == "web":
                from workers.bench.web import bench_web

                result = await asyncio.to_thread(
                    bench_web, settings, size=size, repeat=repeat, out_dir=out_dir, log=log
                )
            elif name == "projection":
                from workers.bench.projection import bench_projection

                result = await asyncio.to_thread(
                    bench_projection, size=size, repeat=repeat, postgres_url=postgres_url, log=log
                )
            else:
                from workers.bench.peak import bench_peak

                result = await bench_peak(
                    client, settings, None, size=size, repeat=repeat, worker_mode=worker_mode, log=log
                )
            if not result.seconds:
                result.seconds = time.perf_counter() - started
            result.details["load_average_after"] = list(os.getloadavg())
            path = write_result(out_dir, result, machine, vers)
            log(render_table(result))
            log(f"written {path}")
            results.append(result)
    return results


def run_benchmarks(
    settings: Settings,
    *,
    only: list[str] | None = None,
    size: str = "default",
    repeat: int = 3,
    out_dir: Path | None = None,
    worker_mode: str = "subprocess",
    log: Callable[[str], None] = print,
    postgres_url: str | None = None,
    start_stack: bool = True,
) -> list[BenchResult]:
    """Run the chosen benchmarks (all by default) against the local stack of the settings' profile.

    Returns their results.
    """
    names = _check(only, size, repeat, settings.stack_profile)
    if start_stack and any(n != "projection" for n in names):
        from deploy import stack

        stack.up(settings, timeout=180)
    out = out_dir or settings.state_dir / "bench"
    return asyncio.run(
        _run(
            settings,
            names,
            size=size,
            repeat=repeat,
            out_dir=out,
            worker_mode=worker_mode,
            log=log,
            postgres_url=postgres_url,
        )
    )
