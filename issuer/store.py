"""The issuer's home folder: its state file and private key files.

This file-based store serves a single office machine until the database of
the service replaces it.  Layout::

    HOME/kia-issuer.json   state: keys, cards, trust-list sequence (no children's data)
    HOME/keys/*.key        encrypted PKCS#8 private keys, mode 0600
    HOME/.lock             held while a command works on the home

Every change is written to a temporary file, flushed to disk and renamed
over the state file, so a crash leaves the old state or the new, never half.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keys import IssuingKey

from .errors import HomeBusy, HomeExists, HomeNotFound

STATE_FILE = "kia-issuer.json"
STATE_FORMAT = 1


@dataclasses.dataclass
class CardRecord:
    """A card as the office keeps it: no name, no NIK, no birth day."""

    serial: str
    region: int
    birth_month: int
    issued_at: int
    expires_at: int
    kid: str
    token: str
    revoked_at: int | None = None
    revocation_reason: str | None = None
    # Sequence of the first trust list that listed the revocation, and of the
    # first that dropped it again (once the card had expired anyway).
    listed_seq: int | None = None
    unlisted_seq: int | None = None

    @property
    def state(self) -> str:
        return "revoked" if self.revoked_at is not None else "active"

    def listed_at(self, seq: int) -> bool:
        """Whether the trust list of sequence ``seq`` carried this revocation."""
        return (
            self.listed_seq is not None
            and self.listed_seq <= seq
            and (self.unlisted_seq is None or seq < self.unlisted_seq)
        )


@dataclasses.dataclass
class KeyEntry:
    key: IssuingKey
    file: str  # relative to the home


@dataclasses.dataclass
class IssuerState:
    root_kid: str
    root_jwk: dict[str, Any]
    root_file: str
    keys: list[KeyEntry]
    cards: dict[str, CardRecord]
    trust_list_seq: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "root": {"kid": self.root_kid, "jwk": self.root_jwk, "file": self.root_file},
            "issuing_keys": [{"jwk": entry.key.to_jwk(), "file": entry.file} for entry in self.keys],
            "trust_list_seq": self.trust_list_seq,
            "cards": [vars(card).copy() for card in self.cards.values()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssuerState:
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported state format {data.get('format')!r}")
        return cls(
            root_kid=data["root"]["kid"],
            root_jwk=data["root"]["jwk"],
            root_file=data["root"]["file"],
            keys=[KeyEntry(IssuingKey.from_jwk(item["jwk"]), item["file"]) for item in data["issuing_keys"]],
            cards={card["serial"]: CardRecord(**card) for card in data["cards"]},
            trust_list_seq=data["trust_list_seq"],
        )


class IssuerHome:
    """One office's home folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def state_path(self) -> Path:
        return self.path / STATE_FILE

    def exists(self) -> bool:
        return self.state_path.is_file()

    def key_path(self, name: str) -> Path:
        return self.path / "keys" / name

    @contextlib.contextmanager
    def locked(self, *, create: bool = False) -> Iterator[None]:
        """Hold the home's lock; raises HomeBusy if another command holds it.

        Only ``init`` passes ``create``: any other command on a mistyped
        folder raises HomeNotFound instead of leaving an empty folder behind.
        """
        if create:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        elif not self.exists():
            raise HomeNotFound(f"{self.path} is not an issuer home; run 'kia issuer init --home {self.path}' first")
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise HomeBusy(f"another kia command is working on {self.path}; try again when it ends") from None
            yield
        finally:
            os.close(fd)

    def load(self) -> IssuerState:
        if not self.exists():
            raise HomeNotFound(f"{self.path} is not an issuer home; run 'kia issuer init --home {self.path}' first")
        with self.state_path.open(encoding="utf-8") as handle:
            return IssuerState.from_json(json.load(handle))

    def create(self, state: IssuerState) -> None:
        if self.exists():
            raise HomeExists(f"{self.path} already holds an issuer home; it is never overwritten")
        self.save(state)

    def save(self, state: IssuerState) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.path, prefix=".state-", delete=False
        ) as handle:
            # json.dumps, not json.dump: only the former uses the C encoder.
            handle.write(json.dumps(state.to_json(), separators=(",", ":")))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o600)
        os.replace(handle.name, self.state_path)
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
