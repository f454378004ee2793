"""The HTTP API on the real stack: idempotent intake, errors that name the field and the rule,
jurisdictions refused at the API and again at the workflow, lists from the read model, live events.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.base import Actor, Role, UnitKind, UnitRef
from events.schemas import EscalationLevel, WhistleTask
from tests.integration.test_api_support import (
    JWT_SECRET,
    ApiStack,
    act,
    cases_in_every_state,
    drive,
    intake_body,
    lifecycle,
    open_case,
    start_api_stack,
)
from workers.api.auth import issue_jwt
from workers.api.users import UserStore
from workers.case_client import ActionRefused, CaseClient
from workers.composition import connect_temporal
from workers.settings import Settings
from workflows.domain import commands as c

pytestmark = pytest.mark.integration

PII = ("张三", "13812345678")


@pytest.fixture(scope="module")
def api(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    stack = start_api_stack(stack_settings, Path(tmp_path_factory.mktemp("api")))
    yield stack
    stack.stop()


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def _field_rules(r: httpx.Response) -> set[tuple[str, str]]:
    body = _error(r, 422)
    assert body["error"] == "invalid_input"
    return {(e["field"], e["rule"]) for e in body["errors"]}


def _street_case(api: ApiStack, op: httpx.Client) -> str:
    """A hotline case dispatched to the street, accepted and contacted (status handling)."""
    cid = open_case(op, api.geo)
    assert act(op, cid, "register").status_code == 200
    r = act(op, cid, "dispatch", {"unit": {"kind": "street", "id": api.geo.street}})
    assert r.status_code == 200, r.text
    with api.client("street-1") as street:
        for action in ("accept", "contact"):
            assert act(street, cid, action).status_code == 200
    return cid


def test_intake_is_idempotent_on_the_key(api: ApiStack) -> None:
    key = f"hotline-{uuid.uuid4().hex}"
    with api.client("op-1") as op:
        first = op.post("/cases", json=intake_body(api.geo), headers={"Idempotency-Key": key})
        again = op.post("/cases", json=intake_body(api.geo), headers={"Idempotency-Key": key})
        other = op.post("/cases", json=intake_body(api.geo), headers={"Idempotency-Key": key + "-2"})
        assert first.status_code == again.status_code == other.status_code == 201
        assert first.json()["case_id"] == again.json()["case_id"] != other.json()["case_id"]
        assert again.json()["events"] == first.json()["events"]
        detail = op.get(f"/cases/{first.json()['case_id']}").json()
        assert [e["type"] for e in detail["timeline"]].count("case.received") == 1
    with api.client("resident-1") as resident:  # the key is the caller's own: another caller gets another case
        theirs = resident.post("/cases", json=intake_body(api.geo), headers={"Idempotency-Key": key})
        assert theirs.status_code == 201 and theirs.json()["case_id"] != first.json()["case_id"]


FINISHED = ("closed", "rejected", "merged", "terminated")


@pytest.fixture(scope="module")
def states(api: ApiStack) -> dict[str, str]:
    return cases_in_every_state(api)


async def test_an_action_on_a_finished_case_is_refused_409_case_finished(api: ApiStack, states: dict[str, str]) -> None:
    tries = [
        ("op-1", "register", {}),
        ("op-1", "close", {}),
        ("op-1", "supervise", {"note": "快办"}),
        ("op-1", "dispatch", {"unit": {"kind": "street", "id": api.geo.street}}),
        ("op-1", "shelve", {"reason": "x"}),
        ("op-1", "callback", {"rating": "satisfied"}),
        ("street-1", "accept", {}),
        ("street-1", "appeal", {"reason": "x"}),
        ("grid-1", "verify", {"passed": True}),
        ("sv-city", "decide-extension", {"approved": True}),
    ]
    for status in FINISHED:
        cid = states[status]
        for user, action, body in tries:
            with api.client(user) as http:
                r = act(http, cid, action, body)
            assert r.status_code == 409, f"{status} {action}: {r.status_code} {r.text}"
            refused = r.json()
            assert refused["rule"] == "case.finished", (status, action, refused)
            word = "closed" if status == "terminated" else status
            assert word in refused["message"], refused
    # the client the CLI shares: an action sent to a completed workflow is refused the same way
    cases = CaseClient(await connect_temporal(api.settings), api.settings.task_queue)
    op = Actor(role=Role.DISPATCHER, person_id="op-1")
    for status in FINISHED:
        with pytest.raises(ActionRefused) as refused:
            await cases.act(states[status], c.CloseCase(actor=op))
        assert refused.value.rule == "case.finished", (status, refused.value)


def test_a_second_close_gets_the_same_clean_answer(api: ApiStack) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with api.client("op-1") as op:
        cid = open_case(op, api.geo)
    drive(api, cid, lifecycle(api.geo)[:-1])

    def close() -> httpx.Response:
        with api.client("op-1") as op:
            return act(op, cid, "close")

    with ThreadPoolExecutor(2) as pool:  # a double click: two closes at once, no Request-Id
        answers = sorted([f.result() for f in [pool.submit(close), pool.submit(close)]], key=lambda r: r.status_code)
    assert [r.status_code for r in answers] == [200, 409], [r.text for r in answers]
    assert answers[1].json()["rule"] == "case.finished"
    with api.client("op-1") as op:
        again = act(op, cid, "close")
    assert again.status_code == 409 and again.json()["rule"] == "case.finished", again.text


def test_units_the_registry_does_not_know_are_refused_naming_the_field(api: ApiStack, states: dict[str, str]) -> None:
    with api.client("op-1") as op:
        cid = open_case(op, api.geo)
        assert act(op, cid, "register").status_code == 200
        before = op.get(f"/cases/{cid}").json()["seq"]
        r = act(op, cid, "dispatch", {"unit": {"kind": "department", "id": "no-such-department"}})
        assert _field_rules(r) == {("body.unit", "registry.unknown_unit")}
        tasks = [{"department_id": "environment", "task": "执法"}, {"department_id": "no-such-department", "task": "x"}]
        r = act(op, states["handling"], "whistle", {"tasks": tasks})
        assert _field_rules(r) == {("body.tasks.1.department_id", "registry.unknown_unit")}
        assert op.get(f"/cases/{cid}").json()["seq"] == before
        assert act(op, cid, "dispatch", {"unit": {"kind": "street", "id": api.geo.street}}).status_code == 200
    with api.client("street-1") as street:
        r = act(street, cid, "return", {"reason_code": "territory_mismatch", "reason": "不属本街道"})
        assert r.status_code == 200, r.text
    with api.client("op-1") as op:
        review = {"decision": "redispatch", "ruling": "改派", "redispatch_to": {"kind": "street", "id": "S-NOWHERE"}}
        assert _field_rules(act(op, cid, "review-return", review)) == {("body.redispatch_to", "registry.unknown_unit")}
        review["redispatch_to"] = {"kind": "grid", "id": api.geo.grid}
        r = act(op, cid, "review-return", review)
        assert r.status_code == 200, r.text


def test_cases_named_in_a_body_must_exist_and_a_merge_goes_into_an_open_case(
    api: ApiStack, states: dict[str, str]
) -> None:
    with api.client("op-1") as op:
        cid, target = open_case(op, api.geo), open_case(op, api.geo)
        for action, field in (("merge", "into_case_id"), ("attach-duplicate", "duplicate_case_id")):
            r = act(op, cid, action, {field: "CNOSUCHCASE01"})
            assert _field_rules(r) == {(f"body.{field}", "case.unknown_reference")}, r.text
        for finished in ("closed", "rejected", "merged", "terminated"):
            r = act(op, cid, "merge", {"into_case_id": states[finished]})
            assert _field_rules(r) == {("body.into_case_id", "case.reference_finished")}, (finished, r.text)
        assert op.get(f"/cases/{cid}").json()["status"] == "received"  # nothing reached the case
        r = act(op, cid, "merge", {"into_case_id": target})
        assert r.status_code == 200 and r.json()["status"] == "merged", r.text


def test_an_idempotency_key_reused_with_another_body_is_refused(api: ApiStack) -> None:
    key = f"reuse-{uuid.uuid4().hex}"
    with api.client("op-1") as op:
        first = op.post("/cases", json=intake_body(api.geo), headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        other = op.post(
            "/cases",
            json=intake_body(api.geo, title="另一件事", description="楼道堆物"),
            headers={"Idempotency-Key": key},
        )
        assert _field_rules(other) == {("header.idempotency-key", "idempotency.key_reused")}
        again = op.post("/cases", json=intake_body(api.geo), headers={"Idempotency-Key": key})
        assert again.status_code == 201 and again.json()["case_id"] == first.json()["case_id"]
        assert again.json()["events"] == first.json()["events"]
        detail = op.get(f"/cases/{first.json()['case_id']}").json()
        assert detail["title"] == "噪音扰民"


def test_due_before_is_an_iso_date_time_and_options_lists_every_method(api: ApiStack) -> None:
    with api.client("op-1") as op:
        for value in ("0.5", "1764547200", "2026-11-26"):
            assert {f for f, _ in _field_rules(op.get("/cases", params={"due_before": value}))} == {
                "query.due_before"
            }, value
        assert op.get("/cases", params={"due_before": "2026-11-26T10:00:00+08:00"}).status_code == 200
        allowed = {m.strip() for m in op.options("/cases").headers["allow"].split(",")}
        assert {"GET", "POST", "OPTIONS"} <= allowed
        r = op.delete("/cases")
        assert r.status_code == 405 and {"GET", "POST"} <= {m.strip() for m in r.headers["allow"].split(",")}


def test_the_actions_a_caller_may_take_now(api: ApiStack, states: dict[str, str]) -> None:
    pytest.importorskip("workflows.domain.available")
    with api.client("op-1") as op:
        received = op.get(f"/cases/{states['received']}/actions")
        assert received.status_code == 200, received.text
        names = {a["name"] for a in received.json()["actions"]}
        assert {"register", "reject"} <= names and "accept" not in names
        one = received.json()["actions"][0]
        assert set(one) == {"name", "path", "summary_zh", "summary_en", "roles", "form"}
        for status in FINISHED:
            assert op.get(f"/cases/{states[status]}/actions").json()["actions"] == []
        assert op.get("/cases/CNOSUCHCASE00/actions").json()["rule"] == "case.not_found"
    with api.client("street-1") as street:
        handling = {a["name"] for a in street.get(f"/cases/{states['handling']}/actions").json()["actions"]}
        assert "resolve" in handling or "whistle" in handling, handling
        assert "register" not in handling
    with api.client("water-1") as water:
        assert _error(water.get(f"/cases/{states['handling']}/actions"), 403)["rule"] == "jurisdiction.department"


def test_bad_input_names_the_field_and_the_rule(api: ApiStack) -> None:
    with api.client("op-1") as op:
        assert ("header", "idempotency-key") in {
            tuple(f.split(".", 1)) for f, _ in _field_rules(op.post("/cases", json=intake_body(api.geo)))
        }
        key = {"Idempotency-Key": uuid.uuid4().hex}
        actor = {"role": "dispatcher", "person_id": "someone-else"}
        assert ("body.actor", "extra_forbidden") in _field_rules(
            op.post("/cases", json=intake_body(api.geo, actor=actor), headers=key)
        )
        assert ("body.title", "string_too_short") in _field_rules(
            op.post("/cases", json=intake_body(api.geo, title=""), headers=key)
        )
        assert ("body.category", "registry.unknown_category") in _field_rules(
            op.post("/cases", json=intake_body(api.geo, category="no-such-category"), headers=key)
        )
        assert ("body.location.grid_id", "registry.unknown_location") in _field_rules(
            op.post("/cases", json=intake_body(api.geo, location={"grid_id": "G-NOWHERE"}), headers=key)
        )
        assert ("body.self_handle", "bool_type") in _field_rules(
            op.post("/cases", json=intake_body(api.geo, self_handle="yes"), headers=key)
        )

        cid = open_case(op, api.geo)
        planet = {"unit": {"kind": "planet", "id": "x"}}
        assert ("body.unit.kind", "enum") in _field_rules(act(op, cid, "dispatch", planet))
        assert ("body.actor", "extra_forbidden") in _field_rules(
            act(op, cid, "register", {"actor": {"role": "system", "person_id": "sla-clock"}})
        )
        twice = [{"department_id": "environment", "task": "a"}, {"department_id": "environment", "task": "b"}]
        assert ("body.tasks", "value_error") in _field_rules(act(op, cid, "whistle", {"tasks": twice}))
        assert ("path.case_id", "string_pattern_mismatch") in _field_rules(op.get("/cases/bad id!"))
        missing = _error(op.get("/cases/CNOSUCHCASE00"), 404)
        assert missing["rule"] == "case.not_found"

        # a refused transition: 409 with the domain rule, and nothing written
        before = op.get(f"/cases/{cid}").json()["seq"]
        refused = _error(act(op, cid, "dispatch", {"unit": {"kind": "street", "id": api.geo.street}}), 409)
        assert refused["rule"] == "status.not_allowed" and "registered" in refused["message"]
        assert op.get(f"/cases/{cid}").json()["seq"] == before


def test_authentication_tokens_and_jwts(api: ApiStack) -> None:
    with api.client() as anon:
        assert _error(anon.get("/me"), 401)["rule"] == "auth.missing"
        assert (
            _error(anon.get("/me", headers={"Authorization": "Bearer gct_0000000000000000_" + "x" * 43}), 401)["rule"]
            == "auth.invalid_token"
        )
        token = issue_jwt(JWT_SECRET, "jwt-op", Role.DISPATCHER, None)
        me = anon.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["role"] == "dispatcher" and me.json()["via"] == "jwt"
        expired = issue_jwt(JWT_SECRET, "jwt-op", Role.DISPATCHER, None, ttl_seconds=-10)
        assert (
            _error(anon.get("/me", headers={"Authorization": f"Bearer {expired}"}), 401)["rule"] == "auth.jwt_expired"
        )
        forged = issue_jwt("another-secret-of-sufficient-length-000", "jwt-op", Role.DISPATCHER, None)
        assert _error(anon.get("/me", headers={"Authorization": f"Bearer {forged}"}), 401)["rule"] == "auth.jwt_invalid"
        no_unit = issue_jwt(JWT_SECRET, "jwt-street", Role.STREET, None)
        assert _error(anon.get("/me", headers={"Authorization": f"Bearer {no_unit}"}), 401)["rule"] == "auth.jwt_claims"

    from workers.api.app import create_engine_for

    store = UserStore(create_engine_for(api.settings))
    store.add_user("temp-op", "temp", Role.DISPATCHER)
    token, info = store.issue_token("temp-op")
    with api.client() as http:
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get("/me", headers=auth).status_code == 200
        store.revoke_token(info.token_id)
        assert _error(http.get("/me", headers=auth), 401)["rule"] == "auth.invalid_token"


async def test_each_role_is_refused_outside_its_jurisdiction_at_the_api_and_at_the_workflow(api: ApiStack) -> None:
    cases = CaseClient(await connect_temporal(api.settings), api.settings.task_queue)
    geo = api.geo
    with api.client("op-1") as op:
        cid = _street_case(api, op)

    # resident: reads only the cases they opened
    with api.client("resident-1") as r1, api.client("resident-2") as r2:
        mine = open_case(r1, geo)
        own = r1.get(f"/cases/{mine}")
        assert own.status_code == 200 and own.json()["contact"]["name"] == "张三"
        assert own.json()["channel"] == "web"
        assert _error(r2.get(f"/cases/{mine}"), 403)["rule"] == "jurisdiction.resident"
        assert _error(r1.get(f"/cases/{cid}"), 403)["rule"] == "jurisdiction.resident"
        assert _error(act(r1, cid, "register"), 403)["rule"] == "role.not_allowed"
    resident = Actor(role=Role.RESIDENT, person_id="resident-1")
    assert await _refused_by_the_validator(cases, cid, c.RegisterCase(actor=resident)) == "role.not_allowed"

    # the street blows the whistle for the environment department only
    with api.client("street-1") as street:
        whistle = act(street, cid, "whistle", {"tasks": [{"department_id": "environment", "task": "夜间施工执法"}]})
        assert whistle.status_code == 200, whistle.text
    with api.client("street-2") as other_street:
        assert _error(other_street.get(f"/cases/{cid}"), 403)["rule"] == "jurisdiction.street"
    other_street_actor = Actor(role=Role.STREET, person_id="s2", unit_id=geo.other_street)
    whistle_cmd = c.BlowWhistle(actor=other_street_actor, tasks=[WhistleTask(department_id="water", task="x")])
    assert await _refused_by_the_validator(cases, cid, whistle_cmd) == "jurisdiction.whistle"

    # department: acts only on a case it was summoned to
    with api.client("water-1") as water:
        assert _error(act(water, cid, "report-in"), 403)["rule"] == "jurisdiction.department"
        assert _error(water.get(f"/cases/{cid}"), 403)["rule"] == "jurisdiction.department"
    water_actor = Actor(role=Role.DEPARTMENT, person_id="w", unit_id="water")
    assert await _refused_by_the_validator(cases, cid, c.ReportIn(actor=water_actor)) == "jurisdiction.not_summoned"
    with api.client("env-1") as env:
        view = env.get(f"/cases/{cid}")
        assert view.status_code == 200
        assert view.json()["contact"] is None
        assert not any(p in view.text for p in PII), "a department must never see the resident's personal data"
        assert act(env, cid, "report-in").status_code == 200

    # grid worker: of its own grid only
    with api.client("op-1") as op:
        gcid = open_case(op, geo)
        assert act(op, gcid, "register").status_code == 200
        assert act(op, gcid, "dispatch", {"unit": {"kind": "grid", "id": geo.grid}}).status_code == 200
    with api.client("grid-2") as g2:
        assert _error(act(g2, gcid, "accept"), 403)["rule"] == "jurisdiction.grid_worker"
    other_grid_actor = Actor(role=Role.GRID_WORKER, person_id="g2", unit_id=geo.other_grid)
    assert (
        await _refused_by_the_validator(cases, gcid, c.AcceptCase(actor=other_grid_actor))
        == "jurisdiction.not_assigned"
    )
    with api.client("grid-1") as g1:
        assert act(g1, gcid, "accept").status_code == 200

    # supervisor: of the case's district or of the city
    with api.client("sv-other") as sv_other:
        assert _error(act(sv_other, cid, "supervise", {"note": "快办"}), 403)["rule"] == "jurisdiction.supervisor"
    other_supervisor = Actor(role=Role.SUPERVISOR, person_id="x", unit_id="D-99")
    supervise_cmd = c.Supervise(actor=other_supervisor, level=EscalationLevel.SUPERVISION, note="快办")
    assert await _refused_by_the_validator(cases, cid, supervise_cmd) == "jurisdiction.not_supervisor"
    for supervisor in ("sv-district", "sv-city"):
        with api.client(supervisor) as sv:
            assert act(sv, cid, "supervise", {"note": "快办", "level": "reminder"}).status_code == 200

    # community: reads its own community's cases, and no action is open to it
    with api.client("community-1") as community:
        assert community.get(f"/cases/{cid}").status_code == 200
        assert _error(act(community, cid, "accept"), 403)["rule"] == "role.not_allowed"

    # the workflow's own record: the actor is the authenticated caller, never a body field
    timeline = await cases.timeline(cid)
    actors = {(e.type, e.actor.person_id) for e in timeline}
    assert ("case.whistle_blown", "street-1") in actors and ("case.department_reported_in", "env-1") in actors
    dispatched = [e for e in timeline if e.type == "case.dispatched"]
    assert dispatched and dispatched[0].actor.person_id == "op-1"
    assert dispatched[0].unit == UnitRef(kind=UnitKind.STREET, id=geo.street)


async def test_a_direct_caller_cannot_name_a_department_the_city_lacks(api: ApiStack) -> None:
    """Past the API (straight to Temporal), the workflow refuses too: the case's context carries the
    registry's departments, so no case waits for a unit that does not exist."""
    cases = CaseClient(await connect_temporal(api.settings), api.settings.task_queue)
    street = Actor(role=Role.STREET, person_id="street-1", unit_id=api.geo.street)
    ghost = WhistleTask(department_id="no-such-department", task="x")
    whistle = c.BlowWhistle(actor=street, tasks=[WhistleTask(department_id="environment", task="执法"), ghost])
    with api.client("op-1") as op:
        handling, cid = open_case(op, api.geo), open_case(op, api.geo)
    drive(api, handling, lifecycle(api.geo)[:4])
    assert await _refused_by_the_validator(cases, handling, whistle) == "registry.unknown_unit"
    drive(api, cid, lifecycle(api.geo)[:1])
    hotline = Actor(role=Role.DISPATCHER, person_id="op-1")
    ghost_unit = c.DispatchCase(actor=hotline, unit=UnitRef(kind=UnitKind.DEPARTMENT, id="no-such-department"))
    assert await _refused_by_the_validator(cases, cid, ghost_unit) == "registry.unknown_unit"
    known = c.DispatchCase(actor=hotline, unit=UnitRef(kind=UnitKind.DEPARTMENT, id="environment"))
    assert (await cases.act(cid, known)).status.value == "dispatched"


