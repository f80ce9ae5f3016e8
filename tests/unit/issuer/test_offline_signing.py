"""issuer.offline_signing: the signing request and the bundle, with no database.

Also the root key's own passphrase.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer import offline_signing
from issuer.issuing_keys import KeyUnlock
from issuer.offline_signing import SignedBundle, SigningRequest, TrustListFileError
from keys import RevokedSerials, TrustList, apply_delta, kid_for, verify_trust_list
from keys.errors import PassphraseMissing, PassphraseTooShort, PassphraseWrong
from keys.keystore import root_passphrase_from_env, write_private_key
from keys.serial import serial_from_value
from tests.factories import DAY, NOW, make_issuing_key

ROOT = Ed25519PrivateKey.generate()
_, KEY = make_issuing_key()
OLD = RevokedSerials([1, 2, 3])  # list 1
NEW = RevokedSerials([2, 3, 4, 5])  # list 2: 1 dropped (expired), 4 and 5 revoked


def request(**changes: object) -> bytes:
    made = SigningRequest.build(kid_for(ROOT.public_key()), 2, NOW, (KEY,), NEW, {1: OLD})
    document = json.loads(made.to_bytes())
    document.update(changes)
    return json.dumps(document).encode()


def test_a_signed_request_gives_a_list_and_a_delta_that_reproduces_it() -> None:
    data = request()
    parsed, bundle = offline_signing.sign_request(data, ROOT, NOW + 60)
    assert (parsed.seq, parsed.revoked, bundle.request_sha256) == (2, NEW, offline_signing.fingerprint(data))
    full = verify_trust_list(bundle.trust_list, ROOT.public_key(), NOW + 120)
    assert (full.seq, full.issued_at, full.revoked, full.keys) == (2, NOW + 60, NEW, (KEY,))
    first = TrustList(1, NOW - DAY, NOW + DAY, (KEY,), OLD)
    assert apply_delta(first, bundle.deltas[1], ROOT.public_key(), NOW + 120) == full
    assert SignedBundle.from_bytes_unverified(bundle.to_bytes()) == bundle


def test_the_request_file_is_canonical_and_round_trips() -> None:
    data = request()
    again = SigningRequest.from_bytes(data)
    assert json.loads(again.to_bytes()) == json.loads(data)
    assert again.deltas[0].added == RevokedSerials([4, 5]) and again.deltas[0].removed == RevokedSerials([1])


def test_a_request_for_another_office_is_not_signed() -> None:
    with pytest.raises(TrustListFileError, match="not the office's root key"):
        offline_signing.sign_request(request(), Ed25519PrivateKey.generate(), NOW)


def test_a_clock_behind_the_service_does_not_sign() -> None:
    with pytest.raises(TrustListFileError, match="clock is behind"):
        offline_signing.sign_request(request(), ROOT, NOW - 3600)


def test_a_tampered_request_fails_its_fingerprint() -> None:
    genuine = request()
    tampered = request(seq=3)
    offline_signing.check_fingerprint(genuine, offline_signing.fingerprint(genuine)[:20])
    with pytest.raises(TrustListFileError, match="do not sign it"):
        offline_signing.check_fingerprint(tampered, offline_signing.fingerprint(genuine))
    with pytest.raises(TrustListFileError, match="at least the first 20"):
        offline_signing.check_fingerprint(genuine, offline_signing.fingerprint(genuine)[:8])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "is not a trust-list signing request"),
        (json.dumps({"kind": "kia-trust-list-bundle"}).encode(), "is not a trust-list signing request"),
        (request(extra=1), "extra"),
        (request(seq="2"), "seq"),
        (request(seq=0), "seq"),
        (request(prepared_at=True), "prepared_at"),
        (request(keys=[]), "keys"),
        (request(keys=[{"kty": "OKP"}]), "malformed"),
        (request(revoked={"n": 1, "z": "AAAA"}), "malformed"),
        (request(deltas=[{"from": 2, "add": RevokedSerials().encode(), "del": RevokedSerials().encode()}]),
         "earlier sequences"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(TrustListFileError, match=message):
        SigningRequest.from_bytes(data)


def test_a_delta_base_that_does_not_fit_its_list_is_refused() -> None:
    document = json.loads(request())
    document["deltas"][0]["add"] = RevokedSerials([9]).encode()  # 9 is not in the new list
    with pytest.raises(TrustListFileError, match="does not fit"):
        SigningRequest.from_bytes(json.dumps(document).encode())


def test_a_bundle_with_two_deltas_from_one_sequence_is_refused() -> None:
    _, bundle = offline_signing.sign_request(request(), ROOT, NOW)
    document = json.loads(bundle.to_bytes())
    document["deltas"] *= 2
    with pytest.raises(TrustListFileError, match="two deltas"):
        SignedBundle.from_bytes_unverified(json.dumps(document).encode())


def test_an_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(TrustListFileError, match="larger"):
        SigningRequest.from_bytes(b" " * (offline_signing.MAX_FILE_LENGTH + 1))


def test_serials_not_child_data_travel_in_the_request() -> None:
    serials = {serial_from_value(value) for value in NEW}
    text = request().decode()
    assert all(serial not in text for serial in serials)  # compact, not even the serials in clear


# --- passphrases: the root key's own, falling back to the issuing keys' ------------------------------


def test_the_root_key_passphrase_has_its_own_variables_and_falls_back() -> None:
    assert root_passphrase_from_env({"KIA_KEY_PASSPHRASE": "issuing-passphrase-0001"}) == b"issuing-passphrase-0001"
    both = {"KIA_KEY_PASSPHRASE": "issuing-passphrase-0001", "KIA_ROOT_KEY_PASSPHRASE": "root-passphrase-00000001"}
    assert root_passphrase_from_env(both) == b"root-passphrase-00000001"
    with pytest.raises(PassphraseTooShort, match="root key passphrase"):
        root_passphrase_from_env({"KIA_ROOT_KEY_PASSPHRASE": "short"})
    with pytest.raises(PassphraseMissing, match="KIA_ROOT_KEY_PASSPHRASE_FILE"):
        root_passphrase_from_env({"KIA_ROOT_KEY_PASSPHRASE_FILE": "/nonexistent/kia-root"})


def test_the_root_key_file_reads_only_with_the_root_passphrase(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    write_private_key(tmp_path / "root.key", key, b"root-passphrase-00000001")
    unlock = KeyUnlock(b"issuing-passphrase-0001", root_passphrase=b"root-passphrase-00000001")
    assert kid_for(unlock.read_file(tmp_path / "root.key", root=True).public_key()) == kid_for(key.public_key())
    with pytest.raises(PassphraseWrong):
        unlock.read_file(tmp_path / "root.key")  # the issuing keys' passphrase does not open it
