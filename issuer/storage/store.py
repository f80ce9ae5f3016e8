"""An office: its home folder and its database.

The home folder holds the encrypted private keys (``keys/``) and, by
default, the SQLite database (``kia-issuer.db``); ``database_url`` points the
office at PostgreSQL instead.  Every change happens in one database
transaction (``IssuerHome.transaction``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import inspect, make_url, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from keys import IssuingKey, KeyState, durable, load_public_jwk

from ..errors import DatabaseConflict, DatabaseUnavailable, HomeBusy, HomeNotFound, LegacyHomeInvalid
from .db import SQLITE_FILE, Database, default_url
from .legacy import LEGACY_STATE_FILE, key_row, legacy_rows
from .models import CardRow, IssuingKeyRow, Office

# In the home folder: the root kid of the office whose database this home uses.
MARKER_FILE = "kia-office"
# PostgreSQL's SQLSTATEs for a transaction it undid because of another: a serialization failure, a deadlock.
CONFLICTS = frozenset({"40001", "40P01"})

__all__ = ["CardRecord", "IssuerHome", "card_record", "issuing_key", "key_row"]


@dataclasses.dataclass(frozen=True)
class CardRecord:
    """A card as services return it: what its token says, and its state."""

    serial: str
    region: int
    birth_month: int
    issued_at: int
    expires_at: int
    kid: str
    token: str
    state: str
    revoked_at: int | None
    revocation_reason: str | None
    replaced_by: str | None
    listed_seq: int | None
    unlisted_seq: int | None


def card_record(row: CardRow) -> CardRecord:
    return CardRecord(**{field.name: getattr(row, field.name) for field in dataclasses.fields(CardRecord)})


def issuing_key(row: IssuingKeyRow) -> IssuingKey:
    return IssuingKey(
        kid=row.kid,
        public_key=load_public_jwk(row.public_jwk),
        state=KeyState(row.state),
        created_at=row.created_at,
        retired_at=row.retired_at,
        revoked_at=row.revoked_at,
    )


class IssuerHome:
    """One office's home folder and database."""

    def __init__(self, path: Path, database_url: str | None = None) -> None:
        self.path = path
        self.database_url = database_url or default_url(path)
        self._database: Database | None = None
        self._confirmed = False  # the office was found once; it does not vanish while we run

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.database_url)
        return self._database

    def key_path(self, name: str) -> Path:
        return self.path / "keys" / name

    @property
    def legacy_state_path(self) -> Path:
        return self.path / LEGACY_STATE_FILE

    def _uses_home_sqlite(self) -> bool:
        return self.database_url == default_url(self.path)

    @property
    def marker_path(self) -> Path:
        return self.path / MARKER_FILE

    def exists(self) -> bool:
        """Whether this folder and the database hold the same office (never creates anything).

        The folder's marker names the office's root kid: a mistyped --home
        next to a shared PostgreSQL database is not taken for the office.
        """
        if not self.marker_path.is_file():
            return False
        with self._reaching_database(), self.database.engine.connect() as connection:
            if not inspect(connection).has_table("office"):
                return False
            root_kid = connection.execute(select(Office.root_kid)).scalar_one_or_none()
        return root_kid is not None and root_kid == self.marker_path.read_text(encoding="ascii").strip()

    def database_holds_an_office(self) -> bool:
        with self._reaching_database(), self.database.engine.connect() as connection:
            return inspect(connection).has_table("office") and (
                connection.execute(select(Office.id)).first() is not None
            )

    def write_marker(self, root_kid: str) -> None:
        durable.replace(self.marker_path, (root_kid + "\n").encode("ascii"), 0o644)

    @contextlib.contextmanager
    def _reaching_database(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) in CONFLICTS:
                raise DatabaseConflict("the database undid this change because another changed the same rows at "
                                       "once; nothing of it was kept: try again") from None
            url = make_url(self.database_url).render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
            raise DatabaseUnavailable(f"cannot reach the database {url}: {reason}") from None

    def require(self) -> None:
        """Raise HomeNotFound, saying what to run, unless the office exists.

        Checked once per IssuerHome: a sync request opens several transactions,
        and each need not read the marker and query the database again.
        """
        if self._confirmed:
            return
        if not self.exists():
            raise HomeNotFound(self._not_found_message())
        self._confirmed = True

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work on an existing office.

        Raises HomeNotFound, HomeBusy (SQLite locked by another writer) or
        DatabaseUnavailable (the database went away).
        """
        self.require()
        try:
            with self._reaching_database(), self.database.transaction() as session:
                yield session
        except DatabaseUnavailable as exc:
            if "locked" in str(exc).lower():
                raise HomeBusy("another kia command is writing to this office's database; try again") from None
            raise

    def _not_found_message(self) -> str:
        if self.legacy_state_path.is_file():
            return f"{self.path} is a home of the first version; run 'kia issuer db upgrade --home {self.path}'"
        return f"{self.path} is not an issuer home; run 'kia issuer init --home {self.path}' first"

    def prepare(self) -> None:
        """Create the home folder and bring the database schema up to date.

        A database elsewhere is reached before anything is created here.
        """
        if not self._uses_home_sqlite():
            with self._reaching_database(), self.database.engine.connect():
                pass
        durable.make_folders(self.path, 0o700)
        if self._uses_home_sqlite():
            # Children's data: owner-only, like the keys.  SQLite gives its
            # -wal and -shm files the database file's mode.
            os.close(os.open(self.path / SQLITE_FILE, os.O_WRONLY | os.O_CREAT, 0o600))
        from . import migrate  # alembic only here: 0.16 s of every other command's start

        with self._reaching_database():
            migrate.upgrade(self.database)

    def import_legacy_state(self) -> int:
        """Import a first-version kia-issuer.json into an empty database; the
        file is renamed afterwards.  Returns the number of cards imported."""
        try:
            rows = legacy_rows(self.legacy_state_path)
        except (ValueError, KeyError, TypeError) as exc:
            raise LegacyHomeInvalid(f"{self.legacy_state_path.name} cannot be imported: {exc}") from None
        with self.database.transaction() as session:
            session.add_all(rows)
        self.write_marker(next(row.root_kid for row in rows if isinstance(row, Office)))
        self.legacy_state_path.rename(self.legacy_state_path.with_name(LEGACY_STATE_FILE + ".imported"))
        return sum(isinstance(row, CardRow) for row in rows)

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()
            self._database = None
        self._confirmed = False
