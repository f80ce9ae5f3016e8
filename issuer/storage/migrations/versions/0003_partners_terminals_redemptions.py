"""Partners and their discount rules, terminals, synced redemptions, sync tokens, alarms.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("cluster", sa.String(24), nullable=False),
        sa.Column("region", sa.Integer(), nullable=False),
        sa.Column("mou_start", sa.Date(), nullable=False),
        sa.Column("mou_end", sa.Date(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("mou_end > mou_start", name="partner_mou_period"),
    )
    op.create_table(
        "partner_services",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prices", sa.JSON(), nullable=False),
        sa.Column("discount_kind", sa.String(8), nullable=False),
        sa.Column("discount_value", sa.Integer(), nullable=False),
        sa.Column("daily_limit", sa.Integer(), nullable=False),
        sa.Column("passback_seconds", sa.Integer(), nullable=False),
        sa.CheckConstraint("discount_kind IN ('percent', 'fixed')", name="service_discount_kind"),
    )
    op.create_index("ux_partner_services_code", "partner_services", ["partner_id", "code"], unique=True)
    op.create_table(
        "terminals",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("enrolment_code_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("enrolment_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("public_jwk", sa.JSON(), nullable=True),
        sa.Column("enrolled_at", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("last_sync_at", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'active', 'suspended', 'retired')", name="terminal_state"),
    )
    op.create_index("ix_terminals_partner_id", "terminals", ["partner_id"])
    op.create_table(
        "redemptions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("terminal_id", sa.String(16), sa.ForeignKey("terminals.id"), nullable=False),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("serial", sa.String(16), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ux_redemptions_terminal_seq", "redemptions", ["terminal_id", "seq"], unique=True)
    op.create_index("ix_redemptions_partner_at", "redemptions", ["partner_id", "at"])
    op.create_table(
        "sync_tokens_seen",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("terminal_id", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_sync_tokens_seen_expires_at", "sync_tokens_seen", ["expires_at"])
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("terminal_id", sa.String(16), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_index("ix_alarms_at", "alarms", ["at"])


def downgrade() -> None:
    op.drop_index("ix_alarms_at", table_name="alarms")
    op.drop_table("alarms")
    op.drop_index("ix_sync_tokens_seen_expires_at", table_name="sync_tokens_seen")
    op.drop_table("sync_tokens_seen")
    op.drop_index("ix_redemptions_partner_at", table_name="redemptions")
    op.drop_index("ux_redemptions_terminal_seq", table_name="redemptions")
    op.drop_table("redemptions")
    op.drop_index("ix_terminals_partner_id", table_name="terminals")
    op.drop_table("terminals")
    op.drop_index("ux_partner_services_code", table_name="partner_services")
    op.drop_table("partner_services")
    op.drop_table("partners")
