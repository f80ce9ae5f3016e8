"""The office trusts no terminal: what it checks in the records it ingests, and the quarantine.

A terminal's key proves who signed a record, not that it is true.  These
tests play the attacks an auditor found (issue 11) with a real terminal key
and a correctly chained, signed batch, on SQLite and PostgreSQL: each
fabricated record is stored exactly as signed, held out of revenue with a
finding and an alarm, while the honest records beside it count as before.

Every test runs twice: with the batch ingested at once, and acknowledged into
the journal and folded after (KIA_SYNC_INTAKE=journal, ADR 0005), which must
come to exactly the same records, findings, alarms and figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import select

from issuer import partners, quarantine, reports, sync_ingest
from issuer.cards import revoke_card
from issuer.errors import Invalid, RecordNotFound, Refused
from issuer.partners import ServiceRules
from issuer.storage.models import Alarm, AuditEvent, Finding, RedemptionRow, TerminalCheckpoint
from issuer.storage.store import IssuerHome
from issuer.terminals import set_terminal_state
from keys.chain import MAX_MONEY, Redemption, verify_checkpoint
from keys.serial import serial_from_value
from tests import terminal_sim
from tests.factories import ACTOR, DAY, NOW, SURAKARTA
from tests.factories.offices import SERVICE, issued_cards
from tests.terminal_sim import enrolled_terminal, journalled, send

SOLO, JAKARTA = (-7.5666, 110.8243), (-6.1754, 106.8272)  # about 460 km apart
POOL = ServiceRules("renang", "Renang", {"5-12": 20_000, "13-16": 25_000}, "percent", 50, 1, 0)
ENROLLED = NOW - 10 * DAY
MOU = (dt.date(2026, 1, 1), dt.date(2027, 12, 31))


@pytest.fixture
def founded_at() -> int:
    return NOW - 30 * DAY


@pytest.fixture(autouse=True, params=["inline", "journal"])
def ingest(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[..., sync_ingest.Ack]:
    """How the office takes a batch: ``sync_ingest.ingest``, or intake into the journal and a fold."""
    sync = sync_ingest.ingest if request.param == "inline" else journalled
    monkeypatch.setattr(terminal_sim, "ingest", sync)
    return sync


def add_partner(office: IssuerHome, name: str, location: tuple[float, float] | None = SOLO) -> int:
    partner_id = partners.create_partner(office, name, "pool", "health_welfare", SURAKARTA, *MOU, NOW - 30 * DAY,
                                         location=location, by=ACTOR)
    partners.set_service(office, partner_id, POOL, NOW - 30 * DAY, by=ACTOR)
    return partner_id


@pytest.fixture
def pool(office: IssuerHome) -> int:
    return add_partner(office, "Kolam Renang Manahan")


@pytest.fixture
def cards(office: IssuerHome) -> list[tuple[str, str]]:
    """Twenty cards the office issued twenty days ago: (serial, age category)."""
    return issued_cards(office, 20, NOW - 20 * DAY)


def honest(at: int, card: tuple[str, str]) -> Redemption:
    """What an honest terminal of the pool logs when it accepts ``card`` at ``at``."""
    serial, category = card
    price = POOL.prices[category]
    return Redemption(0, at, serial, True, "accepted", POOL.code, category, price, price // 2, price - price // 2)


def held(office: IssuerHome) -> dict[int, set[str]]:
    """Each held record's sequence with the checks it failed."""
    with office.transaction() as session:
        rows = session.execute(select(Finding.seq, Finding.check)).all()
        held_seqs = set(session.scalars(select(RedemptionRow.seq).where(RedemptionRow.held.is_(True))))
    found: dict[int, set[str]] = {}
    for seq, check in rows:
        found.setdefault(seq, set()).add(check)
    assert set(found) == held_seqs  # held exactly when something was found
    return found


def alarms(office: IssuerHome) -> dict[str, str]:
    with office.transaction() as session:
        return {row.kind: row.detail for row in session.scalars(select(Alarm))}


