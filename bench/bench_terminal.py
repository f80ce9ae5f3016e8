"""The partner terminal's budgets, measured in one run (issue 4).

1. Scan to committed decision: ``decide`` then ``TerminalLog.append`` (WAL,
   synchronous=FULL, one transaction a scan) on a real file: p99 <= 10 ms;
   also while a sync thread reads and acknowledges batches.
2. ``decide`` alone against a bare ``Ed25519PublicKey.verify`` of the same
   token, interleaved round by round: median ratio <= 1.6.
3. With 1,000,000 revoked serials: a lookup <= 10 us; the full signed list
   <= 10 MB; a delta of 1,000 new revocations <= 20 KB; load and verify the
   full list (a proxy of start-up); RSS of a process holding the list and an
   open log <= 100 MB.
4. Opening the log (quick_check, or integrity_check, and the chain) with many
   records kept.

    .venv/bin/python bench/bench_terminal.py [--serials 1000000] [--scans 3000] [--records 100000]
        [--parts scan decide list open process] [--no-wait]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench_sync_ingest import wait_for_quiet
from common import NOW, machine, sample_tokens
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import (
    RevokedSerials,
    TrustList,
    apply_delta,
    build_trust_list,
    public_jwk,
    sign_delta,
    sign_trust_list,
    verify_card,
    verify_trust_list,
)
from keys.chain import GENESIS, chain_hash
from keys.jwk import b64url_decode
from keys.serial import SERIAL_BITS, serial_from_value
from verifier.decision import Decision, History, Service, decide
from verifier.log import _INSERT, TerminalLog, _row

ROOT = Path(__file__).resolve().parents[1]
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
BUDGETS = {"scan_p99_ms": 10.0, "decide_ratio": 1.6, "lookup_us": 10.0, "full_mb": 10.0, "delta_kb": 20.0,
           "rss_mb": 100.0}
SERVICE = Service.from_json({
    "code": "bioskop-reguler", "name": "Bioskop reguler", "prices": {"0-4": 0, "5-12": 35_000, "13-16": 50_000},
    "discount": {"kind": "percent", "value": 33}, "daily_limit": 3, "passback_seconds": 600,
})
TOKENS = 200
ROUNDS = 41
PARTS = ("scan", "decide", "list", "open", "process")


def verdict(value: float, budget: float) -> str:
    return "met" if value <= budget else "MISSED"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- 3. the trust list at scale ---------------------------------------------------------------


def big_lists(trust: TrustList, serials: int, now: int) -> tuple[Ed25519PrivateKey, TrustList, str, str, float]:
    """A fresh root key, its list of ``serials`` revoked serials, the signed list and a delta of 1,000."""
    rng = random.Random(2026)
    values: set[int] = set()
    while len(values) < serials:
        values.add(rng.randrange(2**SERIAL_BITS))
    root = Ed25519PrivateKey.generate()
    listed = build_trust_list(7, trust.keys, RevokedSerials(values), now)
    started = time.perf_counter()
    full = sign_trust_list(listed, root)
    signing = time.perf_counter() - started
    added: set[int] = set()
    while len(added) < 1000:
        value = rng.randrange(2**SERIAL_BITS)
        if value not in values:
            added.add(value)
    after = build_trust_list(8, trust.keys, listed.revoked.union(added), now + 3600)
    delta = sign_delta(7, listed.revoked, after, root)
    return root, listed, full, delta, signing


def bench_lists(root: Ed25519PrivateKey, listed: TrustList, full: str, delta: str, signing: float,
                now: int) -> dict[str, float]:
    public = root.public_key()
    loads = []
    for _ in range(5):
        started = time.perf_counter()
        verified = verify_trust_list(full, public, now)
        loads.append(time.perf_counter() - started)
    applies = []
    for _ in range(5):
        started = time.perf_counter()
        apply_result = apply_delta(verified, delta, public, now + 3600)
        applies.append(time.perf_counter() - started)
    assert len(apply_result.revoked) == len(listed.revoked) + 1000
    rng = random.Random(5)
    present = [serial_from_value(value) for value in rng.sample(list(listed.revoked), 1000)]
    absent = [serial_from_value(rng.randrange(2**SERIAL_BITS)) for _ in range(1000)]
    probes = present + absent
    revoked = verified.revoked
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for serial in probes:
            serial in revoked  # noqa: B015 (the lookup is the point)
        rounds.append((time.perf_counter() - started) / len(probes))
    figures = {
        "full_mb": len(full) / 1e6,
        "delta_kb": len(delta) / 1e3,
        "load_s": statistics.median(loads),
        "apply_s": statistics.median(applies),
        "lookup_us": statistics.median(rounds) * 1e6,
        "sign_s": signing,
    }
    print(f"\n3. trust list with {len(listed.revoked):,} revoked serials (fresh root key, keys.sign_trust_list)")
    print(f"   full signed list     {figures['full_mb']:8.2f} MB   budget 10 MB: "
          f"{verdict(figures['full_mb'], BUDGETS['full_mb'])}")
    print(f"   delta of 1,000 new   {figures['delta_kb']:8.2f} KB   budget 20 KB: "
          f"{verdict(figures['delta_kb'], BUDGETS['delta_kb'])}")
    print(f"   lookup (serial in)   {figures['lookup_us']:8.2f} us   median of {ROUNDS} rounds of 2,000 "
          f"(half revoked); budget 10 us: {verdict(figures['lookup_us'], BUDGETS['lookup_us'])}")
    print(f"   load + verify full   {figures['load_s'] * 1e3:8.0f} ms   median of 5")
    print(f"   apply the delta      {figures['apply_s'] * 1e3:8.0f} ms   median of 5")
    print(f"   (office) sign full   {signing * 1e3:8.0f} ms   once")
    return figures


# --- 1. scan to committed decision --------------------------------------------------------------


def bench_scans(tokens: list[str], trust: TrustList, directory: Path, scans: int, now: int,
                syncing: bool) -> dict[str, float]:
    path = directory / ("scan-sync.db" if syncing else "scan.db")
    log = TerminalLog.open(path, WIB)
    stop = threading.Event()
    batches = 0

    def sync() -> None:  # what the background sync does between network round trips
        nonlocal batches
        while not stop.is_set():
            batch = log.pending(500)
            if batch:
                log.acknowledge(batch[-1].seq)
                batches += 1
            stop.wait(0.05)

    thread = threading.Thread(target=sync) if syncing else None
    if thread:
        thread.start()
    samples = []
    reasons: dict[str, int] = {}
    try:
        for index in range(scans):
            token = tokens[index % len(tokens)]
            at = now + index
            started = time.perf_counter()
            decision, _ = log.decide_and_append(
                lambda history, token=token, at=at: decide(token, trust, SERVICE, history, at), at)
            samples.append(time.perf_counter() - started)
            reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
    finally:
        stop.set()
        if thread:
            thread.join()
        log.close()
    figures = {name: percentile(samples, share) * 1e3
               for name, share in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999))}
    figures["max"] = max(samples) * 1e3
    label = "with a sync thread (pending 500, acknowledge, every 50 ms)" if syncing else "alone"
    print(f"   {label}: {scans} scans, reasons {dict(sorted(reasons.items()))}")
    print("   " + "  ".join(f"{name} {value:6.2f} ms" for name, value in figures.items())
          + f"   budget p99 10 ms: {verdict(figures['p99'], BUDGETS['scan_p99_ms'])}"
          + (f"   ({batches} batches acknowledged)" if syncing else ""))
    return figures


# --- 2. decide() against a bare verification -------------------------------------------------


def bench_decide(tokens: list[str], trust: TrustList, log: TerminalLog, now: int) -> dict[str, float]:
    """Each token through the four paths one after the other, every call timed.

    Interleaving call by call (not loop by loop) puts the four paths through
    the same moments of a shared, noisy machine, and rotating their order
    gives none the warm caches of going after the others; the figures are
    medians of all calls.
    """
    key = trust.keys[0].public_key
    inputs = {token: _bare_input(token) for token in tokens}
    nothing = History(0, None)
    paths: list[tuple[str, Callable[[str], object]]] = [
        ("bare", lambda token: key.verify(*inputs[token])),
        ("verify_card", lambda token: verify_card(token, trust, now)),
        ("decide", lambda token: decide(token, trust, SERVICE, lambda *_: nothing, now)),
        ("decide+log history", lambda token: decide(token, trust, SERVICE, log.history, now)),
    ]
    samples: dict[str, list[int]] = {name: [] for name, _ in paths}
    clock = time.perf_counter_ns
    for _ in range(ROUNDS):
        for index, token in enumerate(tokens):
            shift = index % len(paths)  # each path takes each place in turn: no path always goes first
            for name, path in paths[shift:] + paths[:shift]:
                started = clock()
                path(token)
                samples[name].append(clock() - started)
    medians = {name: statistics.median(values) / 1e3 for name, values in samples.items()}
    print(f"\n2. decide() against a bare Ed25519 verify: {len(tokens)} tokens x {ROUNDS} rounds, interleaved call by"
          f" call, {len(trust.revoked):,} revoked serials")
    for name, value in medians.items():
        print(f"   {name:19} median {value:7.1f} us   ratio {value / medians['bare']:.2f}")
    ratio = medians["decide"] / medians["bare"]
    print(f"   budget (decide <= {BUDGETS['decide_ratio']} x bare): {verdict(ratio, BUDGETS['decide_ratio'])}"
          f" ({ratio:.2f})")
    return medians | {"ratio": ratio}


def _bare_input(token: str) -> tuple[bytes, bytes]:
    """The signature and signing input a bare Ed25519 verification of ``token`` takes."""
    signing_input, signature = token.rsplit(".", 1)
    return b64url_decode(signature), signing_input.encode("ascii")


# --- 4. opening a log with many records -----------------------------------------------------


def fill_log(path: Path, records: int, now: int) -> None:
    """``records`` chained records written in one transaction (faster than one commit each)."""
    TerminalLog.open(path, WIB).close()
    accepted = decide_template(now)
    rows, previous = [], GENESIS
    for index in range(records):
        record = accepted.record(index + 1, now + index * 30)
        previous = chain_hash(previous, record)
        rows.append(_row(record) + (previous,))
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    connection.executemany(_INSERT, rows)
    connection.execute("COMMIT")
    connection.close()  # the last connection checkpoints the -wal into the file


def decide_template(now: int) -> Decision:
    """An accepted decision, as a scan gives."""
    tokens, trust = sample_tokens(1, seed_ages=(9,))
    assert isinstance(trust, TrustList)
    return decide(tokens[0], trust, SERVICE, lambda *_: History(0, None), now)


def bench_open(path: Path, records: int) -> dict[str, float]:
    figures: dict[str, list[float]] = {"quick_check": [], "integrity_check": [], "chain": [], "open": []}
    for _ in range(5):
        for check in ("quick_check", "integrity_check"):
            with sqlite3.connect(path) as connection:
                started = time.perf_counter()
                connection.execute(f"PRAGMA {check}").fetchall()
                figures[check].append(time.perf_counter() - started)
        started = time.perf_counter()
        log = TerminalLog.open(path, WIB)
        figures["open"].append(time.perf_counter() - started)
        started = time.perf_counter()
        log.verify_chain()
        figures["chain"].append(time.perf_counter() - started)
        log.close()
    medians = {name: statistics.median(values) * 1e3 for name, values in figures.items()}
    print(f"\n4. opening a log of {records:,} kept records ({path.stat().st_size / 1e6:.1f} MB), median of 5")
    print(f"   PRAGMA quick_check {medians['quick_check']:7.0f} ms   (integrity_check "
          f"{medians['integrity_check']:.0f} ms)")
    print(f"   chain from the base {medians['chain']:6.0f} ms")
    print(f"   TerminalLog.open   {medians['open']:7.0f} ms   (integrity_check + schema + chain, read-only, then WAL)")
    return medians


# --- 3b. a process holding the list and a log -------------------------------------------------

_HOLDER = """
import time
began = time.perf_counter()
import datetime as dt, json, sys
from pathlib import Path
from keys import load_public_jwk, verify_trust_list
from verifier.decision import decide
from verifier.log import TerminalLog
imported = time.perf_counter()
def status():
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")}
baseline = status()
root = load_public_jwk(json.loads(Path(sys.argv[1]).read_text()))
trust = verify_trust_list(Path(sys.argv[2]).read_text(), root, int(sys.argv[4]), accept_expired=True)
loaded = time.perf_counter()
log = TerminalLog.open(Path(sys.argv[3]), dt.timezone(dt.timedelta(hours=7)))
opened = time.perf_counter()
print(json.dumps({"imports_s": imported - began, "load_s": loaded - imported, "open_s": opened - loaded,
                  "baseline": baseline, "ready": status(), "revoked": len(trust.revoked), "head": log.head()[0]}))
