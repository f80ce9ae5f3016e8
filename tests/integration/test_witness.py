"""The witness over real HTTP on loopback: C2SP tlog-witness status codes, racing publishers, restarts.

Trees are made with keys.tlog over leaves from a seeded random generator;
the office's side is ``kia.witness.request_cosignature``.  Each witness runs
under waitress in a thread with the test's own clock; the last test runs the
``kia audit witness`` commands as an operator would.
"""

from __future__ import annotations

import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from waitress import create_server

from keys.cosignature import CosignerKey, add_cosignatures, open_witnessed_checkpoint, verify_cosignature
from keys.errors import PassphraseWrong
from keys.tlog import NoteKey, TreeHead, consistency_proof, leaf_hash, sign_checkpoint, sign_note, tree_root
from kia.processes import Server, kia_command
from kia.witness import (
    AddCheckpoint,
    ConsistencyRejected,
    LogSignatureRejected,
    RequestMalformed,
    UnknownLog,
    Witness,
    WitnessConflict,
    WitnessHome,
    WitnessRefused,
    WitnessSetupError,
    WitnessUnavailable,
    create_app,
    request_cosignature,
)
from tests.factories import NOW
from tests.integration.conftest import RunKia

ORIGIN = "kia.surakarta.example/log"
WITNESS_NAME = "inspektorat.surakarta.example/w1"
PASSPHRASE = "witness-passphrase-for-tests-only"
LOG = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


class Log:
    """The office's log as a witness sees it: leaves, signed checkpoints and consistency proofs."""

    def __init__(self, seed: int, private: Ed25519PrivateKey = LOG, origin: str = ORIGIN) -> None:
        rng = random.Random(seed)
        self.leaves = [leaf_hash(rng.randbytes(16)) for _ in range(64)]
        self.private, self.origin = private, origin

    @property
    def key(self) -> NoteKey:
        return NoteKey(self.origin, self.private.public_key())

    def head(self, size: int) -> TreeHead:
        return TreeHead(self.origin, size, tree_root(self.leaves[:size]))

    def checkpoint(self, size: int) -> str:
        return sign_checkpoint(self.head(size), self.origin, self.private)

    def proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(self.leaves[:new], old)

    def fork(self, at: int, seed: int) -> Log:
        """A log signed by the same key whose leaves differ from ``at`` on: a split view."""
        other = Log(seed, self.private, self.origin)
        other.leaves[:at] = self.leaves[:at]
        return other


