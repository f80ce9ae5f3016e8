"""The office's keys: founding an office with its root key, and its issuing keys.

``init_home`` makes the office (its database, a root key and a first issuing
key).  Issuing keys are rotated (a new one signs, the old one still
verifies), retired or revoked; private keys are opened with ``KeyUnlock``
only when they sign.  Each new key is chosen to live in an encrypted key
file or on an HSM token (``token``): for the latter the home keeps a key
reference (keys/<name>.pkcs11.json) where the key file would be, and the
database names that file as it names a key file.  Every change records its
audit event in the transaction that makes it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import (
    IssuingKey,
    active_key,
    hsm,
    kid_for,
    public_jwk,
    replace_key,
    rotate,
)
from keys.keystore import passphrase_from_env, read_signing_key, root_passphrase_from_env, write_private_key

from . import transparency
from .audit import Actor
from .audit import record as audit
from .errors import HomeExists
from .storage.models import IssuingKeyRow, Office
from .storage.store import IssuerHome, issuing_key, key_row

ROOT_KEY_FILE = "root.key"
ROOT_KEY_REFERENCE = f"root{hsm.REFERENCE_SUFFIX}"


@dataclasses.dataclass(frozen=True)
class KeyUnlock:
    """How to open private key files: passphrases, or the development switch.

    ``passphrase`` opens the issuing keys.  ``root_passphrase`` opens the root
    key; None means the same passphrase as the issuing keys (homes made before
    the root key had its own).
    """

    passphrase: bytes | None = dataclasses.field(repr=False)  # never in a log or a traceback's locals
    allow_unencrypted_for_development: bool = False
    root_passphrase: bytes | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_env(cls, *, issuing: bool = True, root: bool = False) -> KeyUnlock:
        """Passphrases from the environment, read when a key is needed, never kept in config.

        ``issuing``: KIA_KEY_PASSPHRASE(_FILE).  ``root``: KIA_ROOT_KEY_PASSPHRASE(_FILE),
        falling back to KIA_KEY_PASSPHRASE(_FILE).  Raises PassphraseMissing.
        """
        return cls(passphrase_from_env() if issuing else None,
                   root_passphrase=root_passphrase_from_env() if root else None)

    def _passphrase(self, root: bool) -> bytes | None:
        return self.root_passphrase if root and self.root_passphrase is not None else self.passphrase

    def write(self, home: IssuerHome, name: str, key: Ed25519PrivateKey, *, root: bool = False) -> str:
        write_private_key(
            home.key_path(name),
            key,
            self._passphrase(root),
            allow_unencrypted_for_development=self.allow_unencrypted_for_development,
        )
        return f"keys/{name}"

    def read(self, home: IssuerHome, relative: str, *, root: bool = False) -> Ed25519PrivateKey:
        """The key that signs, from the home's key file or key reference ``relative``."""
        return self.read_file(home.path / relative, root=root)

    def read_file(self, path: Path, *, root: bool = False) -> Ed25519PrivateKey:
        """A key file or key reference anywhere: the offline machine that signs trust lists holds no home.

        A reference's key signs on its HSM (keys.keystore.read_signing_key).
        """
        return read_signing_key(
            path, self._passphrase(root), allow_unencrypted_for_development=self.allow_unencrypted_for_development
        )

    def new_key(self, home: IssuerHome, role: str, name: Callable[[str], str], token: hsm.TokenAddress | None,
                *, root: bool = False) -> tuple[Ed25519PublicKey, str]:
        """A new key pair, in an encrypted file or on ``token``: its public key and the file that finds it.

        ``name`` gives the file's name from the key's kid, without suffix.
        Keys made on a token are labelled ``kia-<role>-<random>`` there.
        """
        if token is None:
            private = Ed25519PrivateKey.generate()
            return private.public_key(), self.write(home, f"{name(kid_for(private.public_key()))}.key", private,
                                                    root=root)
        key = hsm.generate_key(token, role)
        file_name = f"{name(key.kid)}{hsm.REFERENCE_SUFFIX}"
        hsm.write_reference(home.key_path(file_name), hsm.KeyReference.of(token, key))
        return key.public_key(), f"keys/{file_name}"


@dataclasses.dataclass(frozen=True)
class OfficeKeys:
    root_kid: str
    issuing_kid: str


