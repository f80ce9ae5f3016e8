"""The office publishes checkpoints of its log and gathers a real witness's cosignatures over loopback HTTP.

The witness is the inspectorate's (kia.witness) under waitress in a thread;
the office is real, on SQLite and PostgreSQL.  Also the API under
/api/v1/log: what a client that fetches tiles and proofs gets, and its errors.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer import transparency, witnessing
from issuer.errors import Invalid, Refused
from issuer.storage.models import Alarm, LogCheckpoint, LogWitness
from issuer.storage.store import IssuerHome
from keys.cosignature import CosignerKey, open_witnessed_checkpoint
from keys.tiles import Tile, split_hashes
from keys.tlog import NoteKey, leaf_hash, tree_root, verify_consistency, verify_inclusion
from kia.witness import WitnessHome
from tests.factories import ACTOR, DAY, NOW
from tests.factories.offices import UNLOCK, add_partner, issued_cards
from tests.integration.test_witness import Running

ORIGIN = "kia.surakarta.example/log"
WITNESS = "inspektorat.jateng.example/saksi"
PASSPHRASE = b"saksi-untuk-tes"


@pytest.fixture
def founded_at() -> int:
    return NOW - 30 * DAY


@pytest.fixture
def log_key(office: IssuerHome) -> NoteKey:
    return NoteKey.parse(transparency.init_log(office, UNLOCK, ORIGIN, NOW - 29 * DAY, by=ACTOR).verifier_key)


@pytest.fixture
def witness(tmp_path: Path, log_key: NoteKey) -> Iterator[Running]:
    home = WitnessHome.init(tmp_path / "witness", WITNESS, PASSPHRASE, NOW)
    home.state().add_log(ORIGIN, log_key, NOW)
    server = Running(home.witness(PASSPHRASE))
    yield server
    server.close()


@pytest.fixture
def followed(office: IssuerHome, witness: Running) -> CosignerKey:
    added = witnessing.add_witness(office, witness.url, witness.witness.key.verifier_key(), NOW, by=ACTOR)
    return CosignerKey.parse(added.verifier_key)


def test_each_checkpoint_is_cosigned_as_the_log_grows(office: IssuerHome, log_key: NoteKey, followed: CosignerKey):
    issued_cards(office, 5, NOW - DAY)
    first = witnessing.publish(office, UNLOCK, NOW)
    assert [outcome.cosigned for outcome in first.outcomes] == [True]
    head = open_witnessed_checkpoint(first.checkpoint.note, log_key, ORIGIN, [followed], 1, NOW)
    assert (head.size, first.checkpoint.cosignatures) == (first.checkpoint.size, 1)
    add_partner(office)
    second = witnessing.publish(office, UNLOCK, NOW + 60)  # a consistency proof from the first size
    assert [outcome.cosigned for outcome in second.outcomes] == [True]
    assert open_witnessed_checkpoint(second.checkpoint.note, log_key, ORIGIN, [followed], 1, NOW + 60).size == \
        first.checkpoint.size + 1
    assert [witness.size for witness in witnessing.witnesses(office)] == [second.checkpoint.size]
    again = witnessing.publish(office, UNLOCK, NOW + 120)  # nothing new: the same checkpoint, one cosignature
    assert again.checkpoint == second.checkpoint


def test_a_witness_that_moved_on_is_asked_again_from_its_own_size(office: IssuerHome, followed: CosignerKey,
                                                                   log_key: NoteKey):
    witnessing.publish(office, UNLOCK, NOW)
    with office.transaction() as session:  # the office's record of the witness is behind (a restored backup)
        session.scalars(select(LogWitness)).one().size = 0
    add_partner(office)
    published = witnessing.publish(office, UNLOCK, NOW + 60)
    assert [outcome.cosigned for outcome in published.outcomes] == [True]
    open_witnessed_checkpoint(published.checkpoint.note, log_key, ORIGIN, [followed], 1, NOW + 60)


@pytest.mark.parametrize("issuer_db_url", ["postgresql"], indirect=True)  # SQLite takes one writer at a time
def test_racing_publishers_keep_one_checkpoint_with_one_cosignature(office: IssuerHome, followed: CosignerKey,
                                                                    log_key: NoteKey):
    issued_cards(office, 3, NOW - DAY)
    start = threading.Barrier(2)
    results: list[witnessing.Published] = []

    def publisher() -> None:
        start.wait()
        results.append(witnessing.publish(office, UNLOCK, NOW))

    threads = [threading.Thread(target=publisher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [outcome.cosigned for result in results for outcome in result.outcomes] == [True, True]
    with office.transaction() as session:
        rows = session.scalars(select(LogCheckpoint)).all()
    assert [(row.size, row.cosignatures) for row in rows] == [(results[0].checkpoint.size, 1)]
    open_witnessed_checkpoint(rows[0].note, log_key, ORIGIN, [followed], 1, NOW)


def test_a_witness_that_does_not_answer_leaves_the_checkpoint_and_an_alarm(office: IssuerHome, log_key: NoteKey):
    with socket.socket() as closed:  # a port where nothing listens any more
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    key = CosignerKey.of(WITNESS, Ed25519PrivateKey.generate())
    witnessing.add_witness(office, f"http://127.0.0.1:{port}", key.verifier_key(), NOW, by=ACTOR)
    published = witnessing.publish(office, UNLOCK, NOW, timeout=2)
    assert [(outcome.witness, outcome.cosigned) for outcome in published.outcomes] == [(WITNESS, False)]
    assert "did not answer" in published.outcomes[0].detail
    assert published.checkpoint.cosignatures == 0
    with office.transaction() as session:
        alarm = session.scalars(select(Alarm).where(Alarm.kind == "witness_refused")).one()
    assert WITNESS in alarm.detail


def test_a_witness_of_another_log_refuses_and_nothing_false_is_kept(office: IssuerHome, tmp_path: Path):
    home = WitnessHome.init(tmp_path / "other", WITNESS, PASSPHRASE, NOW)  # follows no log of this office
    server = Running(home.witness(PASSPHRASE))
    try:
        transparency.init_log(office, UNLOCK, ORIGIN, NOW, by=ACTOR)
        witnessing.add_witness(office, server.url, home.key.verifier_key(), NOW, by=ACTOR)
        published = witnessing.publish(office, UNLOCK, NOW)
    finally:
        server.close()
    assert [outcome.cosigned for outcome in published.outcomes] == [False]
    assert published.checkpoint.cosignatures == 0


def test_bad_witnesses_are_refused(office: IssuerHome, followed: CosignerKey, witness: Running):
    with pytest.raises(Refused, match="already"):
        witnessing.add_witness(office, witness.url, followed.verifier_key(), NOW, by=ACTOR)
    with pytest.raises(Invalid):
        witnessing.add_witness(office, "ftp://x", followed.verifier_key(), NOW, by=ACTOR)
    with pytest.raises(Invalid):
        witnessing.add_witness(office, witness.url, "bukan+kunci+saksi", NOW, by=ACTOR)


# --- the API --------------------------------------------------------------------------------------


def test_a_client_checks_the_served_checkpoint_tiles_and_proofs(office: IssuerHome, client: FlaskClient,
                                                                log_key: NoteKey):
    assert client.get("/api/v1/log/checkpoint").status_code == 404  # none signed yet
    serial = issued_cards(office, 20, NOW - DAY)[0][0]
    first = transparency.sign(office, UNLOCK, NOW)
    issued_cards(office, 7, NOW - DAY)
    latest = transparency.sign(office, UNLOCK, NOW + 1)

    answer = client.get("/api/v1/log/checkpoint")
    assert answer.status_code == 200 and answer.content_type == "text/plain; charset=utf-8"
    assert answer.text == latest.note
    assert client.get("/api/v1/log/key").get_json() == {"origin": ORIGIN, "verifier_key": log_key.verifier_key(),
                                                        "witnesses": []}
    tile = client.get(f"/api/v1/log/tile/0/000.p/{latest.size}")
    assert tile.headers["Cache-Control"].endswith("immutable")
    leaves = split_hashes(Tile(0, 0, latest.size), tile.data)
    assert tree_root(leaves) == latest.root
    old = client.get(f"/api/v1/log/tile/0/000.p/{first.size}")  # a past checkpoint's partial tile stays served
    assert old.status_code == 200 and old.data == tile.data[:32 * first.size]
    bundle = client.get(f"/api/v1/log/tile/entries/000.p/{latest.size}").data
    assert leaf_hash(bundle[2:2 + int.from_bytes(bundle[:2], "big")]) == leaves[0]

    proof = client.get(f"/api/v1/log/proof/inclusion?index=4&size={latest.size}").get_json()
    verify_inclusion(4, latest.size, leaves[4], [base64.b64decode(h) for h in proof["proof"]], latest.root)
    proof = client.get(f"/api/v1/log/proof/consistency?old={first.size}&size={latest.size}").get_json()
    verify_consistency(first.size, latest.size, first.root, latest.root,
                       [base64.b64decode(h) for h in proof["proof"]])
    found = client.get(f"/api/v1/log/entry?kind=card_issued&ref={serial}").get_json()
    assert leaf_hash(base64.b64decode(found["entry"])) == leaves[found["index"]]


@pytest.mark.parametrize(("url", "status", "code"), [
    ("/api/v1/log/tile/0/001", 404, "no_tile"),
    ("/api/v1/log/tile/0/000.p/999", 404, "no_tile"),
    ("/api/v1/log/tile/../../etc/passwd", 404, "no_tile"),
    ("/api/v1/log/tile/0/x000", 404, "no_tile"),
    ("/api/v1/log/proof/inclusion?index=9&size=2", 400, "invalid"),
    ("/api/v1/log/proof/inclusion?index=0&size=999", 404, "not_found"),
    ("/api/v1/log/proof/inclusion?index=a&size=3", 400, "bad_query"),
    ("/api/v1/log/proof/consistency?old=3&size=2", 400, "invalid"),
    ("/api/v1/log/proof/consistency?old=1&size=2&extra=1", 400, "bad_query"),
    ("/api/v1/log/entry?kind=card_issued&ref=TIDAKADA", 404, "not_found"),
    ("/api/v1/log/entry?kind=DROP%20TABLE&ref=x", 400, "bad_query"),
])
def test_bad_requests_get_clear_errors(office: IssuerHome, client: FlaskClient, url: str, status: int, code: str):
    transparency.integrate_all(office)  # the founding's two keys
    answer = client.get(url)
    assert (answer.status_code, answer.get_json()["error"]) == (status, code), answer.get_json()
