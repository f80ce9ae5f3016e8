"""The office checks what terminals send: findings, held records, and the history the checks need.

- ``redemptions.held``: a record some check found wrong, kept out of every
  revenue figure until an auditor releases it; the reports' covering index
  includes it (PostgreSQL), and a (serial, at) index serves the checks that
  look up a card's other uses around a scan.
- ``findings``: each failed check of a record, with its evidence and the
  auditor's decision.
- ``service_rule_versions``: every version of a service's rules and when it
  was in force (the current rules become the first version, in force since
  the partner was added).
- ``terminal_state_changes``: when each terminal became active, suspended or
  retired (an enrolled terminal is recorded active from its enrolment, its
  current state from the migration on).
- ``partners.latitude`` and ``longitude``: where a partner serves, for the
  travel check.
- ``redemptions.flagged``: the terminal flagged the decision (stale, clock_skew),
  counted apart in reports (existing records are set from their flags).
- ``terminal_checkpoints``: every checkpoint each terminal signed, not only the
  latest (the latest of each terminal is kept from ``terminals.checkpoint``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD_REPORT_COLUMNS = ["month", "accepted", "serial", "price", "discount", "paid"]
REPORT_COLUMNS = ["month", "accepted", "held", "flagged", "serial", "price", "discount", "paid"]


def upgrade() -> None:
    with op.batch_alter_table("partners") as table:
        table.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        table.add_column(sa.Column("longitude", sa.Float(), nullable=True))
    with op.batch_alter_table("redemptions") as table:
        table.add_column(sa.Column("held", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        table.add_column(sa.Column("flagged", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.drop_index("ix_redemptions_partner_day", table_name="redemptions")
    op.create_index("ix_redemptions_partner_day", "redemptions", ["partner_id", "day"],
                    postgresql_include=REPORT_COLUMNS)
    op.create_index("ix_redemptions_serial_at", "redemptions", ["serial", "at"])
    redemptions = sa.table("redemptions", sa.column("id", sa.BigInteger()), sa.column("flags", sa.JSON()),
                           sa.column("flagged", sa.Boolean()))
    connection = op.get_bind()
    connection.execute(sa.update(redemptions).where(sa.cast(redemptions.c.flags, sa.Text()) != "[]")
                       .values(flagged=True))

    checkpoints = op.create_table(
        "terminal_checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("terminal_id", sa.String(16), sa.ForeignKey("terminals.id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ux_terminal_checkpoints_seq", "terminal_checkpoints", ["terminal_id", "seq"], unique=True)
    latest = connection.execute(sa.text(
        "SELECT id, acknowledged_seq, chain_hash, checkpoint, last_sync_at FROM terminals WHERE checkpoint IS NOT NULL"
    )).all()
    if latest:
        op.bulk_insert(checkpoints, [{"terminal_id": row[0], "seq": row[1], "hash": row[2], "jws": row[3],
                                      "received_at": row[4] or 0} for row in latest])

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("terminal_id", sa.String(16), sa.ForeignKey("terminals.id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("check", sa.String(32), nullable=False),
        sa.Column("evidence", sa.String(300), nullable=False),
        sa.Column("found_at", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("decision", sa.String(200), nullable=True),
        sa.CheckConstraint("state IN ('open', 'released', 'confirmed')", name="finding_state"),
    )
    op.create_index("ix_findings_record", "findings", ["terminal_id", "seq"])
    op.create_index("ix_findings_state", "findings", ["state", "partner_id"])

    versions = op.create_table(
        "service_rule_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=True),
        sa.Column("prices", sa.JSON(), nullable=False),
        sa.Column("discount_kind", sa.String(8), nullable=False),
        sa.Column("discount_value", sa.Integer(), nullable=False),
        sa.Column("daily_limit", sa.Integer(), nullable=False),
    )
    op.create_index("ix_service_rule_versions_partner_id", "service_rule_versions", ["partner_id"])
    services = sa.table("partner_services", sa.column("partner_id", sa.Integer()), sa.column("code", sa.String()),
                        sa.column("prices", sa.JSON()), sa.column("discount_kind", sa.String()),
                        sa.column("discount_value", sa.Integer()), sa.column("daily_limit", sa.Integer()))
    partners = sa.table("partners", sa.column("id", sa.Integer()), sa.column("created_at", sa.BigInteger()))
    current = connection.execute(
        sa.select(services, partners.c.created_at).join(partners, partners.c.id == services.c.partner_id)
    ).mappings().all()
    if current:
        op.bulk_insert(versions, [
            {"partner_id": row["partner_id"], "code": row["code"], "valid_from": row["created_at"],
             "valid_until": None, "prices": row["prices"], "discount_kind": row["discount_kind"],
             "discount_value": row["discount_value"], "daily_limit": row["daily_limit"]}
            for row in current
        ])

    changes = op.create_table(
        "terminal_state_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("terminal_id", sa.String(16), sa.ForeignKey("terminals.id"), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
    )
    op.create_index("ix_terminal_state_changes_terminal_id", "terminal_state_changes", ["terminal_id"])
    now = int(time.time())
    history = []
    for terminal_id, state, enrolled_at in connection.execute(sa.text(
        "SELECT id, state, enrolled_at FROM terminals WHERE enrolled_at IS NOT NULL"
    )):
        history.append({"terminal_id": terminal_id, "at": enrolled_at, "state": "active"})
        if state != "active":
            history.append({"terminal_id": terminal_id, "at": now, "state": state})
    if history:
        op.bulk_insert(changes, history)


def downgrade() -> None:
    op.drop_table("terminal_checkpoints")
    op.drop_table("terminal_state_changes")
    op.drop_table("service_rule_versions")
    op.drop_table("findings")
    op.drop_index("ix_redemptions_serial_at", table_name="redemptions")
    op.drop_index("ix_redemptions_partner_day", table_name="redemptions")
    op.create_index("ix_redemptions_partner_day", "redemptions", ["partner_id", "day"],
                    postgresql_include=OLD_REPORT_COLUMNS)
    with op.batch_alter_table("redemptions") as table:
        table.drop_column("flagged")
        table.drop_column("held")
    with op.batch_alter_table("partners") as table:
        table.drop_column("longitude")
        table.drop_column("latitude")
