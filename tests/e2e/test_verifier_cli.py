"""``kia verifier`` on a terminal home, as an operator meets its errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from kia.processes import kia_command
from tests.factories import NOW, make_trust
from tests.terminal_home import TERMINAL_ID, enrolled_home


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
    return subprocess.run([kia_command(), "verifier", *args, "--insecure-dev-unencrypted-keys"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_status_reports_the_terminal_as_json(tmp_path: Path) -> None:
    home, _ = enrolled_home(tmp_path / "home", make_trust(NOW), NOW)

    result = run("status", "--home", str(home.path))

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["terminal_id"] == TERMINAL_ID and status["partner"] == "Bioskop Solo Paragon"
    assert status["pending"] == 0 and status["today"]["scans"] == 0


def test_a_corrupt_log_at_start_is_a_clear_error_and_the_damaged_file_is_kept(tmp_path: Path) -> None:
    home, _ = enrolled_home(tmp_path / "home", make_trust(NOW), NOW)
    home.log_path.write_bytes(b"\x00garbage, not a database\xff" * 100)

    result = run("serve", "--home", str(home.path), "--port", "0", "--no-sync")

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning: --insecure-dev")]
    assert len(errors) == 1 and errors[0].startswith("kia: ") and "Traceback" not in result.stderr
    kept = [path for path in home.path.iterdir() if path.name.startswith("log.db.corrupt")]
    assert len(kept) == 1 and kept[0].name in result.stderr
    assert kept[0].read_bytes().startswith(b"\x00garbage")


def test_a_home_that_was_never_enrolled_says_how_to_enrol(tmp_path: Path) -> None:
    result = run("serve", "--home", str(tmp_path / "empty"))

    assert result.returncode == 2
    assert "kia verifier enroll" in result.stderr