def init_home(home: IssuerHome, unlock: KeyUnlock, now: int, *, by: Actor,
              root_token: hsm.TokenAddress | None = None, issuing_token: hsm.TokenAddress | None = None) -> OfficeKeys:
    """Create an office: its database, a root key and a first issuing key.

    Each key is made on its token when one is given, else in an encrypted file.
    """
    if home.legacy_state_path.is_file():
        raise HomeExists(f"{home.path} holds a first-version home; run 'kia issuer db upgrade --home {home.path}'")
    if home.exists():
        raise HomeExists(f"{home.path} already holds an issuer home; it is never overwritten")
    if home.key_path(ROOT_KEY_FILE).exists() or home.key_path(ROOT_KEY_REFERENCE).exists():
        raise HomeExists(f"{home.path}/keys holds keys of an interrupted init; move that folder away and run again")
    home.prepare()
    if home.database_holds_an_office():
        raise HomeExists("the database already holds an office; give each office its own database")
    root, root_file = unlock.new_key(home, "root", lambda kid: "root", root_token, root=True)
    public, key_file = unlock.new_key(home, "issuing", lambda kid: f"issuing-{kid}-{now}", issuing_token)
    key = IssuingKey.new(public, now)
    with home.database.transaction() as session:
        session.add(
            Office(
                id=1,
                root_kid=kid_for(root),
                root_jwk=public_jwk(root),
                root_key_file=root_file,
                trust_list_seq=0,
            )
        )
        session.add(key_row(key, key_file))
        transparency.append(session, [
            transparency.fact("key_created", kid_for(root), now, role="root", jwk=public_jwk(root)),
            _created_fact(key, now)], now)
        audit(session, by, "office_init", f"root {kid_for(root)}, key {key.kid}", now)
    home.write_marker(kid_for(root))
    return OfficeKeys(kid_for(root), key.kid)


def _created_fact(key: IssuingKey, now: int) -> transparency.Fact:
    return transparency.fact("key_created", key.kid, now, role="issuing", jwk=public_jwk(key.public_key))


def active_signer(session: Session, home: IssuerHome, unlock: KeyUnlock) -> tuple[IssuingKey, Ed25519PrivateKey]:
    rows = session.scalars(select(IssuingKeyRow).where(IssuingKeyRow.state == "active")).all()
    key = active_key([issuing_key(row) for row in rows])
    row = next(row for row in rows if row.kid == key.kid and row.created_at == key.created_at)
    return key, unlock.read(home, row.key_file)


def rotate_issuing_key(home: IssuerHome, unlock: KeyUnlock, now: int, *, by: Actor,
                       token: hsm.TokenAddress | None = None) -> IssuingKey:
    """Make a new active issuing key (on ``token`` when given); the previous active key is retired."""
    with home.transaction() as session:
        rows = list(session.scalars(select(IssuingKeyRow).order_by(IssuingKeyRow.id)))
        public, key_file = unlock.new_key(home, "issuing", lambda kid: f"issuing-{kid}-{now}", token)
        rotated = rotate([issuing_key(row) for row in rows], public, now)
        retired = [row.kid for row, key in zip(rows, rotated, strict=False) if row.state != key.state.value]
        for row, key in zip(rows, rotated, strict=False):
            row.state, row.retired_at = key.state.value, key.retired_at
        new_key = rotated[-1]
        session.add(key_row(new_key, key_file))
        transparency.append(session, [*(transparency.fact("key_retired", kid, now, kid=kid) for kid in retired),
                                      _created_fact(new_key, now)], now)
        audit(session, by, "key_rotate", new_key.kid, now)
        return new_key


def change_issuing_key(home: IssuerHome, kid: str, change: str, now: int, *, by: Actor) -> IssuingKey:
    """Retire (stops signing, still verifies) or revoke (nothing verifies) a key."""
    with home.transaction() as session:
        rows = list(session.scalars(select(IssuingKeyRow).order_by(IssuingKeyRow.id)))
        changed = replace_key([issuing_key(row) for row in rows], kid, change, now)
        for row, key in zip(rows, changed, strict=True):
            row.state, row.retired_at, row.revoked_at = key.state.value, key.retired_at, key.revoked_at
        transparency.record_fact(session, f"key_{'retired' if change == 'retire' else 'revoked'}", kid, now, kid=kid)
        audit(session, by, f"key_{change}", kid, now)
        return next(key for key in changed if key.kid == kid)


def list_issuing_keys(home: IssuerHome) -> list[IssuingKey]:
    with home.transaction() as session:
        return [issuing_key(row) for row in session.scalars(select(IssuingKeyRow).order_by(IssuingKeyRow.id))]


def keys_on_tokens(home: IssuerHome) -> frozenset[str]:
    """The kids of issuing keys kept on an HSM (a key reference), not in an encrypted key file."""
    with home.transaction() as session:
        files = session.execute(select(IssuingKeyRow.kid, IssuingKeyRow.key_file)).all()
    return frozenset(kid for kid, key_file in files if hsm.is_reference(Path(key_file)))


def service_token(environ: Mapping[str, str] | None = None) -> hsm.TokenAddress | None:
    """The token the service makes new issuing keys on: the one ``KIA_PKCS11_MODULE`` and
    ``KIA_HSM_TOKEN`` name, or None (encrypted key files) when either is unset."""
    env = os.environ if environ is None else environ
    if not (env.get(hsm.MODULE_ENV) and env.get(hsm.TOKEN_ENV)):
        return None
    return hsm.TokenAddress.from_options(None, None, env)
