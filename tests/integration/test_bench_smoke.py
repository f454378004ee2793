"""The benchmark suite at its tiny size on the real stack: every benchmark runs and reports sane figures.

No timing is asserted: only that each benchmark did its work (cases completed and their events
read back, latencies measured, memory read, events projected, the peak hour played).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workers.bench.runner import BENCHMARKS, _check, run_benchmarks
from workers.settings import Settings

pytestmark = pytest.mark.integration


def test_every_benchmark_runs_at_tiny_size(stack_settings: Settings, tmp_path: Path) -> None:
    lines: list[str] = []
    results = run_benchmarks(
        stack_settings,
        size="tiny",
        repeat=1,
        out_dir=tmp_path,
        log=lines.append,
        postgres_url=os.environ.get("GRIDCASE_TEST_POSTGRES_URL"),
        start_stack=False,
    )
    assert [r.name for r in results] == list(BENCHMARKS)
    by_name = {r.name: r for r in results}

    life = by_name["lifecycle"]
    for shape in ("gridcase", "naive", "floor"):
        assert life.metric(f"{shape} cases/s").samples[0] > 0
    assert life.details["events_read_back"] == life.details["events_per_case"] * life.details["cases_per_run"]
    assert life.details["events_per_case"] > life.details["updates_per_case"]

    lat = by_name["latency"]
    p50, p99 = lat.metric("accept→read p50").samples[0], lat.metric("accept→read p99").samples[0]
    assert 0 < p50 <= p99
    assert lat.details["events_per_run"][0] > 0

    mem = by_name["memory"]
    assert mem.metric("worker RSS @20").samples[0] > 20
    assert mem.metric("server RSS @20").samples[0] > 20
    assert mem.metric("update p99 @10").samples[0] > 0

    proj = by_name["projection"]
    assert proj.metric("sqlite apply").samples[0] > 0
    if os.environ.get("GRIDCASE_TEST_POSTGRES_URL"):
        assert proj.metric("postgresql apply").samples[0] > 0

    peak = by_name["peak"]
    assert peak.metric("actions in the hour").samples[0] >= peak.details["complaints"]  # every intake at least
    assert peak.details["runs"][0]["failed"] == 0

    for name in BENCHMARKS:
        doc = json.loads((tmp_path / f"{name}-latest.json").read_text())
        assert doc["machine"]["cores"] >= 1 and doc["versions"]["temporalio"]
    assert any("lifecycle" in line and "median" in line for line in lines)  # the table was printed


def test_cluster_sizes_are_for_the_memory_benchmark_on_the_cluster_profile() -> None:
    assert _check(["memory"], "cluster100k", 1, "cluster") == ["memory"]
    assert _check(["lifecycle-scale"], "default", 3, "cluster") == ["lifecycle-scale"]
    with pytest.raises(ValueError, match="cluster100k runs on the cluster profile only"):
        _check(["memory"], "cluster100k", 1, "dev")
    with pytest.raises(ValueError, match="cluster1k is a size of the memory benchmark alone"):
        _check(["memory", "lifecycle"], "cluster1k", 1, "cluster")
    with pytest.raises(ValueError, match="--size must be one of tiny, default, large"):
        _check(None, "huge", 1)
