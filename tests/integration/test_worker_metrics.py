"""``/metrics`` of a real ``gridcase worker`` process on the real dev server and broker.

The worker runs on compressed SLA time (2 s per policy hour) so a dispatched case breaches its
one-working-hour accept clock within seconds. Every lifecycle figure the worker serves is checked
against the events the cases actually published; the open-cases gauge against where the cases are;
the Temporal SDK's own metrics against what the worker did. A real Prometheus scrapes the worker
meanwhile: the Grafana dashboard's queries must show the work, and the alert rules must evaluate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from events.base import UnitKind, UnitRef
from events.schemas import (
    CaseClosed,
    CaseEvent,
    CaseReceived,
    Channel,
    EscalationRaised,
    Rating,
    ResidentContact,
    SlaBreached,
    SlaWarningRaised,
)
from events.topics import ensure_topics
from tests.integration.conftest import free_port
from workers.case_client import CaseClient
from workers.composition import connect_temporal
from workers.settings import Settings
from workflows.case_workflow import workflow_id
from workflows.domain import commands as c
from workflows.domain.explore import DISPATCHER, GRID_WORKER, LOCATION, unit_actor
from workflows.sla.calendar import calendar_coverage, today_in_shanghai, worker_calendar
from workflows.sla.policy import DEFAULT_POLICY_FILE, default_policy, horizon_days

pytestmark = pytest.mark.integration
GRIDCASE = str(Path(sys.executable).parent / "gridcase")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the series of ``name`` whose labels include ``labels``."""
    return sum(v for (n, got), v in samples.items() if n == name and frozenset(labels.items()) <= got)


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


async def eventually(check, timeout: float = 60.0, interval: float = 0.3):
    """Await ``check()`` until it returns a truthy value; fail with its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s; last value {result!r}")
        await asyncio.sleep(interval)


@pytest.fixture
def worker_env(stack_settings: Settings) -> Iterator[tuple[Settings, int, subprocess.Popen[bytes]]]:
    settings = stack_settings.model_copy(
        update={"topic_prefix": f"mt{uuid.uuid4().hex[:8]}", "task_queue": f"metrics-{uuid.uuid4().hex[:8]}"}
    )
    ensure_topics(settings, partitions=1)
    port = free_port()
    env = {
        **os.environ,
        "GRIDCASE_TASK_QUEUE": settings.task_queue,
        "GRIDCASE_TOPIC_PREFIX": settings.topic_prefix,
        "GRIDCASE_STATE_DIR": str(settings.state_dir),
        "GRIDCASE_METRICS_PORT": str(port),
        "GRIDCASE_METRICS_OPEN_CASES_INTERVAL_S": "0.5",
        "GRIDCASE_SLA_TIME_SCALE": "2",
    }
    proc = subprocess.Popen([GRIDCASE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
                pytest.fail(f"worker not ready on port {port} (exit {proc.poll()}): {err[-2000:]}")
            time.sleep(0.2)
        yield settings, port, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "gridcase.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"


@pytest.fixture
def prometheus(worker_env, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus (Debian's) scraping the worker every second, with gridcase's alert rules."""
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    _settings, metrics_port, _proc = worker_env
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {"job_name": "gridcase-worker", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def promql(base: str, query: str) -> list[dict]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=10).json()
    assert body["status"] == "success", (query, body)
    return list(body["data"]["result"])


def opening(case_id: str) -> c.OpenCase:
    return c.OpenCase(
        actor=DISPATCHER,
        case_id=case_id,
        channel=Channel.HOTLINE,
        category="noise",
        title="噪音",
        description="夜间施工",
        location=LOCATION,
        contact=ResidentContact(name="李四", phone="13900001111"),
        idempotency_key=f"k-{case_id}",
    )


