"""Power cuts under the real terminal and its office: nothing answered is lost, the totals agree.

The terminal's home and the office's SQLite database live on the power-cut
filesystem (tests/powerloss/lazyfs.py).  Each cycle restarts the terminal
from its home in a fresh process, scans cards through its own API and
syncs with the office now and then (tests/powerloss/terminal_worker.py),
until the power is cut at a change of the mount drawn at random: the
filesystem keeps what was synced, and nothing, an ordered part or an
unordered part of the rest; the process is killed and the mount comes back
from what the disk kept.  Then:

- the log passes the checks it runs at every start (SQLite's integrity
  check and its chain, on a read-only connection, so that what a cut left
  in the -wal stays for the terminal's next restart, itself cut at random)
  and holds every decision the API answered, as answered;
- the office's database passes its integrity check, holds no record the
  terminal lost, and the terminal believes the office holds no more than
  it does;
- every few cycles, and at the end, a sync that runs to the end makes the
  office's report equal the terminal's own totals.

Deterministic for a seed (KIA_POWERLOSS_SEED, printed on failure).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer import reports
from issuer.storage.store import IssuerHome
from keys.eligibility import WIB
from tests.powerloss.mount import ROOT, Cut, Lines, PowerLossMount, next_line, power_loss_mount
from tests.powerloss.terminal_worker import Setup, open_terminal, set_up
from verifier.log import TerminalLog

SEED = int(os.environ.get("KIA_POWERLOSS_SEED", "20261203"))
CYCLES = int(os.environ.get("KIA_POWERLOSS_CYCLES", "120"))
FULL_SYNC_EVERY = 20
MODES = ("drop", "prefix", "reorder")
# The cut comes at one of the first MAX_CHANGES changes of a cycle: a scan makes about 4 (WAL frames
# and their sync), a sync with the office about 100, the restart a few.
MAX_CHANGES = 600
RESTART_CHANGES = 8


@dataclasses.dataclass(frozen=True)
class Answered:
    accepted: bool
    price: int
    discount: int
    paid: int


@dataclasses.dataclass
class Tally:
    """Where the cuts fell, to show the test reached what it claims to."""

    modes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    during_restart: int = 0
    during_sync: int = 0
    during_scans: int = 0
    kept_unsynced: int = 0
    answered: int = 0
    full_syncs: int = 0


class Worker:
    """tests/powerloss/terminal_worker.py, and what its children print."""

    def __init__(self, setup_file: Path, stderr: Path) -> None:
        self.stderr_path = stderr
        self.stderr = stderr.open("wb")
        process = subprocess.Popen([sys.executable, "-m", "tests.powerloss.terminal_worker", str(setup_file)],
                                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=self.stderr)
        self.lines = Lines("the terminal worker", process)

    def errors(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.lines.stdin.close()
        try:
            self.lines.process.wait(timeout=30)
        finally:
            if self.lines.process.poll() is None:
                self.lines.process.kill()
            self.stderr.close()


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[PowerLossMount]:
    with power_loss_mount(tmp_path) as mount:
        yield mount


def cut_cycle(mount: PowerLossMount, worker: Worker, rng: random.Random, answered: dict[int, Answered],
              tally: Tally) -> None:
    """Scan and sync until the power is cut at a random change; the mount comes back."""
    mode = rng.choice(MODES)
    # One cut in ten among the first changes, where the terminal restarts (WAL recovery, a new log).
    mount.arm(rng.randint(1, RESTART_CHANGES if rng.random() < 0.1 else MAX_CHANGES), mode, rng.getrandbits(32))
    worker.lines.send(f"scan {rng.getrandbits(32)}")
    pid, phase, cut = None, "restart", None
    while True:
        source, line = next_line(mount.lines, worker.lines)
        if source is mount.lines:
            cut = Cut.parse(line)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):  # dead already of the I/O errors
                    os.kill(pid, signal.SIGKILL)
            continue
        word, *rest = line.split()
        if word == "pid":
            pid = int(rest[0])
        elif word == "answer":
            seq, accepted, price, discount, paid = map(int, rest)
            answered[seq] = Answered(bool(accepted), price, discount, paid)
            tally.answered += 1
        elif cut is None and word in ("opened", "synced"):
            phase = "scans"
        elif cut is None and word == "sync":
            phase = "sync"
        elif word == "exit":
            if cut is None:  # the cut is told before the child sees its first I/O error
                source, line = next_line(mount.lines, timeout=10)
                assert line.startswith("cut"), f"the terminal died before the power cut:\n{worker.errors()}"
                cut = Cut.parse(line)
            break
    tally.modes[mode] += 1
    tally.kept_unsynced += cut.kept
    setattr(tally, f"during_{phase}", getattr(tally, f"during_{phase}") + 1)
    mount.remount()


def read_only(path: Path) -> sqlite3.Connection:
    """A connection that never checkpoints on close: what a cut left in a -wal stays for the next cycle."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)


