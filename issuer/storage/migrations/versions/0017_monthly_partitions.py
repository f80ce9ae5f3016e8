"""Redemptions and card sets partitioned by month on PostgreSQL, so that retention drops a month at a time.

- ``redemptions`` and ``redemption_cards`` become tables partitioned by
  LIST (month): one partition ``<table>_YYYYMM`` per local month that holds
  rows, and ``<table>_default`` for month 0 (a clock gone wild) and for
  months whose partition is not made yet (issuer.retention makes them ahead
  and moves such rows in).  A partitioned table's keys hold its partition
  key, so the redemptions' primary key is (id, month) and
  ``ux_redemptions_terminal_seq`` is (terminal_id, seq, month): a record's
  (terminal, seq) stays unique because ingest stores only what continues
  the terminal's acknowledged sequence, under the terminal's row lock
  (issuer.sync_ingest).  The same index on SQLite gains month too, so both
  databases have one schema.
- ``office.redemptions_kept_from``: the first local month (YYYYMM) whose
  records and card sets are still held, 0 while nothing was removed.

The rows are copied once into the new tables; for 10 million rows see
docs/benchmarks.md.  Downgrading copies them back into plain tables.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Each table's primary key, partitioned and plain: a partitioned table's holds its partition key.
KEYS = {"redemptions": ("id, month", "id"), "redemption_cards": ("scope, month, serial", "scope, month, serial")}
FOREIGN_KEYS = {"redemptions": {"terminal_id": "terminals (id)", "partner_id": "partners (id)"}}
SEQUENCES = {"redemptions": "redemptions_id_seq"}
UNIQUE_SEQ = "ux_redemptions_terminal_seq"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in KEYS:
            _rebuild(table, partitioned=True)
    else:
        op.drop_index(UNIQUE_SEQ, table_name="redemptions")
        op.create_index(UNIQUE_SEQ, "redemptions", ["terminal_id", "seq", "month"], unique=True)
    op.add_column("office", sa.Column("redemptions_kept_from", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("office") as office:
        office.drop_column("redemptions_kept_from")
    if op.get_bind().dialect.name == "postgresql":
        for table in KEYS:
            _rebuild(table, partitioned=False)
    else:
        op.drop_index(UNIQUE_SEQ, table_name="redemptions")
        op.create_index(UNIQUE_SEQ, "redemptions", ["terminal_id", "seq"], unique=True)


def _rebuild(table: str, partitioned: bool) -> None:
    """``table`` made again, partitioned by month or plain, with its rows, defaults, keys and indexes."""
    bind = op.get_bind()
    old = f"{table}_before_0017"
    indexes = bind.execute(sa.text(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = CAST(:table AS regclass) AND NOT x.indisprimary ORDER BY i.relname"),
        {"table": table}).all()
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER INDEX {table}_pkey RENAME TO {old}_pkey")
    for name, _ in indexes:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_0017")
    by_month = " PARTITION BY LIST (month)" if partitioned else ""
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){by_month}")
    if partitioned:
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        months = bind.execute(sa.text(f"SELECT DISTINCT month FROM {old} WHERE month > 0 ORDER BY month")).scalars()
        for month in months:
            op.execute(f"CREATE TABLE {table}_{int(month)} PARTITION OF {table} FOR VALUES IN ({int(month)})")
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    if table in SEQUENCES:
        op.execute(f"ALTER SEQUENCE {SEQUENCES[table]} OWNED BY {table}.id")
    op.execute(f"DROP TABLE {old}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({KEYS[table][not partitioned]})")
    for column, target in FOREIGN_KEYS.get(table, {}).items():
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fkey FOREIGN KEY ({column}) "
                   f"REFERENCES {target}")
    for name, definition in indexes:
        if name == UNIQUE_SEQ:
            definition = definition.replace("(terminal_id, seq)", "(terminal_id, seq, month)") if partitioned else \
                definition.replace("(terminal_id, seq, month)", "(terminal_id, seq)")
        op.execute(definition)