async def test_worker_serves_lifecycle_sla_open_cases_and_sdk_metrics(worker_env, prometheus) -> None:
    settings, port, _proc = worker_env
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    # The calendar's coverage, as the worker computes it: on /readyz (still ready) and on /metrics.
    today = today_in_shanghai()
    coverage = calendar_coverage(worker_calendar(None, today), today, horizon_days=horizon_days(default_policy()))
    readyz = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    assert readyz.status_code == 200 and readyz.text.splitlines() == ["ready", coverage.summary()]
    first = scrape(port)
    assert value(first, "gridcase_calendar_covered_until_timestamp_seconds") == coverage.covered_until_timestamp()
    assert value(first, "gridcase_calendar_fallback_active") == (1.0 if coverage.fallback_active else 0.0)
    client = await connect_temporal(settings)
    cases = CaseClient(client, settings.task_queue)
    street = UnitRef(kind=UnitKind.STREET, id="S-1")
    sa = unit_actor(street)
    waiting, closed = ("M" + uuid.uuid4().hex[:10].upper() for _ in range(2))

    # A case left waiting for acceptance: its accept clock (1 working hour = 2 s) warns and breaches.
    await cases.open(opening(waiting))
    await cases.act(waiting, c.RegisterCase(actor=DISPATCHER))
    await cases.act(waiting, c.DispatchCase(actor=DISPATCHER, unit=street))
    # A case taken through to closure.
    await cases.open(opening(closed))
    for cmd in (
        c.RegisterCase(actor=DISPATCHER),
        c.DispatchCase(actor=DISPATCHER, unit=street),
        c.AcceptCase(actor=sa),
        c.ContactResident(actor=sa),
        c.ResolveCase(actor=sa, notes="fixed"),
        c.VerifyCase(actor=GRID_WORKER, passed=True),
        c.RecordCallback(actor=DISPATCHER, rating=Rating.SATISFIED),
        c.CloseCase(actor=DISPATCHER),
    ):
        await cases.act(closed, cmd)
    handles = {cid: client.get_workflow_handle(workflow_id(cid)) for cid in (waiting, closed)}
    try:

        async def published(cid: str) -> list[CaseEvent]:
            progress = await handles[cid].query("publishing")
            events = await cases.timeline(cid)
            return events[: progress["published"]]

        async def breached_and_escalated() -> bool:
            events = await published(waiting)
            return any(isinstance(e, SlaBreached) for e in events) and any(
                isinstance(e, EscalationRaised) for e in events
            )

        await eventually(breached_and_escalated)

        # Open cases by state, counted through Temporal visibility for this task queue.
        async def open_cases() -> dict[str, float] | None:
            got = {dict(k)["state"]: v for k, v in series(scrape(port), "gridcase_open_cases").items()}
            return got if got.get("dispatched") == 1 and sum(got.values()) == 1 else None

        gauges = await eventually(open_cases)
        assert set(gauges) >= {"received", "registered", "dispatched", "handling", "resolved", "shelved"}

        # Lifecycle counters against a consistent snapshot of what was published.
        async def snapshot() -> tuple[list[CaseEvent], Samples] | None:
            before = [await published(cid) for cid in handles]
            samples = scrape(port)
            after = [await published(cid) for cid in handles]
            return (before[0] + before[1], samples) if before == after else None

        events, samples = await eventually(snapshot)
        assert (
            value(samples, "gridcase_cases_opened_total", channel="hotline")
            == sum(isinstance(e, CaseReceived) for e in events)
            == 2
        )
        assert (
            value(samples, "gridcase_cases_closed_total", closure_type="normal")
            == sum(isinstance(e, CaseClosed) for e in events)
            == 1
        )
        warnings = Counter((e.kind.value, e.unit.key()) for e in events if isinstance(e, SlaWarningRaised))
        breaches = Counter((e.kind.value, e.unit.key()) for e in events if isinstance(e, SlaBreached))
        escalations = Counter((e.level.value, e.unit.key()) for e in events if isinstance(e, EscalationRaised))
        assert breaches[("accept", "street:S-1")] >= 1 and warnings[("accept", "street:S-1")] >= 1
        assert {
            (dict(k)["clock"], dict(k)["unit"]): v for k, v in series(samples, "gridcase_sla_warnings_total").items()
        } == warnings
        assert {
            (dict(k)["clock"], dict(k)["unit"]): v for k, v in series(samples, "gridcase_sla_breaches_total").items()
        } == breaches
        assert {
            (dict(k)["level"], dict(k)["unit"]): v for k, v in series(samples, "gridcase_escalations_total").items()
        } == escalations
        assert value(samples, "gridcase_event_publish_latency_seconds_count") == len(events)
        assert 0 < value(samples, "gridcase_event_publish_latency_seconds_sum") < 60 * len(events)
        assert value(samples, "gridcase_event_last_published_timestamp_seconds") > time.time() - 300

        # The Temporal SDK's own metrics, bridged into the same endpoint.
        tq = settings.task_queue
        assert total(samples, "temporal_workflow_task_schedule_to_start_latency_seconds_count", task_queue=tq) > 0
        assert total(samples, "temporal_workflow_task_execution_latency_seconds_count", task_queue=tq) > 0
        assert total(samples, "temporal_request_total", operation="CountWorkflowExecutions") > 0

        async def closed_workflow_completed() -> bool:
            return total(scrape(port), "temporal_workflow_completed_total", task_queue=tq) == 1

        await eventually(closed_workflow_completed)
        assert value(samples, "gridcase_open_cases_refresh_failures_total") == 0

        # A real Prometheus scraped all of it: the dashboard's queries run on it, the alert rules evaluate.
        async def scraped_enough() -> bool:
            got = promql(prometheus, 'count_over_time(gridcase_cases_opened_total{channel="hotline"}[1m])')
            return bool(got) and float(got[0]["value"][1]) >= 5

        await eventually(scraped_enough)
        dashboard = json.loads(DASHBOARD.read_text())
        answered: dict[str, bool] = {}
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                result = promql(prometheus, target["expr"].replace("$__rate_interval", "30s"))
                answered[panel["title"]] = answered.get(panel["title"], False) or bool(result)
        for title in (
            "Open cases",
            "Opened / closed (24 h)",
            "Cases opened and closed per hour",
            "Open cases by state (workflows)",
            "SLA warnings per hour by clock",
            "SLA breaches per hour by clock",
            "Escalations per hour by level",
            "Units with most breaches (24 h)",
            "Event publish latency (occurred → acknowledged)",
            "Events published per second by type",
            "Workflow task schedule-to-start (p95)",
            "Workflow task execution (p95)",
            "Task slots available",
            "Activity execution (p95)",
            "Sticky cache size and pollers",
            "Official holiday data ends in",
            "Working-day clocks on the Monday-Friday fallback",
        ):
            assert answered[title], f"dashboard panel {title!r} shows nothing for a worker that did work"
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) == 12 and all(r["health"] == "ok" for r in rules), rules
        calendar_alerts = {r["name"]: r["state"] for r in rules if r["name"].startswith("GridcaseCalendar")}
        assert set(calendar_alerts) == {"GridcaseCalendarCoverageEnding", "GridcaseCalendarFallbackActive"}
        if coverage.expiring:  # e.g. in December 2026: 2027 has no official data yet
            assert calendar_alerts["GridcaseCalendarCoverageEnding"] in ("pending", "firing")
    finally:
        for handle in handles.values():
            with contextlib.suppress(Exception):  # the closed case's workflow has already completed
                await handle.terminate("test over")


