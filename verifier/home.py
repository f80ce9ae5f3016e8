"""A terminal's home folder: its identity, keys, trust list, rules and log.

::

    HOME/terminal.key     the terminal's Ed25519 key, encrypted PKCS#8, mode 0600
    HOME/terminal.json    terminal id, audience, server URL (from enrolment)
    HOME/root.jwk         the office's root key, pinned at enrolment
    HOME/trustlist.jws    the latest full trust list, as the root key signed it
    HOME/deltas/N.jws     deltas applied since, in order (each signed by the root key)
    HOME/config.jws       the partner's rules, signed by an issuing key
    HOME/log.db           the decision log (verifier/log.py)
    HOME/serve.json       where ``kia verifier serve`` listens, while it runs

Everything the terminal trusts stays as the office signed it and is verified
again at every start: a file changed on disk is refused, not believed.
Files are replaced atomically (write, fsync, rename), so a power cut leaves
the old version or the new one.

The log holds card serials and visit times: the home is mode 0700 and every
file in it 0600, set at enrolment and again at every start
(``make_private``), whatever the folder was before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keys import TrustList, durable, kid_for, load_public_jwk, verify_trust_list
from keys.errors import KeyFileInvalid
from keys.keystore import read_private_key, write_private_key
from keys.trustlist import apply_delta

from .errors import SetupError
from .local import SERVE_FILE

# (file name, inode, size, modification time) of each file the terminal trusts.
Fingerprint = tuple[tuple[str, int, int, int], ...]


class HomeError(SetupError):
    """The terminal's home is missing, not enrolled or damaged."""


@dataclasses.dataclass(frozen=True)
class Identity:
    """What enrolment gave the terminal."""

    terminal_id: str
    audience: str
    server: str
    kid: str
    enrolled_at: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TerminalHome:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.key_path = path / "terminal.key"
        self.identity_path = path / "terminal.json"
        self.anchor_path = path / "root.jwk"
        self.trust_path = path / "trustlist.jws"
        self.deltas_path = path / "deltas"
        self.config_path = path / "config.jws"
        self.log_path = path / "log.db"
        self.serve_path = path / SERVE_FILE

    # --- enrolment -------------------------------------------------------------

    def is_enrolled(self) -> bool:
        return self.identity_path.exists()

    def require(self) -> Identity:
        """The terminal's identity; raises HomeError when it is not enrolled."""
        if not self.identity_path.exists():
            raise HomeError(
                f"{self.path} holds no enrolled terminal: run 'kia verifier enroll --home {self.path} "
                "--server URL --code CODE' first"
            )
        try:
            return Identity(**json.loads(self.identity_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise HomeError(f"{self.identity_path.name} is damaged ({exc}); enrol this terminal again") from None

    def make_private(self) -> None:
        """The home 0700, its folders 0700 and its files 0600, whatever they were.

        Symbolic links are left alone (chmod would change what they point to).
        """
        durable.make_folders(self.path, _PRIVATE_FOLDER)
        _chmod(self.path, _PRIVATE_FOLDER)
        for folder, names, files in os.walk(self.path):
            for name in names:
                _chmod(Path(folder, name), _PRIVATE_FOLDER)
            for name in files:
                _chmod(Path(folder, name), _PRIVATE_FILE)

    def create_key(self, passphrase: bytes | None, *, unencrypted_for_development: bool = False) -> Ed25519PrivateKey:
        """A new terminal key, written before anything is sent to the office."""
        self.make_private()
        key = Ed25519PrivateKey.generate()
        write_private_key(self.key_path, key, passphrase, allow_unencrypted_for_development=unencrypted_for_development)
        return key

    def private_key(self, passphrase: bytes | None, *, unencrypted_for_development: bool = False) -> Ed25519PrivateKey:
        return read_private_key(self.key_path, passphrase,
                                allow_unencrypted_for_development=unencrypted_for_development)

    def save_enrolment(self, identity: Identity, root_jwk: dict[str, Any]) -> None:
        _write_atomic(self.anchor_path, json.dumps(root_jwk, indent=2) + "\n")
        _write_atomic(self.identity_path, json.dumps(identity.to_json(), indent=2) + "\n")

    def root_key(self) -> Ed25519PublicKey:
        try:
            return load_public_jwk(json.loads(self.anchor_path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise KeyFileInvalid(f"cannot read the pinned root key {self.anchor_path.name}: {exc}") from None

    def key_id(self, key: Ed25519PrivateKey) -> str:
        return kid_for(key.public_key())

    # --- the trust list ------------------------------------------------------------

    def save_full_trust_list(self, token: str) -> None:
        """A new full list replaces the old one and every delta applied to it."""
        _write_atomic(self.trust_path, token)
        for delta in self._delta_files():
            delta.unlink()

    def save_delta(self, seq: int, token: str) -> None:
        self.deltas_path.mkdir(mode=_PRIVATE_FOLDER, exist_ok=True)
        _write_atomic(self.deltas_path / f"{seq:010d}.jws", token)

    def load_trust_list(self, now: int) -> TrustList:
        """The full list with its deltas applied, every signature checked again.

        An expired list is still returned (terminals decide on, marked stale).
        Raises InvalidTrustListError when a file was damaged or changed.
        """
        root = self.root_key()
        # The text is not kept here: verify_trust_list lets it go before decoding the serials
        # (a list of 5,000,000 in form 2 is 12 MB of text beside a 40 MB result).
        trust = verify_trust_list(self._trust_list_text(), root, now, accept_expired=True)
        for delta in self._delta_files():
            trust = apply_delta(trust, delta.read_text(encoding="ascii"), root, now, accept_expired=True)
        return trust

    def _trust_list_text(self) -> str:
        try:
            return self.trust_path.read_text(encoding="ascii")
        except (OSError, ValueError) as exc:
            raise HomeError(f"cannot read {self.trust_path.name}: run 'kia verifier sync' ({exc})") from None

    def _delta_files(self) -> list[Path]:
        return sorted(self.deltas_path.glob("*.jws")) if self.deltas_path.exists() else []

    def trust_fingerprint(self) -> Fingerprint:
        """What the trust list, its deltas and the rules are on disk now, from their metadata alone.

        Files are replaced by rename, so any change (by this process or by a
        hand-run ``kia verifier sync``) gives another inode, size or time.
        """
        entries = []
        for path in (self.trust_path, self.config_path, *self._delta_files()):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            entries.append((path.name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
        return tuple(entries)

    # --- the partner's rules ----------------------------------------------------------

    def save_config(self, token: str) -> None:
        _write_atomic(self.config_path, token)

    def config_token(self) -> str | None:
        try:
            return self.config_path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None

    # --- while serving -------------------------------------------------------------------

    def announce(self, url: str, now: int) -> None:
        """Tell readers on this machine where the local API is (verifier/local.py)."""
        _write_atomic(self.serve_path, json.dumps({"url": url, "since": dt.datetime.fromtimestamp(now, dt.UTC)
                                                   .isoformat(timespec="seconds")}) + "\n")

    def withdraw(self) -> None:
        self.serve_path.unlink(missing_ok=True)


_PRIVATE_FOLDER, _PRIVATE_FILE = 0o700, 0o600


def _chmod(path: Path, mode: int) -> None:
    info = path.lstat()
    if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != mode:
        path.chmod(mode)


def _write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (mode 0600), so that a power cut leaves the old file or the new."""
    durable.replace(path, text.encode("utf-8"), _PRIVATE_FILE)
