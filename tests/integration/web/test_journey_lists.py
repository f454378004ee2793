"""Queues and case lists in Chromium on the real stack.

* A street office's "my queue" is open when the hotline dispatches a case to it: the case appears
  live, without a reload, and the count of dispatched cases goes up.
* A department's queue shows a case once a street's whistle summons it.
* A grid worker's queue on a 360 px phone: cards, no sideways scrolling.
* The hotline's case list filters its loaded rows by any text (a title, an id).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack, act, drive, lifecycle, open_case
from tests.integration.web.conftest import DESKTOP, PHONE, axe_violations, open_page, shot

pytestmark = pytest.mark.integration


def _live(page: Any) -> None:
    page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=30_000)


def _count(page: Any, status: str) -> int:
    loc = page.locator(f'[data-testid="state-count-{status}"]')
    return int(loc.get_attribute("data-count")) if loc.count() else 0


def _wait_count(page: Any, status: str, n: int, timeout: float = 30_000) -> None:
    """Wait until the count of ``status`` reads ``n`` (a status without cases shows no count)."""
    page.wait_for_function(
        """([status, n]) => {
            const el = document.querySelector(`[data-testid="state-count-${status}"]`);
            return (el ? Number(el.dataset.count) : 0) === n;
        }""",
        arg=[status, n],
        timeout=timeout,
    )


def _close(page: Any) -> None:
    page.context.close()


def test_a_street_sees_a_newly_dispatched_case_arrive_live(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    geo = web.geo
    page = open_page(browser, web, "street-1", "/queue", DESKTOP)
    try:
        page.wait_for_selector('[data-testid="queue-view"] [data-testid="queue-total"]', timeout=30_000)
        _live(page)
        page.evaluate("() => { window.__sameDocument = true; }")
        before = _count(page, "dispatched")
        with web.client("op-1") as op:
            cid = open_case(op, geo, title=f"楼道堆物 {uuid.uuid4().hex[:6]}")
            drive(web, cid, lifecycle(geo)[:2])  # register, dispatch to the street
        row = page.get_by_test_id(f"case-row-{cid}")
        expect(row).to_be_visible(timeout=30_000)
        expect(row).to_have_attribute("data-status", "dispatched")
        expect(row).to_contain_text("剩余")  # its accept countdown runs
        _wait_count(page, "dispatched", before + 1)
        assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"

        with web.client("street-1") as http:
            assert act(http, cid, "accept").status_code == 200
        expect(row).to_have_attribute("data-status", "handling", timeout=30_000)
        _wait_count(page, "dispatched", before)
        assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"

        with web.client("op-1") as op:  # a second one, nearer its deadline: it comes first
            second = open_case(op, geo, title=f"占道经营 {uuid.uuid4().hex[:6]}", urgency="urgent")
            drive(web, second, lifecycle(geo)[:2])
        expect(page.get_by_test_id(f"case-row-{second}")).to_be_visible(timeout=30_000)
        order = page.locator('[data-testid^="case-row-"]').evaluate_all("els => els.map(e => e.dataset.testid)")
        assert order.index(f"case-row-{second}") < order.index(f"case-row-{cid}")

        row.click()
        page.wait_for_url(f"**/app/cases/{cid}", timeout=15_000)
        page.go_back()
        expect(page.get_by_test_id(f"case-row-{cid}")).to_be_visible(timeout=15_000)
        assert axe_violations(page) == []
        shot(page, "queue-street")
        assert page.errors == []
    finally:
        _close(page)


def test_a_department_sees_a_case_once_a_whistle_summons_it(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    geo = web.geo
    with web.client("op-1") as op:
        cid = open_case(op, geo, title=f"夜间施工 {uuid.uuid4().hex[:6]}")
    drive(web, cid, lifecycle(geo)[:3])  # register, dispatch to the street, accept
    page = open_page(browser, web, "env-1", "/queue", DESKTOP)
    try:
        page.wait_for_selector('[data-testid="queue-total"]', timeout=30_000)
        _live(page)
        assert page.get_by_test_id(f"case-row-{cid}").count() == 0
        with web.client("street-1") as http:
            r = act(http, cid, "whistle", {"tasks": [{"department_id": "environment", "task": "夜间施工执法"}]})
            assert r.status_code == 200, r.text
        row = page.get_by_test_id(f"case-row-{cid}")
        expect(row).to_be_visible(timeout=30_000)
        expect(row).to_contain_text("被召集")
        expect(row).to_contain_text("报到")  # the clock due first is the report-in
        assert axe_violations(page) == []
        assert page.errors == []
    finally:
        _close(page)


def test_a_grid_worker_queue_fits_a_phone(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    geo = web.geo
    with web.client("op-1") as op:
        cid = open_case(op, geo, title=f"井盖缺失 {uuid.uuid4().hex[:6]}")
        drive(web, cid, [("op-1", "register", {}), ("op-1", "dispatch", {"unit": {"kind": "grid", "id": geo.grid}})])
    page = open_page(browser, web, "grid-1", "/queue", PHONE)
    try:
        row = page.get_by_test_id(f"case-row-{cid}")
        expect(row).to_be_visible(timeout=30_000)
        assert page.get_by_test_id("case-cards").count() == 1
        assert page.get_by_test_id("case-table").count() == 0
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways ({width} px)"
        assert axe_violations(page) == []
        shot(page, "queue-grid-phone")
        assert page.errors == []
    finally:
        _close(page)


def test_the_hotline_filters_its_case_list_by_text(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    geo = web.geo
    tag = uuid.uuid4().hex[:6]
    with web.client("op-1") as op:
        wanted = open_case(op, geo, title=f"占道经营 {tag}")
        other = open_case(op, geo, title=f"垃圾清运 {tag}")
        elsewhere = open_case(op, geo, title="占道经营", location={"grid_id": geo.other_grid})
    page = open_page(browser, web, "op-1", "/cases", DESKTOP)
    try:
        shown = page.get_by_test_id("cases-shown")
        expect(shown).not_to_have_attribute("data-loaded", "0", timeout=30_000)
        _live(page)
        box = page.get_by_test_id("cases-filter")
        box.fill(tag)
        expect(shown).to_have_attribute("data-shown", "2", timeout=15_000)
        expect(page.get_by_test_id(f"case-row-{wanted}")).to_be_visible()
        expect(page.get_by_test_id(f"case-row-{other}")).to_be_visible()

        box.fill(f"占道 {tag}")  # every word must match
        expect(shown).to_have_attribute("data-shown", "1")
        expect(page.get_by_test_id(f"case-row-{wanted}")).to_be_visible()
        assert page.get_by_test_id(f"case-row-{elsewhere}").count() == 0

        box.fill(wanted.lower())  # an id, in any case
        expect(shown).to_have_attribute("data-shown", "1")
        expect(page.get_by_test_id(f"case-row-{wanted}")).to_have_attribute("data-status", "received")
        assert page.evaluate("() => typeof window.__gridcaseFilterMs") == "number"

        # a case dispatched meanwhile changes in place (live), still filtered
        drive(web, wanted, lifecycle(geo)[:2])
        expect(page.get_by_test_id(f"case-row-{wanted}")).to_have_attribute("data-status", "dispatched", timeout=30_000)

        box.fill(tag)
        page.get_by_test_id("cases-filter-state").select_option("received")
        expect(shown).to_have_attribute("data-shown", "1", timeout=15_000)
        expect(page.get_by_test_id(f"case-row-{other}")).to_be_visible()

        box.fill("")
        page.get_by_test_id("cases-clear").click()
        expect(shown).not_to_have_attribute("data-shown", "1", timeout=15_000)
        assert axe_violations(page) == []
        box.fill(tag)
        expect(shown).to_have_attribute("data-shown", "2", timeout=15_000)
        shot(page, "cases-hotline")
        assert page.errors == []
    finally:
        _close(page)
