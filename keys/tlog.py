"""A transparency log's arithmetic: RFC 6962 Merkle trees, their proofs, and signed checkpoints.

The office will append every fact it accepts to a log whose tree head anyone
can check (issue 11).  This module is the part an auditor needs too, so it
lives in keys/ with no database and no web framework:

- hashes and tree heads exactly as RFC 6962 section 2.1 (RFC 9162 section 2.1):
  a leaf is ``SHA-256(0x00 || data)``, a node ``SHA-256(0x01 || left || right)``,
  the empty tree ``SHA-256("")``, and a tree of ``n`` leaves splits at the largest
  power of two below ``n``;
- inclusion and consistency proofs, made from the leaf hashes and verified by
  the algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2;
- checkpoints in the C2SP tlog-checkpoint format (origin, tree size, base64
  root), as a C2SP signed note with Ed25519 signatures (signature type 0x01),
  whose key is named as Go's golang.org/x/mod/sumdb/note names it
  (``name+hex key ID+base64(0x01 || public key)``).

Written here on purpose (issue 11 asks for it small and exact); it is checked
against the RFC 6962 reference vectors and against Go's implementation.
Verification raises ``ProofInvalid`` or ``NoteInvalid``; it never returns
False.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KiaError
from .jwk import public_key_bytes

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
ED25519_TYPE = b"\x01"
MAX_NOTE_SIZE = 64 * 1024
MAX_SIGNATURES = 64
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class ProofInvalid(KiaError):
    """An inclusion or consistency proof that does not lead to the tree head it claims."""


class NoteInvalid(KiaError):
    """A signed note or checkpoint that is malformed, or not signed by the key it must be."""


# --- hashes and tree heads ------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree head over ``leaves`` (leaf hashes, in order)."""
    if not leaves:
        return EMPTY_ROOT
    # Hash level by level, left to right: a lone last node is carried up unchanged,
    # which gives the same head as RFC 6962's split at the largest power of two.
    level = list(leaves)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(index, leaves): the hashes that lead from leaf ``index`` to the head."""
    return prove_inclusion(_range_of(leaves), index, len(leaves))


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """RFC 6962 PROOF(old_size, leaves): the hashes that show the tree of ``old_size`` is a prefix."""
    return prove_consistency(_range_of(leaves), old_size, len(leaves))


# A log too large to hold in memory proves from its stored hashes: ``RangeHash(lo, hi)``
# is the Merkle tree head of leaves ``lo`` to ``hi - 1`` (see ``stored_range_hash``).
RangeHash = Callable[[int, int], bytes]


def _range_of(leaves: Sequence[bytes]) -> RangeHash:
    return lambda lo, hi: tree_root(leaves[lo:hi])


def prove_inclusion(hash_range: RangeHash, index: int, size: int) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size]) from the range hashes of a tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError("the leaf index is outside the tree")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(hash_range(lo + k, hi))
            hi = lo + k
        else:
            proof.append(hash_range(lo, lo + k))
            lo += k
    return proof[::-1]


def prove_consistency(hash_range: RangeHash, old_size: int, size: int) -> list[bytes]:
    """RFC 6962 PROOF(old_size, D[0:size]) from the range hashes of a tree of ``size`` leaves."""
    if not 0 <= old_size <= size:
        raise ValueError("the old size is outside the tree")
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    lo, hi, m, complete = 0, size, old_size, True
    while m != hi - lo:  # SUBPROOF(m, D[lo:hi], complete)
        k = _split(hi - lo)
        if m <= k:
            proof.append(hash_range(lo + k, hi))
            hi = lo + k
        else:
            proof.append(hash_range(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(hash_range(lo, hi))
    return proof[::-1]


# --- a log's stored hashes ----------------------------------------------------------
#
# A log stores, for every level ``l`` and index ``i``, the head of the complete subtree
# over leaves ``i * 2**l`` to ``(i + 1) * 2**l - 1`` once it is complete: the leaf hashes
# at level 0, and one more hash per leaf on average above.  Every head and proof of any
# tree size is made of O(log n) of them.


def stored_range_hash(stored: Callable[[int, int], bytes]) -> RangeHash:
    """A ``RangeHash`` reading ``stored(level, index)``, the complete subtrees' heads."""
    def hash_range(lo: int, hi: int) -> bytes:
        width = hi - lo
        if width & (width - 1) == 0 and lo % width == 0:
            return stored(width.bit_length() - 1, lo // width)
        k = _split(width)
        return node_hash(hash_range(lo, lo + k), hash_range(lo + k, hi))
    return hash_range


def frontier(size: int) -> list[tuple[int, int]]:
    """The (level, index) of the complete subtrees that make up a tree of ``size``, left to right.

    Appending to the tree needs only these: each new subtree's left half is one of them.
    """
    out, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def appended_hashes(size: int, leaves: Sequence[bytes],
                    stored: Callable[[int, int], bytes]) -> list[tuple[int, int, bytes]]:
    """The (level, index, hash) a tree of ``size`` stores when ``leaves`` (leaf hashes) are appended.

    ``stored`` is asked only for the hashes of ``frontier(size)``.
    """
    made: dict[tuple[int, int], bytes] = {}
    out = []
    for index, leaf in enumerate(leaves, start=size):
        level, at, value = 0, index, leaf
        made[level, at] = value
        out.append((level, at, value))
        while at & 1:
            left = made.get((level, at - 1)) or stored(level, at - 1)
            level, at, value = level + 1, at >> 1, node_hash(left, value)
            made[level, at] = value
            out.append((level, at, value))
    return out


# --- verifying proofs (RFC 9162 section 2.1) ---------------------------------------


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofInvalid unless ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree ``root`` of ``size``."""
    if not 0 <= index < size:
        raise ProofInvalid("the leaf index is outside the tree")
    _hashes(proof, leaf, root)
    fn, sn, computed = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofInvalid("the inclusion proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            computed = node_hash(computed, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofInvalid("the inclusion proof is shorter than the tree is high")
    if computed != root:
        raise ProofInvalid("the inclusion proof leads to another tree head")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Raise ProofInvalid unless ``proof`` shows the tree ``old_root`` is a prefix of the tree ``new_root``."""
    if not 0 <= old_size <= new_size:
        raise ProofInvalid("a tree cannot shrink")
    _hashes(proof, old_root, new_root)
    if old_size == new_size:
        if proof:
            raise ProofInvalid("two heads of the same size need an empty proof")
        if old_root != new_root:
            raise ProofInvalid("two heads of the same size differ")
        return
    if old_size == 0:
        if proof:
            raise ProofInvalid("the empty tree is a prefix of every tree with an empty proof")
        return
    if not proof:
        raise ProofInvalid("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old head is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_computed = new_computed = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofInvalid("the consistency proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            old_computed, new_computed = node_hash(node, old_computed), node_hash(node, new_computed)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_computed = node_hash(new_computed, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofInvalid("the consistency proof is shorter than the tree is high")
    if old_computed != old_root or new_computed != new_root:
        raise ProofInvalid("the consistency proof does not join the two tree heads")


def _hashes(proof: Sequence[bytes], *heads: bytes) -> None:
    if any(len(value) != HASH_SIZE for value in (*proof, *heads)):
        raise ProofInvalid("hashes are 32 bytes (SHA-256)")


# --- checkpoints as signed notes (C2SP tlog-checkpoint, signed-note) ---------------


@dataclasses.dataclass(frozen=True)
class TreeHead:
    """What a checkpoint says: the log's origin, its size and its root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"


def key_id(name: str, key_type: bytes, public: Ed25519PublicKey) -> bytes:
    """A signed-note key ID: the first 4 bytes of SHA-256(name || "\\n" || type || public key)."""
    return hashlib.sha256(name.encode() + b"\n" + key_type + public_key_bytes(public)).digest()[:4]


def verifier_key_text(name: str, key_type: bytes, public: Ed25519PublicKey) -> str:
    """``name+hex key ID+base64(type || public key)``, as Go's sumdb/note writes a verifier key."""
    encoded = base64.b64encode(key_type + public_key_bytes(public)).decode("ascii")
    return f"{name}+{key_id(name, key_type, public).hex()}+{encoded}"


def parse_verifier_key(verifier_key: str, key_type: bytes) -> tuple[str, Ed25519PublicKey]:
    """The name and Ed25519 key of a verifier key of ``key_type``; raises NoteInvalid for anything else."""
    try:
        name, given_id, encoded = verifier_key.strip().split("+", 2)  # base64 may hold "+"
        raw = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise NoteInvalid("a verifier key is name+keyid+base64 key") from None
    if not is_key_name(name) or raw[:1] != key_type or len(raw) != 33:
        raise NoteInvalid(f"a verifier key names an Ed25519 key (type 0x{key_type.hex()}, 32 bytes)")
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_id(name, key_type, public).hex() != given_id:
        raise NoteInvalid("the verifier key's ID does not match its name and key")
    return name, public


@dataclasses.dataclass(frozen=True)
class NoteKey:
    """An Ed25519 key that signs notes, with its name and key ID (C2SP signed-note)."""

    name: str
    public: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, ED25519_TYPE, self.public)

    def verifier_key(self) -> str:
        """``name+hex key ID+base64(0x01 || public key)``, as Go's sumdb/note writes a verifier key."""
        return verifier_key_text(self.name, ED25519_TYPE, self.public)

    @classmethod
    def parse(cls, verifier_key: str) -> NoteKey:
        """A key from its verifier-key form; raises NoteInvalid for anything else."""
        return cls(*parse_verifier_key(verifier_key, ED25519_TYPE))


def sign_note(text: str, name: str, private: Ed25519PrivateKey) -> str:
    """``text`` (ending in a newline) signed by ``private`` under ``name``, as a C2SP signed note."""
    if not text.endswith("\n") or not is_note_text(text) or not is_key_name(name):
        raise NoteInvalid("a note's text ends with a newline and has no other control characters")
    key = NoteKey(name, private.public_key())
    signature = base64.b64encode(key.key_id + private.sign(text.encode())).decode("ascii")
    return f"{text}\n\u2014 {name} {signature}\n"


def add_signature(note: str, name: str, private: Ed25519PrivateKey) -> str:
    """The note with one more signature line (a witness's cosignature, say)."""
    text, _ = split_note(note)
    signed = sign_note(text, name, private)
    return note + signed[len(text) + 1:]


def open_note(note: str, key: NoteKey) -> str:
    """The text of ``note`` once ``key``'s signature on it verifies; raises NoteInvalid.

    Signatures from other keys are ignored, as the signed-note spec says; one
    from ``key`` that fails makes the whole note invalid.
    """
    text, lines = split_note(note)
    found = False
    for name, key_id, signature in map(signature_line, lines):
        if name != key.name or key_id != key.key_id:
            continue
        try:
            key.public.verify(signature, text.encode())
        except InvalidSignature:
            raise NoteInvalid(f"the signature of {key.name} does not verify") from None
        found = True
    if not found:
        raise NoteInvalid(f"the note is not signed by {key.name}")
    return text


def sign_checkpoint(head: TreeHead, name: str, private: Ed25519PrivateKey) -> str:
    return sign_note(head.text(), name, private)


def open_checkpoint(note: str, key: NoteKey, origin: str) -> TreeHead:
    """The tree head of a checkpoint signed by ``key`` for the log ``origin``; raises NoteInvalid."""
    lines = open_note(note, key).split("\n")[:-1]
    if len(lines) < 3 or not all(lines):
        raise NoteInvalid("a checkpoint's text is its origin, size and root hash, each on a line")
    if lines[0] != origin:
        raise NoteInvalid(f"the checkpoint is of another log ({lines[0][:64]!r})")
    if not _DECIMAL.fullmatch(lines[1]):
        raise NoteInvalid("a checkpoint's size is a decimal number without leading zeroes")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        raise NoteInvalid("a checkpoint's root hash is base64") from None
    if len(root) != HASH_SIZE:
        raise NoteInvalid("a checkpoint's root hash is 32 bytes")
    return TreeHead(origin, int(lines[1]), root)


def split_note(note: str) -> tuple[str, list[str]]:
    """The text of a signed note and its signature lines (each ending in a newline), unverified.

    Raises NoteInvalid unless the note is shaped as C2SP signed-note says.
    """
    if len(note.encode()) > MAX_NOTE_SIZE or not is_note_text(note) or not note.endswith("\n"):
        raise NoteInvalid("a signed note is UTF-8 text ending in a newline, without control characters")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteInvalid("a signed note has a blank line before its signatures")
    lines = [line + "\n" for line in note[cut + 2:-1].split("\n")]
    if len(lines) > MAX_SIGNATURES:
        raise NoteInvalid(f"a signed note carries at most {MAX_SIGNATURES} signatures")
    for line in lines:
        signature_line(line)
    return note[:cut + 1], lines


def signature_line(line: str) -> tuple[str, bytes, bytes]:
    """A signature line's key name, key ID and signature bytes; raises NoteInvalid."""
    parts = line[:-1].split(" ") if line.endswith("\n") else []
    if len(parts) != 3 or parts[0] != "\u2014" or not is_key_name(parts[1]):
        raise NoteInvalid("a signature line is: em dash, key name, base64 signature")
    try:
        raw = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        raise NoteInvalid("a signature is base64") from None
    if len(raw) < 5:
        raise NoteInvalid("a signature is a key ID and the signature bytes")
    return parts[1], raw[:4], raw[4:]


def is_note_text(text: str) -> bool:
    return not any(ord(char) < 0x20 and char != "\n" for char in text)


def is_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(char.isspace() for char in name)
