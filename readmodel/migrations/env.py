"""Alembic environment of the read model: online migrations only, own version table."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection

from readmodel.db import VERSION_TABLE, make_engine
from readmodel.tables import metadata

config = context.config


def _serialise(connection: Connection) -> None:
    """On PostgreSQL, hold a transaction-level advisory lock while migrating, so processes starting
    together (two projectors, two API replicas) migrate one after the other: the second finds the
    schema at head and does nothing."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridcase-readmodel-migrate'))"))


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=metadata, version_table=VERSION_TABLE, render_as_batch=True
        )
        with context.begin_transaction():
            _serialise(connection)
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context.configure(
                connection=conn, target_metadata=metadata, version_table=VERSION_TABLE, render_as_batch=True
            )
            with context.begin_transaction():
                _serialise(conn)
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run `gridcase readmodel migrate`")
run_migrations_online()
