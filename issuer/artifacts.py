"""What is printed on and written into a card: QR PNG, QR SVG and NDEF.

The QR code holds the token in numeric mode (keys.card.qr_text) at error
correction Q, which a standard token fits in version 12 (65 modules).  It is
drawn by zxing-cpp's writer, whose C++ encoder chooses the mask by the ISO
penalty rules in under a millisecond (segno's pure-Python mask search took
11 ms of the 14 a card cost; see docs/benchmarks.md).

Print size: with the 4-module quiet zone a version-12 symbol is 73 modules
across; at ``QR_PIXELS_PER_MODULE`` = 5 pixels and 300 dpi that is 365 pixels,
30.9 mm square, each module 0.42 mm.  The SVG has the same size in mm.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import io
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import ndef
import numpy as np
import zxingcpp
from PIL import Image

from keys import NDEF_RECORD_TYPE, qr_text

QR_DPI = 300
QR_PIXELS_PER_MODULE = 5
QR_ERROR_CORRECTION = "Q"
MM_PER_INCH = 25.4
_SVG_SIZE = re.compile(r'<svg width="(\d+)" height="(\d+)"')


@dataclasses.dataclass(frozen=True)
class CardFiles:
    qr_png: Path
    qr_svg: Path
    ndef: Path


def qr_symbol(token: str) -> zxingcpp.Barcode:
    return zxingcpp.create_barcode(qr_text(token), zxingcpp.BarcodeFormat.QRCode, ec_level=QR_ERROR_CORRECTION)


def qr_png(symbol: zxingcpp.Barcode) -> bytes:
    """A 1-bit PNG of the symbol with its quiet zone, tagged as 300 dpi."""
    pixels = np.asarray(symbol.to_image(scale=QR_PIXELS_PER_MODULE, add_quiet_zones=True))
    buffer = io.BytesIO()
    Image.fromarray(pixels > 127).save(buffer, format="PNG", dpi=(QR_DPI, QR_DPI))
    return buffer.getvalue()


def printed_size_mm(modules: int) -> float:
    """The printed width of a symbol ``modules`` wide (quiet zone included)."""
    return modules * QR_PIXELS_PER_MODULE / QR_DPI * MM_PER_INCH


def qr_svg(symbol: zxingcpp.Barcode) -> str:
    """The symbol as SVG in module units, sized in millimetres for print."""
    svg: str = symbol.to_svg(scale=1, add_quiet_zones=True)
    match = _SVG_SIZE.search(svg)
    if match is None:
        raise RuntimeError("unexpected SVG from zxing-cpp")
    width, height = int(match[1]), int(match[2])
    sized = (
        f'<svg width="{printed_size_mm(width):.2f}mm" height="{printed_size_mm(height):.2f}mm" '
        f'viewBox="0 0 {width} {height}" shape-rendering="crispEdges"'
    )
    return svg[: match.start()] + sized + svg[match.end() :]


def ndef_message(token: str) -> bytes:
    """One NFC Forum external-type record holding the token (ndeflib)."""
    record = ndef.Record(NDEF_RECORD_TYPE, "", token.encode("ascii"))
    return b"".join(ndef.message_encoder([record]))


def write_card_files(serial: str, token: str, out_dir: Path) -> CardFiles:
    symbol = qr_symbol(token)
    files = CardFiles(out_dir / f"{serial}.png", out_dir / f"{serial}.svg", out_dir / f"{serial}.ndef")
    files.qr_png.write_bytes(qr_png(symbol))
    files.qr_svg.write_text(qr_svg(symbol), encoding="ascii")
    files.ndef.write_bytes(ndef_message(token))
    return files


# Drawing dominates issuance (about 5 ms a card against 0.1 ms to sign), so
# batches are drawn by a process per core; tiny batches are not worth a pool.
_PARALLEL_FROM = 64
_CHUNK = 32


def _write_chunk(job: tuple[Path, list[tuple[str, str]]]) -> list[CardFiles]:
    out_dir, cards = job
    return [write_card_files(serial, token, out_dir) for serial, token in cards]


def write_many(
    cards: list[tuple[str, str]],
    out_dir: Path,
    on_progress: Callable[[int], None] = lambda done: None,
    workers: int | None = None,
) -> list[CardFiles]:
    """Write the files of every (serial, token), in order, on all cores."""
    out_dir.mkdir(parents=True, exist_ok=True)
    chunks = [(out_dir, cards[i : i + _CHUNK]) for i in range(0, len(cards), _CHUNK)]
    workers = workers or os.cpu_count() or 1
    files: list[CardFiles] = []
    if len(cards) < _PARALLEL_FROM or workers == 1:
        results: Iterable[list[CardFiles]] = map(_write_chunk, chunks)
        for chunk in results:
            files.extend(chunk)
            on_progress(len(chunk))
        return files
    # fork: workers start in milliseconds and inherit the imported encoder.
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        for chunk in pool.map(_write_chunk, chunks):
            files.extend(chunk)
            on_progress(len(chunk))
    return files
