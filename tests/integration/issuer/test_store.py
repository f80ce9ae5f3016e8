"""issuer.storage.store: an office's home folder and its database, on SQLite and PostgreSQL.

Every test that touches a database takes ``issuer_db_url`` (None: SQLite in
the home folder) and runs once on each database.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update

from issuer.cards import card_count, find_card, issue_cards, revoke_card
from issuer.children import ChildRequest
from issuer.errors import DatabaseConflict, DatabaseUnavailable, HomeExists, HomeNotFound
from issuer.issuing_keys import change_issuing_key, init_home, list_issuing_keys, rotate_issuing_key
from issuer.storage.db import SQLITE_FILE
from issuer.storage.models import Partner
from issuer.storage.store import IssuerHome
from issuer.trust_lists import export_trust_list, trust_list_seq
from tests.factories import ACTOR, BIRTH_DATE, DAY, NOW, SURAKARTA
from tests.factories.offices import UNLOCK, add_partner
from tests.integration.conftest import RunKia

# Nothing listens on port 1; the password must never be shown.
UNREACHABLE_URL = "postgresql+psycopg://kia:s3cret-db-pw@127.0.0.1:1/none"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def every_operation(home: IssuerHome, out: Path) -> dict[str, Callable[[], object]]:
    """Each service operation on ``home``, ready to run; none may create a home."""
    request = ChildRequest(1, BIRTH_DATE, SURAKARTA)
    return {
        "card": lambda: find_card(home, "00000000"),
        "card_count": lambda: card_count(home),
        "issue": lambda: issue_cards(home, UNLOCK, [request], NOW, by=ACTOR),
        "revoke": lambda: revoke_card(home, "00000000", "lost", NOW, by=ACTOR),
        "rotate": lambda: rotate_issuing_key(home, UNLOCK, NOW, by=ACTOR),
        "retire": lambda: change_issuing_key(home, "abcd", "retire", NOW, by=ACTOR),
        "export": lambda: export_trust_list(home, UNLOCK, NOW, out, by=ACTOR),
    }


# --- a folder that is not a home ------------------------------------------------------


def test_a_mistyped_home_is_not_found_and_nothing_is_created(tmp_path: Path, issuer_db_url: str | None) -> None:
    typo = IssuerHome(tmp_path / "ofice", issuer_db_url)

    for name, operation in every_operation(typo, tmp_path / "out").items():
        with pytest.raises(HomeNotFound, match="kia issuer init") as caught:
            operation()
        assert str(typo.path) in str(caught.value), name

    typo.close()
    assert list(tmp_path.iterdir()) == []  # no folder, no database file, no key, no export


def test_a_mistyped_home_next_to_an_office_is_not_used(
    office: IssuerHome, tmp_path: Path, issuer_db_url: str | None
) -> None:
    """On PostgreSQL the database holds the office whatever the folder: a typo must
    still not act on it, above all not put its new issuing key where it never looks."""
    typo = IssuerHome(tmp_path / "ofice", issuer_db_url)
    keys_before = list_issuing_keys(office)

    for operation in ("rotate", "revoke", "issue"):
        with pytest.raises(HomeNotFound, match="kia issuer init"):
            every_operation(typo, tmp_path / "out")[operation]()

    typo.close()
    assert not typo.path.exists()
    assert list_issuing_keys(office) == keys_before


def test_init_never_overwrites_a_home(office: IssuerHome, issuer_db_url: str | None) -> None:
    keys_before = sorted(path.name for path in (office.path / "keys").iterdir())
    issuing_before = list_issuing_keys(office)

    with pytest.raises(HomeExists, match="never overwritten"):
        init_home(office, UNLOCK, NOW, by=ACTOR)
    second_command = IssuerHome(office.path, issuer_db_url)
    with pytest.raises(HomeExists):
        init_home(second_command, UNLOCK, NOW, by=ACTOR)
    second_command.close()

    assert sorted(path.name for path in (office.path / "keys").iterdir()) == keys_before
    assert list_issuing_keys(office) == issuing_before
    assert trust_list_seq(office) == 0


def test_a_first_version_home_asks_for_db_upgrade(tmp_path: Path, issuer_db_url: str | None) -> None:
    legacy = IssuerHome(tmp_path / "office", issuer_db_url)
    legacy.path.mkdir(mode=0o700)
    state = legacy.path / "kia-issuer.json"
    state.write_text('{"format": 1}', encoding="utf-8")  # detection looks at the file only

    with pytest.raises(HomeNotFound, match=re.escape(f"kia issuer db upgrade --home {legacy.path}")):
        card_count(legacy)
    with pytest.raises(HomeNotFound, match="kia issuer db upgrade"):
        revoke_card(legacy, "00000000", "lost", NOW, by=ACTOR)
    with pytest.raises(HomeExists, match=re.escape(f"kia issuer db upgrade --home {legacy.path}")):
        init_home(legacy, UNLOCK, NOW, by=ACTOR)

    legacy.close()
    assert sorted(path.name for path in legacy.path.iterdir()) == ["kia-issuer.json"]
    assert state.read_text(encoding="utf-8") == '{"format": 1}'


# --- what an office keeps ---------------------------------------------------------------


def test_an_office_reads_back_the_same_from_a_new_connection(
    office: IssuerHome, tmp_path: Path, issuer_db_url: str | None
) -> None:
    children = [ChildRequest(1, BIRTH_DATE, SURAKARTA), ChildRequest(2, dt.date(2023, 3, 10), 6311)]
    issued = issue_cards(office, UNLOCK, children, NOW, by=ACTOR).cards
    revoke_card(office, issued[1].record.serial, "hilang (lost)", NOW, by=ACTOR)
    export_trust_list(office, UNLOCK, NOW, tmp_path / "out", by=ACTOR)
    rotate_issuing_key(office, UNLOCK, NOW + DAY, by=ACTOR)
    office.close()

    again = IssuerHome(office.path, issuer_db_url)
    try:
        assert again.exists()
        assert trust_list_seq(again) == 1
        assert card_count(again) == 2
        assert [key.state.value for key in list_issuing_keys(again)] == ["retired", "active"]
        revoked = find_card(again, issued[1].record.serial)
        assert (revoked.state, revoked.revocation_reason, revoked.listed_seq) == ("revoked", "hilang (lost)", 1)
        assert find_card(again, issued[0].record.serial) == issued[0].record
    finally:
        again.close()


def test_the_home_its_keys_and_its_database_are_owner_only(tmp_path: Path, issuer_db_url: str | None) -> None:
    """Children's data and private keys: owner-only whatever the operator's umask."""
    previous = os.umask(0)
    try:
        office = IssuerHome(tmp_path / "office", issuer_db_url)
        init_home(office, UNLOCK, NOW - DAY, by=ACTOR)
        issue_cards(office, UNLOCK, [ChildRequest(1, BIRTH_DATE, SURAKARTA, name="Siti")], NOW, by=ACTOR)
        rotate_issuing_key(office, UNLOCK, NOW, by=ACTOR)
    finally:
        os.umask(previous)

    assert mode(office.path) == 0o700
    assert mode(office.path / "keys") == 0o700
    key_files = list((office.path / "keys").iterdir())
    assert len(key_files) == 3  # root, the first issuing key and the rotated one
    assert all(mode(path) == 0o600 for path in key_files)
    assert all(b"ENCRYPTED PRIVATE KEY" in path.read_bytes() for path in key_files)
    database_files = [path for path in office.path.iterdir() if path.name.startswith(SQLITE_FILE)]
    if issuer_db_url is None:
        # The engine is still open, so the -wal and -shm files are there too.
        assert {path.name for path in database_files} >= {SQLITE_FILE, f"{SQLITE_FILE}-wal"}
        assert all(mode(path) == 0o600 for path in database_files), [(p.name, oct(mode(p))) for p in database_files]
    else:
        assert database_files == []
    office.close()


# --- a database that cannot be reached ---------------------------------------------------


def test_an_unreachable_database_is_one_clear_error_without_its_password(tmp_path: Path) -> None:
    office = IssuerHome(tmp_path / "office", UNREACHABLE_URL)

    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as caught:
        init_home(office, UNLOCK, NOW, by=ACTOR)
    office.close()
    assert list(tmp_path.iterdir()) == []  # nothing created before the database answered

    # A real home (its marker present) whose database has gone away.
    office.path.mkdir()
    office.write_marker("abcd")
    with pytest.raises(DatabaseUnavailable) as later:
        card_count(office)
    for error in (caught.value, later.value):
        message = str(error)
        assert "127.0.0.1:1" in message
        assert "s3cret-db-pw" not in message
        assert "\n" not in message, f"more than one line: {message!r}"
    assert time.monotonic() - started < 10
    office.close()


@pytest.mark.parametrize("command", [["init"], ["db", "upgrade"]], ids=["init", "db-upgrade"])
def test_kia_on_an_unreachable_database_says_so_in_one_line(
    command: list[str], run_kia: RunKia, kia_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**kia_env, "KIA_DATABASE_URL": UNREACHABLE_URL}

    result = run_kia("issuer", *command, "--home", tmp_path / "office", cwd=tmp_path, env=env)

    assert (result.returncode, result.stdout) == (2, ""), (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot reach the database" in result.stderr and "s3cret-db-pw" not in result.stderr
    assert not (tmp_path / "office").exists()


# --- two changes that cross ----------------------------------------------------------


@pytest.mark.parametrize("issuer_db_url", ["postgresql"], indirect=True)  # SQLite has one writer: no deadlock
def test_a_deadlock_is_a_conflict_to_try_again_not_an_unreachable_database(office: IssuerHome) -> None:
    """Two transactions change two partners in opposite orders: PostgreSQL undoes one, which says so."""
    ids = [add_partner(office, name=name) for name in ("Bioskop", "Kolam")]
    both_hold_one = threading.Barrier(2, timeout=60)
    outcomes: list[object] = []

    def rename(first: int, second: int) -> None:
        try:
            with office.transaction() as session:
                session.execute(update(Partner).where(Partner.id == first).values(name=f"Mitra {first}"))
                both_hold_one.wait()
                session.execute(update(Partner).where(Partner.id == second).values(name=f"Mitra {second}"))
            outcomes.append("committed")
        except DatabaseConflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=rename, args=order) for order in (ids, ids[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("committed") == 1, outcomes
    (undone,) = [outcome for outcome in outcomes if isinstance(outcome, DatabaseConflict)]
    assert "try again" in str(undone) and "cannot reach" not in str(undone)
    assert (undone.http_status, undone.exit_code) == (503, 2)  # a terminal sends its batch again
