"""Terminal enrolment, signed configuration and redemption sync through the API.

Each test builds a fresh office on SQLite and PostgreSQL and talks to it with
Flask's test client as a terminal would (tests/terminal_sim.py).  The API
reads the real clock, so tokens, codes and MoU dates are made around it with
margins of minutes or days: nothing depends on the second a test runs in.

Families of attacks (bad tokens, bad keys, bad records...) are played in one
office per family, each case named in a dict: a failure names every case that
went wrong, and the suite stays fast on both databases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from issuer.issuing_keys import list_issuing_keys
from issuer.storage.models import Alarm, RedemptionRow, Terminal
from issuer.storage.store import IssuerHome
from issuer.sync_ingest import MAX_BATCH
from issuer.terminals import CONFIG_TYP, Registration, enroll, register_terminal, set_terminal_state
from issuer.trust_lists import export_trust_list
from keys import EDDSA, KeyState, jws
from keys.chain import Redemption
from tests.factories import ACTOR, NOW, b64url
from tests.factories.offices import (
    PASSPHRASE,
    SERVICE,
    UNLOCK,
    add_partner,
    add_service,
    clock,
    issued_cards,
    today,
)
from tests.terminal_sim import SimulatedTerminal, decision, expired_registration_time

ENROL = "/api/v1/terminals/enroll"
CONFIG = "/api/v1/terminals/config"
SYNC = "/api/v1/sync"
MIB = 1024 * 1024


@pytest.fixture
def founded_at() -> int:
    return clock()  # the API reads the real clock


@pytest.fixture(autouse=True)
def _keys(keys_env: None) -> None:
    """The API opens the issuing key to sign terminal configuration."""


@pytest.fixture
def partner_id(office: IssuerHome) -> int:
    partner = add_partner(office)
    add_service(office, partner)
    return partner


def enrol(client: FlaskClient, office: IssuerHome, partner: int, mou_override: str | None = None) -> SimulatedTerminal:
    registration = register_terminal(office, partner, "Kasir 1", clock(), by=ACTOR, mou_override=mou_override)
    terminal = SimulatedTerminal()
    response = client.post(ENROL, json=terminal.enrolment_request(registration.enrolment_code))
    assert response.status_code == 201, response.get_json()
    return terminal.enrolled(response.get_json())


@pytest.fixture
def terminal(client: FlaskClient, office: IssuerHome, partner_id: int) -> SimulatedTerminal:
    """An enrolled terminal whose children show cards the office issued (each at most twice a day)."""
    terminal = enrol(client, office, partner_id)
    terminal.cards = issued_cards(office, 30)
    return terminal


@pytest.fixture
def registration(office: IssuerHome, partner_id: int) -> Registration:
    return register_terminal(office, partner_id, "Kasir 2", clock(), by=ACTOR)


def post_sync(client: FlaskClient, terminal: SimulatedTerminal, body: Any, token: str | None = None) -> TestResponse:
    return client.post(SYNC, json=body, headers=terminal.bearer(token))


def answer(response: TestResponse) -> tuple[int, str | None]:
    """Status and error code, the two things a terminal acts on."""
    body = response.get_json(silent=True)
    return response.status_code, body.get("error") if isinstance(body, dict) else None


def stored_count(office: IssuerHome, terminal_id: str) -> int:
    with office.transaction() as session:
        return session.scalar(
            select(func.count()).select_from(RedemptionRow).where(RedemptionRow.terminal_id == terminal_id)
        )


def stored_rows(office: IssuerHome, terminal_id: str) -> list[RedemptionRow]:
    with office.transaction() as session:
        rows = session.scalars(
            select(RedemptionRow).where(RedemptionRow.terminal_id == terminal_id).order_by(RedemptionRow.seq)
        ).all()
        session.expunge_all()
        return list(rows)


def terminal_row(office: IssuerHome, terminal_id: str) -> Terminal:
    with office.transaction() as session:
        row = session.get_one(Terminal, terminal_id)
        session.expunge(row)
        return row


def alarms(office: IssuerHome) -> list[tuple[str, str | None]]:
    with office.transaction() as session:
        return [(row.kind, row.terminal_id) for row in session.scalars(select(Alarm).order_by(Alarm.id))]


def metric(client: FlaskClient, name: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    samples = {sample.name: sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples}
    return samples[name]


def verified_config(office: IssuerHome, token: str) -> dict[str, Any]:
    """The claims of a terminal configuration, verified with the office's active issuing key."""
    header = jws.unverified_header(token, CONFIG_TYP)
    (active,) = [key for key in list_issuing_keys(office) if key.state == KeyState.ACTIVE]
    assert header == {"alg": EDDSA, "kid": active.kid, "typ": CONFIG_TYP}
    return json.loads(jws.verify(token, active.public_key, EDDSA))


