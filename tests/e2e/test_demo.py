"""``kia demo``: the whole story, issuing to verifying, as one real process.

The demo reads the real clock and makes its own keys; what it must always
show is the same set of decisions: cards accepted from QR and NFC, and each
kind of rejection a terminal meets.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.messages import MESSAGES

REJECTIONS = ("card_revoked", "expired", "aged_out", "unknown_key", "bad_signature")
WORDS = {"id": ("DITERIMA", "DITOLAK", "diterima"), "en": ("ACCEPTED", "REJECTED", "accepted")}


def run_demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``kia demo`` with its temporary files under ``cwd/tmp``."""
    kia = shutil.which("kia") or str(Path(sys.executable).parent / "kia")
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
    (cwd / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(cwd / "tmp")
    return subprocess.run(
        [kia, "demo", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_demo_accepts_genuine_cards_and_rejects_each_kind_of_bad_one(lang: str, tmp_path: Path) -> None:
    result = run_demo(*(["--lang", lang] if lang == "en" else []), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b[" not in result.stdout  # no colour codes when piped
    accepted, rejected, summary_word = WORDS[lang]
    heading, *lines = result.stdout.splitlines()
    assert heading.split()[:2] == (["Kartu", "Anak"] if lang == "id" else ["Card", "Child"])
    rows = [line for line in lines if f"  {accepted}  " in line or f"  {rejected}  " in line]
    accepted_rows = [row for row in rows if f"  {accepted}  " in row]

    assert accepted_rows, result.stdout
    assert all(MESSAGES["accepted"][lang] in row for row in accepted_rows)
    assert any(" QR " in row for row in accepted_rows) and any(" NFC " in row for row in accepted_rows)
    reasons = {match[1] for row in rows if (match := re.search(rf"  {rejected}  +(\w+): ", row))}
    assert reasons == set(REJECTIONS)
    for reason in REJECTIONS:
        (row,) = [row for row in rows if f"{rejected}  {reason}: " in re.sub(r" {2,}", "  ", row)]
        assert row.endswith(MESSAGES[reason][lang])
    assert f"{len(accepted_rows)}/{len(rows)} {summary_word}" in lines[-1]
    # Nothing of the demo (keys, passphrase, cards) is left behind when no --home is given.
    assert list((tmp_path / "tmp").iterdir()) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tmp"]


def test_the_demo_keeps_its_files_in_home_when_asked(tmp_path: Path) -> None:
    result = run_demo("--home", str(tmp_path / "demo"), "--lang", "en", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    folder = tmp_path / "demo"
    assert (folder / "office" / "kia-issuer.db").is_file()
    assert sorted(path.name for path in (folder / "published").iterdir()) == ["jwks.json", "root.jwk", "trustlist.jws"]
    cards = sorted((folder / "cards").iterdir())
    assert {path.suffix for path in cards} == {".png", ".svg", ".ndef"} and len(cards) % 3 == 0
    passphrase = folder / "passphrase.txt"
    assert passphrase.stat().st_mode & 0o777 == 0o600
    assert passphrase.read_text(encoding="ascii") not in result.stdout + result.stderr
