"""The print-ready PDFs (issuer.printing): sizes, vector QR, text on the page, the receipt.

pypdfium2 reads the PDFs back as a viewer would: page sizes, page objects,
the text layer.  The QR codes themselves are decoded in
tests/integration/issuer/test_printing_qr.py.
"""

from __future__ import annotations

import datetime as dt
import functools

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from issuer import printing
from issuer.printing import HandoverLine, PrintedCard, card_pages_pdf, handover_pdf, sheet_pdf
from keys.eligibility import last_eligible_day
from keys.serial import serial_from_value
from tests.factories import NOW, SURAKARTA, make_card, make_trust

MM_PER_POINT = 25.4 / 72
DAY = dt.date(2026, 11, 22)


def cards(count: int, name: str | None = "Siti Nurhaliza") -> list[PrintedCard]:
    trust = make_trust()
    made = [make_card(serial=serial_from_value(1000 + index), now=NOW) for index in range(count)]
    return [PrintedCard(card.serial, trust.issue(card), card.region, card.expires_at, name) for card in made]


@functools.cache
def three() -> tuple[list[PrintedCard], bytes]:
    """Three named cards and their one-page-a-side PDF, made once for the tests that only read it."""
    made = cards(3)
    return made, card_pages_pdf(made)


def pages(pdf: bytes) -> list[pdfium.PdfPage]:
    document = pdfium.PdfDocument(pdf)
    return [document[index] for index in range(len(document))]


def size_mm(page: pdfium.PdfPage) -> tuple[float, float]:
    width, height = page.get_size()
    return round(width * MM_PER_POINT, 2), round(height * MM_PER_POINT, 2)


def text(page: pdfium.PdfPage) -> str:
    return str(page.get_textpage().get_text_range())


def object_types(page: pdfium.PdfPage) -> set[int]:
    return {item.type for item in page.get_objects(max_depth=8)}


# --- sizes and layout -------------------------------------------------------------------


def test_card_pages_are_id1_plus_bleed_front_then_back_for_each_card() -> None:
    made, pdf = three()

    printed = pages(pdf)

    assert len(printed) == 6
    assert {size_mm(page) for page in printed} == {(89.6, 57.98)}  # 85.60 x 53.98 mm and 2 mm bleed all round
    for index, card in enumerate(made):
        front, back = printed[2 * index], printed[2 * index + 1]
        assert "KARTU IDENTITAS ANAK" in text(front) and card.serial in text(front)
        assert "Cara memakai kartu ini" in text(back) and card.serial in text(back)


def test_a_sheet_is_a4_with_ten_fronts_then_ten_backs() -> None:
    made = cards(12)

    printed = pages(sheet_pdf(made))

    assert [size_mm(page) for page in printed] == [(210.0, 297.0)] * 4  # two sheets, each fronts then backs
    first_fronts, first_backs, second_fronts, second_backs = (text(page) for page in printed)
    assert all(card.serial in first_fronts and card.serial in first_backs for card in made[:10])
    assert all(card.serial in second_fronts and card.serial in second_backs for card in made[10:])
    assert not any(card.serial in second_fronts for card in made[:10])
    assert "sisi depan" in first_fronts and "sisi belakang" in first_backs


def serial_box(page: pdfium.PdfPage, serial: str) -> tuple[float, float]:
    """Where ``serial`` first appears on the page: (left, top) in mm from the top-left corner."""
    textpage = page.get_textpage()
    searcher = textpage.search(serial)
    found = searcher.get_next()
    assert found is not None, f"{serial} is not on the page"
    left, _bottom, _right, top = textpage.get_charbox(found[0])
    return left * MM_PER_POINT, page.get_size()[1] * MM_PER_POINT - top * MM_PER_POINT


def test_each_back_lies_behind_its_front_when_the_sheet_is_flipped_on_its_long_edge() -> None:
    made = cards(10)
    fronts, backs = pages(sheet_pdf(made))

    for card in made:
        front_left, front_top = serial_box(fronts, card.serial)
        back_left, back_top = serial_box(backs, card.serial)
        card_left = printing._sheet_origin(0, 0)[0] if front_left < 105 else printing._sheet_origin(1, 0)[0]
        # Flipped on the long (vertical) edge, x mirrors about the middle of the sheet; y stays.
        mirrored_card_left = 210.0 - card_left - printing.CARD_WIDTH
        assert abs((back_left > 105) - (front_left > 105)) == 1, card.serial
        assert mirrored_card_left <= back_left <= mirrored_card_left + printing.CARD_WIDTH
        assert abs(back_top - front_top) < printing.CARD_HEIGHT  # the same row


def test_the_pdfs_hold_no_raster_image_only_vector_paths_and_text() -> None:
    made, card_pages = three()
    for pdf in (sheet_pdf(made), card_pages, handover_pdf("SD Negeri 1", 4, lines(made), DAY)):
        for page in pages(pdf):
            kinds = object_types(page)
            assert pdfium_c.FPDF_PAGEOBJ_IMAGE not in kinds
            assert pdfium_c.FPDF_PAGEOBJ_PATH in kinds
        assert b"/Subtype /Image" not in pdf


