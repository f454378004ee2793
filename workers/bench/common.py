"""What every benchmark shares: the machine and versions, statistics, tables and result files.

A benchmark returns a :class:`BenchResult`: named metrics, each a list of samples (one per
repeated run), plus free-form details. :func:`summarise` turns samples into median, min, max and
spread (``(max - min) / median``); :func:`write_result` stores the whole result, with the machine
and the versions it ran on, as JSON under the results folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

#: Benchmark sizes: ``tiny`` exercises the code in tests, ``default`` fits the ten-minute budget,
#: ``large`` reaches the sizes of the targets (20k open cases and more).
SIZES = ("tiny", "default", "large")
#: Sizes of the memory benchmark alone, on the cluster profile: ``cluster1k`` (200 and 1,000 open
#: cases, a check of the cluster mode) and ``cluster100k`` (1k, 10k and 100k open cases).
CLUSTER_SIZES = ("cluster1k", "cluster100k")


@dataclass
class Metric:
    """One measured quantity over repeated runs."""

    name: str
    unit: str
    samples: list[float]
    target: str = ""  # e.g. ">= 1.0" (read by people; never asserted in tests)
    higher_is_better: bool = True

    def summary(self) -> dict[str, float]:
        return summarise(self.samples)


@dataclass
class BenchResult:
    """The outcome of one benchmark."""

    name: str
    size: str
    repeat: int
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    def add(self, name: str, unit: str, samples: list[float], target: str = "", higher_is_better: bool = True) -> None:
        self.metrics.append(Metric(name, unit, [float(s) for s in samples], target, higher_is_better))


def summarise(samples: list[float]) -> dict[str, float]:
    """Median, min, max and relative spread ((max - min) / median) of the samples."""
    if not samples:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "spread": float("nan"), "n": 0}
    med = statistics.median(samples)
    lo, hi = min(samples), max(samples)
    spread = (hi - lo) / med if med else 0.0
    return {"median": med, "min": lo, "max": hi, "spread": spread, "n": len(samples)}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


# --------------------------------------------------------------------------------------------
# machine and versions


def _first_match(path: str, pattern: str) -> str:
    try:
        text = Path(path).read_text()
    except OSError:
        return ""
    m = re.search(pattern, text, re.MULTILINE)
    return m.group(1).strip() if m else ""


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU model, OS and the load average when the benchmark started."""
    mem_kib = _first_match("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "cores": os.cpu_count(),
        "memory_mib": round(int(mem_kib) / 1024) if mem_kib else None,
        "cpu_model": _first_match("/proc/cpuinfo", r"^model name\s*:\s*(.+)$") or platform.processor(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average": load,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _temporal_cli_version() -> str:
    from deploy.stack import StackError, temporal_binary

    try:
        out = subprocess.run([temporal_binary(), "--version"], capture_output=True, text=True, timeout=10)
    except (StackError, OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip().removeprefix("temporal version ")


def versions(database_urls: list[str] | None = None) -> dict[str, str]:
    """temporalio, temporal CLI (server), Kafka, Python, SQLAlchemy, kafka-python and the databases."""
    import sqlite3

    from deploy.stack import kafka_version

    found = {
        "python": sys.version.split()[0],
        "temporalio": _version("temporalio"),
        "temporal_cli": _temporal_cli_version(),
        "kafka": kafka_version(),
        "kafka_python": _version("kafka-python"),
        "sqlalchemy": _version("sqlalchemy"),
        "sqlite": sqlite3.sqlite_version,
    }
    for url in database_urls or []:
        if url.startswith("postgresql"):
            found["postgresql"] = postgres_version(url)
    return found


def postgres_version(url: str) -> str:
    """The PostgreSQL server version behind ``url`` ("unreachable" when it does not answer)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW server_version")).scalar())
    except Exception:
        return "unreachable"
    finally:
        engine.dispose()


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB (from /proc; NaN when it is gone)."""
    kib = _first_match(f"/proc/{pid}/status", r"^VmRSS:\s+(\d+)")
    return int(kib) / 1024 if kib else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (NaN when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# --------------------------------------------------------------------------------------------
# output


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(result: BenchResult) -> str:
    """A plain-text table: one row per metric with median, min, max, spread and target."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.name}  (size {result.size}, {result.repeat} run(s), {result.seconds:.0f} s)")
    for col in ("metric", "unit", "median", "min", "max", "spread", "target"):
        table.add_column(col, justify="left" if col in ("metric", "unit", "target") else "right")
    for m in result.metrics:
        s = m.summary()
        table.add_row(
            m.name,
            m.unit,
            _fmt(s["median"]),
            _fmt(s["min"]),
            _fmt(s["max"]),
            f"{s['spread'] * 100:.0f}%" if s["n"] > 1 else "-",
            m.target,
        )
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115 - recorded only
    console.print(table)
    return console.export_text()


def result_document(result: BenchResult, machine: dict[str, Any], vers: dict[str, str]) -> dict[str, Any]:
    doc = asdict(result)
    for m, raw in zip(result.metrics, doc["metrics"], strict=True):
        raw["summary"] = m.summary()
    doc["machine"] = machine
    doc["versions"] = vers
    return doc


def write_result(out_dir: Path, result: BenchResult, machine: dict[str, Any], vers: dict[str, str]) -> Path:
    """Write ``<out_dir>/<name>-<timestamp>.json`` and ``<out_dir>/<name>-latest.json``; returns the first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = result_document(result, machine, vers)
    stamp = result.started_at.replace(":", "").replace("-", "").replace("+0000", "Z")
    path = out_dir / f"{result.name}-{stamp}.json"
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    path.write_text(text)
    (out_dir / f"{result.name}-latest.json").write_text(text)
    return path
