"""keys.tlog against the RFC 6962 reference vectors, a recursive reference, and broken inputs.

The vectors are Certificate Transparency's (the leaves and tree heads of its
reference implementation's merkle_tree_test, also used by Trillian): eight
leaves, the head of each prefix, and known inclusion and consistency proofs.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.tlog import (
    EMPTY_ROOT,
    NoteInvalid,
    NoteKey,
    ProofInvalid,
    TreeHead,
    add_signature,
    appended_hashes,
    consistency_proof,
    frontier,
    inclusion_proof,
    leaf_hash,
    node_hash,
    open_checkpoint,
    open_note,
    prove_consistency,
    prove_inclusion,
    sign_checkpoint,
    sign_note,
    stored_range_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(value) for value in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
HASHES = [leaf_hash(leaf) for leaf in LEAVES]
ROOTS = [bytes.fromhex(value) for value in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
INCLUSION = [  # (leaf index, tree size, proof)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def reference_root(hashes: list[bytes]) -> bytes:
    """RFC 6962's MTH, recursively, exactly as section 2.1 writes it."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(reference_root(hashes[:k]), reference_root(hashes[k:]))


def test_the_tree_heads_of_the_reference_vectors():
    assert tree_root([]) == EMPTY_ROOT == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert [tree_root(HASHES[:n]) for n in range(1, 9)] == ROOTS


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_of_the_reference_vectors(index: int, size: int, proof: list[str]):
    expected = [bytes.fromhex(value) for value in proof]
    assert inclusion_proof(HASHES[:size], index) == expected
    verify_inclusion(index, size, HASHES[index], expected, ROOTS[size - 1])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_a_wrong_inclusion_claim_is_refused(index: int, size: int, proof: list[str]):
    good = [bytes.fromhex(value) for value in proof]
    root, leaf = ROOTS[size - 1], HASHES[index]
    wrong = [
        (index - 1, size, leaf, good, root), (index + 1, size, leaf, good, root), (index ^ 2, size, leaf, good, root),
        (index, size * 2, leaf, good, root), (index, size // 2, leaf, good, root),
        (index, size, leaf_hash(b"WrongLeaf"), good, root), (index, size, leaf, good, EMPTY_ROOT),
        (index, size, leaf, [*good, root], root), (index, size, leaf, [root, *good], root),
        (index, size, leaf, good[:-1], root),
        *[(index, size, leaf, [*good[:i], EMPTY_ROOT, *good[i + 1:]], root) for i in range(len(good))],
        (index, size, leaf, [*good, b""], root),
    ]
    for case in wrong:
        with pytest.raises(ProofInvalid):
            verify_inclusion(*case)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_of_the_reference_vectors(old: int, new: int, proof: list[str]):
    expected = [bytes.fromhex(value) for value in proof]
    assert consistency_proof(HASHES[:new], old) == expected
    verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], expected)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_a_wrong_consistency_claim_is_refused(old: int, new: int, proof: list[str]):
    good = [bytes.fromhex(value) for value in proof]
    first, second = ROOTS[old - 1], ROOTS[new - 1]
    wrong = [
        (old - 1, new, first, second, good), (old + 1, new, first, second, good),
        (old ^ 2, new, first, second, good), (old, new * 2, first, second, good),
        (old, new // 2, first, second, good), (old, new, EMPTY_ROOT, second, good),
        (old, new, first, EMPTY_ROOT, good), (old, new, second, first, good), (old, new, first, second, []),
        (old, new, first, second, [*good, first]), (old, new, first, second, good[:-1]),
        (old, new, first, second, [good[0], *good]),
        *[(old, new, first, second, [*good[:i], EMPTY_ROOT, *good[i + 1:]]) for i in range(len(good))],
    ]
    for case in wrong:
        with pytest.raises(ProofInvalid):
            verify_consistency(*case)


def test_the_edges_of_consistency():
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[4], [])
    verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
    for old, new, first, second, proof in [
        (1, 0, ROOTS[0], EMPTY_ROOT, []),  # a tree does not shrink
        (3, 3, ROOTS[2], ROOTS[3], []),  # same size, other head
        (3, 3, ROOTS[2], ROOTS[2], [ROOTS[0]]),  # same size, a proof
        (0, 3, EMPTY_ROOT, ROOTS[2], [ROOTS[0]]),
        (1, 2, ROOTS[0], ROOTS[1], []),  # an empty proof between two sizes
    ]:
        with pytest.raises(ProofInvalid):
            verify_consistency(old, new, first, second, proof)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_proof_of_a_random_tree_verifies(size: int, data: st.DataObject):
    hashes = [leaf_hash(n.to_bytes(4, "big")) for n in range(size)]
    root = tree_root(hashes)
    assert root == reference_root(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    verify_inclusion(index, size, hashes[index], inclusion_proof(hashes, index), root)
    old = data.draw(st.integers(min_value=0, max_value=size))
    verify_consistency(old, size, tree_root(hashes[:old]), root, consistency_proof(hashes, old))


# --- signed notes and checkpoints ---------------------------------------------------

ORIGIN = "kia.disdukcapil.example/3372/log"
OFFICE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
WITNESS = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
HEAD = TreeHead(ORIGIN, 8, ROOTS[7])


def test_a_checkpoint_is_the_c2sp_text_signed_as_a_note():
    note = sign_checkpoint(HEAD, ORIGIN, OFFICE)
    text, signature_line = note.split("\n\n")
    assert text == f"{ORIGIN}\n8\n{base64.b64encode(ROOTS[7]).decode()}"
    key = NoteKey(ORIGIN, OFFICE.public_key())
    dash, name, signature = signature_line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", ORIGIN) and base64.b64decode(signature)[:4] == key.key_id
    assert open_checkpoint(note, key, ORIGIN) == HEAD


def test_a_verifier_key_reads_back_and_its_id_is_sha256_of_name_type_and_key():
    key = NoteKey(ORIGIN, OFFICE.public_key())
    raw = OFFICE.public_key().public_bytes_raw()
    assert key.key_id == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    parsed = NoteKey.parse(key.verifier_key())
    assert (parsed.name, parsed.key_id) == (key.name, key.key_id)
    name, key_id, encoded = key.verifier_key().split("+", 2)
    for broken in (f"{name}+00000000+{encoded}", f"{name}+{key_id}", f"other+{key_id}+{encoded}",
                   f"{name}+{key_id}+" + base64.b64encode(b"\x02" + raw).decode()):
        with pytest.raises(NoteInvalid):
            NoteKey.parse(broken)


def test_a_witness_cosignature_is_added_and_unknown_signatures_are_ignored():
    note = add_signature(sign_checkpoint(HEAD, ORIGIN, OFFICE), "inspektorat.example/witness", WITNESS)
    assert open_checkpoint(note, NoteKey(ORIGIN, OFFICE.public_key()), ORIGIN) == HEAD
    assert open_note(note, NoteKey("inspektorat.example/witness", WITNESS.public_key())) == HEAD.text()
    with pytest.raises(NoteInvalid, match="not signed by"):
        open_note(note, NoteKey("someone.example", Ed25519PrivateKey.generate().public_key()))


def test_a_checkpoint_that_is_tampered_with_or_of_another_log_is_refused():
    key = NoteKey(ORIGIN, OFFICE.public_key())
    note = sign_checkpoint(HEAD, ORIGIN, OFFICE)
    other_log = sign_checkpoint(TreeHead("another.example/log", 8, ROOTS[7]), ORIGIN, OFFICE)
    leading_zero = sign_note(f"{ORIGIN}\n08\n{base64.b64encode(ROOTS[7]).decode()}\n", ORIGIN, OFFICE)
    short_root = sign_note(f"{ORIGIN}\n8\n{base64.b64encode(ROOTS[7][:31]).decode()}\n", ORIGIN, OFFICE)
    for broken, message in [
        (note.replace("\n8\n", "\n9\n"), "does not verify"),
        (other_log, "another log"),
        (leading_zero, "leading zeroes"),
        (short_root, "32 bytes"),
        (note.replace("\n\n", "\n"), "blank line"),
        (note.replace("\u2014 ", "- "), "signature line"),
        (note[:-1], "ending in a newline"),
        (note.replace(ORIGIN, ORIGIN + "\x07", 1), "control characters"),
        (note.rstrip("\n") + "!!\n", "base64"),
    ]:
        with pytest.raises(NoteInvalid, match=message):
            open_checkpoint(broken, key, ORIGIN)


# --- proofs from a log's stored hashes --------------------------------------------------------


def stored_tree(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """What a log stores after appending ``leaves`` in uneven steps."""
    store: dict[tuple[int, int], bytes] = {}
    size = 0
    for step in (1, 2, 5, 1, 9, 64, 300):
        batch = leaves[size:size + step]
        for level, index, value in appended_hashes(size, batch, lambda level, index: store[level, index]):
            assert (level, index) not in store  # stored once, never rewritten
            store[level, index] = value
        size += len(batch)
    return store


@given(st.integers(min_value=1, max_value=382))
def test_stored_hashes_give_the_heads_and_proofs_of_every_size(size: int):
    leaves = [leaf_hash(str(n).encode()) for n in range(size)]
    store = stored_tree(leaves)
    hash_range = stored_range_hash(lambda level, index: store[level, index])
    assert hash_range(0, size) == tree_root(leaves)
    index, old = size // 3, (size * 2) // 3
    assert prove_inclusion(hash_range, index, size) == inclusion_proof(leaves, index)
    assert prove_consistency(hash_range, old, size) == consistency_proof(leaves, old)


def test_an_append_reads_only_the_frontier():
    leaves = [leaf_hash(bytes([n])) for n in range(13)]
    store = stored_tree(leaves)
    assert frontier(13) == [(3, 0), (2, 2), (0, 12)]  # 8 + 4 + 1 leaves
    asked = []

    def reading(level: int, index: int) -> bytes:
        asked.append((level, index))
        return store[level, index]

    appended_hashes(13, [leaf_hash(b"x")] * 3, reading)
    assert set(asked) <= set(frontier(13))


# --- the signed-note example (C2SP signed-note, and Go's sumdb/note documentation) --------------

EXAMPLE_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
EXAMPLE_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
EXAMPLE_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
EXAMPLE_NOTE = (EXAMPLE_TEXT + "\n\u2014 PeterNeumann "
                "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def test_the_published_example_note_is_reproduced_byte_for_byte():
    seed = base64.b64decode(EXAMPLE_SKEY.split("+", 4)[4])
    assert seed[:1] == b"\x01"
    private = Ed25519PrivateKey.from_private_bytes(seed[1:])
    key = NoteKey.parse(EXAMPLE_VKEY)
    assert (key.key_id.hex(), key.verifier_key()) == ("c74f20a3", EXAMPLE_VKEY)
    assert NoteKey("PeterNeumann", private.public_key()).verifier_key() == EXAMPLE_VKEY
    assert sign_note(EXAMPLE_TEXT, "PeterNeumann", private) == EXAMPLE_NOTE  # Ed25519 is deterministic
    assert open_note(EXAMPLE_NOTE, key) == EXAMPLE_TEXT
    with pytest.raises(NoteInvalid):
        open_note(EXAMPLE_NOTE.replace("cryptography", "cryptographY"), key)
