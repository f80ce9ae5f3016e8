"""The wheel as the README tells each machine to install it, not the editable tree.

The wheel is built from the checkout's files (what git tracks, plus new files
not ignored) in a folder of its own, so nothing beside the tree leaks in; then
each extra goes into a fresh virtual environment and runs from a folder that
is not the project's, so every import comes from the installed package:
- `.[issuer]` starts an office (init, issue, export), serves `/healthz`, and
  signs a trust list as the air-gapped signer does (no home) for import;
- `.[verifier]` alone verifies a card, from its QR text and its NDEF record,
  against the exported list;
- `.[bridge]` reads the printed QR image back to the token;
- `.[hsm]` signs on a fresh SoftHSM token, and the signature verifies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from zipfile import ZipFile

import pytest

from tests.e2e.processes import ROOT, clean_env, running
from tests.factories import aged

pytestmark = pytest.mark.installed

PACKAGES = ("keys", "issuer", "verifier", "firmware_bridge", "kia")
PASSPHRASE = "installed-wheel-passphrase-0000"
# The test's own now: the installed commands read the same clock.
TODAY = dt.date.today()


def installed_env() -> dict[str, str]:
    """The shell's environment without KIA_ settings or a PYTHONPATH that could reach the checkout."""
    return {name: value for name, value in clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE).items() if name != "PYTHONPATH"}


