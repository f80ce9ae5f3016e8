"""The office's service as a separate process, over real HTTP on loopback.

`kia issuer serve` (embedded gunicorn) and plain `gunicorn -c gunicorn.conf.py`
each bind port 0; the test reads the port from gunicorn's "Listening at"
line, so it waits on that event, never on a sleep.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from keys import load_public_jwk, verify_trust_list
from tests.e2e.processes import BIN, clean_env, kia, running

PASSPHRASE = "serve-test-passphrase-00000"


@pytest.fixture
def office(tmp_path: Path) -> tuple[Path, dict[str, str], dict]:
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE)
    home = tmp_path / "office"
    kia("issuer", "init", "--home", str(home), env=env)
    export = kia("issuer", "trustlist", "export", "--home", str(home), "--out", str(tmp_path / "pub"), env=env)
    return home, env, export


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def check_service(base: str, export: dict) -> None:
    status, _, body = get(f"{base}/healthz")
    assert (status, json.loads(body)["trust_list_seq"]) == (200, 1)
    status, headers, body = get(f"{base}/api/v1/trustlist")
    assert status == 200 and headers["Content-Type"] == "application/jose"
    root = load_public_jwk(json.loads(Path(export["root_jwk"]).read_text()))
    assert headers["X-KIA-Trust-List-Seq"] == "1"
    assert verify_trust_list(body.decode(), root, int(time.time())).seq == 1
    status, _, body = get(f"{base}/api/v1/trustlist?since=oops")
    assert status == 400 and json.loads(body)["error"] == "bad_query"


def test_kia_issuer_serve_answers_over_http(office) -> None:
    home, env, export = office
    command = [str(BIN / "kia"), "issuer", "serve", "--home", str(home), "--port", "0", "--workers", "1"]
    with running(command, env) as base:
        check_service(base, export)


def test_gunicorn_with_the_documented_config_runs_the_factory(office) -> None:
    home, env, export = office
    env = dict(env, KIA_HOME=str(home), KIA_BIND="127.0.0.1:0", KIA_WORKERS="2")
    with running([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "issuer:create_app()"], env) as base:
        check_service(base, export)