def assert_unauthorized(response: TestResponse) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"] == "unauthorized" and response.get_json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def assert_resend_works(client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal, last: int) -> None:
    """Refused batches left nothing behind: the genuine batch 1..last is stored whole."""
    assert stored_count(office, terminal.terminal_id) == 0
    response = post_sync(client, terminal, terminal.batch(1, last))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"acknowledged": last, "stored": last, "duplicates": 0}


# --- enrolment ---------------------------------------------------------------


def test_enrolment_activates_the_terminal_with_the_root_and_a_signed_config(
    client: FlaskClient, office: IssuerHome, registration: Registration, partner_id: int, tmp_path: Path
):
    terminal = SimulatedTerminal()
    response = client.post(ENROL, json=terminal.enrolment_request(registration.enrolment_code))
    assert response.status_code == 201
    answered = response.get_json()
    assert set(answered) == {"terminal_id", "audience", "root_jwk", "config"}
    exported = export_trust_list(office, UNLOCK, clock(), tmp_path / "published", by=ACTOR)
    root_jwk = json.loads(exported.root_jwk.read_text())
    assert answered["terminal_id"] == registration.terminal_id
    assert answered["root_jwk"] == root_jwk
    assert answered["audience"] == f"kia-office:{root_jwk['kid']}"

    config = verified_config(office, answered["config"])
    assert config["tid"] == registration.terminal_id and config["partner"]["id"] == partner_id
    assert config["services"] == [SERVICE.to_json()]
    assert config["mou_until"] == (today() + dt.timedelta(days=365)).isoformat()

    row = terminal_row(office, registration.terminal_id)
    assert row.state == "active" and row.enrolment_code_hash is None
    assert row.public_jwk == {"kty": "OKP", "crv": "Ed25519", "x": terminal.public_jwk["x"], "kid": terminal.kid}


def test_the_code_is_accepted_however_the_officer_reads_it_out(
    client: FlaskClient, office: IssuerHome, partner_id: int
):
    spellings: dict[str, Callable[[str], str]] = {
        "lower_case": str.lower,
        "without_dashes": lambda code: code.replace("-", ""),
        "lower_case_with_spaces": lambda code: " ".join(code.lower().split("-")),
    }
    answers = {}
    for name, spell in spellings.items():
        registration = register_terminal(office, partner_id, name, clock(), by=ACTOR)
        response = client.post(ENROL, json=SimulatedTerminal().enrolment_request(spell(registration.enrolment_code)))
        answers[name] = (response.status_code, response.get_json().get("terminal_id") == registration.terminal_id)
    assert answers == dict.fromkeys(spellings, (201, True))


def test_an_enrolment_code_works_only_once(
    client: FlaskClient, office: IssuerHome, registration: Registration
):
    first, second = SimulatedTerminal(), SimulatedTerminal()
    assert client.post(ENROL, json=first.enrolment_request(registration.enrolment_code)).status_code == 201
    response = client.post(ENROL, json=second.enrolment_request(registration.enrolment_code))
    assert answer(response) == (403, "enrolment_refused")
    assert "ask the office for a new one" in response.get_json()["message"]
    assert terminal_row(office, registration.terminal_id).public_jwk["x"] == first.public_jwk["x"]


def test_an_expired_or_unknown_enrolment_code_is_refused(client: FlaskClient, office: IssuerHome, partner_id: int):
    old = register_terminal(office, partner_id, "Kasir lama", expired_registration_time(), by=ACTOR)
    expired = client.post(ENROL, json=SimulatedTerminal().enrolment_request(old.enrolment_code))
    unknown = client.post(ENROL, json=SimulatedTerminal().enrolment_request("ABCD-EFGH-JKMN"))
    assert answer(expired) == answer(unknown) == (403, "enrolment_refused")
    assert terminal_row(office, old.terminal_id).state == "pending"


_PUBLIC = SimulatedTerminal().public_jwk
BAD_KEYS: dict[str, tuple[dict[str, Any], str]] = {  # the key sent, a word the message must hold
    "rsa_key": ({"kty": "RSA", "n": b64url(bytes(range(1, 200))), "e": "AQAB"}, "Ed25519"),
    "private_key_inside": (_PUBLIC | {"d": b64url(bytes(32))}, "private"),
    "x_of_31_bytes": ({"kty": "OKP", "crv": "Ed25519", "x": b64url(bytes(31))}, "32-byte"),
    "x_of_33_bytes": ({"kty": "OKP", "crv": "Ed25519", "x": b64url(bytes(33))}, "32-byte"),
    "x_not_base64url": ({"kty": "OKP", "crv": "Ed25519", "x": "+/" * 22}, "32-byte"),
    "x25519_key": ({"kty": "OKP", "crv": "X25519", "x": _PUBLIC["x"]}, "Ed25519"),
    "kid_of_another_key": (_PUBLIC | {"kid": "AAAA"}, "kid"),
    "alg_not_eddsa": (_PUBLIC | {"alg": "ES256"}, "EdDSA"),
}