def month(office: IssuerHome, partner_id: int | None = None) -> list[reports.Figures]:
    return reports.figures(office, "partner", "month", dt.date(2026, 11, 1), dt.date(2026, 11, 30), partner_id)


def test_seven_fabricated_records_in_one_signed_batch_are_held_and_the_honest_ones_count(
    office: IssuerHome, pool: int, cards: Sequence[tuple[str, str]]
):
    revoke_card(office, cards[2][0], "hilang", NOW - 5 * DAY, by=ACTOR)
    terminal = enrolled_terminal(office, pool, ENROLLED)
    at = NOW - 3600
    fabricated = [
        honest(at, cards[0]),
        honest(at + 1, cards[1]),
        dataclasses.replace(honest(at + 2, cards[3]), serial="NOTASERL"),  # not a serial
        dataclasses.replace(honest(at + 3, cards[4]), serial=serial_from_value(123_456)),  # never issued
        honest(at + 4, cards[2]),  # revoked five days before
        dataclasses.replace(honest(at + 5, cards[5]), service="vip", category="17+", price=MAX_MONEY, discount=0,
                            paid=MAX_MONEY),
        honest(NOW + 200 * DAY, cards[6]),  # 200 days in the future
        honest(ENROLLED - 2 * DAY, cards[7]),  # before the terminal existed
        dataclasses.replace(honest(at + 6, cards[8]), reason="forged"),  # accepted, yet forged
    ]
    ack = send(office, terminal, fabricated, NOW)

    assert (ack.acknowledged, ack.stored) == (9, 9)  # stored exactly as signed: the chain still verifies
    assert held(office) == {
        3: {"serial_malformed"},
        4: {"serial_unknown"},
        5: {"card_revoked"},
        6: {"rules_mismatch", "category_mismatch"},
        7: {"future"},
        8: {"before_enrolment"},
        9: {"reason_mismatch"},
    }
    assert set(alarms(office)) == {"serial_malformed", "serial_unknown", "card_revoked", "rules_mismatch",
                                   "category_mismatch", "future", "before_enrolment", "reason_mismatch"}
    (figures,) = month(office)
    # The two honest records (20,000 and 25,000, half off); six held records fall in November, one next June.
    assert (figures.accepted, figures.gross, figures.discount, figures.net, figures.held) == (
        2, 45_000, 22_500, 22_500, 6)


def test_thousands_of_scans_of_401_serials_never_issued_are_all_held(office: IssuerHome, pool: int):
    terminal = enrolled_terminal(office, pool, ENROLLED)
    scans = [honest(NOW - 5 * DAY + n, (serial_from_value(1_000 + n % 401), "5-12")) for n in range(1_203)]
    for first in range(0, len(scans), 500):
        send(office, terminal, scans[first:first + 500], NOW)

    found = held(office)
    assert len(found) == 1_203 and all("serial_unknown" in checks for checks in found.values())
    (figures,) = month(office)
    assert (figures.scans, figures.accepted, figures.net, figures.held) == (1_203, 0, 0, 1_203)
    assert "held: no card with this serial was issued" in alarms(office)["serial_unknown"]
    newest = quarantine.held_records(office, limit=10)
    assert [record.seq for record in newest] == list(range(1_203, 1_193, -1))  # newest scans first
    assert all(("serial_unknown", "no card of this office has the serial") in record.findings for record in newest)


def test_a_daily_limit_of_one_holds_across_the_partners_terminals_in_the_same_second(
    office: IssuerHome, pool: int, cards: Sequence[tuple[str, str]]
):
    gate_1, gate_2 = enrolled_terminal(office, pool, ENROLLED), enrolled_terminal(office, pool, ENROLLED)
    send(office, gate_1, [honest(NOW - 600, cards[0])], NOW)
    send(office, gate_2, [honest(NOW - 600, cards[0]), honest(NOW - 600, cards[1])], NOW)

    with office.transaction() as session:
        rows = session.execute(select(RedemptionRow.terminal_id, RedemptionRow.seq, RedemptionRow.held)).all()
    assert sorted(rows) == sorted([(gate_1.terminal_id, 1, False), (gate_2.terminal_id, 1, True),
                                   (gate_2.terminal_id, 2, False)])
    assert held(office) == {1: {"daily_limit"}}
    assert f"{gate_1.terminal_id}#1" in quarantine.held_records(office)[0].findings[0][1]  # the evidence


