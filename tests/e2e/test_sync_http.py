"""A terminal enrols and syncs with the office's service over real HTTP.

The office is set up with the installed ``kia`` script, as an officer does;
the service runs under gunicorn with two workers in a separate process, on
SQLite in the home folder.  The test waits on gunicorn's "Listening at" line,
never on a sleep, and reads the database only after the server has stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import signal
import sqlite3
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.processes import BIN, clean_env, kia, running
from tests.factories.offices import PASSPHRASE, SERVICE, today
from tests.terminal_sim import SimulatedTerminal

BATCH = 500


def request(url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """POST ``body`` as JSON (GET without one); the status and the decoded answer."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    call = urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def post(url: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    status, text = request(url, body, token)
    return status, json.loads(text)


def office_with_a_terminal(tmp_path: Path) -> tuple[dict[str, str], str, dict[str, Any], dict[str, Any]]:
    """An office made with the installed ``kia`` (a cinema, its rules, a registered terminal):
    the shell's environment, the home, ``init``'s answer and the terminal's registration."""
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE)
    home = str(tmp_path / "office")
    office = kia("issuer", "init", "--home", home, env=env)
    start = (today() - dt.timedelta(days=30)).isoformat()
    partner = kia("issuer", "partner", "add", "--home", home, "--name", "Bioskop Solo Paragon", "--kind", "cinema",
                  "--cluster", "education_culture", "--region", "3372", "--mou-start", start, env=env)
    prices = [arg for category, rupiah in SERVICE.prices.items() for arg in ("--price", f"{category}={rupiah}")]
    kia("issuer", "partner", "service", str(partner["partner_id"]), "--home", home, "--code", SERVICE.code,
        "--name", SERVICE.name, *prices, "--percent", str(SERVICE.discount_value), env=env)
    registration = kia("issuer", "terminal", "register", "--home", home, "--partner", str(partner["partner_id"]),
                       "--name", "Kasir 1", env=env)
    return env, home, office, registration


def stored(home: str, terminal: SimulatedTerminal) -> tuple[int, int, int, int]:
    """The office's records of the terminal, read after the server stopped: count, distinct, first, last."""
    with contextlib.closing(sqlite3.connect(Path(home) / "kia-issuer.db")) as database:
        return database.execute(
            "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM redemptions WHERE terminal_id = ?",
            (terminal.terminal_id,),
        ).fetchone()


@pytest.mark.parametrize("intake", ["inline", "journal"])
def test_a_terminal_enrols_and_syncs_1500_records_in_batches_over_http(tmp_path: Path, intake: str) -> None:
    """With KIA_SYNC_INTAKE=journal (ADR 0005) the installed ``kia issuer intake`` folds what was acknowledged."""
    env, home, office, registration = office_with_a_terminal(tmp_path)

    # The service opens the issuing key to sign the terminal's configuration: it needs the passphrase.
    server_env = dict(env, KIA_HOME=home, KIA_BIND="127.0.0.1:0", KIA_WORKERS="2", KIA_SYNC_INTAKE=intake)
    terminal = SimulatedTerminal()
    terminal.log(3 * BATCH)
    with running([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "issuer:create_app()"], server_env) as base:
        status, enrolment = post(f"{base}/api/v1/terminals/enroll",
                                 terminal.enrolment_request(registration["enrolment_code"].lower()))
        assert status == 201, enrolment
        terminal.enrolled(enrolment)
        assert terminal.terminal_id == registration["terminal_id"]
        assert terminal.root_jwk["kid"] == office["root_kid"]

        sends = [(1, 500), (501, 1000), (501, 1000), (1001, 1500)]  # the second batch twice: its answer was lost
        acks = [post(f"{base}/api/v1/sync", terminal.batch(first, last), terminal.token()) for first, last in sends]
        if intake == "journal":  # the batch sent again was compared after the two before it were folded
            waiting = kia("issuer", "intake", "status", "--home", home, env=env)
            assert (waiting["batches"], waiting["records"]) == (1, BATCH)
            folded = kia("issuer", "intake", "fold", "--once", "--home", home, env=env)
            assert (folded["folded"], folded["batches"]) == (1, 0)
        status, config = request(f"{base}/api/v1/terminals/config", token=terminal.token())
        replay = terminal.token()
        replayed = [post(f"{base}/api/v1/sync", terminal.batch(1500, 1500), replay)[0] for _ in range(2)]

    assert acks == [
        (200, {"acknowledged": 500, "stored": 500, "duplicates": 0}),
        (200, {"acknowledged": 1000, "stored": 500, "duplicates": 0}),
        (200, {"acknowledged": 1000, "stored": 0, "duplicates": 500}),
        (200, {"acknowledged": 1500, "stored": 500, "duplicates": 0}),
    ]
    assert status == 200 and config.count(".") == 2
    assert replayed == [200, 401]  # whichever worker answers, a jti is spent once

    with contextlib.closing(sqlite3.connect(Path(home) / "kia-issuer.db")) as database:
        acknowledged, chain_hash = database.execute(
            "SELECT acknowledged_seq, chain_hash FROM terminals WHERE id = ?", (terminal.terminal_id,)
        ).fetchone()
    assert stored(home, terminal) == (1500, 1500, 1, 1500)
    assert (acknowledged, chain_hash) == (1500, terminal.chain()[-1].hex())


def test_a_fold_beside_the_service_folds_batches_as_they_arrive_and_stops_on_sigterm(tmp_path: Path) -> None:
    """``kia issuer intake fold`` as its systemd unit runs it: it says when it has caught up; SIGTERM stops it."""
    env, home, _, registration = office_with_a_terminal(tmp_path)
    server_env = dict(env, KIA_HOME=home, KIA_BIND="127.0.0.1:0", KIA_WORKERS="2", KIA_SYNC_INTAKE="journal")
    terminal = SimulatedTerminal()
    terminal.log(3 * BATCH)
    fold = subprocess.Popen([str(BIN / "kia"), "issuer", "intake", "fold", "--home", home, "--interval", "0.05"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, fold.kill)  # a fold that never catches up fails the test, never hangs it
    guard.start()
    try:
        with running([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "issuer:create_app()"], server_env) as base:
            status, enrolment = post(f"{base}/api/v1/terminals/enroll",
                                     terminal.enrolment_request(registration["enrolment_code"]))
            assert status == 201, enrolment
            terminal.enrolled(enrolment)
            for first in (1, 501, 1001):
                assert post(f"{base}/api/v1/sync", terminal.batch(first, first + BATCH - 1), terminal.token())[0] == 200
        assert fold.stderr is not None
        since_start = 0
        for line in fold.stderr:  # "caught up: folded N batches (T since start)", each time the journal empties
            if caught_up := re.search(r"\((\d+) since start\)", line):
                since_start = int(caught_up[1])
            if since_start == 3:
                break
        fold.send_signal(signal.SIGTERM)
        out, _ = fold.communicate(timeout=60)
    finally:
        guard.cancel()
        if fold.poll() is None:
            fold.kill()
    assert fold.returncode == 0 and since_start == 3
    assert json.loads(out) == {"folded": 3, "batches": 0, "records": 0, "oldest_waiting_seconds": None}
    assert stored(home, terminal) == (1500, 1500, 1, 1500)
