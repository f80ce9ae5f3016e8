"""keys.tlog against an independent implementation: Go's golang.org/x/mod/sumdb/tlog and sumdb/note.

Debian's golang-go and golang-golang-x-mod-dev (which ``make test`` installs)
hold them, and they run offline in GOPATH mode.  Go computes the tree heads
and proofs of the same leaves, checks every proof Python made, and opens the
checkpoint Python signed with the verifier key Python wrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.tlog import NoteKey, TreeHead, consistency_proof, inclusion_proof, leaf_hash, sign_checkpoint, tree_root
from tests.oracle import ask, build

ORIGIN = "kia.disdukcapil.example/3372/log"


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("tlog_oracle.go", tmp_path_factory.mktemp("oracle"))


def test_go_computes_the_same_heads_and_proofs_and_accepts_every_python_proof(oracle: Path):
    data = [f"catatan {n}".encode() for n in range(37)]
    hashes = [leaf_hash(item) for item in data]
    inclusion = [{"index": index, "size": size, "proof": [h.hex() for h in inclusion_proof(hashes[:size], index)]}
                 for size in (1, 2, 3, 7, 8, 9, 16, 37) for index in range(size)]
    consistency = [{"old": old, "size": size, "proof": [h.hex() for h in consistency_proof(hashes[:size], old)]}
                   for size in (2, 5, 8, 16, 37) for old in range(1, size)]
    answer = ask(oracle, {"leaves": [item.hex() for item in data], "inclusion": inclusion,
                          "consistency": consistency, "note": "", "vkey": ""})

    assert answer["roots"] == [tree_root(hashes[:size]).hex() for size in range(1, len(data) + 1)]
    assert answer["inclusion_errors"] == [""] * len(inclusion)
    assert answer["inclusion_proofs"] == [item["proof"] for item in inclusion]
    assert answer["consistency_errors"] == [""] * len(consistency)
    assert answer["consistency_proofs"] == [item["proof"] for item in consistency]


def test_go_refuses_a_python_proof_that_was_tampered_with(oracle: Path):
    data = [bytes([n]) for n in range(9)]
    hashes = [leaf_hash(item) for item in data]
    bad_inclusion = [h.hex() for h in inclusion_proof(hashes, 4)]
    bad_inclusion[1] = "00" * 32
    bad_consistency = [h.hex() for h in consistency_proof(hashes, 5)]
    bad_consistency[-1] = "11" * 32
    answer = ask(oracle, {"leaves": [item.hex() for item in data],
                          "inclusion": [{"index": 4, "size": 9, "proof": bad_inclusion}],
                          "consistency": [{"old": 5, "size": 9, "proof": bad_consistency}], "note": "", "vkey": ""})
    assert answer["inclusion_errors"][0] and answer["consistency_errors"][0]


def test_go_opens_the_checkpoint_python_signed_with_the_key_python_named(oracle: Path):
    key = Ed25519PrivateKey.generate()
    head = TreeHead(ORIGIN, 37, tree_root([leaf_hash(bytes([n])) for n in range(37)]))
    note = sign_checkpoint(head, ORIGIN, key)
    vkey = NoteKey(ORIGIN, key.public_key()).verifier_key()
    assert ask(oracle, {"leaves": [], "inclusion": [], "consistency": [], "note": note, "vkey": vkey}) == {
        "roots": None, "inclusion_proofs": None, "inclusion_errors": None, "consistency_proofs": None,
        "consistency_errors": None, "note_text": head.text(), "note_error": ""}
    tampered = note.replace("\n37\n", "\n38\n")
    answer = ask(oracle, {"leaves": [], "inclusion": [], "consistency": [], "note": tampered, "vkey": vkey})
    assert answer["note_text"] == "" and answer["note_error"]
