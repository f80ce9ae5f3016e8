"""The sync journal (KIA_SYNC_INTAKE=journal, ADR 0005), through the API, on SQLite and PostgreSQL.

The service acknowledges a batch once its token, chain and checkpoint hold,
keeping the request's body; ``kia issuer intake fold`` then stores, checks
and counts the records as of their arrival.  tests/integration/issuer/
test_ingest_checks.py plays every check both ways and finds the same; here,
what is the journal's own: nothing counts before the fold, nothing is lost or
folded twice, and every refusal is made before anything is kept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from issuer import create_app, sync_ingest
from issuer.errors import JournalDamaged
from issuer.storage.models import Alarm, RedemptionRow, SyncIntake, TerminalCheckpoint
from issuer.storage.store import IssuerHome
from kia.cli import main
from tests.factories.offices import add_partner, add_service, clock, issued_cards
from tests.terminal_sim import SimulatedTerminal, enrolled_terminal

SYNC = "/api/v1/sync"


@pytest.fixture
def founded_at() -> int:
    return clock()  # the API reads the real clock


@pytest.fixture
def journal_app(office: IssuerHome, keys_env: None) -> Iterator[Flask]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "SYNC_INTAKE": "journal"})
    yield app
    app.extensions["kia_home"].close()


@pytest.fixture
def client(journal_app: Flask) -> FlaskClient:
    return journal_app.test_client()


@pytest.fixture
def terminal(office: IssuerHome) -> SimulatedTerminal:
    partner = add_partner(office)
    add_service(office, partner)
    return enrolled_terminal(office, partner, clock(), cards=issued_cards(office, 12))


def post(client: FlaskClient, terminal: SimulatedTerminal, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post(SYNC, json=body, headers=terminal.bearer(terminal.token()))
    return response.status_code, response.get_json()


def stored(office: IssuerHome) -> list[int]:
    with office.transaction() as session:
        return list(session.scalars(select(RedemptionRow.seq).order_by(RedemptionRow.seq)))


def kept(office: IssuerHome) -> list[tuple[int, int]]:
    with office.transaction() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(SyncIntake.first_seq, SyncIntake.last_seq).order_by(SyncIntake.id))]


def kia(capsys: pytest.CaptureFixture[str], office: IssuerHome, *args: str) -> dict[str, Any]:
    """``kia issuer intake ARGS --home HOME``, in-process through the console script's entry point."""
    with pytest.raises(SystemExit) as exited:
        main(["issuer", "intake", *args, "--home", str(office.path)])
    out, _ = capsys.readouterr()
    assert exited.value.code == 0
    return json.loads(out)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, office: IssuerHome) -> None:
    monkeypatch.delenv("KIA_DATABASE_URL", raising=False)
    if office.database_url and office.database_url.startswith("postgresql"):
        monkeypatch.setenv("KIA_DATABASE_URL", office.database_url)


