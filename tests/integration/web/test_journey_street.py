"""The street office's journey in Chromium on the real stack: street-1 opens a case dispatched to
it, accepts it, and blows the whistle to two departments (environment and water) with the task
builder; the case page then shows both summons and the API has both tasks.

The helpers here (open a case page, take an action through its form, pick a unit) serve the other
unit-side journeys too (department, grid, callback).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack, drive, lifecycle, open_case
from tests.integration.web.conftest import DESKTOP, axe_violations, open_page, shot

pytestmark = pytest.mark.integration

TIMEOUT = 30_000


def new_case(web: ApiStack, steps: int) -> str:
    """A hotline case taken through the first ``steps`` steps of :func:`lifecycle`."""
    with web.client("op-1") as op:
        case_id = open_case(op, web.geo)
    drive(web, case_id, lifecycle(web.geo)[:steps])
    return case_id


def case_page(browser: Any, web: ApiStack, user: str, case_id: str, viewport: dict[str, int] | None = None) -> Any:
    """The case page of ``case_id`` as ``user`` (logged in through the login link, then the page
    opened by its address), once the case and its actions are shown."""
    page = open_page(browser, web, user, "/", viewport or DESKTOP)
    page.goto(f"{web.base_url}/app/cases/{case_id}")
    page.get_by_test_id("case-status").wait_for(timeout=TIMEOUT)
    page.get_by_test_id("timeline").wait_for(timeout=TIMEOUT)
    return page


def open_form(page: Any, action: str) -> Any:
    page.get_by_test_id(f"action-{action}").click()
    form = page.get_by_test_id(f"form-{action}")
    form.wait_for(timeout=TIMEOUT)
    return form


def submit(page: Any, action: str, *, gone: bool = True) -> None:
    """Send the open form; with ``gone``, wait until the dialog closed and the page offers no such
    action any more (the case and its actions were refreshed)."""
    page.get_by_test_id(f"submit-{action}").click()
    if gone:
        page.get_by_test_id(f"form-{action}").wait_for(state="detached", timeout=TIMEOUT)
        page.get_by_test_id(f"action-{action}").wait_for(state="detached", timeout=TIMEOUT)


def pick_unit(page: Any, testid: str, kind: str, unit_id: str, query: str | None = None) -> None:
    """Pick ``kind:unit_id`` in the unit picker ``testid`` (typing ``query`` to search)."""
    page.get_by_test_id(testid).click()
    page.keyboard.type(query if query is not None else unit_id)
    option = page.locator(f'[data-testid="{testid}-option-{kind}-{unit_id}"]:visible').first
    option.wait_for(timeout=TIMEOUT)
    option.click()


def no_horizontal_overflow(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def timeline_texts(page: Any) -> list[str]:
    return [t.strip() for t in page.get_by_test_id("timeline").locator("li .what").all_inner_texts()]


def test_the_street_accepts_and_whistles_two_departments(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    case_id = new_case(web, 2)  # registered, dispatched to the street
    page = case_page(browser, web, "street-1", case_id)
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "dispatched")
    expect(page.get_by_test_id("clock-accept")).to_be_visible()

    open_form(page, "accept")
    submit(page, "accept")
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "handling", timeout=TIMEOUT)

    form = open_form(page, "whistle")
    pick_unit(page, "task-dept-0", "department", "environment")
    form.get_by_test_id("task-text-0").fill("夜间施工执法")
    form.get_by_test_id("task-add").click()
    pick_unit(page, "task-dept-1", "department", "water")
    form.get_by_test_id("task-text-1").fill("排查工地违规用水")
    page.get_by_test_id("submit-whistle").click()
    page.get_by_test_id("form-whistle").wait_for(state="detached", timeout=TIMEOUT)

    env, water = page.get_by_test_id("whistle-task-environment"), page.get_by_test_id("whistle-task-water")
    expect(env).to_contain_text("夜间施工执法", timeout=TIMEOUT)
    expect(water).to_contain_text("排查工地违规用水")
    expect(page.get_by_test_id("timeline")).to_contain_text("吹哨（第 1 轮），召集")
    expect(page.get_by_test_id("clock-report_in").first).to_be_visible()
    assert page.get_by_test_id("clock-report_in").count() == 2

    # another unit acts meanwhile: the live feed brings it to this page without a reload
    with web.client("water-1") as water_client:
        assert water_client.post(f"/cases/{case_id}/report-in", json={}).status_code == 200
    expect(water).to_contain_text("已报到", timeout=TIMEOUT)

    with web.client("op-1") as op:
        c = op.get(f"/cases/{case_id}").json()
    assert [sorted(t["department_id"] for t in w["tasks"]) for w in c["whistles"]] == [["environment", "water"]]
    tasks = {t["department_id"]: t["task"] for t in c["whistles"][0]["tasks"]}
    assert tasks == {"environment": "夜间施工执法", "water": "排查工地违规用水"}
    assert {"department:environment", "department:water"} <= set(c["units_involved"])

    shot(page, "street-whistle")
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()
