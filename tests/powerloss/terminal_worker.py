"""The real terminal, scanning and syncing on the power-cut mount: the power-loss test's subprocess.

Run as ``python -m tests.powerloss.terminal_worker SETUP.json``.  It imports
everything once, then for each line on stdin forks a child (so each of the
test's hundred cycles starts in milliseconds) and prints ``pid PID``, what the
child prints, and ``exit STATUS`` when the child is gone:

``scan SEED``
    the child restarts the terminal from its home (``Terminal.open``: the
    log is checked and its chain recomputed), then scans cards through the
    terminal's own API (``POST /api/v1/scan``) and now and then syncs with
    the office (``verifier.sync.Sync``), in an order drawn from SEED, until
    the test cuts the power and kills it.  After each scan the API answered
    it prints ``answer SEQ ACCEPTED PRICE DISCOUNT PAID``; around each sync
    ``sync`` and ``synced ACKNOWLEDGED``.
``sync``
    the child syncs until the office holds every record, prints
    ``synced ACKNOWLEDGED`` and exits.

The office runs in the child too, as its Flask app, on its SQLite database
on the same mount: a cut takes both down, as a power cut in a building
that holds both would.  SETUP.json (outside the mount) names the homes and
the cards' QR texts; ``set_up`` writes it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from flask import Flask

from issuer import create_app as create_office_app
from issuer.cards import find_card
from issuer.terminals import office_root, register_terminal
from issuer.trust_lists import export_trust_list
from keys import load_public_jwk
from tests.factories import ACTOR
from tests.factories.offices import SERVICE, UNLOCK, add_partner, add_service, issued_cards, open_office
from verifier.app import create_app as create_terminal_app
from verifier.enrolment import enroll_terminal
from verifier.home import TerminalHome
from verifier.sync import Answer, Sync
from verifier.terminal import Terminal

# Many accepted scans, so that money is counted: a card may come back at once, a hundred times a day.
SERVICE_LIMIT, SERVICE_PASSBACK = 100, 0
CARDS = 6
JUNK = "not a card"  # logged as rejected, as every scan is


@dataclasses.dataclass(frozen=True)
class Setup:
    terminal_home: str
    office_home: str
    tokens: list[str]

    @classmethod
    def read(cls, path: Path) -> Setup:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


class InProcessOffice:
    """The office's API through its Flask app, in the terminal's process: an OfficeClient without sockets."""

    server = "http://office.invalid"

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def request(self, method: str, path: str, *, body: Any = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        headers = {"Accept": "application/json, application/jose"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(path, method=method, json=body, headers=headers)
        return Answer(response.status_code, response.get_data(), dict(response.headers.items()))


def office_app(office_home: Path) -> Flask:
    app: Flask = create_office_app({"HOME": str(office_home), "TESTING": True})
    return app


def close_office_app(app: Flask) -> None:
    app.extensions["kia_home"].close()


def set_up(terminal_home: Path, office_home: Path, published: Path) -> Setup:
    """An office with a partner, a service and cards, and a terminal enrolled with it, at the real time.

    Everything is written through the mount; the caller makes it durable
    (the machines were installed and shut down cleanly before the test).
    """
    now = int(time.time())
    office = open_office(office_home, None, now)
    try:
        partner = add_partner(office)
        rules = dataclasses.replace(SERVICE, daily_limit=SERVICE_LIMIT, passback_seconds=SERVICE_PASSBACK)
        add_service(office, partner, rules, now)
        serials = [serial for serial, _ in issued_cards(office, CARDS, now)]
        tokens = [find_card(office, serial).token for serial in serials]
        export_trust_list(office, UNLOCK, now, published, by=ACTOR)
        code = register_terminal(office, partner, "Kasir 1", now, by=ACTOR).enrolment_code
        root = load_public_jwk(office_root(office))
    finally:
        office.close()
    app = office_app(office_home)
    try:
        home = TerminalHome(terminal_home)
        key = home.create_key(None, unencrypted_for_development=True)
        enroll_terminal(home, InProcessOffice(app), key, code, now, root=root)  # type: ignore[arg-type]
    finally:
        close_office_app(app)
    return Setup(str(terminal_home), str(office_home), tokens)


# --- the child ------------------------------------------------------------------------------------


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def open_terminal(setup: Setup) -> Terminal:
    home = TerminalHome(Path(setup.terminal_home))
    key = home.private_key(None, unencrypted_for_development=True)
    return Terminal.open(home, key, int(time.time()))


def scan_forever(setup: Setup, office: Flask, seed: int) -> None:
    rng = random.Random(seed)
    terminal = open_terminal(setup)
    say("opened")
    client = create_terminal_app(terminal).test_client()
    payloads = [*setup.tokens, JUNK]
    while True:
        for _ in range(rng.randint(1, 12)):
            response = client.post("/api/v1/scan", json={"payload": rng.choice(payloads), "source": "api"})
            if response.status_code == 200:
                answer = response.get_json()
                say(f"answer {answer['seq']} {int(answer['accepted'])} {answer['price']} {answer['discount']}"
                    f" {answer['paid']}")
            else:
                say(f"refused {response.status_code}")
        if rng.random() < 0.4:
            say("sync")
            result = Sync(terminal, InProcessOffice(office)).run(lambda: int(time.time()))  # type: ignore[arg-type]
            say(f"synced {result.acknowledged}")


def sync_all(setup: Setup, office: Flask) -> None:
    terminal = open_terminal(setup)
    try:
        sync = Sync(terminal, InProcessOffice(office))  # type: ignore[arg-type]
        while True:
            result = sync.run(lambda: int(time.time()))
            if result.refusal is not None:
                say(f"refused {result.refusal.code} {result.refusal.message}")
                return
            if result.acknowledged == terminal.log.head()[0]:
                say(f"synced {result.acknowledged}")
                return
    finally:
        close_office_app(office)
        terminal.close()


def main() -> None:
    setup = Setup.read(Path(sys.argv[1]))
    # Built once (0.7 s), before any fork; it opens its database lazily, in each child.
    office = office_app(Path(setup.office_home))
    for line in sys.stdin:
        command = line.split()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                if command[0] == "scan":
                    scan_forever(setup, office, int(command[1]))
                else:
                    sync_all(setup, office)
                    status = 0
            except BaseException:
                traceback.print_exc()  # after a cut: the disk went away under it
            finally:
                os._exit(status)
        say(f"pid {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"exit {status}")


if __name__ == "__main__":
    main()
