"""Print-ready PDFs: KIA cards for card printers, and the handover receipt (tanda terima) of a batch.

Cards are ISO/IEC 7810 ID-1, 85.60 x 53.98 mm, drawn with fpdf2 in two layouts:

- ``sheet_pdf``: A4 sheets of 10 cards (2 x 5) for PVC sheet printers, with
  2 mm bleed, crop marks on the sheet's margins, a 3 mm safe area inside the
  trim; each sheet's fronts on one page, its backs on the next, the columns
  swapped so that duplex printing (flip on the long edge) puts each back
  behind its front.
- ``card_pages_pdf``: one page per side, trim plus bleed (89.60 x 57.98 mm),
  front then back for each card, for desk card printers.

The QR holds the token as every printed card does (``keys.qr_text``: numeric
mode, error correction Q; a 242-character token is version 12, 65 modules).
It is the symbol ``issuer.artifacts`` draws (libzint), so a card's PDF, PNG
and SVG carry the same modules; segno's pure-Python mask search takes more
than 10 times longer a card (bench/bench_printing.py).  Each module is a filled
rectangle in DeviceGray 0, pure black, never an image: ``MODULE_MM`` is six
printer dots at 300 dpi (0.508 mm), so a 300 dpi desk printer draws every
module the same width, and the 4-module quiet zone stays white.  The dark
symbol is 33.0 mm square, 37.1 mm with its quiet zone: larger than the
files' 0.42 mm modules, for a worn card and a cheap phone camera.

Text is set in DejaVu Sans and DejaVu Sans Mono (Debian's fonts-dejavu-core,
on every machine of the project): fpdf2's core fonts hold Latin-1 only,
and a child's name may hold any letter.  A name with a character DejaVu
cannot draw is left off the card (a blank line to write it by hand), never
misprinted, and never an error.  The words are Bahasa Indonesia, or English
with ``language="en"``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF, ViewerPreferences
from fpdf.enums import Align, Duplex, MethodReturnValue, XPos, YPos
from fpdf.fonts import FontFace

from keys.eligibility import last_eligible_day
from keys.regions import region_name

from .artifacts import QUIET_ZONE, dark_runs, qr_modules

CARD_WIDTH = 85.60  # mm, ISO/IEC 7810 ID-1
CARD_HEIGHT = 53.98
BLEED = 2.0  # background colours run this far past the trim
SAFE = 3.0  # text and the QR's dark modules stay this far inside the trim
MODULE_MM = 6 * 25.4 / 300  # 0.508 mm: six dots at 300 dpi

A4 = (210.0, 297.0)
COLUMNS, ROWS = 2, 5
CARDS_PER_SHEET = COLUMNS * ROWS
GUTTER = 2 * BLEED  # between two cards: the bleed of each
CROP_MARK_OFFSET = 3.0  # crop marks start this far from the trim, clear of the bleed
CROP_MARK_LENGTH = 6.0

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
FONT_FILES = {
    ("sans", ""): "DejaVuSans.ttf",
    ("sans", "B"): "DejaVuSans-Bold.ttf",
    ("mono", ""): "DejaVuSansMono.ttf",
    ("mono", "B"): "DejaVuSansMono-Bold.ttf",
}

BLUE = (14, 71, 140)
YELLOW = (247, 183, 21)
TINT = (236, 243, 251)
INK = (30, 34, 40)
GREY = (92, 99, 110)
WHITE = (255, 255, 255)

_MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}

# What the cards and receipts say: (Bahasa Indonesia, English).
WORDS: dict[str, tuple[str, str]] = {
    "title": ("KARTU IDENTITAS ANAK", "CHILD IDENTITY CARD"),
    "issuer": ("KIA · Disdukcapil {region}", "KIA · Disdukcapil {region}"),
    "name": ("Nama", "Name"),
    "valid_until": ("Berlaku s.d.", "Valid until"),
    "serial": ("Nomor seri", "Serial"),
    "how_to": ("Cara memakai kartu ini", "How to use this card"),
    "use": ("Tunjukkan kartu ini di mitra KIA untuk mendapat potongan harga; petugas memindai kode QR-nya.",
            "Show this card at a KIA partner for a discount; the staff scan its QR code."),
    "partners_at": ("Daftar mitra dan potongannya: {site}", "Partners and their discounts: {site}"),
    "public_site": ("laman publik KIA Disdukcapil {region}", "the public KIA site of Disdukcapil {region}"),
    "found": ("Jika menemukan kartu ini, kembalikan ke Disdukcapil {region}.",
              "If you find this card, please return it to Disdukcapil {region}."),
    "sheet_slug": ("KIA · lembar {sheet} dari {sheets} · {side} · {count} kartu · cetak 100%, bolak-balik sisi panjang",
                   "KIA · sheet {sheet} of {sheets} · {side} · {count} cards · print at 100%, duplex long edge"),
    "fronts": ("sisi depan", "fronts"),
    "backs": ("sisi belakang", "backs"),
    "receipt_title": ("TANDA TERIMA KARTU IDENTITAS ANAK (KIA)", "HANDOVER RECEIPT: CHILD IDENTITY CARDS (KIA)"),
    "office": ("Kantor", "Office"),
    "institution": ("Sekolah / klinik", "School / clinic"),
    "batch": ("Nomor berkas", "Batch number"),
    "date": ("Tanggal", "Date"),
    "receipt_intro": ("Dengan ini kartu KIA berikut diserahkan dan diterima dalam keadaan baik:",
                      "The following KIA cards are handed over and received in good order:"),
    "number": ("No.", "No."),
    "pupil_id": ("No. induk", "Pupil id"),
    "child": ("Nama anak", "Child's name"),
    "unprintable": ("(nama tidak dapat dicetak)", "(name cannot be printed)"),
    "count": ("Jumlah kartu: {count}", "Number of cards: {count}"),
    "hands_over": ("Yang menyerahkan,", "Handed over by,"),
    "receives": ("Yang menerima,", "Received by,"),
    "signature": ("Tanda tangan", "Signature"),
    "name_line": ("Nama", "Name"),
    "date_line": ("Tanggal", "Date"),
    "page_of": ("Tanda terima berkas {batch} · {institution} · halaman {page} dari {pages}",
                "Receipt for batch {batch} · {institution} · page {page} of {pages}"),
}

_PAGES_ALIAS = "{nb}"


@dataclasses.dataclass(frozen=True)
class PrintedCard:
    serial: str  # e.g. "K7Q2M9XA", printed beside the QR
    token: str  # the compact JWS the QR encodes, exactly
    region: int  # regency/city code; printed by name
    expires_at: int  # epoch seconds; printed as the last valid day ("Berlaku s.d.")
    name: str | None  # the child's name if the office holds it, else None


@dataclasses.dataclass(frozen=True)
class HandoverLine:
    number: int
    external_id: str | None  # the school's own pupil id
    name: str | None
    serial: str


def sheet_pdf(cards: Sequence[PrintedCard], *, language: str = "id", site: str | None = None) -> bytes:
    """A4 sheets of 10 ID-1 cards for PVC sheet printers: fronts, then backs mirrored for duplex.

    ``site`` is the public site's address, printed on the back; without it
    the back names the office's public site in words.  Raises ValueError on
    an empty list or an unknown language.
    """
    words = _Words(language)
    _require(cards, "no card to print")
    pdf = _document(duplex=True)
    sheets = [cards[i : i + CARDS_PER_SHEET] for i in range(0, len(cards), CARDS_PER_SHEET)]
    for number, sheet in enumerate(sheets, start=1):
        for side in ("fronts", "backs"):
            pdf.add_page(format=A4)
            slug = words("sheet_slug", sheet=number, sheets=len(sheets), side=words(side), count=len(sheet))
            _sheet_furniture(pdf, slug)
            for index, card in enumerate(sheet):
                column, row = index % COLUMNS, index // COLUMNS
                if side == "backs":
                    column = COLUMNS - 1 - column  # flipped on the long edge, the back lands behind its front
                x, y = _sheet_origin(column, row)
                # clipped to its bleed box, so no colour reaches a neighbour's trim
                with pdf.rect_clip(x - BLEED, y - BLEED, CARD_WIDTH + 2 * BLEED, CARD_HEIGHT + 2 * BLEED):
                    (_front if side == "fronts" else _back)(pdf, card, x, y, words, site)
    return _output(pdf)


def card_pages_pdf(cards: Sequence[PrintedCard], *, language: str = "id", site: str | None = None) -> bytes:
    """One ID-1 page (85.60 x 53.98 mm + bleed) per side: front, then back, per card, for desk card printers.

    Raises ValueError on an empty list or an unknown language.
    """
    words = _Words(language)
    _require(cards, "no card to print")
    pdf = _document(duplex=False)
    page = (CARD_WIDTH + 2 * BLEED, CARD_HEIGHT + 2 * BLEED)
    for card in cards:
        for draw in (_front, _back):
            pdf.add_page(format=page)
            draw(pdf, card, BLEED, BLEED, words, site)
    return _output(pdf)


def handover_pdf(institution: str, batch_id: int, lines: Sequence[HandoverLine], day: dt.date,
                 *, language: str = "id", office: str = "Disdukcapil") -> bytes:
    """The tanda terima of one batch: who hands over, who receives, the list, signature lines.

    A4 portrait; a long list flows over pages with the table's header
    repeated, and every page names the batch and its page number.  Raises
    ValueError on an empty list or an unknown language.
    """
    words = _Words(language)
    _require(lines, "no card to hand over")
    pdf = _Receipt(words("page_of", batch=batch_id, institution=_printable_or(institution, "?"),
                         page="{page}", pages=_PAGES_ALIAS))
    pdf.set_title(words("receipt_title"))
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_font("sans", "B", 13)
    pdf.set_text_color(*INK)
    pdf.cell(0, 8, words("receipt_title"), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    facts = (("office", office), ("institution", institution), ("batch", str(batch_id)),
             ("date", _long_date(day, language)))
    for key, value in facts:
        pdf.set_font("sans", "", 10)
        pdf.cell(42, 6, words(key))
        pdf.cell(4, 6, ":")
        pdf.set_font("sans", "B", 10)
        pdf.cell(0, 6, _printable_or(value, "?"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("sans", "", 10)
    pdf.multi_cell(0, 5.5, words("receipt_intro"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("sans", "", 9.5)
    heading_style = FontFace(emphasis="BOLD", fill_color=TINT, color=INK)
    with pdf.table(col_widths=(12, 34, 88, 36), text_align=("RIGHT", "LEFT", "LEFT", "LEFT"),
                   line_height=5.2, padding=1.2, repeat_headings=1, headings_style=heading_style) as table:
        heading = table.row()
        for key in ("number", "pupil_id", "child", "serial"):
            heading.cell(words(key))
        for line in lines:
            row = table.row()
            row.cell(str(line.number))
            row.cell(_printable_or(line.external_id or "", "?"))
            row.cell(_printable_or(line.name or "", words("unprintable")))
            row.cell(line.serial, style=FontFace(family="mono"))
    _signatures(pdf, words, len(lines), office, institution)
    return _output(pdf)


# --- the card's two sides -------------------------------------------------------


class _Words:
    """The words of one language: ``words("key", name=value)`` fills ``{name}``."""

    def __init__(self, language: str) -> None:
        if language not in ("id", "en"):
            raise ValueError(f"language must be 'id' or 'en', not {language!r}")
        self.language = language
        self._index = 0 if language == "id" else 1

    def __call__(self, key: str, **values: object) -> str:
        text = WORDS[key][self._index]
        return text.format(**values) if values else text


def _ground(pdf: FPDF, x: float, y: float, colour: tuple[int, int, int], *, band: float, rule: float) -> None:
    """A side's ground in ``colour`` out to the bleed, the blue band ``band`` mm deep across its top
    (into the bleed), and the yellow rule ``rule`` mm thick under the band."""
    pdf.set_fill_color(*colour)
    pdf.rect(x - BLEED, y - BLEED, CARD_WIDTH + 2 * BLEED, CARD_HEIGHT + 2 * BLEED, style="F")
    pdf.set_fill_color(*BLUE)
    pdf.rect(x - BLEED, y - BLEED, CARD_WIDTH + 2 * BLEED, band + BLEED, style="F")
    pdf.set_fill_color(*YELLOW)
    pdf.rect(x - BLEED, y + band, CARD_WIDTH + 2 * BLEED, rule, style="F")


def _front(pdf: FPDF, card: PrintedCard, x: float, y: float, words: _Words, site: str | None) -> None:
    """Title band, then the name, validity and serial on the left and the QR on the right."""
    region = region_name(card.region)
    _ground(pdf, x, y, TINT, band=13.2, rule=1.0)
    pdf.set_text_color(*WHITE)
    _line(pdf, x + SAFE, y + 7.2, words("title"), "sans", "B", 11.5, CARD_WIDTH - 2 * SAFE)
    _line(pdf, x + SAFE, y + 11.4, words("issuer", region=region), "sans", "", 6.8, CARD_WIDTH - 2 * SAFE)

    side = (2 * QUIET_ZONE + _symbol(card.token).modules) * MODULE_MM
    qr_x = x + CARD_WIDTH - SAFE - side + QUIET_ZONE * MODULE_MM  # dark modules end at the safe area
    qr_y = y + CARD_HEIGHT - SAFE - side + QUIET_ZONE * MODULE_MM
    _qr(pdf, card.token, qr_x, qr_y)

    left = x + SAFE
    width = qr_x - QUIET_ZONE * MODULE_MM - 1.5 - left
    pdf.set_text_color(*GREY)
    _line(pdf, left, y + 18.6, words("name"), "sans", "", 6, width)
    name = _printable(card.name)
    pdf.set_text_color(*INK)
    if not (name and _name(pdf, left, y + 19.6, name, width)):
        # no name held, or one the font cannot draw or the card cannot hold: a line to write it by hand
        pdf.set_draw_color(*GREY)
        pdf.set_line_width(0.15)
        pdf.line(left, y + 25.0, left + width, y + 25.0)
    pdf.set_text_color(*GREY)
    _line(pdf, left, y + 31.0, words("valid_until"), "sans", "", 6, width)
    pdf.set_text_color(*INK)
    until = last_eligible_day(card.expires_at, card.region)
    _line(pdf, left, y + 35.2, _long_date(until, words.language), "sans", "B", 9, width)
    pdf.set_text_color(*GREY)
    _line(pdf, left, y + 41.6, words("serial"), "sans", "", 6, width)
    pdf.set_text_color(*INK)
    _line(pdf, left, y + 47.0, card.serial, "mono", "B", 13, width)


def _back(pdf: FPDF, card: PrintedCard, x: float, y: float, words: _Words, site: str | None) -> None:
    """How to use the card, where the partners are, where to return it; the serial again."""
    region = region_name(card.region)
    _ground(pdf, x, y, WHITE, band=8.0, rule=0.8)
    pdf.set_text_color(*WHITE)
    _line(pdf, x + SAFE, y + 5.6, words("issuer", region=region), "sans", "B", 7.5, CARD_WIDTH - 2 * SAFE)

    width = CARD_WIDTH - 2 * SAFE
    pdf.set_text_color(*INK)
    _line(pdf, x + SAFE, y + 13.4, words("how_to"), "sans", "B", 8, width)
    partners = words("partners_at", site=_printable(site) or words("public_site", region=region))
    items = (words("use"), partners, words("found", region=region))
    pdf.set_font("sans", "", 6.4)
    baseline = y + 17.4
    for number, item in enumerate(items, start=1):
        pdf.text(x + SAFE, baseline, f"{number}.")
        for text in _wrapped(pdf, item, width - 3.5):
            pdf.text(x + SAFE + 3.5, baseline, text)
            baseline += 3.0
        baseline += 1.0

    footer = y + CARD_HEIGHT - 11.0
    pdf.set_fill_color(*TINT)
    pdf.rect(x - BLEED, footer, CARD_WIDTH + 2 * BLEED, CARD_HEIGHT + BLEED - (footer - y), style="F")
    pdf.set_text_color(*GREY)
    _line(pdf, x + SAFE, footer + 4.4, words("serial"), "sans", "", 6, width)
    pdf.set_text_color(*INK)
    _line(pdf, x + SAFE, footer + 8.6, card.serial, "mono", "B", 11, width)


def _line(pdf: FPDF, x: float, baseline: float, text: str, family: str, style: str, size: float,
          width: float) -> None:
    """One line of text at ``baseline``, shrunk until it fits ``width``."""
    pdf.set_font(family, style, size)
    while size > 5 and pdf.get_string_width(text) > width:
        size -= 0.25
        pdf.set_font(family, style, size)
    pdf.text(x, baseline, text)


def _wrapped(pdf: FPDF, text: str, width: float) -> list[str]:
    """``text`` broken into lines of ``width`` in the current font; every card of a region says the same."""
    key = (text, width, pdf.font_family, pdf.font_style, pdf.font_size_pt)
    if key not in _WRAPPED:
        if len(_WRAPPED) > 256:  # a few texts a region and language; never grows without bound
            _WRAPPED.clear()
        lines = pdf.multi_cell(width, 1, text, dry_run=True, output=MethodReturnValue.LINES)
        assert isinstance(lines, list)
        _WRAPPED[key] = lines
    return _WRAPPED[key]


_WRAPPED: dict[tuple[str, float, str, str, float], list[str]] = {}


def _name(pdf: FPDF, x: float, top: float, name: str, width: float) -> bool:
    """The child's name in the room above the date: one line at 10 to 8 pt, else up to three lines.

    Returns False, drawing nothing, for a name too long for the card: it is
    never cut short.
    """
    pdf.set_font("sans", "B", 10)
    per_point = pdf.get_string_width(name) / 10  # widths grow with the size: measure once
    for one_line in (10.0, 9.0, 8.0):
        if per_point * one_line <= width:
            pdf.set_font("sans", "B", one_line)
            pdf.text(x, top + 5.6, name)
            return True
    for size, most_lines in ((8, 2), (7.25, 2), (6.5, 3), (5.75, 3)):
        pdf.set_font("sans", "B", size)
        lines = pdf.multi_cell(width, size * 0.42, name, dry_run=True, output=MethodReturnValue.LINES)
        assert isinstance(lines, list)
        if len(lines) <= most_lines:
            pdf.set_xy(x, top)
            pdf.multi_cell(width, size * 0.42, name, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            return True
    return False


# --- the QR as vector rectangles ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Symbol:
    modules: int  # across, without the quiet zone (65 for version 12)
    runs: tuple[tuple[int, int, int], ...]  # dark modules as horizontal runs: (row, first column, length)
    path: str  # the runs as PDF rectangles in module units: "column row length 1 re" each


@functools.lru_cache(maxsize=16)  # a card's front asks for its size, then draws it
def _symbol(token: str) -> _Symbol:
    dark = qr_modules(token)
    runs = tuple(dark_runs(dark))
    path = " ".join(f"{column} {row} {length} 1 re" for row, column, length in runs)
    return _Symbol(int(dark.shape[0]), runs, path)


def _qr(pdf: FPDF, token: str, x: float, y: float) -> None:
    """The symbol with its top-left dark corner at (x, y): a white quiet zone, then black runs."""
    symbol = _symbol(token)
    modules = symbol.modules
    quiet = QUIET_ZONE * MODULE_MM
    pdf.set_fill_color(*WHITE)
    pdf.rect(x - quiet, y - quiet, modules * MODULE_MM + 2 * quiet, modules * MODULE_MM + 2 * quiet, style="F")
    pdf.set_fill_color(0)  # DeviceGray 0: pure black, black ink only
    # One path of ~1,100 rectangles in module units, placed and scaled by one matrix (y down), filled
    # once: fpdf2's rect() per run cost 20 ms a card.  _out is how fpdf2 adds content-stream
    # operators; the QR tests sample every module of the page as printed.
    scale = MODULE_MM * pdf.k
    pdf._out(f"q {scale:.4f} 0 0 {-scale:.4f} {x * pdf.k:.3f} {(pdf.h - y) * pdf.k:.3f} cm {symbol.path} f Q")


# --- sheets -------------------------------------------------------------------


def _sheet_margins() -> tuple[float, float]:
    """The left and top margins that centre the 2 x 5 grid of trimmed cards on A4."""
    grid_width = COLUMNS * CARD_WIDTH + (COLUMNS - 1) * GUTTER
    grid_height = ROWS * CARD_HEIGHT + (ROWS - 1) * GUTTER
    return (A4[0] - grid_width) / 2, (A4[1] - grid_height) / 2


def _sheet_origin(column: int, row: int) -> tuple[float, float]:
    left, top = _sheet_margins()
    return left + column * (CARD_WIDTH + GUTTER), top + row * (CARD_HEIGHT + GUTTER)


def _sheet_furniture(pdf: FPDF, slug: str) -> None:
    """Crop marks on every trim line, in the margins outside the bleed, and the slug in the left margin."""
    left, top = _sheet_margins()
    right, bottom = A4[0] - left, A4[1] - top
    xs = sorted({_sheet_origin(c, 0)[0] + dx for c in range(COLUMNS) for dx in (0, CARD_WIDTH)})
    ys = sorted({_sheet_origin(0, r)[1] + dy for r in range(ROWS) for dy in (0, CARD_HEIGHT)})
    pdf.set_draw_color(0)
    pdf.set_line_width(0.1)
    for x in xs:
        pdf.line(x, top - CROP_MARK_OFFSET, x, max(0.0, top - CROP_MARK_OFFSET - CROP_MARK_LENGTH))
        pdf.line(x, bottom + CROP_MARK_OFFSET, x, min(A4[1], bottom + CROP_MARK_OFFSET + CROP_MARK_LENGTH))
    for y in ys:
        pdf.line(left - CROP_MARK_OFFSET, y, left - CROP_MARK_OFFSET - CROP_MARK_LENGTH, y)
        pdf.line(right + CROP_MARK_OFFSET, y, right + CROP_MARK_OFFSET + CROP_MARK_LENGTH, y)
    pdf.set_text_color(*GREY)
    pdf.set_font("sans", "", 6.5)
    anchor_x, anchor_y = left - CROP_MARK_OFFSET - CROP_MARK_LENGTH - 2.5, bottom - 2
    with pdf.rotation(90, anchor_x, anchor_y):
        pdf.text(anchor_x, anchor_y, slug)


# --- the receipt ------------------------------------------------------------------


class _Receipt(FPDF):
    """An A4 document whose every page ends with the batch and page number."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(unit="mm", format="A4")
        _add_fonts(self)
        self.footer_text = footer_text
        self.alias_nb_pages(_PAGES_ALIAS)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("sans", "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.footer_text.replace("{page}", str(self.page_no())), align=Align.C)


def _signatures(pdf: FPDF, words: _Words, count: int, office: str, institution: str) -> None:
    """The count, then two blocks side by side: the office hands over, the school or clinic receives.

    They stay together on one page, so no one signs under a list they cannot see the end of.
    """
    block = 72.0
    if pdf.get_y() + block > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font("sans", "B", 10)
    pdf.cell(0, 6, words("count", count=count), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    top = pdf.get_y() + 8
    column = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    for index, (role, who) in enumerate((("hands_over", office), ("receives", institution))):
        x = pdf.l_margin + index * column
        pdf.set_xy(x, top)
        pdf.set_font("sans", "", 10)
        pdf.cell(column - 6, 6, words(role), new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font("sans", "B", 10)
        pdf.multi_cell(column - 6, 5.5, _printable_or(who, "?"), new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font("sans", "", 8)
        pdf.set_text_color(*GREY)
        pdf.set_xy(x, top + 34)
        pdf.cell(column - 6, 4, words("signature"))
        pdf.set_text_color(*INK)
        pdf.set_font("sans", "", 10)
        for offset, key in ((42, "name_line"), (50, "date_line")):
            pdf.set_xy(x, top + offset)
            pdf.cell(18, 6, words(key))
            pdf.cell(3, 6, ":")
            pdf.set_draw_color(*INK)
            pdf.set_line_width(0.2)
            pdf.line(x + 21, top + offset + 5, x + column - 8, top + offset + 5)
        pdf.set_draw_color(*INK)
        pdf.line(x, top + 33, x + column - 8, top + 33)


# --- fonts, text, documents ------------------------------------------------------


def _font_dir() -> Path:
    for folder in FONT_DIRS:
        if all((folder / name).is_file() for name in FONT_FILES.values()):
            return folder
    raise RuntimeError("DejaVu fonts are missing: install Debian's fonts-dejavu-core to print cards")


@functools.cache
def _drawable() -> frozenset[int]:
    """The code points every font of the cards can draw (their common cmap)."""
    folder = _font_dir()
    common: set[int] | None = None
    for name in FONT_FILES.values():
        with TTFont(folder / name, lazy=True) as font:
            cmap = set(font["cmap"].getBestCmap())
        common = cmap if common is None else common & cmap
    return frozenset(common or ())


def _printable(text: str | None) -> str | None:
    """``text`` in NFC without control characters, or None if a font cannot draw one of its letters."""
    if not text:
        return None
    clean = " ".join(unicodedata.normalize("NFC", text).split())
    clean = "".join(char for char in clean if unicodedata.category(char)[0] != "C")
    drawable = _drawable()
    if not clean or any(ord(char) not in drawable for char in clean):
        return None
    return clean


def _printable_or(text: str, instead: str) -> str:
    if not text:
        return ""
    return _printable(text) or instead


def _add_fonts(pdf: FPDF) -> None:
    folder = _font_dir()
    for (family, style), name in FONT_FILES.items():
        pdf.add_font(family, style, str(folder / name))


def _document(*, duplex: bool) -> FPDF:
    pdf = FPDF(unit="mm", format="A4")
    _add_fonts(pdf)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.c_margin = 0  # text starts exactly at the safe area
    pdf.set_title("Kartu Identitas Anak (KIA)")
    # Tell the print dialog: no fit-to-page (cards must print at 100%), and duplex on the long edge.
    pdf.viewer_preferences = ViewerPreferences(print_scaling="None",
                                               duplex=Duplex.DUPLEX_FLIP_LONG_EDGE if duplex else None)
    return pdf


def _output(pdf: FPDF) -> bytes:
    """The finished PDF; the font files fpdf2 keeps open (read lazily) are closed."""
    try:
        return bytes(pdf.output())
    finally:
        for font in pdf.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            if isinstance(ttfont, TTFont):
                ttfont.close()


def _long_date(day: dt.date, language: str) -> str:
    return f"{day.day} {_MONTHS[language][day.month - 1]} {day.year}"


def _require(items: Sequence[object], message: str) -> None:
    if not items:
        raise ValueError(message)


