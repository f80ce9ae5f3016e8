"""/metrics under gunicorn with two workers, as separate processes over real HTTP on loopback.

Each worker used to count alone, so the same counter read 3, then 2,
depending on which worker answered the scrape.  The workers now share their
counts (prometheus_client's multiprocess mode, set up by gunicorn.conf.py and
`kia issuer serve`); a worker's counter file in PROMETHEUS_MULTIPROC_DIR
shows the test which workers have answered, an event it waits on, never a sleep.
"""

from __future__ import annotations

import re
import socket
import urllib.parse
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.processes import BIN, clean_env, kia, running
from tests.e2e.test_serve import get

PASSPHRASE = "metrics-test-passphrase-0000"
MAX_ROUNDS = 200  # far more than two workers need to both answer


def healthz_count(base: str) -> float:
    status, _, body = get(f"{base}/metrics")
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "kia_http_requests_total" and sample.labels == {
                    "method": "GET", "endpoint": "/healthz", "status": "200"}:
                return sample.value
    return 0.0


def workers_that_counted(folder: Path) -> set[str]:
    names = (re.fullmatch(r"counter_(\d+)\.db", path.name) for path in folder.glob("counter_*.db"))
    return {name[1] for name in names if name}


@pytest.mark.parametrize("launcher", ["gunicorn.conf.py", "kia issuer serve"])
def test_metrics_add_up_across_gunicorn_workers(tmp_path: Path, launcher: str) -> None:
    home, counters = tmp_path / "office", tmp_path / "metrics"
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE, PROMETHEUS_MULTIPROC_DIR=str(counters))
    kia("issuer", "init", "--home", str(home), env=env)
    if launcher == "gunicorn.conf.py":
        env |= {"KIA_HOME": str(home), "KIA_BIND": "127.0.0.1:0", "KIA_WORKERS": "2"}
        command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "issuer:create_app()"]
    else:
        command = [str(BIN / "kia"), "issuer", "serve", "--home", str(home), "--port", "0", "--workers", "2"]
    with running(command, env) as base:
        address = urllib.parse.urlsplit(base)
        sent = 0
        for _ in range(MAX_ROUNDS):
            # A connection that sends nothing holds one sync worker; the request then goes to the other.
            with socket.create_connection((address.hostname, address.port), timeout=10):
                status, _, _ = get(f"{base}/healthz")
            assert status == 200
            sent += 1
            if len(workers_that_counted(counters)) >= 2:
                break
        assert len(workers_that_counted(counters)) == 2, "both workers should have answered"
        # Whichever worker answers the scrape, it counts every worker's requests.
        readings = [healthz_count(base) for _ in range(6)]
        assert readings == [sent] * 6