def test_a_key_that_is_not_an_ed25519_public_key_is_refused_and_the_code_kept(
    client: FlaskClient, office: IssuerHome, registration: Registration
):
    answers = {}
    for name, (jwk, explains) in BAD_KEYS.items():
        response = client.post(ENROL, json={"code": registration.enrolment_code, "public_jwk": jwk})
        answers[name] = (response.status_code in (400, 403), explains in response.get_json()["message"])
    assert answers == dict.fromkeys(BAD_KEYS, (True, True))
    assert terminal_row(office, registration.terminal_id).state == "pending"
    good = client.post(ENROL, json=SimulatedTerminal().enrolment_request(registration.enrolment_code))
    assert good.status_code == 201


def test_malformed_enrolment_requests_are_json_4xx_and_enrol_nothing(
    client: FlaskClient, office: IssuerHome, registration: Registration
):
    code, jwk = registration.enrolment_code, SimulatedTerminal().public_jwk

    def body(value: object) -> bytes:
        return json.dumps(value).encode()

    cases: dict[str, tuple[bytes, str, tuple[int, str]]] = {  # data, content type, expected answer
        "not_json": (b"code=1", "application/json", (400, "bad_json")),
        "truncated_json": (body({"code": code})[:-3], "application/json", (400, "bad_json")),
        "invalid_utf8": (b'{"code": "\xff\xfe"}', "application/json", (400, "bad_json")),
        "json_as_text_plain": (body({"code": code, "public_jwk": jwk}), "text/plain", (400, "bad_json")),
        "a_list": (b"[]", "application/json", (400, "bad_request")),
        "null": (b"null", "application/json", (400, "bad_json")),
        "code_as_number": (body({"code": 123456789012, "public_jwk": jwk}), "application/json", (400, "bad_request")),
        "jwk_as_string": (body({"code": code, "public_jwk": json.dumps(jwk)}), "application/json",
                          (400, "bad_request")),
        "unknown_field": (body({"code": code, "public_jwk": jwk, "partner": 1}), "application/json",
                          (400, "bad_request")),
        "missing_key": (body({"code": code}), "application/json", (400, "bad_request")),
        "code_too_long": (body({"code": code * 3, "public_jwk": jwk}), "application/json", (400, "bad_request")),
        "nul_in_code": (body({"code": code[:4] + "\x00" + code[5:], "public_jwk": jwk}), "application/json",
                        (400, "bad_request")),
        "nul_in_jwk": (body({"code": code, "public_jwk": jwk | {"crv": "Ed25519\x00"}}), "application/json",
                       (403, "enrolment_refused")),
    }
    answers = {}
    for name, (data, content_type, _) in cases.items():
        response = client.post(ENROL, data=data, content_type=content_type)
        answers[name] = (*answer(response), bool(response.is_json and response.get_json()["message"]))
    assert answers == {name: (*expected, True) for name, (_, _, expected) in cases.items()}
    assert terminal_row(office, registration.terminal_id).state == "pending"


def test_a_body_over_one_mebibyte_is_413_on_both_endpoints(
    client: FlaskClient, registration: Registration, terminal: SimulatedTerminal
):
    """The service reads no request body larger than a sync batch (MAX_CONTENT_LENGTH, issuer/app.py)."""
    terminal.log(1)
    padding = "x" * MIB
    # A JWK may carry members of its own: without the limit this enrolment would be a 201.
    padded_key = SimulatedTerminal().public_jwk | {"padding": padding}
    enrolment = client.post(ENROL, json={"code": registration.enrolment_code, "public_jwk": padded_key})
    batch = post_sync(client, terminal, terminal.batch(1, 1) | {"padding": padding})
    assert (enrolment.status_code, batch.status_code) == (413, 413)
    assert enrolment.get_json()["error"] and batch.get_json()["error"]


def test_a_deeply_nested_body_is_4xx_not_a_5xx(client: FlaskClient, terminal: SimulatedTerminal):
    """The JSON parser's RecursionError must not turn into a 500, least of all before authentication."""
    nested = b"[" * 100_000
    enrolment = client.post(ENROL, data=nested, content_type="application/json")
    batch = client.post(SYNC, data=nested, content_type="application/json", headers=terminal.bearer())
    assert (answer(enrolment), answer(batch)) == ((400, "bad_json"), (400, "bad_json"))


def test_a_partner_whose_mou_expired_gets_no_services(client: FlaskClient, office: IssuerHome):
    ended = today() - dt.timedelta(days=30)
    partner = add_partner(office, mou_start=ended - dt.timedelta(days=730), mou_end=ended)
    add_service(office, partner)
    terminal = enrol(client, office, partner, mou_override="the office registers it while renewing")
    config = verified_config(office, terminal.config)
    assert config["services"] == [] and config["mou_until"] == ended.isoformat()


