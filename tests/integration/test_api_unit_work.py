"""Work inside a unit through the HTTP API on the real stack: 分派 to a member of the user directory,
改派 to a section of the city registry, 认领, the handler alone resolving; each bad input refused with
its field and rule, and nothing written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_api_support import ApiStack, act, start_api_stack, street_case
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    stack = start_api_stack(stack_settings, Path(tmp_path_factory.mktemp("api-unit")))
    yield stack
    stack.stop()


def _seq(http: httpx.Client, cid: str) -> int:
    timeline: list[dict[str, Any]] = http.get(f"/cases/{cid}").json()["timeline"]
    return max(e["seq"] for e in timeline)


def _rules(r: httpx.Response) -> set[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return {(e["field"], e["rule"]) for e in r.json()["errors"]}


def test_members_are_listed_to_the_unit_the_hotline_and_supervisors(api: ApiStack) -> None:
    path = f"/units/street/{api.geo.street}/members"
    for user in ("street-1", "op-1", "sv-city"):
        with api.client(user) as http:
            r = http.get(path)
            assert r.status_code == 200, r.text
            assert {"street-1", "street-1b"} <= {m["person_id"] for m in r.json()["members"]}
            assert "street-2" not in {m["person_id"] for m in r.json()["members"]}
    for user in ("street-2", "grid-1", "env-1", "resident-1"):
        with api.client(user) as http:
            r = http.get(path)
            assert r.status_code == 403, (user, r.text)
    with api.client("op-1") as op:
        assert _rules(op.get("/units/street/S-NOPE/members")) == {("path.unit_id", "registry.unknown_unit")}
        assert op.get("/units/hotline/12345/members").status_code == 422
        assert op.get("/units/planet/x/members").status_code == 422


def test_assign_reassign_take_and_only_the_handler_resolves(api: ApiStack) -> None:
    cid = street_case(api)
    sections = None
    with api.client("op-1") as op:
        r = op.get("/registry/sections", params={"unit": f"street:{api.geo.street}"})
        if r.status_code == 200:
            sections = [s["id"] for s in r.json()["items"]]
    with api.client("street-1") as street:
        offered = {a["name"] for a in street.get(f"/cases/{cid}/actions").json()["actions"]}
        assert {"assign", "take"} <= offered and "reassign" not in offered
        # the body's unit is ignored: the directory's is used
        r = act(street, cid, "assign", {"handler": {"person_id": "street-1b", "unit": {"kind": "street", "id": "x"}}})
        assert r.status_code == 200, r.text
        detail = street.get(f"/cases/{cid}").json()
        assigned = [e for e in detail["timeline"] if e["type"] == "case.assigned"]
        assert len(assigned) == 1
        # the coordinator no longer resolves: the handler does
        r = act(street, cid, "contact")
        assert r.status_code == 409 and r.json()["rule"] == "jurisdiction.not_handler", r.text
        if sections:
            r = act(street, cid, "reassign", {"section_id": sections[0], "reason": "科室承办"})
            assert r.status_code == 200, r.text
            r = act(street, cid, "take")
            assert r.status_code == 200, r.text  # the coordinator takes it back from the section
            r = act(street, cid, "reassign", {"handler": {"person_id": "street-1b"}, "reason": "交回"})
            assert r.status_code == 200, r.text
    with api.client("street-1b") as handler:
        assert act(handler, cid, "contact").status_code == 200
        assert act(handler, cid, "resolve", {"notes": "已处置"}).status_code == 200


def test_bad_assignments_are_refused_with_the_field_and_rule_and_write_nothing(api: ApiStack) -> None:
    cid = street_case(api)
    with api.client("street-1") as street:
        before = _seq(street, cid)
        assert _rules(act(street, cid, "assign", {"handler": {"person_id": "nobody"}})) == {
            ("body.handler.person_id", "registry.unknown_person")
        }
        r = act(street, cid, "assign", {"handler": {"person_id": "street-2"}})  # a member of another street
        assert r.status_code == 409 and r.json()["rule"] == "assign.outside_unit", r.text
        r = act(street, cid, "assign", {"handler": {"person_id": "op-1"}})  # the hotline belongs to no unit
        assert r.status_code == 409 and r.json()["rule"] == "assign.outside_unit", r.text
        assert _rules(act(street, cid, "assign", {"section_id": "no-such-section"})) == {
            ("body.section_id", "registry.unknown_section")
        }
        assert act(street, cid, "assign", {}).status_code == 422  # neither a handler nor a section
        assert act(street, cid, "assign", {"section_id": "bad id!"}).status_code == 422
        r = act(street, cid, "reassign", {"handler": {"person_id": "street-1b"}, "reason": "x"})
        assert r.status_code == 409 and r.json()["rule"] == "reassign.unassigned", r.text
        assert _seq(street, cid) == before
    for user in ("street-2", "env-1", "grid-1"):  # not the unit handling the case
        with api.client(user) as http:
            r = act(http, cid, "take")
            assert r.status_code in (403, 409), (user, r.text)
    with api.client("op-1") as op:
        assert act(op, cid, "take").status_code == 403  # the hotline's role may not
        assert _seq(op, cid) == before
