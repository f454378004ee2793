"""The grid worker's journey on a phone (360 × 740) in Chromium on the real stack: grid-1 verifies a
resolved case (pass) from its case page; the page never scrolls sideways, the form fills the
screen, and the API has the case verified.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack
from tests.integration.web.conftest import PHONE, axe_violations, shot
from tests.integration.web.test_journey_street import (
    TIMEOUT,
    case_page,
    new_case,
    no_horizontal_overflow,
    open_form,
    submit,
)

pytestmark = pytest.mark.integration


def test_the_grid_worker_verifies_on_a_phone(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    case_id = new_case(web, 8)  # ... resolved by the street
    page = case_page(browser, web, "grid-1", case_id, PHONE)
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "resolved")
    expect(page.get_by_test_id("clock-verify")).to_be_visible()
    assert no_horizontal_overflow(page)

    form = open_form(page, "verify")
    box = form.bounding_box()
    assert box is not None and box["width"] >= PHONE["width"] - 48, box  # the form fills the screen
    assert no_horizontal_overflow(page)
    page.get_by_test_id("submit-verify").click()  # nothing chosen yet: the form says so, sends nothing
    expect(form.get_by_test_id("field-error-verify-passed")).to_be_visible()
    form.get_by_test_id("bool-passed-yes").click()
    form.get_by_test_id("field-verify-note").locator("textarea").fill("现场已无夜间施工")
    submit(page, "verify")
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "verified", timeout=TIMEOUT)
    expect(page.get_by_test_id("timeline")).to_contain_text("核查通过：现场已无夜间施工")
    assert no_horizontal_overflow(page)

    with web.client("op-1") as op:
        c = op.get(f"/cases/{case_id}").json()
    assert c["status"] == "verified"
    verified = next(e for e in c["timeline"] if e["type"] == "case.verified")
    assert verified["details"]["passed"] is True and verified["actor"].startswith("grid_worker:grid-1")

    shot(page, "grid-verify-phone")
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()
