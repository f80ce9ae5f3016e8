"""The programme's figures of each day, in stripes by partner, for reports of the programme by day.

- ``redemption_programme_days``: per local day and stripe (``partner_id %
  16``), the per-partner day rows summed (filled here from
  ``redemption_partner_days``) and ``cards``, the programme cards of the
  stripe's partners that day (from ``redemption_card_counts``).  A report of
  the whole programme by day reads 16 rows a day at most, not one per
  partner; two partners' batches of a day update one row only when their
  partners share a stripe.

issuer.summaries keeps it from now on.  Downgrading drops it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

FIGURES = ("scans", "accepted", "gross", "discount", "net", "held", "flagged")
STRIPES = 16


def upgrade() -> None:
    op.create_table(
        "redemption_programme_days",
        sa.Column("day", sa.Integer(), primary_key=True),
        sa.Column("stripe", sa.SmallInteger(), primary_key=True),
        sa.Column("month", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in (*FIGURES, "cards")),
    )
    op.execute(f"INSERT INTO redemption_programme_days (day, stripe, month, {', '.join(FIGURES)}) "  # noqa: S608
               f"SELECT day, partner_id % {STRIPES}, MIN(month), {', '.join(f'SUM({name})' for name in FIGURES)} "
               f"FROM redemption_partner_days GROUP BY day, partner_id % {STRIPES}")
    # Cards are counted only with counted records, so each day and stripe with cards has a row already.
    op.execute(f"UPDATE redemption_programme_days SET cards = c.cards FROM ("  # noqa: S608
               f"SELECT period, partner_id % {STRIPES} AS stripe, SUM(programme_cards) AS cards "
               f"FROM redemption_card_counts WHERE period >= 1000000 GROUP BY period, partner_id % {STRIPES}) AS c "
               f"WHERE redemption_programme_days.day = c.period AND redemption_programme_days.stripe = c.stripe")


def downgrade() -> None:
    op.drop_table("redemption_programme_days")
