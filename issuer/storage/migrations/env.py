"""Alembic environment: runs on the connection issuer.storage.migrate hands over."""

from __future__ import annotations

from alembic import context

from issuer.storage.models import Base, is_partition

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
    # A month's partition is made by issuer.retention, not by a migration.
    include_name=lambda name, kind, _: not (kind == "table" and name is not None and is_partition(name)),
)
with context.begin_transaction():
    context.run_migrations()
