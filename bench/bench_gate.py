"""A gate's latency: from a SCAN frame received to the ACCEPT frame sent (budget: p99 at most 20 ms).

The reference board (firmware_bridge.gate.board) sends genuine cards, one
after another, to the bridge's TCP gate reader on loopback, in protocol v2:
every frame sealed and opened (HMAC-SHA256) on both sides, so the figures
include authentication.  Two verifiers,
run one after the other:

* in-process: the verifier double of the tests (keys.verify_card on every
  scan), called directly, so the figure is the bridge's own cost plus a
  verification;
* HTTP: the same double behind the documented ``POST /api/v1/scan`` in another
  process (tests/integration/firmware_bridge/loopback.py, as ``kia verifier
  serve`` will be), reached through verifier.local.LocalVerifierClient with
  its kept-alive connection, so the transport's cost shows.

Printed for each: the bridge's time from reading the SCAN off the socket to
having written the ACCEPT (the budget), and the board's round trip.  The
real terminal also commits each decision to SQLite (synchronous=FULL) before
answering; that cost belongs to the verifier's own benchmark.

    python bench/bench_gate.py [SCANS]
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import machine  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from firmware_bridge import events  # noqa: E402
from firmware_bridge.dispatch import Dispatcher  # noqa: E402
from firmware_bridge.gate.board import BoardSimulator, TcpLink  # noqa: E402
from firmware_bridge.gate.keyfile import BoardKeys  # noqa: E402
from firmware_bridge.gate.session import GateSettings  # noqa: E402
from firmware_bridge.gate.transport import GateTcpReader  # noqa: E402
from keys import IssuingKey, qr_text  # noqa: E402
from keys.serial import serial_from_value  # noqa: E402
from tests.factories import DAY, NOW, Trust, make_card, make_trust  # noqa: E402
from tests.integration.firmware_bridge.loopback import LoopbackVerifier  # noqa: E402
from tests.unit.firmware_bridge.doubles import CardVerifier  # noqa: E402
from verifier.local import LocalVerifierClient, Verifier  # noqa: E402

SCANS = 2000
WARMUP = 200
CARDS = 50
BUDGET_P99_MS = 20.0
BOARD_KEY = bytes(range(32))  # a test key, as in docs/gate-protocol.md's worked session


def fixed_trust() -> Trust:
    """The same trust list in every process (keys from fixed bytes; Ed25519 signs deterministically)."""
    issuing = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    root = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
    return make_trust(signers=[(issuing, IssuingKey.new(issuing.public_key(), NOW - 30 * DAY))], root=root)


def serve_verifier(urls: multiprocessing.Queue, stop: threading.Event) -> None:  # type: ignore[type-arg]
    with LoopbackVerifier(CardVerifier(fixed_trust())) as server:
        urls.put(server.url)
        stop.wait()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(verifier: Verifier, payloads: list[str], scans: int) -> tuple[list[float], list[float]]:
    """Bridge latencies and board round trips (seconds) for ``scans`` scans after a warm-up."""
    bridge_latency: list[float] = []
    dispatcher = Dispatcher(verifier, events.Events())
    settings = GateSettings(heartbeat_ms=60_000, keys=BoardKeys({"BENCH-01": BOARD_KEY}))
    gate = GateTcpReader("127.0.0.1", 0, dispatcher, settings, "gate", latency=bridge_latency.append)
    stop = threading.Event()
    thread = threading.Thread(target=gate.run, args=(stop,), daemon=True)
    thread.start()
    assert dispatcher.events.wait_for(events.LISTENING, 1, "gate", 10) and gate.address is not None
    board = BoardSimulator(TcpLink(*gate.address), "BENCH-01", answer_timeout=5.0, key=BOARD_KEY)
    board.hello()
    round_trips: list[float] = []
    for index in range(WARMUP + scans):
        started = time.perf_counter()
        decision = board.scan(payloads[index % len(payloads)])
        round_trips.append(time.perf_counter() - started)
        assert decision.accepted, decision
    board.close()
    stop.set()
    thread.join(10)
    return bridge_latency[WARMUP:], round_trips[WARMUP:]


def report(name: str, bridge_latency: list[float], round_trips: list[float]) -> float:
    p99 = percentile(bridge_latency, 0.99) * 1000
    print(f"{name}:")
    for label, values in (("SCAN received -> ACCEPT sent", bridge_latency), ("board round trip", round_trips)):
        print(f"  {label:30} median {statistics.median(values) * 1000:6.2f} ms   "
              f"p99 {percentile(values, 0.99) * 1000:6.2f} ms   max {max(values) * 1000:6.2f} ms")
    print(f"  budget (p99 <= {BUDGET_P99_MS:g} ms): {'met' if p99 <= BUDGET_P99_MS else 'MISSED'} ({p99:.2f} ms)")
    return p99


def main() -> None:
    scans = int(sys.argv[1]) if len(sys.argv) > 1 else SCANS
    trust = fixed_trust()
    payloads = [qr_text(trust.issue(make_card(serial=serial_from_value(value)))) for value in range(CARDS)]
    print(f"machine: {machine()}")
    print(f"{scans} scans of {CARDS} genuine cards (numeric QR text, {len(payloads[0])} digits) "
          f"after {WARMUP} warm-up scans, one board on loopback TCP, gate protocol v2 (sealed frames)")

    report("in-process verifier double", *measure(CardVerifier(trust), payloads, scans))

    context = multiprocessing.get_context("spawn")
    urls: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    stop = context.Event()
    server = context.Process(target=serve_verifier, args=(urls, stop), daemon=True)
    server.start()
    client = LocalVerifierClient(urls.get(timeout=60), timeout=5.0)
    try:
        report("HTTP verifier (POST /api/v1/scan, another process)", *measure(client, payloads, scans))
    finally:
        client.close()
        stop.set()
        server.join(10)


if __name__ == "__main__":
    main()
