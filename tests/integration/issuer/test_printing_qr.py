"""Every QR in the print-ready PDFs decodes to exactly its card's token, from the office's own cards.

The office issues cards (real keys, real database); issuer.printing lays
them out; pypdfium2 rasterises every page at 300 dpi, as a card printer
would print it; zxing-cpp reads every QR on every page.  Each must sit on
its own card and hold that card's token, its dark modules pure black.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from issuer import printing
from issuer.artifacts import qr_modules
from issuer.batches import advance, batch_view
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.printing import PrintedCard, card_pages_pdf, sheet_pdf
from issuer.storage.models import AuditEvent, CardRow
from issuer.storage.store import IssuerHome
from issuer.trust_lists import export_trust_list
from keys import TrustList, load_public_jwk, token_from_payload, verify_card, verify_trust_list
from kia.cli import cli
from tests.factories import ACTOR, BALANGAN, NOW, SURAKARTA, WIB, aged
from tests.factories.offices import PASSPHRASE, UNLOCK

DPI = 300
PX_PER_MM = DPI / 25.4
NAMES = ("Siti Nurhaliza", "Ñoño Łukasz Çelik", None, "Muhammad Rizky Ananda Pratama Putra Wijayakusuma")


@pytest.fixture
def printed_cards(office: IssuerHome) -> list[PrintedCard]:
    """Twelve cards of the office: children of several ages in Surakarta and Balangan, some named."""
    today = dt.datetime.fromtimestamp(NOW, WIB).date()
    requests = [ChildRequest(line, aged((2, 8, 14)[line % 3], today), (SURAKARTA, BALANGAN)[line % 2],
                             name=NAMES[line % len(NAMES)]) for line in range(1, 13)]
    issued = issue_cards(office, UNLOCK, requests, NOW, by=ACTOR).cards
    return [PrintedCard(item.record.serial, item.record.token, item.record.region, item.record.expires_at,
                        item.request.name) for item in issued]


def rasterised(pdf: bytes) -> list[Image.Image]:
    document = pdfium.PdfDocument(pdf)
    return [document[index].render(scale=DPI / 72).to_pil().convert("RGB") for index in range(len(document))]


def read_all(image: Image.Image) -> list[zxingcpp.Barcode]:
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    assert all(barcode.valid for barcode in found)
    return list(found)


def centre_mm(barcode: zxingcpp.Barcode) -> tuple[float, float]:
    corners = (barcode.position.top_left, barcode.position.top_right, barcode.position.bottom_left,
               barcode.position.bottom_right)
    return (sum(point.x for point in corners) / 4 / PX_PER_MM, sum(point.y for point in corners) / 4 / PX_PER_MM)


def test_every_qr_on_the_sheets_decodes_to_exactly_the_token_of_the_card_it_sits_on(
    printed_cards: list[PrintedCard],
) -> None:
    pages = rasterised(sheet_pdf(printed_cards))
    fronts = pages[0::2]

    assert len(pages) == 4  # 12 cards: two sheets, each fronts then backs
    for sheet, image in enumerate(fronts):
        on_sheet = printed_cards[sheet * printing.CARDS_PER_SHEET : (sheet + 1) * printing.CARDS_PER_SHEET]
        found = read_all(image)
        assert len(found) == len(on_sheet)
        for barcode in found:
            x, y = centre_mm(barcode)
            column = next(c for c in range(printing.COLUMNS)
                          if 0 <= x - printing._sheet_origin(c, 0)[0] <= printing.CARD_WIDTH)
            row = next(r for r in range(printing.ROWS)
                       if 0 <= y - printing._sheet_origin(0, r)[1] <= printing.CARD_HEIGHT)
            card = on_sheet[row * printing.COLUMNS + column]
            assert token_from_payload(barcode.text) == card.token, card.serial
    for image in pages[1::2]:
        assert read_all(image) == []  # the backs carry no QR


def test_every_card_page_decodes_to_its_card_and_the_office_s_trust_list_accepts_it(
    printed_cards: list[PrintedCard], office: IssuerHome, tmp_path: Path
) -> None:
    trust = _trust_list(office, tmp_path / "trust")
    pages = rasterised(card_pages_pdf(printed_cards[:4]))

    assert len(pages) == 8
    for card, front, back in zip(printed_cards[:4], pages[0::2], pages[1::2], strict=True):
        (barcode,) = read_all(front)
        token = token_from_payload(barcode.text)
        assert token == card.token
        assert verify_card(token, trust, NOW).card.serial == card.serial
        assert read_all(back) == []


def test_the_qr_is_version_12_at_q_with_modules_of_six_dots_in_pure_black(printed_cards: list[PrintedCard]) -> None:
    """Sampled at every module's centre, the page shows the symbol exactly: black (0,0,0) or white."""
    card = printed_cards[0]
    (front, _back) = rasterised(card_pages_pdf([card]))
    (barcode,) = read_all(front)
    assert barcode.ec_level == "Q" and int(str(barcode.extra["Version"])) == 12

    modules = qr_modules(card.token)
    count = modules.shape[0]
    side_mm = (count + 2 * printing.QUIET_ZONE) * printing.MODULE_MM
    # The dark modules end at the safe area, on the page that has the bleed round the card.
    left_mm = printing.BLEED + printing.CARD_WIDTH - printing.SAFE - side_mm + printing.QUIET_ZONE * printing.MODULE_MM
    top_mm = printing.BLEED + printing.CARD_HEIGHT - printing.SAFE - side_mm + printing.QUIET_ZONE * printing.MODULE_MM
    pixels = np.asarray(front)
    step = printing.MODULE_MM * PX_PER_MM
    assert step == pytest.approx(6.0)  # six dots at 300 dpi
    ring = range(-printing.QUIET_ZONE, count + printing.QUIET_ZONE)
    for row in ring:
        for column in ring:
            y = round((top_mm * PX_PER_MM) + (row + 0.5) * step - 0.5)
            x = round((left_mm * PX_PER_MM) + (column + 0.5) * step - 0.5)
            dark = 0 <= row < count and 0 <= column < count and modules[row, column]
            expected = (0, 0, 0) if dark else (255, 255, 255)  # the quiet zone is white too
            assert tuple(pixels[y, x]) == expected, (row, column)


