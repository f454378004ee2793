"""``gridcase report`` names the handlers from the API's user directory in the read model's database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from events.base import Role
from workers.api.users import UserStore
from workers.cli_readmodel import _person_names


def test_handlers_are_named_from_the_directory_and_a_database_without_one_names_nobody(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    assert _person_names(engine) == {}  # no directory tables: ids only, no failure
    store = UserStore(engine)
    store.create_tables()
    store.add_user("li", "李承办", Role.STREET, "S-1")
    store.add_user("wang", "王承办", Role.DEPARTMENT, "housing")
    assert _person_names(engine) == {"li": "李承办", "wang": "王承办"}
