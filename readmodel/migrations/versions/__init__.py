"""Alembic revisions of the read model."""
