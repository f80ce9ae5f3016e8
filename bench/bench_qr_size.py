"""How large is the card's QR code?  Token length and QR version per encoding.

Prints, for a sample of genuine tokens, the version needed at error
correction M and Q in byte mode (the token as text) and in numeric mode (the
token as two digits a character, keys.qr_text), as segno computes them, and
the version of the symbol issuer.artifacts actually draws (libzint).

    python bench/bench_qr_size.py
"""

from __future__ import annotations

import collections

import segno
from common import machine, sample_tokens

from issuer.artifacts import QR_PIXELS_PER_MODULE, printed_size_mm, qr_modules
from keys import qr_text

SAMPLES = 200


def version_counts(values: list[int]) -> str:
    return ", ".join(f"v{version}: {count}" for version, count in sorted(collections.Counter(values).items()))


def main() -> None:
    tokens, _ = sample_tokens(SAMPLES)
    lengths = [len(token) for token in tokens]
    print(f"machine: {machine()}")
    print(f"{SAMPLES} tokens, length {min(lengths)}..{max(lengths)} characters")
    rows = []
    for mode, text_of in (("byte", lambda t: t), ("numeric", qr_text)):
        for error in ("m", "q"):
            versions = [segno.make(text_of(t), error=error, mode=mode, boost_error=False).version for t in tokens]
            rows.append((mode, error.upper(), version_counts(versions), max(versions)))
    print(f"{'mode':8} {'EC':3} {'max':>4}  versions")
    for mode, error, counts, worst in rows:
        print(f"{mode:8} {error:3} {worst:>4}  {counts}")
    drawn = []
    for token in tokens:
        modules = qr_modules(token).shape[0]
        drawn.append((modules - 17) // 4)
    widest = max(drawn) * 4 + 17 + 8
    print(f"drawn by issuer.artifacts (libzint, numeric, EC Q): {version_counts(drawn)}")
    print(
        f"printed: {widest} modules with quiet zone x {QR_PIXELS_PER_MODULE} px at 300 dpi = "
        f"{printed_size_mm(widest):.1f} mm square"
    )
    budget_ok = max(drawn) <= 12
    print(f"budget (<= v12 at Q): {'met' if budget_ok else 'MISSED'}")


if __name__ == "__main__":
    main()