"""


def bench_holder(root: Ed25519PrivateKey, full: str, log_path: Path, directory: Path, now: int) -> dict[str, float]:
    anchor, listed = directory / "root.jwk", directory / "trustlist.jws"
    anchor.write_text(json.dumps(public_jwk(root.public_key())))
    listed.write_text(full)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        output = subprocess.run(
            [sys.executable, "-c", _HOLDER, str(anchor), str(listed), str(log_path), str(now)],
            check=True, capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        ).stdout
        runs.append((time.perf_counter() - started, json.loads(output)))
    wall, figures = sorted(runs, key=lambda run: run[0])[1]  # the median run by wall time
    ready, baseline = figures["ready"], figures["baseline"]
    print(f"\n3b. a fresh process: imports, verifies the {figures['revoked']:,}-serial list from disk, opens the"
          f" log ({figures['head']:,} records); median of 3 runs")
    print(f"   imports {figures['imports_s'] * 1e3:.0f} ms, list {figures['load_s'] * 1e3:.0f} ms,"
          f" log {figures['open_s'] * 1e3:.0f} ms; process start to ready {wall * 1e3:.0f} ms")
    print(f"   RSS after imports {baseline['VmRSS']:.1f} MB; ready {ready['VmRSS']:.1f} MB"
          f" (peak {ready['VmHWM']:.1f} MB); budget 100 MB: {verdict(ready['VmHWM'], BUDGETS['rss_mb'])}")
    return {"wall_s": wall, "rss_mb": ready["VmRSS"], "peak_mb": ready["VmHWM"], "base_mb": baseline["VmRSS"],
            **{name: figures[name] for name in ("imports_s", "load_s", "open_s")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=3000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="where the logs go (default: a temporary directory)")
    parser.add_argument("--no-wait", action="store_true", help="start at once, not when the shared machine is quiet")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="what to measure (default: all)")
    options = parser.parse_args()
    now = int(NOW.timestamp())
    tokens, small = sample_tokens(TOKENS)
    assert isinstance(small, TrustList)
    print(f"machine: {machine()}; SQLite {sqlite3.sqlite_version}; load average {os.getloadavg()[0]:.2f}")
    print(f"building a list of {options.serials:,} revoked serials ...", flush=True)
    root, listed, full, delta, signing = big_lists(small, options.serials, now)
    trust = verify_trust_list(full, root.public_key(), now)
    if not options.no_wait:
        waited = wait_for_quiet()
        print(f"waited {waited:.0f} s for the shared machine to be quiet; load average {os.getloadavg()[0]:.2f}")
    parts = set(options.parts)
    with tempfile.TemporaryDirectory(dir=options.dir) as name:
        directory = Path(name)
        if "scan" in parts:
            print(f"\n1. scan to committed decision (decide + append, WAL, synchronous=FULL) in {directory}")
            bench_scans(tokens, trust, directory, options.scans, now, syncing=False)
            bench_scans(tokens, trust, directory, options.scans, now, syncing=True)
        if "decide" in parts:
            with TerminalLog.open(directory / "scan.db", WIB) as log:
                bench_decide(tokens, trust, log, now + options.scans)
        if "list" in parts:
            bench_lists(root, listed, full, delta, signing, now)
        if parts & {"open", "process"}:
            big_log = directory / "big.db"
            fill_log(big_log, options.records, now)
            if "open" in parts:
                bench_open(big_log, options.records)
            if "process" in parts:
                bench_holder(root, full, big_log, directory, now)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
