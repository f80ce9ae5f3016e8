"""The trust list in its two forms side by side (issue 14, docs/adr/0002), against issue 14's budgets.

For uniformly random serial values, form 1 (``kia-tl``, zlib'd gaps in
base64url JSON in a base64url payload) and form 2 (``kia-tl2``, Golomb-Rice
code base64url'd once in an unencoded payload), each signed by
``keys.trustlist.sign_trust_list``:

- 1,000,000 serials: the signed list's size, the time to sign it and to
  verify it (medians of ``--rounds``);
- a delta of 1,000 new serials onto it: size, time to sign, time to apply;
- 5,000,000 serials at a terminal: a fresh child process reads the signed
  file and verifies it (as ``TerminalHome.load_trust_list`` does), then
  reports its peak RSS (``VmHWM``) and the median time of a lookup over
  rounds of 2,000 (half of them revoked).

Budgets (issue 14): 1M signed <= 3 MB and <= 1 s; the delta <= 6 KB and
<= 50 ms; 5M at a terminal < 100 MB peak, lookups < 5 us.  They apply to
form 2; form 1 is printed for comparison.

    .venv/bin/python bench/bench_trust_list_forms.py [--rounds 3] [--serials 1000000] [--terminal 5000000]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench.common import machine  # noqa: E402
from keys import RevokedSerials, TrustList, apply_delta, build_trust_list, verify_trust_list  # noqa: E402
from keys.serial import SERIAL_BITS  # noqa: E402
from keys.trustlist import sign_delta, sign_trust_list  # noqa: E402

NOW = 1_790_000_000
BUDGETS = {"full_mb": 3.0, "sign_s": 1.0, "delta_kb": 6.0, "delta_ms": 50.0, "rss_mb": 100.0, "lookup_us": 5.0}

# The terminal: a fresh interpreter that loads the list as TerminalHome.load_trust_list does.
CHILD = """
import json, random, statistics, sys, time
from pathlib import Path
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from keys import verify_trust_list
from keys.serial import serial_from_value, SERIAL_BITS
from verifier import home  # what a terminal has imported when it loads its list
public = load_pem_public_key(Path(sys.argv[2]).read_bytes())
started = time.perf_counter()
trust = verify_trust_list(Path(sys.argv[1]).read_text(encoding="ascii"), public, int(sys.argv[3]))
load = time.perf_counter() - started
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child started by a large parent reports the parent's.
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
rng = random.Random(5)
present = [serial_from_value(trust.revoked._values[rng.randrange(len(trust.revoked))]) for _ in range(1000)]
probes = present + [serial_from_value(rng.randrange(2**SERIAL_BITS)) for _ in range(1000)]
rounds = []
for _ in range(41):
    began = time.perf_counter()
    for serial in probes:
        serial in trust.revoked
    rounds.append((time.perf_counter() - began) / len(probes))
print(json.dumps({"peak_mb": peak, "load_s": load, "lookup_us": statistics.median(rounds) * 1e6,
                  "count": len(trust.revoked)}))
