"""The dispatcher console end to end in headless Chromium (Debian's), on the real stack.

A dispatcher logs in, sees a new case appear without reloading (live events from Kafka), dispatches
it, and watches its countdown turn to warned. Compressed time (``sla_time_scale``) makes the
one-working-hour accept clock last 30 s, so its 50 % warning comes 15 s after the dispatch. The
screenshot is kept under ``.gridcase/artifacts/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT
from tests.integration.test_api_support import ApiStack, open_case, start_api_stack
from workers.settings import Settings

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("GRIDCASE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / ".gridcase" / "artifacts"
SECONDS_PER_POLICY_HOUR = 30.0


@pytest.fixture(scope="module")
def api(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    stack = start_api_stack(
        stack_settings, Path(tmp_path_factory.mktemp("console")), time_scale=SECONDS_PER_POLICY_HOUR
    )
    yield stack
    stack.stop()


def test_dispatcher_sees_a_new_case_live_dispatches_it_and_watches_it_turn_warned(api: ApiStack) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{api.base_url}/")
            page.fill("#token", api.tokens["op-1"])
            page.click("#login-btn")
            expect(page.locator("#app")).to_be_visible()
            expect(page.locator("#who")).to_contain_text("op-1")
            expect(page.locator("#live")).to_have_class("live on", timeout=30_000)
            page.evaluate("window.__loadedOnce = true")

            # a complaint arrives through the API: the row appears without a reload
            with api.client("op-1") as op:
                cid = open_case(op, api.geo, title="工地夜间施工噪音")
            row = page.locator(f'#case-list tr[data-case-id="{cid}"]')
            expect(row).to_be_visible(timeout=30_000)
            expect(row.locator(".status")).to_have_text("received")
            assert page.evaluate("window.__loadedOnce") is True, "the page was reloaded"

            # the Chinese labels are one click away, and back
            page.click("#lang")
            expect(page.locator("h1")).to_have_text("gridcase 12345 派单台")
            expect(row.locator(".status")).to_have_text("已受理")
            page.click("#lang")

            # the case page: timeline, link to the workflow in Temporal's Web UI, and the dispatch action
            row.locator("a").click()
            expect(page.locator("#case-title")).to_contain_text(cid)
            expect(page.locator("#timeline")).to_contain_text("case.received")
            href = page.get_attribute("#temporal-link", "href")
            assert href == (
                f"http://localhost:{api.settings.temporal_ui_port}/namespaces/"
                f"{api.settings.temporal_namespace}/workflows/case-{cid}"
            )
            page.select_option("#a-dispatch select[name=kind]", "street")
            page.fill("#a-dispatch input[name=unit]", api.geo.street)
            page.click("#a-dispatch button[type=submit]")
            expect(page.locator("#action-result")).to_have_class("ok", timeout=30_000)
            expect(page.locator('#clocks tr[data-clock="accept"]')).to_be_visible()

            # back on the list: the accept clock counts down, then turns to warned
            page.click("#back")
            expect(row.locator(".status")).to_have_text("dispatched", timeout=30_000)
            expect(row).to_have_class("sla-on_time", timeout=10_000)
            first = row.locator(".countdown").inner_text()
            assert first.startswith("00:00:"), first
            expect(row).to_have_class("sla-warned", timeout=45_000)
            expect(row.locator(".sla")).to_have_text("warned")
            expect(page.locator("#scale-note")).to_have_text(f"compressed time: 1 h = {SECONDS_PER_POLICY_HOUR:g} s")
            assert row.locator(".countdown").inner_text() != first
            page.screenshot(path=str(ARTIFACTS / "console-warned.png"), full_page=True)
            assert page.evaluate("window.__loadedOnce") is True, "the page was reloaded"

            # a one-click link carries the token in the fragment, which the console drops at once
            linked = browser.new_page()
            linked.goto(f"{api.base_url}/console/#token={api.tokens['sv-city']}")
            expect(linked.locator("#who")).to_contain_text("sv-city")
            assert "token" not in linked.url
        finally:
            browser.close()
    assert not errors, errors
    assert (ARTIFACTS / "console-warned.png").stat().st_size > 10_000
