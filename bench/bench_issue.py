"""Card issuance throughput: token + QR PNG + QR SVG + NDEF per card.

Two parts, in one run:
1. Where a card's time goes, per stage, single core: the naive pipeline
   (the ``qrcode`` package choosing its mask itself, PNG and SVG through its
   own image factories), segno choosing its mask, and this project's
   pipeline (issuer.artifacts: libzint's C encoder and pypng), with
   zxing-cpp's writer and Pillow, which it used before, timed beside them.
2. End to end: ``kia issuer card issue --csv`` on a batch of ``ROWS``
   children in a fresh home, as an office runs it (wall clock, all cores),
   writing three files a card and, interleaved with it on the same rows, one
   archive a batch (``--archive``).
Budget: at least 300 cards a second end to end; 800 with --archive.
Each run reports its wall clock and the CPU time of the whole process tree
(the command and its drawing processes), which other load on the machine
changes far less than the wall clock.

    python bench/bench_issue.py [ROWS] [--before TREE]

``--before TREE`` also runs, interleaved on the same rows, the command of
another checkout of this repository (``git worktree add /tmp/before HEAD``
before a change): its modules come first on PYTHONPATH, with this venv.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import segno
import zxingcpp
from common import NOW, machine, median_seconds, sample_tokens
from PIL import Image

from issuer.artifacts import (
    QR_ERROR_CORRECTION,
    QR_PIXELS_PER_MODULE,
    QUIET_ZONE,
    ndef_message,
    qr_modules,
    qr_png,
    qr_svg,
    render_card,
)
from keys import qr_text

BUDGET = {"files": 300, "archive": 800}
ARGS = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
ROWS = int(ARGS[0]) if ARGS else 3000
BEFORE = Path(sys.argv[sys.argv.index("--before") + 1]).resolve() if "--before" in sys.argv else None


def naive(token: str) -> None:
    """What a first version does: qrcode picks the mask (8 trial encodings)."""
    import qrcode  # not a dependency: this comparison runs where it is installed
    import qrcode.image.svg

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


def pillow_png(modules: np.ndarray) -> bytes:
    """The same picture as issuer.artifacts.qr_png, through Pillow, as it was drawn up to 8b71beb."""
    light = np.pad(~modules, QUIET_ZONE, constant_values=True)
    side = light.shape[0] * QR_PIXELS_PER_MODULE
    buffer = io.BytesIO()
    Image.fromarray(light).resize((side, side), Image.Resampling.NEAREST).save(buffer, format="PNG", dpi=(300, 300))
    return buffer.getvalue()


def stage_breakdown(tokens: list[str]) -> None:
    token = tokens[0]
    modules = qr_modules(token)
    stages = {
        "qr encode (libzint)": lambda: qr_modules(token),
        "qr encode (zxing-cpp)": lambda: np.asarray(zxingcpp.create_barcode(
            qr_text(token), zxingcpp.BarcodeFormat.QRCode, ec_level=QR_ERROR_CORRECTION
        ).to_image(scale=1, add_quiet_zones=False)),
        "png (pypng)": lambda: qr_png(modules),
        "png (Pillow)": lambda: pillow_png(modules),
        "svg (module runs)": lambda: qr_svg(modules),
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
    pipelines = [("naive qrcode", naive), ("segno", with_segno), ("this project", None)]
    if importlib.util.find_spec("qrcode") is None:
        print("  (qrcode is not installed: the naive pipeline is left out)")
        pipelines = pipelines[1:]
    for name, function in pipelines:
        if function is None:
            def function(t: str = token) -> None:
                render_card("00000000", t)
        totals[name] = median_seconds(lambda f=function: f(token), 11, 3)
    first = next(iter(totals))
    for name, seconds in totals.items():
        print(f"  {name:14} {seconds * 1e3:6.2f} ms/card = {1 / seconds:6.0f} cards/s/core "
              f"({totals[first] / seconds:4.1f}x {first})")


def end_to_end(archive: bool, tree: Path | None = None) -> tuple[float, float]:
    """One run of the command on a fresh home: (wall seconds, CPU seconds of the command and its children)."""
    kia = shutil.which("kia") or str(Path(sys.executable).parent / "kia")
    with tempfile.TemporaryDirectory(prefix="kia-bench-") as folder:
        root = Path(folder)
        env = dict(os.environ, KIA_KEY_PASSPHRASE="benchmark-passphrase-0123456789")
        if tree is not None:
            env["PYTHONPATH"] = str(tree)
        subprocess.run([kia, "issuer", "init", "--home", str(root / "home")], env=env, check=True,
                       capture_output=True)
        batch = root / "batch.csv"
        with batch.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["birth_date", "region", "external_id"])
            for row in range(ROWS):
                born = NOW.date().replace(year=NOW.year - 1 - row % 15, day=1 + row % 28)
                writer.writerow([born.isoformat(), 3372, f"pupil-{row}"])
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [kia, "issuer", "card", "issue", "--home", str(root / "home"), "--csv", str(batch), "--out",
             str(root / "cards"), *(["--archive"] if archive else [])],
            env=env, check=True, stdout=subprocess.DEVNULL, cwd=tree,
        )
        elapsed = time.perf_counter() - start
        now_used = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = now_used.ru_utime + now_used.ru_stime - used.ru_utime - used.ru_stime
        if archive:
            (zipped,) = (root / "cards").glob("cards-batch-*.zip")
            with zipfile.ZipFile(zipped) as opened:
                written = sum(name.endswith(".ndef") for name in opened.namelist())
        else:
            written = len(list((root / "cards").glob("*.ndef")))
        assert written == ROWS, f"{written} cards written of {ROWS}"
        return elapsed, cpu


def main() -> None:
    tokens, _ = sample_tokens(5)
    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    stage_breakdown(tokens)
    trees: dict[str, Path | None] = {"": None} if BEFORE is None else {"before ": BEFORE, "now ": None}
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {
        (label, mode): [] for label in trees for mode in ("files", "archive")}
    for _ in range(3):  # interleaved, so all see the same load
        for label, mode in runs:
            runs[label, mode].append(end_to_end(mode == "archive", trees[label]))
    print(f"\nend to end: kia issuer card issue --csv, {ROWS} rows, 3 runs each, interleaved "
          f"(load average at the end {os.getloadavg()[0]:.2f}):")
    for (label, mode), samples in runs.items():
        elapsed = statistics.median(wall for wall, _ in samples)
        cpu = statistics.median(cpu for _, cpu in samples)
        rate = ROWS / elapsed
        budget = BUDGET[mode]
        print(f"  {label}{mode:8} " + ", ".join(f"{ROWS / wall:4.0f}" for wall, _ in samples)
              + f" cards/s; median {elapsed:.2f} s = {rate:.0f} cards/s, CPU {cpu:.2f} s "
              f"({cpu / ROWS * 1e3:.2f} ms a card); budget >= {budget}: {'met' if rate >= budget else 'MISSED'}")


if __name__ == "__main__":
    main()
