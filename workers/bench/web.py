"""The workspace in headless Chromium: first load, the map with every grid, the case list's filter.

``gridcase bench --only web`` (not part of the default five: it needs the built workspace,
``make web``, and Debian's Chromium). An API process serves the built front end on the local stack
(Temporal, Kafka), over a **private read-model database** into which the open cases of the list are
projected directly: synthetic case events made by the pure domain (``decide``: intake, register,
dispatch to the grid's street, some accepted), in real grids and categories of the seed city, with
deadlines spread so that some are breached. Driving thousands of cases through Temporal would
measure Temporal, not the page. Each run uses a fresh browser context (empty cache).

* **first load** — a login link of the hotline seat, through the login page to its home page:
  the JavaScript transferred (compressed, as the API sends it: ``transferSize`` of each script in
  the Resource Timing entries) and uncompressed, and the time to interactive (navigation start to
  the first idle moment of the main thread once the home page's header is drawn).
* **map** — a click on "地图" to the map drawn with every grid of the city and idle
  (``window.__gridcaseMapReady``, set by the map on its first full render).
* **case list** — the case list with every open case loaded, then text typed into its filter one
  key at a time: the time each keystroke takes to filter the rows and update the page
  (``window.__gridcaseFilterRenderMs``, measured by the page).

Targets: ≤ 600 KB of compressed JavaScript on first load, map interactive ≤ 1.5 s, filter ≤ 100 ms.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workers.bench.common import BenchResult
from workers.settings import Settings

#: open cases in the private read model, per size
SIZES: dict[str, int] = {"tiny": 300, "default": 5000, "large": 10000}
#: what is typed into the list's filter, one key at a time (a street, a category, a case number)
FILTER_QUERIES: tuple[str, ...] = ("街道", "噪音", "W0012", "违法")
CHROMIUM = os.environ.get("GRIDCASE_CHROMIUM", "/usr/bin/chromium")
#: Chromium's flags as in the end-to-end tests (no network beyond this machine; software GL for the map)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
TARGET_JS_KB = 600.0
TARGET_MAP_MS = 1500.0
TARGET_FILTER_MS = 100.0
BATCH = 500


# --- the data -----------------------------------------------------------------------------------


def synthetic_open_cases(settings: Settings, count: int, *, seed: int = 7, now: datetime | None = None) -> list[Any]:
    """Events of ``count`` open cases in the seed city's grids (pure domain; nothing runs in Temporal).

    One case in ten stays received, one in ten registered, the rest are dispatched to the grid's
    street and about 70 % of those accepted. Intakes are spread over the last three days and the
    SLA clock is ticked up to now, so the clocks are a mix of on time, warned and breached (a
    stressed city: about half of the open cases are overdue).
    """
    from events.base import Actor, Role, UnitKind, UnitRef
    from events.schemas import Channel, ResidentContact, Urgency
    from workers.bench.projection import _sla
    from workers.sim.main import load_city
    from workflows.domain import commands as c
    from workflows.domain.decide import decide
    from workflows.domain.evolve import apply_event
    from workflows.domain.explore import DISPATCHER, unit_actor
    from workflows.domain.state import CaseState

    SYSTEM = Actor(role=Role.SYSTEM, person_id="sla-clock")
    city = load_city(settings)
    rng = random.Random(seed)
    sla = _sla()
    now = now or datetime.now(UTC)
    categories = [cat for cat in city.categories if cat.route == UnitKind.STREET] or city.categories
    events: list[Any] = []
    for i in range(count):
        loc = city.draw_location(rng)
        cat = rng.choice(categories)
        state = CaseState(case_id=f"W{i:06d}", sla=sla)
        at = now - timedelta(minutes=rng.uniform(5, 3 * 24 * 60))
        street = UnitRef(kind=UnitKind.STREET, id=loc.street_id)
        steps: list[Any] = [
            c.OpenCase(
                actor=DISPATCHER,
                case_id=state.case_id,
                channel=rng.choice((Channel.HOTLINE, Channel.WEB)),
                category=cat.code,
                urgency=Urgency.ORDINARY,
                title=f"{cat.name_zh}（{loc.address or loc.grid_id}）",
                description=f"市民反映：{cat.name_zh}，请尽快处理。",
                location=loc,
                contact=ResidentContact(name="张三", phone=f"138{rng.randrange(10**8):08d}"),
                idempotency_key=f"bench-web-{i}",
            )
        ]
        kind = i % 10
        if kind >= 1:
            steps.append(c.RegisterCase(actor=DISPATCHER))
        if kind >= 2:
            steps.append(c.DispatchCase(actor=DISPATCHER, unit=street))
        if kind >= 2 and rng.random() < 0.7:
            steps.append(c.AcceptCase(actor=unit_actor(street)))
        for cmd in steps:
            at += timedelta(minutes=rng.uniform(1, 20))
            emitted = decide(state, cmd, min(at, now))
            for ev in emitted:
                apply_event(state, ev)
            events.extend(emitted)
        # the SLA clock up to now: the warnings, breaches and escalations a worker's timers would raise
        emitted = decide(state, c.Tick(actor=SYSTEM), now)
        for ev in emitted:
            apply_event(state, ev)
        events.extend(emitted)
    return events


def project(url: str, events: list[Any]) -> None:
    """Apply ``events`` to the read model at ``url`` in transactions of :data:`BATCH`, as the projector does."""
    from readmodel.db import apply_events
    from workers.composition import build_readmodel_engine
    from workers.settings import Settings

    engine = build_readmodel_engine(Settings(database_url=url))
    try:
        for start in range(0, len(events), BATCH):
            apply_events(engine, events[start : start + BATCH])
    finally:
        engine.dispose()


# --- the API ------------------------------------------------------------------------------------


@contextmanager
def serving_api(settings: Settings) -> Iterator[str]:
    """``gridcase api`` (uvicorn) on a thread of its own; yields its base URL."""
    import uvicorn

    from workers.api.app import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.api_port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:  # reported by the waiting thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="bench-web-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if failed or not thread.is_alive():
            raise RuntimeError(f"the API did not start: {failed[0] if failed else 'it stopped'}")
        if time.monotonic() > deadline:
            raise TimeoutError("the API did not start within 120 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.api_port}"
    finally:
        app.state.stopping.set()  # live streams end
        server.should_exit = True
        thread.join(30)


def _tokens(settings: Settings) -> dict[str, str]:
    from events.base import Role
    from workers.api.app import create_engine_for
    from workers.api.users import UserStore

    engine = create_engine_for(settings)
    try:
        store = UserStore(engine)
        store.create_tables()
        store.ensure_user("bench-op", "Benchmark hotline seat", Role.DISPATCHER, None)
        store.ensure_user("bench-sv", "Benchmark supervisor", Role.SUPERVISOR, "city")
        return {u: store.issue_token(u, "gridcase bench web")[0] for u in ("bench-op", "bench-sv")}
    finally:
        engine.dispose()


# --- the browser --------------------------------------------------------------------------------

_JS = """() => {
  const scripts = performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname.endsWith('.js'));
  return {
    transfer: scripts.reduce((n, e) => n + e.transferSize, 0),
    decoded: scripts.reduce((n, e) => n + e.decodedBodySize, 0),
    files: scripts.map(e => new URL(e.name).pathname.split('/').pop()),
    all_transfer: performance.getEntriesByType('resource').reduce((n, e) => n + e.transferSize, 0)
      + (performance.getEntriesByType('navigation')[0]?.transferSize ?? 0),
  };
}"""


def _settle(page: Any, quiet_ms: int = 750, timeout_s: float = 30.0) -> None:
    """Wait until no new resource has been fetched for ``quiet_ms`` (the live stream stays open, so
    the network is never idle)."""
    deadline = time.monotonic() + timeout_s
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = int(page.evaluate("() => performance.getEntriesByType('resource').length"))
        if n != seen:
            seen, since = n, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= quiet_ms:
            return
        page.wait_for_timeout(100)


_IDLE_AT = "() => new Promise(r => requestIdleCallback(() => r(performance.now()), { timeout: 5000 }))"


def first_load(browser: Any, base: str, token: str) -> dict[str, Any]:
    """A fresh context opens the hotline seat's login link and lands on its home page."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{base}/app/login#token={token}")
        page.wait_for_url("**/app/intake", timeout=60_000)
        page.get_by_test_id("who").wait_for(timeout=60_000)
        tti = float(page.evaluate(_IDLE_AT))
        _settle(page)
        found: dict[str, Any] = page.evaluate(_JS)
        found["tti_ms"] = tti
        return found
    finally:
        context.close()


