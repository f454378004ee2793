"""The API's own tables (users, tokens, intakes) on PostgreSQL, next to a migrated read model.

Needs ``GRIDCASE_TEST_POSTGRES_URL``; skipped without it. The API creates its tables when they are
missing, beside the read model's Alembic-managed tables, without touching them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from events.base import Role
from tests.integration.rm_db import fresh_database
from workers.api.users import UserError, UserStore

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_users_and_tokens_on_postgresql(tmp_path: Path) -> None:
    with fresh_database("postgres", tmp_path) as (_url, engine):
        before = set(inspect(engine).get_table_names())
        store = UserStore(engine)
        store.create_tables()
        store.create_tables()
        after = set(inspect(engine).get_table_names())
        assert after - before == {"api_users", "api_tokens", "api_intakes", "api_intake_keys", "api_user_duties"}
        # an intake key is bound to its first body's fingerprint; a retry reads that binding back
        assert store.bind_intake_key("op-1:k1", "C1", "fp-a") == "fp-a"
        assert store.bind_intake_key("op-1:k1", "C1", "fp-a") == "fp-a"
        assert store.bind_intake_key("op-1:k1", "C1", "fp-b") == "fp-a"
        assert store.bind_intake_key("op-2:k1", "C2", "fp-b") == "fp-b"
        store.add_user("op-1", "值班员", Role.DISPATCHER)
        with pytest.raises(UserError, match="already exists"):
            store.add_user("op-1", "again", Role.DISPATCHER)
        token, info = store.issue_token("op-1", "desk")
        user = store.authenticate(token)
        assert user is not None and user.name == "值班员" and user.created_at.tzinfo is not None
        store.revoke_token(info.token_id)
        assert store.authenticate(token) is None
        store.record_intake("C1", "op-1", Role.DISPATCHER, "k")
        store.record_intake("C1", "op-2", Role.DISPATCHER, "k")
        assert store.opened_by("C1") == "op-1" and store.cases_opened_by("op-1") == ["C1"]
        # duties inside a unit, on PostgreSQL too
        from events.base import Duty

        store.add_user("h-1", "李", Role.DEPARTMENT, "housing")
        store.add_user("h-2", "王", Role.DEPARTMENT, "housing")
        assert store.set_duties("h-1", ["reviewer", "reviewer"]) == (Duty.REVIEWER,)
        assert store.effective_duties(Role.DEPARTMENT, "housing", store.duties_of("h-2")) == (Duty.COORDINATOR,)
        assert store.all_duties() == {"h-1": (Duty.REVIEWER,)}
