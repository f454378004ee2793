"""Calendar coverage where operators look: the metrics, /readyz, the stack status line, worker start.

``chinesecalendar`` 1.11 has no data for 2027: from 1 January 2027 a worker's working-day clocks fall
back to Monday–Friday. These tests pin how far ahead that is reported, for every class of "today".
"""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.test_calendar_override import docs_example
from workers import composition
from workers.observability import CalendarCoverageCollector, Health, MetricsServer
from workers.settings import Settings
from workflows.sla.calendar import (
    COVERAGE_WARN_DAYS,
    CalendarCoverage,
    WorkCalendar,
    build_calendar,
    calendar_coverage,
    coverage_line,
    worker_calendar,
)

END_2026 = date(2026, 12, 31)
UNTIL_2027 = datetime(2027, 1, 1, tzinfo=UTC).timestamp() - 8 * 3600  # 00:00 Asia/Shanghai on 1 Jan 2027


def coverage(today: date, horizon: int = 39, covered_to: date | None = END_2026) -> CalendarCoverage:
    return CalendarCoverage(today, date(2025, 1, 1) if covered_to else None, covered_to, horizon)


@pytest.mark.parametrize(
    "today, days_left, expiring, active",
    [
        pytest.param(date(2026, 3, 1), 306, False, False, id="spring"),
        pytest.param(END_2026 - timedelta(days=COVERAGE_WARN_DAYS), 61, False, False, id="61-days-before"),
        pytest.param(END_2026 - timedelta(days=COVERAGE_WARN_DAYS - 1), 60, True, False, id="60-days-before"),
        pytest.param(END_2026 - timedelta(days=38), 39, True, True, id="horizon-reaches-2027"),
        pytest.param(date(2026, 12, 2), 30, True, True, id="2-december"),
        pytest.param(END_2026, 1, True, True, id="new-years-eve"),
        pytest.param(date(2027, 1, 1), 0, True, True, id="new-years-day"),
        pytest.param(date(2027, 6, 1), 0, True, True, id="mid-2027"),
        pytest.param(date(2024, 6, 1), 0, True, True, id="before-the-covered-range"),
    ],
)
def test_coverage_seen_from_every_kind_of_today(today: date, days_left: int, expiring: bool, active: bool) -> None:
    c = coverage(today)
    assert (c.days_left, c.expiring, c.fallback_active) == (days_left, expiring, active)
    assert c.fallback_today == (days_left == 0)
    assert c.covered_until_timestamp() == UNTIL_2027
    line = c.summary()
    assert line.startswith("calendar: official data until 2026-12-31")
    if expiring:
        assert "falls back to Monday–Friday" in line and "docs/operations.md#working-calendar" in line
    else:
        assert line.endswith(f"({days_left} days ahead)")


def test_the_readyz_line_on_2_december_2026() -> None:
    assert coverage(date(2026, 12, 2)).summary() == (
        "calendar: official data until 2026-12-31; 2027 falls back to Monday–Friday in 30 days; "
        "add an override file (docs/operations.md#working-calendar)"
    )
    assert "2027 falls back to Monday–Friday (since 2027-01-01)" in coverage(date(2027, 3, 3)).summary()


def test_no_data_at_all() -> None:
    c = coverage(date(2026, 12, 1), covered_to=None)
    assert c.days_left == 0 and c.fallback_active and c.covered_until_timestamp() == 0.0
    assert "no official holiday data at all" in c.summary()


def test_the_horizon_decides_whether_the_fallback_is_active() -> None:
    today = date(2026, 11, 1)  # 61 days left
    assert not coverage(today, horizon=60).fallback_active
    assert coverage(today, horizon=61).fallback_active


def test_the_worker_calendar_ends_with_the_library_unless_an_override_adds_a_year(tmp_path: Path) -> None:
    plain = worker_calendar(None, date(2026, 12, 1))
    assert plain.covered_to == END_2026
    f = tmp_path / "calendar-2027.yaml"
    f.write_text(docs_example(), encoding="utf-8")
    extended = worker_calendar(f, date(2026, 12, 1))
    c = calendar_coverage(extended, date(2026, 12, 1))
    assert extended.covered_to == date(2027, 12, 31) and not c.expiring
    assert c.summary() == "calendar: official data until 2027-12-31 (396 days ahead)"


def _families(registry: CollectorRegistry) -> dict[str, float]:
    text = generate_latest(registry).decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


@pytest.mark.parametrize("today, active", [(date(2026, 6, 1), 0.0), (date(2026, 12, 1), 1.0), (date(2027, 1, 4), 1.0)])
def test_the_collector_serves_coverage_for_the_day_of_the_scrape(today: date, active: float) -> None:
    registry = CollectorRegistry()
    registry.register(CalendarCoverageCollector(build_calendar([2025, 2026]), 39, today=lambda: today))
    got = _families(registry)
    assert got["gridcase_calendar_covered_until_timestamp_seconds"] == UNTIL_2027
    assert got["gridcase_calendar_fallback_active"] == active


