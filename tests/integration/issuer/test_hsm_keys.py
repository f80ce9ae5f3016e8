"""The office's issuing and root keys on an HSM, chosen per key (both databases, SoftHSM).

The story: an office made with key files rotates to an issuing key on the
token; cards, terminal configurations, trust lists and their deltas are
signed there and verify as before.  Another office keeps its root key on the
token, also for the offline signing ceremony.  The key never leaves the
token, a forked worker signs through its own session, and a wrong PIN is
one sentence that does not repeat it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer import create_app, offline_signing
from issuer.cards import issue_cards, revoke_card
from issuer.children import ChildRequest
from issuer.issuing_keys import KeyUnlock, init_home, list_issuing_keys, rotate_issuing_key
from issuer.storage.models import IssuingKeyRow, Office
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal, terminal_config
from issuer.trust_lists import export_trust_list, import_bundle, prepare_signing
from keys import KeyState, apply_delta, hsm, jws, kid_for, load_public_jwk, verify_card, verify_trust_list
from keys.trustlist import TrustList
from tests.factories import ACTOR, DAY, NOW, SURAKARTA
from tests.factories.offices import PASSPHRASE, PASSWORD, UNLOCK, add_partner, add_people, add_service
from tests.factories.softhsm import SoftHsm, softhsm_token
from tests.integration.conftest import RunKia
from verifier.config import CONFIG_TYP, verify_config

softhsm = pytest.fixture(scope="module")(softhsm_token)


@pytest.fixture
def token(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> Iterator[hsm.TokenAddress]:
    """The token, its PIN in KIA_HSM_PIN as an operator sets it; each test opens its own sessions."""
    monkeypatch.setenv(hsm.PIN_ENV, softhsm.pin)
    yield hsm.TokenAddress(softhsm.module, softhsm.token_label)
    hsm.close_sessions()


def issue(home: IssuerHome, unlock: KeyUnlock = UNLOCK, now: int = NOW) -> tuple[str, str]:
    """A card issued at ``now``: (serial, token)."""
    record = issue_cards(home, unlock, [ChildRequest(1, dt.date(2016, 8, 17), SURAKARTA)], now,
                         by=ACTOR).cards[0].record
    return record.serial, record.token


def published(out: Path, now: int) -> tuple[TrustList, str]:
    """The exported list as a terminal checks it, with the root key it pins."""
    root = load_public_jwk(json.loads((out / "root.jwk").read_text()))
    return verify_trust_list((out / "trustlist.jws").read_text(), root, now), (out / "root.jwk").read_text()


def key_file(home: IssuerHome, kid: str) -> Path:
    with home.transaction() as session:
        row = session.query(IssuingKeyRow).filter_by(kid=kid).one()
        return home.path / row.key_file


def test_rotating_from_a_key_file_to_a_key_on_the_token_signs_cards_that_verify(
    office: IssuerHome, token: hsm.TokenAddress, tmp_path: Path
) -> None:
    _, old_card = issue(office)

    new = rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR, token=token)
    serial, card = issue(office, now=NOW + 120)
    export_trust_list(office, UNLOCK, NOW + 180, tmp_path / "list", by=ACTOR)

    trust_list, _ = published(tmp_path / "list", NOW + 240)
    verified = verify_card(card, trust_list, NOW + 240)
    assert verified.kid == new.kid and verified.card.serial == serial
    assert verify_card(old_card, trust_list, NOW + 240).kid != new.kid  # the retired file key still verifies
    assert [key.state for key in list_issuing_keys(office)] == [KeyState.RETIRED, KeyState.ACTIVE]
    reference = key_file(office, new.kid)
    assert reference.name == f"issuing-{new.kid}-{NOW + 60}.pkcs11.json"
    assert not reference.with_name(f"issuing-{new.kid}-{NOW + 60}.key").exists()
    written = hsm.read_reference(reference)
    assert (written.token, written.kid) == (token, new.kid) and written.key_label.startswith("kia-issuing-")


def test_terminal_configuration_signed_on_the_token_verifies(
    office: IssuerHome, token: hsm.TokenAddress, tmp_path: Path
) -> None:
    new = rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR, token=token)
    partner = add_partner(office)
    add_service(office, partner, now=NOW)
    terminal_id = register_terminal(office, partner, "Kasir", NOW + 60, by=ACTOR).terminal_id
    export_trust_list(office, UNLOCK, NOW + 120, tmp_path / "list", by=ACTOR)

    config = verify_config(terminal_config(office, UNLOCK, terminal_id, NOW + 180),
                           published(tmp_path / "list", NOW + 180)[0], terminal_id)

    assert config.services
    assert jws.unverified_header(terminal_config(office, UNLOCK, terminal_id, NOW + 240), CONFIG_TYP)["kid"] == new.kid


@pytest.fixture
def root_on_token(tmp_path: Path, issuer_db_url: str | None, token: hsm.TokenAddress) -> Iterator[IssuerHome]:
    """An office whose root key is on the token and whose first issuing key is a file."""
    home = IssuerHome(tmp_path / "office-hsm-root", issuer_db_url)
    init_home(home, UNLOCK, NOW - DAY, by=ACTOR, root_token=token)
    yield home
    home.close()


def test_trust_list_and_delta_signed_by_a_root_key_on_the_token_verify(
    root_on_token: IssuerHome, tmp_path: Path
) -> None:
    home = root_on_token
    lost, _ = issue(home)
    export_trust_list(home, UNLOCK, NOW, tmp_path / "1", by=ACTOR)
    first, root_jwk = published(tmp_path / "1", NOW)
    revoke_card(home, lost, "hilang", NOW + 60, by=ACTOR)

    export = export_trust_list(home, UNLOCK, NOW + 120, tmp_path / "2", by=ACTOR, since=1)

    second, _ = published(tmp_path / "2", NOW + 180)
    assert export.delta is not None
    root = load_public_jwk(json.loads(root_jwk))
    assert apply_delta(first, export.delta.read_text(), root, NOW + 180) == second
    assert lost in second.revoked
    assert (home.path / "keys" / "root.pkcs11.json").is_file() and not (home.path / "keys" / "root.key").exists()
    with home.transaction() as session:
        assert session.get_one(Office, 1).root_key_file == "keys/root.pkcs11.json"


def test_the_offline_ceremony_signs_with_the_root_key_on_the_token(root_on_token: IssuerHome) -> None:
    home = root_on_token
    issue(home)
    request = prepare_signing(home, NOW + 60, by=ACTOR).to_bytes()
    # The offline machine holds the key reference and the token: no passphrase.
    root = KeyUnlock(None).read_file(home.key_path("root.pkcs11.json"), root=True)

    bundle = offline_signing.sign_request(request, root, NOW + 120)[1].to_bytes()

    imported = import_bundle(home, bundle, NOW + 180, by=ACTOR)
    assert imported.trust_list.seq == 1 and kid_for(root.public_key()) == imported.root_jwk["kid"]


def test_the_private_key_cannot_be_read_off_the_token_through_the_office(
    office: IssuerHome, token: hsm.TokenAddress, softhsm: SoftHsm
) -> None:
    import pkcs11
    from pkcs11 import Attribute

    new = rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR, token=token)
    key = UNLOCK.read_file(key_file(office, new.kid))
    assert isinstance(key, hsm.HsmKey)

    with pytest.raises(pkcs11.AttributeSensitive):
        key._private[Attribute.VALUE]  # the token's handle, as an attacker in the process holds it
    with pytest.raises(hsm.HsmKeyUnsuitable, match="never leaves its token"):
        key.private_bytes_raw()
    reference = key_file(office, new.kid).read_text()
    assert softhsm.pin not in reference and set(json.loads(reference)) == {
        "kind", "version", "module", "token", "label", "id", "kid"}


def test_a_reference_edited_to_name_another_key_on_the_token_is_refused(
    office: IssuerHome, token: hsm.TokenAddress
) -> None:
    first = rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR, token=token)
    second = rotate_issuing_key(office, UNLOCK, NOW + 120, by=ACTOR, token=token)
    path = key_file(office, first.kid)
    edited = json.loads(path.read_text()) | {"label": hsm.read_reference(key_file(office, second.kid)).key_label}
    path.chmod(0o600)
    path.write_text(json.dumps(edited))

    with pytest.raises(hsm.HsmKeyUnsuitable, match=f"is not key {first.kid}"):
        UNLOCK.read_file(path)


def test_a_wrong_pin_is_one_sentence_without_the_pin(
    office: IssuerHome, token: hsm.TokenAddress, softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR, token=token)
    hsm.close_sessions()  # the next signature opens the token anew
    wrong = "wrong-pin-8080"
    monkeypatch.setenv(hsm.PIN_ENV, wrong)

    with pytest.raises(hsm.HsmPinRefused) as refused:
        issue(office, now=NOW + 120)

    message = str(refused.value)
    assert message == f"token {softhsm.token_label!r} refused the user PIN; check {hsm.PIN_ENV}"
    assert wrong not in repr(refused.value) and softhsm.pin not in message


def test_a_forked_worker_signs_through_its_own_session(office: IssuerHome, token: hsm.TokenAddress,
                                                       tmp_path: Path) -> None:
    new = rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR, token=token)
    path = key_file(office, new.kid)
    parent_key = UNLOCK.read_file(path)  # the parent opened the token before the fork, as a preloading master
    reading, writing = os.pipe()

    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        code = 1
        try:
            os.close(reading)
            child_key = UNLOCK.read_file(path)
            os.write(writing, bytes([child_key is not parent_key]) + child_key.sign(b"signed by a worker"))
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    with os.fdopen(reading, "rb") as answer:
        data = answer.read()
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert data[0] == 1  # the worker found the key through a session of its own
    parent_key.public_key().verify(data[1:], b"signed by a worker")
    parent_key.public_key().verify(parent_key.sign(b"parent"), b"parent")  # the parent's session still works
    assert UNLOCK.read_file(path) is parent_key  # one session and key per process, reused


def test_the_commands_choose_the_token_per_key(
    run_kia: RunKia, kia_env: dict[str, str], softhsm: SoftHsm, tmp_path: Path
) -> None:
    env = kia_env | {"SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"], hsm.PIN_ENV: softhsm.pin,
                     hsm.MODULE_ENV: softhsm.module}
    home = tmp_path / "office-cli"
    hsm_options = ["--hsm-token", softhsm.token_label]

    made = run_kia("issuer", "init", "--home", home, "--root-hsm", *hsm_options, env=env)
    assert made.returncode == 0, made.stderr
    assert set(json.loads(made.stdout)) == {"home", "database", "root_kid", "issuing_kid"}
    rotated = run_kia("issuer", "key", "rotate", "--home", home, "--hsm", *hsm_options,
                      env={**env, "KIA_KEY_PASSPHRASE": ""})  # a key made on the token needs no passphrase
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)
    assert new == {"kid": new["kid"], "state": "active"}
    issued = run_kia("issuer", "card", "issue", "--home", home, "--birth-date", "2016-08-17", "--region",
                     str(SURAKARTA), "--out", tmp_path / "card", env=env)
    assert issued.returncode == 0, issued.stderr
    exported = run_kia("issuer", "trustlist", "export", "--home", home, "--out", tmp_path / "list", env=env)
    assert exported.returncode == 0, exported.stderr

    verified = run_kia("verifier", "verify", "--trust-anchor", tmp_path / "list" / "root.jwk", "--trust-list",
                       tmp_path / "list" / "trustlist.jws", json.loads(issued.stdout)["token"], env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["accepted"] is True
    references = sorted(path.name for path in (home / "keys").glob("*.pkcs11.json"))
    assert len(references) == 2 and references[0].startswith(f"issuing-{new['kid']}-")
    assert references[1] == "root.pkcs11.json" and not (home / "keys" / "root.key").exists()

    refused = run_kia("issuer", "card", "issue", "--home", home, "--birth-date", "2016-08-17", "--region",
                      str(SURAKARTA), "--out", tmp_path / "card2", env={**env, hsm.PIN_ENV: "wrong-pin-4242"})
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1 and "refused the user PIN" in refused.stderr
    assert "wrong-pin-4242" not in refused.stderr + refused.stdout and softhsm.pin not in refused.stderr



def test_the_keys_page_rotates_onto_the_services_token_and_says_where_each_key_is(
    office: IssuerHome, token: hsm.TokenAddress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", PASSPHRASE)  # the service's other keys stay files
    add_people(office, NOW, ("petugas", "officer", None))
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"username": "petugas", "password": PASSWORD})
    try:
        assert "Kunci baru dibuat sebagai berkas terenkripsi" in client.get("/keys/").get_data(True)

        monkeypatch.setenv(hsm.MODULE_ENV, token.module)  # the office configures its service's HSM
        monkeypatch.setenv(hsm.TOKEN_ENV, token.token_label)
        assert f"Kunci baru dibuat di HSM (token {token.token_label})" in client.get("/keys/").get_data(True)
        client.post("/keys/rotate", data={}, follow_redirects=True)

        old, new = list_issuing_keys(office)
        assert (old.state, new.state) == (KeyState.RETIRED, KeyState.ACTIVE)
        assert hsm.is_reference(key_file(office, new.kid)) and not hsm.is_reference(key_file(office, old.kid))
        places = re.findall(r'<td class="key-place">([^<]+)</td>', client.get("/keys/").get_data(True))
        assert places == ["Berkas terenkripsi", "HSM"]
    finally:
        app.extensions["kia_home"].close()


def test_a_refused_pin_on_the_keys_page_is_said_in_indonesian_without_the_pin(
    office: IssuerHome, token: hsm.TokenAddress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv(hsm.MODULE_ENV, token.module)
    monkeypatch.setenv(hsm.TOKEN_ENV, token.token_label)
    monkeypatch.setenv(hsm.PIN_ENV, "000000")
    add_people(office, NOW, ("petugas", "officer", None))
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"username": "petugas", "password": PASSWORD})
    try:
        page = client.post("/keys/rotate", data={}, follow_redirects=True).get_data(True)

        assert "Token HSM menolak PIN (KIA_HSM_PIN) di server" in page and "000000" not in page
        assert [key.state for key in list_issuing_keys(office)] == [KeyState.ACTIVE]  # nothing rotated
    finally:
        app.extensions["kia_home"].close()
