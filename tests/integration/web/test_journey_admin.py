"""The admin journey in Chromium on the real stack: a supervisor of the city adds a user (checked
before sending, the API's refusal shown by its field), issues a token shown once, the token logs
in, and a revoked token no longer does; the policy, the calendar and the registry are shown."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.test_api_support import ApiStack
from tests.integration.web.conftest import DESKTOP, axe_violations, open_page, shot
from tests.integration.web.test_journey_street import pick_unit

pytestmark = pytest.mark.integration

TIMEOUT = 30_000


def me_status(web: ApiStack, token: str) -> int:
    with httpx.Client(base_url=web.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        return http.get("/me").status_code


def choose_role(page: Any, role: str) -> None:
    page.get_by_test_id("add-role").click()
    option = page.locator(f'[data-testid="add-role-option-{role}"]:visible').first
    option.wait_for(timeout=TIMEOUT)
    option.click()


def test_a_city_supervisor_adds_a_user_whose_token_logs_in(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, web, "sv-city", "/admin", DESKTOP)
    expect(page.get_by_test_id("user-row-street-1")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("user-row-street-1")).to_contain_text("街道")
    expect(page.get_by_test_id("registry-grids")).not_to_have_text("")
    expect(page.get_by_test_id("policy-rule-resolve-ordinary")).to_be_visible()
    expect(page.get_by_test_id("calendar")).to_contain_text("官方节假日数据")
    with web.client("sv-city") as http:
        grids = http.get("/registry/summary").json()["grids"]
        street_name = http.get("/registry/units", params={"kind": "street", "q": web.geo.street}).json()["items"][0][
            "name"
        ]
    expect(page.get_by_test_id("registry-grids")).to_contain_text(f"{grids:,}")
    assert axe_violations(page) == []

    # checked before sending
    page.get_by_test_id("submit-add-user").click()
    expect(page.get_by_test_id("field-add-user_id")).to_contain_text("请输入用户编号")
    expect(page.get_by_test_id("field-add-role")).to_contain_text("请选择角色")
    choose_role(page, "street")
    page.get_by_test_id("add-user-id").fill("op-1")
    page.get_by_test_id("submit-add-user").click()
    expect(page.get_by_test_id("field-add-unit")).to_contain_text("此角色需要所属单位")

    # the API's refusal, by its field: the id is taken
    pick_unit(page, "add-unit", "street", web.geo.street)
    page.get_by_test_id("submit-add-user").click()
    expect(page.get_by_test_id("field-add-user_id")).to_contain_text("already exists", timeout=TIMEOUT)

    # a new street office user, with a first token shown once
    user = f"st-{uuid.uuid4().hex[:6]}"
    page.get_by_test_id("add-user-id").fill(user)
    page.get_by_test_id("add-name").fill("新华街道值班员")
    page.get_by_test_id("submit-add-user").click()
    shown = page.get_by_test_id("issued-token")
    expect(shown).to_be_visible(timeout=TIMEOUT)
    token = shown.input_value()
    assert token.startswith("gct_")
    page.get_by_test_id("token-copy").click()
    expect(page.get_by_test_id("token-copied")).to_be_visible()
    page.get_by_test_id("token-close").click()
    expect(shown).to_be_hidden()
    row = page.get_by_test_id(f"user-row-{user}")
    expect(row).to_contain_text(street_name)
    expect(row).to_contain_text("1 个有效")
    expect(row).to_have_attribute("data-enabled", "true")
    assert token not in page.inner_text("body")  # shown once, in the dialog only

    # the token logs in and lands on the street office's home page
    other = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    staff = other.new_page()
    staff.goto(f"{web.base_url}/app/login#token={token}")
    staff.wait_for_url("**/app/queue", timeout=TIMEOUT)
    expect(staff.get_by_test_id("who")).to_contain_text("新华街道值班员")
    expect(staff.get_by_test_id("who")).to_have_attribute("data-role", "street")
    other.close()

    # a second token; then the first one is revoked and stops working
    page.get_by_test_id(f"issue-{user}").click()
    expect(shown).to_be_visible(timeout=TIMEOUT)
    second = shown.input_value()
    assert second.startswith("gct_") and second != token
    page.get_by_test_id("token-close").click()
    expect(row).to_contain_text("2 个有效")
    first_id = token.split("_")[1]
    page.get_by_test_id(f"revoke-{first_id}").click()
    expect(page.get_by_test_id(f"token-{first_id}")).to_have_attribute("data-active", "false", timeout=TIMEOUT)
    expect(row).to_contain_text("1 个有效")
    assert me_status(web, token) == 401
    assert me_status(web, second) == 200

    shot(page, "admin")
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()


def test_the_hotline_sees_the_policy_and_the_registry_but_no_users(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, web, "op-1", "/admin", DESKTOP)
    expect(page.get_by_test_id("policy")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("registry-summary")).to_be_visible()
    expect(page.get_by_test_id("users-only-city")).to_be_visible()
    expect(page.get_by_test_id("users-table")).to_have_count(0)
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()