def test_the_collector_follows_the_clock() -> None:
    days = iter([date(2026, 6, 1), date(2026, 12, 1)])
    registry = CollectorRegistry()
    collector = CalendarCoverageCollector(build_calendar([2026]), 39, today=lambda: next(days))
    registry.register(collector)  # describe() uses the first day
    assert _families(registry)["gridcase_calendar_fallback_active"] == 1.0


def test_a_calendar_without_data_reports_zero() -> None:
    registry = CollectorRegistry()
    registry.register(CalendarCoverageCollector(WorkCalendar(), 39, today=lambda: date(2026, 12, 1)))
    got = _families(registry)
    assert got["gridcase_calendar_covered_until_timestamp_seconds"] == 0.0
    assert got["gridcase_calendar_fallback_active"] == 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_readyz_shows_the_calendar_line_and_stays_ready() -> None:
    collector = CalendarCoverageCollector(build_calendar([2026]), 39, today=lambda: date(2026, 12, 2))
    health = Health(notes=[collector.coverage_line, lambda: 1 / 0])  # type: ignore[list-item, operator]
    server = MetricsServer("127.0.0.1", _free_port(), health, CollectorRegistry())
    assert server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        not_ready = httpx.get(f"{base}/readyz")
        assert not_ready.status_code == 503 and not_ready.text.startswith("not ready\ncalendar: ")
        health.ready = True
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200
        lines = ready.text.splitlines()
        assert lines[0] == "ready"
        assert lines[1] == (
            "calendar: official data until 2026-12-31; 2027 falls back to Monday–Friday in 30 days; "
            "add an override file (docs/operations.md#working-calendar)"
        )
        assert lines[2].startswith("note failed: ZeroDivisionError")  # a broken note never breaks the probe
    finally:
        server.stop()


def test_stack_status_line(tmp_path: Path) -> None:
    ok, line = coverage_line(None, date(2026, 12, 2))
    assert ok and line.startswith("official data until 2026-12-31; 2027 falls back to Monday–Friday in 30 days")
    bad = tmp_path / "calendar.yaml"
    bad.write_text("cover_years: [2027]\nholidays: {add: [2027-02-30]}\n", encoding="utf-8")
    ok, line = coverage_line(bad, date(2026, 12, 1))
    assert not ok
    assert line.startswith(f"{bad}: 2 problems")  # the bad date, and so no holiday for 2027
    assert f"gridcase policy calendar-check {bad}" in line


# --- the worker refuses to start ------------------------------------------------------------------


class _City:
    def __init__(self, codes: list[str]) -> None:
        self._codes = codes

    def categories(self) -> list[object]:
        return [type("C", (), {"code": c})() for c in self._codes]


@pytest.fixture
def seed_city(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_sla_policy import seed_categories

    monkeypatch.setattr(composition, "build_registry", lambda settings: _City(sorted(seed_categories())))


def test_the_default_policy_passes_on_the_seed_city(seed_city: None) -> None:
    policy = composition.checked_policy(Settings())
    assert "illegal-construction" in policy.clocks["resolve"].by_category  # type: ignore[index]


@pytest.mark.parametrize("code", ["power", "gas", "complex"])
def test_the_worker_refuses_a_policy_naming_an_unknown_category(tmp_path: Path, seed_city: None, code: str) -> None:
    import yaml

    from workflows.sla.policy import DEFAULT_POLICY_FILE

    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    doc["clocks"]["resolve"]["by_category"][code] = "24h calendar"
    f = tmp_path / "policy.yaml"
    f.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(composition.RefusedToStart) as info:
        composition.checked_policy(Settings(policy_file=f))
    message = str(info.value)
    assert isinstance(info.value, SystemExit) and info.value.code == message
    assert message.startswith(
        f"gridcase worker: refusing to start: {f}: clocks.resolve.by_category.{code}: policy.unknown_category: "
    )
    assert "\n" not in message


def test_the_worker_refuses_when_the_registry_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(settings: Settings) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(composition, "build_registry", broken)
    with pytest.raises(composition.RefusedToStart, match=r"cannot read the city registry.*database is locked"):
        composition.checked_policy(Settings())


@pytest.mark.parametrize(
    "text, rule",
    [
        ("cover_years: [2027]\nholidays: {add: [2027-02-30]}\n", "calendar.bad_date"),
        (
            "cover_years: [2027]\nholidays: {add: [2027-01-01]}\nworkdays: {add: [2027-03-03]}\n",
            "calendar.workday_not_weekend",
        ),
        ("cover_years: [2027]\n", "calendar.empty_year"),
    ],
)
def test_the_worker_refuses_an_invalid_calendar_override(tmp_path: Path, text: str, rule: str) -> None:
    f = tmp_path / "calendar.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(composition.RefusedToStart) as info:
        composition.checked_calendar(Settings(calendar_override_file=f))
    assert str(info.value).startswith(f"gridcase worker: refusing to start: {f}: ") and rule in str(info.value)
