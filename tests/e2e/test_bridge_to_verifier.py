"""A gate board and a keyboard-wedge scanner, through ``kia bridge run``, to a real ``kia verifier serve``.

Three processes on loopback: the terminal (on a home that enrolment would
have written), the bridge finding it through HOME/serve.json, and the
reference board simulator speaking the gate protocol over TCP.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from firmware_bridge.gate.board import BoardSimulator, TcpLink
from firmware_bridge.gate.keyfile import write_board_keys
from firmware_bridge.gate.protocol import Decision
from keys import qr_text
from keys.serial import serial_from_value
from kia.processes import Server, kia_command
from tests.factories import make_card, make_trust
from tests.integration.firmware_bridge.test_run import LISTENING, Process
from tests.terminal_home import enrolled_home

REVOKED, OTHER = serial_from_value(0x7654321), serial_from_value(0x1111111)


def test_a_gate_board_opens_for_a_valid_card_and_stays_shut_for_a_revoked_one(tmp_path: Path) -> None:
    now = int(time.time())
    trust = make_trust(now, revoked=[REVOKED])
    home, _ = enrolled_home(tmp_path / "home", trust, now)
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
    terminal = Server("terminal", [kia_command(), "verifier", "serve", "--home", str(home.path), "--port", "0",
                                   "--no-sync", "--insecure-dev-unencrypted-keys"], env, tmp_path / "terminal.log")
    terminal.start()
    board_key = bytes(range(32))
    write_board_keys(tmp_path / "gate-keys", {"GATE-1": board_key})
    bridge = Process([kia_command(), "bridge", "run", "--home", str(home.path),
                      "--gate-keys", str(tmp_path / "gate-keys"),
                      "--reader", "gate:tcp:127.0.0.1:0,pulse=800", "--reader", "wedge:stdin"], env)
    try:
        board = BoardSimulator(TcpLink("127.0.0.1", int(bridge.wait_line(LISTENING)[1])), "GATE-1",
                               answer_timeout=30, key=board_key)
        board.hello()

        valid = board.scan(qr_text(trust.issue(make_card(age=8, now=now))))
        revoked = board.scan(trust.issue(make_card(serial=REVOKED, age=8, now=now)))
        again = board.scan(qr_text(trust.issue(make_card(age=8, now=now))))  # inside the anti-passback window
        bridge.type("not a card\r\n")  # noise from a scanner: dropped by the bridge, never a scan
        bridge.type(trust.issue(make_card(serial=OTHER, age=8, now=now)) + "\r\n")
        bridge.wait_line(r"wedge:stdin: wedge 'eyJhbG'.*: accepted")
    finally:
        assert bridge.stop() == 0
        terminal.stop()

    assert valid == Decision(True, "DITERIMA", "Bayar Rp20.000", 800)
    assert (revoked.accepted, revoked.line1, revoked.line2) == (False, "DITOLAK", "Kartu dicabut")
    assert (again.accepted, again.line2) == (False, "Sudah dipindai")
    with sqlite3.connect(home.log_path) as log:  # every decision the gate saw is in the terminal's log
        reasons = [row[0] for row in log.execute("select reason from records order by seq")]
    assert reasons == ["accepted", "card_revoked", "passback", "accepted"]