def run(command: list[str | Path], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command``; on failure, fail the test with what it printed."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, input=stdin, capture_output=True, text=True,
                            env=installed_env())
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def checkout_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                             capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.fail(f"the wheel is built from a git checkout's files: {listing.stderr.strip()}")
    return [name for name in listing.stdout.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", dist, source], cwd=source)
    (built,) = dist.glob("kia_verification-*.whl")
    return built


def install(wheel: Path, extra: str, folder: Path) -> Path:
    """A fresh virtual environment with ``wheel[extra]``; the path of its ``kia``."""
    run([sys.executable, "-m", "venv", folder], cwd=folder.parent)
    run([folder / "bin" / "python", "-m", "pip", "install", "--quiet", f"{wheel}[{extra}]"], cwd=folder.parent)
    return folder / "bin" / "kia"


@dataclasses.dataclass(frozen=True)
class Office:
    kia: Path
    home: Path
    card: dict[str, str]
    published: Path


@pytest.fixture(scope="module")
def office(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Office:
    work = tmp_path_factory.mktemp("office")
    kia = install(wheel, "issuer", work / "venv")
    home = work / "home"
    run([kia, "issuer", "init", "--home", home], cwd=work)
    birth = aged(8, TODAY)
    card = json.loads(run([kia, "issuer", "card", "issue", "--home", home, "--birth-date", birth.isoformat(),
                           "--region", "3372", "--out", work / "cards"], cwd=work).stdout)
    run([kia, "issuer", "trustlist", "export", "--home", home, "--out", work / "published"], cwd=work)
    return Office(kia, home, card, work / "published")


def test_the_wheel_carries_every_file_of_the_packages(wheel: Path) -> None:
    # Migrations, templates, static files: whatever the packages read at run time.
    tracked = {name for name in checkout_files() if name.split("/")[0] in PACKAGES}
    with ZipFile(wheel) as archive:
        carried = set(archive.namelist())
    assert sorted(tracked - carried) == []


def test_the_issuer_extra_starts_an_office_and_serves(office: Office, tmp_path: Path) -> None:
    assert {path.name for path in office.published.iterdir()} == {"trustlist.jws", "root.jwk", "jwks.json"}
    assert all(Path(office.card[name]).stat().st_size > 0 for name in ("qr_png", "qr_svg", "ndef"))
    command = [str(office.kia), "issuer", "serve", "--home", str(office.home), "--port", "0", "--workers", "1"]
    with running(command, installed_env(), cwd=tmp_path) as base, \
            urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:  # noqa: S310 (loopback)
        assert answer.status == 200 and json.loads(answer.read())["trust_list_seq"] >= 1


def test_the_issuer_extra_signs_offline_and_imports(office: Office, tmp_path: Path) -> None:
    signer = tmp_path / "offline"
    signer.mkdir()
    shutil.copy2(office.home / "keys" / "root.key", signer / "root.key")
    prepared = json.loads(run([office.kia, "issuer", "trustlist", "prepare", "--home", office.home,
                               "--out", tmp_path / "request.json"], cwd=tmp_path).stdout)
    # The signer has the kia command, the root key and the request: no home, no database.
    run([office.kia, "issuer", "trustlist", "sign", "--root-key", "root.key", "--in", tmp_path / "request.json",
         "--out", tmp_path / "bundle.json", "--fingerprint", prepared["fingerprint"]], cwd=signer)
    imported = json.loads(run([office.kia, "issuer", "trustlist", "import", "--home", office.home,
                               tmp_path / "bundle.json"], cwd=tmp_path).stdout)
    assert imported["seq"] == prepared["seq"]


@pytest.fixture(scope="module")
def verifier(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(wheel, "verifier", tmp_path_factory.mktemp("verifier") / "venv")


def verify(kia: Path, office: Office, card: str, cwd: Path, stdin: str | None = None) -> dict[str, object]:
    command = [kia, "verifier", "verify", "--trust-anchor", office.published / "root.jwk",
               "--trust-list", office.published / "trustlist.jws", *(["--ndef", card] if stdin is None else ["-"])]
    answer: dict[str, object] = json.loads(run(command, cwd, stdin).stdout)
    return answer


def test_the_verifier_extra_alone_verifies_a_card(office: Office, verifier: Path, tmp_path: Path) -> None:
    from_qr = verify(verifier, office, "-", tmp_path, stdin=office.card["token"])
    from_ndef = verify(verifier, office, office.card["ndef"], tmp_path)
    assert (from_qr["accepted"], from_qr["serial"]) == (True, office.card["serial"])
    assert (from_ndef["accepted"], from_ndef["serial"]) == (True, office.card["serial"])


def test_the_bridge_extra_reads_a_printed_qr(office: Office, verifier: Path, wheel: Path, tmp_path: Path) -> None:
    kia = install(wheel, "bridge", tmp_path / "venv")
    # As the README pipes it: the bridge reads the printed code, a terminal's kia verifies what it read.
    scanned = run([kia, "bridge", "read-image", office.card["qr_png"], "--raw"], cwd=tmp_path).stdout
    verified = verify(verifier, office, "-", tmp_path, stdin=scanned)
    assert (verified["accepted"], verified["serial"]) == (True, office.card["serial"])


def test_the_audit_extra_checks_the_offices_log_and_export(office: Office, verifier: Path, wheel: Path,
                                                           tmp_path: Path) -> None:
    """An auditor's machine: only kia-verification[audit], talking to the office's service over loopback."""
    origin = "kia.installed.example/log"
    key = json.loads(run([office.kia, "issuer", "log", "init", "--home", office.home, "--origin", origin],
                         cwd=tmp_path).stdout)["verifier_key"]
    run([office.kia, "issuer", "log", "publish", "--home", office.home], cwd=tmp_path)
    run([office.kia, "issuer", "log", "write-tiles", "--home", office.home, tmp_path / "tiles"], cwd=tmp_path)
    password = "audit-password-for-the-wheel-test"
    subprocess.run([str(office.kia), "issuer", "user", "add", "--home", str(office.home), "--username", "auditor",
                    "--role", "auditor"], cwd=tmp_path, env=installed_env() | {"KIA_NEW_USER_PASSWORD": password},
                   check=True, capture_output=True)
    kia = install(wheel, "audit", tmp_path / "venv")

    checked = run([kia, "audit", "log", tmp_path / "tiles", "--origin", origin, "--key", key,
                   "--state", tmp_path / "state"], cwd=tmp_path)
    assert checked.stdout.startswith("TERVERIFIKASI / VERIFIED")
    day = TODAY.isoformat()
    command = [str(office.kia), "issuer", "serve", "--home", str(office.home), "--port", "0", "--workers", "1"]
    with running(command, installed_env(), cwd=tmp_path) as base:
        subprocess.run([str(kia), "audit", "export", "--url", base, "--user", "auditor", "--from", day, "--to", day,
                        "--out", str(tmp_path / "export"), "--format", "both"], cwd=tmp_path, check=True,
                       env=installed_env() | {"KIA_AUDIT_PASSWORD": password}, capture_output=True)
        run([kia, "audit", "log", f"{base}/api/v1/log", "--origin", origin, "--key", key,
             "--state", tmp_path / "state", "--export", tmp_path / "export"], cwd=tmp_path)
    run([kia, "audit", "verify", tmp_path / "export"], cwd=tmp_path)
    run([kia, "audit", "revenue", tmp_path / "export"], cwd=tmp_path)
    anomalies = json.loads(run([kia, "audit", "anomalies", tmp_path / "export", "--json"], cwd=tmp_path).stdout)
    assert anomalies["anomalies"] == []  # no records: nothing to find, but DuckDB read the Parquet files
    # The auditor's machine checks a published trust list too; a terminal's, without DuckDB, as well.
    for machine in (kia, verifier):
        run([machine, "audit", "trustlist", "--trust-anchor", office.published / "root.jwk",
             office.published / "trustlist.jws"], cwd=tmp_path)


# Run by the hsm extra's Python, from outside the checkout: a key made on the token signs, and verifies.
HSM_SCRIPT = """
import sys
from keys import hsm, jws
with hsm.open_token(sys.argv[1], "kia-wheel", "271828") as token:
    key = token.generate_ed25519_key("issuing")
    signed = jws.sign({"sub": "wheel"}, key, key.kid, "kia-test+jwt")
    print(jws.verify(signed, key.public_key(), "EdDSA").decode())
"""


def test_the_hsm_extra_signs_on_a_token(wheel: Path, tmp_path: Path) -> None:
    module = Path("/usr/lib/softhsm/libsofthsm2.so")
    if not module.is_file() or shutil.which("softhsm2-util") is None:
        pytest.fail("the hsm extra is tested on Debian's softhsm2 (make softhsm installs it)")
    kia = install(wheel, "hsm", tmp_path / "venv")
    (tmp_path / "tokens").mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    environment = installed_env() | {"SOFTHSM2_CONF": str(config)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "kia-wheel", "--pin", "271828",
                    "--so-pin", "31415926"], check=True, capture_output=True, env=environment)
    result = subprocess.run([str(kia.parent / "python"), "-c", HSM_SCRIPT, str(module)], cwd=tmp_path,
                            capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"sub": "wheel"}
