"""Reports of whole months and exact unique cards from what ingest keeps, not from redemptions.

- ``redemption_summary_months``: ``redemption_summaries`` by month, so a
  report of a year sums twelve rows per key instead of 365 (filled here from
  the daily summaries).
- ``redemption_cards``: the distinct cards of counted records (accepted, not
  held, with a serial, on a known day) per scope (a partner's id, or 0 for
  the programme) and local month (YYYYMM), with the days of the month they
  were counted on as bits.  Serials compare byte-wise on PostgreSQL.
- ``redemption_card_counts``: per partner and period, the partner's unique
  cards and the cards new to the programme whose first counted record was
  the partner's (filled here by giving each programme card to the lowest
  partner id that counted it).

issuer.summaries keeps all three from now on, in the transaction that stores
or releases a record.  On PostgreSQL the backfill reads the counted-cards
table a few times; for 10 million rows see docs/benchmarks.md.
Downgrading drops the three tables; reports of earlier revisions read the
daily summaries and redemptions.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FIGURES = ("scans", "accepted", "gross", "discount", "net", "held", "flagged")


def upgrade() -> None:
    op.create_table(
        "redemption_summary_months",
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), primary_key=True),
        sa.Column("month", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("category", sa.String(16), primary_key=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES),
    )
    op.create_index("ix_redemption_summary_months_month", "redemption_summary_months", ["month"])
    op.execute("INSERT INTO redemption_summary_months (partner_id, month, service, category, scans, accepted, gross, "
               "discount, net, held, flagged) "
               "SELECT partner_id, month, service, category, SUM(scans), SUM(accepted), SUM(gross), SUM(discount), "
               "SUM(net), SUM(held), SUM(flagged) FROM redemption_summaries "
               "GROUP BY partner_id, month, service, category")
    op.create_table(
        "redemption_cards",
        sa.Column("scope", sa.Integer(), primary_key=True),
        sa.Column("month", sa.Integer(), primary_key=True),
        sa.Column("serial", sa.String(16).with_variant(postgresql.VARCHAR(16, collation="C"), "postgresql"),
                  primary_key=True),
        sa.Column("days", sa.Integer(), nullable=False),
    )
    op.create_table(
        "redemption_card_counts",
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), primary_key=True),
        sa.Column("period", sa.Integer(), primary_key=True),
        sa.Column("partner_cards", sa.BigInteger(), nullable=False),
        sa.Column("programme_cards", sa.BigInteger(), nullable=False),
    )
    # A month's days as bits: the sum of distinct powers of two is their OR, on both databases.
    op.execute("INSERT INTO redemption_cards (scope, month, serial, days) "
               "SELECT partner_id, day / 100, serial, SUM(DISTINCT 1 << (day % 100 - 1)) FROM redemptions "
               "WHERE accepted AND NOT held AND serial IS NOT NULL AND day > 0 GROUP BY partner_id, day / 100, serial")
    op.execute("INSERT INTO redemption_cards (scope, month, serial, days) "
               "SELECT 0, day / 100, serial, SUM(DISTINCT 1 << (day % 100 - 1)) FROM redemptions "
               "WHERE accepted AND NOT held AND serial IS NOT NULL AND day > 0 GROUP BY day / 100, serial")
    # Counts: each partner's cards by day and month; the programme's, each card given to the lowest partner
    # that counted it in the period.
    op.execute(
        "INSERT INTO redemption_card_counts (partner_id, period, partner_cards, programme_cards) "
        "SELECT partner_id, period, SUM(partner_cards), SUM(programme_cards) FROM ("
        "SELECT partner_id, period, COUNT(*) AS partner_cards, 0 AS programme_cards FROM ("
        "SELECT DISTINCT partner_id, day AS period, serial FROM redemptions "
        "WHERE accepted AND NOT held AND serial IS NOT NULL AND day > 0) AS days GROUP BY partner_id, period "
        "UNION ALL SELECT scope, month, COUNT(*), 0 FROM redemption_cards WHERE scope > 0 GROUP BY scope, month "
        "UNION ALL SELECT partner_id, period, 0, COUNT(*) FROM ("
        "SELECT day AS period, serial, MIN(partner_id) AS partner_id FROM redemptions "
        "WHERE accepted AND NOT held AND serial IS NOT NULL AND day > 0 GROUP BY day, serial) AS firsts "
        "GROUP BY partner_id, period "
        "UNION ALL SELECT partner_id, period, 0, COUNT(*) FROM ("
        "SELECT day / 100 AS period, serial, MIN(partner_id) AS partner_id FROM redemptions "
        "WHERE accepted AND NOT held AND serial IS NOT NULL AND day > 0 GROUP BY day / 100, serial) AS firsts "
        "GROUP BY partner_id, period"
        ") AS counts GROUP BY partner_id, period")
    op.create_index("ix_redemption_card_counts_period", "redemption_card_counts", ["period"],
                    postgresql_include=["partner_id", "partner_cards", "programme_cards"])


def downgrade() -> None:
    op.drop_table("redemption_card_counts")
    op.drop_table("redemption_cards")
    op.drop_table("redemption_summary_months")
