"""``kia demo``: the whole system, as separate processes, in one command.

The demo reads the real clock and makes its own keys; what it must always
show is the same set of decisions (cards accepted from QR and NFC, each kind
of rejection a terminal meets) and an office report that equals, to the
rupiah, what the three terminals logged.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from verifier.messages import MESSAGES

REJECTIONS = ("card_revoked", "expired", "aged_out", "unknown_key", "bad_signature", "daily_limit")
WORDS = {"id": ("DITERIMA", "DITOLAK", "diterima"), "en": ("ACCEPTED", "REJECTED", "accepted")}


def demo_env(cwd: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
    (cwd / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(cwd / "tmp")
    return env


def kia() -> str:
    return str(Path(sys.executable).parent / "kia")


def run_demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``kia demo`` with its temporary files under ``cwd/tmp``."""
    return subprocess.run([kia(), "demo", *args], cwd=cwd, env=demo_env(cwd), capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_demo_runs_the_office_and_three_terminals_and_reports_their_revenue(lang: str, tmp_path: Path) -> None:
    result = run_demo(*(["--lang", lang] if lang == "en" else []), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b[" not in result.stdout  # no colour codes when piped
    accepted, rejected, summary_word = WORDS[lang]
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == (["Terminal", "Kartu"] if lang == "id" else ["Terminal", "Card"])
    rows = [line for line in lines if f"  {accepted}  " in line or f"  {rejected}  " in line]
    accepted_rows = [row for row in rows if f"  {accepted}  " in row]
    assert {row.split("  ")[0] for row in rows} == {"Bioskop Solo Paragon", "Kolam Renang Tirtomoyo",
                                                    "Batik Solo Trans"}
    assert all(row.endswith(MESSAGES["accepted"][lang]) for row in accepted_rows)
    assert any(" QR " in row for row in accepted_rows) and any(" NFC " in row for row in accepted_rows)
    reasons = {match[1] for row in rows if (match := re.search(rf"  {rejected}  +-  +(\w+): ", row))}
    assert reasons == set(REJECTIONS)
    assert f"{len(accepted_rows)}/{len(rows)} {summary_word}" in result.stdout
    # Nothing of the demo (keys, passphrase, cards, servers' files) is left behind without --home.
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_office_report_equals_what_the_terminals_logged(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = run_demo("--home", str(folder), "--lang", "en", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    terminals = sorted(folder.glob("terminal-*"))
    assert len(terminals) == 3
    logged = {}
    for home in terminals:
        identity = json.loads((home / "terminal.json").read_text())
        assert not (home / "serve.json").exists()  # each terminal stopped cleanly
        with sqlite3.connect(home / "log.db") as log:
            logged[identity["terminal_id"]] = log.execute(
                "select count(*), sum(paid * accepted), sum(discount * accepted) from records").fetchone()
    with sqlite3.connect(folder / "office" / "kia-issuer.db") as office:
        stored = {terminal: (count, paid, discount) for terminal, count, paid, discount in office.execute(
            "select terminal_id, count(*), sum(case when accepted then paid else 0 end),"
            " sum(case when accepted then discount else 0 end) from redemptions group by terminal_id")}
    assert stored == logged
    report = result.stdout.split("\n\n")[-1].splitlines()
    nets = {line.split("  ")[0]: line.split()[-1] for line in report[2:]}
    assert nets == {"Bioskop Solo Paragon": "Rp45.000", "Kolam Renang Tirtomoyo": "Rp25.000",
                    "Batik Solo Trans": "Rp0"}
    passphrase = folder / "passphrase.txt"
    assert passphrase.stat().st_mode & 0o777 == 0o600
    assert passphrase.read_text(encoding="ascii") not in result.stdout + result.stderr


def test_the_demo_with_serve_leaves_everything_running_until_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen([kia(), "demo", "--serve", "--lang", "en"], cwd=tmp_path, env=demo_env(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        urls = []
        for line in process.stdout:
            if match := re.search(r"(http://127\.0\.0\.1:\d+)/", line):
                urls.append(match[1])
            if line.startswith("Ctrl-C"):
                break
        assert len(urls) == 4  # the office and three terminals
        for url in urls:
            with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:  # noqa: S310 (loopback)
                assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        finally:
            process.kill()  # never left running by a failed test (its servers stop when it does)
    assert code == 0
    assert list((tmp_path / "tmp").iterdir()) == []
