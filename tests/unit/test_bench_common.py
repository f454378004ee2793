"""The benchmark suite's own arithmetic, output and argument checks (no services needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.bench.common import BenchResult, machine_info, percentile, render_table, summarise, write_result
from workers.bench.projection import generate_events
from workers.bench.runner import BENCHMARKS, _check


def test_summarise_gives_median_range_and_relative_spread() -> None:
    s = summarise([10.0, 30.0, 20.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (20.0, 10.0, 30.0, 3)
    assert s["spread"] == pytest.approx(1.0)  # (30 - 10) / 20
    assert summarise([])["n"] == 0


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) != percentile([], 50)  # NaN


def test_table_and_json_carry_every_metric_machine_and_versions(tmp_path: Path) -> None:
    result = BenchResult("lifecycle", "tiny", 2)
    result.add("gridcase cases/s", "cases/s", [4.0, 6.0])
    result.add("gridcase / floor", "ratio", [0.9, 0.7], target=">= 0.8")
    table = render_table(result)
    assert "gridcase cases/s" in table and ">= 0.8" in table and "5.00" in table and "0.80" in table
    machine = machine_info()
    assert machine["cores"] >= 1 and machine["memory_mib"] > 0
    path = write_result(tmp_path, result, machine, {"temporalio": "x"})
    doc = json.loads(path.read_text())
    assert doc["metrics"][0]["summary"]["median"] == 5.0
    assert doc["machine"]["cores"] == machine["cores"] and doc["versions"] == {"temporalio": "x"}
    assert json.loads((tmp_path / "lifecycle-latest.json").read_text()) == doc


def test_bad_arguments_are_refused_with_the_option_named() -> None:
    assert _check(None, "default", 3) == list(BENCHMARKS)
    with pytest.raises(ValueError, match="--only: unknown benchmark 'nope'"):
        _check(["nope"], "default", 1)
    with pytest.raises(ValueError, match="--size"):
        _check(None, "huge", 1)
    with pytest.raises(ValueError, match="--repeat"):
        _check(None, "tiny", 0)


def test_projection_events_come_from_the_domain_gapless_per_case() -> None:
    events = generate_events(8)
    per_case: dict[str, list[int]] = {}
    for e in events:
        per_case.setdefault(e.case_id, []).append(e.seq)
    assert len(per_case) == 8
    for seqs in per_case.values():
        assert seqs == list(range(1, len(seqs) + 1))
    assert max(len(s) for s in per_case.values()) > min(len(s) for s in per_case.values())  # varied paths
