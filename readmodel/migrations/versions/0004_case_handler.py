"""Work inside a unit: rm_cases.handler_id, section_id and assign_count, and an index on the handler.

Rows projected before this revision get NULL handler and section and a count of 0, which is what
they are: no case was assigned inside a unit before ``case.assigned`` existed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 14:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handler_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("section_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("assign_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_rm_cases_handler", ["handler_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_cases_handler")
        batch_op.drop_column("assign_count")
        batch_op.drop_column("section_id")
        batch_op.drop_column("handler_id")
