"""keys.hsm without a token: CKA_EC_POINT decoding, the PIN, key references and the extra."""

from __future__ import annotations

import copy
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import hsm, keystore
from keys.errors import KeyFileInvalid
from keys.jwk import public_key_bytes


def test_ec_point_in_its_der_octet_string() -> None:
    public = Ed25519PrivateKey.generate().public_key()
    raw = public_key_bytes(public)

    assert hsm.public_key_from_ec_point(b"\x04\x20" + raw) == public
    assert hsm.public_key_from_ec_point(raw) == public  # tokens that predate PKCS#11 3.0


@pytest.mark.parametrize(
    "ec_point",
    [b"", b"\x04\x20" + bytes(31), b"\x04\x21" + bytes(33), b"\x03\x20" + bytes(32), b"\x04" + bytes(64)],
    ids=["empty", "short", "wrong-length-byte", "not-an-octet-string", "uncompressed-p256"],
)
def test_ec_point_that_is_not_ed25519_is_refused(ec_point: bytes) -> None:
    with pytest.raises(hsm.HsmKeyUnsuitable):
        hsm.public_key_from_ec_point(ec_point)


def test_pin_from_the_environment() -> None:
    assert hsm.pin_from_env({hsm.PIN_ENV: "123456"}) == "123456"
    with pytest.raises(hsm.HsmPinRefused, match=hsm.PIN_ENV):
        hsm.pin_from_env({})


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pkcs11", None)  # import pkcs11 now raises ImportError

    with pytest.raises(hsm.HsmUnavailable, match=r"hsm extra"):
        hsm.open_token("/usr/lib/softhsm/libsofthsm2.so", "kia", "123456")


class _FakeHandle:
    """A token's private-key handle that signs with a software key (only for these tests)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key

    def sign(self, data: bytes, mechanism: object = None) -> bytes:
        return self.key.sign(data)


def _fake_hsm_key(label: str = "kia-issuing-test") -> hsm.HsmKey:
    private = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    return hsm.HsmKey(label, b"\x01" * 16, private.public_key(), _FakeHandle(private), threading.RLock())  # type: ignore[arg-type]


def test_an_hsm_key_signs_wherever_a_private_key_does() -> None:
    key = _fake_hsm_key()

    assert isinstance(key, Ed25519PrivateKey)
    key.public_key().verify(key.sign(b"message"), b"message")
    assert copy.deepcopy(key) is key and key.label in repr(key)


def test_private_bytes_of_an_hsm_key_cannot_be_read() -> None:
    key = _fake_hsm_key()

    with pytest.raises(hsm.HsmKeyUnsuitable, match="never leaves its token"):
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    with pytest.raises(hsm.HsmKeyUnsuitable, match="never leaves its token"):
        key.private_bytes_raw()


def test_key_reference_round_trips_and_holds_no_secret(tmp_path: Path) -> None:
    key = _fake_hsm_key()
    reference = hsm.KeyReference.of(hsm.TokenAddress("/usr/lib/softhsm/libsofthsm2.so", "office"), key)
    path = tmp_path / "keys" / f"issuing-{key.kid}{hsm.REFERENCE_SUFFIX}"

    hsm.write_reference(path, reference)

    assert hsm.read_reference(path) == reference
    assert hsm.is_reference(path) and path.stat().st_mode & 0o777 == 0o600
    assert set(hsm.json.loads(path.read_text())) == {"kind", "version", "module", "token", "label", "id", "kid"}
    with pytest.raises(KeyFileInvalid, match="never overwritten"):
        hsm.write_reference(path, reference)


@pytest.mark.parametrize("content", [b"", b"[]", b"{}", b'{"kind": "kia-pkcs11-key", "version": 2}', b"\xff" * 10,
                                     b"{" + b" " * 5000 + b"}"])
def test_a_broken_key_reference_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / f"root{hsm.REFERENCE_SUFFIX}"
    path.write_bytes(content)

    with pytest.raises(KeyFileInvalid, match="not a PKCS#11 key reference"):
        keystore.read_signing_key(path, None)


def test_token_address_from_the_options_or_the_environment() -> None:
    environ = {hsm.MODULE_ENV: "/env/module.so", hsm.TOKEN_ENV: "env-token"}

    assert hsm.TokenAddress.from_options(None, None, environ) == hsm.TokenAddress("/env/module.so", "env-token")
    assert hsm.TokenAddress.from_options("/opt/m.so", "t", environ) == hsm.TokenAddress("/opt/m.so", "t")
    with pytest.raises(hsm.HsmUnavailable, match=hsm.MODULE_ENV):
        hsm.TokenAddress.from_options(None, "t", {})
    with pytest.raises(hsm.HsmTokenNotFound, match=hsm.TOKEN_ENV):
        hsm.TokenAddress.from_options("/opt/m.so", None, {})
