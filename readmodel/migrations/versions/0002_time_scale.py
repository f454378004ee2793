"""Time scale of compressed cases: rm_cases.time_scale and rm_clocks.time_scale (nullable).

Rows projected before this revision keep NULL (read as real time) until the read model is rebuilt
(``gridcase readmodel rebuild --yes``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 02:55:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_scale", sa.Float(), nullable=True))
    with op.batch_alter_table("rm_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_scale", sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("rm_clocks", schema=None) as batch_op:
        batch_op.drop_column("time_scale")
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.drop_column("time_scale")