def test_the_serial_printed_beside_the_qr_is_the_card_s(printed_cards: list[PrintedCard]) -> None:
    document = pdfium.PdfDocument(card_pages_pdf(printed_cards[:3]))

    for index, card in enumerate(printed_cards[:3]):
        front = document[2 * index].get_textpage().get_text_range()
        back = document[2 * index + 1].get_textpage().get_text_range()
        assert card.serial in front and card.serial in back
        others = [other.serial for other in printed_cards if other is not card]
        assert not any(serial in front for serial in others)


def _trust_list(office: IssuerHome, out: Path) -> TrustList:
    """The trust list the office exports, as a terminal reads it."""
    export = export_trust_list(office, UNLOCK, NOW, out, by=ACTOR)
    root = load_public_jwk(json.loads(export.root_jwk.read_text(encoding="ascii")))
    return verify_trust_list(export.trust_list.read_text(encoding="ascii"), root, NOW)


# --- the command line: one PDF per batch -------------------------------------------------------


def kia(office: IssuerHome, *args: str | Path) -> dict[str, Any]:
    """``kia ARGS`` in this process against ``office``; its JSON answer."""
    env = {"KIA_DATABASE_URL": office.database_url, "KIA_KEY_PASSPHRASE": PASSPHRASE}
    result = CliRunner().invoke(cli, [str(arg) for arg in args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def decoded_tokens(pdf: Path) -> list[str]:
    return [token_from_payload(barcode.text) for page in rasterised(pdf.read_bytes()) for barcode in read_all(page)]


def test_issuing_a_batch_with_pdf_writes_one_pdf_whose_qr_codes_are_the_cards_issued(
    office: IssuerHome, tmp_path: Path
) -> None:
    eight = dt.date.today().replace(day=1) - dt.timedelta(days=8 * 366)  # the command issues on the real clock
    school = tmp_path / "school.csv"
    school.write_text("birth_date,region,name,external_id\n"
                      + "".join(f"{eight},3372,Anak {line},p-{line}\n" for line in range(1, 4)), encoding="utf-8")

    answer = kia(office, "issuer", "card", "issue", "--home", office.path, "--csv", school,
                 "--out", tmp_path / "cards", "--pdf", "pages")

    assert answer["issued"] == 3 and answer["pdf"] == str(tmp_path / "cards" / "cards.pdf")
    assert all(Path(card["qr_png"]).is_file() for card in answer["cards"])  # the loose files still come
    assert decoded_tokens(Path(answer["pdf"])) == [card["token"] for card in answer["cards"]]
    document = pdfium.PdfDocument(Path(answer["pdf"]).read_bytes())
    assert "Anak 2" in document[2].get_textpage().get_text_range()


def test_printing_a_verified_batch_moves_it_to_printed_and_a_serial_reprint_is_audited(
    office: IssuerHome, tmp_path: Path, printed_cards: list[PrintedCard]
) -> None:
    today = dt.datetime.fromtimestamp(NOW, WIB).date()
    requests = [ChildRequest(line, aged(9, today), SURAKARTA, f"p-{line}", name=f"Murid {line}")
                for line in range(1, 4)]
    batch_id = issue_cards(office, UNLOCK, requests, NOW, channel="school", by=ACTOR).batch_id
    assert batch_id is not None
    advance(office, batch_id, "verified", NOW, by=ACTOR, unlock=UNLOCK)

    answer = kia(office, "issuer", "card", "print", "--home", office.path, "--batch", batch_id,
                 "--layout", "sheet", "--out", tmp_path / "batch.pdf")

    tokens = [card.token for card in batch_cards(office, batch_id)]
    assert answer == {"pdf": str(tmp_path / "batch.pdf"), "layout": "sheet", "cards": 3, "batch_id": batch_id}
    assert sorted(decoded_tokens(tmp_path / "batch.pdf")) == sorted(tokens)
    assert batch_view(office, batch_id).batch.state == "printed"

    again = kia(office, "issuer", "card", "print", "--home", office.path, printed_cards[0].serial,
                "--layout", "pages", "--lang", "en", "--out", tmp_path / "one.pdf")

    assert again["cards"] == 1 and decoded_tokens(tmp_path / "one.pdf") == [printed_cards[0].token]
    with office.transaction() as session:
        events = session.scalars(select(AuditEvent.action).where(AuditEvent.target == printed_cards[0].serial))
        assert "card_qr" in list(events)


def batch_cards(office: IssuerHome, batch_id: int) -> list[PrintedCard]:
    with office.transaction() as session:
        rows = session.scalars(select(CardRow).where(CardRow.batch_id == batch_id))
        return [PrintedCard(row.serial, row.token, row.region, row.expires_at, None) for row in rows]
