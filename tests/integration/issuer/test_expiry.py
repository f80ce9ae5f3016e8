"""The daily job that marks cards past their eligibility as expired (both databases)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from issuer import reports
from issuer.cards import find_card, issue_cards, mark_expired, replace_card, revoke_card
from issuer.children import ChildRequest
from issuer.errors import Refused
from issuer.storage import migrate
from issuer.storage.models import AuditEvent, CardRow
from issuer.storage.store import IssuerHome
from tests.factories import ACTOR, DAY, NOW, SURAKARTA, TURNS_FIVE_SOON, WIB, born_turning
from tests.factories.offices import UNLOCK
from tests.integration.conftest import RunKia

PUPIL = dt.date(2016, 8, 17)


def issue(home: IssuerHome, *born: dt.date) -> list[str]:
    requests = [ChildRequest(line, day, SURAKARTA) for line, day in enumerate(born, 1)]
    return [card.record.serial for card in issue_cards(home, UNLOCK, requests, NOW, by=ACTOR).cards]


def test_cards_past_their_eligibility_become_expired_once(office: IssuerHome) -> None:
    toddler, pupil, lost = issue(office, TURNS_FIVE_SOON, PUPIL, TURNS_FIVE_SOON)
    revoke_card(office, lost, "hilang", NOW + 60, by=ACTOR)
    ends = find_card(office, toddler).expires_at

    assert mark_expired(office, ends - 1, by=ACTOR) == 0
    assert mark_expired(office, ends, by=ACTOR) == 1
    assert mark_expired(office, ends + DAY, by=ACTOR) == 0  # the next day's run: nothing new

    states = {serial: find_card(office, serial).state for serial in (toddler, pupil, lost)}
    assert states == {toddler: "expired", pupil: "active", lost: "revoked"}  # a revoked card stays revoked
    with office.transaction() as session:
        runs = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "cards_mark_expired").order_by(AuditEvent.id)
        )
        assert [(e.username, e.target, e.at) for e in runs] == [
            (ACTOR.username, f"{count} cards", at) for count, at in ((0, ends - 1), (1, ends), (0, ends + DAY))
        ]
    # Coverage counts active cards, as before: the expired one is no longer among them.
    assert [(row.region, row.active_cards) for row in reports.coverage(office, ends + DAY)] == [(SURAKARTA, 1)]


def test_an_expired_card_cannot_be_replaced_but_can_be_revoked(office: IssuerHome) -> None:
    (toddler,) = issue(office, TURNS_FIVE_SOON)
    ends = find_card(office, toddler).expires_at
    mark_expired(office, ends, by=ACTOR)
    with pytest.raises(Refused, match="is expired"):
        replace_card(office, UNLOCK, toddler, ends + 60, by=ACTOR)
    assert revoke_card(office, toddler, "dicuri", ends + 60, by=ACTOR).state == "revoked"


def test_the_card_state_constraint_still_refuses_unknown_states(office: IssuerHome) -> None:
    (pupil,) = issue(office, PUPIL)
    with pytest.raises(IntegrityError), office.transaction() as session:
        session.execute(update(CardRow).where(CardRow.serial == pupil).values(state="lost"))


def test_a_downgrade_makes_expired_cards_active_again(office: IssuerHome) -> None:
    (toddler,) = issue(office, TURNS_FIVE_SOON)
    mark_expired(office, find_card(office, toddler).expires_at, by=ACTOR)
    migrate.downgrade(office.database, "0006")
    with office.database.engine.connect() as connection:
        assert connection.execute(select(CardRow.state)).scalar_one() == "active"
    migrate.upgrade(office.database)
    assert migrate.current_revision(office.database) == migrate.head_revision()


def test_kia_issuer_card_mark_expired(run_kia: RunKia, kia_env: dict[str, str], tmp_path: Path,
                                      issuer_db_url: str | None) -> None:
    env = kia_env | ({"KIA_DATABASE_URL": issuer_db_url} if issuer_db_url else {})
    home = tmp_path / "office"
    assert run_kia("issuer", "init", "--home", home, env=env).returncode == 0
    cards = tmp_path / "cards"
    # `card issue` reads the clock as an officer's would: the child turns five 30 days after this test's now.
    born = born_turning(5, 30, int(time.time()))
    issued = run_kia("issuer", "card", "issue", "--home", home, "--birth-date", born.isoformat(),
                     "--region", str(SURAKARTA), "--out", cards, env=env)
    assert issued.returncode == 0, issued.stderr
    # The under-5 card is valid until the 5th birthday, midnight in Surakarta (UTC+7).
    fifth_birthday = dt.datetime.combine(born.replace(year=born.year + 5), dt.time(), WIB)
    marked = run_kia("issuer", "card", "mark-expired", "--home", home, "--at", fifth_birthday.isoformat(), env=env)
    assert marked.returncode == 0, marked.stderr
    assert json.loads(marked.stdout) == {"expired": 1, "at": fifth_birthday.astimezone(dt.UTC).isoformat()}
    next_day = fifth_birthday + dt.timedelta(days=1)
    again = run_kia("issuer", "card", "mark-expired", "--home", home, "--at", next_day.isoformat(), env=env)
    assert json.loads(again.stdout)["expired"] == 0
    wrong = run_kia("issuer", "card", "mark-expired", "--home", home, "--at", "2026-11-26", env=env)
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1 and "--at" in wrong.stderr