def map_open(browser: Any, base: str, token: str, shot: Path | None) -> float:
    """From the click on the map's link to the map drawn with every grid and idle, in ms."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{base}/app/login#token={token}")
        page.wait_for_url("**/app/intake", timeout=60_000)
        _settle(page)
        start = float(page.evaluate("() => performance.now()"))
        page.get_by_test_id("nav-map").click()
        page.wait_for_function("() => window.__gridcaseMapReady !== undefined", timeout=120_000)
        ready = float(page.evaluate("() => window.__gridcaseMapReady"))
        if shot is not None:
            page.wait_for_timeout(500)
            page.screenshot(path=str(shot))
        return ready - start
    finally:
        context.close()


def case_list(browser: Any, base: str, token: str, cases: int, queries: tuple[str, ...]) -> dict[str, Any]:
    """The case list with every open case loaded, then each query typed one key at a time."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{base}/app/login?next=/cases#token={token}")
        page.wait_for_url("**/app/cases", timeout=60_000)
        start = time.perf_counter()
        page.wait_for_function(
            f"() => Number(document.querySelector('[data-testid=cases-shown]')?.dataset.loaded) >= {cases}",
            timeout=180_000,
        )
        loaded_ms = (time.perf_counter() - start) * 1000
        box = page.get_by_test_id("cases-filter")
        keystrokes: list[float] = []
        shown: list[int] = []
        for query in queries:
            box.fill("")
            for ch in query:
                page.evaluate("() => { window.__gridcaseFilterRenderMs = -1; }")
                box.press_sequentially(ch)
                page.wait_for_function("() => window.__gridcaseFilterRenderMs >= 0", timeout=30_000)
                keystrokes.append(float(page.evaluate("() => window.__gridcaseFilterRenderMs")))
            shown.append(int(page.get_by_test_id("cases-shown").get_attribute("data-shown") or 0))
        return {"loaded_ms": loaded_ms, "keystrokes": keystrokes, "shown": shown}
    finally:
        context.close()


