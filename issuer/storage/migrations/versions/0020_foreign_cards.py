"""Cards of other regions: the record's ``home`` and the national directory the office holds.

- ``redemptions.home``: the card's home region when a federated terminal
  accepted (or refused) a card of another office (docs/federation.md,
  ADR 0003); NULL for the office's own cards, so every earlier record stays
  as it was.  A partial index on (home, month) finds a region's visits
  without reading the office's own records.
- ``national_trust``: one row, the national root the office pinned and the
  last directory it took under it, against which ingest checks ``home``.
- ``received_visits``: the figures other offices signed of this office's
  cards used at their partners, a month and office a row, kept as signed.

Downgrading drops both; records with ``home`` would then no longer hash as
their terminals signed them, so the downgrade refuses while any exists.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("redemptions", sa.Column("home", sa.SmallInteger(), nullable=True))
    op.create_index("ix_redemptions_home_month", "redemptions", ["home", "month"],
                    postgresql_where=sa.text("home IS NOT NULL"), sqlite_where=sa.text("home IS NOT NULL"))
    op.create_table(
        "national_trust",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("root_jwk", sa.JSON(), nullable=False),
        sa.Column("directory", sa.Text(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("taken_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("id = 1", name="national_trust_single_row"),
    )
    op.create_table(
        "received_visits",
        sa.Column("region", sa.SmallInteger(), primary_key=True),
        sa.Column("month", sa.Integer(), primary_key=True),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("taken_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().scalar(sa.text("SELECT 1 FROM redemptions WHERE home IS NOT NULL LIMIT 1")):
        raise RuntimeError("records of other regions' cards are held: their hashes need the home column")
    op.drop_table("received_visits")
    op.drop_table("national_trust")
    op.drop_index("ix_redemptions_home_month", table_name="redemptions")
    with op.batch_alter_table("redemptions") as table:
        table.drop_column("home")
