"""The Golomb-Rice code of revoked serials (keys.golomb) against today's zlib of gaps, and issue 14's budgets.

Prints, for uniformly random serial values:
- the code's size for 1,000,000 serials against the information bound and
  against ``RevokedSerials.encode()`` (its JSON, base64 included, and its raw zlib bytes);
- encode and decode times, medians of ``--rounds``, for 1,000,000 and
  5,000,000 serials, both codecs interleaved in the same run;
- a delta of 1,000 serials: size and time to build;
- a terminal's peak RSS (``resource.getrusage`` in a fresh child process)
  holding 5,000,000 serials decoded from each form, and the time of a lookup
  over 100,000 lookups, half of them revoked serials.

    python bench/bench_revocation_codec.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from keys import golomb  # noqa: E402
from keys.jwk import b64url_decode  # noqa: E402
from keys.revocation import RevokedSerials  # noqa: E402
from keys.serial import SERIAL_BITS  # noqa: E402

MB = 1_000_000
SEED = 20261204


def random_values(count: int, seed: int = SEED, serial_bits: int = SERIAL_BITS) -> array[int]:
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    return array("Q", sorted(rng.sample(range(2**serial_bits), count)))


def timed(function, rounds: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def sizes(values: array[int]) -> None:
    count = len(values)
    bound = golomb.information_bound_bits(count) / 8
    code = golomb.encode(values)
    today = RevokedSerials._from_sorted(values).encode()
    today_json, today_zlib = len(json.dumps(today, separators=(",", ":"))), len(b64url_decode(today["z"]))
    print(f"\nsizes, {count:,} serials of {SERIAL_BITS} bits (budget 3 MB raw):")
    print(f"  information bound      {bound / MB:6.3f} MB  ({8 * bound / count:.2f} bits a serial)")
    print(f"  golomb (k={code[4]}, raw)     {len(code) / MB:6.3f} MB  ({8 * len(code) / count:.2f} bits a serial, "
          f"bound + {100 * (len(code) / bound - 1):.2f}%)")
    print(f"  golomb, base64url      {4 * -(-len(code) // 3) / MB:6.3f} MB")
    print(f"  today: zlib of gaps    {today_zlib / MB:6.3f} MB raw, {today_json / MB:.3f} MB as JSON+base64 "
          f"(golomb raw is {100 * len(code) / today_json:.0f}% of it)")
    wide = random_values(count, serial_bits=40)
    wide_code, wide_bound = golomb.encode(wide, serial_bits=40), golomb.information_bound_bits(count, 40) / 8
    print(f"  in a 40-bit space      {len(wide_code) / MB:6.3f} MB against a bound of {wide_bound / MB:.3f} MB")


def speeds(count: int, rounds: int) -> None:
    values = random_values(count)
    revoked = RevokedSerials._from_sorted(values)
    code, encoded = golomb.encode(values), revoked.encode()
    samples: dict[str, list[float]] = {"golomb encode": [], "golomb decode": [], "today encode": [], "today decode": []}
    for _ in range(rounds):  # interleaved: both codecs see the same load
        for label, function in (("golomb encode", lambda: golomb.encode(values)),
                                ("golomb decode", lambda: golomb.decode(code)),
                                ("today encode", revoked.encode),
                                ("today decode", lambda: RevokedSerials.decode(encoded))):
            start = time.perf_counter()
            function()
            samples[label].append(time.perf_counter() - start)
    assert golomb.decode(code) == values
    print(f"\n{count:,} serials, median of {rounds} (budget: encode 1,000,000 in 1 s):")
    for label, times in samples.items():
        print(f"  {label:14} {statistics.median(times):7.3f} s   (min {min(times):.3f}, max {max(times):.3f})")


def delta(rounds: int) -> None:
    values = random_values(1000, seed=SEED + 1)
    build, code = timed(lambda: golomb.encode(values), max(rounds, 50))
    today_build, today = timed(lambda: RevokedSerials._from_sorted(values).encode(), max(rounds, 50))
    bound = golomb.information_bound_bits(1000) / 8
    print("\ndelta of 1,000 serials (budget 6 KB, 50 ms):")
    print(f"  golomb: {len(code):,} bytes raw, {4 * -(-len(code) // 3):,} base64url (bound {bound:,.0f}), "
          f"built in {1000 * build:.2f} ms")
    print(f"  today:  {len(json.dumps(today, separators=(',', ':'))):,} bytes JSON+base64, "
          f"built in {1000 * today_build:.2f} ms")


def run_child(*arguments: str) -> str:
    return subprocess.run([sys.executable, __file__, "--child", *arguments], check=True,
                          capture_output=True, text=True).stdout


def child(form: str, path: str) -> None:
    """A terminal: loads ``path`` (or, as "write", writes both forms there) and reports its peak RSS as JSON."""
    if form == "write":
        values = random_values(int(Path(path, "count").read_text()))
        Path(path, "golomb").write_bytes(golomb.encode(values))
        Path(path, "today").write_text(json.dumps(RevokedSerials._from_sorted(values).encode()))
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = Path(path).read_bytes()
    start = time.perf_counter()
    values = golomb.decode(data) if form == "golomb" else RevokedSerials.decode(json.loads(data))._values
    decoded = time.perf_counter() - start
    del data
    rng = random.Random(SEED + 2)  # noqa: S311
    probes = [values[rng.randrange(len(values))] if i % 2 else rng.randrange(2**SERIAL_BITS) for i in range(100_000)]
    found = 0
    start = time.perf_counter()
    for probe in probes:
        index = bisect.bisect_left(values, probe)
        found += index < len(values) and values[index] == probe
    lookup = (time.perf_counter() - start) / len(probes)
    assert found >= len(probes) // 2
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_mb": before / 1024, "peak_mb": after / 1024, "hwm_mb": high_water_mark_mb(),
                      "decode_s": decoded, "lookup_us": 1e6 * lookup}))


def high_water_mark_mb() -> float:
    """VmHWM: this process image's own peak RSS (Linux), to check getrusage, which also counts the parent's RSS
    at the moment it spawned the child."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return float("nan")
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 1024


def terminals(count: int) -> None:
    # Run first and with the data written by a child: a child's ru_maxrss starts at the parent's RSS.
    with tempfile.TemporaryDirectory(prefix="kia-bench-golomb-") as folder:
        Path(folder, "count").write_text(str(count))
        run_child("write", folder)
        parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nterminal holding {count:,} serials (fresh child process; budget 100 MB peak, lookups under 5 µs; "
              f"this parent's RSS, a floor for a child's getrusage, {parent:.1f} MB):")
        for form in ("golomb", "today"):
            path = Path(folder, form)
            report = json.loads(run_child(form, str(path)))
            print(f"  {form:6} input {path.stat().st_size / MB:5.1f} MB: peak RSS {report['peak_mb']:5.1f} MB "
                  f"(VmHWM {report['hwm_mb']:.1f} MB; interpreter and imports {report['before_mb']:.1f} MB), "
                  f"decoded in {report['decode_s']:.2f} s, lookup {report['lookup_us']:.2f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("FORM", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"{machine()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    terminals(5_000_000)
    sizes(random_values(1_000_000))
    delta(args.rounds)
    for count in (1_000_000, 5_000_000):
        speeds(count, args.rounds)
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
