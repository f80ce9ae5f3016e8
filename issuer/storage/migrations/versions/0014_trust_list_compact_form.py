"""The trust list's second form (issue 14, docs/adr/0002): Golomb-Rice coded, unencoded payload.

``trust_lists.jws2`` and ``trust_list_deltas.jws2`` hold the ``kia-tl2`` /
``kia-tl2-delta`` token signed beside the first form.  Nullable: lists and
deltas published before this revision (or imported from a bundle signed
without it) have the first form only, and the API serves that form to a
terminal that asks for the second (it tells the form by ``typ``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trust_lists") as batch:
        batch.add_column(sa.Column("jws2", sa.Text(), nullable=True))
    with op.batch_alter_table("trust_list_deltas") as batch:
        batch.add_column(sa.Column("jws2", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trust_list_deltas") as batch:
        batch.drop_column("jws2")
    with op.batch_alter_table("trust_lists") as batch:
        batch.drop_column("jws2")
