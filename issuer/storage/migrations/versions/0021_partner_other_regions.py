"""Which other regions' cards a partner agreed to honour (docs/federation.md).

- ``partners.other_regions``: "none" (this office's cards only, what a
  terminal that pins only the office's root does), "all" (every region the
  national directory trusts) or "listed" (``other_region_codes``).  Ingest
  holds a record of another region's card the partner did not agree to
  (``home_not_accepted``), and the public page tells families which partners
  take cards of their region.
- A partner whose terminals already sent records of other regions' cards
  starts at "all", so that nothing it synced before this change is held
  after it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch would copy partners on SQLite, which the tables that refer to
    # it forbid; the choices' CHECK is PostgreSQL's (on SQLite, issuer.partners checks them).
    op.add_column("partners", sa.Column("other_regions", sa.String(6), server_default="none", nullable=False))
    op.add_column("partners", sa.Column("other_region_codes", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint("partner_other_regions", "partners", "other_regions IN ('none', 'all', 'listed')")
    op.execute("UPDATE partners SET other_regions = 'all' WHERE id IN "
               "(SELECT DISTINCT partner_id FROM redemptions WHERE home IS NOT NULL)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("partner_other_regions", "partners", type_="check")
    for column in ("other_region_codes", "other_regions"):
        op.execute(f"ALTER TABLE partners DROP COLUMN {column}")  # SQLite 3.35 and later drop a column in place