# --- the benchmark ------------------------------------------------------------------------------


def bench_web(
    settings: Settings,
    *,
    size: str,
    repeat: int,
    out_dir: Path,
    log: Callable[[str], None],
) -> BenchResult:
    """Run the three measurements ``repeat`` times (fresh browser contexts) and return the figures."""
    from playwright.sync_api import sync_playwright

    from readmodel.db import migrate
    from workers.api.routes.web import WEB_DIST
    from workers.bench.harness import unique

    if not (WEB_DIST / "index.html").is_file():
        raise ValueError(f"the workspace is not built ({WEB_DIST}): run `make web` first")
    chromium = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not chromium:
        raise ValueError(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    cases = SIZES[size]
    queries = FILTER_QUERIES[:1] if size == "tiny" else FILTER_QUERIES
    result = BenchResult("web", size, repeat)
    with tempfile.TemporaryDirectory(prefix="gridcase-bench-web-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'readmodel.db'}"
        private = settings.model_copy(
            update={"database_url": url, "api_port": _free_port(), "task_queue": unique("bench-web-")}
        )
        started = time.perf_counter()
        migrate(url)
        events = synthetic_open_cases(private, cases)
        project(url, events)
        log(
            f"private read model: {cases:,} open cases ({len(events):,} synthetic events made by the domain, "
            f"projected directly, not run through Temporal) in {time.perf_counter() - started:.1f} s"
        )
        tokens = _tokens(private)
        with serving_api(private) as base:
            import httpx

            with httpx.Client(base_url=base, timeout=60) as http:
                headers = {"Authorization": f"Bearer {tokens['bench-op']}"}
                grids = _grid_count(http, headers)
            log(f"API {base}: {grids:,} grids in the registry")
            samples: dict[str, list[float]] = {k: [] for k in ("js", "js_raw", "all", "tti", "map", "loaded")}
            keystrokes: list[float] = []
            details: dict[str, Any] = {"cases": cases, "grids": grids, "events": len(events), "queries": list(queries)}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                try:
                    for run in range(repeat):
                        load = first_load(browser, base, tokens["bench-op"])
                        samples["js"].append(load["transfer"] / 1024)
                        samples["js_raw"].append(load["decoded"] / 1024)
                        samples["all"].append(load["all_transfer"] / 1024)
                        samples["tti"].append(load["tti_ms"])
                        details.setdefault("first_load_scripts", load["files"])
                        out_dir.mkdir(parents=True, exist_ok=True)
                        shot = out_dir / "web-map.png" if run == 0 else None
                        samples["map"].append(map_open(browser, base, tokens["bench-op"], shot))
                        listing = case_list(browser, base, tokens["bench-sv"], cases, queries)
                        samples["loaded"].append(listing["loaded_ms"])
                        keystrokes.extend(listing["keystrokes"])
                        details.setdefault("rows_shown_after_each_query", listing["shown"])
                        log(
                            f"run {run + 1}: JS {load['transfer'] / 1024:,.0f} KB compressed "
                            f"({load['decoded'] / 1024:,.0f} KB), interactive {load['tti_ms']:,.0f} ms; "
                            f"map {samples['map'][-1]:,.0f} ms; list of {cases:,} loaded in "
                            f"{listing['loaded_ms']:,.0f} ms, filter max {max(listing['keystrokes']):.1f} ms"
                        )
                finally:
                    browser.close()
    ks = sorted(keystrokes)
    result.add("first-load JS, compressed", "KB", samples["js"], f"<= {TARGET_JS_KB:g}", higher_is_better=False)
    result.add("first-load JS, uncompressed", "KB", samples["js_raw"], higher_is_better=False)
    result.add("first-load transfer, all", "KB", samples["all"], higher_is_better=False)
    result.add("time to interactive", "ms", samples["tti"], higher_is_better=False)
    result.add(f"map interactive ({grids:,} grids)", "ms", samples["map"], f"<= {TARGET_MAP_MS:g}", False)
    result.add(f"case list loaded ({cases:,} open)", "ms", samples["loaded"], higher_is_better=False)
    result.add("filter keystroke p50", "ms", [statistics.median(ks)], f"<= {TARGET_FILTER_MS:g}", False)
    result.add("filter keystroke max", "ms", [ks[-1]], f"<= {TARGET_FILTER_MS:g}", False)
    details["keystrokes_ms"] = keystrokes
    details["data"] = (
        "synthetic case events made by the pure domain and projected straight into a private read-model "
        "database (not run through Temporal)"
    )
    details["verdict"] = verdict(result)
    result.details.update(details)
    log(render_verdict(details["verdict"]))
    return result


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _grid_count(http: Any, headers: dict[str, str]) -> int:
    """The number of grids the map draws for the caller (``GET /map/grids``, a GeoJSON FeatureCollection)."""
    r = http.get("/map/grids", headers=headers)
    r.raise_for_status()
    return len(r.json().get("features", []))


def verdict(result: BenchResult) -> list[dict[str, Any]]:
    """Each metric with a target: its median, the target and whether the median meets it."""
    rows: list[dict[str, Any]] = []
    for m in result.metrics:
        if not m.target:
            continue
        op, _, bound = m.target.partition(" ")
        median = m.summary()["median"]
        limit = float(bound)
        met = median <= limit if op == "<=" else median >= limit
        rows.append({"metric": m.name, "unit": m.unit, "median": median, "target": m.target, "met": met})
    return rows


def render_verdict(rows: list[dict[str, Any]]) -> str:
    lines = ["figures vs targets:"]
    for r in rows:
        lines.append(
            f"  {'✓' if r['met'] else '✗'} {r['metric']}: {r['median']:,.1f} {r['unit']} (target {r['target']})"
        )
    return "\n".join(lines)
