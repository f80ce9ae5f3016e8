"""A real terminal with 1,000,000 revoked serials: start-up to ready, and its memory.

Builds a terminal home as enrolment leaves it (root key pinned, a signed
full trust list with N revoked serials, signed rules, a log holding some
decisions), then starts ``kia verifier serve`` several times and measures
from the process start to its ``Listening at`` line (the list verified and
decoded, the log checked), and the process's resident memory (VmRSS, VmHWM)
after 200 scans.  Prints medians.

    python bench/bench_terminal_start.py [--revoked 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402, I001

from keys import Card, issue_card, public_jwk  # noqa: E402
from keys.revocation import RevokedSerials  # noqa: E402
from keys.serial import serial_from_value  # noqa: E402
from keys.trustlist import build_trust_list, sign_trust_list  # noqa: E402
from kia.processes import Server, kia_command  # noqa: E402
from tests.factories import make_issuing_key  # noqa: E402
from tests.terminal_home import TERMINAL_ID, signed_config  # noqa: E402
from verifier.home import Identity, TerminalHome  # noqa: E402
from verifier.local import LocalVerifierClient  # noqa: E402


class _Trust:
    """Just what tests.terminal_home.signed_config needs: the newest signer."""

    def __init__(self, signer: tuple) -> None:
        self.signer = signer


def build_home(folder: Path, revoked: int, now: int) -> tuple[TerminalHome, str, int]:
    root = Ed25519PrivateKey.generate()
    signer = make_issuing_key(now - 86400)
    rng = random.Random(7)  # noqa: S311 (benchmark data)
    serials = RevokedSerials(rng.randrange(1, 32**7) for _ in range(revoked))
    trust_list = build_trust_list(1, [signer[1]], serials, now)
    token = sign_trust_list(trust_list, root)
    home = TerminalHome(folder)
    key = home.create_key(None, unencrypted_for_development=True)
    home.save_full_trust_list(token)
    home.save_config(signed_config(_Trust(signer), now))  # type: ignore[arg-type]
    home.save_enrolment(Identity(TERMINAL_ID, "kia-office:bench", "http://127.0.0.1:9", home.key_id(key), now),
                        public_jwk(root.public_key()))
    card = Card(serial_from_value(12345), 3372, 201805, now - 60, now + 5 * 365 * 86400)
    return home, issue_card(card, signer[0], signer[1].kid), len(token)


def memory(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--revoked", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    now = int(time.time())
    with tempfile.TemporaryDirectory() as folder:
        built = time.perf_counter()
        home, token, size = build_home(Path(folder) / "home", args.revoked, now)
        print(f"{args.revoked:,} revoked serials: full trust list {size / 1e6:.2f} MB "
              f"(built in {time.perf_counter() - built:.1f} s)")
        starts, rss, peak = [], [], []
        for run in range(args.runs):
            server = Server("terminal", [kia_command(), "verifier", "serve", "--home", str(home.path), "--port", "0",
                                         "--no-sync", "--insecure-dev-unencrypted-keys"],
                            {"PATH": "/usr/bin:/bin"}, Path(folder) / "serve.log")
            began = time.perf_counter()
            url = server.start()
            starts.append(time.perf_counter() - began)
            client = LocalVerifierClient(url)
            for index in range(200):
                client.scan(token if index % 2 else "garbage", "wedge")
            client.close()
            resident, high = memory(server.process.pid)  # type: ignore[union-attr]
            rss.append(resident)
            peak.append(high)
            server.stop()
            print(f"run {run + 1}: ready in {starts[-1] * 1000:.0f} ms, RSS {resident} MB (peak {high} MB)")
        print(f"median: start-up to ready {statistics.median(starts) * 1000:.0f} ms, "
              f"RSS {statistics.median(rss)} MB, peak {statistics.median(peak)} MB")


if __name__ == "__main__":
    main()
