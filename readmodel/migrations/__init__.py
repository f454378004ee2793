"""Alembic migrations of the read model (``readmodel.db.migrate`` runs them)."""