def _refusing_worker(stack_settings: Settings, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "GRIDCASE_STATE_DIR": str(stack_settings.state_dir),
        "GRIDCASE_METRICS_PORT": "0",
        "GRIDCASE_TASK_QUEUE": f"refused-{uuid.uuid4().hex[:8]}",
        **env,
    }
    return subprocess.run([GRIDCASE, "worker"], env=full, capture_output=True, text=True, timeout=120)


def test_worker_refuses_to_start_with_a_policy_naming_an_unknown_category(
    stack_settings: Settings, tmp_path: Path
) -> None:
    import yaml

    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    doc["clocks"]["resolve"]["by_category"]["power"] = "24h calendar"  # the seed city has power-outage
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    done = _refusing_worker(stack_settings, tmp_path, GRIDCASE_POLICY_FILE=str(policy))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(
        f"gridcase worker: refusing to start: {policy}: clocks.resolve.by_category.power: policy.unknown_category: "
    ), done.stderr
    assert "Traceback" not in done.stderr


def test_worker_refuses_to_start_with_an_invalid_calendar_override(stack_settings: Settings, tmp_path: Path) -> None:
    override = tmp_path / "calendar-2027.yaml"
    override.write_text(
        "cover_years: [2027]\nholidays: {add: [2027-01-01]}\nworkdays: {add: [2027-03-03]}\n", encoding="utf-8"
    )
    done = _refusing_worker(stack_settings, tmp_path, GRIDCASE_CALENDAR_OVERRIDE_FILE=str(override))
    assert done.returncode == 1
    expected = f"gridcase worker: refusing to start: {override}: workdays.add[0] 2027-03-03: "
    expected += "calendar.workday_not_weekend: "
    assert done.stderr.strip().splitlines()[-1].startswith(expected), done.stderr
    assert "Traceback" not in done.stderr
