"""Witness cosignatures on checkpoints: C2SP tlog-cosignature, ``cosignature/v1`` with Ed25519.

A witness (``kia audit witness``, run by the regional inspectorate) checks that
each checkpoint the office signs grows the tree it saw before, and then adds
its cosignature: a signed-note signature line whose key ID uses signature
type 0x04 and whose signature is a ``timestamped_signature``::

    — <witness name> base64(key ID || u64 big-endian timestamp || Ed25519 signature)

    key ID  = SHA-256(name || "\\n" || 0x04 || 32-byte public key)[:4]
    message = "cosignature/v1\\n" "time <timestamp>\\n" || the checkpoint's note text

A cosignature says: as of that time, this is the largest consistent tree the
witness has seen for the log.  Its verifier key is ``name+hex key ID+base64(0x04
|| public key)``.  Verification raises ``CosignatureInvalid`` (a
``keys.tlog.NoteInvalid``); it never returns False.  Times are POSIX seconds,
always passed in.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .tlog import (
    NoteInvalid,
    NoteKey,
    TreeHead,
    is_key_name,
    is_note_text,
    key_id,
    open_checkpoint,
    parse_verifier_key,
    signature_line,
    split_note,
    verifier_key_text,
)

COSIGNATURE_TYPE = b"\x04"
MESSAGE_HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
# A witness's clock may run this far ahead of the verifier's before its cosignature is refused.
COSIGNATURE_CLOCK_SKEW = 300
_KEY_ID_SIZE, _TIMESTAMP_SIZE, _ED25519_SIZE = 4, 8, 64
_EM_DASH = "\u2014"
_SIGNATURE_LINE = re.compile(rf"{_EM_DASH} (\S+) (\S+)\n")


class CosignatureInvalid(NoteInvalid):
    """A witness's cosignature that is missing, malformed, from the future, or does not verify."""


class CosignatureMissing(CosignatureInvalid):
    """The note carries no cosignature of the witness asked about."""


class NotEnoughCosignatures(CosignatureInvalid):
    """Fewer of the required witnesses cosigned the checkpoint than the policy asks."""

    def __init__(self, found: int, quorum: int) -> None:
        self.found, self.quorum = found, quorum
        super().__init__(f"the checkpoint carries {found} of the {quorum} witness cosignatures required")


@dataclasses.dataclass(frozen=True)
class CosignerKey:
    """A witness's Ed25519 cosigning key with its name (C2SP tlog-cosignature, type 0x04)."""

    name: str
    public: Ed25519PublicKey

    def __post_init__(self) -> None:
        if not is_key_name(self.name):
            raise CosignatureInvalid("a witness's name is not empty and has no spaces or '+'")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, COSIGNATURE_TYPE, self.public)

    def verifier_key(self) -> str:
        """``name+hex key ID+base64(0x04 || public key)``: what the office and auditors configure."""
        return verifier_key_text(self.name, COSIGNATURE_TYPE, self.public)

    @classmethod
    def parse(cls, verifier_key: str) -> CosignerKey:
        """A key from its verifier-key form; raises CosignatureInvalid for anything else."""
        try:
            return cls(*parse_verifier_key(verifier_key, COSIGNATURE_TYPE))
        except CosignatureInvalid:
            raise
        except NoteInvalid as exc:
            raise CosignatureInvalid(f"a witness's {exc}") from None

    @classmethod
    def of(cls, name: str, private: Ed25519PrivateKey) -> CosignerKey:
        return cls(name, private.public_key())


