"""Terminals and the office as separate processes on loopback: crashes and faults.

The office is set up with the ``kia`` script and served by ``kia issuer
serve``; each terminal is enrolled with ``kia verifier enroll`` and runs as
``kia verifier serve``.  Scans go through the local API, as a reader's
bridge sends them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kia.processes import Server, kia_command
from tests.e2e.processes import clean_env
from tests.terminal_sim import PASSPHRASE, today
from verifier.local import LocalVerifierClient, VerifierUnavailable
from verifier.log import TerminalLog

KILLS = 50


def kia(*args: str, env: dict[str, str]) -> dict:
    result = subprocess.run([kia_command(), *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@dataclasses.dataclass
class Office:
    folder: Path
    home: str
    env: dict[str, str]
    server: Server
    url: str
    partner: int
    tokens: list[str]

    def register(self, name: str) -> str:
        return kia("issuer", "terminal", "register", "--home", self.home, "--partner", str(self.partner),
                   "--name", name, env=self.env)["enrolment_code"]

    def enroll(self, name: str) -> Path:
        home = self.folder / name
        kia("verifier", "enroll", "--home", str(home), "--server", self.url, "--code", self.register(name),
            env=self.env)
        return home

    def terminal(self, home: Path, *options: str) -> Server:
        return Server(home.name, [kia_command(), "verifier", "serve", "--home", str(home), "--port", "0", *options],
                      self.env, self.folder / f"{home.name}.log")

    def stored(self) -> dict[str, tuple[int, int, int]]:
        """Per terminal: records, money paid and discount given, as the office holds them."""
        with sqlite3.connect(Path(self.home) / "kia-issuer.db") as db:
            rows = db.execute("select terminal_id, count(*), sum(paid * accepted), sum(discount * accepted)"
                              " from redemptions group by terminal_id")
            return {terminal: (count, paid, discount) for terminal, count, paid, discount in rows}


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE)
    home = str(tmp_path / "office")
    kia("issuer", "init", "--home", home, env=env)
    start = (today() - dt.timedelta(days=30)).isoformat()
    partner = kia("issuer", "partner", "add", "--home", home, "--name", "Kolam Renang Tirtomoyo", "--kind", "pool",
                  "--cluster", "health_welfare", "--region", "3372", "--mou-start", start, env=env)["partner_id"]
    kia("issuer", "partner", "service", str(partner), "--home", home, "--code", "renang", "--name", "Renang",
        "--price", "0-4=10000", "--price", "5-12=15000", "--price", "13-16=20000", "--fixed", "5000",
        "--daily-limit", "3", env=env)
    tokens = [kia("issuer", "card", "issue", "--home", home, "--birth-date", born, "--region", "3372",
                  "--out", str(tmp_path / "cards"), env=env)["token"]
              for born in ("2015-04-02", "2019-08-17", "2023-01-30", "2011-12-01")]
    kia("issuer", "trustlist", "export", "--home", home, "--out", str(tmp_path / "published"), env=env)
    server = Server("office", [kia_command(), "issuer", "serve", "--home", home, "--port", "0", "--workers", "2"],
                    env, tmp_path / "office.log")
    url = server.start()
    try:
        yield Office(tmp_path, home, env, server, url, partner, tokens)
    finally:
        server.stop()


def logged(home: Path) -> dict[int, bytes]:
    """seq -> hash of every record in a terminal's log (read while it is stopped)."""
    with sqlite3.connect(home / "log.db") as db:
        return dict(db.execute("select seq, hash from records"))


def totals(home: Path) -> tuple[int, int, int]:
    with sqlite3.connect(home / "log.db") as db:
        return db.execute("select count(*), sum(paid * accepted), sum(discount * accepted) from records").fetchone()


class Stream:
    """Scans sent one after another from a thread; what was answered, in order."""

    def __init__(self, client: LocalVerifierClient, payloads: list[str]) -> None:
        self.client, self.payloads = client, payloads
        self.answered: list[int] = []
        self.reached = threading.Event()
        self.target = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def until(self, count: int) -> None:
        self.target = count
        self.thread.start()
        assert self.reached.wait(timeout=60), "the terminal stopped answering"

    def _run(self) -> None:
        index = 0
        while True:
            try:
                outcome = self.client.scan(self.payloads[index % len(self.payloads)], "gate")
            except VerifierUnavailable:
                return  # killed
            assert outcome.seq is not None
            self.answered.append(outcome.seq)
            index += 1
            if len(self.answered) >= self.target:
                self.reached.set()


def test_every_answered_scan_survives_sigkill_and_the_office_ends_with_exactly_the_terminals_totals(
    office: Office,
) -> None:
    home = office.enroll("gate-1")
    payloads = [*office.tokens, "\x00\xffnot a card", "A" * 10_000]
    rng = random.Random(20261122)  # noqa: S311 (test moments, not secrets)
    answered: list[int] = []
    for _ in range(KILLS):
        terminal = office.terminal(home, "--no-sync")
        stream = Stream(LocalVerifierClient(terminal.start()), payloads)
        # Kill while the next scan is on its way: after a random number of answers.
        stream.until(rng.randint(1, 6))
        terminal.kill()
        stream.thread.join(timeout=30)
        answered += stream.answered
        log = TerminalLog.open(home / "log.db", dt.UTC)  # the integrity check and the chain, as at start
        log.close()
        kept = logged(home)
        assert set(answered) <= set(kept), "a decision answered before the kill is missing from the log"
        assert sorted(kept) == list(range(1, len(kept) + 1))

    assert len(answered) >= KILLS

    kia("verifier", "sync", "--home", str(home), env=office.env)
    identity = json.loads((home / "terminal.json").read_text())
    # The office recomputed the chain from genesis on sync, and refuses a batch that does not fit it.
    assert office.stored() == {identity["terminal_id"]: totals(home)}
