"""The supervisor's journey: after a few cases went through the loop, sv-city opens the dashboard (its
home page); the figures on screen are `gridcase report --format csv`'s for the same period, the
exported CSV is the command's byte for byte, the charts draw and have their tables, and the page is
accessible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack
from tests.integration.web.conftest import axe_violations, open_page, shot
from tests.integration.web.test_api_dashboard import cli_report, csv_rows, loop_cases, pct, raw, this_month

pytestmark = pytest.mark.integration

KPIS = (
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "composite",
    "on_time_resolution_rate",
    "on_time_closure_rate",
    "rework_rate",
    "cases",
    "overdue_open",
)
RATES = KPIS[:7]


def on_screen(page: Any) -> dict[str, str]:
    """Each KPI card's raw value (``data-value``) as the CSV writes it."""
    out = {}
    for field in KPIS:
        value = page.get_by_test_id(f"kpi-{field}").get_attribute("data-value")
        out[field] = "" if value == "" else raw(int(value) if field in ("cases", "overdue_open") else float(value))
    return out


def test_supervisor_dashboard(web: ApiStack, browser: Any, tmp_path: Path) -> None:
    cases = loop_cases(web)
    period = this_month()

    page = open_page(browser, web, "sv-city", "/")
    page.wait_for_url("**/app/dashboard**", timeout=30_000)  # the supervisor's home
    page.get_by_test_id("kpi-composite").wait_for(timeout=30_000)
    assert page.get_by_test_id("dashboard-scope").get_attribute("data-scope") == "city"

    # the cards are the report's total row (overdue_open moves with the clock: reload and compare again)
    for _ in range(4):
        shown = on_screen(page)
        total = csv_rows(cli_report(web, period))[-1]
        if shown == {f: total[f] for f in KPIS}:
            break
        page.reload()
        page.get_by_test_id("kpi-composite").wait_for(timeout=30_000)
    assert total["key"] == "total" and shown == {f: total[f] for f in KPIS}
    assert int(total["cases"]) >= 3 and total["composite"] != ""
    for field in RATES:
        card = page.get_by_test_id(f"kpi-{field}")
        value = card.get_attribute("data-value")
        assert pct(float(value) if value else None) in card.inner_text(), field  # one decimal, "—" undefined

    # rankings with names, the same figures as the report's street rows
    rows = {r["key"]: r for r in csv_rows(cli_report(web, period))[:-1]}
    street = page.get_by_test_id(f"rank-row-street-{web.geo.street}")
    assert rows[web.geo.street]["name"] in street.inner_text() and web.geo.street in street.inner_text()
    for field in ("composite", "response_rate", "resolution_rate", "satisfaction_rate", "cases"):
        value = street.locator(f'[data-field="{field}"]').get_attribute("data-value")
        expected = rows[web.geo.street][field]
        assert (raw(int(value)) if field == "cases" else raw(float(value)) if value else "") == expected, field
    assert page.get_by_test_id("rank-row-department-environment").is_visible()
    page.get_by_test_id("sort-street-cases").click()
    assert page.locator('[data-testid="ranking-street"] th[aria-sort="descending"]').count() == 1

    # the charts draw (ECharts, loaded on first use) and have their text alternatives
    trend = page.get_by_test_id("trend-chart")
    trend.locator("svg").first.wait_for(timeout=30_000)
    assert period in (trend.get_attribute("aria-label") or "")
    assert trend.get_attribute("role") == "img"
    page.get_by_test_id("trend-chart-table-toggle").click()
    assert page.get_by_test_id("trend-chart-table").locator("tbody tr").count() >= 28  # every day of the month
    page.get_by_test_id("trend-chart-table-toggle").click()
    assert page.get_by_test_id("trend-chart-table").count() == 0
    escalation = page.get_by_test_id("escalation-chart")
    escalation.locator("svg").first.wait_for(timeout=30_000)
    page.get_by_test_id("escalation-chart-table-toggle").click()
    assert int(page.get_by_test_id("rung-reminder").get_attribute("data-value") or "0") >= 1
    assert int(page.get_by_test_id("rung-supervision").get_attribute("data-value") or "0") >= 1

    # the worst-overdue cases link to their pages; finished cases are not among them
    overdue = page.get_by_test_id("overdue-list")
    for cid, status in cases.items():
        if status != "handling":
            assert overdue.get_by_test_id(f"overdue-{cid}").count() == 0
    links = overdue.locator("a[href*='/app/cases/']")
    for i in range(links.count()):
        assert links.nth(i).get_attribute("href", timeout=5_000).startswith("/app/cases/")

    # the export is the command's CSV, byte for byte
    for _ in range(4):
        with page.expect_download(timeout=30_000) as download:
            page.get_by_test_id("dashboard-export").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        exported = saved.read_bytes()
        printed = cli_report(web, period).encode("utf-8")
        if exported == printed:
            break
    assert download.value.suggested_filename == f"gridcase-report-{period}-street.csv"
    assert exported == printed

    page.mouse.move(0, 0)  # the last screen as it rests, not the export button under the pointer
    page.evaluate("() => document.activeElement instanceof HTMLElement && document.activeElement.blur()")
    shot(page, "dashboard")
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()


def test_a_district_supervisor_sees_the_district(web: ApiStack, browser: Any) -> None:
    page = open_page(browser, web, "sv-other", "/dashboard")
    page.get_by_test_id("kpi-cases").wait_for(timeout=30_000)
    assert page.get_by_test_id("dashboard-scope").get_attribute("data-scope") == "district:D-99"
    assert page.get_by_test_id("kpi-cases").get_attribute("data-value") == "0"
    assert page.get_by_test_id("kpi-composite").get_attribute("data-value") == ""
    assert "—" in page.get_by_test_id("kpi-composite").inner_text()
    assert "没有超期" in page.get_by_test_id("overdue-list").inner_text()
    # another month from the picker: January of the same year; the address keeps it
    year = this_month()[:4]
    page.locator("#dashboard-period").click()
    page.locator(".el-month-table td").first.click()
    page.wait_for_url(f"**period={year}-01**", timeout=10_000)
    page.get_by_test_id("kpi-cases").wait_for(timeout=30_000)
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=kpi-composite]') && location.search.includes('{year}-01')"
    )
    # another month from the address: the page follows it
    page.goto(f"{web.base_url}/app/dashboard?period=2019-02&by=department")
    page.get_by_test_id("kpi-cases").wait_for(timeout=30_000)
    assert page.get_by_test_id("dashboard-by").input_value() == "department"
    page.get_by_test_id("trend-chart-table-toggle").click()
    assert page.get_by_test_id("trend-chart-table").locator("tbody tr").count() == 28
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()
