"""School and clinic batches and their one-way states (both databases).

A batch is submitted with nothing signed; verification signs its cards; the
same file or the same child twice is caught; each step keeps who and when.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from issuer import batches, create_app
from issuer.audit import Actor
from issuer.cards import issue_cards, revoke_card
from issuer.children import ChildRequest, RowError
from issuer.errors import IssuerError, Refused
from issuer.institutions import create_institution
from issuer.people import create_user
from issuer.storage.models import AuditEvent, BatchChild, CardRow, Child, LogPending
from issuer.storage.store import IssuerHome
from kia.cli import main
from tests.factories import ACTOR, BALANGAN, DAY, NOW
from tests.factories.offices import UNLOCK

GIRL_NIK = "6311015405180001"  # born 2018-05-14, a girl (day + 40)
BOY_NIK = "6311011405180002"
OFFICER = Actor("petugas", "10.0.0.5")
SCHOOL = Actor("sd-balangan", "10.9.8.7")


@pytest.fixture
def founded_at() -> int:
    return NOW


def submit(office: IssuerHome, channel: str, count: int = 2) -> int:
    children = [ChildRequest(line, dt.date(2026, 11, 1), 6311) for line in range(2, 2 + count)]
    issuance = issue_cards(office, UNLOCK, children, NOW,
                           channel=channel, source=f"{channel}.csv", by=ACTOR)
    assert issuance.batch_id is not None
    return issuance.batch_id


def test_a_batch_moves_through_its_states_in_order(office: IssuerHome) -> None:
    batch_id = submit(office, "clinic")
    (listed,) = batches.list_batches(office)
    assert (listed.channel, listed.state, listed.cards, listed.next_state) == ("clinic", "submitted", 2, "verified")
    for state in ("verified", "printed", "handed_over"):
        assert batches.advance(office, batch_id, state, NOW, by=ACTOR).state == state
    assert batches.list_batches(office)[0].next_state is None


@pytest.mark.parametrize("state", ["printed", "handed_over", "submitted", "verified-ish"])
def test_a_batch_cannot_skip_or_go_back(office: IssuerHome, state: str) -> None:
    batch_id = submit(office, "school")
    with pytest.raises(IssuerError, match="can only move to verified"):
        batches.advance(office, batch_id, state, NOW, by=ACTOR)


def test_an_unknown_batch_is_refused(office: IssuerHome) -> None:
    with pytest.raises(batches.BatchNotFound):
        batches.advance(office, 99, "verified", NOW, by=ACTOR)


def test_an_officer_advances_a_batch_on_the_cards_page_and_it_is_audited(office: IssuerHome) -> None:
    batch_id = submit(office, "school")
    create_user(office, "officer", "kata-sandi-panjang-1", "officer", None, NOW, by=ACTOR)
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True})
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(True))[1]
    client.post("/login", data={"csrf_token": token, "username": "officer", "password": "kata-sandi-panjang-1"})
    page = client.get("/cards/").get_data(True)
    assert "school.csv" in page and "Diajukan" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    response = client.post(f"/cards/batches/{batch_id}/verified", data={"csrf_token": token})
    assert response.status_code == 302
    assert batches.list_batches(office)[0].state == "verified"
    assert client.post(f"/cards/batches/{batch_id}/handed_over", data={"csrf_token": token}).status_code == 302
    assert batches.list_batches(office)[0].state == "verified"  # refused with a message, not skipped
    with office.transaction() as session:
        events = [(e.username, e.action, e.target) for e in session.scalars(select(AuditEvent))]
    assert ("officer", "batch_verified", f"batch {batch_id}") in events
    assert not any(action == "batch_handed_over" for _, action, _ in events)


def test_the_batch_commands(office: IssuerHome, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    batch_id = submit(office, "clinic")
    if office.database_url.startswith("postgresql"):
        monkeypatch.setenv("KIA_DATABASE_URL", office.database_url)
    with pytest.raises(SystemExit) as done:
        main(["issuer", "batch", "advance", "--home", str(office.path), str(batch_id), "verified"])
    assert done.value.code == 0 and '"state": "verified"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["issuer", "batch", "advance", "--home", str(office.path), str(batch_id), "handed_over"])
    error = capsys.readouterr().err
    assert refused.value.code == 1 and error.count("\n") == 1 and "can only move to printed" in error


# --- submitted, then verified: nothing is signed at upload -------------------------------


def pupil(line: int, nik: str | None = None, name: str | None = None, external_id: str | None = None,
          region: int = BALANGAN) -> ChildRequest:
    return ChildRequest(line, dt.date(2018, 5, 14), region, external_id, name, nik)


def school(office: IssuerHome) -> int:
    return create_institution(office, "SD Negeri 1 Paringin", "school", BALANGAN, NOW, by=ACTOR)


def events(office: IssuerHome) -> list[tuple[str, str, str | None]]:
    with office.transaction() as session:
        return [(e.username, e.action, e.target) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_submitted_batch_signs_nothing_until_the_office_verifies_it(office: IssuerHome) -> None:
    institution = school(office)
    refused = [RowError(4, "birth_date", "birth_date_format", "NIS-3")]
    batch_id = batches.submit_batch(office, [pupil(2, GIRL_NIK, "Siti", "NIS-1"), pupil(3, None, "Budi", "NIS-2")],
                                    refused, NOW, institution_id=institution, source="kelas1.csv",
                                    file_sha256="ab" * 32, by=SCHOOL)

    view = batches.batch_view(office, batch_id)
    assert (view.batch.state, view.batch.channel, view.batch.cards, view.institution) == (
        "submitted", "school", 0, "SD Negeri 1 Paringin")
    assert [(c.line, c.external_id, c.name, c.serial, c.state) for c in view.children] == [
        (2, "NIS-1", "Siti", None, "waiting"), (3, "NIS-2", "Budi", None, "waiting")]
    assert view.refused == refused
    with office.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CardRow)) == 0
        facts = select(func.count()).select_from(LogPending).where(LogPending.kind == "card_issued")
        assert session.scalar(facts) == 0  # no card fact either
    assert ("sd-balangan", "batch_submit", f"batch {batch_id}: 2 children") in events(office)

    verified = batches.advance(office, batch_id, "verified", NOW + DAY, by=OFFICER, unlock=UNLOCK)

    assert (verified.state, verified.cards) == ("verified", 2)
    view = batches.batch_view(office, batch_id)
    assert [c.state for c in view.children] == ["card_made", "card_made"]
    assert [(s.state, s.at, s.username) for s in view.steps] == [
        ("submitted", NOW, "sd-balangan"), ("verified", NOW + DAY, "petugas")]
    with office.transaction() as session:
        cards = list(session.scalars(select(CardRow).order_by(CardRow.serial)))
        assert {card.issued_at for card in cards} == {NOW + DAY}  # signed now, not at upload
        assert {card.serial for card in cards} == {c.serial for c in view.children}
        logged = {row.ref for row in session.scalars(select(LogPending).where(LogPending.kind == "card_issued"))}
    assert logged == {card.serial for card in cards}
    assert ("petugas", "batch_verified", f"batch {batch_id}") in events(office)


def test_verifying_without_the_key_signs_nothing_and_stays_submitted(office: IssuerHome) -> None:
    batch_id = batches.submit_batch(office, [pupil(2, GIRL_NIK)], [], NOW, by=SCHOOL)
    with pytest.raises(IssuerError, match="passphrase"):
        batches.advance(office, batch_id, "verified", NOW, by=OFFICER)
    assert batches.batch_view(office, batch_id).batch.state == "submitted"


def test_the_same_file_from_the_same_institution_is_refused_naming_its_batch(office: IssuerHome) -> None:
    institution = school(office)
    other = create_institution(office, "Klinik Bersalin Sehat", "clinic", BALANGAN, NOW, by=ACTOR)
    first = batches.submit_batch(office, [pupil(2, GIRL_NIK)], [], NOW, institution_id=institution,
                                 file_sha256="cd" * 32, by=SCHOOL)

    with pytest.raises(batches.SameFileAgain) as again:
        batches.submit_batch(office, [], [], NOW, institution_id=institution, file_sha256="cd" * 32, by=SCHOOL)

    assert again.value.batch_id == first and f"batch {first}" in str(again.value)
    # Another institution may send a file with the same bytes (an empty template, say).
    assert batches.submit_batch(office, [], [], NOW, institution_id=other, file_sha256="cd" * 32, by=SCHOOL)


def test_a_child_waiting_in_another_batch_is_a_refused_row_by_nik_or_by_name(office: IssuerHome) -> None:
    first = batches.submit_batch(office, [pupil(2, GIRL_NIK, "Siti"), pupil(3, None, "Budi Santoso")], [], NOW,
                                 by=SCHOOL)
    # The same file again without NIKs, with the names written otherwise: the second upload of the issue.
    again = [pupil(2, GIRL_NIK, "Siti"), pupil(3, None, "budi  SANTOSO"), pupil(4, None, "Budi Santoso", region=3372)]
    second = batches.submit_batch(office, again, [], NOW, by=SCHOOL)

    view = batches.batch_view(office, second)
    assert view.refused == [RowError(2, "nik", "duplicate_in_batch", ref=first),
                            RowError(3, "name", "duplicate_in_batch", ref=first)]
    assert [c.line for c in view.children] == [4]  # another region: another child


def test_a_child_holding_an_active_card_is_refused_and_one_whose_card_was_revoked_is_asked_for_again(
        office: IssuerHome) -> None:
    held = issue_cards(office, UNLOCK, [pupil(1, GIRL_NIK), pupil(2, BOY_NIK)], NOW, by=ACTOR).cards
    revoke_card(office, held[1].record.serial, "hilang", NOW, by=ACTOR)

    batch_id = batches.submit_batch(office, [pupil(2, GIRL_NIK), pupil(3, BOY_NIK)], [], NOW, by=SCHOOL)

    view = batches.batch_view(office, batch_id)
    assert view.refused == [RowError(2, "nik", "has_card")]
    with office.transaction() as session:  # the boy's record is the office's one, not a second
        assert session.scalar(select(func.count()).select_from(Child).where(Child.nik == BOY_NIK)) == 1
    batches.advance(office, batch_id, "verified", NOW, by=OFFICER, unlock=UNLOCK)
    with office.transaction() as session:
        states = sorted(card.state for card in session.scalars(
            select(CardRow).join(Child).where(Child.nik == BOY_NIK)))
    assert states == ["active", "revoked"]


def test_the_counter_refuses_a_nik_that_waits_in_a_batch(office: IssuerHome) -> None:
    batch_id = batches.submit_batch(office, [pupil(2, GIRL_NIK)], [], NOW, by=SCHOOL)

    issuance = issue_cards(office, UNLOCK, [pupil(0, GIRL_NIK)], NOW, by=ACTOR)

    assert issuance.cards == [] and issuance.rejected == [RowError(0, "nik", "duplicate_in_batch", ref=batch_id)]


def test_printing_moves_a_verified_batch_to_printed_once_and_every_print_is_audited(office: IssuerHome) -> None:
    batch_id = batches.submit_batch(office, [pupil(2, GIRL_NIK, "Siti", "NIS-1"), pupil(3, BOY_NIK)], [], NOW,
                                    by=SCHOOL)
    with pytest.raises(Refused, match="not verified"):
        batches.print_batch(office, batch_id, NOW, lambda cards: b"%PDF", by=OFFICER)
    batches.advance(office, batch_id, "verified", NOW, by=OFFICER, unlock=UNLOCK)

    def broken(cards: list[batches.BatchCard]) -> bytes:
        raise ValueError("the printer's driver failed")

    with pytest.raises(ValueError):
        batches.print_batch(office, batch_id, NOW, broken, by=OFFICER)
    assert batches.batch_view(office, batch_id).batch.state == "verified"  # nothing printed, nothing moved

    seen: list[list[batches.BatchCard]] = []
    assert batches.print_batch(office, batch_id, NOW + 60, lambda cards: seen.append(cards) or b"%PDF-1",
                               by=OFFICER) == b"%PDF-1"
    batches.print_batch(office, batch_id, NOW + 120, lambda cards: b"%PDF-2", by=OFFICER)

    (cards,) = seen
    with office.transaction() as session:
        tokens = {row.serial: row.token for row in session.scalars(select(CardRow))}
    assert [(card.name, card.region, card.token) for card in cards] == [
        ("Siti", BALANGAN, tokens[cards[0].serial]), (None, BALANGAN, tokens[cards[1].serial])]
    view = batches.batch_view(office, batch_id)
    assert [(s.state, s.at) for s in view.steps] == [("submitted", NOW), ("verified", NOW), ("printed", NOW + 60)]
    assert [c.state for c in view.children] == ["printed", "printed"]
    printed = [action for _, action, target in events(office) if target == f"batch {batch_id}"]
    assert printed == ["batch_verified", "batch_printed", "batch_print_again"]
    lines = batches.handover_lines(office, batch_id)
    assert [(line.number, line.external_id, line.name) for line in lines] == [(1, "NIS-1", "Siti"), (2, None, None)]


def test_the_batch_commands_verify_by_signing(office: IssuerHome, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch, keys_env: None) -> None:
    batch_id = batches.submit_batch(office, [pupil(2, GIRL_NIK)], [], NOW, by=SCHOOL)
    if office.database_url.startswith("postgresql"):
        monkeypatch.setenv("KIA_DATABASE_URL", office.database_url)
    with pytest.raises(SystemExit) as done:
        main(["issuer", "batch", "advance", "--home", str(office.path), str(batch_id), "verified"])
    assert done.value.code == 0 and '"cards": 1' in capsys.readouterr().out
    with office.transaction() as session:
        (child,) = session.scalars(select(BatchChild))
        assert child.serial is not None
