"""Terminals and the office as separate processes on loopback: crashes and faults.

The office is set up with the ``kia`` script and served by ``kia issuer
serve``; each terminal is enrolled with ``kia verifier enroll`` and runs as
``kia verifier serve``.  Scans go through the local API, as a reader's
bridge sends them.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import http.server
import json
import random
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from keys.chain import sign_sync_token
from kia.processes import Server, kia_command
from tests import clock_ahead
from tests.e2e.processes import clean_env, kia
from tests.factories import aged
from tests.factories.offices import PASSPHRASE, today
from verifier.home import TerminalHome
from verifier.local import LocalVerifierClient, VerifierUnavailable
from verifier.log import TerminalLog

KILLS = 50


@dataclasses.dataclass
class Office:
    folder: Path
    home: str
    env: dict[str, str]
    server: Server
    url: str
    partner: int
    tokens: list[str]

    def register(self, name: str) -> list[str]:
        """The enrolment options an officer hands over: the one-time code and the root key's fingerprint."""
        registration = kia("issuer", "terminal", "register", "--home", self.home, "--partner", str(self.partner),
                           "--name", name, env=self.env)
        return ["--code", registration["enrolment_code"], "--root-fingerprint", registration["root_fingerprint"]]

    def enroll(self, name: str) -> Path:
        home = self.folder / name
        kia("verifier", "enroll", "--home", str(home), "--server", self.url, *self.register(name), env=self.env)
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
              for born in (aged(years, today()).isoformat() for years in (11, 7, 3, 15))]
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


# --- faults on the way to the office ------------------------------------------------------


class FaultyLink:
    """An HTTP relay between terminal and office that fails on cue.

    Each sync POST takes the next action from ``plan``: ``pass``, ``drop_before``
    (the connection is cut before the office sees the batch), ``drop_after``
    (the office commits, the answer is lost) or ``restart`` (the office is
    killed and started again before the batch goes through).  Every sync
    request that reached the office is kept, to be replayed.
    """

    def __init__(self, office: Office) -> None:
        self.office, self.plan, self.forwarded = office, [], []
        link = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                self._relay(None)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = link.plan.pop(0) if self.path == "/api/v1/sync" and link.plan else "pass"
                if action == "drop_before":
                    self.close_connection = True
                    return
                if action == "restart":
                    link.office.server.kill()
                    link.office.url = link.office.server.start()
                if self.path == "/api/v1/sync":
                    link.forwarded.append((self.headers["Authorization"], body))
                self._relay(body, answer=action != "drop_after")

            def _relay(self, body: bytes | None, answer: bool = True) -> None:
                headers = {name: value for name, value in self.headers.items()
                           if name in ("Content-Type", "Authorization", "Accept")}
                status, reply, reply_headers = forward(link.office.url + self.path, body, headers)
                if not answer:
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in reply_headers.items():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def forward(url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, body, headers, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            return response.status, response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers.items())


def sync(home: Path, office: Office) -> int:
    return subprocess.run([kia_command(), "verifier", "sync", "--home", str(home)], env=office.env,
                          capture_output=True, text=True, check=False).returncode


def scan_many(office: Office, home: Path, count: int) -> None:
    terminal = office.terminal(home, "--no-sync")
    client = LocalVerifierClient(terminal.start())
    try:
        for index in range(count):
            client.scan(office.tokens[index % len(office.tokens)] if index % 7 else "garbage", "wedge")
    finally:
        client.close()
        terminal.stop()


