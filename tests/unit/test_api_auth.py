"""API users, tokens, JWTs and jurisdictions (pure: SQLite in a temporary file, no services)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from events.base import Role, UnitKind, UnitRef
from events.schemas import Location, ResidentContact
from workers.api import users as u
from workers.api.auth import (
    ACTION_ROLES,
    AuthError,
    Principal,
    decode_jwt,
    issue_jwt,
    list_scope,
    may_read,
    require_action_role,
    scope_keys_match,
)
from workers.api.users import UserError, UserStore
from workflows.domain.state import CaseState, CaseStatus

SECRET = "unit-test-secret-of-a-decent-length-000000"
LOC = Location(grid_id="G-1", community_id="C-1", street_id="S-1", district_id="D-1")


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    s = UserStore(create_engine(f"sqlite:///{tmp_path / 'users.db'}"))
    s.create_tables()
    s.create_tables()  # idempotent
    return s


def test_tokens_are_stored_hashed_with_their_own_salt_and_shown_once(store: UserStore) -> None:
    store.add_user("op-1", "Operator", Role.DISPATCHER)
    t1, info1 = store.issue_token("op-1", "desk")
    t2, info2 = store.issue_token("op-1")
    assert t1 != t2 and t1.startswith(f"gct_{info1.token_id}_")
    with store.engine.connect() as conn:
        rows = conn.execute(select(u.tokens)).mappings().all()
    stored = " ".join(str(v) for r in rows for v in r.values())
    secrets = {}
    for token in (t1, t2):
        m = u.TOKEN_RE.match(token)
        assert m is not None
        secrets[m.group(1)] = m.group(2)
        assert m.group(2) not in stored, "the secret must never be stored"
    assert rows[0]["salt"] != rows[1]["salt"]
    for row in rows:
        assert row["secret_hash"] == u.hash_secret(row["salt"], secrets[row["token_id"]])
    user = store.authenticate(t1)
    assert user is not None and user.user_id == "op-1" and user.role == Role.DISPATCHER
    assert {t.token_id for t in store.list_tokens("op-1")} == {info1.token_id, info2.token_id}


def test_wrong_malformed_and_revoked_tokens_are_refused(store: UserStore) -> None:
    store.add_user("op-1", "Operator", Role.DISPATCHER)
    token, info = store.issue_token("op-1")
    m = u.TOKEN_RE.match(token)
    assert m is not None
    token_id, secret = m.groups()
    assert store.authenticate(f"gct_{token_id}_{'A' * len(secret)}") is None
    assert store.authenticate("gct_nothex_" + secret) is None
    assert store.authenticate("Bearer " + token) is None
    store.revoke_token(info.token_id)
    store.revoke_token(info.token_id)  # idempotent
    assert store.authenticate(token) is None
    with pytest.raises(UserError, match="token: no token"):
        store.revoke_token("0" * 16)


def test_disabling_a_user_revokes_every_token(store: UserStore) -> None:
    store.add_user("s-1", "Street office", Role.STREET, "S-1")
    a, _ = store.issue_token("s-1")
    b, _ = store.issue_token("s-1")
    assert store.disable_user("s-1") == 2
    assert store.authenticate(a) is None and store.authenticate(b) is None
    with pytest.raises(UserError, match="disabled"):
        store.issue_token("s-1")


@pytest.mark.parametrize(
    ("user_id", "role", "unit", "rule"),
    [
        ("bad id", Role.DISPATCHER, None, "user_id"),
        ("st", Role.STREET, None, "unit: a street acts for a unit"),
        ("sv", Role.SUPERVISOR, None, "unit: a supervisor acts for a unit"),
        ("op", Role.DISPATCHER, "S-1", "unit: a dispatcher has no unit"),
        ("res", Role.RESIDENT, "S-1", "unit: a resident has no unit"),
        ("clock", Role.SYSTEM, None, "role: 'system' is reserved"),
    ],
)
def test_bad_users_are_refused_naming_the_field(
    store: UserStore, user_id: str, role: Role, unit: str | None, rule: str
) -> None:
    with pytest.raises(UserError, match=rule):
        store.add_user(user_id, "x", role, unit)


def test_a_user_id_is_taken_once(store: UserStore) -> None:
    store.add_user("op-1", "a", Role.DISPATCHER)
    with pytest.raises(UserError, match="already exists"):
        store.add_user("op-1", "b", Role.DISPATCHER)


def test_intakes_remember_who_opened_a_case_once(store: UserStore) -> None:
    store.record_intake("C1", "resident-1", Role.RESIDENT, "k1")
    store.record_intake("C1", "resident-2", Role.RESIDENT, "k1")  # a retry never changes the owner
    store.record_intake("C2", "resident-1", Role.RESIDENT, "k2")
    assert store.opened_by("C1") == "resident-1"
    assert set(store.cases_opened_by("resident-1")) == {"C1", "C2"}
    assert store.cases_opened_by("resident-2") == []


def test_jwts_are_verified_and_their_claims_checked() -> None:
    p = decode_jwt(issue_jwt(SECRET, "gw-7", Role.GRID_WORKER, "G-1", name="王五"), SECRET)
    assert p == Principal(person_id="gw-7", role=Role.GRID_WORKER, unit_id="G-1", name="王五", via="jwt")
    cases = [
        (issue_jwt(SECRET, "gw-7", Role.GRID_WORKER, "G-1", ttl_seconds=-5), "auth.jwt_expired"),
        (issue_jwt("another-secret-of-a-decent-length-0000000", "gw-7", Role.GRID_WORKER, "G-1"), "auth.jwt_invalid"),
        (issue_jwt(SECRET, "gw-7", Role.GRID_WORKER, None), "auth.jwt_claims"),
        (issue_jwt(SECRET, "x y", Role.DISPATCHER, None), "auth.jwt_claims"),
        (issue_jwt(SECRET, "c", Role.SYSTEM, None), "auth.jwt_claims"),
        ("not.a.jwt", "auth.jwt_invalid"),
    ]
    for token, rule in cases:
        with pytest.raises(AuthError) as err:
            decode_jwt(token, SECRET)
        assert err.value.status == 401 and err.value.rule == rule


def _case(**update: object) -> CaseState:
    base = CaseState(
        case_id="C1",
        status=CaseStatus.HANDLING,
        location=LOC,
        contact=ResidentContact(resident_id="res-1", name="张三", phone="13812345678"),
        unit=UnitRef(kind=UnitKind.STREET, id="S-1"),
        units_involved=["street:S-1", "department:water"],
    )
    return base.model_copy(update=update)


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (Principal("op", Role.DISPATCHER), True),
        (Principal("sv", Role.SUPERVISOR, "city"), True),
        (Principal("sv", Role.SUPERVISOR, "D-1"), True),
        (Principal("sv", Role.SUPERVISOR, "D-2"), False),
        (Principal("st", Role.STREET, "S-1"), True),
        (Principal("st", Role.STREET, "S-2"), False),
        (Principal("cm", Role.COMMUNITY, "C-1"), True),
        (Principal("cm", Role.COMMUNITY, "C-2"), False),
        (Principal("gw", Role.GRID_WORKER, "G-1"), True),
        (Principal("gw", Role.GRID_WORKER, "G-2"), False),
        (Principal("wd", Role.DEPARTMENT, "water"), True),
        (Principal("ed", Role.DEPARTMENT, "environment"), False),
        (Principal("res-1", Role.RESIDENT), True),
        (Principal("res-2", Role.RESIDENT), False),
    ],
)
def test_each_role_reads_within_its_jurisdiction_only(principal: Principal, allowed: bool) -> None:
    assert may_read(principal, _case()) is allowed


def test_a_street_or_grid_dispatched_to_sees_a_case_outside_its_territory() -> None:
    case = _case(units_involved=["street:S-2", "grid:G-9"])
    assert may_read(Principal("st", Role.STREET, "S-2"), case)
    assert may_read(Principal("gw", Role.GRID_WORKER, "G-9"), case)
    assert may_read(Principal("res-2", Role.RESIDENT), case, opened_by="res-2")


def test_action_roles_follow_the_domain() -> None:
    require_action_role(Principal("op", Role.DISPATCHER), "dispatch")
    for role, action in [
        (Role.RESIDENT, "dispatch"),
        (Role.DEPARTMENT, "verify"),
        (Role.COMMUNITY, "accept"),
        (Role.STREET, "report_in"),
        (Role.GRID_WORKER, "decide_appeal"),
    ]:
        with pytest.raises(AuthError) as err:
            require_action_role(Principal("x", role, "u"), action)
        assert err.value.status == 403 and err.value.rule == "role.not_allowed"
    # a resident's one action is rating their own case online (回访), when its callback is due
    assert {name for name, roles in ACTION_ROLES.items() if Role.RESIDENT in roles} == {"callback"}
    assert not any(Role.SYSTEM in roles for roles in ACTION_ROLES.values())


def test_list_scopes_and_live_scopes() -> None:
    assert list_scope(Principal("op", Role.DISPATCHER)) == {}
    assert list_scope(Principal("sv", Role.SUPERVISOR, "city")) == {}
    assert list_scope(Principal("sv", Role.SUPERVISOR, "D-1")) == {"district": "D-1"}
    assert list_scope(Principal("wd", Role.DEPARTMENT, "water")) == {"department": "water"}
    assert list_scope(Principal("res-1", Role.RESIDENT)) == {"resident": "res-1"}
    keys = {"district:D-1", "street:S-1", "grid:G-1", "community:C-1", "department:water"}
    assert scope_keys_match(Principal("wd", Role.DEPARTMENT, "water"), keys)
    assert not scope_keys_match(Principal("ed", Role.DEPARTMENT, "environment"), keys)
    assert scope_keys_match(Principal("sv", Role.SUPERVISOR, "D-1"), keys)
    assert not scope_keys_match(Principal("res-1", Role.RESIDENT), keys)
    assert scope_keys_match(Principal("op", Role.DISPATCHER), set())


def test_the_actor_is_the_principal() -> None:
    actor = Principal("gw-7", Role.GRID_WORKER, "G-1", "王五").actor()
    assert (actor.role, actor.person_id, actor.unit_id, actor.name) == (Role.GRID_WORKER, "gw-7", "G-1", "王五")


def test_ensure_user_is_idempotent_and_keeps_the_role(store: UserStore) -> None:
    a = store.ensure_user("demo-op", "Demo", Role.DISPATCHER)
    b = store.ensure_user("demo-op", "Demo", Role.DISPATCHER)
    assert a == b
    with pytest.raises(UserError, match="exists as dispatcher"):
        store.ensure_user("demo-op", "Demo", Role.STREET, "S-1")
