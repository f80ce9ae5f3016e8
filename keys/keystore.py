"""Private keys at rest: encrypted PKCS#8 PEM files, mode 0600, or keys on an HSM.

A key on an HSM is named by a key reference file (``*.pkcs11.json``, keys.hsm)
where its PKCS#8 file would be; ``read_signing_key`` opens either kind and is
how every signer (cards, trust lists, terminal configurations) gets its key.

The passphrase comes from ``KIA_KEY_PASSPHRASE`` or from the file named by
``KIA_KEY_PASSPHRASE_FILE``.  The root key may have its own,
``KIA_ROOT_KEY_PASSPHRASE`` or ``KIA_ROOT_KEY_PASSPHRASE_FILE``; without them
it falls back to the issuing keys' passphrase.  cryptography encrypts PKCS#8 with PBES2
(PBKDF2-HMAC-SHA256, AES-256-CBC) at a fixed, modest iteration count, so the
passphrase itself must be strong: at least ``MIN_PASSPHRASE_LENGTH``
characters, ideally generated (``kia issuer init`` can write one).

Unencrypted keys are for throwaway development homes only and need the
explicitly dangerous ``allow_unencrypted_for_development`` switch.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import durable, hsm
from .errors import (
    KeyFileInvalid,
    PassphraseMissing,
    PassphraseTooShort,
    PassphraseWrong,
    UnencryptedKeyRefused,
)

PASSPHRASE_ENV = "KIA_KEY_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
PASSPHRASE_FILE_ENV = "KIA_KEY_PASSPHRASE_FILE"  # noqa: S105
ROOT_PASSPHRASE_ENV = "KIA_ROOT_KEY_PASSPHRASE"  # noqa: S105
ROOT_PASSPHRASE_FILE_ENV = "KIA_ROOT_KEY_PASSPHRASE_FILE"  # noqa: S105
MIN_PASSPHRASE_LENGTH = 16
KEY_FILE_MODE = 0o600


def passphrase_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    """The issuing keys' passphrase from the environment; raises PassphraseMissing."""
    env = os.environ if environ is None else environ
    return passphrase_from(env, PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, "key passphrase")


def root_passphrase_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    """The root key's passphrase: its own variables when set, else the issuing keys' passphrase."""
    env = os.environ if environ is None else environ
    if has_root_passphrase(env):
        return passphrase_from(env, ROOT_PASSPHRASE_ENV, ROOT_PASSPHRASE_FILE_ENV, "root key passphrase")
    return passphrase_from_env(env)


def has_root_passphrase(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the root key has a passphrase of its own in the environment."""
    env = os.environ if environ is None else environ
    return bool(env.get(ROOT_PASSPHRASE_ENV) or env.get(ROOT_PASSPHRASE_FILE_ENV))


def passphrase_from(env: Mapping[str, str], variable: str, file_variable: str, what: str) -> bytes:
    """The passphrase in ``variable``, or in the file that ``file_variable`` names; raises PassphraseMissing."""
    if env.get(variable):
        passphrase = env[variable]
    elif env.get(file_variable):
        path = Path(env[file_variable])
        try:
            passphrase = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise PassphraseMissing(
                f"cannot read the passphrase file named by {file_variable}: {exc.strerror}"
            ) from None
    else:
        raise PassphraseMissing(f"set {variable}, or {file_variable} to a file holding the {what}")
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise PassphraseTooShort(f"the {what} must be at least {MIN_PASSPHRASE_LENGTH} characters")
    return passphrase.encode("utf-8")


def generate_passphrase() -> str:
    """A random passphrase of 256 bits, for a passphrase file."""
    return secrets.token_urlsafe(32)


def write_private_key(
    path: Path,
    key: Ed25519PrivateKey,
    passphrase: bytes | None,
    *,
    allow_unencrypted_for_development: bool = False,
) -> None:
    """Write ``key`` as PKCS#8 PEM, encrypted under ``passphrase``, mode 0600.

    Refuses an existing file (keys are never overwritten) and, unless the
    development switch is set, a missing passphrase.
    """
    if passphrase is None:
        if not allow_unencrypted_for_development:
            raise UnencryptedKeyRefused(
                "refusing to write an unencrypted private key; set a passphrase"
            )
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    else:
        encryption = serialization.BestAvailableEncryption(passphrase)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    durable.make_folders(path.parent, 0o700)
    # O_EXCL: never replace a key; the mode is set at creation, never widened.
    try:
        durable.write_new(path, pem, KEY_FILE_MODE)
    except FileExistsError:
        raise KeyFileInvalid(f"key file {path.name} already exists; keys are never overwritten") from None


def read_private_key(
    path: Path,
    passphrase: bytes | None,
    *,
    allow_unencrypted_for_development: bool = False,
) -> Ed25519PrivateKey:
    """Load an Ed25519 private key written by ``write_private_key``."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeyFileInvalid(f"cannot read key file {path.name}: {exc.strerror}") from None
    encrypted = b"ENCRYPTED PRIVATE KEY" in pem
    if not encrypted and not allow_unencrypted_for_development:
        raise UnencryptedKeyRefused(
            f"key file {path.name} is not encrypted; refusing to use it outside development"
        )
    if encrypted and passphrase is None:
        raise PassphraseMissing(f"key file {path.name} is encrypted and no passphrase was given")
    try:
        key = serialization.load_pem_private_key(pem, passphrase if encrypted else None)
    except (ValueError, TypeError) as exc:
        if encrypted and "password" in str(exc).lower():
            raise PassphraseWrong(f"the passphrase does not open key file {path.name}") from None
        raise KeyFileInvalid(f"key file {path.name} is not a PKCS#8 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileInvalid(f"key file {path.name} does not hold an Ed25519 key")
    return key


def read_signing_key(
    path: Path,
    passphrase: bytes | None,
    *,
    allow_unencrypted_for_development: bool = False,
) -> Ed25519PrivateKey:
    """The key that signs, from an encrypted key file or, for a ``*.pkcs11.json`` reference, on its HSM.

    A key on an HSM needs no passphrase: its token's user PIN comes from
    ``KIA_HSM_PIN``, and this process keeps one session per token (keys.hsm).
    Raises KeyStoreError (HsmError for the token's refusals).
    """
    if hsm.is_reference(path):
        return hsm.signing_key(hsm.read_reference(path))
    return read_private_key(path, passphrase, allow_unencrypted_for_development=allow_unencrypted_for_development)
