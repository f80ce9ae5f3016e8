"""The statistical pass (issuer/anomalies.py) over stored records, and ``kia issuer anomalies``.

The pass reads what ingest stored, so these tests write the stored records
directly, as many as a pattern needs; ingest's own checks are tested in
test_ingest_checks.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable

import pytest
from sqlalchemy import insert, select

from issuer import anomalies, partners
from issuer.storage.models import Alarm, AuditEvent, RedemptionRow
from issuer.storage.store import IssuerHome
from keys.serial import serial_from_value
from kia.cli import main
from tests.factories import ACTOR, DAY, NOW, SURAKARTA, WIB
from tests.terminal_sim import enrolled_terminal

TODAY = dt.datetime.fromtimestamp(NOW, WIB).date()
MOU = (dt.date(2026, 1, 1), dt.date(2027, 12, 31))
_seq = itertools.count(1)


@pytest.fixture
def founded_at() -> int:
    return NOW - 60 * DAY


def counter(office: IssuerHome, name: str) -> tuple[str, int]:
    """A partner with one enrolled terminal: (terminal id, partner id)."""
    partner_id = partners.create_partner(office, name, "pool", "health_welfare", SURAKARTA, *MOU, NOW - 60 * DAY,
                                         by=ACTOR)
    return enrolled_terminal(office, partner_id, NOW - 50 * DAY).terminal_id, partner_id


def stored(office: IssuerHome, terminal: tuple[str, int], scans: Iterable[tuple[int, int]]) -> None:
    """Accepted records as ingest stores them: (POSIX time, card value) each."""
    rows = []
    for at, card in scans:
        day = dt.datetime.fromtimestamp(at, WIB).date()
        rows.append({"terminal_id": terminal[0], "partner_id": terminal[1], "seq": next(_seq), "at": at,
                     "serial": serial_from_value(card), "accepted": True, "reason": "accepted", "service": "renang",
                     "category": "5-12", "price": 20_000, "discount": 10_000, "paid": 10_000, "flags": [],
                     "hash": "0" * 64, "received_at": at, "held": False, "flagged": False,
                     "day": day.year * 10000 + day.month * 100 + day.day, "month": day.year * 100 + day.month})
    with office.transaction() as session:
        session.execute(insert(RedemptionRow), rows)


def noon(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(12), WIB).timestamp())


def kinds(found: list[anomalies.Anomaly]) -> list[tuple[str, str]]:
    return [(anomaly.kind, anomaly.terminal_id) for anomaly in found]


def test_a_day_far_above_the_terminals_own_history_is_a_volume_spike(office: IssuerHome):
    cashier, steady = counter(office, "Kolam A"), counter(office, "Kolam B")
    cards = itertools.count()
    for back in range(1, 11):
        day = TODAY - dt.timedelta(days=back)
        for terminal in (cashier, steady):
            stored(office, terminal, [(noon(day) + 60 * n, next(cards)) for n in range(10)])
    stored(office, cashier, [(noon(TODAY) - 3 * 3600 + 20 * n, next(cards)) for n in range(400)])
    stored(office, steady, [(noon(TODAY) + 60 * n, next(cards)) for n in range(12)])

    found = anomalies.find_anomalies(office, TODAY, TODAY)
    assert kinds(found) == [("volume_spike", cashier[0])]
    assert "400 accepted scans" in found[0].detail and "median of 10" in found[0].detail


def test_a_terminal_whose_cards_no_other_partner_ever_sees_is_raised(office: IssuerHome):
    alone, shared, elsewhere = counter(office, "Kolam A"), counter(office, "Kolam B"), counter(office, "Museum C")
    stored(office, alone, [(noon(TODAY) - 60 * n, 1_000 + n) for n in range(60)])
    stored(office, shared, [(noon(TODAY) - 60 * n, 2_000 + n) for n in range(60)])
    stored(office, elsewhere, [(noon(TODAY) + 60 * n, 2_000 + n) for n in range(30)])  # half of B's cards

    assert kinds(anomalies.find_anomalies(office, TODAY, TODAY)) == [("cards_seen_nowhere_else", alone[0])]


def test_where_most_children_visit_one_partner_no_terminal_stands_out(office: IssuerHome):
    for n in range(3):
        stored(office, counter(office, f"Kolam {n}"), [(noon(TODAY) - 60 * k, 1_000 * n + k) for k in range(60)])
    assert anomalies.find_anomalies(office, TODAY, TODAY) == []


def test_most_of_a_days_scans_in_its_last_hour_is_a_closing_burst(office: IssuerHome):
    bursting, even = counter(office, "Kolam A"), counter(office, "Kolam B")
    closing = noon(TODAY) + 8 * 3600  # 20:00 WIB
    stored(office, bursting, [(noon(TODAY) - 3600 * n, 1_000 + n) for n in range(10)]
           + [(closing - 100 * n, 2_000 + n) for n in range(30)])
    stored(office, even, [(noon(TODAY) - 600 * n, 3_000 + n) for n in range(40)])
    show = counter(office, "Bioskop D")  # forty children before one show: not a burst
    stored(office, show, [(closing - 60 * n, 4_000 + n) for n in range(40)])

    found = anomalies.find_anomalies(office, TODAY, TODAY)
    assert kinds(found) == [("closing_burst", bursting[0])]
    assert "30 of 40 accepted scans" in found[0].detail


def test_held_records_are_left_out_of_the_pass(office: IssuerHome):
    cashier = counter(office, "Kolam A")
    stored(office, cashier, [(noon(TODAY) - 60 * n, 1_000 + n) for n in range(40)])
    with office.transaction() as session:
        session.execute(RedemptionRow.__table__.update().values(held=True))
    stored(office, cashier, [(noon(TODAY) - 3600 * n, 2_000 + n) for n in range(5)])
    assert anomalies.find_anomalies(office, TODAY, TODAY) == []


def test_kia_issuer_anomalies_raises_an_alarm_for_each_and_audits_the_run(
    office: IssuerHome, issuer_db_url: str | None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    cashier = counter(office, "Kolam A")
    closing = noon(TODAY) + 8 * 3600
    stored(office, cashier, [(noon(TODAY) - 3600 * n, 1_000 + n) for n in range(5)]
           + [(closing - 100 * n, 2_000 + n) for n in range(30)])
    monkeypatch.delenv("KIA_DATABASE_URL", raising=False)
    if issuer_db_url:
        monkeypatch.setenv("KIA_DATABASE_URL", issuer_db_url)

    with pytest.raises(SystemExit) as exited:
        main(["issuer", "anomalies", "--home", str(office.path), "--from", TODAY.isoformat(), "--to",
              TODAY.isoformat()])
    out, err = capsys.readouterr()
    assert exited.value.code == 0, err
    assert [(item["kind"], item["terminal_id"]) for item in json.loads(out)] == [("closing_burst", cashier[0])]
    with office.transaction() as session:
        assert [(row.kind, row.terminal_id) for row in session.scalars(select(Alarm))] == [
            ("closing_burst", cashier[0])]
        (run,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "anomaly_pass"))
    assert run.target == f"{TODAY.isoformat()}..{TODAY.isoformat()}: 1 alarms"
