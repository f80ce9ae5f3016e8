"""Private keys at rest: encrypted PKCS#8 files, mode 0600, passphrase from the environment."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import KeyStoreError, errors
from keys.keystore import (
    MIN_PASSPHRASE_LENGTH,
    generate_passphrase,
    passphrase_from_env,
    read_private_key,
    write_private_key,
)

PASSPHRASE = b"correct horse battery staple"


def same_key(a: Ed25519PrivateKey, b: Ed25519PrivateKey) -> bool:
    raw = serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    return a.private_bytes(*raw) == b.private_bytes(*raw)


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def test_write_read_round_trip(tmp_path, key):
    path = tmp_path / "keys" / "issuing-1.pem"  # parent created on demand
    write_private_key(path, key, PASSPHRASE)

    assert same_key(read_private_key(path, PASSPHRASE), key)
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()


def test_key_file_is_mode_0600(tmp_path, key):
    path = tmp_path / "root.pem"
    write_private_key(path, key, PASSPHRASE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_key_file_is_never_overwritten(tmp_path, key):
    path = tmp_path / "root.pem"
    write_private_key(path, key, PASSPHRASE)
    before = path.read_bytes()

    # O_EXCL raises FileExistsError today; a KeyStoreError would suit the one-tree rule too.
    with pytest.raises((FileExistsError, KeyStoreError)):
        write_private_key(path, Ed25519PrivateKey.generate(), PASSPHRASE)
    assert path.read_bytes() == before


def test_unencrypted_key_is_refused_without_the_development_flag(tmp_path, key):
    path = tmp_path / "dev.pem"
    with pytest.raises(errors.UnencryptedKeyRefused):
        write_private_key(path, key, None)
    assert not path.exists()

    write_private_key(path, key, None, allow_unencrypted_for_development=True)
    with pytest.raises(errors.UnencryptedKeyRefused):
        read_private_key(path, None)
    with pytest.raises(errors.UnencryptedKeyRefused):
        read_private_key(path, PASSPHRASE)  # a passphrase does not make a plain file acceptable
    assert same_key(read_private_key(path, None, allow_unencrypted_for_development=True), key)


def test_wrong_passphrase_is_reported(tmp_path, key):
    path = tmp_path / "root.pem"
    write_private_key(path, key, PASSPHRASE)
    with pytest.raises(errors.PassphraseWrong) as info:
        read_private_key(path, b"x" * MIN_PASSPHRASE_LENGTH)
    assert "x" * MIN_PASSPHRASE_LENGTH not in str(info.value)  # secrets go nowhere


def test_encrypted_key_without_a_passphrase_is_refused(tmp_path, key):
    path = tmp_path / "root.pem"
    write_private_key(path, key, PASSPHRASE)
    with pytest.raises(errors.PassphraseMissing):
        read_private_key(path, None)


def test_missing_key_file_is_invalid(tmp_path):
    with pytest.raises(errors.KeyFileInvalid):
        read_private_key(tmp_path / "absent.pem", PASSPHRASE)


@pytest.mark.parametrize(
    "content", [b"", b"garbage", b"-----BEGIN " + b"PRIVATE KEY-----\nAAAA\n-----END " + b"PRIVATE KEY-----\n"]
)
def test_key_file_that_is_not_pkcs8_is_invalid(tmp_path, content):
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    with pytest.raises(errors.KeyFileInvalid):
        read_private_key(path, None, allow_unencrypted_for_development=True)


def test_key_file_holding_another_key_type_is_invalid(tmp_path):
    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE),
        )
    )
    with pytest.raises(errors.KeyFileInvalid):
        read_private_key(path, PASSPHRASE)


# --- passphrase from the environment -----------------------------------------


def test_passphrase_from_the_environment_variable():
    assert passphrase_from_env({"KIA_KEY_PASSPHRASE": "p" * 16}) == b"p" * 16


def test_passphrase_from_a_file(tmp_path):
    path = tmp_path / "passphrase"
    path.write_text("s3cret-passphrase-\u00e9\n", encoding="utf-8")
    assert passphrase_from_env({"KIA_KEY_PASSPHRASE_FILE": str(path)}) == "s3cret-passphrase-\u00e9".encode()


def test_environment_variable_wins_over_the_file(tmp_path):
    path = tmp_path / "passphrase"
    path.write_text("from-the-file-0123456789")
    environ = {"KIA_KEY_PASSPHRASE": "from-the-variable-0123", "KIA_KEY_PASSPHRASE_FILE": str(path)}
    assert passphrase_from_env(environ) == b"from-the-variable-0123"


@pytest.mark.parametrize("environ", [{}, {"KIA_KEY_PASSPHRASE": ""}, {"KIA_KEY_PASSPHRASE_FILE": ""}])
def test_missing_passphrase_is_reported(environ):
    with pytest.raises(errors.PassphraseMissing):
        passphrase_from_env(environ)


def test_unreadable_passphrase_file_is_reported_as_missing(tmp_path):
    with pytest.raises(errors.PassphraseMissing):
        passphrase_from_env({"KIA_KEY_PASSPHRASE_FILE": str(tmp_path / "absent")})


def test_short_passphrase_is_refused(tmp_path):
    short = "p" * (MIN_PASSPHRASE_LENGTH - 1)
    with pytest.raises(errors.PassphraseTooShort):
        passphrase_from_env({"KIA_KEY_PASSPHRASE": short})
    path = tmp_path / "passphrase"
    path.write_text(short + "\n")
    with pytest.raises(errors.PassphraseTooShort):
        passphrase_from_env({"KIA_KEY_PASSPHRASE_FILE": str(path)})


def test_generated_passphrases_are_long_enough_and_differ():
    first, second = generate_passphrase(), generate_passphrase()
    assert len(first) >= MIN_PASSPHRASE_LENGTH and first != second
    assert passphrase_from_env({"KIA_KEY_PASSPHRASE": first}) == first.encode()