def test_one_card_at_six_partners_within_an_hour_raises_an_alarm(
    office: IssuerHome, cards: Sequence[tuple[str, str]]
):
    # Neighbours in one town: no travel is impossible, but six partners in an hour is no child's day out.
    terminals = [enrolled_terminal(office, add_partner(office, f"Mitra {n}", None), ENROLLED) for n in range(6)]
    for n, terminal in enumerate(terminals):
        send(office, terminal, [honest(NOW - 3600 + n * 600, cards[0])], NOW)

    with office.transaction() as session:
        flagged = session.execute(select(RedemptionRow.terminal_id).where(RedemptionRow.held.is_(True))).scalars()
        assert sorted(flagged) == sorted(terminal.terminal_id for terminal in terminals[3:])
    assert "many_partners" in alarms(office)


def test_a_card_at_two_partners_too_far_apart_for_the_time_between_is_held(
    office: IssuerHome, pool: int, cards: Sequence[tuple[str, str]]
):
    jakarta = add_partner(office, "Museum Nasional", JAKARTA)
    solo_gate, jakarta_gate = enrolled_terminal(office, pool, ENROLLED), enrolled_terminal(office, jakarta, ENROLLED)
    send(office, solo_gate, [honest(NOW - 7200, cards[0]), honest(NOW - 7200, cards[1])], NOW)
    # 460 km in 30 minutes is held; in a day it is a trip.
    send(office, jakarta_gate, [honest(NOW - 5400, cards[0]), honest(NOW - 7200 + DAY, cards[1])], NOW + DAY)

    assert held(office) == {1: {"impossible_travel"}}
    (record,) = quarantine.held_records(office)
    assert record.terminal_id == jakarta_gate.terminal_id and "km in 30 min" in record.findings[0][1]


def test_a_record_follows_any_rules_its_terminal_could_have_held(
    office: IssuerHome, pool: int, cards: Sequence[tuple[str, str]]
):
    terminal = enrolled_terminal(office, pool, ENROLLED)
    cheaper = dataclasses.replace(POOL, prices={"5-12": 15_000, "13-16": 20_000})
    partners.set_service(office, pool, cheaper, NOW - 5 * DAY, by=ACTOR)
    old_rules = honest(NOW - 3600, cards[0])  # an offline terminal still on the first rules: true
    made_up = dataclasses.replace(honest(NOW - 3500, cards[1]), price=30_000, discount=15_000, paid=15_000)
    send(office, terminal, [old_rules, made_up], NOW)

    assert held(office) == {2: {"rules_mismatch"}}


def test_scans_made_while_the_terminal_was_suspended_are_held(
    office: IssuerHome, pool: int, cards: Sequence[tuple[str, str]]
):
    terminal = enrolled_terminal(office, pool, ENROLLED)
    set_terminal_state(office, terminal.terminal_id, "suspended", NOW - 3 * DAY, by=ACTOR)
    set_terminal_state(office, terminal.terminal_id, "active", NOW - DAY, by=ACTOR)
    send(office, terminal, [honest(NOW - 4 * DAY, cards[0]), honest(NOW - 2 * DAY, cards[1]),
                            honest(NOW - 3600, cards[2])], NOW)

    assert held(office) == {2: {"while_suspended"}}


