"""Go's golang.org/x/mod/sumdb/tlog and sumdb/note as an independent oracle (the .go programs here).

Debian's golang-go and golang-golang-x-mod-dev (which ``make test`` installs)
hold them, and they build offline in GOPATH mode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
GOPATH = Path("/usr/share/gocode")  # where Debian's golang-golang-x-mod-dev puts golang.org/x/mod


def build(program: str, folder: Path) -> Path:
    """Build ``program`` (a .go file here) into ``folder``; fail the test when Go or x/mod is missing."""
    go = shutil.which("go")
    if go is None or not (GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb" / "tlog").is_dir():
        pytest.fail("Go's sumdb/tlog is needed as the oracle: apt-get install golang-go golang-golang-x-mod-dev "
                    "(make test does)")
    binary = folder / Path(program).stem
    subprocess.run([go, "build", "-o", str(binary), str(HERE / program)], check=True, env=_go_env(folder),
                   timeout=600)
    return binary


def _go_env(folder: Path) -> dict[str, str]:
    keep = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG")}
    return keep | {"GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(folder / "cache"), "GOFLAGS": "",
                   "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}


def ask(binary: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Run the oracle on one JSON request; its JSON answer."""
    result = subprocess.run([str(binary)], input=json.dumps(request), capture_output=True, text=True, check=True,
                            timeout=300)
    return json.loads(result.stdout)  # type: ignore[no-any-return]
