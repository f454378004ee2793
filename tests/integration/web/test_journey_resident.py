"""The resident's journey in Chromium on a 360 px phone, without a login: look a case up by its
number and the last four digits of the phone, see its progress in plain words and the date to
expect; be refused another's case (the same neutral message as for a case that does not exist);
rate the outcome online when the callback is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.test_api_support import ApiStack, drive, lifecycle, open_case
from tests.integration.web.conftest import PHONE, axe_violations, open_page, shot

pytestmark = pytest.mark.integration

TIMEOUT = 30_000
#: What the resident must not read: the caller's name and phone, the staff, the notes and results.
INTERNAL = ("张三", "13812345678", "13900001111", "op-1", "street-1", "env-1", "grid-1", "夜间施工执法", "已责令停工")


def new_case(web: ApiStack, steps: int, **overrides: Any) -> str:
    with web.client("op-1") as op:
        cid = open_case(op, web.geo, **overrides)
    drive(web, cid, lifecycle(web.geo)[:steps])
    return cid


def look_up(page: Any, case_id: str, last4: str) -> None:
    page.get_by_test_id("track-case-id").fill(case_id)
    page.get_by_test_id("track-last4").fill(last4)
    page.get_by_test_id("track-submit").click()


def no_horizontal_overflow(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_resident_follows_their_case_is_refused_anothers_and_rates_online(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    mine = new_case(web, 7)  # handling: accepted, contacted, a department summoned and done
    theirs = new_case(web, 4, contact={"name": "李四", "phone": "13900001111"})
    due = new_case(web, 9)  # verified: the callback is due

    page = open_page(browser, web, None, "/track", PHONE)
    expect(page.get_by_role("heading", level=1)).to_have_text("办件进度查询")
    expect(page.get_by_test_id("who")).to_have_count(0)  # no session, no staff header
    assert axe_violations(page) == []

    # the form checks what is typed before asking
    page.get_by_test_id("track-submit").click()
    expect(page.get_by_test_id("field-track-case_id")).to_contain_text("请输入案件编号")
    expect(page.get_by_test_id("field-track-phone_last4")).to_contain_text("请输入手机号后四位")

    # their own case: progress in plain words and the date to expect
    look_up(page, mine.lower(), "5678")
    result = page.get_by_test_id("track-result")
    expect(result).to_have_attribute("data-status", "handling", timeout=TIMEOUT)
    expect(page.get_by_test_id("case-status")).to_have_text("正在办理")
    expect(page.get_by_test_id("track-case")).to_have_text(mine)
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("已受理您的诉求")
    expect(timeline).to_contain_text("已转交")
    expect(timeline).to_contain_text("已召集")
    with web.client("op-1") as op:
        case = op.get(f"/cases/{mine}").json()
    resolve = next(c for c in case["clocks"] if c["kind"] == "resolve" and c["stopped_at"] is None)
    day = datetime.fromisoformat(resolve["due_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
    expected = page.get_by_test_id("track-expected")
    expect(expected).to_have_attribute("data-date", day.isoformat())
    expect(expected).to_have_text(f"{day.year}年{day.month}月{day.day}日")
    expect(page.get_by_text("预计办结日期")).to_be_visible()
    text = page.inner_text("body")
    assert not [s for s in INTERNAL if s in text], text
    assert web.geo.street not in text and "environment" not in text
    expect(page.get_by_test_id("rating")).to_have_count(0)
    assert no_horizontal_overflow(page)
    assert axe_violations(page) == []

    # another's case, and a case that does not exist: one neutral message, nothing shown
    page.get_by_test_id("track-again").click()
    look_up(page, theirs, "5678")
    refused = page.get_by_test_id("track-error")
    expect(refused).to_contain_text("没有找到与该编号和手机号后四位相符的案件", timeout=TIMEOUT)
    message = refused.inner_text()
    expect(page.get_by_test_id("track-result")).to_have_count(0)
    look_up(page, "CFFFFFFFFFFFF", "5678")
    expect(page.get_by_test_id("track-submit")).to_be_enabled(timeout=TIMEOUT)
    expect(refused).to_have_text(message)
    assert "李四" not in page.inner_text("body")

    # the callback is due: the resident rates online, and the case moves on
    look_up(page, due, "5678")
    expect(page.get_by_test_id("case-status")).to_have_text("已办结，等待回访", timeout=TIMEOUT)
    rating = page.get_by_test_id("rating")
    expect(rating).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_test_id("submit-rate").click()
    expect(page.get_by_test_id("rate-error")).to_contain_text("请选择满意度")
    page.get_by_test_id("rate-satisfied").click()
    page.get_by_test_id("rate-comment").fill("处理及时，谢谢")
    page.get_by_test_id("submit-rate").click()
    expect(page.get_by_test_id("rate-thanks")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("case-status")).to_have_text("已回访，等待结案")
    expect(page.get_by_test_id("rating")).to_have_count(0)
    expect(page.get_by_test_id("rate-given")).to_contain_text("满意")
    expect(page.get_by_test_id("timeline").locator("li").first).to_contain_text("已回访：满意")
    with web.client("op-1") as op:
        c = op.get(f"/cases/{due}").json()
    assert c["status"] == "called_back" and c["rating"] == "satisfied"
    rated = [e for e in c["timeline"] if e["type"] == "case.callback_recorded"]
    assert [e["actor"] for e in rated] == [f"resident:public:{due}"]
    assert no_horizontal_overflow(page)

    shot(page, "resident-progress")
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()
