"""The case's point: rm_cases.lat and rm_cases.lon (nullable), from the intake's coordinates.

Rows projected before this revision keep NULL (the map places them at their grid) until the read
model is rebuilt (``gridcase readmodel rebuild --yes``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.drop_column("lon")
        batch_op.drop_column("lat")
