"""Observability of gridcase processes: ``/metrics``, ``/healthz`` and ``/readyz`` on one port.

* :class:`MetricsServer` serves the Prometheus registry on ``/metrics`` and the process's health on
  ``/healthz`` (liveness: the event loop still runs) and ``/readyz`` (readiness: the process does
  its work, e.g. the worker polls its task queue). Any gridcase process can use it.
* :class:`TemporalMetricsBridge` brings the Temporal SDK's own metrics (task latencies, slots,
  pollers, sticky cache, requests...) into the same registry, from a
  :class:`temporalio.runtime.MetricBuffer`: counters as ``temporal_*_total``, duration histograms
  as ``temporal_*_seconds``, gauges as they are.
* :class:`OpenCasesCollector` keeps ``gridcase_open_cases{state}`` current by counting running case
  workflows per ``GridcaseStatus`` through Temporal visibility. Every worker reports the same
  cluster-wide figure for its task queue, so it is right however many workers run: aggregate it
  with ``max without (instance, pod)``, never ``sum``.
* :class:`CalendarCoverageCollector` serves how far ahead the working calendar has official holiday
  data (``gridcase_calendar_covered_until_timestamp_seconds``) and whether a clock started now can
  reach the Monday–Friday fallback (``gridcase_calendar_fallback_active``); the same line goes to
  ``/readyz`` as a note (readiness stays true: a warning, not an outage).
* :class:`WorkerObservability` wires all of that for ``gridcase worker``.

Nothing here binds a port or starts a thread at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from http.server import ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, MetricsHandler
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from temporalio.client import Client
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

from workers.settings import Settings
from workflows.domain.state import TERMINAL, CaseStatus
from workflows.sla.calendar import WorkCalendar, calendar_coverage, local_today

log = logging.getLogger(__name__)

OPEN_CASES = Gauge(
    "gridcase_open_cases",
    "Running cases on this worker's task queue by status (from Temporal visibility; the same figure on "
    "every worker of the queue: aggregate with max, not sum).",
    ["state"],
)
OPEN_CASES_REFRESHED = Gauge(
    "gridcase_open_cases_refreshed_timestamp_seconds", "Unix time of the last successful open-cases count."
)
OPEN_CASES_FAILURES = Counter(
    "gridcase_open_cases_refresh_failures_total", "Open-cases counts that failed (Temporal visibility unreachable)."
)

#: Statuses a running case workflow can be in (``new`` lasts only until intake's first event).
OPEN_STATES: tuple[str, ...] = tuple(s.value for s in CaseStatus if s not in TERMINAL and s != CaseStatus.NEW)

DURATION_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    21600.0,
    86400.0,
    604800.0,
)
VALUE_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
LabelKey = tuple[tuple[str, str], ...]


# --------------------------------------------------------------------------------------------
# Health and the HTTP endpoint


@dataclass
class Health:
    """What ``/healthz`` and ``/readyz`` answer.

    ``beat()`` is called periodically from the process's event loop; ``alive()`` turns false when no
    beat came for ``stale_after_s`` (the loop is stuck). ``ready`` is set by the process once it does
    its work and cleared when it starts shutting down. ``notes`` are called on every ``/readyz``;
    each returns a line shown below the verdict (warnings that do not make the process unready).
    """

    stale_after_s: float = 60.0
    ready: bool = False
    notes: list[Callable[[], str]] = field(default_factory=list)
    _last_beat: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._last_beat < self.stale_after_s

    def readiness(self) -> str:
        """The ``/readyz`` body: ``ready`` or ``not ready``, then one line per note."""
        lines = ["ready" if self.ready else "not ready"]
        for note in self.notes:
            try:
                line = note()
            except Exception as exc:  # a broken note never breaks the probe
                line = f"note failed: {exc!r}"
            if line:
                lines.append(line)
        return "\n".join(lines)

    async def beat_forever(self, interval_s: float = 5.0) -> None:
        """Beat every ``interval_s`` until cancelled."""
        while True:
            self.beat()
            await asyncio.sleep(interval_s)


def _handler(registry: CollectorRegistry, health: Health) -> type[MetricsHandler]:
    base = MetricsHandler.factory(registry)

    class Handler(base):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/healthz", "/livez"):
                self._plain(200 if health.alive() else 503, "ok" if health.alive() else "event loop stalled")
            elif path == "/readyz":
                self._plain(200 if health.ready else 503, health.readiness())
            elif path == "/metrics":
                super().do_GET()
            else:
                self._plain(404, "not found: try /metrics, /healthz or /readyz")

        def _plain(self, status: int, text: str) -> None:
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class MetricsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port``, served from a daemon thread."""

    def __init__(self, host: str, port: int, health: Health, registry: CollectorRegistry = REGISTRY) -> None:
        self._address = (host, port)
        self._health = health
        self._registry = registry
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        """The bound port, or ``None`` when not serving."""
        return int(self._server.server_address[1]) if self._server else None

    def start(self) -> bool:
        """Start serving; returns False (and logs why) when the port is taken."""
        try:
            server = ThreadingHTTPServer(self._address, _handler(self._registry, self._health))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            log.error(
                "metrics port %s:%d is in use: /metrics, /healthz and /readyz are NOT served by this process "
                "(set GRIDCASE_METRICS_PORT to a free port)",
                *self._address,
            )
            return False
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="gridcase-metrics", daemon=True)
        self._thread.start()
        log.info("serving /metrics, /healthz, /readyz on http://%s:%d", self._address[0], self.port)
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None