@dataclasses.dataclass(frozen=True)
class Cosignature:
    """One parsed cosignature line: who (name, key ID), when, and the Ed25519 signature."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def line(self) -> str:
        raw = self.key_id + self.timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + self.signature
        return f"{_EM_DASH} {self.name} {base64.b64encode(raw).decode('ascii')}\n"

    @classmethod
    def from_line(cls, line: str) -> Cosignature:
        """Parse ``— name base64(...)\\n`` as a cosignature; raises CosignatureInvalid."""
        name, raw = _signature_line(line)
        if len(raw) != _KEY_ID_SIZE + _TIMESTAMP_SIZE + _ED25519_SIZE:
            raise CosignatureInvalid("a cosignature is a key ID, an 8-byte timestamp and a 64-byte signature")
        timestamp = int.from_bytes(raw[_KEY_ID_SIZE:_KEY_ID_SIZE + _TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            raise CosignatureInvalid("a cosignature's timestamp is at most 2^63 - 1")
        return cls(name, raw[:_KEY_ID_SIZE], timestamp, raw[_KEY_ID_SIZE + _TIMESTAMP_SIZE:])


def signed_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header line, the time line, then the note text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureInvalid("a cosignature's timestamp is between 0 and 2^63 - 1")
    return f"{MESSAGE_HEADER}time {timestamp}\n{text}".encode()


def cosign(text: str, name: str, private: Ed25519PrivateKey, timestamp: int) -> str:
    """The cosignature line of ``private`` (named ``name``) over note text ``text`` at ``timestamp``.

    The caller has verified the text (the log's signature, the consistency of
    its tree); this function only signs.
    """
    if not text.endswith("\n") or not is_note_text(text):
        raise NoteInvalid("a note's text ends with a newline and has no other control characters")
    key = CosignerKey.of(name, private)
    signature = private.sign(signed_message(text, timestamp))
    return Cosignature(name, key.key_id, timestamp, signature).line()


def add_cosignatures(note: str, lines: Iterable[str]) -> str:
    """``note`` with the witness's cosignature lines appended (those already there are not repeated)."""
    _, present = split_note(note)
    added = [line for line in dict.fromkeys(lines) if line not in present]
    for line in added:
        Cosignature.from_line(line)
    combined = note + "".join(added)
    split_note(combined)  # still within the limits of a note
    return combined


def verify_cosignature(note: str, key: CosignerKey, now: int) -> int:
    """The time of ``key``'s cosignature on ``note`` once it verifies; raises CosignatureInvalid.

    Signature lines of other keys are ignored, as signed-note says; a line with
    ``key``'s name and key ID that does not verify, or whose time is more than
    COSIGNATURE_CLOCK_SKEW after ``now``, makes the whole note invalid.  With
    several cosignatures of ``key``, the latest time is returned.
    CosignatureMissing (a CosignatureInvalid) says the note has no line of ``key`` at all.
    """
    text, lines = split_note(note)
    times = []
    for line in lines:
        name, raw = _signature_line(line)
        if name != key.name or raw[:_KEY_ID_SIZE] != key.key_id:
            continue
        cosignature = Cosignature.from_line(line)
        try:
            key.public.verify(cosignature.signature, signed_message(text, cosignature.timestamp))
        except InvalidSignature:
            raise CosignatureInvalid(f"the cosignature of witness {key.name} does not verify") from None
        if cosignature.timestamp > now + COSIGNATURE_CLOCK_SKEW:
            raise CosignatureInvalid(f"the cosignature of witness {key.name} is dated in the future")
        times.append(cosignature.timestamp)
    if not times:
        raise CosignatureMissing(f"the note is not cosigned by witness {key.name}")
    return max(times)


def open_witnessed_checkpoint(note: str, log_key: NoteKey, origin: str, witnesses: Sequence[CosignerKey],
                              quorum: int, now: int) -> TreeHead:
    """The tree head of a checkpoint signed by the log and cosigned by at least ``quorum`` of ``witnesses``.

    Raises NoteInvalid for the log's signature, CosignatureInvalid for a
    cosignature of a listed witness that fails, and NotEnoughCosignatures
    when too few of them cosigned.  A witness listed twice counts once.
    """
    if not 1 <= quorum <= len({key.verifier_key() for key in witnesses}):
        raise ValueError("the quorum is between 1 and the number of distinct witnesses")
    head = open_checkpoint(note, log_key, origin)
    found = 0
    for key in {key.verifier_key(): key for key in witnesses}.values():
        try:
            verify_cosignature(note, key, now)
        except CosignatureMissing:
            continue
        found += 1
    if found < quorum:
        raise NotEnoughCosignatures(found, quorum)
    return head


def _signature_line(line: str) -> tuple[str, bytes]:
    name, key_id, signature = signature_line(line)
    return name, key_id + signature
