"""Three offices, the ministry and one terminal as separate processes on loopback (issue 14).

Surakarta (3372), Balangan (6311) and Jayapura (9171) each init an office
with its own root (``kia issuer init``) and serve it (``kia issuer
serve``).  The ministry lists the three roots (``kia national``) and its
directory is served by a plain file server.  A terminal enrolled at
Surakarta pins the national root, fetches the directory and the other two
offices' trust lists over HTTP (``kia verifier federation``), and decides
through its local scan API (``kia verifier serve``).  Every wait is on a
server's "Listening at" line, never a sleep; the commands read the real
clock, so dates come from the test's own ``today``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from keys.eligibility import region_timezone
from kia.processes import Server, kia_command
from tests.e2e.processes import BIN, clean_env, kia
from tests.factories import aged
from tests.factories.offices import PASSPHRASE, today
from verifier.local import LocalVerifierClient

SURAKARTA, BALANGAN, JAYAPURA = 3372, 6311, 9171


@dataclasses.dataclass
class Office:
    region: int
    home: Path
    server: Server
    url: str
    cards: list[dict]  # kia issuer card issue's answers: serial and token


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[dict[int, Office], Path, dict[str, str]]]:
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE)
    day = today()
    offices: dict[int, Office] = {}
    try:
        for region in (SURAKARTA, BALANGAN, JAYAPURA):
            home = tmp_path / f"office-{region}"
            kia("issuer", "init", "--home", str(home), env=env)
            cards = [kia("issuer", "card", "issue", "--home", str(home), "--birth-date", aged(8, day).isoformat(),
                         "--region", str(region), "--out", str(tmp_path / f"cards-{region}"), env=env)
                     for _ in range(2)]
            kia("issuer", "trustlist", "export", "--home", str(home), "--out", str(home / "published"), env=env)
            server = Server(f"office-{region}", [kia_command(), "issuer", "serve", "--home", str(home), "--port", "0",
                                                 "--workers", "1"], env, tmp_path / f"office-{region}.log")
            offices[region] = Office(region, home, server, server.start(), cards)
        yield offices, tmp_path, env
    finally:
        for office in offices.values():
            office.server.stop()


@pytest.fixture
def ministry_files(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A ministry's file server: whatever is in the folder, over plain HTTP on loopback."""
    folder = tmp_path / "published-by-ministry"
    folder.mkdir()
    handler = functools.partial(_QuietFiles, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_terminal_accepts_three_offices_cards_and_follows_revocations_and_suspensions(
    world: tuple[dict[int, Office], Path, dict[str, str]], ministry_files: tuple[Path, str],
) -> None:
    offices, folder, env = world
    served, files_url = ministry_files
    ministry = folder / "ministry"
    until = (today() + dt.timedelta(days=5 * 365)).isoformat()
    kia("national", "init", "--home", str(ministry), env=env)
    for region, office in offices.items():
        kia("national", "office-add", "--home", str(ministry), "--region", str(region),
            "--root", str(office.home / "published" / "root.jwk"), "--valid-until", until, env=env)
    kia("national", "sign", "--home", str(ministry), "--out", str(served / "directory.jws"), env=env)

    surakarta = offices[SURAKARTA]
    terminal = _enrolled_terminal(surakarta, folder, env)
    kia("verifier", "federation", "pin", "--home", str(terminal), "--national-root",
        str(ministry / "national-root.jwk"), env=env)
    fetched = kia("verifier", "federation", "fetch", "--home", str(terminal), "--directory-url",
                  f"{files_url}/directory.jws", "--office", f"{SURAKARTA}={surakarta.url}",
                  "--office", f"{BALANGAN}={offices[BALANGAN].url}", "--office", f"{JAYAPURA}={offices[JAYAPURA].url}",
                  env=env)
    assert fetched["directory"]["seq"] == 1
    assert {region: entry["state"] for region, entry in fetched["regions"].items()} == {
        "3372": "own_office", "6311": "trusted", "9171": "trusted"}

    first = [offices[region].cards[0]["token"] for region in (SURAKARTA, BALANGAN, JAYAPURA)]
    assert _scans(terminal, env, first) == ["accepted"] * 3

    # The museum's records reach Surakarta's office, the two foreign cards named by their home region
    # (ADR 0003). Surakarta holds the ministry's directory, so it counts all three in the museum's revenue.
    kia("issuer", "federation", "pin", "--home", str(surakarta.home), "--national-root",
        str(ministry / "national-root.jwk"), env=env)
    held = kia("issuer", "federation", "directory", "--home", str(surakarta.home), "--url",
               f"{files_url}/directory.jws", env=env)
    assert (held["seq"], held["own_region"], held["regions"]) == (1, SURAKARTA, 3)
    kia_plain("verifier", "sync", "--home", str(terminal), env=env)
    assert kia("issuer", "quarantine", "list", "--home", str(surakarta.home), env=env) == []
    figures = kia("issuer", "report", "figures", "--home", str(surakarta.home), "--by", "programme", env=env)
    assert sum(row["accepted"] for row in figures) == 3
    # Balangan fetches what Surakarta signed of its cards: one scan, so a small count, withheld.
    for region in (BALANGAN, JAYAPURA):
        kia("issuer", "federation", "pin", "--home", str(offices[region].home), "--national-root",
            str(ministry / "national-root.jwk"), env=env)
        kia("issuer", "federation", "directory", "--home", str(offices[region].home), "--file",
            str(served / "directory.jws"), env=env)
    month = dt.datetime.now(region_timezone(SURAKARTA)).strftime("%Y-%m")
    fetched_visits = kia("issuer", "federation", "visits-fetch", "--home", str(offices[BALANGAN].home),
                         "--office", f"{SURAKARTA}={surakarta.url}", "--month", month, env=env)
    assert fetched_visits == [{"region": SURAKARTA, "month": month, "cells": 1, "scans": 0}]
    [kept] = kia("issuer", "federation", "visits", "--home", str(offices[BALANGAN].home), env=env)
    assert (kept["region"], [(cell["kind"], cell["scans"], cell["gross"]) for cell in kept["cells"]]) == (
        SURAKARTA, [("museum", None, None)])
    # Jayapura's figures from Surakarta are its own card's; Balangan's office signs none of them.
    refused = subprocess.run([str(BIN / "kia"), "issuer", "federation", "visits-fetch", "--home",
                              str(offices[JAYAPURA].home), "--office", f"{BALANGAN}={offices[BALANGAN].url}",
                              "--month", month], env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 0, refused.stderr
    assert json.loads(refused.stdout) == [{"region": BALANGAN, "month": month, "cells": 0, "scans": 0}]

    # Balangan revokes its first card and publishes; the terminal's next fetch takes the delta.
    balangan = offices[BALANGAN]
    kia_plain("issuer", "card", "revoke", balangan.cards[0]["serial"], "--home", str(balangan.home),
              "--reason", "lost", env=env)
    kia("issuer", "trustlist", "export", "--home", str(balangan.home), "--out", str(balangan.home / "published"),
        env=env)
    fetched = kia("verifier", "federation", "fetch", "--home", str(terminal), env=env)
    assert fetched["regions"]["6311"]["seq"] == 2
    assert _scans(terminal, env, [balangan.cards[0]["token"], balangan.cards[1]["token"]]) == [
        "card_revoked", "accepted"]

    # The ministry suspends Jayapura and publishes the site: the new directory and a delta from sequence 1.
    # After the terminal fetches the delta (not the full directory), Jayapura's cards are refused.
    kia("national", "office-suspend", "--home", str(ministry), "--region", str(JAYAPURA), env=env)
    published = kia("national", "publish", "--home", str(ministry), "--out", str(served), env=env)
    assert (published["seq"], published["deltas_from"]) == (2, [1])
    refused = subprocess.run([str(BIN / "kia"), "verifier", "federation", "fetch", "--home", str(terminal)],
                             env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 1, refused.stderr
    report = json.loads(refused.stdout)
    assert (report["directory"]["seq"], report["directory"]["transfer"]) == (2, "delta")
    assert report["regions"]["9171"]["refusal"]["code"] == "office_suspended"
    assert _scans(terminal, env, [offices[JAYAPURA].cards[1]["token"], surakarta.cards[1]["token"]]) == [
        "unknown_key", "accepted"]
    status = kia("verifier", "federation", "status", "--home", str(terminal), env=env)
    assert (status["own_region"], status["regions"]["9171"]["state"]) == (SURAKARTA, "refused")
    # Nothing new at the ministry: no delta from 2 (404), and the file server's Last-Modified answers 304.
    again = subprocess.run([str(BIN / "kia"), "verifier", "federation", "fetch", "--home", str(terminal)],
                           env=env, capture_output=True, text=True, check=False)
    assert json.loads(again.stdout)["directory"]["transfer"] in ("not_modified", "full"), again.stderr


def kia_plain(*args: str, env: dict[str, str]) -> str:
    """A ``kia`` command whose output is not JSON."""
    return subprocess.run([str(BIN / "kia"), *args], env=env, capture_output=True, text=True, check=True).stdout


def _enrolled_terminal(office: Office, folder: Path, env: dict[str, str]) -> Path:
    """A terminal of a Surakarta museum, enrolled at its office as an officer hands it over."""
    start = (today() - dt.timedelta(days=30)).isoformat()
    partner = kia("issuer", "partner", "add", "--home", str(office.home), "--name", "Museum Radya Pustaka",
                  "--kind", "museum", "--cluster", "education_culture", "--region", str(SURAKARTA),
                  "--mou-start", start, env=env)["partner_id"]
    kia("issuer", "partner", "service", str(partner), "--home", str(office.home), "--code", "museum",
        "--name", "Museum", "--price", "5-12=10000", "--fixed", "2500", "--daily-limit", "2", env=env)
    # The museum agreed to honour every region's cards, as its terminal will.
    assert kia("issuer", "partner", "regions", str(partner), "--home", str(office.home), "--all", env=env) == {
        "partner_id": partner, "other_regions": "all", "regions": None}
    registration = kia("issuer", "terminal", "register", "--home", str(office.home), "--partner", str(partner),
                       "--name", "Loket 1", env=env)
    home = folder / "terminal"
    kia("verifier", "enroll", "--home", str(home), "--server", office.url, "--code", registration["enrolment_code"],
        "--root-fingerprint", registration["root_fingerprint"], env=env)
    return home


def _scans(home: Path, env: dict[str, str], tokens: list[str]) -> list[str]:
    """The reasons the terminal's scan API answers, from a ``kia verifier serve`` started on what the home holds."""
    server = Server("terminal", [kia_command(), "verifier", "serve", "--home", str(home), "--port", "0", "--no-sync"],
                    env, home.parent / "terminal.log")
    client = LocalVerifierClient(server.start())
    try:
        return [client.scan(token, "camera").reason for token in tokens]
    finally:
        client.close()
        server.stop()
