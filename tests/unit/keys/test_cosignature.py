"""keys.cosignature against C2SP tlog-cosignature's examples, a hand-built message, and forged or moved cosignatures."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.cosignature import (
    COSIGNATURE_CLOCK_SKEW,
    Cosignature,
    CosignatureInvalid,
    CosignatureMissing,
    CosignerKey,
    NotEnoughCosignatures,
    add_cosignatures,
    cosign,
    open_witnessed_checkpoint,
    signed_message,
    verify_cosignature,
)
from keys.jwk import public_key_bytes
from keys.tlog import NoteInvalid, NoteKey, TreeHead, open_checkpoint, sign_checkpoint, sign_note, split_note
from tests.factories import NOW

# The example of C2SP tlog-cosignature: a checkpoint, and a cosignature of witness.example.com/w1
# whose signed message the spec prints with "time 1679315147".
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_MESSAGE = "cosignature/v1\ntime 1679315147\n" + SPEC_TEXT
SPEC_LINE = ("\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1"
             "nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n")

ORIGIN = "kia.surakarta.example/log"
LOG = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
LOG_KEY = NoteKey(ORIGIN, LOG.public_key())
W1 = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
W2 = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
W3 = Ed25519PrivateKey.from_private_bytes(bytes(range(96, 128)))
W1_NAME, W2_NAME, W3_NAME = "inspektorat.example/w1", "bpkp.example/w2", "ombudsman.example/w3"
HEAD = TreeHead(ORIGIN, 13, hashlib.sha256(b"thirteen leaves").digest())


def checkpoint(head: TreeHead = HEAD) -> str:
    return sign_checkpoint(head, ORIGIN, LOG)


def cosigned(note: str, private: Ed25519PrivateKey, name: str, timestamp: int = NOW) -> str:
    text, _ = split_note(note)
    return add_cosignatures(note, [cosign(text, name, private, timestamp)])


def key(private: Ed25519PrivateKey, name: str) -> CosignerKey:
    return CosignerKey.of(name, private)


# --- formats ---------------------------------------------------------------------------------


def test_key_id_is_sha256_of_name_newline_0x04_and_key() -> None:
    expected = hashlib.sha256(W1_NAME.encode() + b"\n\x04" + public_key_bytes(W1.public_key())).digest()[:4]
    assert key(W1, W1_NAME).key_id == expected
    # The same key as a note signer (type 0x01) has another ID: the two never stand for each other.
    assert NoteKey(W1_NAME, W1.public_key()).key_id != expected


def test_verifier_key_round_trip() -> None:
    witness = key(W1, W1_NAME)
    vkey = witness.verifier_key()
    name, key_id, encoded = vkey.split("+", 2)
    assert (name, key_id) == (W1_NAME, witness.key_id.hex())
    assert base64.b64decode(encoded) == b"\x04" + public_key_bytes(W1.public_key())
    assert CosignerKey.parse(vkey) == witness


@pytest.mark.parametrize("vkey", [
    NoteKey(W1_NAME, W1.public_key()).verifier_key(),  # a note signer's key (0x01), not a cosigner's
    "inspektorat.example/w1+00000000+" + base64.b64encode(b"\x04" + bytes(32)).decode(),  # wrong key ID
    "inspektorat.example/w1+ef939218",
    "no-plus-at-all",
    "+ef939218+BFb2yM30+04roCsIKXHbWfq2Vi2pJbx2BKpZ/TtjZeM2",
    "a name+ef939218+BFb2yM30+04roCsIKXHbWfq2Vi2pJbx2BKpZ/TtjZeM2",
])
def test_verifier_keys_that_are_not_cosigners_are_refused(vkey: str) -> None:
    with pytest.raises(CosignatureInvalid):
        CosignerKey.parse(vkey)


def test_signed_message_is_the_specs_example() -> None:
    assert signed_message(SPEC_TEXT, 1679315147) == SPEC_MESSAGE.encode()


def test_the_specs_example_line_parses_to_its_timestamp() -> None:
    parsed = Cosignature.from_line(SPEC_LINE)
    assert parsed.name == "witness.example.com/w1"
    assert parsed.key_id == bytes.fromhex("8d66cf3f")
    assert parsed.timestamp == 1679315147
    assert len(parsed.signature) == 64
    assert parsed.line() == SPEC_LINE


def test_cosignature_layout_checked_by_hand() -> None:
    """Key ID, big-endian u64 time, then Ed25519 over the message built here independently."""
    line = cosign(HEAD.text(), W1_NAME, W1, NOW)
    dash, name, encoded = line.rstrip("\n").split(" ")
    raw = base64.b64decode(encoded)
    assert (dash, name, len(raw)) == ("\u2014", W1_NAME, 76)
    assert raw[:4] == key(W1, W1_NAME).key_id
    assert int.from_bytes(raw[4:12], "big") == NOW
    W1.public_key().verify(raw[12:], f"cosignature/v1\ntime {NOW}\n".encode() + HEAD.text().encode())


@pytest.mark.parametrize("timestamp", [-1, 2**63])
def test_timestamps_outside_the_u63_range_are_refused(timestamp: int) -> None:
    with pytest.raises(CosignatureInvalid):
        cosign(HEAD.text(), W1_NAME, W1, timestamp)


def test_a_timestamp_above_2_63_is_refused_when_parsed() -> None:
    raw = key(W1, W1_NAME).key_id + (2**63).to_bytes(8, "big") + bytes(64)
    with pytest.raises(CosignatureInvalid, match="2\\^63"):
        Cosignature.from_line(f"\u2014 {W1_NAME} {base64.b64encode(raw).decode()}\n")


# --- verification ----------------------------------------------------------------------------


def test_round_trip_and_the_log_signature_still_opens() -> None:
    note = cosigned(checkpoint(), W1, W1_NAME)
    assert verify_cosignature(note, key(W1, W1_NAME), NOW) == NOW
    assert open_checkpoint(note, LOG_KEY, ORIGIN) == HEAD  # the cosignature is an unknown key to the log's check


def test_another_witness_key_finds_no_cosignature() -> None:
    note = cosigned(checkpoint(), W1, W1_NAME)
    with pytest.raises(CosignatureMissing):
        verify_cosignature(note, key(W2, W1_NAME), NOW)  # same name, another key: another key ID
    with pytest.raises(CosignatureMissing):
        verify_cosignature(note, key(W1, W2_NAME), NOW)


def test_tampered_checkpoint_body() -> None:
    note = cosigned(checkpoint(), W1, W1_NAME)
    tampered = note.replace("\n13\n", "\n14\n", 1)
    with pytest.raises(CosignatureInvalid, match="does not verify"):
        verify_cosignature(tampered, key(W1, W1_NAME), NOW)


def test_tampered_timestamp() -> None:
    line = cosign(HEAD.text(), W1_NAME, W1, NOW)
    parsed = Cosignature.from_line(line)
    moved = Cosignature(parsed.name, parsed.key_id, NOW + 3600, parsed.signature).line()
    with pytest.raises(CosignatureInvalid, match="does not verify"):
        verify_cosignature(checkpoint() + moved, key(W1, W1_NAME), NOW + 7200)


def test_cosignature_moved_to_another_checkpoint() -> None:
    line = cosigned(checkpoint(), W1, W1_NAME).splitlines(keepends=True)[-1]
    other = checkpoint(TreeHead(ORIGIN, 14, hashlib.sha256(b"fourteen leaves").digest()))
    with pytest.raises(CosignatureInvalid, match="does not verify"):
        verify_cosignature(other + line, key(W1, W1_NAME), NOW)


def test_cosignature_from_the_future() -> None:
    witness = key(W1, W1_NAME)
    assert verify_cosignature(cosigned(checkpoint(), W1, W1_NAME, NOW + COSIGNATURE_CLOCK_SKEW), witness, NOW)
    with pytest.raises(CosignatureInvalid, match="future"):
        verify_cosignature(cosigned(checkpoint(), W1, W1_NAME, NOW + COSIGNATURE_CLOCK_SKEW + 1), witness, NOW)


def test_a_note_signature_by_the_witness_key_is_no_cosignature() -> None:
    """A plain Ed25519 note signature (type 0x01) of the same key and name does not pass as a cosignature."""
    note = sign_note(HEAD.text(), W1_NAME, W1)
    with pytest.raises(CosignatureMissing):
        verify_cosignature(note, key(W1, W1_NAME), NOW)


def test_a_cosignature_does_not_pass_for_the_logs_signature() -> None:
    """A witness that shares the log's name and key still cannot stand in for the log's own signature."""
    text = HEAD.text()
    note = f"{text}\n" + cosign(text, ORIGIN, LOG, NOW)
    with pytest.raises(NoteInvalid, match="not signed"):
        open_checkpoint(note, LOG_KEY, ORIGIN)


def test_truncated_cosignature_of_a_known_key_rejects_the_note() -> None:
    witness = key(W1, W1_NAME)
    raw = witness.key_id + NOW.to_bytes(8, "big") + bytes(10)
    with pytest.raises(CosignatureInvalid):
        verify_cosignature(checkpoint() + f"\u2014 {W1_NAME} {base64.b64encode(raw).decode()}\n", witness, NOW)


def test_latest_of_two_cosignatures_of_one_witness() -> None:
    note = cosigned(cosigned(checkpoint(), W1, W1_NAME, NOW - 60), W1, W1_NAME, NOW)
    assert verify_cosignature(note, key(W1, W1_NAME), NOW) == NOW


# --- notes and quorums -------------------------------------------------------------------------


def test_add_cosignatures_does_not_repeat_a_line() -> None:
    note = checkpoint()
    line = cosign(HEAD.text(), W1_NAME, W1, NOW)
    assert add_cosignatures(add_cosignatures(note, [line]), [line, line]) == note + line


@pytest.mark.parametrize("line", ["\u2014 " + W1_NAME + " !!!\n", "not a signature line\n",
                                  "\u2014 " + W1_NAME + " " + base64.b64encode(bytes(70)).decode() + "\n"])
def test_add_cosignatures_refuses_what_is_not_a_cosignature(line: str) -> None:
    with pytest.raises(NoteInvalid):
        add_cosignatures(checkpoint(), [line])


@pytest.mark.parametrize("note", ["no signatures\n", "text\n\n\u2014 name AAAA\n", "text\x07\n\n\u2014 n AAAAAAA=\n",
                                  "text\n\n\u2014 name AAAAAAA=", "text\n\n\u2014 a b c\n"])
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(NoteInvalid):
        split_note(note)


def test_quorum_of_witnesses() -> None:
    note = cosigned(cosigned(checkpoint(), W1, W1_NAME), W2, W2_NAME)
    witnesses = [key(W1, W1_NAME), key(W2, W2_NAME), key(W3, W3_NAME)]
    assert open_witnessed_checkpoint(note, LOG_KEY, ORIGIN, witnesses, quorum=2, now=NOW) == HEAD
    with pytest.raises(NotEnoughCosignatures) as refused:
        open_witnessed_checkpoint(note, LOG_KEY, ORIGIN, witnesses, quorum=3, now=NOW)
    assert (refused.value.found, refused.value.quorum) == (2, 3)


def test_one_witness_listed_twice_counts_once() -> None:
    note = cosigned(checkpoint(), W1, W1_NAME)
    with pytest.raises(ValueError, match="quorum"):
        open_witnessed_checkpoint(note, LOG_KEY, ORIGIN, [key(W1, W1_NAME), key(W1, W1_NAME)], quorum=2, now=NOW)


def test_quorum_needs_the_logs_own_signature() -> None:
    text = HEAD.text()
    unsigned = f"{text}\n" + cosign(text, W1_NAME, W1, NOW)
    with pytest.raises(NoteInvalid, match="not signed"):
        open_witnessed_checkpoint(unsigned, LOG_KEY, ORIGIN, [key(W1, W1_NAME)], quorum=1, now=NOW)


def test_a_forged_cosignature_of_a_listed_witness_rejects_the_checkpoint() -> None:
    note = cosigned(checkpoint(), W1, W1_NAME)
    forged = cosign(HEAD.text(), W2_NAME, W1, NOW)  # W2's name, W1's key: W2's key ID never matches
    assert open_witnessed_checkpoint(note + forged, LOG_KEY, ORIGIN, [key(W1, W1_NAME)], quorum=1, now=NOW) == HEAD
    with pytest.raises(NotEnoughCosignatures):
        open_witnessed_checkpoint(note + forged, LOG_KEY, ORIGIN, [key(W1, W1_NAME), key(W2, W2_NAME)],
                                  quorum=2, now=NOW)
    bad = Cosignature.from_line(cosign(HEAD.text(), W2_NAME, W2, NOW))
    broken = Cosignature(bad.name, bad.key_id, bad.timestamp, bytes(64)).line()
    with pytest.raises(CosignatureInvalid, match="does not verify"):
        open_witnessed_checkpoint(note + broken, LOG_KEY, ORIGIN, [key(W1, W1_NAME), key(W2, W2_NAME)],
                                  quorum=1, now=NOW)
