"""The hotline seat's journey in Chromium on the real stack: op-1 takes a call on the intake page
(caller, category searched in Chinese, place found by its address), is stopped by a bad phone
number before anything is sent, sees the similar case a repeat complaint matches, submits with a
double click (exactly one case opens), lands on the case page, then registers the case and
dispatches it with the unit picker, whose first offer is the routing catalogue's suggestion.

A second call about the same matter is merged into the existing case from the similar-case list:
the new case ends merged, never dispatched, and the existing one records it as a duplicate.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack, open_case
from tests.integration.web.conftest import axe_violations, open_page, shot
from tests.integration.web.test_journey_street import open_form, submit

pytestmark = pytest.mark.integration

TIMEOUT = 30_000


def _registry(web: ApiStack) -> Any:
    from workers.composition import build_registry

    return build_registry(web.settings)


def cases_titled(web: ApiStack, title: str) -> list[dict[str, Any]]:
    with web.client("op-1") as op:
        r = op.get("/cases", params={"category": "noise", "limit": 500})
        assert r.status_code == 200, r.text
    return [c for c in r.json()["items"] if c["title"] == title]


def wait_for(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def fill_call(page: Any, web: ApiStack, *, title: str, phone: str = "139 1234 5678") -> None:
    """Caller, category (searched in Chinese), title, description and place (found by its address)."""
    reg = _registry(web)
    page.get_by_test_id("intake-form").wait_for(timeout=TIMEOUT)
    page.locator("#intake-name").fill("王女士")
    page.locator("#intake-phone").fill(phone)
    page.get_by_test_id("category-picker").click()
    page.keyboard.type("噪音")
    option = page.locator('[data-testid="category-option-noise"]:visible')
    option.wait_for(timeout=TIMEOUT)
    option.click()
    page.locator("#intake-title").fill(title)
    page.locator("#intake-description").fill("小区旁工地每晚十点后仍在施工，影响休息")
    address = reg.random_address(web.geo.grid, random.Random(title))
    page.locator("#intake-place").fill(address)
    place = page.locator(f'[data-testid="place-option-{web.geo.grid}"]:visible').first
    place.wait_for(timeout=TIMEOUT)
    place.click()
    from playwright.sync_api import expect

    expect(page.get_by_test_id("place-chosen")).to_have_attribute("data-grid", web.geo.grid)


def test_the_hotline_takes_a_call_and_dispatches_it_with_the_picker(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    reg = _registry(web)
    geo = web.geo
    tag = uuid.uuid4().hex[:6]
    title = f"工地夜间施工噪音扰民 {tag}"
    with web.client("op-1") as op:  # the first call about it, taken earlier
        earlier = open_case(op, geo, title=f"工地夜间施工噪音 {tag}", description="工地夜间施工")

    page = open_page(browser, web, "op-1", "/intake")
    expect(page.get_by_role("heading", level=1)).to_have_text("来电受理")
    fill_call(page, web, title=title, phone="12345")

    # a bad phone number is caught before anything is sent, next to its field
    page.get_by_test_id("intake-submit").click()
    expect(page.get_by_test_id("field-intake-phone")).to_contain_text("不是有效的手机号")
    assert cases_titled(web, title) == []
    page.locator("#intake-phone").fill("139 1234 5678")
    expect(page.get_by_test_id("field-intake-phone")).not_to_contain_text("不是有效的手机号")
    expect(page.get_by_test_id("intake-error")).to_have_count(0)
    expect(page.locator('[data-testid="urgency-ordinary"] input')).to_be_checked()  # the category's default

    # the earlier call shows as a similar case in the same grid
    similar = page.get_by_test_id(f"similar-case-{earlier}")
    expect(similar).to_be_visible(timeout=TIMEOUT)
    expect(similar).to_have_attribute("data-match", "grid")
    expect(page.get_by_test_id("similar-explain")).to_contain_text("不再派单")
    expect(page.get_by_test_id(f"attach-{earlier}")).to_be_visible()
    shot(page, "intake")
    assert axe_violations(page) == []

    # a double click opens one case, and the page goes to it
    page.get_by_test_id("intake-submit").dblclick()
    page.wait_for_url(lambda url: "/app/cases/" in url, timeout=TIMEOUT)
    case_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.get_by_test_id("case-status").wait_for(timeout=TIMEOUT)
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "received")
    found = wait_for(lambda: cases_titled(web, title))
    time.sleep(2)  # a second case, had one been opened, would be projected by now
    found = cases_titled(web, title)
    assert [c["case_id"] for c in found] == [case_id]
    with web.client("op-1") as op:
        c = op.get(f"/cases/{case_id}").json()
    assert (c["contact"]["name"], c["contact"]["phone"]) == ("王女士", "139 1234 5678")
    assert c["channel"] == "hotline" and c["category"] == "noise" and c["urgency"] == "ordinary"
    assert c["location"]["grid_id"] == geo.grid

    # register, then dispatch with the picker: the routing catalogue's street is offered first
    open_form(page, "register")
    submit(page, "register")
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "registered", timeout=TIMEOUT)
    open_form(page, "dispatch")
    page.get_by_test_id("unit-unit").click()
    first = page.locator('[data-testid^="unit-unit-option-"]:visible').first
    first.wait_for(timeout=TIMEOUT)
    assert first.get_attribute("data-testid") == f"unit-unit-option-street-{geo.street}"
    expect(first).to_contain_text(reg.streets[geo.street].name)
    first.click()
    submit(page, "dispatch")
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "dispatched", timeout=TIMEOUT)
    with web.client("op-1") as op:
        c = op.get(f"/cases/{case_id}").json()
    assert c["status"] == "dispatched"
    assert c["unit"] == {"kind": "street", "id": geo.street}
    shot(page, "intake-dispatched")
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()


def test_a_repeat_call_is_merged_into_the_case_it_repeats(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    geo = web.geo
    tag = uuid.uuid4().hex[:6]
    with web.client("op-1") as op:
        earlier = open_case(op, geo, title=f"工地夜间施工噪音 {tag}", description="工地夜间施工")
    page = open_page(browser, web, "op-1", "/intake")
    title = f"又是工地夜间施工噪音 {tag}"
    fill_call(page, web, title=title)
    page.get_by_test_id(f"attach-{earlier}").click(timeout=TIMEOUT)
    expect(page.get_by_test_id("similar-chosen")).to_contain_text(earlier)
    expect(page.get_by_test_id("intake-submit")).to_contain_text(earlier)
    page.get_by_test_id("intake-submit").click()
    page.wait_for_url(lambda url: url.rstrip("/").endswith(f"/cases/{earlier}"), timeout=TIMEOUT)
    page.get_by_test_id("case-status").wait_for(timeout=TIMEOUT)

    found = wait_for(lambda: [c for c in cases_titled(web, title) if c["status"] == "merged"])
    assert len(found) == 1 and found[0]["merged_into"] == earlier and found[0]["dispatch_count"] == 0
    duplicate = found[0]["case_id"]
    with web.client("op-1") as op:
        kept = wait_for(lambda: (k := op.get(f"/cases/{earlier}").json()).get("duplicates") and k)
    assert kept["duplicates"] == [duplicate]
    assert kept["status"] == "received"
    assert page.errors == []
    page.context.close()