def test_an_acknowledged_batch_counts_once_folded_as_of_its_arrival(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal, capsys: pytest.CaptureFixture[str],
    cli_env: None,
):
    terminal.log(5)
    before = clock()
    assert post(client, terminal, terminal.batch(1, 5)) == (200, {"acknowledged": 5, "stored": 5, "duplicates": 0})
    terminal.log(3)
    assert post(client, terminal, terminal.batch(6, 8)) == (200, {"acknowledged": 8, "stored": 3, "duplicates": 0})

    assert stored(office) == [] and kept(office) == [(1, 5), (6, 8)]  # acknowledged, not yet counted
    waiting = kia(capsys, office, "status")
    assert (waiting["batches"], waiting["records"]) == (2, 8) and 0 <= waiting["oldest_waiting_seconds"] <= 60

    health = client.get("/healthz").get_json()["sync_journal"]
    assert (health["batches"], health["records"]) == (2, 8) and 0 <= health["oldest_waiting_seconds"] <= 60

    folded = kia(capsys, office, "fold", "--once")
    assert (folded["folded"], folded["batches"], folded["records"], folded["oldest_waiting_seconds"]) == (2, 0, 0, None)
    assert stored(office) == list(range(1, 9)) and kept(office) == []
    chain = terminal.chain()
    with office.transaction() as session:
        rows = session.execute(select(RedemptionRow.seq, RedemptionRow.hash, RedemptionRow.received_at,
                                      RedemptionRow.held).order_by(RedemptionRow.seq)).all()
        checkpoints = session.execute(select(TerminalCheckpoint.seq).order_by(TerminalCheckpoint.seq)).scalars().all()
    assert [row.hash for row in rows] == [digest.hex() for digest in chain]  # exactly as signed
    assert all(before <= row.received_at <= clock() and not row.held for row in rows)
    assert checkpoints == [5, 8]
    assert kia(capsys, office, "fold", "--once")["folded"] == 0  # nothing folds twice
    assert client.get("/healthz").get_json()["sync_journal"] == {"batches": 0, "records": 0,
                                                                 "oldest_waiting_seconds": None}


