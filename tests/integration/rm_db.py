"""Fresh, migrated read-model databases for tests: a SQLite file, or a new PostgreSQL database.

The PostgreSQL lane needs ``GRIDCASE_TEST_POSTGRES_URL`` (a role allowed to create databases) and
is skipped without it; each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from readmodel.db import make_engine, migrate

PG_ENV = "GRIDCASE_TEST_POSTGRES_URL"
LANES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def fresh_database(lane: str, tmp_path: Path, *, migrated: bool = True) -> Iterator[tuple[str, Engine]]:
    """``(url, engine)`` of a new read-model database on ``lane``, migrated unless told otherwise."""
    if lane == "sqlite":
        url = f"sqlite:///{tmp_path / f'rm-{uuid.uuid4().hex[:8]}.db'}"
        if migrated:
            migrate(url)
        engine = make_engine(url)
        try:
            yield url, engine
        finally:
            engine.dispose()
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    name = f"gridcase_rm_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    for attempt in range(10):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            break
        except OperationalError as err:
            # CREATE DATABASE copies template1 and fails while another session (a parallel test
            # creating its own database) is connected to it: try again shortly.
            if "being accessed by other users" not in str(err) or attempt == 9:
                raise
            time.sleep(0.3 + 0.2 * attempt)
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        if migrated:
            migrate(url)
        yield url, engine
    finally:
        engine.dispose()
        _drop(admin, name)
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    """Drop a scratch database; an autovacuum worker still in it (not ours to terminate) delays it."""
    for attempt in range(10):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError as err:
            if attempt == 9:
                warnings.warn(f"scratch database {name} left behind: {err}", stacklevel=2)
                return
            time.sleep(0.5)
