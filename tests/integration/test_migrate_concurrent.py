"""Several processes starting together (two projectors, two API replicas) migrate one database."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from readmodel.db import current_revision, head_revision, migrate

from .rm_db import fresh_database


@pytest.mark.postgres
def test_concurrent_migrations_on_postgres_all_succeed(tmp_path: Path) -> None:
    with fresh_database("postgres", tmp_path, migrated=False) as (url, engine):
        assert current_revision(engine) is None
        with ProcessPoolExecutor(4) as pool:
            errors = [f.exception() for f in [pool.submit(migrate, url) for _ in range(4)]]
        assert errors == [None, None, None, None]
        assert current_revision(engine) == head_revision()