def check_after_restart(setup: Setup, answered: dict[int, Answered]) -> None:
    """The log holds every answered decision, its checks pass; the office holds nothing the terminal lost."""
    path = Path(setup.terminal_home) / "log.db"
    assert not [item.name for item in path.parent.iterdir() if ".corrupt-" in item.name]
    if not path.exists():  # cut before the terminal first made its log
        assert not answered
        return
    with TerminalLog(read_only(path), path, WIB) as log:
        log._check()  # what TerminalLog.open runs at every start: SQLite's integrity check, then the chain
        records = {record.seq: record for record in log.recent(10**9)}
        lost = sorted(seq for seq in answered if seq not in records)
        assert not lost, f"answered decisions {lost[:10]} are not in the log after the power cut"
        changed = [seq for seq, answer in answered.items()
                   if Answered(records[seq].accepted, records[seq].price, records[seq].discount,
                               records[seq].paid) != answer]
        assert not changed, f"logged decisions {changed[:10]} differ from what the API answered"
        head, _ = log.head()
        hashes = {seq: log.hash_at(seq).hex() for seq in records}
        acknowledged = log.acknowledged()
    with contextlib.closing(read_only(Path(setup.office_home) / "kia-issuer.db")) as office:
        assert office.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = dict(office.execute("SELECT seq, hash FROM redemptions"))
        (office_acknowledged,) = office.execute("SELECT acknowledged_seq FROM terminals").fetchone()
    assert sorted(stored) == list(range(1, office_acknowledged + 1))
    assert office_acknowledged <= head, "the office holds records the terminal's log lost"
    assert [seq for seq in stored if stored[seq] != hashes[seq]] == []
    assert acknowledged <= office_acknowledged, "the terminal believes the office holds records it lost"


def sync_to_the_end(worker: Worker) -> None:
    worker.lines.send("sync")
    said: list[str] = []
    while True:
        _, line = next_line(worker.lines)
        if line.startswith("exit"):
            assert line == "exit 0" and said[-1].startswith("synced"), f"the sync failed: {said}\n{worker.errors()}"
            return
        if not line.startswith("pid"):
            said.append(line)


def check_totals(setup: Setup) -> None:
    """The office's report of the partner equals the terminal's own log."""
    with contextlib.closing(read_only(Path(setup.terminal_home) / "log.db")) as log:
        scans, accepted, gross, discount, net = log.execute(
            "SELECT count(*), sum(accepted), sum(price * accepted), sum(discount * accepted), sum(paid * accepted)"
            " FROM records").fetchone()
    home = IssuerHome(Path(setup.office_home))
    try:
        today = dt.date.today()  # the scans were made at the real time, as the office's API reads it
        days = reports.figures(home, "partner", "day", today - dt.timedelta(days=3), today + dt.timedelta(days=3))
    finally:
        home.close()
    office = [sum(getattr(row, name) for row in days) for name in ("scans", "accepted", "gross", "discount", "net",
                                                                    "held")]
    assert office == [scans, accepted, gross, discount, net, 0], "the office's totals differ from the terminal's"


def test_every_answered_scan_survives_power_cuts_and_the_office_counts_what_the_terminal_counts(
        mount: PowerLossMount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    print(f"power-loss seed: {SEED} (set KIA_POWERLOSS_SEED to replay)")
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", "sync-test passphrase 2026-11")  # tests.factories.offices.PASSPHRASE
    setup = set_up(mount.path / "terminal", mount.path / "office", tmp_path / "published")
    mount.persist()  # installed, then shut down cleanly
    setup_file = tmp_path / "setup.json"
    setup_file.write_text(json.dumps(dataclasses.asdict(setup)), encoding="utf-8")
    worker = Worker(setup_file, tmp_path / "worker.err")
    rng = random.Random(SEED)
    answered: dict[int, Answered] = {}
    tally = Tally()
    cycle = 0
    try:
        for cycle in range(1, CYCLES + 1):
            cut_cycle(mount, worker, rng, answered, tally)
            check_after_restart(setup, answered)
            if cycle % FULL_SYNC_EVERY == 0:
                sync_to_the_end(worker)
                check_totals(setup)
                tally.full_syncs += 1
    except AssertionError as failure:
        raise AssertionError(f"power-loss seed {SEED}, cycle {cycle}: {failure}") from failure
    finally:
        worker.close()
    print(f"power-loss cycles: {CYCLES}, {tally}")

    assert tally.answered > 10 * CYCLES
    assert min(tally.modes[mode] for mode in MODES) >= CYCLES // 5
    assert tally.during_sync >= CYCLES // 10 and tally.during_scans >= CYCLES // 4
    assert tally.during_restart >= CYCLES // 20
    assert tally.kept_unsynced > 0


# --- a cut just after installation ------------------------------------------------------------------------


def installed(mount: PowerLossMount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """The office initialised and the terminal enrolled in folders that existed before; then the power is cut."""
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", "sync-test passphrase 2026-11")
    (mount.path / "srv").mkdir()
    mount.persist()  # the folder the installer made for both homes was there long before
    setup = set_up(mount.path / "srv" / "terminal", mount.path / "srv" / "office", tmp_path / "published")
    mount.cut("drop")
    mount.remount()
    return setup


def test_a_power_cut_just_after_issuer_init_keeps_the_office_and_its_keys(
        mount: PowerLossMount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = installed(mount, tmp_path, monkeypatch)

    keys = sorted(item.name for item in (Path(setup.office_home) / "keys").glob("*"))
    home = IssuerHome(Path(setup.office_home))
    try:
        problems = [*([] if home.exists() else ["its kia-office marker is empty or gone"]),
                    *([] if len(keys) >= 2 else [f"its private keys are gone (keys/ holds {keys})"])]
    finally:
        home.close()
    assert not problems, f"after the cut the office is not whole: {'; '.join(problems)}"


def test_a_power_cut_just_after_enrolment_keeps_the_terminals_home(
        mount: PowerLossMount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = installed(mount, tmp_path, monkeypatch)

    open_terminal(setup).close()
