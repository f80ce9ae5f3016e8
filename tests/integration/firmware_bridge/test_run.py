"""``kia bridge run`` as operators run it: a real process, real devices on loopback, signals to stop it.

The terminal's verifier is the loopback stand-in (tests/.../loopback.py),
found through HOME/serve.json as the real one will be.  The test reads the
bridge's log lines as they come (a thread per pipe, a queue), never sleeps.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from firmware_bridge.gate.board import BoardSimulator, TcpLink
from firmware_bridge.gate.protocol import Decision
from firmware_bridge.nfc_reader import read_once
from firmware_bridge.tagsim import NtagSimulator
from issuer.artifacts import ndef_message, write_card_files
from keys import qr_text
from tests.unit.firmware_bridge.doubles import CardVerifier

from ..conftest import RunKia
from .conftest import TIMEOUT
from .loopback import LoopbackVerifier
from .ptys import MasterLink, PluggedPort

LISTENING = r"listening for gate boards on 127\.0\.0\.1:(\d+)"
BOARD_KEYS = {"GATE-A": bytes(range(32)), "GATE-B": bytes(range(32, 64)), "SIM-01": bytes(range(64, 96))}


@pytest.fixture()
def gate_keys(tmp_path: Path) -> Path:
    """The bridge's board key file, as 'kia bridge board-key add' writes it."""
    from firmware_bridge.gate.keyfile import write_board_keys

    path = tmp_path / "gate-keys"
    write_board_keys(path, BOARD_KEYS)
    return path
DENIED = Decision(False, "VERIFIKASI GAGAL", "HUBUNGI PETUGAS", 0)


class Process:
    """A ``kia`` process whose log lines (stderr) and printed lines (stdout) the test can wait for."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        self._ended = 0
        self._changed = threading.Condition()
        for pipe, into in ((self.popen.stderr, self.stderr), (self.popen.stdout, self.stdout)):
            threading.Thread(target=self._collect, args=(pipe, into), daemon=True).start()

    def _collect(self, pipe: IO[str], into: list[str]) -> None:
        for line in pipe:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended += 1
            self._changed.notify_all()

    def wait_line(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """The first log line, since the process started, that matches ``pattern``."""
        compiled = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return next((match for line in self.stderr if (match := compiled.search(line))), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None or self._ended == 2, timeout)
            match = found()
        assert match is not None, f"no log line matches {pattern!r}:\n{''.join(self.stderr)}"
        return match

    def next_printed(self, timeout: float = TIMEOUT) -> str:
        """The first line the process printed on stdout."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self.stdout) or self._ended == 2, timeout)
        assert self.stdout, f"the process printed nothing:\n{''.join(self.stderr)}"
        return self.stdout[0]

    def type(self, text: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(text)
        self.popen.stdin.flush()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signum)
        return self.popen.wait(timeout=30)

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


@pytest.fixture()
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


StartBridge = Callable[..., Process]


@pytest.fixture()
def bridge(processes: list[Process], kia_command: str, kia_env: dict[str, str]) -> StartBridge:
    def start(*args: str) -> Process:
        processes.append(Process([kia_command, "bridge", "run", *args], kia_env))
        return processes[-1]

    return start


def test_every_kind_of_reader_at_once_reaches_the_verifier_and_the_bridge_stops_on_sigterm(
    bridge: StartBridge, tmp_path: Path, verifier: CardVerifier, card_tokens: list[str], gate_keys: Path
) -> None:
    home, frames = tmp_path / "home", tmp_path / "frames"
    home.mkdir()
    frames.mkdir()
    scanner, gate_line = PluggedPort(tmp_path, "ttyScanner"), PluggedPort(tmp_path, "ttyGate")
    tag = NtagSimulator("NTAG215", ndef_message(card_tokens[2])).start()
    tag.remove()
    with LoopbackVerifier(verifier, home) as server:
        process = bridge(
            "--home", str(home), "--gate-keys", str(gate_keys),
            "--reader", "gate:tcp:127.0.0.1:0,pulse=900",
            "--reader", "wedge:stdin",
            "--reader", f"nfc:{tag.path},targets=106A",
            "--reader", f"serial:{scanner.path}:9600",
            "--reader", f"gate:serial:{gate_line.path}",
            "--reader", f"camera:{frames},poll=0.05",
        )
        port = int(process.wait_line(LISTENING)[1])

        board = BoardSimulator(TcpLink("127.0.0.1", port), "GATE-A", answer_timeout=TIMEOUT,
                               key=BOARD_KEYS["GATE-A"])
        board.hello()
        assert board.scan(qr_text(card_tokens[0])) == Decision(True, "DITERIMA", "Bayar Rp20.000", 900)
        process.type(f"]Q1{card_tokens[1]}\r\n")
        assert server.wait_for_scans(2)
        tag.present()
        assert server.wait_for_scans(3)
        process.wait_line(f"{re.escape(str(scanner.path))} open at 9600 baud")
        scanner.write(qr_text(card_tokens[2]).encode() + b"\r\n")
        assert server.wait_for_scans(4)
        process.wait_line(f"{re.escape(str(gate_line.path))} open at 115200 baud")
        serial_board = BoardSimulator(MasterLink(gate_line), "GATE-B", answer_timeout=TIMEOUT,
                                      key=BOARD_KEYS["GATE-B"])
        serial_board.hello()
        assert serial_board.scan(card_tokens[0]).accepted
        shutil.copy(write_card_files("printed", card_tokens[1], tmp_path).qr_png, frames / "frame.png")
        assert server.wait_for_scans(6)

        assert process.stop(signal.SIGTERM) == 0
    tag.stop()
    scanner.close()
    gate_line.close()
    assert sorted(server.sources) == ["camera", "gate", "gate", "nfc", "serial", "wedge"]
    log = "".join(process.stderr)
    assert "bridge stopped" in log
    for token in card_tokens:  # the log names cards by their first characters only
        assert token[-20:] not in log and qr_text(token)[-20:] not in log


