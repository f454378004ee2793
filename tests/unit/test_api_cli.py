"""``gridcase users ...`` on a SQLite file (pure: no services)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from city.files import write_city
from events.base import Role
from tests.unit.test_city_files import tiny_city
from workers.api.cli import users_app
from workers.api.users import UserStore
from workers.settings import get_settings


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    write_city(tiny_city(), tmp_path / "city")  # the units users act for must exist in it
    monkeypatch.setenv("GRIDCASE_CITY_DATA_DIR", str(tmp_path / "city"))
    monkeypatch.setenv("GRIDCASE_DATABASE_URL", url)
    monkeypatch.setenv("GRIDCASE_API_JWT_SECRET", "cli-test-secret-of-a-decent-length-000000")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_add_list_token_revoke(db: str) -> None:
    runner = CliRunner()
    added = runner.invoke(users_app, ["add", "zhang.wei", "--role", "street", "--unit", "S-1", "--name", "张伟"])
    assert added.exit_code == 0, added.output
    token = re.search(r"^(gct_\S+)$", added.output, re.M)
    assert token is not None
    store = UserStore(create_engine(db))
    user = store.authenticate(token.group(1))
    assert user is not None and (user.user_id, user.unit_id, user.name) == ("zhang.wei", "S-1", "张伟")

    listed = runner.invoke(users_app, ["list"])
    assert listed.exit_code == 0 and "zhang.wei" in listed.output and "active" in listed.output
    assert token.group(1) not in listed.output, "a token is shown once, at creation"
    token_id = store.list_tokens("zhang.wei")[0].token_id

    second = runner.invoke(users_app, ["token", "zhang.wei", "--label", "tablet"])
    assert second.exit_code == 0 and "gct_" in second.output
    assert runner.invoke(users_app, ["revoke", token_id]).exit_code == 0
    assert store.authenticate(token.group(1)) is None
    assert "revoked" in runner.invoke(users_app, ["list"]).output

    jwt = runner.invoke(users_app, ["jwt", "zhang.wei", "--ttl", "60"])
    assert jwt.exit_code == 0 and jwt.output.count(".") >= 2

    disabled = runner.invoke(users_app, ["revoke", "--user", "zhang.wei"])
    assert disabled.exit_code == 0 and "1 token(s) revoked" in disabled.output


def test_bad_input_is_refused_with_the_field(db: str) -> None:
    runner = CliRunner()
    r = runner.invoke(users_app, ["add", "x", "--role", "street"])
    assert r.exit_code == 2 and "unit: a street acts for a unit" in r.output
    r = runner.invoke(users_app, ["add", "x", "--role", "mayor"])
    assert r.exit_code == 2 and "--role: one of" in r.output
    r = runner.invoke(users_app, ["token", "nobody"])
    assert r.exit_code == 2 and "user: no user 'nobody'" in r.output
    r = runner.invoke(users_app, ["revoke"])
    assert r.exit_code == 2 and "give a token id or --user" in r.output


#: A known unit of the tiny city and an unknown one, for every role that acts for a unit.
UNIT_ROLES = {
    Role.GRID_WORKER: ("G-101", "G-999"),
    Role.COMMUNITY: ("C-10", "C-99"),
    Role.STREET: ("S-1", "S-9"),
    Role.DEPARTMENT: ("water", "fire-brigade"),
    Role.SUPERVISOR: ("D-1", "D-9"),
}


@pytest.mark.parametrize("role", list(UNIT_ROLES), ids=str)
def test_units_must_exist_in_the_city_registry(db: str, role: Role) -> None:
    known, unknown = UNIT_ROLES[role]
    runner = CliRunner()
    refused = runner.invoke(users_app, ["add", f"bad-{role.value}", "--role", role.value, "--unit", unknown])
    assert refused.exit_code == 2, refused.output
    assert refused.output.count("\n") == 1
    assert refused.output.startswith(f"invalid input: unit: {unknown!r} is not a ")
    assert "registry.unknown_unit" in refused.output
    assert UserStore(create_engine(db)).get_user(f"bad-{role.value}") is None

    added = runner.invoke(users_app, ["add", f"ok-{role.value}", "--role", role.value, "--unit", known, "--no-token"])
    assert added.exit_code == 0, added.output


def test_a_city_wide_supervisor_and_unitless_roles_need_no_registry_unit(db: str) -> None:
    runner = CliRunner()
    assert runner.invoke(users_app, ["add", "city-sv", "--role", "supervisor", "--unit", "city"]).exit_code == 0
    assert runner.invoke(users_app, ["add", "op-9", "--role", "dispatcher"]).exit_code == 0
    assert runner.invoke(users_app, ["add", "res-1", "--role", "resident"]).exit_code == 0
