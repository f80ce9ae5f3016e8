"""Keep the signed trust lists and their deltas, for the API to serve.

The service never holds the root key: `kia issuer trustlist export` signs on
the office's offline machine and stores the signed list, and the deltas
from recent sequences to it, for terminals to fetch.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trust_lists") as table:
        table.add_column(sa.Column("jws", sa.Text(), nullable=True))
    op.create_table(
        "trust_list_deltas",
        sa.Column("from_seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), sa.ForeignKey("trust_lists.seq"), primary_key=True, autoincrement=False),
        sa.Column("jws", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trust_list_deltas")
    with op.batch_alter_table("trust_lists") as table:
        table.drop_column("jws")