"""


def verdict(value: float, budget: float) -> str:
    return "met" if value <= budget else "MISSED"


def timed(function: Callable[[], object], rounds: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


def random_values(count: int, seed: int) -> list[int]:
    return random.Random(seed).sample(range(2**SERIAL_BITS), count)


def bench_lists(serials: int, rounds: int) -> dict[int, dict[str, float]]:
    root = Ed25519PrivateKey.generate()
    public = root.public_key()
    values = random_values(serials, 2026)
    listed = build_trust_list(7, (), RevokedSerials(values), NOW)
    present = set(values)
    added = [value for value in random_values(1100, 7) if value not in present][:1000]
    after = build_trust_list(8, (), listed.revoked.union(added), NOW + 3600)
    figures: dict[int, dict[str, float]] = {}
    for form in (1, 2):
        sign_s, full = timed(functools.partial(sign_trust_list, listed, root, form=form), rounds)
        assert isinstance(full, str)
        verify_s, verified = timed(functools.partial(verify_trust_list, full, public, NOW), rounds)
        delta_s, delta = timed(functools.partial(sign_delta, 7, listed.revoked, after, root, form=form), 5)
        assert isinstance(delta, str) and isinstance(verified, TrustList)
        apply_s, applied = timed(functools.partial(apply_delta, verified, delta, public, NOW + 3600), 5)
        assert applied == after
        figures[form] = {"full_mb": len(full) / 1e6, "sign_s": sign_s, "verify_s": verify_s,
                         "delta_kb": len(delta) / 1e3, "delta_ms": delta_s * 1e3, "apply_ms": apply_s * 1e3}
    print(f"\nA list of {serials:,} serials and a delta of 1,000 new ones (medians of {rounds}, deltas of 5)")
    print(f"   {'':22} {'form 1 (kia-tl)':>16} {'form 2 (kia-tl2)':>17}   budget (form 2)")
    rows = [("signed list, MB", "full_mb", "{:.3f}"), ("sign, s", "sign_s", "{:.3f}"),
            ("verify + decode, s", "verify_s", "{:.3f}"), ("delta, KB", "delta_kb", "{:.2f}"),
            ("sign delta, ms", "delta_ms", "{:.1f}"), ("apply delta, ms", "apply_ms", "{:.1f}")]
    for label, name, spec in rows:
        budget = BUDGETS.get(name)
        tail = f"<= {budget:g}: {verdict(figures[2][name], budget)}" if budget else ""
        print(f"   {label:22} {spec.format(figures[1][name]):>16} {spec.format(figures[2][name]):>17}   {tail}")
    return figures


def bench_terminal(serials: int) -> dict[int, dict[str, float]]:
    root = Ed25519PrivateKey.generate()
    listed = build_trust_list(7, (), RevokedSerials(random_values(serials, 5)), NOW)
    figures: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        key_path = Path(folder) / "root.pem"
        key_path.write_bytes(root.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        for form in (1, 2):
            token_path = Path(folder) / f"trustlist-{form}.jws"
            token_path.write_text(sign_trust_list(listed, root, form=form), encoding="ascii")
            size = token_path.stat().st_size
            out = subprocess.run([sys.executable, "-c", CHILD, str(token_path), str(key_path), str(NOW)],
                                 capture_output=True, text=True, check=False, cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            if out.returncode:  # form 1 of 5,000,000 serials is over the 16 MiB cap of any list
                reason = out.stderr.strip().splitlines()[-1]
                print(f"   form {form}: the terminal refused the list: {reason}")
                nan = float("nan")
                figures[form] = {"peak_mb": nan, "load_s": nan, "lookup_us": nan, "file_mb": size / 1e6}
                continue
            figures[form] = json.loads(out.stdout) | {"file_mb": size / 1e6}
            assert figures[form]["count"] == serials
    print(f"\nA terminal loading {serials:,} revoked serials (fresh process: read the file, verify, decode)")
    print(f"   {'':22} {'form 1 (kia-tl)':>16} {'form 2 (kia-tl2)':>17}   budget (form 2)")
    print(f"   {'file, MB':22} {figures[1]['file_mb']:>16.2f} {figures[2]['file_mb']:>17.2f}")
    print(f"   {'load, s':22} {figures[1]['load_s']:>16.2f} {figures[2]['load_s']:>17.2f}")
    print(f"   {'peak RSS, MB':22} {figures[1]['peak_mb']:>16.1f} {figures[2]['peak_mb']:>17.1f}   "
          f"< {BUDGETS['rss_mb']:g}: {verdict(figures[2]['peak_mb'], BUDGETS['rss_mb'])}")
    print(f"   {'lookup, us':22} {figures[1]['lookup_us']:>16.2f} {figures[2]['lookup_us']:>17.2f}   "
          f"< {BUDGETS['lookup_us']:g}: {verdict(figures[2]['lookup_us'], BUDGETS['lookup_us'])}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serials", type=int, default=1_000_000)
    parser.add_argument("--terminal", type=int, default=5_000_000)
    args = parser.parse_args()
    print(f"machine: {machine()}; load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    bench_lists(args.serials, args.rounds)
    bench_terminal(args.terminal)
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
