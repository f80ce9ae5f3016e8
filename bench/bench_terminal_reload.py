"""A serving terminal takes a trust list that another process put in its home: how soon.

Starts ``kia verifier serve --no-sync`` on a home as enrolment leaves it, then,
round after round, writes the next full trust list (one more revoked serial)
into the home the way ``kia verifier sync`` does (write, fsync, rename) and
measures from the rename to the moment the running terminal refuses the
newly revoked card through its local scan API.  Also prints what the watcher
costs when nothing changed (one look at the home, every 0.25 s) and a scan's
round trip through the local API while the watcher runs.  Each list lands
at a random moment of the watcher's 0.25 s interval.

    python bench/bench_terminal_reload.py [--revoked 0] [--rounds 20]
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

from bench.common import machine  # noqa: E402
from keys import Card, issue_card  # noqa: E402
from keys.revocation import RevokedSerials  # noqa: E402
from keys.serial import serial_from_value  # noqa: E402
from keys.trustlist import build_trust_list, sign_trust_list  # noqa: E402
from kia.processes import Server, kia_command  # noqa: E402
from tests.factories import make_trust  # noqa: E402
from tests.terminal_home import enrolled_home  # noqa: E402
from verifier.home import TerminalHome  # noqa: E402
from verifier.local import LocalVerifierClient  # noqa: E402
from verifier.terminal import Terminal  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revoked", type=int, default=0, help="revoked serials already in the list")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    now = int(time.time())
    rng = random.Random(20261201)  # noqa: S311 (moments, not secrets)
    base = [serial_from_value(value) for value in range(1, args.revoked + 1)]
    trust = make_trust(now - 60, revoked=base)
    private, key = trust.signer
    cards = [serial_from_value(2**34 + index) for index in range(args.rounds)]
    tokens = [issue_card(Card(serial, 3372, 201805, now - 60, now + 365 * 86400), private, key.kid)
              for serial in cards]

    with tempfile.TemporaryDirectory(prefix="kia-bench-reload-") as folder:
        home, terminal_key = enrolled_home(Path(folder) / "home", trust, now - 60)
        server = Server("terminal", [kia_command(), "verifier", "serve", "--home", str(home.path), "--port", "0",
                                     "--no-sync", "--insecure-dev-unencrypted-keys"], {}, Path(folder) / "serve.log")
        client = LocalVerifierClient(server.start())
        try:
            latencies, scans = [], []
            for round_, token in enumerate(tokens):
                started = time.perf_counter()
                assert client.scan(token, "api").accepted
                scans.append(time.perf_counter() - started)
                revoked = RevokedSerials.from_serials([*base, *cards[: round_ + 1]])
                listed = build_trust_list(round_ + 2, [key], revoked, int(time.time()))
                signed = sign_trust_list(listed, trust.root)
                time.sleep(rng.uniform(0, 0.25))  # land anywhere in the watcher's interval, as a sync would
                home.save_full_trust_list(signed)
                landed = time.perf_counter()
                while client.scan(token, "api").reason != "card_revoked":  # refused by the rules until then
                    pass
                latencies.append(time.perf_counter() - landed)
        finally:
            client.close()
            server.stop()

        # The watcher's look when nothing changed, in this process on the same home.
        terminal = Terminal.open(TerminalHome(home.path), terminal_key, int(time.time()))
        looks = 2000
        started = time.perf_counter()
        for _ in range(looks):
            terminal.reload_if_changed(int(time.time()))
        look = (time.perf_counter() - started) / looks
        terminal.close()

    print(f"bench_terminal_reload ({machine()}), list of {args.revoked:,} + 1..{args.rounds} revoked serials,"
          f" {args.rounds} rounds")
    print(f"  trust list landed in the home -> revoked card refused by the running terminal: median "
          f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    print(f"  one look at the home when nothing changed (every 0.25 s): {look * 1e6:.1f} us")
    print(f"  scan through the local API while the watcher runs: median {statistics.median(scans) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