def test_a_batch_sent_again_before_the_fold_is_a_duplicate_and_a_changed_one_a_fork(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(4)
    assert post(client, terminal, terminal.batch(1, 4))[1]["acknowledged"] == 4
    # The acknowledgement was lost: the terminal sends the batch again, with one more record.
    terminal.log(1)
    assert post(client, terminal, terminal.batch(1, 5)) == (200, {"acknowledged": 5, "stored": 1, "duplicates": 4})
    assert stored(office) == [1, 2, 3, 4]  # the journal's batch was folded first to be compared
    assert kept(office) == [(5, 5)]

    first = terminal.records[4]
    terminal.rewrite(5, at=first.at + 1)  # a log rewritten after the office acknowledged it
    status, answer = post(client, terminal, terminal.batch(5, 5))
    assert (status, answer["error"], answer["acknowledged"]) == (409, "fork", 5)
    assert sync_ingest.fold(office, 10) == 1
    with office.transaction() as session:
        assert session.scalar(select(RedemptionRow.at).where(RedemptionRow.seq == 5)) == first.at  # the first kept
        assert session.scalars(select(Alarm.kind)).all() == ["fork"]


def test_refusals_keep_nothing_in_the_journal(client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal):
    terminal.log(6)
    status, answer = post(client, terminal, terminal.batch(3, 6))
    assert (status, answer["error"]) == (409, "gap")
    status, answer = post(client, terminal, terminal.batch(1, 4, checkpoint=terminal.checkpoint(3)))
    assert (status, answer["error"]) == (422, "chain_mismatch")
    status, answer = post(client, terminal, {"records": [{"seq": 1}], "checkpoint": terminal.checkpoint(1)})
    assert (status, answer["error"]) == (400, "bad_record")
    assert kept(office) == [] and sync_ingest.backlog(office) == sync_ingest.Backlog(0, 0, None)
    with office.transaction() as session:
        assert session.scalars(select(Alarm.kind)).all() == ["chain_mismatch"]  # outlives the refusal


def test_a_journalled_batch_changed_since_its_arrival_is_not_folded(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal, capsys: pytest.CaptureFixture[str],
    cli_env: None,
):
    terminal.log(3)
    assert post(client, terminal, terminal.batch(1, 3))[0] == 200
    changed = terminal.batch(1, 3)
    changed["records"][1]["paid"] = changed["records"][1]["price"] = changed["records"][1]["discount"] = 0
    with office.transaction() as session:
        session.execute(update(SyncIntake).values(body=json.dumps(changed).encode()))

    with pytest.raises(JournalDamaged, match="no longer matches its checkpoint"):
        sync_ingest.fold(office, 10)
    with pytest.raises(SystemExit) as exited:
        main(["issuer", "intake", "fold", "--once", "--home", str(office.path)])
    assert exited.value.code != 0 and "kia: " in capsys.readouterr().err
    assert stored(office) == [] and kept(office) == [(1, 3)]  # nothing stored, the batch kept for the auditor


def test_inline_ingest_folds_what_the_journal_kept_of_the_terminal_first(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    """A service switched back to inline ingest with batches still in the journal loses none."""
    terminal.log(3)
    assert post(client, terminal, terminal.batch(1, 3))[0] == 200
    terminal.log(2)
    body = terminal.batch(4, 5)
    ack = sync_ingest.ingest(office, terminal.token(), body["records"], body["checkpoint"], clock())
    assert (ack.acknowledged, ack.stored) == (5, 2)
    assert stored(office) == [1, 2, 3, 4, 5] and kept(office) == []


def test_folds_running_at_once_fold_each_batch_once(client: FlaskClient, office: IssuerHome, tmp_path: Path):
    terminals = []
    for n in range(3):
        partner = add_partner(office, name=f"Bioskop {n}")
        add_service(office, partner)
        terminals.append(enrolled_terminal(office, partner, clock(), cards=issued_cards(office, 4)))
    for _ in range(4):
        for terminal in terminals:
            first = len(terminal.records) + 1
            terminal.log(5)
            assert post(client, terminal, terminal.batch(first, first + 4))[0] == 200
    assert sync_ingest.backlog(office).batches == 12

    folded: list[int] = []
    failed: list[Exception] = []
    start = threading.Barrier(3)

    def folding() -> None:
        start.wait()
        try:
            folded.append(sync_ingest.fold(office, 100))
        except Exception as exc:  # noqa: BLE001 (asserted below, in the test's thread)
            failed.append(exc)

    threads = [threading.Thread(target=folding) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == [] and sum(folded) == 12
    with office.transaction() as session:
        count = session.scalar(select(func.count()).select_from(RedemptionRow))
        per_terminal = dict(session.execute(select(RedemptionRow.terminal_id, func.max(RedemptionRow.seq))
                                            .group_by(RedemptionRow.terminal_id)).all())
    assert count == 60 and set(per_terminal.values()) == {20}


def test_the_service_refuses_an_intake_it_does_not_know(office: IssuerHome):
    with pytest.raises(RuntimeError, match="KIA_SYNC_INTAKE"):
        create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "SYNC_INTAKE": "later"})


@pytest.mark.parametrize("issuer_db_url", ["postgresql"], indirect=True)  # SQLite has one writer: they take turns
def test_a_fold_under_way_keeps_no_terminal_waiting(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal, monkeypatch: pytest.MonkeyPatch
):
    terminal.log(4)
    assert post(client, terminal, terminal.batch(1, 4))[0] == 200
    folding, release = threading.Event(), threading.Event()
    apply = sync_ingest._apply

    def slow_apply(*args: Any, **kwargs: Any) -> None:
        apply(*args, **kwargs)  # the batch's rows are written: they hold their references to the terminal
        folding.set()
        release.wait()

    monkeypatch.setattr(sync_ingest, "_apply", slow_apply)
    fold = threading.Thread(target=sync_ingest.fold, args=(office, 1))
    answers: list[tuple[int, dict[str, Any]]] = []
    terminal.log(2)
    sync = threading.Thread(target=lambda: answers.append(post(client, terminal, terminal.batch(5, 6))))
    fold.start()
    try:
        assert folding.wait(30)
        sync.start()
        sync.join(30)
        assert not sync.is_alive() and answers == [(200, {"acknowledged": 6, "stored": 2, "duplicates": 0})]
    finally:
        release.set()
        fold.join()
        if sync.is_alive():
            sync.join()
    monkeypatch.setattr(sync_ingest, "_apply", apply)
    assert sync_ingest.fold(office, 10) == 1 and stored(office) == [1, 2, 3, 4, 5, 6]
