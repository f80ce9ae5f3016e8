"""An auditor's tools against the office's service, as separate processes over HTTP on loopback.

`kia issuer serve` runs an office whose terminals synced a month of scans
(tests.factories.audit_data); `kia audit export` fetches the month with an
auditor's password from the environment, and `kia audit verify` and `kia
audit revenue` check it from the files alone.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.processes import BIN, clean_env, running
from tests.factories import DAY, NOW, WIB
from tests.factories.audit_data import audit_scene
from tests.factories.offices import PASSPHRASE, PASSWORD, open_office

MONTH = dt.datetime.fromtimestamp(NOW, WIB).date().replace(day=1)


@pytest.fixture
def office(tmp_path: Path) -> Path:
    home = open_office(tmp_path / "office", None, NOW - 40 * DAY)
    audit_scene(home, NOW)
    home.close()
    return home.path


def audit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "kia"), "audit", *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_an_auditor_exports_a_month_over_http_and_verifies_it(office: Path, tmp_path: Path) -> None:
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE)
    serve = [str(BIN / "kia"), "issuer", "serve", "--home", str(office), "--port", "0", "--workers", "1"]
    with running(serve, env) as base:
        period = ["--url", base, "--user", "auditor", "--from", f"{MONTH}", "--to", f"{MONTH.replace(day=28)}"]
        wrong = audit("export", *period, "--out", str(tmp_path / "refused"),
                      env=clean_env(KIA_AUDIT_PASSWORD="not the password"))
        fetched = audit("export", *period, "--out", str(tmp_path / "export"), "--format", "both",
                        env=clean_env(KIA_AUDIT_PASSWORD=PASSWORD))

    assert wrong.returncode == 1 and "refused the username or password" in wrong.stderr
    assert not (tmp_path / "refused").exists()
    assert fetched.returncode == 0, fetched.stderr
    files = json.loads(fetched.stdout)["files"]
    assert files["redemptions.csv"] == files["redemptions.parquet"] > 0

    verified = audit("verify", str(tmp_path / "export"), "--require-checkpoint", "--json", env=clean_env())
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["records"] == files["redemptions.csv"]
    revenue = audit("revenue", str(tmp_path / "export"), "--lang", "en", env=clean_env())
    assert revenue.returncode == 0 and "The office's figures match the records." in revenue.stdout


def test_a_tampered_export_fails_with_a_line_per_record_and_a_malformed_one_exits_2(office: Path,
                                                                                   tmp_path: Path) -> None:
    from issuer.audit_export import write_export
    from issuer.storage.store import IssuerHome
    from tests.factories import ACTOR
    from tests.factories.audit_exports import rewrite

    home = IssuerHome(office)
    write_export(home, tmp_path / "export", MONTH, MONTH.replace(day=28), None, ("csv",), NOW, by=ACTOR)
    home.close()
    rewrite(tmp_path / "export", "redemptions.csv",
            lambda data: data.replace(b",100000000,5000,99995000,", b",10000,5000,5000,"))
    failed = audit("verify", str(tmp_path / "export"), "--lang", "en", env=clean_env())
    assert failed.returncode == 1
    assert "#5: hash_mismatch (record changed after it was chained)" in failed.stdout
    assert failed.stdout.rstrip().endswith("NOT VERIFIED")

    (tmp_path / "export" / "terminals.csv").unlink()
    malformed = audit("verify", str(tmp_path / "export"), env=clean_env())
    assert malformed.returncode == 2 and malformed.stdout == ""
    assert malformed.stderr == "kia: terminals.csv is listed in manifest.json but missing\n"
