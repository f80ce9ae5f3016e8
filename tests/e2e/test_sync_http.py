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
import sqlite3
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


@pytest.mark.parametrize("intake", ["inline", "journal"])
def test_a_terminal_enrols_and_syncs_1500_records_in_batches_over_http(tmp_path: Path, intake: str) -> None:
    """With KIA_SYNC_INTAKE=journal (ADR 0005) the installed ``kia issuer intake`` folds what was acknowledged."""
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
        rows = database.execute(
            "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM redemptions WHERE terminal_id = ?",
            (terminal.terminal_id,),
        ).fetchone()
        acknowledged, chain_hash = database.execute(
            "SELECT acknowledged_seq, chain_hash FROM terminals WHERE id = ?", (terminal.terminal_id,)
        ).fetchone()
    assert rows == (1500, 1500, 1, 1500)
    assert (acknowledged, chain_hash) == (1500, terminal.chain()[-1].hex())
