"""A terminal asks for the trust list's second form and takes either (issue 14, docs/adr/0002).

The office's real service over HTTP on loopback (tests/integration/verifier/
test_idle_polls.py's setup), on SQLite and PostgreSQL; the real terminal.  Last, an
office from before issue 14 (scripted: it answers ``form`` with 400).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from issuer.cards import issue_cards, revoke_card
from issuer.children import ChildRequest
from issuer.storage.models import TrustListDeltaRow, TrustListRow
from issuer.trust_lists import export_trust_list
from keys import RevokedSerials, build_trust_list
from keys.trustlist import form_of, sign_delta
from tests.factories import ACTOR, NOW, SURAKARTA, make_trust
from tests.factories.offices import UNLOCK
from tests.integration.verifier.test_idle_polls import Setup
from tests.integration.verifier.test_idle_polls import setup as idle_setup
from tests.terminal_home import open_terminal
from verifier.home import TerminalHome
from verifier.sync import Answer, Sync


@pytest.fixture
def idle(tmp_path: Path, issuer_db_url: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    yield from idle_setup(tmp_path, issuer_db_url, monkeypatch, {})


def _revoke_and_publish(idle: Setup, tmp_path: Path, at: int) -> str:
    (card,) = issue_cards(idle.office, UNLOCK, [ChildRequest(1, dt.date(2016, 8, 17), SURAKARTA)], at,
                          by=ACTOR).cards
    revoke_card(idle.office, card.record.serial, "hilang", at + 1, by=ACTOR)
    export_trust_list(idle.office, UNLOCK, at + 2, tmp_path / f"published-{at}", by=ACTOR)
    return card.record.serial


def _stored_forms(home: TerminalHome) -> list[int]:
    deltas = sorted(home.deltas_path.glob("*.jws")) if home.deltas_path.exists() else []
    return [form_of(path.read_text(encoding="ascii")) for path in (home.trust_path, *deltas)]


def test_the_terminal_takes_a_form_2_delta_onto_a_list_held_in_form_1_and_reloads_it(
    idle: Setup, tmp_path: Path
) -> None:
    home = idle.terminal.home
    assert _stored_forms(home) == [1]  # enrolment took the list as old terminals do
    idle.clock.now = NOW + 100
    lost = _revoke_and_publish(idle, tmp_path, NOW + 100)

    result = idle.sync().run(idle.clock)

    assert result.trust_list_seq == 2 and lost in idle.terminal.trust.revoked
    assert _stored_forms(home) == [1, 2]
    assert home.load_trust_list(NOW + 200) == idle.terminal.trust


def test_a_full_list_in_form_2_is_stored_and_loaded_at_start(idle: Setup, tmp_path: Path) -> None:
    lost = _revoke_and_publish(idle, tmp_path, NOW + 100)
    with idle.office.transaction() as session:  # no delta kept from the terminal's sequence
        session.execute(delete(TrustListDeltaRow))
    idle.clock.now = NOW + 200

    idle.sync().run(idle.clock)

    home = idle.terminal.home
    assert _stored_forms(home) == [2] and idle.terminal.trust.seq == 2
    reloaded = TerminalHome(home.path).load_trust_list(NOW + 300)
    assert reloaded == idle.terminal.trust and lost in reloaded.revoked


def test_an_office_holding_form_1_only_brings_form_1(idle: Setup, tmp_path: Path) -> None:
    lost = _revoke_and_publish(idle, tmp_path, NOW + 100)
    with idle.office.transaction() as session:  # as lists published before migration 0014
        session.execute(update(TrustListRow).values(jws2=None))
        session.execute(update(TrustListDeltaRow).values(jws2=None))
    idle.clock.now = NOW + 200

    idle.sync().run(idle.clock)

    assert _stored_forms(idle.terminal.home) == [1, 1] and lost in idle.terminal.trust.revoked


def test_an_idle_terminal_holding_form_2_gets_304(idle: Setup, tmp_path: Path) -> None:
    _revoke_and_publish(idle, tmp_path, NOW + 100)
    idle.clock.now = NOW + 200
    sync = idle.sync()
    sync.run(idle.clock)
    idle.client.round_calls()
    idle.clock.now = NOW + 260

    sync.run(idle.clock)

    assert idle.client.round_calls()[0] == ("/api/v1/trustlist", 304, True)


class OfficeBeforeIssue14:
    """An office that knows no ``form``: 400 for it, form 1 otherwise (a delta from 1 to 2)."""

    def __init__(self, delta: str) -> None:
        self.delta, self.asked = delta, []

    def request(self, method: str, path: str, *, body: object = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        if "trustlist" not in path:
            return Answer(503, b"{}", {})
        self.asked.append(path)
        if "form=" in path:
            return Answer(400, b'{"error":"bad_query","message":"unknown query member"}', {})
        if path == "/api/v1/trustlist?since=1":
            return Answer(200, self.delta.encode(), {"X-KIA-Delta-From": "1"})
        return Answer(404, b"{}", {})


def test_an_office_that_knows_no_form_is_asked_again_without_it(tmp_path: Path) -> None:
    trust = make_trust(NOW)
    new = build_trust_list(2, trust.trust_list.keys, RevokedSerials([12345]), NOW + 60)
    office = OfficeBeforeIssue14(sign_delta(1, trust.trust_list.revoked, new, trust.root))
    terminal = open_terminal(tmp_path, trust, NOW)

    Sync(terminal, office).run(lambda: NOW + 60)  # type: ignore[arg-type]

    assert office.asked == ["/api/v1/trustlist?since=1&form=2", "/api/v1/trustlist?since=1"]
    assert terminal.trust == new
    terminal.close()