# --------------------------------------------------------------------------------------------
# Temporal SDK metrics


def _name(raw: str) -> str:
    name = _INVALID.sub("_", raw)
    return name if not name[:1].isdigit() else f"_{name}"


def _label_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _Histogram:
    bounds: tuple[float, ...]
    counts: list[int]
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        self.total += value
        self.count += 1


class TemporalMetricsBridge:
    """A Prometheus collector fed by the Temporal runtime's metric buffer.

    The buffer is drained on every scrape and by :meth:`start` every ``drain_interval_s`` in a
    background thread (the buffer drops updates when full).
    """

    def __init__(self, buffer: MetricBuffer, *, drain_interval_s: float = 1.0) -> None:
        self._buffer = buffer
        self._interval = drain_interval_s
        self._lock = threading.Lock()
        self._types: dict[str, tuple[str, str]] = {}  # prometheus name -> (type, help)
        self._values: dict[tuple[str, LabelKey], float] = {}  # counters and gauges
        self._histograms: dict[tuple[str, LabelKey], _Histogram] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def new_buffer(size: int = 200_000) -> MetricBuffer:
        """A buffer reporting durations in seconds, as this bridge expects."""
        return MetricBuffer(size, MetricBufferDurationFormat.SECONDS)

    def drain(self) -> int:
        """Apply every buffered update; returns how many there were."""
        with self._lock:
            updates = self._buffer.retrieve_updates()
            for update in updates:
                metric = update.metric
                labels: LabelKey = tuple(sorted((_name(str(k)), _label_value(v)) for k, v in update.attributes.items()))
                if metric.kind == BUFFERED_METRIC_KIND_HISTOGRAM:
                    seconds = metric.unit in ("s", "ms", "duration")
                    name = _name(metric.name) + ("_seconds" if seconds else "")
                    self._types.setdefault(name, ("histogram", metric.description or metric.name))
                    hist = self._histograms.get((name, labels))
                    if hist is None:
                        bounds = DURATION_BUCKETS if seconds else VALUE_BUCKETS
                        hist = self._histograms[(name, labels)] = _Histogram(bounds, [0] * len(bounds))
                    hist.observe(float(update.value))
                elif metric.kind == BUFFERED_METRIC_KIND_COUNTER:
                    name = _name(metric.name).removesuffix("_total")  # exposed with one _total suffix
                    self._types.setdefault(name, ("counter", metric.description or metric.name))
                    self._values[(name, labels)] = self._values.get((name, labels), 0.0) + float(update.value)
                elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
                    name = _name(metric.name)
                    self._types.setdefault(name, ("gauge", metric.description or metric.name))
                    self._values[(name, labels)] = float(update.value)
            return len(updates)

    def describe(self) -> list[Metric]:
        return []  # names are only known once the SDK reported them

    def collect(self) -> Iterable[Metric]:
        try:
            self.drain()
        except Exception as exc:  # never fail a scrape because of the SDK side
            log.warning("draining Temporal SDK metrics failed: %r", exc)
        with self._lock:
            families: dict[str, Metric] = {name: Metric(name, doc, typ) for name, (typ, doc) in self._types.items()}
            for (name, labels), value in self._values.items():
                family = families[name]
                sample = f"{family.name}_total" if family.type == "counter" else family.name
                family.add_sample(sample, dict(labels), value)
            for (name, labels), hist in self._histograms.items():
                family = families[name]
                cumulative = 0
                for bound, n in zip(hist.bounds, hist.counts, strict=True):
                    cumulative += n
                    family.add_sample(f"{name}_bucket", {**dict(labels), "le": _le(bound)}, cumulative)
                family.add_sample(f"{name}_bucket", {**dict(labels), "le": "+Inf"}, hist.count)
                family.add_sample(f"{name}_count", dict(labels), hist.count)
                family.add_sample(f"{name}_sum", dict(labels), hist.total)
        return list(families.values())

    def _drain_forever(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.drain()
            except Exception as exc:
                log.warning("draining Temporal SDK metrics failed: %r", exc)

    def start(self) -> None:
        """Drain the buffer periodically in a daemon thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._drain_forever, name="gridcase-temporal-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


# --------------------------------------------------------------------------------------------
# Open cases by state


def open_cases_query(task_queue: str, state: str) -> str:
    """The visibility query counting running cases of ``task_queue`` in ``state``."""
    for name, value in (("task_queue", task_queue), ("state", state)):
        if "'" in value or "\\" in value:
            raise ValueError(f"{name}: must not contain quotes or backslashes, got {value!r}")
    return (
        f"WorkflowType='CaseWorkflow' AND ExecutionStatus='Running' AND TaskQueue='{task_queue}' "
        f"AND GridcaseStatus='{state}'"
    )


class OpenCasesCollector:
    """Sets ``gridcase_open_cases{state}`` from Temporal visibility counts, every ``interval_s``."""

    def __init__(self, client: Client, task_queue: str, interval_s: float, states: Sequence[str] = OPEN_STATES):
        if interval_s <= 0:
            raise ValueError(f"interval_s: must be positive, got {interval_s}")
        open_cases_query(task_queue, "x")  # validates the task queue name
        self._client = client
        self._task_queue = task_queue
        self._interval = interval_s
        self._states = tuple(states)

    async def refresh(self) -> dict[str, int]:
        """Count once and update the gauge; returns the counts by state."""
        counts = await asyncio.gather(
            *(self._client.count_workflows(open_cases_query(self._task_queue, s)) for s in self._states)
        )
        result = {state: int(c.count) for state, c in zip(self._states, counts, strict=True)}
        for state, n in result.items():
            OPEN_CASES.labels(state=state).set(n)
        OPEN_CASES_REFRESHED.set(time.time())
        return result

    async def run(self) -> None:
        """Refresh every ``interval_s`` until cancelled; failures are counted and logged, not raised."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                OPEN_CASES_FAILURES.inc()
                log.warning("counting open cases failed: %r", exc)
            await asyncio.sleep(self._interval)


# --------------------------------------------------------------------------------------------
# Working-calendar coverage

CALENDAR_COVERED_UNTIL = "gridcase_calendar_covered_until_timestamp_seconds"
CALENDAR_FALLBACK_ACTIVE = "gridcase_calendar_fallback_active"


class CalendarCoverageCollector:
    """How far ahead the worker's working calendar has official holiday data, computed on every scrape.

    * ``gridcase_calendar_covered_until_timestamp_seconds``: Unix time when the official data
      (``chinese_calendar`` plus the override file) ends, i.e. local midnight after its last day;
      0 when there is none;
    * ``gridcase_calendar_fallback_active``: 1 when today, or any day a clock started now can reach
      (``horizon_days``), falls back to Monday–Friday.

    ``today`` returns the local date (default: the calendar's local date now).
    """

    def __init__(self, calendar: WorkCalendar, horizon_days: int, *, today: Callable[[], date] | None = None) -> None:
        self._calendar = calendar
        self._horizon = horizon_days
        self._today = today or (lambda: local_today(calendar))

    def coverage_line(self) -> str:
        """The ``calendar: ...`` line for ``/readyz``."""
        return calendar_coverage(self._calendar, self._today(), horizon_days=self._horizon).summary()

    def describe(self) -> list[Metric]:
        return list(self.collect())

    def collect(self) -> Iterable[Metric]:
        coverage = calendar_coverage(self._calendar, self._today(), horizon_days=self._horizon)
        until = GaugeMetricFamily(
            CALENDAR_COVERED_UNTIL,
            "Unix time when the working calendar's official holiday data ends (chinese_calendar plus the override "
            "file); later days fall back to Monday-Friday. 0: no data at all.",
        )
        until.add_metric([], coverage.covered_until_timestamp(self._calendar.utc_offset_minutes))
        active = GaugeMetricFamily(
            CALENDAR_FALLBACK_ACTIVE,
            "1 when today or a day a clock started now can reach (the policy's horizon) falls back to "
            "Monday-Friday for lack of official holiday data.",
        )
        active.add_metric([], 1.0 if coverage.fallback_active else 0.0)
        return [until, active]


# --------------------------------------------------------------------------------------------
# Wiring for the worker


class WorkerObservability:
    """Everything ``gridcase worker`` exposes on ``settings.metrics_port`` (0 turns it all off).

    Build it before connecting to Temporal and connect with :attr:`runtime` (so the SDK's metrics
    land in the buffer), then run the worker inside :meth:`serving`. The calendar coverage is
    computed for ``calendar`` and ``horizon_days`` when given, else for the calendar and policy the
    settings name (as the worker computes them).
    """

    def __init__(
        self,
        settings: Settings,
        task_queue: str,
        *,
        registry: CollectorRegistry = REGISTRY,
        calendar: WorkCalendar | None = None,
        horizon_days: int | None = None,
    ) -> None:
        self.enabled = settings.metrics_port > 0
        self.health = Health()
        self._settings = settings
        self._task_queue = task_queue
        self._registry = registry
        self._calendar = calendar
        self._horizon_days = horizon_days
        self._bridge: TemporalMetricsBridge | None = None
        self.runtime: Runtime | None = None
        self.server: MetricsServer | None = None
        if self.enabled:
            buffer = TemporalMetricsBridge.new_buffer()
            self.runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
            self._bridge = TemporalMetricsBridge(buffer)

    @contextlib.asynccontextmanager
    async def serving(self, client: Client) -> AsyncIterator[Health]:
        """Serve the endpoints and keep the collectors running for the duration of the block."""
        if not self.enabled:
            yield self.health
            return
        assert self._bridge is not None
        coverage = self._coverage_collector()
        self._registry.register(self._bridge)
        self._registry.register(coverage)
        self.health.notes.append(coverage.coverage_line)
        self._bridge.start()
        self.server = MetricsServer(
            self._settings.metrics_host, self._settings.metrics_port, self.health, self._registry
        )
        self.server.start()
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(self.health.beat_forever())]
        interval = self._settings.metrics_open_cases_interval_s
        if interval > 0:
            tasks.append(asyncio.create_task(OpenCasesCollector(client, self._task_queue, interval).run()))
        try:
            yield self.health
        finally:
            self.health.ready = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.server.stop()
            self._bridge.stop()
            self._registry.unregister(self._bridge)
            self._registry.unregister(coverage)
            self.health.notes.remove(coverage.coverage_line)

    def _coverage_collector(self) -> CalendarCoverageCollector:
        from workers.composition import active_calendar, active_policy
        from workflows.sla.policy import horizon_days

        calendar = self._calendar or active_calendar(self._settings)
        horizon = self._horizon_days if self._horizon_days is not None else horizon_days(active_policy(self._settings))
        return CalendarCoverageCollector(calendar, horizon)
