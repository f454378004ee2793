"""Read model tables: cases, timeline, assignments, clocks, whistles, callbacks, escalations.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 01:33:15.925603

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "rm_assignments",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("assignment_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_kind", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.String(length=128), nullable=False),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("final_ruling", sa.Boolean(), nullable=False),
        sa.Column("first_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("return_reason", sa.String(length=32), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_on_time", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "assignment_id"),
    )
    with op.batch_alter_table("rm_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_rm_assignments_unit", ["unit_kind", "unit_id"], unique=False)

    op.create_table(
        "rm_callbacks",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.String(length=32), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("unit_kind", sa.String(length=16), nullable=True),
        sa.Column("unit_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    op.create_table(
        "rm_case_timeline",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_unit", sa.String(length=128), nullable=True),
        sa.Column("actor_person", sa.String(length=128), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit_kind", sa.String(length=16), nullable=True),
        sa.Column("unit_id", sa.String(length=128), nullable=True),
        sa.Column("clock_id", sa.String(length=64), nullable=True),
        sa.Column("clock_kind", sa.String(length=32), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    op.create_table(
        "rm_cases",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("district_id", sa.String(length=128), nullable=True),
        sa.Column("street_id", sa.String(length=128), nullable=True),
        sa.Column("community_id", sa.String(length=128), nullable=True),
        sa.Column("grid_id", sa.String(length=128), nullable=True),
        sa.Column("unit_kind", sa.String(length=16), nullable=True),
        sa.Column("unit_id", sa.String(length=128), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closure_type", sa.String(length=16), nullable=True),
        sa.Column("rating", sa.String(length=32), nullable=True),
        sa.Column("callback_resolved", sa.Boolean(), nullable=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("dispatch_count", sa.Integer(), nullable=False),
        sa.Column("return_count", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("whistle_count", sa.Integer(), nullable=False),
        sa.Column("escalation_count", sa.Integer(), nullable=False),
        sa.Column("self_handled", sa.Boolean(), nullable=False),
        sa.Column("shelved", sa.Boolean(), nullable=False),
        sa.Column("shelved_from", sa.String(length=32), nullable=True),
        sa.Column("terminated", sa.Boolean(), nullable=False),
        sa.Column("excluded_from_evaluation", sa.Boolean(), nullable=False),
        sa.Column("merged_into", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.create_index("ix_rm_cases_grid", ["grid_id"], unique=False)
        batch_op.create_index("ix_rm_cases_next_due", ["next_due_at"], unique=False)
        batch_op.create_index("ix_rm_cases_opened", ["opened_at"], unique=False)
        batch_op.create_index("ix_rm_cases_status", ["status"], unique=False)
        batch_op.create_index("ix_rm_cases_street", ["street_id"], unique=False)

    op.create_table(
        "rm_clocks",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("unit_kind", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("budget_seconds", sa.Float(), nullable=False),
        sa.Column("working_time", sa.Boolean(), nullable=False),
        sa.Column("extended_seconds", sa.Float(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("rungs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "clock_id"),
    )
    with op.batch_alter_table("rm_clocks", schema=None) as batch_op:
        batch_op.create_index("ix_rm_clocks_unit", ["unit_kind", "unit_id"], unique=False)

    op.create_table(
        "rm_escalations",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=True),
        sa.Column("clock_kind", sa.String(length=32), nullable=True),
        sa.Column("unit_kind", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.String(length=128), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    op.create_table(
        "rm_whistles",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.String(length=128), nullable=False),
        sa.Column("blown_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("departments", sa.Integer(), nullable=False),
        sa.Column("reported", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "round"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("rm_whistles")
    op.drop_table("rm_escalations")
    with op.batch_alter_table("rm_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_clocks_unit")

    op.drop_table("rm_clocks")
    with op.batch_alter_table("rm_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_cases_street")
        batch_op.drop_index("ix_rm_cases_status")
        batch_op.drop_index("ix_rm_cases_opened")
        batch_op.drop_index("ix_rm_cases_next_due")
        batch_op.drop_index("ix_rm_cases_grid")

    op.drop_table("rm_cases")
    op.drop_table("rm_case_timeline")
    op.drop_table("rm_callbacks")
    with op.batch_alter_table("rm_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_assignments_unit")

    op.drop_table("rm_assignments")
