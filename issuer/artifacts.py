"""What is printed on and written into a card: QR PNG, QR SVG and NDEF.

The QR code holds the token in numeric mode (keys.card.qr_text) at error
correction Q, which a standard token fits in version 12 (65 modules).  It is
encoded by libzint (zint-bindings), whose C encoder chooses the mask by the
ISO penalty rules.  zxing-cpp's writer is libzint too and makes the very same
symbols, but rasterises each and builds a Barcode around it, which took half
its time (segno's pure-Python mask search took 11 ms of the 14 a card cost;
see docs/benchmarks.md).

Print size: with the 4-module quiet zone a version-12 symbol is 73 modules
across; at ``QR_PIXELS_PER_MODULE`` = 5 pixels and 300 dpi that is 365 pixels,
30.9 mm square, each module 0.42 mm.  The SVG has the same size in mm.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import io
import multiprocessing
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import ndef
import numpy as np
import png
import zint

from keys import NDEF_RECORD_TYPE, durable, qr_text

QR_DPI = 300
QR_PIXELS_PER_MODULE = 5
QR_ERROR_CORRECTION = "Q"
MM_PER_INCH = 25.4
QUIET_ZONE = 4  # modules of white all round, as ISO/IEC 18004 asks

_ZINT_ERROR_CORRECTION = {"L": 1, "M": 2, "Q": 3, "H": 4}  # libzint's option_1 for QR Code
_PIXELS_PER_METRE = round(QR_DPI / MM_PER_INCH * 1000)  # the PNG's pHYs: 11,811, read back as 300 dpi
# The PNG's rows are unfiltered and every module row repeats five times, so
# deflate at level 1 finds them at once: 0.5 ms a picture and 1.7 kB, where
# level 6 spent 0.8 ms to save 0.25 kB (docs/benchmarks.md).
_PNG_DEFLATE_LEVEL = 1


@dataclasses.dataclass(frozen=True)
class CardFiles:
    """Where a card's three files are: paths on disk, or member names in an archive."""

    qr_png: Path
    qr_svg: Path
    ndef: Path

    @classmethod
    def of(cls, serial: str, folder: Path = Path()) -> CardFiles:
        return cls(folder / f"{serial}.png", folder / f"{serial}.svg", folder / f"{serial}.ndef")


@dataclasses.dataclass(frozen=True)
class CardArtifacts:
    """A card's three files as bytes, before they are written anywhere."""

    serial: str
    qr_png: bytes
    qr_svg: bytes
    ndef: bytes


def qr_modules(token: str) -> np.ndarray:
    """The token's QR symbol, True where a module is dark, without the quiet zone."""
    symbol = zint.Symbol()
    symbol.symbology = zint.Symbology.QRCODE
    symbol.option_1 = _ZINT_ERROR_CORRECTION[QR_ERROR_CORRECTION]
    symbol.encode(qr_text(token).encode("ascii"))  # digits only: libzint picks numeric mode
    # libzint keeps each row's modules as bits, the first module in the lowest bit.
    rows = np.asarray(symbol.encoded_data)[: symbol.rows]
    return np.unpackbits(rows, axis=1, count=symbol.width, bitorder="little").view(bool)


