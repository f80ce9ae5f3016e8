"""Signing a card token through SoftHSM (PKCS#11) against software Ed25519, side by side.

Each round signs the same card once with an Ed25519 key on a throwaway
SoftHSM token (keys.hsm.issue_card: CKM_EDDSA over PKCS#11) and once with a
software key (keys.issue_card), interleaved, so machine noise hits both
alike.  Prints the median of each.  Needs Debian's softhsm2 (make softhsm)
and python-pkcs11 (the hsm extra); the token lives in a temporary folder.

    python bench/bench_hsm.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import Card, hsm, issue_card, kid_for
from keys.serial import serial_from_value

ROUNDS = 1000
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "bench-pin-1234"
CARD = Card(
    serial=serial_from_value(0x1234567), region=3372, birth_month=201805, issued_at=1795316400, expires_at=2000000000
)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "tokens").mkdir()
        config = Path(folder) / "softhsm2.conf"
        config.write_text(f"directories.tokendir = {folder}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
        os.environ["SOFTHSM2_CONF"] = str(config)
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", PIN, "--so-pin", PIN],
            check=True,
            capture_output=True,
        )
        software = Ed25519PrivateKey.generate()
        software_kid = kid_for(software.public_key())
        with hsm.open_token(MODULE, "bench", PIN) as token:
            key = token.generate_ed25519_key("bench-issuing")
            signers = {
                "softhsm": lambda: hsm.issue_card(CARD, key),
                "software": lambda: issue_card(CARD, software, software_kid),
            }
            samples: dict[str, list[float]] = {name: [] for name in signers}
            for round_number in range(ROUNDS):
                order = list(signers) if round_number % 2 else list(reversed(signers))  # neither always first
                for name in order:
                    start = time.perf_counter()
                    signers[name]()
                    samples[name].append(time.perf_counter() - start)
    print(f"{machine()}, load average {os.getloadavg()[0]:.2f}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, median in medians.items():
        print(f"{name:9} median {median * 1e6:8.1f} µs per card token ({ROUNDS} interleaved rounds)")
    print(f"softhsm / software: {medians['softhsm'] / medians['software']:.2f}x")


if __name__ == "__main__":
    main()
