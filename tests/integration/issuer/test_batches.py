"""School and clinic batches and their one-way states (both databases)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from issuer import batches, create_app
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.errors import IssuerError
from issuer.people import create_user
from issuer.storage.models import AuditEvent
from issuer.storage.store import IssuerHome
from kia.cli import main
from tests.factories import ACTOR, NOW
from tests.factories.offices import UNLOCK


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
