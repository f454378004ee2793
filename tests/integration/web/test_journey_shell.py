"""The workspace's frame in Chromium on the real stack: login links, sessions that end, the live feed.

* A login link (``/app/login#token=...``) of each staff role lands on that role's home page, with
  the token gone from the address; the header offers that role's pages, in 中文 or English; on a
  360 px screen the navigation folds into a menu.
* A token revoked mid-session sends the user to the login page ("session expired"), and logging in
  again returns to the same page.
* The live indicator goes offline when the stream is cut (the API restarted), with a banner, and
  comes back by itself.

The last two run against a private API process on the same stack (same database, Temporal and
Kafka), which the test stops and starts again; the shared one keeps serving the other journeys.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import free_port
from tests.integration.test_api_support import ApiStack, LoopThread
from tests.integration.web.conftest import DESKTOP, PHONE, axe_violations, open_page, shot
from workers.settings import Settings

pytestmark = pytest.mark.integration

#: Each staff user of the stack, its role, and the home page its login link lands on.
HOMES = [
    ("op-1", "dispatcher", "/intake"),
    ("sv-city", "supervisor", "/dashboard"),
    ("street-1", "street", "/queue"),
    ("community-1", "community", "/queue"),
    ("grid-1", "grid_worker", "/queue"),
    ("env-1", "department", "/queue"),
]
#: The pages in the header of each role (what the router lets that role open).
NAV = {
    "dispatcher": ["intake", "queue", "cases", "map", "dashboard", "admin"],
    "supervisor": ["queue", "cases", "map", "dashboard", "admin"],
    "street": ["intake", "queue", "cases", "map"],
    "community": ["intake", "queue", "cases", "map"],
    "grid_worker": ["intake", "queue", "cases", "map"],
    "department": ["queue", "cases", "map"],
}


def _new_page(browser: Any, viewport: dict[str, int] | None = None) -> Any:
    context = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    return page


def _nav(page: Any) -> list[str]:
    ids = page.locator("header.shell-header nav a").evaluate_all("els => els.map(e => e.dataset.testid)")
    return [i.removeprefix("nav-") for i in ids]


@pytest.mark.parametrize(("user", "role", "home"), HOMES)
def test_a_login_link_lands_on_the_roles_home_page(
    browser: Any, web: ApiStack, user: str, role: str, home: str
) -> None:
    from playwright.sync_api import expect

    page = _new_page(browser, PHONE if role == "grid_worker" else DESKTOP)
    try:
        token = web.tokens[user]
        page.goto(f"{web.base_url}/app/login#token={token}")
        page.wait_for_url(f"**/app{home}", timeout=30_000)
        assert token not in page.url and "#" not in page.url
        assert page.evaluate("() => window.location.hash") == ""
        assert page.evaluate("() => JSON.stringify(history.state ?? {})").find(token) < 0
        who = page.get_by_test_id("who")
        if role == "grid_worker":  # 360 px: the navigation is behind the menu button
            expect(who).to_be_hidden()
            page.get_by_test_id("menu-toggle").click()
        expect(who).to_be_visible()
        expect(who).to_have_attribute("data-person", user)
        expect(who).to_have_attribute("data-role", role)
        assert _nav(page) == NAV[role]
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=30_000)
        if role == "dispatcher":
            shot(page, "dispatcher-home")
        if role == "grid_worker":
            box = page.locator("header.shell-header").bounding_box()
            assert box is not None and box["width"] <= 360
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 360, "the header overflows 360 px"
            page.get_by_test_id("nav-map").click()
            page.wait_for_url("**/app/map")
            expect(page.get_by_test_id("nav-map")).to_be_hidden()  # the menu folds after choosing a page
            assert axe_violations(page) == []
        assert page.errors == []
    finally:
        page.context.close()


def test_the_login_page_in_both_languages_refuses_a_bad_token(browser: Any, web: ApiStack) -> None:
    from playwright.sync_api import expect

    page = _new_page(browser)
    try:
        page.goto(f"{web.base_url}/")  # the site's root opens the workspace
        page.wait_for_url("**/app/login**")
        expect(page.locator("h1")).to_contain_text("网格化治理工作台")
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
        assert axe_violations(page) == []
        page.get_by_test_id("login").click()
        expect(page.get_by_test_id("login-error")).to_have_text("请先粘贴访问令牌。")
        page.locator("#token").fill("gct_0000_not-a-token")
        page.get_by_test_id("login").click()
        expect(page.get_by_test_id("login-error")).to_have_text("令牌无效、已撤销或已过期。")
        assert "/login" in page.url
        page.get_by_test_id("lang").click()
        expect(page.locator("h1")).to_contain_text("Grid governance workspace")
        expect(page.get_by_test_id("login")).to_have_text("Log in")
        assert page.evaluate("() => document.documentElement.lang") == "en"
        assert axe_violations(page) == []
        page.get_by_test_id("lang").click()
        expect(page.get_by_test_id("login")).to_have_text("登录")
        shot(page, "login")
        # a refused login link says so, and leaves no token in the address either
        page.goto(f"{web.base_url}/app/login#token=gct_0000_revoked")
        expect(page.get_by_test_id("login-error")).to_have_text("令牌无效、已撤销或已过期。")
        assert "gct_0000" not in page.url
        assert page.errors == []
    finally:
        page.context.close()


def test_nothing_is_loaded_from_another_site(browser: Any, web: ApiStack) -> None:
    page = open_page(browser, web, "op-1", "/queue")
    try:
        hosts = page.evaluate(
            "() => performance.getEntriesByType('resource').map(e => new URL(e.name).host)"
            ".concat([new URL(location.href).host])"
        )
        assert set(hosts) == {web.base_url.removeprefix("http://")}, hosts
        scripts = page.evaluate(
            "() => performance.getEntriesByType('resource').filter(e => e.name.endsWith('.js'))"
            ".map(e => [e.name, e.transferSize, e.decodedBodySize])"
        )
        big = [s for s in scripts if s[2] > 20_000]
        assert big and all(s[1] < s[2] / 2 for s in big), scripts  # scripts travel compressed
        with web.client() as http:
            assert http.get("/docs").status_code == 404 and http.get("/openapi.json").status_code == 200
    finally:
        page.context.close()


# --- a private API process to stop and start --------------------------------------------------


class PrivateApi:
    """``gridcase api`` on its own port over the stack's database, Temporal and Kafka."""

    def __init__(self, base: Settings) -> None:
        self.settings = base.model_copy(update={"api_port": free_port()})
        self.base_url = f"http://127.0.0.1:{self.settings.api_port}"
        self._thread: LoopThread | None = None

    def start(self) -> None:
        import uvicorn

        from workers.api.app import create_app

        app = create_app(self.settings)

        async def serve(stop: asyncio.Event, started: threading.Event) -> None:
            config = uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.settings.api_port,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=3,
            )
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            while not server.started:
                if serving.done():
                    await serving
                    raise RuntimeError("the private API stopped while starting")
                await asyncio.sleep(0.05)
            started.set()
            await stop.wait()
            app.state.stopping.set()  # live streams end, as on SIGTERM
            server.should_exit = True
            await serving

        self._thread = LoopThread("web-shell-api", serve)
        self._thread.start(timeout=120)

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None


