"""The office's transparency log: its entries, stored subtree heads, size, checkpoints and witnesses.

- ``log_pending``: facts recorded with their changes, waiting to be placed in
  the tree (issuer/transparency.integrate);
- ``log_entries``: every fact the office accepts from now on, as a leaf of an
  RFC 6962 Merkle tree (issuer/transparency.py); facts stored before this
  migration are not in the log.
- ``log_hashes``: the heads of complete subtrees above the leaves, so that
  every tree head, proof and tile is read, never recomputed from all leaves.
- ``log_state``: the log's size, origin and key, one row that integrations lock in turn.
- ``log_checkpoints``: each checkpoint signed, with its witnesses' cosignatures.
- ``log_witnesses``: the witnesses the office asks, and what each last cosigned.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("ref", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("ref", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_log_entries_ref", "log_entries", ["kind", "ref"])
    op.create_table(
        "log_hashes",
        sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.String(200)),
        sa.Column("verifier_key", sa.String(400)),
        sa.Column("key_file", sa.String(200)),
    )
    op.execute("INSERT INTO log_state (id, size) VALUES (1, 0)")
    op.create_table(
        "log_checkpoints",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.BigInteger(), nullable=False),
        sa.Column("cosignatures", sa.Integer(), nullable=False),
    )
    op.create_table(
        "log_witnesses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("url", sa.String(300), nullable=False),
        sa.Column("verifier_key", sa.String(400), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_witnesses")
    op.drop_table("log_checkpoints")
    op.drop_table("log_state")
    op.drop_table("log_hashes")
    op.drop_index("ix_log_entries_ref", table_name="log_entries")
    op.drop_table("log_entries")
    op.drop_table("log_pending")
