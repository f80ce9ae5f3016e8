"""The office's transparency log, checked from outside by Go's own tlog, with a witness cosigning over HTTP.

Everything runs as its users run it: the office and the inspectorate's
witness are set up with the installed ``kia`` script; the office's service
(gunicorn) and the witness (``kia audit witness serve``) are separate
processes on loopback; a terminal syncs over HTTP; ``kia issuer log publish``
signs checkpoints and gathers the witness's cosignature.  Then Go's
golang.org/x/mod/sumdb/tlog, which shares no code with ours, fetches the
checkpoint and the C2SP tiles over HTTP, hashes entries from the entry
bundles itself, and checks the office's inclusion and consistency proofs.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from keys.chain import chain_hashes
from keys.cosignature import CosignerKey, open_witnessed_checkpoint
from keys.tlog import NoteKey
from tests.e2e.processes import BIN, clean_env, kia, running
from tests.factories.offices import PASSPHRASE, SERVICE, today
from tests.oracle import ask, build
from tests.terminal_sim import SimulatedTerminal

ORIGIN = "kia.surakarta.example/log"
WITNESS = "inspektorat.jateng.example/saksi"


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("office_log_oracle.go", tmp_path_factory.mktemp("oracle"))


def post(url: str, body: object, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    call = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(call, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def publish(home: str, env: dict[str, str]) -> dict:
    result = subprocess.run([str(BIN / "kia"), "issuer", "log", "publish", "--home", home], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_go_verifies_the_offices_log_and_a_witness_cosigns_it(tmp_path: Path, oracle: Path):
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE, KIA_WITNESS_PASSPHRASE="saksi-inspektorat-2026")
    home, witness_home = str(tmp_path / "office"), str(tmp_path / "witness")
    kia("issuer", "init", "--home", home, env=env)
    start = (today() - dt.timedelta(days=30)).isoformat()
    partner = kia("issuer", "partner", "add", "--home", home, "--name", "Kolam Renang Manahan", "--kind", "pool",
                  "--cluster", "health_welfare", "--region", "3372", "--mou-start", start, env=env)
    prices = [arg for category, rupiah in SERVICE.prices.items() for arg in ("--price", f"{category}={rupiah}")]
    kia("issuer", "partner", "service", str(partner["partner_id"]), "--home", home, "--code", SERVICE.code,
        "--name", SERVICE.name, *prices, "--percent", str(SERVICE.discount_value), env=env)
    registration = kia("issuer", "terminal", "register", "--home", home, "--partner", str(partner["partner_id"]),
                       "--name", "Gerbang 1", env=env)
    log_key = kia("issuer", "log", "init", "--home", home, "--origin", ORIGIN, env=env)
    kia("audit", "witness", "init", "--home", witness_home, "--name", WITNESS, env=env)
    kia("audit", "witness", "add-log", "--home", witness_home, "--origin", ORIGIN, "--key", log_key["verifier_key"],
        env=env)
    witness_key = subprocess.run([str(BIN / "kia"), "audit", "witness", "key", "--home", witness_home], env=env,
                                 capture_output=True, text=True, check=True).stdout.strip()

    terminal = SimulatedTerminal()
    terminal.log(600)
    witness_command = [str(BIN / "kia"), "audit", "witness", "serve", "--home", witness_home, "--port", "0"]
    office_env = dict(env, KIA_HOME=home, KIA_BIND="127.0.0.1:0", KIA_WORKERS="2")
    with running(witness_command, env) as witness_url, \
            running([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "issuer:create_app()"], office_env) as base:
        kia("issuer", "log", "witness-add", "--home", home, witness_url, witness_key, env=env)
        terminal.enrolled(post(f"{base}/api/v1/terminals/enroll",
                               terminal.enrolment_request(registration["enrolment_code"])))
        post(f"{base}/api/v1/sync", terminal.batch(1, 300), terminal.token())
        first = publish(home, env)
        post(f"{base}/api/v1/sync", terminal.batch(301, 600), terminal.token())
        second = publish(home, env)
        prefix = f"{base}/api/v1/log"
        entries = [0, 1, 5, 255, 256, first["size"] - 1, first["size"], second["size"] - 1]
        answer = ask(oracle, {"prefix": prefix, "origin": ORIGIN, "vkey": log_key["verifier_key"],
                              "entries": entries, "earlier": [first["checkpoint"], second["checkpoint"]]})
        tampered = first["checkpoint"].replace(f"\n{first['size']}\n", f"\n{first['size'] - 1}\n", 1)
        refused = ask(oracle, {"prefix": prefix, "origin": ORIGIN, "vkey": log_key["verifier_key"], "entries": [],
                               "earlier": [tampered]})
        other_log = ask(oracle, {"prefix": prefix, "origin": "another.example/log", "vkey": log_key["verifier_key"],
                                 "entries": [], "earlier": []})

    assert answer["errors"] == []
    assert (answer["size"], answer["consistent"]) == (second["size"], [first["size"], second["size"]])
    assert answer["tiles_fetched"] >= 3  # a full level-0 tile, a partial one, and a level-1 tile at least
    logged = {int(index): json.loads(base64.b64decode(data)) for index, data in answer["entries"].items()}
    assert set(logged) == set(entries)
    chain = chain_hashes(bytes(32), terminal.records)
    redemptions = [entry for entry in logged.values() if entry["kind"] == "redemption"]
    assert redemptions and all(entry["hash"] == chain[entry["seq"] - 1].hex() for entry in redemptions)
    assert refused["errors"] and "invalid signature" in refused["errors"][0]  # a changed note is not the office's
    assert other_log["errors"] and "not of log" in other_log["errors"][0]

    # Each checkpoint carries the witness's cosignature, which an auditor can require.
    assert [outcome["cosigned"] for outcome in (*first["witnesses"], *second["witnesses"])] == [True, True]
    head = open_witnessed_checkpoint(second["checkpoint"], NoteKey.parse(log_key["verifier_key"]), ORIGIN,
                                     [CosignerKey.parse(witness_key)], 1, int(time.time()))
    assert head.size == second["size"]