@pytest.fixture(scope="module")
def private_api(web: ApiStack) -> Iterator[PrivateApi]:
    api = PrivateApi(web.settings)
    api.start()
    try:
        yield api
    finally:
        api.stop()


def _fresh_token(web: ApiStack, user: str) -> tuple[str, str]:
    """A new token of ``user`` (token, token id), so that revoking it leaves the shared ones alone."""
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    engine = create_engine_for(web.settings)
    try:
        secret, info = UserStore(engine).issue_token(user, "shell journey")
    finally:
        engine.dispose()
    return secret, info.token_id


def _revoke(web: ApiStack, token_id: str) -> None:
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    engine = create_engine_for(web.settings)
    try:
        UserStore(engine).revoke_token(token_id)
    finally:
        engine.dispose()


def test_the_live_indicator_goes_offline_when_the_stream_is_cut_and_recovers(
    browser: Any, web: ApiStack, private_api: PrivateApi
) -> None:
    from playwright.sync_api import expect

    page = _new_page(browser)
    try:
        page.goto(f"{private_api.base_url}/app/login#token={web.tokens['street-1']}")
        page.wait_for_url("**/app/queue", timeout=30_000)
        indicator = page.get_by_test_id("live-status")
        expect(indicator).to_have_attribute("data-state", "live", timeout=30_000)
        expect(page.get_by_test_id("offline-banner")).to_have_count(0)
        page.evaluate("() => { window.__sameDocument = true; }")

        private_api.stop()  # the stream ends; reconnecting fails while the API is down
        expect(indicator).to_have_attribute("data-state", "offline", timeout=20_000)
        banner = page.get_by_test_id("offline-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("实时连接已断开")
        shot(page, "shell-offline")

        private_api.start()  # it comes back: so does the feed, by itself
        expect(indicator).to_have_attribute("data-state", "live", timeout=45_000)
        expect(page.get_by_test_id("offline-banner")).to_have_count(0)
        expect(page.get_by_test_id("online-banner")).to_be_visible()
        assert page.evaluate("() => window.__sameDocument") is True, "the page was reloaded"
        assert "/app/queue" in page.url
        assert page.errors == []
    finally:
        page.context.close()


def test_a_token_revoked_mid_session_goes_to_login_and_back_to_the_same_page(
    browser: Any, web: ApiStack, private_api: PrivateApi
) -> None:
    from playwright.sync_api import expect

    token, token_id = _fresh_token(web, "op-1")
    page = _new_page(browser)
    try:
        page.goto(f"{private_api.base_url}/app/login?next=/map#token={token}")
        page.wait_for_url("**/app/map", timeout=30_000)
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=30_000)
        page.evaluate("() => { window.__sameDocument = true; }")

        _revoke(web, token_id)
        private_api.stop()  # the feed reconnects with the revoked token: the API answers 401
        private_api.start()
        page.wait_for_url("**/app/login?**", timeout=60_000)
        assert page.evaluate("() => new URLSearchParams(location.search).get('next')") == "/map"
        expect(page.get_by_test_id("login-expired")).to_be_visible()
        expect(page.get_by_test_id("login-expired")).to_contain_text("登录已过期")
        expect(page.locator("header.shell-header")).to_have_count(0)
        assert page.evaluate("() => sessionStorage.getItem('gridcase.token')") is None
        assert axe_violations(page) == []

        page.locator("#token").fill(web.tokens["op-1"])
        page.get_by_test_id("login").click()
        page.wait_for_url("**/app/map", timeout=30_000)
        expect(page.get_by_test_id("who")).to_have_attribute("data-person", "op-1")
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=30_000)
        assert page.evaluate("() => window.__sameDocument") is True, "the page was reloaded"

        # the same on a reload with a refused token: back to login, then to the page
        stale, stale_id = _fresh_token(web, "op-1")
        page.evaluate("(t) => sessionStorage.setItem('gridcase.token', t)", stale)
        _revoke(web, stale_id)
        page.goto(f"{private_api.base_url}/app/cases?state=handling")
        page.wait_for_url("**/app/login?**", timeout=30_000)
        assert page.evaluate("() => new URLSearchParams(location.search).get('next')") == "/cases?state=handling"
        expect(page.get_by_test_id("login-expired")).to_be_visible()
        page.locator("#token").fill(web.tokens["op-1"])
        page.get_by_test_id("login").click()
        page.wait_for_url(lambda url: url.endswith("/app/cases?state=handling"), timeout=30_000)
        assert page.errors == []
    finally:
        page.context.close()