def test_gates_are_denied_while_the_verifier_is_down_and_served_again_when_it_is_back(
    bridge: StartBridge, tmp_path: Path, verifier: CardVerifier, card_tokens: list[str], gate_keys: Path
) -> None:
    process = bridge("--home", str(tmp_path), "--reader", "gate:tcp:127.0.0.1:0", "--gate-keys", str(gate_keys))
    process.wait_line("no verifier is serving")
    board = BoardSimulator(TcpLink("127.0.0.1", int(process.wait_line(LISTENING)[1])), "GATE-A",
                           answer_timeout=TIMEOUT, key=BOARD_KEYS["GATE-A"])
    board.hello()

    assert board.scan(card_tokens[0]) == DENIED  # not started yet
    with LoopbackVerifier(verifier, tmp_path):
        assert board.scan(card_tokens[0]).accepted
    assert board.scan(card_tokens[1]) == DENIED  # stopped
    with LoopbackVerifier(verifier, tmp_path):  # started again, on another port
        assert board.scan(card_tokens[1]).accepted

    assert board.relay.pulses == [1000, 1000]
    assert process.stop(signal.SIGINT) == 0
    board.close()


def test_a_file_of_scans_on_stdin_is_read_to_its_end_and_the_bridge_exits(
    run_kia: RunKia, verifier: CardVerifier, card_tokens: list[str]
) -> None:
    with LoopbackVerifier(verifier) as server:
        result = run_kia("bridge", "run", "--verifier", server.url, "--reader", "wedge:stdin",
                         input="\r\n".join(card_tokens) + "\r\n")

    assert result.returncode == 0, result.stderr
    assert verifier.payloads == card_tokens
    assert "input ended" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--home", "H", "--reader", "scanner:/dev/ttyACM0"], "a reader is one of"),
        (["--home", "H", "--reader", "serial:/dev/ttyACM0,speed=9600"], "unknown option 'speed'"),
        (["--home", "H", "--reader", "gate:udp:0.0.0.0:7070"], "a gate is gate:tcp"),
        (["--reader", "wedge:stdin"], "--home DIR or --verifier URL"),
        (["--verifier", "https://terminal:8470", "--reader", "wedge:stdin"], "http://HOST:PORT"),
    ],
)
def test_a_bad_command_line_is_one_line_and_exit_2(run_kia: RunKia, tmp_path: Path, args: list[str],
                                                   message: str) -> None:
    result = run_kia("bridge", "run", *[str(tmp_path) if arg == "H" else arg for arg in args])

    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- the other commands ------------------------------------------------------------------------


def test_nfc_write_then_read_at_the_command_line(run_kia: RunKia, tmp_path: Path, card_tokens: list[str]) -> None:
    card = write_card_files("card", card_tokens[0], tmp_path).ndef
    with NtagSimulator("NTAG215") as tag, NtagSimulator("NTAG213") as small:
        written = run_kia("bridge", "nfc", "write", "--device", tag.path, "--ndef", card, "--lock", "--timeout", "10")
        read = run_kia("bridge", "nfc", "read", "--device", tag.path, "--raw", "--timeout", "10")
        refused = run_kia("bridge", "nfc", "write", "--device", small.path, "--ndef", card, "--timeout", "10")

    assert written.returncode == 0, written.stderr
    assert json.loads(written.stdout) == {"tag": "NXP NTAG215", "identifier": tag.uid.hex().upper(),
                                          "bytes": card.stat().st_size, "capacity": 492, "locked": True}
    assert read.returncode == 0 and read.stdout.strip() == card_tokens[0]
    assert refused.returncode == 1
    assert "use an NTAG215 or NTAG216" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_the_simulators_at_the_command_line(
    processes: list[Process], kia_command: str, kia_env: dict[str, str], run_kia: RunKia, tmp_path: Path,
    verifier: CardVerifier, card_tokens: list[str], gate_keys: Path,
) -> None:
    card = write_card_files("card", card_tokens[1], tmp_path).ndef
    tag_process = Process([kia_command, "bridge", "simulate", "tag", "--ndef", str(card)], kia_env)
    processes.append(tag_process)
    with LoopbackVerifier(verifier) as server:
        bridge_process = Process([kia_command, "bridge", "run", "--verifier", server.url,
                                  "--reader", "gate:tcp:127.0.0.1:0", "--gate-keys", str(gate_keys)], kia_env)
        processes.append(bridge_process)
        port = bridge_process.wait_line(LISTENING)[1]
        board = run_kia("bridge", "simulate", "board", "--connect", f"tcp:127.0.0.1:{port}", "--ndef", card,
                        "--key", BOARD_KEYS["SIM-01"].hex(), card_tokens[0], card_tokens[0][:-5] + "AAAAA")
        assert bridge_process.stop() == 0

    decisions = [json.loads(line) for line in board.stdout.splitlines()]
    assert board.returncode == 0, board.stderr
    assert [decision["accepted"] for decision in decisions] == [True, False, True]
    assert decisions[0] == {"accepted": True, "display": ["DITERIMA", "Bayar Rp20.000"], "pulse_ms": 1000}

    device = json.loads(tag_process.next_printed())["device"]
    assert read_once(device, timeout=TIMEOUT, targets=("106A",)) == (
        "NXP NTAG215 04A1B2C3D4E580", card_tokens[1])
    assert tag_process.stop(signal.SIGINT) == 0
