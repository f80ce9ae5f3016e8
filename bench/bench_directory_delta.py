"""Bytes a terminal downloads for one change in a national directory of 514 offices: full vs delta.

Run: .venv/bin/python -m bench.bench_directory_delta

The ministry's directory lists 514 regency/city offices (keys made here,
thrown away); one office rotates its root and the ministry signs the next
sequence.  A terminal at the previous sequence downloads either the full
directory or the delta (``kia national publish`` serves both; the terminal
asks for ``directory-deltas/SEQ.jws`` first).  The figures are the bodies'
sizes in bytes, as served (no compression: the terminal asks for none),
and what gzip would make of them for a server that compresses.  Sizes do
not depend on the machine or its load.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.directory import (
    Office,
    OfficeState,
    apply_directory_delta,
    build_directory,
    sign_directory,
    sign_directory_delta,
    verify_directory,
)
from keys.eligibility import is_valid_region

OFFICES = 514
NOW = int(dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC).timestamp())
YEAR = 365 * 86400


def main() -> None:
    regions = [region for region in range(1101, 9800) if is_valid_region(region)][:OFFICES]
    assert len(regions) == OFFICES
    offices = [Office(region, Ed25519PrivateKey.generate().public_key(), OfficeState.ACTIVE, NOW - YEAR,
                      NOW + 5 * YEAR) for region in regions]
    national = Ed25519PrivateKey.generate()
    old = build_directory(1, offices, NOW)
    offices[200] = dataclasses.replace(offices[200], root=Ed25519PrivateKey.generate().public_key())  # a rotation
    new = build_directory(2, offices, NOW + 86400)
    full = sign_directory(new, national)
    delta = sign_directory_delta(old, new, national)
    held = verify_directory(sign_directory(old, national), national.public_key(), NOW)
    assert apply_directory_delta(held, delta, national.public_key(), NOW + 86400) == new

    print(f"offices: {OFFICES}, one root rotated, sequence 1 -> 2")
    for name, token in (("full directory", full), ("delta", delta)):
        body = (token + "\n").encode("ascii")
        print(f"{name:15} {len(body):8d} bytes   gzip {len(gzip.compress(body)):8d} bytes")
    saved = len(full) - len(delta)
    print(f"saved by the delta: {saved} bytes ({100 * saved / (len(full) + 1):.1f}% of the full directory)")


if __name__ == "__main__":
    main()
