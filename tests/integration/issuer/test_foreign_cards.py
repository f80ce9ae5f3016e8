"""Other regions' cards at the office (ADR 0003): counted only under the national directory, told home as figures.

Surakarta's office (the ``office`` fixture: SQLite, and PostgreSQL where
configured) has a cinema whose federated terminal accepts Balangan's
cards; Balangan's office is a second home on SQLite.  A record that names
its card's ``home`` is held until Surakarta holds a directory listing
that region; then it counts in the cinema's revenue like any other.
Balangan's office then takes, and checks, what Surakarta signed of its
cards: figures per day, partner kind and cluster, small counts withheld.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from issuer import federation, partners, reports, visits
from issuer.audit_export import write_export
from issuer.errors import Invalid, Refused
from issuer.issuing_keys import active_signer
from issuer.storage.models import AuditEvent, Finding, LogPending, RedemptionRow
from issuer.storage.store import IssuerHome
from issuer.terminals import office_root
from issuer.trust_lists import export_trust_list, latest_published
from keys import jws
from keys.chain import Redemption
from keys.directory import Office, OfficeState, build_directory, sign_directory
from keys.eligibility import region_timezone
from keys.jwk import load_public_jwk, public_jwk
from keys.serial import serial_from_value
from keys.times import local_date
from kia.audit import audit
from kia.audit_verify import verify_export
from kia.audit_visits import check_visits
from tests.factories import ACTOR, DAY
from tests.factories.offices import SERVICE, UNLOCK, add_partner, add_service, clock, issued_cards, open_office
from tests.terminal_sim import enrolled_terminal, send

SURAKARTA, BALANGAN, JAYAPURA = 3372, 6311, 9171
YEAR = 365 * DAY


@pytest.fixture
def founded_at() -> int:
    return clock() - 2 * DAY


@pytest.fixture
def balangan(tmp_path: Path, founded_at: int) -> IssuerHome:
    home = open_office(tmp_path / "balangan", None, founded_at)
    yield home
    home.close()


@pytest.fixture
def ministry(office: IssuerHome, balangan: IssuerHome, tmp_path: Path) -> tuple[Ed25519PrivateKey, str]:
    """The national root, and a directory listing Surakarta's and Balangan's roots (not Jayapura)."""
    root = Ed25519PrivateKey.generate()
    now = clock()
    entries = [Office(region, load_public_jwk(office_root(home)), OfficeState.ACTIVE, now - YEAR, now + 5 * YEAR)
               for region, home in ((SURAKARTA, office), (BALANGAN, balangan))]
    return root, sign_directory(build_directory(1, entries, now, dt.timedelta(days=30)), root)


def foreign(at: int, serial: str, home: int | None, category: str = "5-12") -> Redemption:
    """A card accepted at the cinema, as a federated terminal logs it (``home`` for another region's card)."""
    price = SERVICE.prices[category]
    return Redemption(0, at, serial, True, "accepted", SERVICE.code, category, price, price // 2, price - price // 2,
                      (), home)


def stored(home: IssuerHome) -> list[tuple[int | None, bool]]:
    with home.transaction() as session:
        return [(row.home, row.held) for row in session.execute(
            select(RedemptionRow.home, RedemptionRow.held).order_by(RedemptionRow.seq))]


def test_another_regions_card_counts_only_under_the_directory_and_its_office_gets_figures_not_records(
        office: IssuerHome, balangan: IssuerHome, ministry: tuple[Ed25519PrivateKey, str], tmp_path: Path):
    root, directory = ministry
    now = clock()
    partner = add_partner(office)
    add_service(office, partner, now=now - 2 * DAY)
    partners.set_other_regions(office, partner, partners.OtherRegions("all"), now - 2 * DAY, by=ACTOR)
    terminal = enrolled_terminal(office, partner, now - 2 * DAY)

    # No directory yet: the office cannot tell a Balangan card from a forgery, so it holds the record.
    day = now - 7200
    yesterday = day - DAY
    send(office, terminal, [foreign(day - 20, serial_from_value(1), BALANGAN)], now)
    assert stored(office) == [(BALANGAN, True)]
    with office.transaction() as session:
        assert session.scalars(select(Finding.check)).all() == ["home_unlisted"]

    with pytest.raises(Refused, match="pin the national root first"):
        federation.take_directory(office, directory, now, by=ACTOR)
    with pytest.raises(Invalid, match="this office's own root"):
        federation.pin(office, office_root(office), now, by=ACTOR)
    federation.pin(office, public_jwk(root.public_key()), now, by=ACTOR)
    with pytest.raises(Refused, match="another national root is pinned"):
        federation.pin(office, public_jwk(Ed25519PrivateKey.generate().public_key()), now, by=ACTOR)
    forged = sign_directory(build_directory(2, [], now, dt.timedelta(days=30)), Ed25519PrivateKey.generate())
    with pytest.raises(Invalid, match="refused"):
        federation.take_directory(office, forged, now, by=ACTOR)
    status = federation.take_directory(office, directory, now, by=ACTOR)
    assert (status.seq, status.own_region, status.regions) == (1, SURAKARTA, 2)

    # Six Balangan cards on one day, two on the day before, a Jayapura card (not listed) and one that
    # claims to be of Surakarta's own region: only the listed foreign region counts.
    send(office, terminal, [foreign(day + n, serial_from_value(10 + n), BALANGAN) for n in range(6)]
         + [foreign(yesterday + n, serial_from_value(20 + n), BALANGAN) for n in range(2)]
         + [foreign(day + 10, serial_from_value(30), JAYAPURA), foreign(day + 11, serial_from_value(31), SURAKARTA)],
         now)
    assert stored(office)[1:] == [(BALANGAN, False)] * 8 + [(JAYAPURA, True), (SURAKARTA, True)]
    with office.transaction() as session:
        assert sorted(session.scalars(select(Finding.check)).all()) == [
            "home_own_region", "home_unlisted", "home_unlisted"]

    # The cinema's revenue counts the eight, not the three held.
    first, last = _local(yesterday), _local(day)
    rows = reports.figures(office, "partner", "month", first.replace(day=1), last)
    accepted = sum(row.accepted for row in rows)
    held = sum(row.held for row in rows)
    assert (accepted, held) == (8, 3)

    # Balangan asks Surakarta for its cards' figures of the month: a signed answer with no serial.
    month = reports.bucket(last, "month")
    token = visits.signed_visits(office, UNLOCK, BALANGAN, month, now)
    assert "serial" not in jws.split_compact(token)[1].decode()
    with pytest.raises(Invalid, match="own cards"):
        visits.signed_visits(office, UNLOCK, SURAKARTA, month, now)
    export_trust_list(office, UNLOCK, now, Path(office.path) / "published", by=ACTOR)
    surakarta_list = latest_published(office)[1]

    with pytest.raises(Refused, match="national directory"):
        visits.take(balangan, token, surakarta_list, now, by=ACTOR)
    federation.pin(balangan, public_jwk(root.public_key()), now, by=ACTOR)
    assert federation.take_directory(balangan, directory, now, by=ACTOR).own_region == BALANGAN
    with pytest.raises(visits.VisitsRefused, match="signed by region 3372's office, not 9171's"):
        visits.take(balangan, token, surakarta_list, now, by=ACTOR, region=JAYAPURA)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(visits.VisitsRefused):
        visits.take(balangan, tampered, surakarta_list, now, by=ACTOR)
    export_trust_list(balangan, UNLOCK, now, Path(balangan.path) / "published", by=ACTOR)
    with pytest.raises(visits.VisitsRefused, match="do not verify"):  # a list not under Surakarta's root
        visits.take(balangan, token, latest_published(balangan)[1], now, by=ACTOR)

    with pytest.raises(visits.VisitsRefused, match="not 2020-01"):
        visits.take(balangan, token, surakarta_list, now, by=ACTOR, month=202001)
    # Signed by Surakarta's own key, and still refused: a small count given, a day of another month, a kind
    # that is no word, a count that is no number.
    claims = json.loads(jws.split_compact(token)[1])
    cell = {"day": month * 100 + 1, "kind": "cinema", "cluster": "education_culture", "scans": 6, "gross": 1,
            "discount": 0}
    with office.transaction() as session:
        key, private = active_signer(session, office, UNLOCK)
    for wrong in (cell | {"scans": 3}, cell | {"day": (month - 1) * 100 + 1}, cell | {"kind": "x" * 41},
                  cell | {"scans": True}, cell | {"extra": 1}):
        forged = jws.sign(claims | {"cells": [wrong]}, private, key.kid, visits.VISITS_TYP)
        with pytest.raises(visits.VisitsRefused, match="malformed|withheld|another month"):
            visits.take(balangan, forged, surakarta_list, now, by=ACTOR)

    region, taken_month, cells = visits.take(balangan, token, surakarta_list, now, by=ACTOR, region=SURAKARTA,
                                             month=month)
    assert (region, taken_month) == (SURAKARTA, month)
    by_day = {cell.day: cell for cell in cells}
    price = SERVICE.prices["5-12"]
    assert by_day[reports.bucket(last, "day")] == visits.Cell(
        reports.bucket(last, "day"), "cinema", "education_culture", 6, 6 * price, 6 * (price // 2))
    if first.month == last.month:  # two scans the day before: a small count, withheld with its money
        assert by_day[reports.bucket(first, "day")] == visits.Cell(
            reports.bucket(first, "day"), "cinema", "education_culture", None, None, None)
    assert visits.received(balangan) == [{"region": SURAKARTA, "month": f"{month // 100}-{month % 100:02d}",
                                         "issued_at": now, "cells": [dataclasses.asdict(cell) for cell in cells]}]
    with pytest.raises(visits.VisitsRefused, match="not this office's"):
        visits.take(office, token, surakarta_list, now, by=ACTOR)

    # An auditor holding Surakarta's export of the month: the chains with home verify, and the signed
    # figures are what the records give; figures with a scan made up are not.
    export = tmp_path / "export"
    start = dt.date(month // 100, month % 100, 1)
    write_export(office, export, start, (start + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1), None,
                 ("csv",), now, by=ACTOR)
    assert verify_export(export).verified
    checked = check_visits(export, token)
    assert (checked.answering, checked.home, checked.month, checked.differences) == (SURAKARTA, BALANGAN, month, [])
    claims = json.loads(jws.split_compact(token)[1])
    six = next(cell for cell in claims["cells"] if cell["scans"] == 6)
    inflated = jws.sign(claims | {"cells": [cell | {"scans": 7} if cell is six else cell for cell in claims["cells"]]},
                        Ed25519PrivateKey.generate(), "kid1", visits.VISITS_TYP)
    [difference] = check_visits(export, inflated).differences
    assert (difference.signed["scans"], difference.recomputed["scans"]) == (7, 6)
    (tmp_path / "honest.jws").write_text(token)
    (tmp_path / "inflated.jws").write_text(inflated)
    said = CliRunner().invoke(audit, ["visits", str(export), str(tmp_path / "honest.jws")])
    assert (said.exit_code, said.output.splitlines()[-1]) == (0, "Angka yang ditandatangani sama dengan catatan.")
    said = CliRunner().invoke(audit, ["visits", str(export), str(tmp_path / "inflated.jws"), "--lang", "en"])
    assert said.exit_code == 1 and "signed {'scans': 7" in said.output


def test_a_partner_counts_only_the_regions_it_agreed_to_honour(
        office: IssuerHome, ministry: tuple[Ed25519PrivateKey, str]):
    root, directory = ministry
    now = clock()
    federation.pin(office, public_jwk(root.public_key()), now, by=ACTOR)
    federation.take_directory(office, directory, now, by=ACTOR)
    partner = add_partner(office)
    add_service(office, partner, now=now - 2 * DAY)
    terminal = enrolled_terminal(office, partner, now - 2 * DAY)
    [(own, category)] = issued_cards(office, 1, now - 2 * DAY)
    balangan_card = serial_from_value(6)

    def checks_of(batch: list[Redemption]) -> list[str | None]:
        """Send ``batch`` and answer, for each record, the check that held it (None: it counts)."""
        first = len(terminal.records) + 1
        send(office, terminal, batch, now)
        with office.transaction() as session:
            found = dict(session.execute(select(Finding.seq, Finding.check).where(Finding.seq >= first)).all())
        return [found.get(seq) for seq in range(first, first + len(batch))]

    # A new partner honours this office's cards only: a Balangan card is held, as its terminal would refuse it.
    assert partners.find_partner(office, partner, now).other_regions == partners.OtherRegions("none")
    assert checks_of([foreign(now - 600, balangan_card, BALANGAN), foreign(now - 590, own, None, category)]) == [
        "home_not_accepted", None]
    # Listed: those regions only, and only while the directory trusts them.
    partners.set_other_regions(office, partner, partners.OtherRegions("listed", (JAYAPURA, BALANGAN)), now,
                               by=ACTOR)
    assert partners.find_partner(office, partner, now).other_regions == partners.OtherRegions(
        "listed", (BALANGAN, JAYAPURA))
    jayapura_card = serial_from_value(7)
    assert checks_of([foreign(now - 500, balangan_card, BALANGAN), foreign(now - 490, jayapura_card, JAYAPURA)]) == [
        None, "home_unlisted"]
    partners.set_other_regions(office, partner, partners.OtherRegions("listed", (JAYAPURA,)), now, by=ACTOR)
    assert checks_of([foreign(now - 400, serial_from_value(8), BALANGAN)]) == ["home_not_accepted"]
    partners.set_other_regions(office, partner, partners.OtherRegions("all"), now, by=ACTOR)
    assert checks_of([foreign(now - 300, serial_from_value(9), BALANGAN)]) == [None]

    # The choice is checked, and each one is in the audit trail and the public log.
    for (choice, codes), rule in ((("listed", ()), "count"), (("all", (BALANGAN,)), "choice"),
                                  (("listed", (12,)), "code"), (("listed", (SURAKARTA,)), "own"),
                                  (("some", ()), "choice")):
        with pytest.raises(partners.OtherRegionsInvalid) as refused:
            partners.set_other_regions(office, partner, partners.OtherRegions(choice, codes), now, by=ACTOR)
        assert refused.value.rule == rule
    with office.transaction() as session:
        assert session.scalars(select(AuditEvent.target).where(AuditEvent.action == "partner_regions")
                               .order_by(AuditEvent.id)).all() == [
            f"partner {partner}: listed {BALANGAN} {JAYAPURA}", f"partner {partner}: listed {JAYAPURA}",
            f"partner {partner}: all"]
        entries = [json.loads(data) for data in session.scalars(
            select(LogPending.data).where(LogPending.kind == "partner_regions").order_by(LogPending.id))]
    assert [(entry["other_regions"], entry["regions"]) for entry in entries] == [
        ("listed", [BALANGAN, JAYAPURA]), ("listed", [JAYAPURA]), ("all", None)]


def _local(at: int) -> dt.date:
    day = local_date(at, region_timezone(SURAKARTA))
    assert day is not None
    return day
