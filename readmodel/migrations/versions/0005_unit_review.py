"""Internal review, interim replies and corrections: six counters and the approver on rm_cases.

``reply_rounds``, ``sent_back_count``, ``interim_replies``, ``interim_late`` and ``corrections`` (0)
and ``approved_by`` (NULL). Rows projected before this revision get 0 and NULL, which is what they
are: no case was reviewed, replied to in the interim or corrected before those events existed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_rounds", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("sent_back_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("approved_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("interim_replies", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("interim_late", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("corrections", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.drop_column("corrections")
        batch_op.drop_column("interim_late")
        batch_op.drop_column("interim_replies")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("sent_back_count")
        batch_op.drop_column("reply_rounds")
