"""Schools and clinics as institutions with their own accounts; batch steps with who and when.

- ``institutions``: the schools (Smart Kids) and clinics (Alibaba) that
  submit children for cards.
- ``users.institution_id`` and the role ``institution``: an account held to
  its own institution, as a partner manager is to its partner.
- ``batches.institution_id`` and ``file_sha256``: who sent a batch, and the
  file's hash so the same file is not submitted twice.
- ``batch_steps``: each state a batch reached, who moved it, and when (the
  existing batches get their submission as their first step).
- ``batch_children``: the children a batch asks cards for (line, the school's
  own id, the serial once the office signs); ``batch_refused_rows``: the rows
  refused, by line, field and error code, for the institution to see later.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

STATES = "state IN ('submitted', 'verified', 'printed', 'handed_over')"
OLD_ROLES = "role IN ('admin', 'officer', 'partner_manager', 'auditor')"
ROLES = "role IN ('admin', 'officer', 'partner_manager', 'auditor', 'institution')"


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("region", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("kind IN ('school', 'clinic')", name="institution_kind"),
    )
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("institution_id", sa.Integer(), nullable=True))
        table.create_foreign_key("fk_users_institution_id", "institutions", ["institution_id"], ["id"])
        table.drop_constraint("user_role", type_="check")
        table.create_check_constraint("user_role", ROLES)
        table.create_check_constraint("user_institution_for_accounts",
                                      "(role = 'institution') = (institution_id IS NOT NULL)")
    with op.batch_alter_table("batches") as table:
        table.add_column(sa.Column("institution_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("file_sha256", sa.String(64), nullable=True))
        table.create_foreign_key("fk_batches_institution_id", "institutions", ["institution_id"], ["id"])
    op.create_index("ix_batches_institution_file", "batches", ["institution_id", "file_sha256"])
    op.create_table(
        "batch_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.CheckConstraint(STATES, name="batch_step_state"),
    )
    op.create_index("ix_batch_steps_batch_id", "batch_steps", ["batch_id"])
    # The batches so far were submitted by someone the trail does not name here; the audit trail does.
    op.execute("INSERT INTO batch_steps (batch_id, state, at, username) "
               "SELECT id, 'submitted', submitted_at, '?' FROM batches")
    op.create_table(
        "batch_children",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("child_id", sa.Integer(), sa.ForeignKey("children.id"), nullable=False),
        sa.Column("serial", sa.String(8), sa.ForeignKey("cards.serial"), nullable=True),
    )
    op.create_index("ux_batch_children_line", "batch_children", ["batch_id", "line"], unique=True)
    op.create_index("ix_batch_children_child_id", "batch_children", ["child_id"])
    op.create_table(
        "batch_refused_rows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(20), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("ref", sa.Integer(), nullable=True),
    )
    op.create_index("ix_batch_refused_rows_batch_id", "batch_refused_rows", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_batch_refused_rows_batch_id", table_name="batch_refused_rows")
    op.drop_table("batch_refused_rows")
    op.drop_index("ix_batch_children_child_id", table_name="batch_children")
    op.drop_index("ux_batch_children_line", table_name="batch_children")
    op.drop_table("batch_children")
    op.drop_index("ix_batch_steps_batch_id", table_name="batch_steps")
    op.drop_table("batch_steps")
    op.drop_index("ix_batches_institution_file", table_name="batches")
    with op.batch_alter_table("batches") as table:
        table.drop_constraint("fk_batches_institution_id", type_="foreignkey")
        table.drop_column("file_sha256")
        table.drop_column("institution_id")
    # Institution accounts have no role before this revision: they go with their institutions.
    op.execute("DELETE FROM sign_in_sessions WHERE user_id IN (SELECT id FROM users WHERE role = 'institution')")
    op.execute("DELETE FROM users WHERE role = 'institution'")
    with op.batch_alter_table("users") as table:
        table.drop_constraint("user_institution_for_accounts", type_="check")
        table.drop_constraint("user_role", type_="check")
        table.create_check_constraint("user_role", OLD_ROLES)
        table.drop_constraint("fk_users_institution_id", type_="foreignkey")
        table.drop_column("institution_id")
    op.drop_table("institutions")
