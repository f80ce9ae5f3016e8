"""A row per partner and day, and per partner and month, for reports that do not split services.

- ``redemption_partner_days`` and ``redemption_partner_months``: the daily
  and monthly summaries summed over services and age categories (filled
  here from them).  Every report but one per service sums these: with two
  services and four categories a partner's day is one row instead of eight,
  which is what keeps reports over hundreds of partners fast
  (docs/benchmarks.md).

issuer.summaries keeps them from now on, in the statements that keep the
summaries.  Downgrading drops them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

FIGURES = ("scans", "accepted", "gross", "discount", "net", "held", "flagged")
SUMS = ", ".join(f"SUM({name})" for name in FIGURES)


def upgrade() -> None:
    for table, period, source, extra in (("redemption_partner_days", "day", "redemption_summaries", ("month",)),
                                         ("redemption_partner_months", "month", "redemption_summary_months", ())):
        op.create_table(
            table,
            sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), primary_key=True),
            sa.Column(period, sa.Integer(), primary_key=True),
            *(sa.Column(name, sa.Integer(), nullable=False) for name in extra),
            *(sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES),
        )
        keys = ", ".join(("partner_id", period, *extra))
        op.execute(f"INSERT INTO {table} ({keys}, {', '.join(FIGURES)}) "  # noqa: S608
                   f"SELECT {keys}, {SUMS} FROM {source} GROUP BY {keys}")
        included = ["partner_id", *(name for name in extra), *FIGURES]
        op.create_index(f"ix_{table}_{period}", table, [period],
                        postgresql_include=included)


def downgrade() -> None:
    op.drop_index("ix_redemption_partner_months_month", table_name="redemption_partner_months")
    op.drop_table("redemption_partner_months")
    op.drop_index("ix_redemption_partner_days_day", table_name="redemption_partner_days")
    op.drop_table("redemption_partner_days")