def test_without_the_signing_passphrase_enrolment_is_503_and_the_code_is_kept(
    client: FlaskClient, office: IssuerHome, registration: Registration, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("KIA_KEY_PASSPHRASE")
    request = SimulatedTerminal().enrolment_request(registration.enrolment_code)
    response = client.post(ENROL, json=request)
    assert answer(response) == (503, "signing_unavailable")
    assert terminal_row(office, registration.terminal_id).state == "pending"
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", PASSPHRASE)
    assert client.post(ENROL, json=request).status_code == 201


# --- terminal configuration ----------------------------------------------------


def test_a_terminal_fetches_its_signed_config_with_a_sync_token(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    response = client.get(CONFIG, headers=terminal.bearer())
    assert response.status_code == 200 and response.mimetype == "application/jose"
    config = verified_config(office, response.get_data(as_text=True))
    assert config["tid"] == terminal.terminal_id and config["services"] == [SERVICE.to_json()]


def test_config_without_a_valid_token_is_401(client: FlaskClient, terminal: SimulatedTerminal):
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer not-a-token"},
                    terminal.bearer(terminal.token(audience="kia-office:XXXX"))):
        assert_unauthorized(client.get(CONFIG, headers=headers))


def test_a_config_token_cannot_be_replayed(client: FlaskClient, terminal: SimulatedTerminal):
    """docs/sync-protocol.md: every request's jti is kept until its token expires; a second use is refused."""
    token = terminal.token()
    assert client.get(CONFIG, headers=terminal.bearer(token)).status_code == 200
    assert_unauthorized(client.get(CONFIG, headers=terminal.bearer(token)))


# --- sync: the happy paths -------------------------------------------------------


def test_a_batch_is_stored_and_the_office_chain_equals_the_terminal_chain(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal, partner_id: int
):
    terminal.log(30)
    body = terminal.batch(1, 30)
    response = post_sync(client, terminal, body)
    assert response.status_code == 200
    assert response.get_json() == {"acknowledged": 30, "stored": 30, "duplicates": 0}

    rows = stored_rows(office, terminal.terminal_id)
    chain = terminal.chain()
    fields = [field.name for field in dataclasses.fields(Redemption) if field.name != "home"]
    assert [row.home for row in rows] == [None] * 30  # the office's own cards
    assert [Redemption.from_json({name: getattr(row, name) for name in fields}) for row in rows] == terminal.records
    assert [row.hash for row in rows] == [digest.hex() for digest in chain]
    assert {row.partner_id for row in rows} == {partner_id}
    state = terminal_row(office, terminal.terminal_id)
    assert (state.acknowledged_seq, state.chain_hash) == (30, chain[-1].hex())
    assert state.checkpoint == body["checkpoint"] and state.last_sync_at is not None
    assert alarms(office) == []


def test_resending_a_batch_stores_nothing_twice(client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal):
    terminal.log(20)
    assert post_sync(client, terminal, terminal.batch(1, 20)).status_code == 200
    response = post_sync(client, terminal, terminal.batch(1, 20))
    assert response.status_code == 200
    assert response.get_json() == {"acknowledged": 20, "stored": 0, "duplicates": 20}
    assert stored_count(office, terminal.terminal_id) == 20


def test_an_overlapping_batch_stores_only_the_new_records(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(15)
    assert post_sync(client, terminal, terminal.batch(1, 10)).status_code == 200
    response = post_sync(client, terminal, terminal.batch(6, 15))
    assert response.get_json() == {"acknowledged": 15, "stored": 5, "duplicates": 5}
    assert [row.seq for row in stored_rows(office, terminal.terminal_id)] == list(range(1, 16))
    assert terminal_row(office, terminal.terminal_id).chain_hash == terminal.chain()[-1].hex()


def test_a_batch_of_the_maximum_size_is_stored_and_one_more_is_400(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(MAX_BATCH + 1)
    too_many = post_sync(client, terminal, terminal.batch(1, MAX_BATCH + 1))
    assert too_many.status_code == 400 and too_many.get_json()["error"] in ("bad_request", "bad_batch")
    assert_resend_works(client, office, terminal, MAX_BATCH)


def test_metrics_count_stored_batches_records_and_alarms(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(12)
    post_sync(client, terminal, terminal.batch(1, 10))
    post_sync(client, terminal, terminal.batch(5, 12))  # 2 new, 6 duplicates
    assert metric(client, "kia_sync_batches_total") == 2
    assert metric(client, "kia_redemptions_ingested_total") == 12
    assert metric(client, "kia_alarms_total") == 0

    assert post_sync(client, terminal, {"records": [], "checkpoint": "x"}).status_code == 400
    terminal.log(3)
    assert post_sync(client, terminal, terminal.batch(14, 15)).status_code == 409  # a gap: no alarm
    terminal.rewrite(3, discount=0, paid=terminal.records[2].price)
    assert post_sync(client, terminal, terminal.batch(1, 4)).status_code == 409  # a fork: an alarm
    assert metric(client, "kia_sync_batches_total") == 2
    assert metric(client, "kia_redemptions_ingested_total") == 12
    assert metric(client, "kia_alarms_total") == 1 == len(alarms(office))


# --- sync: continuity, forks and checkpoints ------------------------------------------


def test_a_gap_is_409_with_what_the_office_holds(client: FlaskClient, office: IssuerHome, terminal):
    terminal.log(15)
    response = post_sync(client, terminal, terminal.batch(2, 5))
    assert answer(response) == (409, "gap") and response.get_json()["acknowledged"] == 0
    assert post_sync(client, terminal, terminal.batch(1, 10)).status_code == 200
    response = post_sync(client, terminal, terminal.batch(12, 15))
    assert answer(response) == (409, "gap") and response.get_json()["acknowledged"] == 10
    assert stored_count(office, terminal.terminal_id) == 10
    assert post_sync(client, terminal, terminal.batch(11, 15)).get_json()["acknowledged"] == 15
    assert alarms(office) == []


def test_a_forked_record_is_refused_and_the_alarm_outlives_the_refusal(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(12)
    assert post_sync(client, terminal, terminal.batch(1, 10)).status_code == 200
    original = terminal.records[4]
    terminal.rewrite(5, accepted=False, reason="card_revoked", discount=0, paid=original.price)
    ranges = {"old_and_new": (5, 12), "all_old": (1, 10), "only_the_forked_record": (5, 5)}
    answers = {}
    for name, (first, last) in ranges.items():
        response = post_sync(client, terminal, terminal.batch(first, last))
        answers[name] = (*answer(response), response.get_json()["acknowledged"])
    assert answers == dict.fromkeys(ranges, (409, "fork", 10))
    assert alarms(office) == [("fork", terminal.terminal_id)] * len(ranges)
    rows = stored_rows(office, terminal.terminal_id)
    assert len(rows) == 10 and rows[4].accepted is True and rows[4].paid == original.paid
    assert terminal_row(office, terminal.terminal_id).acknowledged_seq == 10


def _records_changed_after_signing(terminal: SimulatedTerminal, last: int) -> str:
    checkpoint = terminal.checkpoint(last)
    terminal.rewrite(2, discount=0, paid=terminal.records[1].price)  # a man in the middle edits a record
    return checkpoint


CHECKPOINT_MISMATCHES: dict[str, Callable[[SimulatedTerminal, int], str]] = {
    "wrong_hash": lambda t, last: t.checkpoint(last, digest=bytes(32)),
    "an_earlier_seq": lambda t, last: t.checkpoint(last - 1),
    "a_later_seq_with_the_right_hash": lambda t, last: t.checkpoint(last + 1, digest=t.chain()[last - 1]),
    "records_changed_after_signing": _records_changed_after_signing,
}


def test_a_checkpoint_that_does_not_match_the_records_is_422_with_an_alarm(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    answers = {}
    for name, checkpoint_of in CHECKPOINT_MISMATCHES.items():
        terminal.records.clear()
        terminal.log(11)
        response = post_sync(client, terminal, terminal.batch(1, 10, checkpoint=checkpoint_of(terminal, 10)))
        answers[name] = (*answer(response), response.get_json()["acknowledged"])
    assert answers == dict.fromkeys(CHECKPOINT_MISMATCHES, (422, "chain_mismatch", 0))
    assert alarms(office) == [("chain_mismatch", terminal.terminal_id)] * len(CHECKPOINT_MISMATCHES)
    assert metric(client, "kia_alarms_total") == len(CHECKPOINT_MISMATCHES)
    terminal.records.clear()
    terminal.log(10)
    assert_resend_works(client, office, terminal, 10)


CHECKPOINT_FORGERIES: dict[str, Callable[[SimulatedTerminal, int], str]] = {
    "signed_by_another_key": lambda t, last: t.checkpoint(last, key=Ed25519PrivateKey.generate()),
    "for_another_terminal": lambda t, last: t.checkpoint(last, terminal="T-OTHER000"),
    "not_a_jws": lambda t, last: "checkpoint",
    "a_sync_token": lambda t, last: t.token(),
    "too_long": lambda t, last: t.checkpoint(last) + "A" * 2000,
}


def test_a_checkpoint_not_signed_for_this_terminal_is_422(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(10)
    answers = {name: answer(post_sync(client, terminal, terminal.batch(1, 10, checkpoint=forge(terminal, 10))))
               for name, forge in CHECKPOINT_FORGERIES.items()}
    assert answers == dict.fromkeys(CHECKPOINT_FORGERIES, (422, "chain_mismatch"))
    assert_resend_works(client, office, terminal, 10)


def test_every_alarm_counted_in_the_metrics_is_recorded(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    """kia_alarms_total and the alarms table must agree: sync_ingest.ingest promises an alarm for every
    chain mismatch, and an alarm an officer cannot read is no alarm."""
    terminal.log(10)
    forged = terminal.checkpoint(10, key=Ed25519PrivateKey.generate())
    assert post_sync(client, terminal, terminal.batch(1, 10, checkpoint=forged)).status_code == 422
    assert metric(client, "kia_alarms_total") == len(alarms(office))


# --- sync: who may send ----------------------------------------------------------


TOKEN_ATTACKS: dict[str, Callable[[SimulatedTerminal], str]] = {
    "expired": lambda t: t.token(now=clock() - 1000),
    "from_the_future": lambda t: t.token(now=clock() + 600),
    "for_another_server": lambda t: t.token(audience="kia-office:XXXX"),
    "hs256_keyed_with_the_public_key": lambda t: t.hmac_token(t.claims()),
    "alg_none": lambda t: t.unsigned_token(t.claims()),
    "signed_by_another_key": lambda t: t.token(key=Ed25519PrivateKey.generate()),
    "unknown_terminal": lambda t: t.token(terminal="T-NOBODY00"),
    "living_longer_than_allowed": lambda t: t.token(lifetime=3600),
    "wrong_type": lambda t: t.signed_token(t.claims(), typ="JWT"),
    "header_with_jku": lambda t: t.signed_token(t.claims(), jku="https://evil.example/jwks.json"),
    "without_jti": lambda t: t.signed_token({k: v for k, v in t.claims().items() if k != "jti"}),
    "short_jti": lambda t: t.signed_token(t.claims(jti="abc")),
    "exp_as_string": lambda t: t.signed_token(t.claims(exp="tomorrow")),
    "a_checkpoint_as_token": lambda t: t.checkpoint(1),
    "signature_stripped": lambda t: t.token().rsplit(".", 1)[0] + ".",
}


def test_a_bad_sync_token_is_401_and_stores_nothing(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(5)
    answers = {}
    for name, attack in TOKEN_ATTACKS.items():
        response = post_sync(client, terminal, terminal.batch(1, 5), token=attack(terminal))
        answers[name] = (*answer(response), response.headers.get("WWW-Authenticate", "").startswith("Bearer "))
    assert answers == dict.fromkeys(TOKEN_ATTACKS, (401, "unauthorized", True))
    assert_resend_works(client, office, terminal, 5)


def test_a_replayed_token_is_401(client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal):
    terminal.log(10)
    token = terminal.token()
    assert post_sync(client, terminal, terminal.batch(1, 5), token=token).status_code == 200
    assert_unauthorized(post_sync(client, terminal, terminal.batch(6, 10), token=token))
    assert stored_count(office, terminal.terminal_id) == 5


def test_a_token_used_for_a_refused_batch_cannot_be_replayed(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    """docs/sync-protocol.md keeps every jti until its token expires, not only those of stored batches."""
    terminal.log(10)
    token = terminal.token()
    assert post_sync(client, terminal, terminal.batch(2, 10), token=token).status_code == 409
    assert_unauthorized(post_sync(client, terminal, terminal.batch(1, 10), token=token))


def test_a_terminal_posting_as_another_terminal_is_401(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal, partner_id: int
):
    victim = enrol(client, office, partner_id)
    terminal.log(5)
    body = terminal.batch(1, 5, checkpoint=terminal.checkpoint(5, terminal=victim.terminal_id))
    assert_unauthorized(post_sync(client, terminal, body, token=terminal.token(terminal=victim.terminal_id)))
    assert stored_count(office, victim.terminal_id) == 0


def test_no_or_garbled_authorization_is_401_with_www_authenticate(client: FlaskClient, terminal: SimulatedTerminal):
    terminal.log(1)
    for authorization in (None, "", "Bearer", "Bearer    ", "Basic a2lhOmtpYQ==", "Bearer not.a.token",
                          "Bearer " + "A" * 5000, "Token abc", "Bearer a.b.c.d"):
        headers = {} if authorization is None else {"Authorization": authorization}
        assert_unauthorized(client.post(SYNC, json=terminal.batch(1, 1), headers=headers))


def test_a_nul_byte_in_the_token_terminal_id_is_401_not_a_5xx(client: FlaskClient, terminal: SimulatedTerminal):
    """No key is needed to send this token: PostgreSQL refuses NUL in text, so it must not reach a query."""
    terminal.log(1)
    token = terminal.signed_token(terminal.claims(iss="T-\x00ABCDEF"))
    assert_unauthorized(post_sync(client, terminal, terminal.batch(1, 1), token=token))
    assert_unauthorized(client.get(CONFIG, headers=terminal.bearer(token)))


def test_a_nul_byte_in_the_jti_is_not_a_5xx(client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal):
    terminal.log(1)
    token = terminal.signed_token(terminal.claims(jti="\x00" * 16))
    response = post_sync(client, terminal, terminal.batch(1, 1), token=token)
    assert response.status_code in (200, 401), response.get_json()


def test_a_suspended_terminal_is_403_until_reactivated(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(5)
    set_terminal_state(office, terminal.terminal_id, "suspended", NOW, by=ACTOR)
    assert answer(post_sync(client, terminal, terminal.batch(1, 5))) == (403, "terminal_suspended")
    config = client.get(CONFIG, headers=terminal.bearer())
    assert (config.status_code, config.get_json()["error"]) == (403, "terminal_suspended")
    set_terminal_state(office, terminal.terminal_id, "active", NOW, by=ACTOR)
    assert_resend_works(client, office, terminal, 5)


def test_a_retired_terminal_is_401(client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal):
    terminal.log(5)
    set_terminal_state(office, terminal.terminal_id, "retired", NOW, by=ACTOR)
    assert_unauthorized(post_sync(client, terminal, terminal.batch(1, 5)))
    assert stored_count(office, terminal.terminal_id) == 0


def test_a_partner_whose_mou_expired_still_syncs_as_signed_with_an_alarm(client: FlaskClient, office: IssuerHome):
    ended = today() - dt.timedelta(days=1)
    partner = add_partner(office, mou_start=ended - dt.timedelta(days=730), mou_end=ended)
    add_service(office, partner)
    terminal = enrol(client, office, partner, mou_override="the office registers it while renewing")
    terminal.cards = issued_cards(office, 13)
    terminal.log(13)  # record 13 carries the terminal's own flag "stale"
    response = post_sync(client, terminal, terminal.batch(1, 13))
    assert response.get_json() == {"acknowledged": 13, "stored": 13, "duplicates": 0}
    rows = stored_rows(office, terminal.terminal_id)
    # Stored exactly as the terminal signed them, so an auditor can recompute the chain.
    assert all(row.flags == [] for row in rows[:12]) and rows[12].flags == ["stale"]
    assert alarms(office) == [("mou_expired", terminal.terminal_id)]
    # the chain is the terminal's own, without the office's flag
    assert terminal_row(office, terminal.terminal_id).chain_hash == terminal.chain()[-1].hex()


def test_scans_made_within_the_mou_raise_no_alarm_when_synced_after_it_ended(client: FlaskClient, office: IssuerHome):
    ended = today() - dt.timedelta(days=1)
    partner = add_partner(office, mou_start=ended - dt.timedelta(days=730), mou_end=ended)
    before = clock() - 4 * 86400  # the service, the cards and the terminal, before the scans
    add_service(office, partner, now=before)
    registration = register_terminal(office, partner, "Kasir 1", before, by=ACTOR)
    terminal = SimulatedTerminal(cards=issued_cards(office, 3, before))
    terminal.enrolled(dataclasses.asdict(
        enroll(office, UNLOCK, registration.enrolment_code, terminal.public_jwk, before, by=ACTOR)))
    terminal.log(3, at=clock() - 3 * 86400)  # two days before the MoU ended, synced today
    response = post_sync(client, terminal, terminal.batch(1, 3))
    assert response.get_json() == {"acknowledged": 3, "stored": 3, "duplicates": 0}
    assert alarms(office) == []


# --- sync: the form of a batch ---------------------------------------------------


def test_records_out_of_order_or_not_contiguous_are_400(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    terminal.log(5)
    orders = {"descending": [5, 4, 3, 2, 1], "swapped": [1, 2, 4, 3, 5], "with_a_hole": [1, 2, 4, 5],
              "repeated": [1, 2, 2, 3, 4, 5]}
    answers = {}
    for name, order in orders.items():
        body = {"records": [terminal.records[seq - 1].to_json() for seq in order], "checkpoint": terminal.checkpoint(5)}
        answers[name] = answer(post_sync(client, terminal, body))
    assert answers == dict.fromkeys(orders, (400, "bad_batch"))
    assert_resend_works(client, office, terminal, 5)


def _without(name: str) -> Callable[[dict], dict]:
    return lambda record: {key: value for key, value in record.items() if key != name}


def _with(**changes: Any) -> Callable[[dict], dict]:
    return lambda record: record | changes


BAD_RECORDS: dict[str, Callable[[dict], dict]] = {
    "seq_as_string": _with(seq="2"),
    "seq_as_float": _with(seq=2.0),
    "seq_as_bool": _with(seq=True),
    "seq_zero": _with(seq=0),
    "seq_huge": _with(seq=2**62),
    "at_negative": _with(at=-1),
    "at_beyond_range": _with(at=2**40),
    "at_as_string": _with(at="now"),
    "serial_as_number": _with(serial=12345678),
    "serial_empty": _with(serial=""),
    "serial_too_long": _with(serial="X" * 17),
    "serial_with_nul": _with(serial="1234\x005678"),
    "serial_not_ascii": _with(serial="12345678é"),
    "accepted_as_int": _with(accepted=1),
    "accepted_as_string": _with(accepted="true"),
    "accepted_null": _with(accepted=None),
    "reason_upper_case": _with(reason="Accepted"),
    "reason_empty": _with(reason=""),
    "reason_with_space": _with(reason="card revoked"),
    "reason_too_long": _with(reason="a" * 41),
    "service_empty": _with(service=""),
    "service_too_long": _with(service="s" * 65),
    "service_with_newline": _with(service="bioskop\nreguler"),
    "category_as_number": _with(category=5),
    "category_too_long": _with(category="c" * 17),
    "price_negative": _with(price=-1, discount=0, paid=-1),
    "price_too_high": _with(price=100_000_001, discount=0, paid=100_000_001),
    "price_as_float": _with(price=40_000.0),
    "discount_above_price": _with(price=10, discount=20, paid=-10),
    "paid_not_price_less_discount": _with(price=40_000, discount=20_000, paid=25_000),
    "flags_as_string": _with(flags="stale"),
    "flags_of_numbers": _with(flags=[1]),
    "flags_too_many": _with(flags=["stale"] * 9),
    "flag_too_long": _with(flags=["f" * 33]),
    "flag_empty": _with(flags=[""]),
    "flag_with_a_space": _with(flags=["stale clock"]),  # exports list flags separated by spaces
    "extra_field": _with(child_name="Siti"),
    "missing_paid": _without("paid"),
    "missing_flags": _without("flags"),
}


def test_malformed_records_are_400_bad_record_and_leave_nothing(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    """Every malformed record refuses its batch; then the genuine batch is stored whole."""
    terminal.log(3)
    answers = {}
    for name, change in BAD_RECORDS.items():
        body = terminal.batch(1, 3)
        body["records"][1] = change(body["records"][1])
        response = post_sync(client, terminal, body)
        answers[name] = (*answer(response), bool(response.get_json()["message"]))
    assert answers == dict.fromkeys(BAD_RECORDS, (400, "bad_record", True))
    assert_resend_works(client, office, terminal, 3)


def test_malformed_sync_bodies_are_400(client: FlaskClient, terminal: SimulatedTerminal):
    bodies = {
        "empty_records": {"records": [], "checkpoint": "x"},
        "record_not_an_object": {"records": [5], "checkpoint": "x"},
        "records_not_a_list": {"records": "1-5", "checkpoint": "x"},
        "no_records": {"checkpoint": "x"},
        "no_checkpoint": {"records": [{}]},
        "checkpoint_a_number": {"records": [{}], "checkpoint": 5},
        "checkpoint_empty": {"records": [{}], "checkpoint": ""},
        "unknown_field": {"records": [{}], "checkpoint": "x", "terminal": "T-1"},
        "a_list": [],
        "a_string": "records",
    }
    answers = {name: answer(post_sync(client, terminal, body)) for name, body in bodies.items()}
    assert answers == dict.fromkeys(bodies, (400, "bad_request"))


def test_a_record_dated_beyond_the_calendar_is_not_a_5xx(
    client: FlaskClient, office: IssuerHome, terminal: SimulatedTerminal
):
    """keys.chain accepts `at` below 2**40 (year 36812); the office must store or refuse it, never fail:
    a terminal with a broken clock would otherwise fail every sync for ever."""
    terminal.log(2)
    terminal.rewrite(2, at=2**40 - 1)
    response = post_sync(client, terminal, terminal.batch(1, 2))
    assert response.status_code in (200, 400), response.get_json()


# --- no body makes the service fail --------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=24),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Near-genuine records (each field genuine or arbitrary) reach the record checks, not only the schema.
_RECORDS = st.fixed_dictionaries({name: st.just(value) | _JSON for name, value in decision(1, NOW).to_json().items()})
_SYNC_BODIES = _JSON | st.fixed_dictionaries(
    {"records": st.lists(_RECORDS | _JSON, max_size=3), "checkpoint": st.text(max_size=40) | _JSON}
)
_JWKS = _JSON | st.fixed_dictionaries(
    {"kty": st.just("OKP") | _JSON, "crv": st.just("Ed25519") | _JSON, "x": st.just(_PUBLIC["x"]) | _JSON}
)
_ENROL_BODIES = _JSON | st.fixed_dictionaries({"code": st.text(max_size=40) | _JSON, "public_jwk": _JWKS})


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sync_body=_SYNC_BODIES, enrol_body=_ENROL_BODIES)
def test_no_body_produces_a_5xx(client: FlaskClient, terminal: SimulatedTerminal, sync_body: Any, enrol_body: Any):
    sync = post_sync(client, terminal, sync_body)  # a fresh, valid token each time: the body is what is tested
    assert sync.status_code < 500 and sync.is_json, sync.get_json()
    enrolment = client.post(ENROL, json=enrol_body)
    assert enrolment.status_code < 500 and enrolment.is_json, enrolment.get_json()
