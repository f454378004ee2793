"""The manifests' memory requests and limits are the ones derived from measured resident memory.

The figures live in :data:`deploy.cluster.MEASURED_RSS_MIB` (the peak resident memory of each gridcase
process under load) and are recorded, with the command and the machine's load, in docs/performance.md
("Process memory under load"). This test keeps the three in step: the recorded table and the code's
figures, the code's figures and the requests and limits of deploy/k8s and deploy/compose, and the
operations guide's summary of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.cluster import MEASURED_RSS_MIB, REQUEST_HEADROOM, memory_limit_mib, memory_request_mib

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("worker", "projector", "api")
PERFORMANCE = ROOT / "docs" / "performance.md"
OPERATIONS = ROOT / "docs" / "operations.md"
TABLE_MARK = "<!-- sizing table: deploy.cluster.MEASURED_RSS_MIB, checked by tests/unit/test_manifest_sizing.py -->"


def _k8s_resources(kind: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{kind}.yaml").read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == f"gridcase-{kind}"
    ] or [deployment["spec"]["template"]["spec"]["containers"][0]]
    return container["resources"]


def _mib(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024, "m": 1, "g": 1024}
    for suffix in ("Mi", "Gi", "m", "g"):
        if quantity.endswith(suffix):
            return int(float(quantity.removesuffix(suffix)) * units[suffix])
    raise ValueError(f"memory quantity {quantity!r}: expected Mi, Gi, m or g")


def recorded_table(text: str) -> dict[str, dict[str, str]]:
    """The sizing table of docs/performance.md: the rows after :data:`TABLE_MARK`, by process."""
    if TABLE_MARK not in text:
        return {}
    lines = text.split(TABLE_MARK, 1)[1].strip().splitlines()
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    if len(rows) < 2:
        return {}
    header, body = rows[0], rows[2:]  # rows[1] is the |---| line
    return {row[0].strip("`"): dict(zip(header, row, strict=False)) for row in body}


def _number(cell: str) -> float:
    match = re.search(r"[\d,]+(?:\.\d+)?", cell)
    if match is None:
        raise ValueError(f"no number in {cell!r}")
    return float(match.group(0).replace(",", ""))


def sizing_problems(text: str) -> list[str]:
    """Where the recorded table disagrees with the code's figures and the requests derived from them."""
    table = recorded_table(text)
    if not table:
        return [f"docs/performance.md has no sizing table after {TABLE_MARK!r}"]
    problems = []
    for kind in KINDS:
        row = table.get(kind)
        if row is None:
            problems.append(f"the sizing table has no row for {kind}")
            continue
        rss, _ = MEASURED_RSS_MIB[kind]
        checks = {
            "peak RSS": (_number(row.get("peak RSS", "")), rss),
            "memory request": (_number(row.get("memory request", "")), float(memory_request_mib(kind))),
            "memory limit": (_number(row.get("memory limit", "")), float(memory_limit_mib(kind))),
        }
        for column, (recorded, code) in checks.items():
            if recorded != code:
                problems.append(f"{kind}: the table records {column} {recorded:g}, deploy/cluster.py gives {code:g}")
        if not row.get("command", "").strip():
            problems.append(f"{kind}: the table names no command")
    return problems


def test_the_recorded_figures_are_the_code_s() -> None:
    assert sizing_problems(PERFORMANCE.read_text()) == []


def test_an_altered_table_is_detected() -> None:
    text = PERFORMANCE.read_text()
    rss = MEASURED_RSS_MIB["projector"][0]
    table = text.split(TABLE_MARK, 1)[1]
    row = next(line for line in table.splitlines() if line.startswith("| projector"))
    altered = text.replace(row, row.replace(f"{rss:,g}", f"{rss + 1:,g}", 1), 1)
    assert altered != text, "the projector's row does not show its figure: update the test"
    assert any("projector: the table records peak RSS" in p for p in sizing_problems(altered))
    assert any("no row for api" in p for p in sizing_problems(text.replace("| api", "| gateway", 1)))
    assert sizing_problems(text.replace(TABLE_MARK, "")) != []


def test_the_operations_guide_states_the_requests_and_limits() -> None:
    text = OPERATIONS.read_text()
    for kind in KINDS:
        pair = f"{memory_request_mib(kind)} / {memory_limit_mib(kind)} Mi"
        assert pair in text, f"docs/operations.md does not state {kind}'s request and limit ({pair})"


@pytest.mark.parametrize("kind", KINDS)
def test_k8s_requests_and_limits_come_from_the_measured_rss(kind: str) -> None:
    resources = _k8s_resources(kind)
    assert _mib(resources["requests"]["memory"]) == memory_request_mib(kind)
    assert _mib(resources["limits"]["memory"]) == memory_limit_mib(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_compose_limits_are_the_k8s_limits(kind: str) -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose" / "compose.yaml").read_text())
    service = compose["services"][kind] if kind in compose["services"] else compose["services"][f"{kind}-1"]
    assert _mib(service["deploy"]["resources"]["limits"]["memory"]) == memory_limit_mib(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_the_request_covers_the_measurement_with_headroom(kind: str) -> None:
    rss, source = MEASURED_RSS_MIB[kind]
    assert source, "every figure names where it was measured"
    request = memory_request_mib(kind)
    assert rss * REQUEST_HEADROOM <= request < rss * REQUEST_HEADROOM + 32
    assert request % 32 == 0
    assert memory_limit_mib(kind) > rss, "a process at its measured peak stays within its limit"


@pytest.mark.parametrize("kind", ("projector", "api"))
def test_the_projector_and_api_figures_are_peaks_under_load(kind: str) -> None:
    _, source = MEASURED_RSS_MIB[kind]
    assert "workers.bench.service_rss" in source and "VmHWM" in source, source
