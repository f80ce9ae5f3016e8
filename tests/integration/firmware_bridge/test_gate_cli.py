"""``kia bridge board-key`` and the gate options of ``run`` and ``simulate board``, as processes.

A key is created on the terminal and shown once; the bridge reads the key
file; the simulated board holds the same key in a file, as a flashed board
would.  A board with the wrong key gets nothing decided.  Protocol v1 runs
only when asked for, loudly.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from keys import qr_text
from tests.unit.firmware_bridge.doubles import CardVerifier

from ..conftest import RunKia
from .loopback import LoopbackVerifier
from .test_run import LISTENING, StartBridge, bridge, processes  # noqa: F401 (fixtures)


def add_board(run_kia: RunKia, keys: Path, board_id: str) -> bytes:
    added = run_kia("bridge", "board-key", "add", board_id, "--keys", keys)
    assert added.returncode == 0, added.stderr
    printed = json.loads(added.stdout)
    assert printed["board_id"] == board_id and "not shown again" in added.stderr
    return bytes.fromhex(printed["key"])


def simulate(run_kia: RunKia, port: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_kia("bridge", "simulate", "board", "--connect", f"tcp:127.0.0.1:{port}", "--answer-timeout", "10",
                   *args)


def test_a_board_key_is_created_in_a_private_file_shown_once_and_listed_without_it(run_kia: RunKia,
                                                                                  tmp_path: Path) -> None:
    keys = tmp_path / "gate-keys"

    key = add_board(run_kia, keys, "GATE-01")

    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    listed = run_kia("bridge", "board-key", "list", "--keys", keys)
    assert json.loads(listed.stdout) == {"boards": ["GATE-01"]} and key.hex() not in listed.stdout
    again = run_kia("bridge", "board-key", "add", "GATE-01", "--keys", keys)
    assert again.returncode == 1 and "--replace" in again.stderr and again.stdout == ""
    assert run_kia("bridge", "board-key", "remove", "GATE-01", "--keys", keys).returncode == 0
    assert json.loads(run_kia("bridge", "board-key", "list", "--keys", keys).stdout) == {"boards": []}


def test_a_gate_reader_without_board_keys_does_not_start(run_kia: RunKia, tmp_path: Path) -> None:
    started = run_kia("bridge", "run", "--verifier", "http://127.0.0.1:9", "--reader", "gate:tcp:127.0.0.1:0")

    assert started.returncode == 2
    assert "--gate-keys" in started.stderr and "board-key add" in started.stderr


def test_a_board_with_its_key_is_served_and_one_with_another_key_is_not(
    bridge: StartBridge, run_kia: RunKia, tmp_path: Path, verifier: CardVerifier, card_tokens: list[str]  # noqa: F811
) -> None:
    keys, flashed, wrong = tmp_path / "gate-keys", tmp_path / "gate-01.key", tmp_path / "wrong.key"
    flashed.write_text(add_board(run_kia, keys, "GATE-01").hex() + "\n")
    wrong.write_text("11" * 32)
    with LoopbackVerifier(verifier) as server:
        process = bridge("--verifier", server.url, "--reader", "gate:tcp:127.0.0.1:0", "--gate-keys", str(keys))
        port = int(process.wait_line(LISTENING)[1])

        served = simulate(run_kia, port, "--board-id", "GATE-01", "--key-file", flashed, qr_text(card_tokens[0]))
        impostor = simulate(run_kia, port, "--board-id", "GATE-01", "--key-file", wrong, qr_text(card_tokens[1]))

    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout) == {"accepted": True, "display": ["DITERIMA", "Bayar Rp20.000"],
                                         "pulse_ms": 1000}
    assert impostor.returncode == 1 and impostor.stdout == ""
    assert "did not verify" in impostor.stderr
    assert [call.payload for call in verifier.calls] == [qr_text(card_tokens[0])]
    log = "".join(process.stderr)
    assert flashed.read_text().strip() not in log  # the key never reaches the log


def test_protocol_v1_runs_only_when_asked_and_warns_at_start_and_on_every_connection(
    bridge: StartBridge, run_kia: RunKia, verifier: CardVerifier, card_tokens: list[str]  # noqa: F811
) -> None:
    with LoopbackVerifier(verifier) as server:
        process = bridge("--verifier", server.url, "--reader", "gate:tcp:127.0.0.1:0",
                         "--gate-protocol-v1-insecure")
        port = int(process.wait_line(LISTENING)[1])
        process.wait_line("GATE PROTOCOL V1, INSECURE")

        old_board = simulate(run_kia, port, "--protocol-v1-insecure", qr_text(card_tokens[0]))
        process.wait_line("gate protocol v1 \\(insecure\\): this connection is not authenticated")

    assert old_board.returncode == 0, old_board.stderr
    assert json.loads(old_board.stdout)["accepted"] is True