async def _refused_by_the_validator(cases: CaseClient, case_id: str, command: Any) -> str:
    """Send ``command`` straight to the workflow's ``act`` update; return the rule that refused it,
    having checked the refusal came from the validator: no update was accepted into the history."""
    from temporalio.api.enums.v1 import EventType

    from workflows.case_workflow import workflow_id

    handle = cases.client.get_workflow_handle(workflow_id(case_id))

    async def accepted() -> int:
        history = await handle.fetch_history()
        kind = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        return sum(1 for e in history.events if e.event_type == kind)

    before = await accepted()
    assert before > 0  # intake and the actions so far were accepted updates
    with pytest.raises(ActionRefused) as refused:
        await cases.act(case_id, command)
    assert await accepted() == before, "a refused action must leave no trace in the workflow's history"
    return refused.value.rule


def _wait_rows(http: httpx.Client, params: dict[str, str], want: str, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        r = http.get("/cases", params=params)
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        if any(i["case_id"] == want for i in items) or time.monotonic() > deadline:
            return items
        time.sleep(0.3)


def test_lists_come_from_the_read_model_within_the_callers_jurisdiction(api: ApiStack) -> None:
    geo = api.geo
    with api.client("op-1") as op:
        cid = _street_case(api, op)
        other = open_case(op, geo, location={"grid_id": geo.other_grid})
        rows = _wait_rows(op, {"street": geo.street, "state": "handling"}, cid)
        assert cid in {r["case_id"] for r in rows}
        assert all(r["street_id"] == geo.street and r["status"] == "handling" for r in rows)
        assert cid not in {r["case_id"] for r in _wait_rows(op, {"state": "received"}, other)}
        assert _field_rules(op.get("/cases", params={"limit": "0"})) == {("query.limit", "greater_than_equal")}
        assert ("query.breached", "literal_error") in _field_rules(op.get("/cases", params={"breached": "yes"}))
    with api.client("street-1") as street:
        assert street.get("/cases", params={"street": geo.other_street}).json()["items"] == []
        seen = {r["case_id"] for r in _wait_rows(street, {}, cid)}
        assert cid in seen and other not in seen
    with api.client("street-1") as street:
        assert (
            act(street, cid, "whistle", {"tasks": [{"department_id": "environment", "task": "执法"}]}).status_code
            == 200
        )
    with api.client("env-1") as env:
        rows = _wait_rows(env, {}, cid)
        assert cid in {r["case_id"] for r in rows} and other not in {r["case_id"] for r in rows}
        text = json.dumps(rows, ensure_ascii=False)
        assert not any(p in text for p in PII)
    with api.client("sv-other") as sv:
        assert sv.get("/cases").json()["items"] == []
    with api.client("sv-district") as sv:
        assert cid in {r["case_id"] for r in _wait_rows(sv, {}, cid)}
    with api.client("resident-1") as resident:
        mine = open_case(resident, geo)
        rows = _wait_rows(resident, {}, mine)
        assert {r["case_id"] for r in rows} == {r["case_id"] for r in rows} & set(
            api_cases_opened_by(api, "resident-1")
        ) and mine in {r["case_id"] for r in rows}


def api_cases_opened_by(api: ApiStack, user: str) -> list[str]:
    from workers.api.app import create_engine_for

    return UserStore(create_engine_for(api.settings)).cases_opened_by(user)


async def _read_stream(client: httpx.AsyncClient, seen: list[dict[str, Any]], ready: asyncio.Event) -> None:
    async with client.stream("GET", "/events") as response:
        assert response.status_code == 200
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                if event == "ready":
                    ready.set()
            elif line.startswith("data:") and event == "case":
                seen.append(json.loads(line[5:]))


async def test_live_events_reach_the_callers_whose_jurisdiction_covers_the_case(api: ApiStack) -> None:
    def client(user: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=api.base_url,
            headers={"Authorization": f"Bearer {api.tokens[user]}"},
            timeout=httpx.Timeout(60, read=None),
        )

    op_seen: list[dict[str, Any]] = []
    water_seen: list[dict[str, Any]] = []
    street_seen: list[dict[str, Any]] = []
    async with client("op-1") as op, client("water-1") as water, client("street-1") as street:
        readies = [asyncio.Event() for _ in range(3)]
        tasks = [
            asyncio.create_task(_read_stream(cl, seen, ev))
            for cl, seen, ev in zip((op, water, street), (op_seen, water_seen, street_seen), readies, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 30)
        r = await op.post("/cases", json=intake_body(api.geo), headers={"Idempotency-Key": uuid.uuid4().hex})
        cid = r.json()["case_id"]
        deadline = time.monotonic() + 30
        while not any(n["case_id"] == cid for n in op_seen) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        for t in tasks:
            t.cancel()
        async with client("resident-1") as resident:
            assert (await resident.get("/events")).status_code == 403
    mine = [n for n in op_seen if n["case_id"] == cid]
    assert mine and mine[0]["type"] == "case.received" and mine[0]["seq"] == 1
    assert any(n["case_id"] == cid for n in street_seen), "the case's street sees it live"
    assert not any(n["case_id"] == cid for n in water_seen), "a department not involved must not see it"
    assert not any(p in json.dumps(op_seen, ensure_ascii=False) for p in PII)


def test_metrics_for_supervisors_within_their_jurisdiction(api: ApiStack) -> None:
    from readmodel.kpis import month_of

    geo = api.geo
    with api.client("op-1") as op:
        cid = _street_case(api, op)
        _wait_rows(op, {"street": geo.street, "state": "handling"}, cid)
    period = month_of(datetime.now(UTC))
    with api.client("sv-district") as sv:
        summary = sv.get("/metrics/summary", params={"period": period})
        assert summary.status_code == 200, summary.text
        body = summary.json()
        assert body["scope"] == f"district:{geo.district}" and body["metrics"]["cases"] >= 1
        assert body["metrics"]["open"] >= 1
        streets = sv.get("/metrics/slices", params={"by": "street"}).json()["slices"]
        assert streets[geo.street]["cases"] >= 1
        ranked = sv.get("/metrics/ranking", params={"by": "street", "period": period}).json()["rows"]
        assert geo.street in {r["key"] for r in ranked} and ranked[0]["rank"] == 1
        assert _field_rules(sv.get("/metrics/summary", params={"period": "2026-13"})) == {
            ("query.period", "string_pattern_mismatch")
        }
        assert ("query.by", "literal_error") in _field_rules(sv.get("/metrics/slices", params={"by": "planet"}))
    with api.client("sv-other") as other:
        assert other.get("/metrics/summary").json()["metrics"]["cases"] == 0
    with api.client("sv-city") as city:
        assert city.get("/metrics/summary").json()["scope"] == "city"
    for user in ("street-1", "env-1", "resident-1"):
        with api.client(user) as http:
            assert _error(http.get("/metrics/summary"), 403)["rule"] == "role.not_allowed"


def test_gridcase_api_stops_promptly_on_sigterm_with_a_live_stream_open(api: ApiStack) -> None:
    """`gridcase api` ends its live streams on SIGTERM instead of waiting out the graceful-shutdown bound."""
    import os
    import signal
    import subprocess
    import sys

    from tests.integration.conftest import free_port

    port = free_port()
    s = api.settings
    env = {
        **os.environ,
        "GRIDCASE_API_PORT": str(port),
        "GRIDCASE_DATABASE_URL": str(s.database_url),
        "GRIDCASE_TOPIC_PREFIX": s.topic_prefix,
        "GRIDCASE_TASK_QUEUE": s.task_queue,
        "GRIDCASE_STATE_DIR": str(s.state_dir),
    }
    gridcase = str(Path(sys.executable).parent / "gridcase")
    proc = subprocess.Popen([gridcase, "api"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).json()["live_feed"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {api.tokens['op-1']}"}
        with httpx.stream("GET", f"{base}/events", headers=headers, timeout=httpx.Timeout(30, read=30)) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            term_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rest = list(lines)  # the server ends the stream
        assert proc.wait(timeout=30) == 0
        stopped = time.monotonic() - term_at
        assert stopped < 8, f"stopped {stopped:.1f} s after SIGTERM (the graceful bound is 10 s)"
        assert all(not line.startswith("event: case") for line in rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
