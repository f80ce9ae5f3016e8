"""Sign-in sessions kept by the office, and failed sign-ins counted to throttle guessing.

- ``sign_in_sessions``: one row per open session (the SHA-256 of the cookie's
  random token); signing out, a password reset or disabling the person
  deletes it, so every copy of the cookie stops working at once.
- ``sign_in_failures``: each wrong password with its username and address,
  counted in a window before any password is hashed (issuer/people.py).

Sessions opened before this migration named the person and a digest of their
password; they are not kept, so everyone signs in again once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_sign_in_sessions_user_id", "sign_in_sessions", ["user_id"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("remote_addr", sa.String(64), nullable=False),
    )
    op.create_index("ix_sign_in_failures_at", "sign_in_failures", ["at"])
    op.create_index("ix_sign_in_failures_username", "sign_in_failures", ["username", "at"])
    op.create_index("ix_sign_in_failures_address", "sign_in_failures", ["remote_addr", "at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_failures_address", table_name="sign_in_failures")
    op.drop_index("ix_sign_in_failures_username", table_name="sign_in_failures")
    op.drop_index("ix_sign_in_failures_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index("ix_sign_in_sessions_user_id", table_name="sign_in_sessions")
    op.drop_table("sign_in_sessions")
