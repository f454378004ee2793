"""The map in Chromium: a grid turns breached live, a click on it lists its cases; a street sees its own.

A case is opened in a grid no other journey uses, the supervisor's map shows the grid as open, the
case is dispatched, and its accept clock (one policy hour = 30 s on compressed time) breaches: the
live feed makes the map fetch the counts again and the grid turns breached without a reload. The
rendered state is read from the map itself (MapLibre's feature-state, through the
``window.__gridcaseMap`` handle) and from the ``data-breached`` attribute of the map's container.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack, act, open_case
from tests.integration.web.conftest import axe_violations, open_page, shot

pytestmark = pytest.mark.integration

READY = "[data-testid=grid-map][data-ready=true]"
LEVEL = "id => (window.__gridcaseMap.getFeatureState({source: 'grids', id}).level ?? 0)"


@pytest.fixture(scope="module")
def registry(web: ApiStack) -> Any:
    from workers.composition import build_registry

    return build_registry(web.settings)


def quiet_grid(web: ApiStack, registry: Any) -> str:
    """A grid of the test street that the other journeys do not open cases in."""
    grids = [g.id for g in registry.grids(street_id=web.geo.street) if g.id != web.geo.grid]
    return grids[-1]


def level(page: Any, grid: str) -> int:
    return int(page.evaluate(f"({LEVEL})", grid))


def centre_on(page: Any, lat: float, lon: float) -> dict[str, float]:
    """Centre the map on a point at street zoom; the point's position on the canvas once drawn."""
    page.evaluate(
        """([lon, lat]) => new Promise(done => {
            const m = window.__gridcaseMap; m.jumpTo({center: [lon, lat], zoom: 15}); m.once('idle', done);
        })""",
        [lon, lat],
    )
    return page.evaluate(
        "([lon, lat]) => { const p = window.__gridcaseMap.project([lon, lat]); return {x: p.x, y: p.y}; }", [lon, lat]
    )


def test_a_supervisor_watches_a_grid_turn_breached_and_lists_its_cases(
    web: ApiStack, browser: Any, registry: Any
) -> None:
    grid = quiet_grid(web, registry)
    lat, lon = registry.random_point(grid, random.Random(5))
    with web.client("op-1") as http:
        case_id = open_case(http, web.geo, location={"lat": lat, "lon": lon}, title="地图 超时演示")

    page = open_page(browser, web, "sv-city", "/map")
    page.wait_for_selector(READY, timeout=120_000)
    box = page.locator("[data-testid=grid-map]")
    assert box.get_attribute("data-grids") == "3779"
    ready_at = page.evaluate("window.__gridcaseMapReady")
    assert isinstance(ready_at, (int, float)) and ready_at > 0
    # the grid is drawn as open (level 1: the case is received, no clock has breached)
    page.wait_for_function(f"id => ({LEVEL})(id) >= 1", arg=grid, timeout=30_000)
    assert grid not in (box.get_attribute("data-breached") or "").split()

    with web.client("op-1") as http:
        for action, body in (("register", {}), ("dispatch", {"unit": {"kind": "street", "id": web.geo.street}})):
            r = act(http, case_id, action, body)
            assert r.status_code == 200, f"{action}: {r.text}"

    # nobody accepts: the accept clock breaches 30 s later and the grid turns breached, live
    page.wait_for_function(
        "id => (document.querySelector('[data-testid=grid-map]').dataset.breached || '').split(' ').includes(id)",
        arg=grid,
        timeout=90_000,
    )
    assert level(page, grid) == 3
    assert page.locator("[data-testid=legend-breached]").inner_text().strip() != "0"
    fill = page.evaluate(
        "id => window.__gridcaseMap.queryRenderedFeatures({layers: ['grid-fill']})"
        ".filter(f => f.properties.grid_id === id).map(f => f.state.level)",
        grid,
    )
    assert fill and set(fill) == {3}, fill

    # a click on the grid lists its cases beside the map, the breached one marked, linking to its page
    at = centre_on(page, lat, lon)
    page.locator("[data-testid=grid-map] canvas").click(position=at)
    panel = page.locator("[data-testid=grid-panel]")
    row = panel.locator(f"[data-testid=case-row-{case_id}]")
    row.wait_for(timeout=15_000)
    assert panel.locator("[data-testid=grid-panel-name]").inner_text() == registry.grid(grid).name
    assert row.get_attribute("data-sla") == "breached"
    assert row.get_attribute("data-status") == "dispatched"
    assert row.locator("a").get_attribute("href") == f"/app/cases/{case_id}"
    assert level(page, grid) == 3

    shot(page, "map-breached")
    assert axe_violations(page) == []
    assert page.errors == []

    row.locator("a").click()
    page.wait_for_url(f"**/app/cases/{case_id}", timeout=15_000)
    page.context.close()


def test_a_street_sees_its_own_grids_and_the_case_points(web: ApiStack, browser: Any, registry: Any) -> None:
    own = [g.id for g in registry.grids(street_id=web.geo.street)]
    lat, lon = registry.random_point(web.geo.grid, random.Random(9))
    with web.client("op-1") as http:
        case_id = open_case(http, web.geo, location={"lat": lat, "lon": lon}, title="地图 点位")
    page = open_page(browser, web, "street-1", "/map")
    page.wait_for_selector(READY, timeout=120_000)
    assert page.locator("[data-testid=grid-map]").get_attribute("data-grids") == str(len(own))
    assert page.evaluate("() => window.__gridcaseMap.querySourceFeatures('grids').length") > 0
    page.wait_for_function(f"id => ({LEVEL})(id) >= 1", arg=web.geo.grid, timeout=30_000)

    page.locator("[data-testid=toggle-points]").click()
    centre_on(page, lat, lon)
    page.wait_for_function(
        """id => window.__gridcaseMap.queryRenderedFeatures({layers: ['case-points']})
            .some(f => f.properties.case_id === id)""",
        arg=case_id,
        timeout=30_000,
    )
    page.evaluate("() => document.documentElement.lang")  # the page is still alive
    assert axe_violations(page) == []
    assert page.errors == []
    shot(page, "map-street")
    page.context.close()
