"""Proof: a table is written and read through SQLAlchemy on SQLite and, when configured, PostgreSQL.

The PostgreSQL lane runs when GRIDCASE_TEST_POSTGRES_URL is set (CI sets it) and is skipped otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    select,
    update,
)

from deploy import stack
from readmodel.urls import mask_url
from workers.settings import Settings

pytestmark = pytest.mark.integration

PG_ENV = "GRIDCASE_TEST_POSTGRES_URL"


def _url(lane: str, tmp_path: Path) -> str:
    if lane == "sqlite":
        return f"sqlite:///{tmp_path / 'proof.db'}"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(_url(request.param, tmp_path))
    try:
        yield eng
    finally:
        eng.dispose()


def test_table_written_and_read(engine: Engine) -> None:
    name = f"proof_cases_{uuid.uuid4().hex[:10]}"
    md = MetaData()
    cases = Table(
        name,
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("case_no", String(40), nullable=False, unique=True),
        Column("district", String(80), nullable=False),
        Column("breached", Boolean, nullable=False, default=False),
        Column("opened_at", DateTime(timezone=True), nullable=False),
    )
    opened = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    md.create_all(engine)
    try:
        assert inspect(engine).has_table(name)
        with engine.begin() as conn:
            conn.execute(
                insert(cases),
                [
                    {"case_no": "12345-0001", "district": "东城区", "opened_at": opened},
                    {"case_no": "12345-0002", "district": "西城区", "opened_at": opened},
                ],
            )
            conn.execute(update(cases).where(cases.c.case_no == "12345-0002").values(breached=True))

        # A rolled-back transaction leaves nothing behind.
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.execute(insert(cases).values(case_no="12345-0003", district="x", opened_at=opened))
            raise RuntimeError("roll back")

        with engine.connect() as conn:
            rows = conn.execute(select(cases.c.case_no, cases.c.district, cases.c.breached).order_by(cases.c.id))
            assert [tuple(r) for r in rows] == [
                ("12345-0001", "东城区", False),
                ("12345-0002", "西城区", True),
            ]
            got = conn.execute(select(cases.c.opened_at).where(cases.c.case_no == "12345-0001")).scalar_one()
            assert got.replace(tzinfo=got.tzinfo or UTC) == opened
    finally:
        md.drop_all(engine)
    assert not inspect(engine).has_table(name)


def test_stack_reports_its_database_healthy(stack_settings: Settings) -> None:
    sql = stack.status(stack_settings)[stack.SQL]
    assert sql.ok, sql
    assert sql.address == mask_url(stack_settings.resolved_database_url)
