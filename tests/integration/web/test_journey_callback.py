"""The hotline's callback journey in Chromium on the real stack: op-1 records the resident's
rating on a verified case and closes it; and a refused action (a 422 naming a field) shows its
message next to that field while the page goes on working.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack
from tests.integration.web.conftest import axe_violations, shot
from tests.integration.web.test_journey_street import TIMEOUT, case_page, new_case, open_form, submit

pytestmark = pytest.mark.integration


def test_the_hotline_calls_back_and_closes(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    case_id = new_case(web, 9)  # ... verified by the grid worker
    page = case_page(browser, web, "op-1", case_id)
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "verified")
    expect(page.get_by_test_id("case-contact")).to_contain_text("13812345678")  # the hotline sees the caller

    form = open_form(page, "callback")
    form.get_by_test_id("choice-rating-satisfied").click()
    form.get_by_test_id("field-callback-comment").locator("textarea").fill("市民表示噪音已消除")
    submit(page, "callback")
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "called_back", timeout=TIMEOUT)

    open_form(page, "close")
    submit(page, "close")
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "closed", timeout=TIMEOUT)
    expect(page.get_by_test_id("timeline")).to_contain_text("12345 热线 回访：满意，问题已解决：市民表示噪音已消除")
    expect(page.get_by_test_id("timeline")).to_contain_text("12345 热线 结案")
    expect(page.locator('[data-testid^="action-"]')).to_have_count(0)  # nothing left to do on a closed case

    with web.client("op-1") as op:
        c = op.get(f"/cases/{case_id}").json()
        acts = op.get(f"/cases/{case_id}/actions").json()["actions"]
    assert c["status"] == "closed" and c["rating"] == "satisfied" and c["closure_type"] in ("normal", "overdue")
    assert acts == []

    shot(page, "callback-close")
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()


def test_a_refused_action_shows_its_message_by_the_field_and_the_page_goes_on(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    case_id = new_case(web, 0)  # received
    page = case_page(browser, web, "op-1", case_id)
    before = sorted(page.locator('[data-testid^="action-"]').evaluate_all("els => els.map(e => e.dataset.testid)"))
    assert "action-merge" in before and "action-register" in before

    form = open_form(page, "merge")
    form.get_by_test_id("field-merge-into_case_id").locator("input").fill("CNOSUCHCASE99")
    page.get_by_test_id("submit-merge").click()
    message = form.get_by_test_id("field-error-merge-into_case_id")
    expect(message).to_contain_text("CNOSUCHCASE99", timeout=TIMEOUT)  # the API's 422, by its field
    expect(form.get_by_test_id("action-error")).to_have_count(0)
    expect(form.get_by_test_id("field-merge-into_case_id").locator("input")).to_have_value("CNOSUCHCASE99")
    page.keyboard.press("Escape")
    page.get_by_test_id("form-merge").wait_for(state="detached", timeout=TIMEOUT)

    # nothing changed: same status, same actions; and the page still acts
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "received")
    after = sorted(page.locator('[data-testid^="action-"]').evaluate_all("els => els.map(e => e.dataset.testid)"))
    assert after == before
    open_form(page, "register")
    submit(page, "register")
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "registered", timeout=TIMEOUT)
    with web.client("op-1") as op:
        c = op.get(f"/cases/{case_id}").json()
    assert c["status"] == "registered" and c["merged_into"] is None
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()
