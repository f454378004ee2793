"""The API in process (FastAPI's test client), its cases in memory: a fake case client runs the
domain's ``decide`` the way the workflow does, so no Temporal, Kafka or read model is needed.

Covers the routers' wiring from the action catalogue, and the hardening: finished cases, unit
references checked against the registry, idempotency keys bound to their payload, strict
``due_before``, ``Allow`` on 405 and OPTIONS, whistle tasks without unknown fields, readiness.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from events.base import CaseEventBase, Role
from events.schemas import CaseReclassified, CaseRelocated
from tests.unit import domain_helpers as h
from workers.api.app import create_app
from workers.api.users import UserStore
from workers.case_client import ActionRefused, CaseClient, case_id_for_key
from workers.settings import Settings
from workflows.case_models import ActionResult
from workflows.domain import CaseState, decide, evolve_all
from workflows.domain import commands as c
from workflows.domain.actions import CATALOGUE, Action, Catalogue, FormField, Widget
from workflows.domain.errors import DomainError
from workflows.domain.registry import sample_city
from workflows.domain.state import TERMINAL, CaseStatus


class FakeServiceClient:
    def __init__(self) -> None:
        self.up = True

    async def check_health(self, **_: Any) -> bool:
        if not self.up:
            raise RuntimeError("connection refused")
        return True


class FakeTemporal:
    def __init__(self) -> None:
        self.service_client = FakeServiceClient()


class FakeCases:
    """Cases held in memory, each command decided by the domain (like the workflow's validator)."""

    def __init__(self) -> None:
        self.client = FakeTemporal()
        self.states: dict[str, CaseState] = {}
        self.timelines: dict[str, list[CaseEventBase]] = {}
        self.sent: list[c.Command] = []
        self.now = h.at("2026-03-02 09:00")

    def _apply(self, case_id: str, command: Any) -> ActionResult:
        state = self.states.get(case_id) or CaseState(case_id=case_id, sla=h.sla())
        if state.status in TERMINAL:
            raise ActionRefused("case.finished", f"case {case_id} is {state.status.value}")
        try:
            events = decide(state, command, self.now)
        except DomainError as err:
            raise ActionRefused(err.rule, err.message) from None
        self.sent.append(command)
        self.states[case_id] = evolve_all(state, events)
        self.timelines.setdefault(case_id, []).extend(events)
        s = self.states[case_id]
        return ActionResult(case_id=case_id, status=s.status, seq=s.seq, events=[e.event_id for e in events])

    async def open(self, command: c.OpenCase) -> ActionResult:
        if command.case_id in self.states:
            s = self.states[command.case_id]
            return ActionResult(case_id=s.case_id, status=s.status, seq=s.seq, events=[])
        return self._apply(command.case_id, command)

    async def act(self, case_id: str, command: Any, request_id: str | None = None) -> ActionResult:
        return self._apply(case_id, command)

    async def state(self, case_id: str) -> CaseState:
        from temporalio.service import RPCError, RPCStatusCode

        if case_id not in self.states:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return self.states[case_id]

    async def timeline(self, case_id: str) -> list[CaseEventBase]:
        return self.timelines.get(case_id, [])

    # the real client's look-up and check, on this client's states
    find = CaseClient.find
    reference_problems = CaseClient.reference_problems

    async def view(self, case_id: str, actor: Any) -> CaseState:
        return self.states[case_id]

    async def view_timeline(self, case_id: str, actor: Any) -> list[CaseEventBase]:
        return self.timelines.get(case_id, [])


PEOPLE: dict[str, tuple[Role, str | None]] = {
    "op-1": (Role.DISPATCHER, None),
    "street-1": (Role.STREET, "S-1"),
    "resident-1": (Role.RESIDENT, None),
    "env-1": (Role.DEPARTMENT, "environment"),
}


class Api:
    def __init__(self, http: TestClient, cases: FakeCases, tokens: dict[str, str]) -> None:
        self.http, self.cases, self.tokens = http, cases, tokens

    def as_(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def post(self, user: str, url: str, body: Any = None, **headers: str) -> Any:
        return self.http.post(url, json=body if body is not None else {}, headers={**self.as_(user), **headers})

    def get(self, user: str, url: str, **params: str) -> Any:
        return self.http.get(url, params=params, headers=self.as_(user))

    def open(self, key: str | None = None, **overrides: Any) -> str:
        r = self.post("op-1", "/cases", intake(**overrides), **{"Idempotency-Key": key or uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        return str(r.json()["case_id"])

    def act(self, case_id: str, action: str, body: Any = None, user: str = "op-1") -> Any:
        return self.post(user, f"/cases/{case_id}/{action}", body)


def intake(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "noise",
        "title": "噪音扰民",
        "description": "工地夜间施工",
        "location": {"grid_id": "G-101"},
        "contact": {"name": "张三", "phone": "13812345678"},
    }
    body.update(overrides)
    return body


def make_api(tmp_path: Path, catalogue: Catalogue = CATALOGUE) -> Iterator[Api]:
    engine = create_engine(f"sqlite:///{tmp_path / 'api.db'}")
    store = UserStore(engine)
    store.create_tables()
    tokens = {}
    for person, (role, unit) in PEOPLE.items():
        store.add_user(person, person, role, unit)
        tokens[person], _ = store.issue_token(person)
    cases = FakeCases()
    app = create_app(
        Settings(),
        cases=cases,
        engine=engine,
        registry=sample_city(),
        live=False,  # type: ignore[arg-type]
        catalogue=catalogue,
    )
    with TestClient(app) as http:
        yield Api(http, cases, tokens)
    engine.dispose()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(tmp_path)


def _rules(r: Any, status: int = 422) -> set[tuple[str, str]]:
    assert r.status_code == status, r.text
    return {(e["field"], e["rule"]) for e in r.json()["errors"]}


# --- the catalogue drives the routes -------------------------------------------------------------


def test_a_catalogue_extended_with_an_action_gets_its_route_summary_and_role_check(tmp_path: Path) -> None:
    from typing import Literal

    from pydantic import create_model

    from events.base import UnitRef

    poke_cls = create_model(
        "PokeCase",
        __base__=c.Command,
        __doc__="A toy action.",
        type=(Literal["poke"], "poke"),
        unit=(UnitRef | None, None),
    )
    toy = Action(
        "poke", poke_cls, (Role.STREET,), "戳一下", "poke the case", (FormField("unit", "单位", "Unit", Widget.UNIT),)
    )
    for api in make_api(tmp_path, CATALOGUE.extended(toy)):
        spec = api.http.get("/openapi.json").json()
        op = spec["paths"]["/cases/{case_id}/poke"]["post"]
        assert op["summary"] == "poke (戳一下)"
        assert op["description"].startswith("戳一下: poke the case.") and "street" in op["description"]
        cid = api.open()
        assert api.act(cid, "poke").json()["rule"] == "role.not_allowed"  # the dispatcher may not
        # a unit field of a new action is checked against the registry too
        unknown = api.act(cid, "poke", {"unit": {"kind": "department", "id": "nowhere"}}, user="street-1")
        assert _rules(unknown) == {("body.unit", "registry.unknown_unit")}


def test_summaries_and_roles_come_from_the_catalogue(api: Api) -> None:
    spec = api.http.get("/openapi.json").json()
    for action in CATALOGUE.after_intake():
        op = spec["paths"][f"/cases/{{case_id}}/{action.path}"]["post"]
        assert op["summary"] == f"{action.path} ({action.summary_zh})"
        assert op["description"].startswith(action.summary)
    assert "/cases/{case_id}/tick" not in spec["paths"] and "/cases/{case_id}/open" not in spec["paths"]


# --- finished cases --------------------------------------------------------------------------------


def _closed(api: Api) -> str:
    cid = api.open()
    assert api.act(cid, "reject", {"reason": "not a complaint"}).status_code == 200
    return cid


def test_an_action_on_a_finished_case_is_a_409_naming_its_status(api: Api) -> None:
    cid = _closed(api)
    assert api.cases.states[cid].status == CaseStatus.REJECTED
    sent = len(api.cases.sent)
    for action, body in (
        ("register", {}),
        ("close", {}),
        ("supervise", {"note": "x"}),
        ("dispatch", {"unit": {"kind": "street", "id": "S-1"}}),
    ):
        r = api.act(cid, action, body)
        assert r.status_code == 409, (action, r.text)
        assert r.json()["rule"] == "case.finished" and "rejected" in r.json()["message"]
    assert len(api.cases.sent) == sent, "nothing is sent to a finished case"
    listed = api.get("op-1", f"/cases/{cid}/actions")
    assert listed.status_code == 200 and listed.json()["actions"] == []


# --- unit references -----------------------------------------------------------------------------


def test_units_the_registry_does_not_know_are_refused_with_the_field(api: Api) -> None:
    cid = api.open()
    assert api.act(cid, "register").status_code == 200
    r = api.act(cid, "dispatch", {"unit": {"kind": "department", "id": "no-such-dept"}})
    assert _rules(r) == {("body.unit", "registry.unknown_unit")}
    r = api.act(cid, "dispatch", {"unit": {"kind": "street", "id": "S-404"}})
    assert _rules(r) == {("body.unit", "registry.unknown_unit")}
    tasks = [{"department_id": "environment", "task": "执法"}, {"department_id": "ghosts", "task": "x"}]
    assert _rules(api.act(cid, "whistle", {"tasks": tasks})) == {
        ("body.tasks.1.department_id", "registry.unknown_unit")
    }
    assert api.act(cid, "dispatch", {"unit": {"kind": "street", "id": "S-1"}}).status_code == 200
    assert (
        api.act(
            cid, "return", {"reason_code": "territory_mismatch", "reason": "不是我们的"}, user="street-1"
        ).status_code
        == 200
    )
    review = {"decision": "redispatch", "ruling": "改派", "redispatch_to": {"kind": "grid", "id": "G-999"}}
    assert _rules(api.act(cid, "review-return", review)) == {("body.redispatch_to", "registry.unknown_unit")}


def test_cases_named_in_a_body_must_exist_and_a_merge_target_be_open(api: Api) -> None:
    cid, other, closed = api.open(), api.open(), _closed(api)
    for action, field in (("merge", "into_case_id"), ("attach-duplicate", "duplicate_case_id")):
        r = api.act(cid, action, {field: "CNOSUCHCASE00"})
        assert _rules(r) == {(f"body.{field}", "case.unknown_reference")}, action
    assert _rules(api.act(cid, "merge", {"into_case_id": closed})) == {("body.into_case_id", "case.reference_finished")}
    assert api.act(cid, "merge", {"into_case_id": cid}).json()["rule"] == "merge.self"  # the domain's rule
    assert api.cases.states[cid].status == CaseStatus.RECEIVED  # nothing was sent
    assert api.act(cid, "attach-duplicate", {"duplicate_case_id": closed}).status_code == 200
    assert api.act(cid, "merge", {"into_case_id": other}).status_code == 200


# --- corrections: the place and the category from the registry ------------------------------------


def _place_inputs(grid: Any) -> list[dict[str, Any]]:
    """The three ways to name ``grid``: its id, a point inside it, an address with its name."""
    w, s, e, n = grid.bbox
    return [
        {"grid_id": grid.id},
        {"lat": round((s + n) / 2, 6), "lon": round((w + e) / 2, 6)},
        {"address": f"{grid.name}3号楼"},
    ]


def test_relocate_resolves_a_grid_a_point_or_an_address_through_the_registry(api: Api) -> None:
    city = sample_city()
    home = city.grids["G-101"]
    for grid in (g for g in city.grids.values() if g.id != home.id):
        for given in _place_inputs(grid):
            cid = api.open(location={"grid_id": home.id})
            r = api.act(cid, "relocate", {"location": given, "reason": "地址有误"})
            assert r.status_code == 200, (grid.id, given, r.text)
            [event] = [e for e in api.cases.timelines[cid] if isinstance(e, CaseRelocated)]
            moved = event.location
            expected = city.locate(**given)
            assert moved == expected == api.cases.states[cid].location, given
            assert (moved.grid_id, moved.community_id, moved.street_id, moved.district_id) == (
                grid.id,
                grid.community_id,
                grid.street_id,
                grid.district_id,
            )
            assert event.previous_location.grid_id == home.id


def test_relocate_to_a_place_the_registry_does_not_know_is_a_field_error_and_sends_nothing(api: Api) -> None:
    city = sample_city()
    cid = api.open()
    west, south, _, _ = city.grids["G-101"].bbox
    east = max(g.bbox[2] for g in city.grids.values())
    north = max(g.bbox[3] for g in city.grids.values())
    refused = [
        ({"grid_id": "G-404"}, "body.location.grid_id", "registry.unknown_location"),
        ({"grid_id": ""}, "body.location.grid_id", "string_too_short"),
        ({"lat": south - 0.5, "lon": west}, "body.location", "registry.unknown_location"),
        ({"lat": north + 0.001, "lon": east + 0.001}, "body.location", "registry.unknown_location"),
        ({"address": "火星大道1号"}, "body.location.address", "registry.unknown_location"),
        ({"lat": south + 0.001}, "body.location", "location.coordinates"),
        ({"lon": west + 0.001}, "body.location", "location.coordinates"),
        ({}, "body.location", "registry.unknown_location"),
        ({"grid_id": "G-102", "street_id": "S-1"}, "body.location.street_id", "extra_forbidden"),
        ({"lat": "40.805", "lon": 111.605}, "body.location.lat", "float_type"),
    ]
    sent, state = len(api.cases.sent), api.cases.states[cid]
    for given, field, rule in refused:
        r = api.act(cid, "relocate", {"location": given, "reason": "地址有误"})
        assert (field, rule) in _rules(r), (given, r.text)
        assert {f for f, _ in _rules(r)} == {field}, (given, r.text)
    assert _rules(api.act(cid, "relocate", {"reason": "地址有误"})) == {("body.location", "missing")}
    assert len(api.cases.sent) == sent and api.cases.states[cid] == state, "nothing was sent"


def test_a_relocation_that_leaves_the_units_territory_gives_the_case_back_for_dispatch(api: Api) -> None:
    cid = api.open(location={"grid_id": "G-101"})
    assert api.act(cid, "register").status_code == 200
    assert api.act(cid, "dispatch", {"unit": {"kind": "street", "id": "S-1"}}).status_code == 200
    same_street = api.act(cid, "relocate", {"location": {"address": "大召小区"}, "reason": "同一街道"})
    assert same_street.status_code == 200, same_street.text
    assert api.cases.states[cid].unit is not None and api.cases.states[cid].status == CaseStatus.DISPATCHED
    again = api.act(cid, "relocate", {"location": {"address": "大召小区"}, "reason": "同一地址"})
    assert again.status_code == 409 and again.json()["rule"] == "relocate.same", again.text
    other = api.act(cid, "relocate", {"location": {"grid_id": "G-201"}, "reason": "不在本街道"})
    assert other.status_code == 200, other.text
    [*_, last] = [e for e in api.cases.timelines[cid] if isinstance(e, CaseRelocated)]
    assert last.recalled is True
    assert api.cases.states[cid].status == CaseStatus.REGISTERED and api.cases.states[cid].unit is None


def test_reclassify_takes_only_categories_of_the_city_catalogue(api: Api) -> None:
    city = sample_city()
    cid = api.open(category="noise")
    sent = len(api.cases.sent)
    for code in ("nosie", "NOISE", "garbage ", "食品安全"):
        r = api.act(cid, "reclassify", {"category": code, "reason": "类别有误"})
        assert _rules(r) == {("body.category", "registry.unknown_category")}, (code, r.text)
        assert code in r.json()["errors"][0]["message"]
    assert len(api.cases.sent) == sent and api.cases.states[cid].category == "noise"
    empty = api.act(cid, "reclassify", {"category": "", "reason": "x"})
    assert _rules(empty) == {("body.category", "string_too_short")}
    same = api.act(cid, "reclassify", {"category": "noise", "reason": "x"})
    assert same.status_code == 409 and same.json()["rule"] == "reclassify.same", same.text
    previous = "noise"
    for code in sorted(set(city.categories) - {"noise"}):
        r = api.act(cid, "reclassify", {"category": code, "reason": "类别有误"})
        assert r.status_code == 200, (code, r.text)
        [*_, event] = [e for e in api.cases.timelines[cid] if isinstance(e, CaseReclassified)]
        assert (event.previous_category, event.category) == (previous, code)
        assert api.cases.states[cid].category == code
        previous = code


def test_set_urgency_takes_the_urgency_enumeration(api: Api) -> None:
    cid = api.open(category="noise")
    assert api.cases.states[cid].urgency.value == "ordinary"
    assert ("body.urgency", "enum") in _rules(api.act(cid, "set-urgency", {"urgency": "asap", "reason": "x"}))
    r = api.act(cid, "set-urgency", {"urgency": "urgent", "reason": "涉及安全"})
    assert r.status_code == 200, r.text
    assert api.cases.states[cid].urgency.value == "urgent"
    same = api.act(cid, "set-urgency", {"urgency": "urgent", "reason": "x"})
    assert same.status_code == 409 and same.json()["rule"] == "set_urgency.same"


def test_the_location_of_an_action_body_is_what_intake_takes(api: Api) -> None:
    spec = api.http.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for action in CATALOGUE.after_intake():
        places = [f.name for f in action.fields if f.widget == Widget.LOCATION]
        if not places:
            continue
        op = spec["paths"][f"/cases/{{case_id}}/{action.path}"]["post"]
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        body = schemas[ref]
        for name in places:
            assert body["properties"][name]["$ref"] == "#/components/schemas/LocationInput", action.name
        assert set(schemas["LocationInput"]["properties"]) == {"grid_id", "lat", "lon", "address"}
        assert schemas["LocationInput"].get("additionalProperties") is False


def test_a_whistle_task_with_an_unknown_field_is_refused(api: Api) -> None:
    cid = api.open()
    tasks = [{"department_id": "environment", "task": "执法", "deadline": "tomorrow"}]
    assert ("body.tasks.0.deadline", "extra_forbidden") in _rules(api.act(cid, "whistle", {"tasks": tasks}))


# --- idempotency ---------------------------------------------------------------------------------


def test_an_idempotency_key_reused_with_another_body_is_refused(api: Api) -> None:
    key = f"k-{uuid.uuid4().hex}"
    first = api.post("op-1", "/cases", intake(), **{"Idempotency-Key": key})
    again = api.post("op-1", "/cases", intake(), **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json()["case_id"] == again.json()["case_id"] == case_id_for_key(f"op-1:{key}")
    other = api.post("op-1", "/cases", intake(title="另一件事", description="楼道堆物"), **{"Idempotency-Key": key})
    assert _rules(other) == {("header.idempotency-key", "idempotency.key_reused")}
    assert len([cmd for cmd in api.cases.sent if isinstance(cmd, c.OpenCase)]) == 1
    # the defaults filled in count as the same payload; the key is the caller's own
    same = api.post("op-1", "/cases", {**intake(), "attachments": [], "self_handle": False}, **{"Idempotency-Key": key})
    assert same.status_code == 201 and same.json()["case_id"] == first.json()["case_id"]
    assert api.post("street-1", "/cases", intake(title="另一件事"), **{"Idempotency-Key": key}).status_code == 201


def test_the_contact_phone_is_checked_by_the_domains_rule(api: Api) -> None:
    for phone in ("call me", "1-2", "12345", "010-1234567"):
        r = api.post("op-1", "/cases", intake(contact={"phone": phone}), **{"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 422, r.text
        assert _rules(r) == {("body.contact.phone", "contact.phone")}, (phone, r.text)
    ok = api.post("op-1", "/cases", intake(contact={"phone": "(0471) 6234567"}), **{"Idempotency-Key": "k-ok"})
    assert ok.status_code == 201, ok.text


# --- smaller ones ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0.5", "1764547200", "2026-11-26", "2026-11-26T10:00:00", "soon"])
def test_due_before_takes_only_iso_date_times_with_a_zone(api: Api, value: str) -> None:
    assert {f for f, _ in _rules(api.get("op-1", "/cases", due_before=value))} == {"query.due_before"}


def test_due_before_with_a_zone_reaches_the_read_model(api: Api) -> None:
    r = api.get("op-1", "/cases", due_before="2026-11-26T10:00:00+08:00")
    assert r.status_code != 422, r.text


def test_a_405_and_options_list_every_method_of_the_path(api: Api) -> None:
    r = api.http.options("/cases")
    assert r.status_code in (200, 204)
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "POST", "OPTIONS"} <= allowed
    for method in allowed - {"OPTIONS"}:  # each one advertised is answered (not a 405)
        assert api.http.request(method, "/cases", headers=api.as_("op-1")).status_code != 405, method
    r = api.http.delete("/cases", headers=api.as_("op-1"))
    assert r.status_code == 405 and {"GET", "POST"} <= {m.strip() for m in r.headers["allow"].split(",")}
    r = api.http.put("/cases/C1/dispatch")
    assert r.status_code == 405 and {m.strip() for m in r.headers["allow"].split(",")} == {"POST", "OPTIONS"}


def test_readiness_names_each_dependency(api: Api) -> None:
    from readmodel.tables import metadata

    assert api.http.get("/healthz").json() == {"ok": True, "live_feed": False}
    r = api.http.get("/readyz")
    body = r.json()
    assert set(body["checks"]) == {"temporal", "kafka", "readmodel"}
    assert body["checks"]["temporal"]["ok"] is True
    assert body["checks"]["readmodel"]["ok"] is False and body["checks"]["readmodel"]["reason"]
    assert r.status_code == 503 and body["ok"] is False
    metadata.create_all(api.http.app.state.services.engine)  # type: ignore[attr-defined]
    assert api.http.get("/readyz").status_code == 200
    api.cases.client.service_client.up = False
    r = api.http.get("/readyz")
    assert r.status_code == 503 and "connection refused" in r.json()["checks"]["temporal"]["reason"]


# --- what the caller may do now -------------------------------------------------------------------


def test_the_actions_of_a_case_are_the_domains_for_the_caller(api: Api) -> None:
    pytest.importorskip("workflows.domain.available")
    cid = api.open()
    mine = api.get("op-1", f"/cases/{cid}/actions")
    assert mine.status_code == 200, mine.text
    names = {a["name"] for a in mine.json()["actions"]}
    assert "register" in names and "accept" not in names
    register = next(a for a in mine.json()["actions"] if a["name"] == "register")
    assert register["path"] == "register" and register["summary_zh"] == "立案" and register["form"]["properties"]
    assert api.get("street-1", f"/cases/{cid}/actions").json()["actions"] == []
    assert api.get("env-1", f"/cases/{cid}/actions").json()["rule"] == "jurisdiction.department"
    assert api.get("op-1", "/cases/CNOSUCHCASE0/actions").json()["rule"] == "case.not_found"
    assert datetime.now(UTC)  # the domain decides on the current time


def test_an_undeclared_query_parameter_is_refused_on_every_router(api: Api) -> None:
    cid = api.open()
    for url in ("/cases", f"/cases/{cid}", f"/cases/{cid}/actions", "/me", "/metrics/summary"):
        assert ("query.bogus", "extra_forbidden") in _rules(api.get("op-1", url, bogus="1")), url
