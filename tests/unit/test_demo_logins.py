"""The demo's login links: one demo user per staff role, each link signing in as its role."""

from __future__ import annotations

from pathlib import Path

from workers.api.app import create_engine_for
from workers.api.users import UserStore
from workers.demo import DEMO_ROLES, demo_logins, login_link
from workers.settings import Settings
from workers.sim.city import from_static
from workflows.domain.registry import sample_city


def _settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'demo.db'}")


def test_a_login_link_carries_the_token_in_the_fragment() -> None:
    assert login_link("http://127.0.0.1:8080/app", "gct_a_b") == "http://127.0.0.1:8080/app/login#token=gct_a_b"
    assert login_link("http://h:1/app/", "t") == "http://h:1/app/login#token=t"


def test_one_user_per_staff_role_on_the_citys_units(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    city = from_static(sample_city())
    logins = demo_logins(settings, "http://127.0.0.1:9/app", city)
    assert [x.role for x in logins] == [r for r, _, _ in DEMO_ROLES]
    first = city.grids[0]
    units = {x.role: x.unit_id for x in logins}
    assert units["dispatcher"] is None and units["supervisor"] == "city"
    assert (units["street"], units["community"], units["grid_worker"]) == (
        first.street_id,
        first.community_id,
        first.grid_id,
    )
    assert units["department"] in city.departments
    store = UserStore(create_engine_for(settings))
    for login in logins:
        assert login.url.startswith("http://127.0.0.1:9/app/login#token=gct_")
        user = store.authenticate(login.url.split("#token=", 1)[1])
        assert user is not None and user.user_id == login.user_id and user.role.value == login.role


def test_a_later_run_on_busier_units_gets_users_of_its_own(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    city = from_static(sample_city())
    before = {x.role: x for x in demo_logins(settings, "http://h/app", city)}
    other = next(g for g in city.grids if g.grid_id != city.grids[0].grid_id)
    after = {x.role: x for x in demo_logins(settings, "http://h/app", city, {"grid_worker": other.grid_id})}
    assert after["grid_worker"].unit_id == other.grid_id
    assert after["grid_worker"].user_id != before["grid_worker"].user_id  # users keep their unit
    assert after["street"].user_id == before["street"].user_id  # unchanged: the same user, a new token
    assert after["street"].url != before["street"].url
