"""Cooperation agreements (MoU) of partners and institutions: number, document, contact, renewals and amendments.

- ``agreement_documents``: each signed PDF once, by its SHA-256;
- ``agreements``: one period of cooperation with a partner or an institution,
  as its latest version says;
- ``agreement_versions``: every version (who, when, what changed, the terms).

Each existing partner's MoU dates become its first agreement, version 1
(``migrate``), with no number, contact or document: the office adds those by
amending it.  Downgrading drops the history; the partners keep their dates.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MIGRATED_BY = "migration 0012"


def _terms() -> list[sa.Column[object]]:
    """The columns an agreement and each of its versions both carry."""
    return [
        sa.Column("number", sa.String(100)),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("contact_name", sa.String(200)),
        sa.Column("contact_phone", sa.String(40)),
        sa.Column("contact_email", sa.String(200)),
        sa.Column("document_sha256", sa.String(64), sa.ForeignKey("agreement_documents.sha256")),
        sa.Column("document_name", sa.String(200)),
    ]


def upgrade() -> None:
    op.create_table(
        "agreement_documents",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stored_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id")),
        sa.Column("institution_id", sa.Integer(), sa.ForeignKey("institutions.id")),
        *_terms(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("(partner_id IS NULL) <> (institution_id IS NULL)", name="agreement_one_owner"),
        sa.CheckConstraint("ends_on > starts_on", name="agreement_period"),
    )
    op.create_index("ix_agreements_partner_id", "agreements", ["partner_id"])
    op.create_index("ix_agreements_institution_id", "agreements", ["institution_id"])
    op.create_table(
        "agreement_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agreement_id", sa.Integer(), sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(200)),
        *_terms(),
        sa.CheckConstraint("action IN ('create', 'renew', 'amend', 'migrate')", name="agreement_version_action"),
    )
    op.create_index("ux_agreement_versions", "agreement_versions", ["agreement_id", "version"], unique=True)
    _history_from_partners()


def _history_from_partners() -> None:
    """Each partner's MoU dates as its first agreement (number unknown), one ``migrate`` version each."""
    connection = op.get_bind()
    partners = sa.table("partners", sa.column("id", sa.Integer()), sa.column("mou_start", sa.Date()),
                        sa.column("mou_end", sa.Date()), sa.column("created_at", sa.BigInteger()))
    agreements = sa.table("agreements", sa.column("id", sa.Integer()), sa.column("partner_id", sa.Integer()),
                          sa.column("starts_on", sa.Date()), sa.column("ends_on", sa.Date()),
                          sa.column("version", sa.Integer()), sa.column("created_at", sa.BigInteger()))
    versions = sa.table("agreement_versions", sa.column("agreement_id", sa.Integer()),
                        sa.column("version", sa.Integer()), sa.column("action", sa.String()),
                        sa.column("at", sa.BigInteger()), sa.column("by", sa.String()),
                        sa.column("changed", sa.JSON()), sa.column("starts_on", sa.Date()),
                        sa.column("ends_on", sa.Date()))
    rows = connection.execute(sa.select(partners).order_by(partners.c.id)).all()
    for partner_id, start, end, created_at in rows:
        agreement_id = connection.execute(
            agreements.insert().values(partner_id=partner_id, starts_on=start, ends_on=end, version=1,
                                       created_at=created_at).returning(agreements.c.id)
        ).scalar_one()
        connection.execute(versions.insert().values(agreement_id=agreement_id, version=1, action="migrate",
                                                    at=created_at, by=MIGRATED_BY, changed=[], starts_on=start,
                                                    ends_on=end))


def downgrade() -> None:
    op.drop_index("ux_agreement_versions", table_name="agreement_versions")
    op.drop_table("agreement_versions")
    op.drop_index("ix_agreements_institution_id", table_name="agreements")
    op.drop_index("ix_agreements_partner_id", table_name="agreements")
    op.drop_table("agreements")
    op.drop_table("agreement_documents")
