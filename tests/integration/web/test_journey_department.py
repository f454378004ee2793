"""The department's journey in Chromium on the real stack: env-1 (生态环境分局), summoned by the
street's whistle, reports in and completes its task with a result; the timeline tells both in
words, against the report-in clock, and the API has the task completed with that result.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack
from tests.integration.web.conftest import axe_violations, shot
from tests.integration.web.test_journey_street import TIMEOUT, case_page, new_case, open_form, submit, timeline_texts

pytestmark = pytest.mark.integration


def test_the_department_reports_in_and_completes_its_task(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    from workers.composition import build_registry

    env = build_registry(web.settings).departments["environment"].name
    case_id = new_case(web, 5)  # ... the street whistled to environment
    page = case_page(browser, web, "env-1", case_id)
    expect(page.get_by_test_id("whistle-task-environment")).to_contain_text("夜间施工执法")
    expect(page.get_by_test_id("action-complete_task")).to_have_count(0)  # not before reporting in
    assert page.get_by_test_id("case-contact").count() == 0  # no personal data for a department

    form = open_form(page, "report_in")
    form.get_by_test_id("field-report_in-note").locator("textarea").fill("执法人员已到场")
    submit(page, "report_in")
    expect(page.get_by_test_id("whistle-task-environment")).to_contain_text("已报到", timeout=TIMEOUT)

    form = open_form(page, "complete_task")
    form.get_by_test_id("field-complete_task-result").locator("textarea").fill("已责令工地夜间停工")
    form.get_by_test_id("refs-evidence-input").fill("photo-0412.jpg")
    form.get_by_test_id("refs-evidence-add").click()
    submit(page, "complete_task")
    expect(page.get_by_test_id("whistle-task-environment")).to_contain_text("已完成", timeout=TIMEOUT)

    texts = timeline_texts(page)
    reported = [t for t in texts if t.startswith(f"{env} 报到：")]
    assert len(reported) == 1 and re.fullmatch(rf"{env} 报到：执法人员已到场 — (按时|超时 .+)", reported[0]), texts
    assert f"{env} 完成任务：已责令工地夜间停工" in texts
    assert not any(t.startswith("{") or "department_id" in t for t in texts)  # words, never JSON

    with web.client("op-1") as op:
        c = op.get(f"/cases/{case_id}").json()
    (task,) = c["whistles"][0]["tasks"]
    assert task["department_id"] == "environment" and task["reported_in_at"] and task["completed_at"]
    assert task["result"] == "已责令工地夜间停工"
    done = next(e for e in c["timeline"] if e["type"] == "case.department_task_completed")
    assert done["details"]["evidence"] == ["photo-0412.jpg"]

    shot(page, "department-complete")
    assert axe_violations(page) == []
    assert page.errors == []
    page.context.close()
