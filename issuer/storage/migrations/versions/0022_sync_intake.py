"""The sync intake journal: batches acknowledged before they are folded (ADR 0005).

- ``sync_intake``: with ``KIA_SYNC_INTAKE=journal`` the service checks a
  batch's token, chain and checkpoint, keeps the request's body here and
  acknowledges it; ``kia issuer intake fold`` then stores, checks and counts
  its records as inline ingest does, in arrival order, and deletes the row.
  Its primary key is its only index.  Inline ingest (the default) never
  writes to it.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_intake",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("terminal_id", sa.String(16), sa.ForeignKey("terminals.id"), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    # Batches still in the journal were acknowledged to their terminals: fold them first.
    pending = op.get_bind().execute(sa.text("SELECT count(*) FROM sync_intake")).scalar_one()
    if pending:
        raise RuntimeError(f"{pending} acknowledged batches are not folded yet; run kia issuer intake fold --once")
    op.drop_table("sync_intake")
