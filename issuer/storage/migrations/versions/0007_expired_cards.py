"""Cards whose eligibility ended are marked ``expired`` by a daily job.

``kia issuer card mark-expired`` turns active cards past their ``expires_at``
into ``expired`` with one UPDATE; a partial index on the active cards' expiry
keeps that UPDATE to the few rows of the day on a table of millions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ACTIVE = sa.text("state = 'active'")


def upgrade() -> None:
    with op.batch_alter_table("cards") as table:
        table.drop_constraint("card_state", type_="check")
        table.create_check_constraint("card_state", "state IN ('active', 'revoked', 'replaced', 'expired')")
    op.create_index("ix_cards_active_expiry", "cards", ["expires_at"], postgresql_where=ACTIVE, sqlite_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("ix_cards_active_expiry", table_name="cards")
    # An expired card was active before; it becomes active again, as the dates still say it has expired.
    op.execute("UPDATE cards SET state = 'active' WHERE state = 'expired'")
    with op.batch_alter_table("cards") as table:
        table.drop_constraint("card_state", type_="check")
        table.create_check_constraint("card_state", "state IN ('active', 'revoked', 'replaced')")
