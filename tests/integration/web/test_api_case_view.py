"""``GET /cases/{id}`` on the real stack gives what the case page needs in words: the registry's names
beside the ids (place, unit, summoned departments) and every timeline entry as a sentence; personal
data stays with the hotline. The forms of ``GET /cases/{id}/actions`` are the ones the workspace's
form tests read (``workers/api/web/tests/unit/case-actions.fixture.json``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.test_api_support import ApiStack, act, drive, lifecycle, open_case
from tests.integration.web.conftest import WEB

pytestmark = pytest.mark.integration

FIXTURE = WEB / "tests" / "unit" / "case-actions.fixture.json"


def _registry(web: ApiStack) -> Any:
    from workers.composition import build_registry

    return build_registry(web.settings)


def _case(web: ApiStack, user: str, case_id: str) -> dict[str, Any]:
    with web.client(user) as http:
        r = http.get(f"/cases/{case_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())


def test_the_case_has_names_beside_its_ids_and_its_timeline_in_words(web: ApiStack) -> None:
    reg = _registry(web)
    with web.client("op-1") as op:
        case_id = open_case(op, web.geo)
    drive(web, case_id, lifecycle(web.geo)[:6])  # ... whistle to environment, env reports in
    c = _case(web, "op-1", case_id)
    geo = web.geo
    place = c["place"]
    assert place["street_id"] == geo.street and place["street_name"] == reg.streets[geo.street].name
    assert place["community_name"] == reg.communities[geo.community].name
    assert place["grid_name"] == reg.grid(geo.grid).name
    assert place["district_name"] == reg.districts[geo.district].name
    assert c["unit"] == {"kind": "street", "id": geo.street} and c["unit_name"] == reg.streets[geo.street].name
    env = reg.departments["environment"].name
    assert c["departments"] == [{"kind": "department", "id": "environment", "name": env}]
    assert c["names"]["department:environment"] == env
    assert c["category_name"] == reg.category("noise").name_zh

    entries = c["timeline"]
    assert entries and all(e["text_zh"] and e["text_en"] for e in entries)
    assert not any("{" in e["text_zh"] or "{" in e["text_en"] for e in entries)  # words, never JSON
    street = reg.streets[geo.street].name
    texts = [e["text_zh"] for e in entries if not e["minor"]]
    assert f"12345 热线 派单至 {street}" in texts
    assert any(t.startswith(f"{street} 签收 — ") for t in texts)
    assert f"{street} 吹哨（第 1 轮），召集 {env}" in texts
    report = next(e for e in entries if e["type"] == "case.department_reported_in")
    assert report["text_zh"].startswith(f"{env} 报到 — ")
    assert report["text_en"].startswith(f"{env} reported in — ")
    assert report["tone"] in ("on_time", "late")
    assert {e["minor"] for e in entries if e["type"].startswith("sla.clock_")} == {True}


def test_personal_data_stays_with_the_hotline(web: ApiStack) -> None:
    with web.client("op-1") as op:
        case_id = open_case(op, web.geo)
    drive(web, case_id, lifecycle(web.geo)[:3])
    hotline = _case(web, "op-1", case_id)
    assert hotline["contact"]["name"] == "张三"
    street = _case(web, "street-1", case_id)
    assert street["contact"] is None
    text = json.dumps(street, ensure_ascii=False)
    assert "张三" not in text and "13812345678" not in text
    assert street["place"]["street_name"]  # names are not personal data


def test_the_form_fixture_is_what_the_api_serves(web: ApiStack) -> None:
    """Every form the API serves for a case equals the fixture's form of that action, and the fixture
    has every action of the catalogue (the workspace's form tests read it)."""
    from workflows.domain.actions import CATALOGUE, form_schema

    fixture = {a["name"]: a for a in json.loads(FIXTURE.read_text())["actions"]}
    assert set(fixture) == {a.name for a in CATALOGUE.after_intake()}
    for a in CATALOGUE.after_intake():
        assert fixture[a.name]["form"] == form_schema(a), f"{a.name}: regenerate {FIXTURE.name}"
        assert fixture[a.name]["path"] == a.path
    with web.client("op-1") as op:
        case_id = open_case(op, web.geo)
        served = op.get(f"/cases/{case_id}/actions").json()["actions"]
        assert act(op, case_id, "register").status_code == 200
        served += op.get(f"/cases/{case_id}/actions").json()["actions"]
    assert {"register", "reject", "dispatch"} <= {a["name"] for a in served}
    for a in served:
        assert a["form"] == fixture[a["name"]]["form"], a["name"]
        assert a["summary_zh"] == fixture[a["name"]]["summary_zh"]
