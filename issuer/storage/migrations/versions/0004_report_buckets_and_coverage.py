"""Report buckets on redemptions (local day and month) and eligible children per region.

`day` (YYYYMMDD) and `month` (YYYYMM) are the partner region's local date of
the decision, set at ingest, so reports group by plain integers on SQLite
and PostgreSQL alike and the monthly report reads one index range.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("redemptions") as table:
        table.add_column(sa.Column("day", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("month", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_redemptions_partner_month", "redemptions", ["partner_id", "month"])
    op.create_index("ix_redemptions_partner_day", "redemptions", ["partner_id", "day"])
    op.create_table(
        "region_eligibility",
        sa.Column("region", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("eligible_children", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.CheckConstraint("eligible_children >= 0", name="eligible_children_not_negative"),
    )


def downgrade() -> None:
    op.drop_table("region_eligibility")
    op.drop_index("ix_redemptions_partner_day", table_name="redemptions")
    op.drop_index("ix_redemptions_partner_month", table_name="redemptions")
    with op.batch_alter_table("redemptions") as table:
        table.drop_column("month")
        table.drop_column("day")
