"""Reports from daily summaries kept at ingest, and an index of counted cards.

- ``redemption_summaries``: per (partner, local day, service, category) the
  scans, accepted, gross, discount, net, held and flagged figures that
  reports sum (issuer.summaries keeps them from now on, in the transaction
  that stores or releases a record).  Filled here from every redemption
  already stored, grouped as ingest groups them; a record without a category
  is filed under "".
- ``ix_redemptions_counted_cards``: (partner_id, day, serial) of accepted
  records no check holds, partial on both databases (on PostgreSQL it
  INCLUDEs the service, for a partner's report per service), so that the one
  figure a summary cannot keep, unique cards, is counted from the index alone.

On PostgreSQL the backfill reads the whole table once and the index is built
while the table is locked against writes (sync ingest waits): for 10 million
rows on the benchmark machine, see docs/benchmarks.md.  Downgrading drops both;
reports of earlier revisions read redemptions only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COUNTED = "accepted AND NOT held"


def upgrade() -> None:
    op.create_table(
        "redemption_summaries",
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), primary_key=True),
        sa.Column("day", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("category", sa.String(16), primary_key=True),
        sa.Column("month", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False)
          for name in ("scans", "accepted", "gross", "discount", "net", "held", "flagged")),
    )
    op.create_index("ix_redemption_summaries_day", "redemption_summaries", ["day"])
    op.execute(
        "INSERT INTO redemption_summaries (partner_id, day, service, category, month, scans, accepted, gross, "
        "discount, net, held, flagged) "
        "SELECT partner_id, day, service, COALESCE(category, ''), day / 100, COUNT(*), "
        "SUM(CASE WHEN accepted AND NOT held THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN accepted AND NOT held THEN price ELSE 0 END), "
        "SUM(CASE WHEN accepted AND NOT held THEN discount ELSE 0 END), "
        "SUM(CASE WHEN accepted AND NOT held THEN paid ELSE 0 END), "
        "SUM(CASE WHEN accepted AND held THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN accepted AND NOT held AND flagged THEN 1 ELSE 0 END) "
        "FROM redemptions GROUP BY partner_id, day, service, COALESCE(category, '')"
    )
    op.create_index("ix_redemptions_counted_cards", "redemptions", ["partner_id", "day", "serial"],
                    postgresql_include=["service"], postgresql_where=sa.text(COUNTED), sqlite_where=sa.text(COUNTED))


def downgrade() -> None:
    op.drop_index("ix_redemptions_counted_cards", table_name="redemptions")
    op.drop_index("ix_redemption_summaries_day", table_name="redemption_summaries")
    op.drop_table("redemption_summaries")
