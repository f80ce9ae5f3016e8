"""Card issuance throughput: token + QR PNG + QR SVG + NDEF per card.

Two parts, in one run:
1. Where a card's time goes, per stage, single core: the naive pipeline
   (the ``qrcode`` package choosing its mask itself, PNG and SVG through its
   own image factories), segno choosing its mask, and this project's
   pipeline (issuer.artifacts: zxing-cpp's C++ encoder and Pillow).
2. End to end: ``kia issuer card issue --csv`` on a batch of ``ROWS``
   children in a fresh home, as an office runs it (wall clock, all cores),
   writing three files a card and, interleaved with it on the same rows, one
   archive a batch (``--archive``).
Budget: at least 300 cards a second end to end; 800 with --archive.

    python bench/bench_issue.py [ROWS]
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import qrcode
import qrcode.image.svg
import segno
from common import NOW, machine, median_seconds, sample_tokens

from issuer.artifacts import ndef_message, qr_png, qr_svg, qr_symbol
from keys import qr_text

BUDGET = {"files": 300, "archive": 800}
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 3000


def naive(token: str) -> None:
    """What a first version does: qrcode picks the mask (8 trial encodings)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=5, border=4)
    code.add_data(qr_text(token))
    code.make(fit=True)
    code.make_image().save(io.BytesIO())
    code.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(io.BytesIO())
    ndef_message(token)


def with_segno(token: str) -> None:
    symbol = segno.make(qr_text(token), error="q", mode="numeric", boost_error=False)
    symbol.save(io.BytesIO(), kind="png", scale=5, dpi=300)
    symbol.save(io.BytesIO(), kind="svg", unit="mm")
    ndef_message(token)


def stage_breakdown(tokens: list[str]) -> None:
    token = tokens[0]
    symbol = qr_symbol(token)
    stages = {
        "qr encode (zxing-cpp)": lambda: qr_symbol(token),
        "png (Pillow)": lambda: qr_png(symbol),
        "svg (zxing-cpp)": lambda: qr_svg(symbol),
        "ndef (ndeflib)": lambda: ndef_message(token),
        "segno encode, auto mask": lambda: segno.make(qr_text(token), error="q", mode="numeric", boost_error=False),
        "segno encode, fixed mask": lambda: segno.make(
            qr_text(token), error="q", mode="numeric", boost_error=False, mask=0
        ),
    }
    print("\nper stage, one card, single core (median):")
    for name, function in stages.items():
        print(f"  {name:26} {median_seconds(function, 31, 10) * 1e3:6.2f} ms")
    print("\nwhole card (token already signed), single core, side by side:")
    totals = {}
    for name, function in (("naive qrcode", naive), ("segno", with_segno), ("this project", None)):
        if function is None:
            def function(t: str = token) -> None:
                symbol = qr_symbol(t)
                qr_png(symbol)
                qr_svg(symbol)
                ndef_message(t)
        totals[name] = median_seconds(lambda f=function: f(token), 11, 3)
    for name, seconds in totals.items():
        print(f"  {name:14} {seconds * 1e3:6.2f} ms/card = {1 / seconds:6.0f} cards/s/core "
              f"({totals['naive qrcode'] / seconds:4.1f}x naive)")


def end_to_end(archive: bool) -> float:
    kia = shutil.which("kia") or str(Path(sys.executable).parent / "kia")
    with tempfile.TemporaryDirectory(prefix="kia-bench-") as folder:
        root = Path(folder)
        env = dict(os.environ, KIA_KEY_PASSPHRASE="benchmark-passphrase-0123456789")
        subprocess.run([kia, "issuer", "init", "--home", str(root / "home")], env=env, check=True,
                       capture_output=True)
        batch = root / "batch.csv"
        with batch.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["birth_date", "region", "external_id"])
            for row in range(ROWS):
                born = NOW.date().replace(year=NOW.year - 1 - row % 15, day=1 + row % 28)
                writer.writerow([born.isoformat(), 3372, f"pupil-{row}"])
        start = time.perf_counter()
        subprocess.run(
            [kia, "issuer", "card", "issue", "--home", str(root / "home"), "--csv", str(batch), "--out",
             str(root / "cards"), *(["--archive"] if archive else [])],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - start
        if archive:
            (zipped,) = (root / "cards").glob("cards-batch-*.zip")
            with zipfile.ZipFile(zipped) as opened:
                written = sum(name.endswith(".ndef") for name in opened.namelist())
        else:
            written = len(list((root / "cards").glob("*.ndef")))
        assert written == ROWS, f"{written} cards written of {ROWS}"
        return elapsed


def main() -> None:
    tokens, _ = sample_tokens(5)
    print(f"machine: {machine()}")
    stage_breakdown(tokens)
    runs: dict[str, list[float]] = {"files": [], "archive": []}
    for _ in range(3):  # interleaved, so both see the same load
        for mode in runs:
            runs[mode].append(end_to_end(archive=mode == "archive"))
    print(f"\nend to end: kia issuer card issue --csv, {ROWS} rows, 3 runs each, interleaved "
          f"(load average {os.getloadavg()[0]:.2f}):")
    for mode, seconds in runs.items():
        elapsed = statistics.median(seconds)
        rate = ROWS / elapsed
        budget = BUDGET[mode]
        print(f"  {mode:8} " + ", ".join(f"{ROWS / r:4.0f}" for r in seconds)
              + f" cards/s; median {elapsed:.2f} s = {rate:.0f} cards/s; "
              f"budget >= {budget}: {'met' if rate >= budget else 'MISSED'}")


if __name__ == "__main__":
    main()