def test_cut_connections_duplicates_reordering_and_an_office_restart_lose_nothing_and_count_nothing_twice(
    office: Office,
) -> None:
    link = FaultyLink(office)
    try:
        home = office.folder / "counter-1"
        kia("verifier", "enroll", "--home", str(home), "--server", link.url, *office.register("counter-1"),
            env=office.env)
        identity = json.loads((home / "terminal.json").read_text())

        scan_many(office, home, 1200)  # three batches
        link.plan = ["pass", "drop_after"]  # the second batch is stored, its answer lost
        assert sync(home, office) == 1
        assert office.stored()[identity["terminal_id"]][0] == 1000
        link.plan = ["drop_before"]  # cut before the office sees anything
        assert sync(home, office) == 1
        assert sync(home, office) == 0  # the second batch again (duplicates), then the third
        assert office.stored() == {identity["terminal_id"]: totals(home)}

        scan_many(office, home, 1100)
        link.plan = ["pass", "restart"]  # the office is killed and restarted mid-sync
        assert sync(home, office) == 0
        assert office.stored() == {identity["terminal_id"]: totals(home)}

        # Every batch again, newest first: spent tokens are refused, fresh ones find only duplicates.
        key = TerminalHome(home).private_key(PASSPHRASE.encode())
        replies = [forward(f"{office.url}/api/v1/sync", body, {"Content-Type": "application/json",
                                                               "Authorization": token})[0]
                   for token, body in reversed(link.forwarded)]
        assert set(replies) == {401}
        fresh = [forward(f"{office.url}/api/v1/sync", body, {
            "Content-Type": "application/json",
            "Authorization": "Bearer " + sign_sync_token(identity["terminal_id"], identity["audience"], key,
                                                          identity["kid"], int(time.time()))})
            for _, body in reversed(link.forwarded)]
        assert {status for status, _, _ in fresh} == {200}
        assert all(json.loads(reply)["stored"] == 0 for _, reply, _ in fresh)
        assert office.stored() == {identity["terminal_id"]: totals(home)}
        log = TerminalLog.open(home / "log.db", dt.UTC)
        assert log.acknowledged() == log.head()[0] == totals(home)[0]
        log.close()
    finally:
        link.close()


def status(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/v1/status", timeout=10) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())


def wait_for_trust_list(url: str, seq: int, rules_after: int, deadline: float = 30.0) -> None:
    """Until the running terminal holds list ``seq`` and rules newer than version ``rules_after``.

    A sync writes the list, then the rules: the terminal may take them one
    look apart.  The figure that matters (under a second) is in bench/.
    """
    ends = time.monotonic() + deadline
    while (held := status(url))["trust_list_seq"] < seq or held["config_version"] <= rules_after:
        assert time.monotonic() < ends, f"the running terminal never took trust list {seq} and new rules"
        time.sleep(0.02)


def test_a_serving_terminal_acts_on_a_revocation_and_new_rules_fetched_by_a_hand_run_sync(office: Office) -> None:
    home = office.enroll("kasir-1")
    terminal = office.terminal(home, "--no-sync")
    client = LocalVerifierClient(terminal.start())
    try:
        card = office.tokens[0]
        assert client.scan(card, "wedge").accepted
        rules = status(terminal.url)["config_version"]
        serial = json.loads(base64.urlsafe_b64decode(card.split(".")[1] + "=="))["sub"]
        kia("issuer", "card", "revoke", "--home", office.home, serial, "--reason", "hilang", env=office.env)
        kia("issuer", "partner", "service", str(office.partner), "--home", office.home, "--code", "renang",
            "--name", "Renang", "--price", "0-4=10000", "--price", "5-12=15000", "--price", "13-16=20000",
            "--fixed", "7000", "--daily-limit", "3", env=office.env)
        published = kia("issuer", "trustlist", "export", "--home", office.home,
                        "--out", str(office.folder / "published"), env=office.env)

        # Staff sync by hand, as `serve --help` says to when it runs with --no-sync: another process.
        assert sync(home, office) == 0
        wait_for_trust_list(terminal.url, published["seq"], rules)

        revoked = client.scan(card, "wedge")
        assert (revoked.accepted, revoked.reason) == (False, "card_revoked")
        other = client.scan(office.tokens[1], "wedge")  # the rules fetched in the same sync: Rp7.000 off now
        assert (other.accepted, other.price, other.discount) == (True, 15_000, 7_000)
    finally:
        client.close()
        terminal.stop()


def test_a_terminal_whose_clock_jumped_40_days_syncs_on_its_first_try(office: Office) -> None:
    home = office.enroll("kasir-2")
    scan_many(office, home, 3)
    terminal_id = json.loads((home / "terminal.json").read_text())["terminal_id"]

    # Only the terminal's clock jumps (libfaketime in the sync process); the office's stays.
    jumped = subprocess.run([kia_command(), "verifier", "sync", "--home", str(home)],
                            env=clock_ahead.environment(40, office.env), capture_output=True, text=True)

    # The records go through on the first try.  By the terminal's own clock (the only one a replaying
    # proxy cannot set) the office's fresh rules look 10 days past their 30-day expiry: refused, the
    # rules held kept, and staff told to set the clock (docs/sync-protocol.md).
    assert jumped.returncode == 1, jumped.stderr
    assert json.loads(jumped.stdout)["refusal"]["code"] == "config_expired"
    assert "clock" in jumped.stderr
    assert office.stored()[terminal_id][0] == 3