class Running:
    """A witness under waitress on a loopback port, in a thread, with the test's clock."""

    def __init__(self, witness: Witness, now: int = NOW) -> None:
        self.witness = witness
        self.server = create_server(create_app(witness, now=lambda: now), host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def post(self, body: bytes) -> tuple[int, str, str]:
        request = urllib.request.Request(self.url + "/add-checkpoint", body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers.get_content_type(), response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers.get_content_type(), error.read().decode()

    def close(self) -> None:
        # Closed from waitress's own loop, which the trigger wakes at once.
        self.server.trigger.pull_trigger(self.server.close)
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def log() -> Log:
    return Log(seed=11)


@pytest.fixture
def home(tmp_path: Path, log: Log) -> WitnessHome:
    created = WitnessHome.init(tmp_path / "witness", WITNESS_NAME, PASSPHRASE.encode(), NOW)
    created.state().add_log(ORIGIN, log.key, NOW)
    return created


@pytest.fixture
def running(home: WitnessHome) -> Iterator[Running]:
    server = Running(home.witness(PASSPHRASE.encode()))
    yield server
    server.close()


def cosign_at(running: Running, log: Log, old: int, new: int) -> str:
    """The checkpoint of ``new`` with the witness's cosignature, checked."""
    note = log.checkpoint(new)
    lines = request_cosignature(running.url, old, log.proof(old, new), note)
    assert len(lines) == 1
    combined = add_cosignatures(note, lines)
    assert verify_cosignature(combined, running.witness.key, NOW) == NOW
    return combined


# --- what the witness cosigns ---------------------------------------------------------------------


def test_first_checkpoint_is_cosigned(running: Running, home: WitnessHome, log: Log) -> None:
    note = cosign_at(running, log, 0, 5)
    assert open_witnessed_checkpoint(note, log.key, ORIGIN, [home.key], quorum=1, now=NOW) == log.head(5)
    assert home.state().log(ORIGIN).size == 5


def test_consistent_growth_is_cosigned(running: Running, home: WitnessHome, log: Log) -> None:
    sizes = [0, 1, 2, 4, 7, 8, 13, 32, 33, 64]
    for old, new in zip(sizes, sizes[1:], strict=False):
        cosign_at(running, log, old, new)
    state = home.state().log(ORIGIN)
    assert (state.size, state.root, state.cosigned_at) == (64, log.head(64).root, NOW)


def test_the_same_checkpoint_again_is_cosigned_again(running: Running, log: Log) -> None:
    cosign_at(running, log, 0, 13)
    cosign_at(running, log, 13, 13)


def test_an_empty_log_is_cosigned(running: Running, log: Log) -> None:
    cosign_at(running, log, 0, 0)


# --- what it refuses, with C2SP's status codes ----------------------------------------------------


def test_inconsistent_tree_is_refused_422_and_kept_as_evidence(running: Running, home: WitnessHome, log: Log) -> None:
    cosign_at(running, log, 0, 8)
    fork = log.fork(at=6, seed=12)  # rewrites leaves 6 and 7 the witness already cosigned
    with pytest.raises(ConsistencyRejected) as refused:
        request_cosignature(running.url, 8, fork.proof(8, 20), fork.checkpoint(20))
    assert refused.value.status == 422
    assert home.state().log(ORIGIN).size == 8
    [evidence] = home.state().evidence()
    assert evidence["reason"].startswith("inconsistent") and fork.checkpoint(20) in evidence["request"]
    cosign_at(running, log, 8, 20)  # the honest log goes on


def test_a_proof_made_for_another_tree_is_refused_422(running: Running, log: Log) -> None:
    cosign_at(running, log, 0, 8)
    with pytest.raises(ConsistencyRejected):
        request_cosignature(running.url, 8, log.proof(7, 20), log.checkpoint(20))
    with pytest.raises(ConsistencyRejected):
        request_cosignature(running.url, 8, [], log.checkpoint(20))


def test_same_size_with_another_root_is_a_fork_409(running: Running, home: WitnessHome, log: Log) -> None:
    cosign_at(running, log, 0, 8)
    fork = log.fork(at=3, seed=13)
    status, content_type, body = running.post(AddCheckpoint(8, (), fork.checkpoint(8)).encode())
    assert (status, content_type, body) == (409, "text/x.tlog.size", "8\n")
    assert home.state().evidence()[0]["reason"] == "same size, another root"


def test_stale_old_size_is_409_with_the_witness_size(running: Running, log: Log) -> None:
    cosign_at(running, log, 0, 13)
    status, content_type, body = running.post(AddCheckpoint(8, tuple(log.proof(8, 20)), log.checkpoint(20)).encode())
    assert (status, content_type, body) == (409, "text/x.tlog.size", "13\n")
    # A publisher that knows nothing asks from 0, learns the size, and proves from there.
    with pytest.raises(WitnessConflict) as conflict:
        request_cosignature(running.url, 0, [], log.checkpoint(20))
    assert conflict.value.size == 13
    cosign_at(running, log, conflict.value.size, 20)


def test_unknown_origin_is_404(running: Running) -> None:
    other = Log(seed=11, origin="kia.balangan.example/log")
    with pytest.raises(UnknownLog) as refused:
        request_cosignature(running.url, 0, [], other.checkpoint(5))
    assert refused.value.status == 404


def test_checkpoint_signed_by_another_key_is_403(running: Running, log: Log) -> None:
    impostor = Log(seed=11, private=Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
    with pytest.raises(LogSignatureRejected) as refused:
        request_cosignature(running.url, 0, [], impostor.checkpoint(5))
    assert refused.value.status == 403
    note = log.checkpoint(5)
    tampered = note.replace("\n5\n", "\n6\n", 1)
    assert running.post(AddCheckpoint(0, (), tampered).encode())[0] == 403


def test_a_second_key_of_the_log_is_trusted_once_added(running: Running, home: WitnessHome, log: Log) -> None:
    rotated = Log(seed=11, private=Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34))))
    with pytest.raises(LogSignatureRejected):
        request_cosignature(running.url, 0, [], rotated.checkpoint(5))
    home.state().add_log(ORIGIN, rotated.key, NOW)
    cosign_at(running, rotated, 0, 5)