def _run_table(dark: np.ndarray) -> np.ndarray:
    """The dark modules as horizontal runs, one row (row, first column, length) each, row by row."""
    padded = np.zeros((dark.shape[0], dark.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = dark
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)  # row-major, as the ends
    ends = np.nonzero(edges == -1)[1]
    return np.column_stack((rows, starts, ends - starts))


def dark_runs(dark: np.ndarray) -> list[tuple[int, int, int]]:
    """The dark modules as horizontal runs (row, first column, length), row by row."""
    return [(row, column, length) for row, column, length in _run_table(dark).tolist()]


def qr_png(dark: np.ndarray) -> bytes:
    """A 1-bit greyscale PNG of the symbol ``dark`` (its modules) with its quiet zone, tagged as 300 dpi."""
    # Each module row becomes one packed row of pixels (white is 1), written
    # QR_PIXELS_PER_MODULE times: pypng takes packed rows as they are.
    light = np.pad(~dark, QUIET_ZONE, constant_values=True)
    packed = [row.tobytes() for row in np.packbits(np.repeat(light, QR_PIXELS_PER_MODULE, axis=1), axis=1)]
    side = light.shape[1] * QR_PIXELS_PER_MODULE
    rows = [row for row in packed for _ in range(QR_PIXELS_PER_MODULE)]
    writer = png.Writer(
        side, side, greyscale=True, bitdepth=1, compression=_PNG_DEFLATE_LEVEL,
        x_pixels_per_unit=_PIXELS_PER_METRE, y_pixels_per_unit=_PIXELS_PER_METRE, unit_is_meter=True,
    )
    buffer = io.BytesIO()
    writer.write_packed(buffer, rows)
    return buffer.getvalue()


def printed_size_mm(modules: int) -> float:
    """The printed width of a symbol ``modules`` wide (quiet zone included)."""
    return modules * QR_PIXELS_PER_MODULE / QR_DPI * MM_PER_INCH


@functools.lru_cache(maxsize=4)
def _path_pieces(side: int) -> tuple[np.ndarray, np.ndarray]:
    """The SVG path's words for a symbol ``side`` modules across: "Mx y" at y * side + x, "hWv1h-WZ" at W.

    A card's path is then picked from these by numpy and joined once: 0.1 ms
    a card, where formatting each run's numbers took 0.55 (issue 14).
    """
    moves = np.array([f"M{x} {y}" for y in range(side) for x in range(side)], dtype=object)
    widths = np.array([f"h{width}v1h-{width}Z" for width in range(side + 1)], dtype=object)
    return moves, widths


def qr_svg(dark: np.ndarray) -> str:
    """The symbol ``dark`` (its modules) as SVG in module units, sized in mm for print: one path of dark runs."""
    # Written here rather than by zxing-cpp's SVG writer, which took 2.2 ms of
    # a card's 4 ms to draw (docs/benchmarks.md); the path is the same syntax.
    side = dark.shape[0] + 2 * QUIET_ZONE
    size = f"{printed_size_mm(side):.2f}mm"
    runs = _run_table(dark)
    moves, widths = _path_pieces(side)
    pieces = np.empty(2 * len(runs), dtype=object)
    pieces[0::2] = moves[(runs[:, 0] + QUIET_ZONE) * side + runs[:, 1] + QUIET_ZONE]
    pieces[1::2] = widths[runs[:, 2]]
    path = "".join(pieces.tolist())
    return (
        '<?xml version="1.0" standalone="no"?>\n'
        f'<svg width="{size}" height="{size}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges" '
        'version="1.1" xmlns="http://www.w3.org/2000/svg">\n'
        f' <rect x="0" y="0" width="{side}" height="{side}" fill="#FFFFFF"/>\n'
        f' <path d="{path}" fill="#000000"/>\n'
        "</svg>\n"
    )


def ndef_message(token: str) -> bytes:
    """One NFC Forum external-type record holding the token (ndeflib)."""
    record = ndef.Record(NDEF_RECORD_TYPE, "", token.encode("ascii"))
    return b"".join(ndef.message_encoder([record]))


def render_card(serial: str, token: str) -> CardArtifacts:
    dark = qr_modules(token)
    return CardArtifacts(serial, qr_png(dark), qr_svg(dark).encode("ascii"), ndef_message(token))


def write_card_files(serial: str, token: str, out_dir: Path) -> CardFiles:
    card = render_card(serial, token)
    files = CardFiles.of(serial, out_dir)
    files.qr_png.write_bytes(card.qr_png)
    files.qr_svg.write_bytes(card.qr_svg)
    files.ndef.write_bytes(card.ndef)
    return files


# Drawing dominates issuance (about 2 ms a card against 0.05 ms to sign), so
# batches are drawn by a process per core; tiny batches are not worth a pool.
_PARALLEL_FROM = 64
_CHUNK = 32
# The archive is written by one process while the others draw, so its cost
# per card counts: the PNG is deflated already and the NDEF record too small
# to gain, while the SVG shrinks from 13.4 to 3.9 kB at level 1 for 0.06 ms a
# card (level 6: 3.3 kB for 0.25 ms; three loose files: 1.85 ms).
_COMPRESSION = {".png": zipfile.ZIP_STORED, ".svg": zipfile.ZIP_DEFLATED, ".ndef": zipfile.ZIP_STORED}
_DEFLATE_LEVEL = 1

_Result = TypeVar("_Result")
_Job = TypeVar("_Job")


def _write_chunk(job: tuple[Path, list[tuple[str, str]]]) -> list[CardFiles]:
    out_dir, cards = job
    return [write_card_files(serial, token, out_dir) for serial, token in cards]


def _render_chunk(cards: list[tuple[str, str]]) -> list[CardArtifacts]:
    return [render_card(serial, token) for serial, token in cards]


class Drawing:
    """A process per core that draws a batch's cards, started before the cards are signed.

    Open it once the batch's size is known, before its cards are signed: the
    workers fork then (in milliseconds, inheriting the imported encoder) and
    are ready when the first card is.  ``draw`` hands them cards as they are
    signed, so drawing overlaps signing and recording them; the drawn cards
    stay in memory, in this process's futures, until ``write_archive`` takes
    them, which the caller does only once the cards are recorded.  Closing it
    (leaving the ``with``) drops whatever was not taken.  ``map`` runs other
    work (``write_many``'s files) on the same processes.  A batch too small
    for a pool, or one core, is drawn here, when its cards are taken.
    """

    def __init__(self, cards: int, workers: int | None = None) -> None:
        workers = workers or os.cpu_count() or 1
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        if cards >= _PARALLEL_FROM and workers > 1:
            self._pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            self._pool.submit(os.getpid)  # the workers fork now, not at the first card
        self._chunks: list[concurrent.futures.Future[list[CardArtifacts]] | list[tuple[str, str]]] = []
        self.cards = 0  # handed to draw so far

    def __enter__(self) -> Drawing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._chunks = []

    def draw(self, cards: list[tuple[str, str]]) -> None:
        """Start drawing these (serial, token), after those handed before."""
        for first in range(0, len(cards), _CHUNK):
            chunk = cards[first : first + _CHUNK]
            self._chunks.append(chunk if self._pool is None else self._pool.submit(_render_chunk, chunk))
        self.cards += len(cards)

    def drawn(self) -> Iterator[list[CardArtifacts]]:
        """Every card handed to ``draw``, drawn, a chunk at a time in the order handed."""
        for chunk in self._chunks:
            yield chunk.result() if isinstance(chunk, concurrent.futures.Future) else _render_chunk(chunk)

    def map(self, work: Callable[[_Job], list[_Result]], jobs: list[_Job]) -> Iterator[list[_Result]]:
        """``work`` on each job on the drawing processes (here without a pool), results in order."""
        if self._pool is None:
            return map(work, jobs)
        return self._pool.map(work, jobs)


def write_many(
    cards: list[tuple[str, str]],
    out_dir: Path,
    on_progress: Callable[[int], None] = lambda done: None,
    workers: int | None = None,
    drawing: Drawing | None = None,
) -> list[CardFiles]:
    """Write the files of every (serial, token), in order, on all cores (``drawing``'s processes, if given)."""
    if drawing is None:
        with Drawing(len(cards), workers) as own:
            return write_many(cards, out_dir, on_progress, drawing=own)
    out_dir.mkdir(parents=True, exist_ok=True)
    chunks = [(out_dir, cards[i : i + _CHUNK]) for i in range(0, len(cards), _CHUNK)]
    files: list[CardFiles] = []
    for chunk in drawing.map(_write_chunk, chunks):
        files.extend(chunk)
        on_progress(len(chunk))
    return files


def write_archive(
    cards: list[tuple[str, str]],
    path: Path,
    on_progress: Callable[[int], None] = lambda done: None,
    workers: int | None = None,
    drawing: Drawing | None = None,
) -> list[CardFiles]:
    """Write every (serial, token)'s files into the one zip ``path``, in order; their member names.

    Members are SERIAL.png, SERIAL.svg and SERIAL.ndef, the bytes write_many
    writes.  Cards are drawn on all cores (by ``drawing``, when given, which
    has been handed exactly these cards) and the archive written here, into
    a temporary file synced and renamed into place: a crash or power cut
    leaves the old archive or the whole new one under ``path``, never a part.
    """
    if drawing is None:
        with Drawing(len(cards), workers) as own:
            own.draw(cards)
            return write_archive(cards, path, on_progress, drawing=own)
    if drawing.cards != len(cards):
        raise ValueError(f"{drawing.cards} cards were handed to the drawing, not the {len(cards)} to archive")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    members: list[CardFiles] = []
    try:
        with temporary.open("wb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                for chunk in drawing.drawn():
                    for card in chunk:
                        if card.serial != cards[len(members)][0]:
                            raise ValueError("the drawing holds other cards than those to archive")
                        names = CardFiles.of(card.serial)
                        for name, data in ((names.qr_png, card.qr_png), (names.qr_svg, card.qr_svg),
                                           (names.ndef, card.ndef)):
                            archive.writestr(str(name), data, _COMPRESSION[name.suffix], _DEFLATE_LEVEL)
                        members.append(names)
                    on_progress(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    durable.sync_folder(path.parent)
    return members