def test_the_print_dialog_is_told_not_to_scale_and_sheets_to_flip_on_the_long_edge() -> None:
    made, card_pages = three()
    sheet = sheet_pdf(made)

    assert b"/PrintScaling /None" in sheet and b"/Duplex /DuplexFlipLongEdge" in sheet
    assert b"/PrintScaling /None" in card_pages and b"/Duplex" not in card_pages


# --- the words on the card ------------------------------------------------------------------


def test_the_front_carries_title_region_name_validity_and_serial() -> None:
    made, pdf = three()
    card = made[0]

    front = text(pages(pdf)[0])

    assert "KARTU IDENTITAS ANAK" in front
    assert "Kota Surakarta" in front and card.region == SURAKARTA
    assert "Siti Nurhaliza" in front
    assert "Berlaku s.d." in front
    # The last valid day, in the region's zone, with the month in words.
    last = last_eligible_day(card.expires_at, card.region)
    assert f"{last.day} {printing._MONTHS['id'][last.month - 1]} {last.year}" in front
    assert card.serial in front


def test_english_cards_say_the_same_in_english() -> None:
    front, back = (text(page) for page in pages(card_pages_pdf(cards(1), language="en")))

    assert "CHILD IDENTITY CARD" in front and "Valid until" in front and "Serial" in front
    assert "How to use this card" in back and "return it to Disdukcapil Kota Surakarta" in back
    assert "Berlaku" not in front and "kembalikan" not in back


def test_the_back_names_the_public_site_when_given() -> None:
    back = text(pages(card_pages_pdf(cards(1), site="kia.surakarta.go.id"))[1])

    assert "kia.surakarta.go.id" in back


@pytest.mark.parametrize("name", ["Ñoño Łukasz Çelik", "Ayu Ş. Дмитрий Ωmega"])
def test_names_beyond_latin_1_are_printed(name: str) -> None:
    front = text(pages(card_pages_pdf(cards(1, name)))[0])

    assert name in front


def test_a_name_the_font_cannot_draw_is_left_off_not_a_crash() -> None:
    made = cards(1, "李小龍")

    front = text(pages(card_pages_pdf(made))[0])
    receipt = text(pages(handover_pdf("SD Negeri 1", 4, lines(made), DAY))[0])

    assert "李" not in front and made[0].serial in front
    assert "(nama tidak dapat dicetak)" in receipt and made[0].serial in receipt


def test_a_name_too_long_for_the_card_is_left_off_never_cut_short() -> None:
    long_name = " ".join(["Kusumawardhani"] * 12)

    front = text(pages(card_pages_pdf(cards(1, long_name)))[0])

    assert "Kusumawardhani" not in front


def test_a_long_name_wraps_and_is_printed_whole() -> None:
    name = "I Gusti Ayu Ketut Sri Wahyuni Dewi Anggraeni Kusumawardhani Putri"

    front = text(pages(card_pages_pdf(cards(1, name)))[0])

    assert name in " ".join(front.split())  # on two or three lines, every word


# --- the handover receipt ------------------------------------------------------------------


def lines(made: list[PrintedCard]) -> list[HandoverLine]:
    return [HandoverLine(number, f"NIS-{number:04d}", card.name, card.serial)
            for number, card in enumerate(made, start=1)]


def test_the_receipt_lists_every_serial_and_the_count_with_two_signature_blocks() -> None:
    made = cards(5)

    page = pages(handover_pdf("SD Negeri 1 Surakarta", 17, lines(made), DAY,
                              office="Disdukcapil Kota Surakarta"))[0]
    words = text(page)

    assert "TANDA TERIMA" in words and "SD Negeri 1 Surakarta" in words and "17" in words
    assert "22 November 2026" in words
    assert all(card.serial in words for card in made)
    assert "NIS-0005" in words and "Jumlah kartu: 5" in words
    assert "Yang menyerahkan" in words and "Yang menerima" in words
    assert words.count("Tanda tangan") == 2 and words.count("Tanggal") >= 3


def test_a_long_receipt_flows_over_pages_with_the_header_repeated() -> None:
    many = [HandoverLine(number, None, "Anak Sekolah", serial_from_value(number)) for number in range(1, 121)]

    printed = pages(handover_pdf("SD Negeri 1", 9, many, DAY, language="en"))

    assert len(printed) >= 3
    every = [text(page) for page in printed]
    with_rows = [page for page in every if "Anak Sekolah" in page]
    assert len(with_rows) >= 3
    assert all(page.startswith("No. Pupil id Child's name Serial") for page in with_rows[1:])
    assert all(f"page {number} of {len(printed)}" in page for number, page in enumerate(every, start=1))
    assert all(any(line.serial in page for page in every) for line in many)
    assert "Number of cards: 120" in every[-1] and "Received by" in every[-1]


# --- refusals --------------------------------------------------------------------------------


def test_empty_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no card"):
        sheet_pdf([])
    with pytest.raises(ValueError, match="no card"):
        card_pages_pdf([])
    with pytest.raises(ValueError, match="no card"):
        handover_pdf("SD Negeri 1", 1, [], DAY)


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        card_pages_pdf(cards(1), language="fr")
