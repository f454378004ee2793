"""The workspace end to end: Playwright driving Debian's Chromium against the real local stack.

One API stack (worker, projector, API on Temporal, Kafka and SQL) serves every journey of this
package; it and the browser end with the package, because sync Playwright keeps an event loop
running in the main thread while it is open, which ``asyncio.run`` in later tests would refuse.
Its users are :func:`tests.integration.test_api_support.start_api_stack`'s (``op-1`` the hotline
seat, ``street-1``, ``grid-1``, ``env-1``/``water-1`` departments, ``sv-city`` ...).
Compressed time (:data:`SECONDS_PER_POLICY_HOUR`) lets clocks warn and breach within a test.

Helpers: :func:`open_page` (a logged-in page at a viewport), :func:`shot` (a screenshot under
``.gridcase/artifacts/web/``), :func:`axe_violations` (axe-core's serious and critical findings).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ROOT
from tests.integration.test_api_support import ApiStack, start_api_stack
from workers.bench.web import CHROMIUM
from workers.bench.web import CHROMIUM_ARGS as ARGS
from workers.settings import Settings

pytestmark = pytest.mark.integration

WEB = ROOT / "workers" / "api" / "web"
DIST = WEB / "dist"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / ".gridcase" / "artifacts" / "web"
SECONDS_PER_POLICY_HOUR = 30.0

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture(scope="package")
def web(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    """The API stack serving the built workspace (``make web`` builds it)."""
    if not (DIST / "index.html").is_file():
        pytest.fail(f"the workspace is not built ({DIST}): run `make web`")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    stack = start_api_stack(stack_settings, Path(tmp_path_factory.mktemp("web")), time_scale=SECONDS_PER_POLICY_HOUR)
    yield stack
    stack.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


class PageErrors(list[str]):
    """Uncaught errors of the page's scripts (a journey fails on any)."""


def open_page(
    browser: Any, web: ApiStack, user: str | None, path: str = "/", viewport: dict[str, int] | None = None
) -> Any:
    """A new page (own context) logged in as ``user`` through the login link, then at ``/app{path}``.

    ``user=None`` opens the page without a session (the resident's progress page). The page's
    ``errors`` attribute collects uncaught script errors.
    """
    context = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN")
    page = context.new_page()
    errors = PageErrors()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    if user is not None:
        page.goto(f"{web.base_url}/app/login?next={path}#token={web.tokens[user]}")
        page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    else:
        page.goto(f"{web.base_url}/app{path}")
    return page


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot of the journey's last screen, kept for review."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000, f"{path} looks empty"
    return path


def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of the page as it is now, of the given impacts (rule id, impact, nodes)."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed ({AXE}): run `make web`")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # through DevTools, not a <script> tag: the page's Content-Security-Policy forbids inline scripts
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    found = json.loads(result)["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in impacts
    ]