def test_an_auditor_releases_a_record_into_revenue_or_confirms_it_out_with_a_reason(
    office: IssuerHome, pool: int, cards: Sequence[tuple[str, str]]
):
    terminal = enrolled_terminal(office, pool, ENROLLED)
    late = [honest(ENROLLED - 2 * DAY, cards[0]), honest(ENROLLED - 2 * DAY + 60, cards[1])]
    send(office, terminal, late, NOW)  # both dated before the enrolment: the terminal's clock was wrong
    assert (month(office)[0].accepted, month(office)[0].held) == (0, 2)

    quarantine.decide(office, terminal.terminal_id, 1, "release", "jam terminal salah; tiket diperiksa", NOW,
                      by=ACTOR)
    quarantine.decide(office, terminal.terminal_id, 2, "confirm", "tidak ada tiket", NOW, by=ACTOR)

    assert (month(office)[0].accepted, month(office)[0].net, month(office)[0].held) == (1, 10_000, 1)
    assert [record.seq for record in quarantine.held_records(office, state="released")] == [1]
    assert [record.seq for record in quarantine.held_records(office, state="confirmed")] == [2]
    assert quarantine.held_records(office) == []
    with office.transaction() as session:
        events = session.execute(select(AuditEvent.action, AuditEvent.target).where(
            AuditEvent.action.like("record_%"))).all()
    assert sorted(events) == [("record_confirm", f"{terminal.terminal_id}#2"),
                              ("record_release", f"{terminal.terminal_id}#1")]
    with pytest.raises(Refused, match="no open finding"):
        quarantine.decide(office, terminal.terminal_id, 1, "confirm", "lagi", NOW, by=ACTOR)
    with pytest.raises(RecordNotFound):
        quarantine.decide(office, terminal.terminal_id, 99, "release", "x", NOW, by=ACTOR)
    with pytest.raises(Invalid, match="reason"):
        quarantine.decide(office, terminal.terminal_id, 2, "release", " ", NOW, by=ACTOR)


def test_the_simulated_honest_terminal_raises_no_finding(office: IssuerHome, pool: int,
                                                         ingest: Callable[..., sync_ingest.Ack]):
    partners.set_service(office, pool, SERVICE, NOW - 30 * DAY, by=ACTOR)  # the rules tests.terminal_sim follows
    terminal = enrolled_terminal(office, pool, ENROLLED, cards=issued_cards(office, 40, NOW - 20 * DAY))
    terminal.log(40, at=NOW - 3600)
    body = terminal.batch(1, 40)
    ack = ingest(office, terminal.token(now=NOW), body["records"], body["checkpoint"], NOW)
    assert ack.stored == 40 and held(office) == {} and alarms(office) == {}


def test_every_checkpoint_a_terminal_signed_is_kept_as_sent(office: IssuerHome, pool: int,
                                                            cards: Sequence[tuple[str, str]]):
    terminal = enrolled_terminal(office, pool, ENROLLED)
    send(office, terminal, [honest(NOW - 7200, cards[0])], NOW - 3600)
    send(office, terminal, [honest(NOW - 600, cards[1]), honest(NOW - 500, cards[2])], NOW)

    with office.transaction() as session:
        kept = session.execute(select(TerminalCheckpoint.seq, TerminalCheckpoint.hash, TerminalCheckpoint.jws,
                                      TerminalCheckpoint.received_at).order_by(TerminalCheckpoint.seq)).all()
    chain = terminal.chain()
    assert [(seq, digest, received) for seq, digest, _, received in kept] == [
        (1, chain[0].hex(), NOW - 3600), (3, chain[2].hex(), NOW)]
    for seq, digest, jws, _ in kept:  # each verifies with the terminal's key, as an auditor checks it
        signed = verify_checkpoint(jws, terminal.key.public_key(), terminal.terminal_id)
        assert (signed.seq, signed.hash.hex()) == (seq, digest)


def test_records_the_terminal_flagged_count_and_are_shown_apart(office: IssuerHome, pool: int,
                                                                cards: Sequence[tuple[str, str]]):
    terminal = enrolled_terminal(office, pool, ENROLLED)
    stale = dataclasses.replace(honest(NOW - 600, cards[1]), flags=("stale",))
    send(office, terminal, [honest(NOW - 700, cards[0]), stale], NOW)

    (figures,) = month(office)
    assert (figures.accepted, figures.held, figures.flagged) == (2, 0, 1)
