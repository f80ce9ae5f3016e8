"""Full card verification against a bare Ed25519 verification, side by side.

Both run in the same process, interleaved round by round over the same
tokens, so machine noise hits both alike.  The budget: the median full
verification (size, header, pinned key, signature, claims, revocation with
100,000 revoked serials, eligibility) at most 1.2 times the median bare
``Ed25519PublicKey.verify`` of the same signing input and signature.

    python bench/bench_verify.py
"""

from __future__ import annotations

import statistics
import time

from common import NOW, machine, sample_tokens

from keys import RevokedSerials, TrustList, qr_text, verify_card
from keys.jwk import b64url_decode
from keys.serial import SERIAL_BITS

ROUNDS = 41
TOKENS = 200
BUDGET = 1.2


def main() -> None:
    import random

    tokens, trust = sample_tokens(TOKENS)
    assert isinstance(trust, TrustList)
    rng = random.Random(7)
    revoked = RevokedSerials(rng.randrange(2**SERIAL_BITS) for _ in range(100_000))
    trust = TrustList(trust.seq, trust.issued_at, trust.expires_at, trust.keys, revoked)
    key = trust.keys[0].public_key
    now = int(NOW.timestamp())
    bare_inputs = []
    for token in tokens:
        signing_input, signature = token.rsplit(".", 1)
        bare_inputs.append((b64url_decode(signature), signing_input.encode("ascii")))
    numeric = [qr_text(token) for token in tokens]

    def bare() -> None:
        for signature, signing_input in bare_inputs:
            key.verify(signature, signing_input)

    def full() -> None:
        for token in tokens:
            verify_card(token, trust, now)

    def full_numeric() -> None:
        for text in numeric:
            verify_card(text, trust, now)

    samples: dict[str, list[float]] = {"bare": [], "full": [], "full_numeric": []}
    for _ in range(ROUNDS):
        for name, function in (("bare", bare), ("full", full), ("full_numeric", full_numeric)):
            start = time.perf_counter()
            function()
            samples[name].append((time.perf_counter() - start) / TOKENS)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"machine: {machine()}")
    print(f"{TOKENS} tokens x {ROUNDS} interleaved rounds, 100,000 revoked serials in the trust list")
    for name, value in medians.items():
        print(f"{name:13} median {value * 1e6:7.1f} us   ratio {value / medians['bare']:.2f}")
    ratio = medians["full"] / medians["bare"]
    print(f"budget (full <= {BUDGET} x bare): {'met' if ratio <= BUDGET else 'MISSED'} ({ratio:.2f})")


if __name__ == "__main__":
    main()
