"""A batch drawn while it is recorded (issue 14): what the overlap may and may not do.

``issue_cards(on_signed=...)`` hands the caller each card as it is signed,
inside the transaction that records it; ``artifacts.Drawing`` draws them on
its processes meanwhile and ``write_archive`` writes them only when asked,
after the commit.  Each test runs on SQLite and on PostgreSQL (``office``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from issuer.artifacts import (
    Drawing,
    ndef_message,
    qr_modules,
    qr_png,
    qr_svg,
    render_card,
    write_archive,
    write_card_files,
)
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.storage.models import BatchChild, BatchRow, CardRow, Child
from issuer.storage.store import IssuerHome
from tests.factories import ACTOR, BIRTH_DATE, NOW, SURAKARTA
from tests.factories.offices import UNLOCK

# Enough rows for several of issue_cards' signed slices and Drawing's chunks, and
# for more than one page of SQLAlchemy's multi-row INSERT … RETURNING (1,000 rows).
ROWS = 1100


def pupils(count: int) -> list[ChildRequest]:
    return [ChildRequest(line, BIRTH_DATE, SURAKARTA, external_id=f"p-{line}", nik=f"337201540518{line:04d}")
            for line in range(2, count + 2)]


def counts(office: IssuerHome) -> tuple[int, ...]:
    with office.database.transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(model)) or 0
                     for model in (Child, CardRow, BatchRow, BatchChild))


def test_every_card_signed_is_handed_over_in_order_and_recorded_as_handed(office: IssuerHome) -> None:
    handed: list[tuple[str, str]] = []

    issuance = issue_cards(office, UNLOCK, pupils(ROWS), NOW, channel="school", source="sd.csv", by=ACTOR,
                           on_signed=handed.extend)

    assert handed == [(item.record.serial, item.record.token) for item in issuance.cards]
    assert len(set(serial for serial, _ in handed)) == ROWS
    with office.database.transaction() as session:
        cards = {row.serial: row for row in session.scalars(select(CardRow))}
        links = {row.serial: row for row in session.scalars(select(BatchChild))}
        for item in issuance.cards:
            card, link = cards[item.record.serial], links[item.record.serial]
            # Each card belongs to the child of its own line, through the batch's own row.
            assert card.token == item.record.token and card.batch_id == issuance.batch_id
            assert card.child is not None and card.child.nik == item.request.nik
            assert (link.line, link.external_id, link.child_id) == (item.request.line, item.request.external_id,
                                                                    card.child_id)
    assert counts(office) == (ROWS, ROWS, 1, ROWS)


def test_cards_handed_over_before_a_failure_are_never_recorded(office: IssuerHome) -> None:
    """The hand-over happens inside the transaction: if anything then fails, no child, card or batch remains."""
    handed: list[tuple[str, str]] = []

    def then_fail(cards: list[tuple[str, str]]) -> None:
        handed.extend(cards)
        if len(handed) == ROWS:
            raise RuntimeError("the caller failed after the last slice")

    with pytest.raises(RuntimeError):
        issue_cards(office, UNLOCK, pupils(ROWS), NOW, channel="school", source="sd.csv", by=ACTOR,
                    on_signed=then_fail)

    assert len(handed) == ROWS
    assert counts(office) == (0, 0, 0, 0)


def test_an_archive_from_a_drawing_started_early_holds_the_same_bytes(tmp_path: Path, card_tokens: list[str]) -> None:
    cards = [(f"{index:08d}", card_tokens[index % len(card_tokens)]) for index in range(70)]
    with Drawing(len(cards), workers=2) as drawing:
        drawing.draw(cards[:40])
        drawing.draw(cards[40:])
        members = write_archive(cards, tmp_path / "cards-batch-1.zip", drawing=drawing)

    assert [member.qr_png.name for member in members] == [f"{serial}.png" for serial, _ in cards]
    with zipfile.ZipFile(tmp_path / "cards-batch-1.zip") as archive:
        for (serial, token), member in zip(cards, members, strict=True):
            files = write_card_files(serial, token, tmp_path)
            assert archive.read(str(member.qr_png)) == files.qr_png.read_bytes()
            assert archive.read(str(member.qr_svg)) == files.qr_svg.read_bytes()
            assert archive.read(str(member.ndef)) == files.ndef.read_bytes()


def test_a_drawing_closed_unwritten_leaves_nothing_on_disk(tmp_path: Path, card_tokens: list[str]) -> None:
    cards = [(f"{index:08d}", card_tokens[index % len(card_tokens)]) for index in range(70)]
    with Drawing(len(cards), workers=2) as drawing:
        drawing.draw(cards)
    # What a refused transaction does: the drawn cards go with the processes.
    assert list(tmp_path.iterdir()) == []
    assert list(drawing.drawn()) == []


def test_an_archive_refuses_a_drawing_of_other_cards(tmp_path: Path, card_tokens: list[str]) -> None:
    with Drawing(2, workers=1) as drawing:
        drawing.draw([("00000001", card_tokens[0])])
        with pytest.raises(ValueError):
            write_archive([("00000001", card_tokens[0]), ("00000002", card_tokens[1])], tmp_path / "a.zip",
                          drawing=drawing)
        drawing.draw([("00000003", card_tokens[1])])
        with pytest.raises(ValueError):
            write_archive([("00000001", card_tokens[0]), ("00000002", card_tokens[1])], tmp_path / "a.zip",
                          drawing=drawing)
    assert list(tmp_path.iterdir()) == []


def test_a_card_drawn_once_shares_its_modules_between_png_and_svg(card_tokens: list[str]) -> None:
    """render_card draws the modules once for both pictures; the bytes are those of each picture alone."""
    for token in card_tokens:
        card = render_card("00000001", token)
        modules = qr_modules(token)
        assert card.qr_png == qr_png(modules)
        assert card.qr_svg == qr_svg(modules).encode("ascii")
        assert card.ndef == ndef_message(token)
