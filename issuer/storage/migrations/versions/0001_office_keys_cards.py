"""The office, its issuing keys, children, batches, cards and published trust lists.

The file-based home of the first version (kia-issuer.json) is imported into
these tables by `kia issuer db upgrade`.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "office",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("root_kid", sa.String(8), nullable=False),
        sa.Column("root_jwk", sa.JSON(), nullable=False),
        sa.Column("root_key_file", sa.String(200), nullable=False),
        sa.Column("trust_list_seq", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name="office_single_row"),
    )
    op.create_table(
        "issuing_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kid", sa.String(8), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("key_file", sa.String(200), nullable=False),
        sa.CheckConstraint("state IN ('active', 'retired', 'revoked')", name="issuing_key_state"),
    )
    op.create_index("ix_issuing_keys_kid", "issuing_keys", ["kid"])
    op.create_table(
        "children",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("region", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("nik", sa.String(16), nullable=True, unique=True),
        sa.Column("school", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("submitted_at", sa.BigInteger(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.CheckConstraint("channel IN ('counter', 'school', 'clinic', 'import')", name="batch_channel"),
        sa.CheckConstraint("state IN ('submitted', 'verified', 'printed', 'handed_over')", name="batch_state"),
    )
    op.create_table(
        "cards",
        sa.Column("serial", sa.String(8), primary_key=True),
        sa.Column("child_id", sa.Integer(), sa.ForeignKey("children.id"), nullable=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batches.id"), nullable=True),
        sa.Column("region", sa.Integer(), nullable=False),
        sa.Column("birth_month", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("kid", sa.String(8), nullable=False),
        sa.Column("token", sa.String(400), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("revocation_reason", sa.String(200), nullable=True),
        sa.Column("replaced_by", sa.String(8), sa.ForeignKey("cards.serial"), nullable=True),
        sa.Column("listed_seq", sa.Integer(), nullable=True),
        sa.Column("unlisted_seq", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('active', 'revoked', 'replaced')", name="card_state"),
    )
    op.create_index("ix_cards_child_id", "cards", ["child_id"])
    op.create_index("ix_cards_batch_id", "cards", ["batch_id"])
    op.create_index("ix_cards_region", "cards", ["region"])
    op.create_index("ix_cards_revoked", "cards", ["revoked_at"], postgresql_where=sa.text("revoked_at IS NOT NULL"))
    op.create_table(
        "trust_lists",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trust_lists")
    op.drop_index("ix_cards_revoked", table_name="cards")
    op.drop_index("ix_cards_region", table_name="cards")
    op.drop_index("ix_cards_batch_id", table_name="cards")
    op.drop_index("ix_cards_child_id", table_name="cards")
    op.drop_table("cards")
    op.drop_table("batches")
    op.drop_table("children")
    op.drop_index("ix_issuing_keys_kid", table_name="issuing_keys")
    op.drop_table("issuing_keys")
    op.drop_table("office")