MALFORMED = {
    "empty": b"",
    "no blank line": b"old 0\n",
    "leading zero": b"old 00\n\n",
    "negative": b"old -1\n\n",
    "no old line": b"\n\n",
    "proof not base64": b"old 3\n!!!!\n\n",
    "proof not 32 bytes": b"old 3\nAAAA\n\n",
    "64 proof lines": b"old 3\n" + b"A" * 43 + b"=\n" * 64 + b"\n",
    "not UTF-8": b"old 0\n\n\xff\xfe\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_requests_are_400(running: Running, log: Log, name: str) -> None:
    body = MALFORMED[name]
    if body.endswith(b"\n\n"):
        body += log.checkpoint(5).encode()
    status, content_type, text = running.post(body)
    assert (status, content_type) == (400, "text/plain"), text
    assert text.count("\n") == 1


def test_malformed_checkpoints_are_400(running: Running, log: Log) -> None:
    root_line = log.head(5).text().splitlines()[2]
    cases = [
        AddCheckpoint(0, (), log.head(5).text()),  # no signature at all
        AddCheckpoint(0, (), "garbage"),
        AddCheckpoint(6, tuple(log.proof(5, 6)), log.checkpoint(5)),  # old size above the checkpoint's
        AddCheckpoint(0, tuple(log.proof(2, 5)), log.checkpoint(5)),  # a proof from size 0
        AddCheckpoint(0, (), sign_note(f"{ORIGIN}\n005\n{root_line}\n", ORIGIN, LOG)),  # signed, size malformed
        AddCheckpoint(0, (), sign_note(f"{ORIGIN}\n5\n", ORIGIN, LOG)),  # signed, no root
        AddCheckpoint(0, (), sign_note(f"{ORIGIN}\n{2**64}\n{root_line}\n", ORIGIN, LOG)),  # beyond 2^63 - 1
    ]
    for case in cases:
        status, _, text = running.post(case.encode())
        assert status == 400, (case, text)
    with pytest.raises(RequestMalformed) as refused:
        request_cosignature(running.url, 6, log.proof(5, 6), log.checkpoint(5))
    assert refused.value.status == 400 and "larger" in str(refused.value)


def test_a_body_larger_than_any_request_is_refused(running: Running) -> None:
    status, _, _ = running.post(b"old 0\n\n" + b"x" * 200_000)
    assert status == 413


def test_unreachable_witness(log: Log) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(WitnessUnavailable):
        request_cosignature(f"http://127.0.0.1:{port}", 0, [], log.checkpoint(5), timeout=5)


# --- two publishers at once, and restarts -------------------------------------------------------------


def test_two_publishers_racing_from_the_same_size(running: Running, home: WitnessHome, log: Log) -> None:
    """Two offices' publishers (or one sending twice) from one old size: one is cosigned, one learns the size."""
    cosign_at(running, log, 0, 4)
    old = 4
    for round_ in range(12):
        new_sizes = (old + 1 + round_ % 3, old + 2) if round_ % 2 else (old + 2, old + 2)
        barrier = threading.Barrier(2)
        outcomes: list[object] = [None, None]

        def publish(index: int, new: int, old: int = old, outcomes: list[object] = outcomes,
                    barrier: threading.Barrier = barrier) -> None:
            note = log.checkpoint(new)
            proof = log.proof(old, new)
            barrier.wait(timeout=10)
            try:
                outcomes[index] = (new, request_cosignature(running.url, old, proof, note))
            except WitnessRefused as refused:
                outcomes[index] = refused

        threads = [threading.Thread(target=publish, args=(index, new)) for index, new in enumerate(new_sizes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        won = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
        lost = [outcome for outcome in outcomes if isinstance(outcome, WitnessConflict)]
        assert (len(won), len(lost)) == (1, 1), outcomes
        winner_size = won[0][0]
        assert lost[0].size == winner_size
        assert home.state().log(ORIGIN).size == winner_size
        old = winner_size


def test_compare_and_swap_refuses_a_state_that_moved(home: WitnessHome, log: Log) -> None:
    """The store itself: a request checked against size 0 cannot commit after another moved it to 5."""
    state = home.state()
    seen = state.log(ORIGIN)
    state.advance(seen, log.head(5), log.checkpoint(5), NOW)
    with pytest.raises(WitnessConflict) as conflict:
        state.advance(seen, log.head(3), log.checkpoint(3), NOW)
    assert conflict.value.size == 5
    assert state.log(ORIGIN).size == 5


def test_state_survives_a_restart(tmp_path: Path, home: WitnessHome, log: Log) -> None:
    first = Running(home.witness(PASSPHRASE.encode()))
    try:
        cosign_at(first, log, 0, 8)
    finally:
        first.close()
    second = Running(WitnessHome.open(home.path).witness(PASSPHRASE.encode()), now=NOW + 60)
    try:
        with pytest.raises(WitnessConflict) as conflict:
            request_cosignature(second.url, 0, [], log.checkpoint(9))
        assert conflict.value.size == 8
        lines = request_cosignature(second.url, 8, log.proof(8, 9), log.checkpoint(9))
        assert verify_cosignature(add_cosignatures(log.checkpoint(9), lines), home.key, NOW + 60) == NOW + 60
    finally:
        second.close()


def test_wrong_passphrase_and_missing_home(tmp_path: Path, home: WitnessHome) -> None:
    with pytest.raises(PassphraseWrong):
        home.witness(b"not-the-witness-passphrase")
    with pytest.raises(WitnessSetupError):
        WitnessHome.open(tmp_path / "nowhere")
    with pytest.raises(WitnessSetupError):
        WitnessHome.init(home.path, WITNESS_NAME, PASSPHRASE.encode(), NOW)


# --- the commands, as the inspectorate runs them ------------------------------------------------------


def test_kia_audit_witness_commands(tmp_path: Path, run_kia: RunKia, kia_env: dict[str, str], log: Log) -> None:
    env = kia_env | {"KIA_WITNESS_PASSPHRASE": PASSPHRASE}
    witness_home = tmp_path / "w"
    missing = run_kia("audit", "witness", "init", "--home", witness_home, "--name", WITNESS_NAME)
    assert missing.returncode == 2 and "KIA_WITNESS_PASSPHRASE" in missing.stderr
    created = run_kia("audit", "witness", "init", "--home", witness_home, "--name", WITNESS_NAME, env=env)
    assert created.returncode == 0, created.stderr
    printed = run_kia("audit", "witness", "key", "--home", witness_home)
    key = CosignerKey.parse(printed.stdout)
    assert key.name == WITNESS_NAME
    bad_key = run_kia("audit", "witness", "add-log", "--home", witness_home, "--origin", ORIGIN, "--key", "nonsense")
    assert bad_key.returncode == 2 and bad_key.stderr.count("\n") == 1
    added = run_kia("audit", "witness", "add-log", "--home", witness_home, "--origin", ORIGIN,
                    "--key", log.key.verifier_key())
    assert added.returncode == 0, added.stderr

    server = Server("witness", [kia_command(), "audit", "witness", "serve", "--home", str(witness_home),
                                "--port", "0"], env, tmp_path / "witness.log")
    url = server.start()
    try:
        lines = request_cosignature(url, 0, [], log.checkpoint(7))
        # The server's clock is the machine's (moved ahead with the tests, if they are).
        assert verify_cosignature(add_cosignatures(log.checkpoint(7), lines), key, int(time.time()))
    finally:
        assert server.stop() == 0
    listed = run_kia("audit", "witness", "logs", "--home", witness_home)
    assert '"size": 7' in listed.stdout
