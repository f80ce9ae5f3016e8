"""The Alembic migrations build exactly the models, and go down and up again.

Run on SQLite and PostgreSQL: a migration that works on one and not on the
other is the usual way a schema goes wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from issuer.cards import card_count
from issuer.issuing_keys import KeyUnlock, init_home
from issuer.storage import migrate
from issuer.storage.models import REPORT_COLUMNS, Base, is_partition
from issuer.storage.store import IssuerHome
from tests.factories import ACTOR, NOW

UNLOCK = KeyUnlock(b"integration-test passphrase, not a secret")


@pytest.fixture
def home(tmp_path: Path, issuer_db_url: str | None) -> Iterator[IssuerHome]:
    office = IssuerHome(tmp_path / "office", issuer_db_url)
    yield office
    office.close()


def schema_differences(home: IssuerHome) -> list[object]:
    """What autogenerate would write into a new migration: nothing, if the models match."""
    with home.database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_name": lambda name, kind, _: not (kind == "table" and is_partition(name))})
        return list(compare_metadata(context, Base.metadata))


def table_names(home: IssuerHome) -> list[str]:
    with home.database.engine.connect() as connection:
        return sorted(name for name in inspect(connection).get_table_names() if not is_partition(name))


def test_init_migrates_to_head_and_the_schema_is_the_models(home: IssuerHome) -> None:
    init_home(home, UNLOCK, NOW, by=ACTOR)

    assert migrate.head_revision() is not None
    assert migrate.current_revision(home.database) == migrate.head_revision()
    assert schema_differences(home) == []
    assert set(table_names(home)) == {*Base.metadata.tables, "alembic_version"}


def test_downgrade_to_base_drops_every_table_and_upgrade_builds_them_again(home: IssuerHome) -> None:
    home.prepare()

    migrate.downgrade(home.database, "base")

    assert table_names(home) == ["alembic_version"]
    assert migrate.current_revision(home.database) is None

    migrate.upgrade(home.database)

    assert migrate.current_revision(home.database) == migrate.head_revision()
    assert schema_differences(home) == []
    init_home(home, UNLOCK, NOW, by=ACTOR)  # and the schema serves an office
    assert card_count(home) == 0


def test_the_report_index_covers_the_report_on_postgresql(home: IssuerHome) -> None:
    """A partner's report reads index pages only (migration 0006); SQLite has no INCLUDE."""
    init_home(home, UNLOCK, NOW, by=ACTOR)
    with home.database.engine.connect() as connection:
        indexes = {index["name"]: index for index in inspect(connection).get_indexes("redemptions")}
        dialect = connection.dialect.name
    assert "ix_redemptions_partner_month" not in indexes
    report_index = indexes["ix_redemptions_partner_day"]
    assert report_index["column_names"] == ["partner_id", "day"]
    included = report_index.get("include_columns") or report_index.get("dialect_options", {}).get("postgresql_include")
    assert list(included or []) == (list(REPORT_COLUMNS) if dialect == "postgresql" else [])
