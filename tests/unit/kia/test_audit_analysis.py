"""The auditor's anomaly pass (kia.audit_analysis) over small exports written with DuckDB.

Every export holds the same honest background: four weeks of a programme in
Surakarta where 60 cards go round three partners, ten scans a day at each,
never twice a day, never far.  Each test plants one pattern in it, as a
dishonest cashier or a copied card would make it, and the pass must find
exactly that, with its evidence; the background alone gives nothing.  The
statistical kinds are also held equal to the office's own pass
(issuer.anomalies) on the same random records.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from keys.audit_thresholds import BURST_MIN, LONER_MIN_CARDS, SPIKE_FACTOR, SPIKE_MIN
from keys.eligibility import WIB, WITA
from keys.serial import serial_from_value
from kia.audit_analysis import KINDS, Anomaly, anomalies, count_by_kind
from kia.audit_export_format import MalformedExport
from kia.cli import main
from tests.factories import BALANGAN, NOW, SURAKARTA
from tests.factories.audit_exports import csv_line, rewrite, write_export

TODAY = dt.datetime.fromtimestamp(NOW, WIB).date()
DAYS = 28
CARDS = 60  # the background's cards: card n is serial_from_value(n)
FRESH = itertools.count(10_000)  # cards of planted patterns, used nowhere else
# partner -> (region, zone, latitude, longitude); 1-3 and 5 in Surakarta, 4 in Balangan (about 790 km away)
PARTNERS = {1: (SURAKARTA, WIB, -7.5666, 110.8243), 2: (SURAKARTA, WIB, -7.5700, 110.8200),
            3: (SURAKARTA, WIB, -7.5600, 110.8300), 4: (BALANGAN, WITA, -2.3232, 115.6254),
            5: (SURAKARTA, WIB, -7.5500, 110.8100), 6: (SURAKARTA, WIB, None, None)}
TERMINALS = {"T-1A": 1, "T-1B": 1, "T-2": 2, "T-3": 3, "T-4": 4, "T-5": 5, "T-6": 6}


def card(value: int) -> str:
    return serial_from_value(value)


def at(back: int, hour: int, minute: int = 0, terminal: str = "T-1A") -> int:
    """POSIX time of ``hour:minute`` partner-local, ``back`` days before today."""
    zone = PARTNERS[TERMINALS[terminal]][1]
    return int(dt.datetime.combine(TODAY - dt.timedelta(days=back), dt.time(hour, minute), zone).timestamp())


def yyyymmdd(back: int) -> int:
    return int((TODAY - dt.timedelta(days=back)).strftime("%Y%m%d"))


@dataclasses.dataclass
class Records:
    """Redemption rows as the office exports them; seq counts per terminal."""

    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    seqs: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    def scan(self, terminal: str, moment: int, serial: str | None, *, service: str = "renang",
             accepted: bool = True, held: bool = False) -> None:
        partner = TERMINALS[terminal]
        self.seqs[terminal] += 1
        local = dt.datetime.fromtimestamp(moment, PARTNERS[partner][1])
        self.rows.append({
            "terminal_id": terminal, "partner_id": partner, "seq": self.seqs[terminal], "at": moment,
            "day": int(local.strftime("%Y%m%d")), "serial": serial, "accepted": accepted,
            "reason": "accepted" if accepted else "card_revoked", "service": service,
            "category": "5-12" if accepted else None, "price": 20_000 if accepted else 0,
            "discount": 10_000 if accepted else 0, "paid": 10_000 if accepted else 0, "flags": "",
            "prev_hash": "0" * 64, "hash": "0" * 64, "received_at": NOW, "held": held, "flagged": False,
            "home": None})

    def write(self, directory: Path, fmt: str = "parquet") -> Path:
        partners = [{"partner_id": partner, "name": f"Mitra {partner}", "kind": "pool", "cluster": "education_culture",
                     "region": region, "latitude": latitude, "longitude": longitude}
                    for partner, (region, _, latitude, longitude) in PARTNERS.items()]
        write_export(directory, redemptions=self.rows, checkpoints=[], terminals=[], partners=partners,
                     formats=(fmt,))
        return directory


def background() -> Records:
    """Ten scans a day at three partners for four weeks, the 60 cards going round them: on a day
    each card is seen once at most, so no pattern of any kind."""
    records = Records()
    for back in range(DAYS, -1, -1):
        for slot, terminal in enumerate(("T-1A", "T-2", "T-3")):
            for n in range(10):
                records.scan(terminal, at(back, 9, 40 * n % 60, terminal) + 3600 * (40 * n // 60),
                             card((back * 10 + 20 * slot + n) % CARDS))
    records.scan("T-2", at(3, 11), card(1), accepted=False)  # a refusal is no use of the card
    return records


def found(directory: Path, **options: Any) -> list[tuple[str, int, str | None, str | None, int | None]]:
    return [(a.kind, a.partner_id, a.terminal_id, a.serial, a.day) for a in anomalies(directory, **options)]


@pytest.fixture(params=["parquet", "csv"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_honest_background_has_no_anomaly(tmp_path: Path, fmt: str):
    assert found(background().write(tmp_path, fmt)) == []


def test_an_export_without_records_has_no_anomaly(tmp_path: Path):
    assert found(Records().write(tmp_path)) == []


def test_a_cashier_who_scans_far_more_than_usual_is_a_volume_spike(tmp_path: Path):
    records = background()
    for n in range(SPIKE_MIN + 10):  # 60 on a day that usually has 10, spread over the day
        records.scan("T-2", at(0, 8) + 400 * n, card(next(FRESH)))
    result = anomalies(records.write(tmp_path))
    assert [(a.kind, a.terminal_id, a.day) for a in result] == [("volume_spike", "T-2", yyyymmdd(0))]
    assert result[0].evidence == (f"70 accepted scans on {yyyymmdd(0)}, against a median of 10 "
                                  f"over its previous 28 days with scans")
    assert result[0].figures == {"scans": 70, "median": 10, "history_days": 28}


def test_a_day_of_few_scans_is_no_spike_however_far_above_history(tmp_path: Path):
    records = Records()
    for back in range(10, 0, -1):
        records.scan("T-1A", at(back, 10), card(back))
    for n in range(SPIKE_MIN - 1):  # 49 against a median of 1: below the minimum
        records.scan("T-1A", at(0, 9) + 60 * n, card(100 + n))
    assert found(records.write(tmp_path)) == []


def test_a_terminal_whose_cards_no_other_partner_sees_is_raised(tmp_path: Path, fmt: str):
    records = background()
    cards = [card(next(FRESH)) for _ in range(LONER_MIN_CARDS + 5)]
    for n, serial in enumerate(cards):  # 55 children, each twice, never anywhere else
        records.scan("T-5", at(n % DAYS, 11), serial)
        records.scan("T-5", at((n + 7) % DAYS, 15), serial)
    result = anomalies(records.write(tmp_path, fmt))
    assert [(a.kind, a.partner_id, a.terminal_id, a.day) for a in result] == [
        ("cards_seen_nowhere_else", 5, "T-5", None)]
    assert result[0].evidence.startswith("55 of its 55 cards were accepted at no other partner (")
    assert result[0].evidence.endswith("elsewhere the median share is 0%")


def test_scans_piled_up_before_closing_are_a_closing_burst(tmp_path: Path):
    records = background()
    for n in range(BURST_MIN + 10):  # 40 in the last 50 minutes of a day of 10 from 09:00
        records.scan("T-3", at(2, 16, 10, "T-3") + 75 * n, card(next(FRESH)))
    result = anomalies(records.write(tmp_path))
    assert [(a.kind, a.terminal_id, a.day) for a in result] == [("closing_burst", "T-3", yyyymmdd(2))]
    assert result[0].evidence == f"40 of 50 accepted scans on {yyyymmdd(2)} came in the 60 minutes before its last scan"


def test_a_card_used_twice_a_day_across_a_partners_tills_breaks_the_daily_limit(tmp_path: Path):
    records = background()
    twice = card(next(FRESH))
    records.scan("T-1A", at(5, 10), twice)
    records.scan("T-1B", at(5, 10, 5), twice)
    records.scan("T-1B", at(5, 10, 6), twice, service="bioskop")  # another service: its own limit
    directory = records.write(tmp_path)
    result = anomalies(directory)
    assert [(a.kind, a.partner_id, a.terminal_id, a.serial, a.day) for a in result] == [
        ("daily_limit", 1, "T-1B", twice, yyyymmdd(5))]
    assert result[0].evidence == f"accepted 2 times for renang on {yyyymmdd(5)} (limit 1): T-1A#291, T-1B#1"
    assert found(directory, daily_limit=2) == []


def test_a_card_in_two_cities_half_an_hour_apart_is_impossible_travel(tmp_path: Path, fmt: str):
    records = background()
    copied = card(next(FRESH))
    records.scan("T-1A", at(4, 10), copied)
    records.scan("T-4", at(4, 10) + 1800, copied)  # Balangan, about 790 km from Surakarta
    result = anomalies(records.write(tmp_path, fmt))
    assert [(a.kind, a.partner_id, a.terminal_id, a.serial, a.day) for a in result] == [
        ("impossible_travel", 4, "T-4", copied, yyyymmdd(4))]
    assert result[0].evidence == "789 km in 30 min from partner 1 (T-1A#291)"  # as issuer.redemption_checks measures


def test_the_same_trip_a_day_later_is_possible(tmp_path: Path):
    records = background()
    travelling = card(next(FRESH))
    records.scan("T-1A", at(4, 10), travelling)
    records.scan("T-4", at(3, 10, 0, "T-4"), travelling)
    assert found(records.write(tmp_path)) == []


def test_travel_is_not_judged_where_a_partner_has_no_location(tmp_path: Path):
    records = background()
    unplaced = card(next(FRESH))
    records.scan("T-4", at(4, 10, 0, "T-4"), unplaced)
    records.scan("T-6", at(4, 10, 30, "T-4"), unplaced)
    assert found(records.write(tmp_path)) == []


def test_a_card_at_four_partners_within_an_hour_is_one_finding(tmp_path: Path):
    records = background()
    shared = card(next(FRESH))
    for minutes, terminal in ((0, "T-1A"), (15, "T-2"), (30, "T-3"), (45, "T-5")):
        records.scan(terminal, at(6, 12, minutes), shared)
    result = anomalies(records.write(tmp_path))
    assert [(a.kind, a.partner_id, a.terminal_id, a.serial, a.day) for a in result] == [
        ("many_partners", 5, "T-5", shared, yyyymmdd(6))]
    assert result[0].evidence.startswith(f"4 partners within an hour on {yyyymmdd(6)} (1, 2, 3, 5): T-1A#")


def test_three_partners_within_an_hour_are_allowed(tmp_path: Path):
    records = background()
    outing = card(next(FRESH))
    for minutes, terminal in ((0, "T-1A"), (20, "T-2"), (40, "T-3")):
        records.scan(terminal, at(6, 12, minutes), outing)
    records.scan("T-5", at(6, 13, 41), outing)  # an hour and 41 minutes after the first: a fourth, later
    assert found(records.write(tmp_path)) == []


def test_every_kind_at_once_and_the_count_per_kind(tmp_path: Path, fmt: str):
    records = background()
    for n in range(60):
        records.scan("T-2", at(0, 8) + 400 * n, card(next(FRESH)))
    copied = card(next(FRESH))
    records.scan("T-1A", at(4, 10), copied)
    records.scan("T-4", at(4, 10) + 1800, copied)
    result = anomalies(records.write(tmp_path, fmt))
    assert count_by_kind(result) == dict.fromkeys(KINDS, 0) | {"volume_spike": 1, "impossible_travel": 1}
    assert [a.kind for a in result] == ["volume_spike", "impossible_travel"]  # in the order of KINDS


# --- the office's verdicts are not the auditor's ------------------------------------------------


def test_records_the_office_holds_are_analysed_unless_left_out(tmp_path: Path):
    records = background()
    for n in range(60):
        records.scan("T-2", at(0, 8) + 400 * n, card(next(FRESH)), held=True)
    directory = records.write(tmp_path)
    assert [kind for kind, *_ in found(directory)] == ["volume_spike"]
    assert found(directory, include_held=False) == []


def test_a_period_reports_only_its_days_but_compares_with_the_use_before_it(tmp_path: Path):
    records = background()
    copied = card(next(FRESH))
    records.scan("T-1A", at(5, 23, 50), copied)
    records.scan("T-4", at(4, 1, 0, "T-4"), copied)  # ten minutes later, in Balangan's next day
    directory = records.write(tmp_path)
    day = TODAY - dt.timedelta(days=4)
    assert found(directory, start=day, end=day) == [("impossible_travel", 4, "T-4", copied, yyyymmdd(4))]
    assert found(directory, start=day - dt.timedelta(days=1), end=day - dt.timedelta(days=1)) == []


# --- the same indicators as the office's own pass -------------------------------------------------


def test_the_statistical_kinds_agree_with_the_offices_pass(tmp_path: Path):
    from issuer import anomalies as office  # the office's pure helpers, over the same records

    rng = random.Random(11)
    records = Records()
    for back in range(40, -1, -1):
        for terminal in ("T-1A", "T-1B", "T-2", "T-3", "T-5"):
            usual = rng.randint(3, 14)
            count = usual * SPIKE_FACTOR + rng.randint(-8, 30) if rng.random() < 0.08 else usual
            pool = 400 if terminal != "T-5" else 60  # T-5's cards are its own
            base = 10_000 if terminal == "T-5" else 0
            for _ in range(count):
                if count > 20 and rng.random() < 0.3:
                    moment = at(back, 16, 59, terminal) - rng.randint(0, 3600)  # some days pile up at closing
                else:
                    moment = at(back, 8, 0, terminal) + rng.randint(0, 9 * 3600)
                records.scan(terminal, moment, card(base + rng.randrange(pool)))
    directory = records.write(tmp_path)
    start, end = TODAY - dt.timedelta(days=20), TODAY

    def day_of(row: dict[str, Any]) -> int:
        return int(row["day"])

    first_day, window_first = yyyymmdd(20), int((start - dt.timedelta(days=28)).strftime("%Y%m%d"))
    daily = collections.Counter((row["terminal_id"], row["partner_id"], day_of(row)) for row in records.rows
                                if window_first <= day_of(row) <= yyyymmdd(0))
    in_period = [row for row in records.rows if first_day <= day_of(row) <= yyyymmdd(0)]
    expected = (office._volume_spikes([(*key, count) for key, count in daily.items()], first_day)
                + office._cards_seen_nowhere_else(sorted({(row["terminal_id"], row["partner_id"], row["serial"])
                                                          for row in in_period}))
                + office._closing_bursts([(row["terminal_id"], row["partner_id"], day_of(row), row["at"])
                                          for row in in_period]))
    mine = [a for a in anomalies(directory, start, end) if a.kind in office.KINDS]
    assert {a.kind for a in expected} == set(office.KINDS)  # the data exercises every kind
    assert sorted(_comparable(a.kind, a.terminal_id, a.partner_id, a.detail) for a in expected) == sorted(
        _comparable(a.kind, a.terminal_id or "", a.partner_id, a.evidence) for a in mine)


def _comparable(kind: str, terminal_id: str, partner_id: int, text: str) -> tuple[str, str, int, str]:
    # The office's detail and the auditor's evidence say the same, but for the period the auditor names.
    return kind, terminal_id, partner_id, "" if kind == "cards_seen_nowhere_else" else text


# --- bad exports ---------------------------------------------------------------------------------


def test_a_directory_without_a_manifest_is_no_export(tmp_path: Path):
    with pytest.raises(MalformedExport, match="no manifest.json"):
        anomalies(tmp_path)


def test_a_listed_file_that_is_missing_is_named(tmp_path: Path):
    directory = background().write(tmp_path)
    (directory / "redemptions.parquet").unlink()
    with pytest.raises(MalformedExport, match="redemptions.parquet is listed in the manifest but missing"):
        anomalies(directory)


def test_a_missing_column_is_named(tmp_path: Path):
    directory = background().write(tmp_path, "csv")

    def without_serial(data: bytes) -> bytes:
        lines = data.decode().split("\r\n")
        return "\r\n".join(",".join(field for n, field in enumerate(line.split(",")) if n != 5)
                           for line in lines).encode()

    rewrite(directory, "redemptions.csv", without_serial)
    with pytest.raises(MalformedExport, match=r"^redemptions.csv lacks the column\(s\) serial$"):
        anomalies(directory)


def test_a_value_of_the_wrong_type_is_refused(tmp_path: Path):
    directory = background().write(tmp_path, "csv")
    csv_line(directory, "redemptions.csv", 2, lambda fields: [*fields[:3], "noon", *fields[4:]])
    with pytest.raises(MalformedExport, match="^redemptions.csv cannot be read: Conversion Error"):
        anomalies(directory)


def test_a_record_without_its_time_is_refused_not_skipped(tmp_path: Path):
    directory = background().write(tmp_path, "csv")
    csv_line(directory, "redemptions.csv", 5, lambda fields: [*fields[:3], "", *fields[4:]])
    with pytest.raises(MalformedExport, match="a record lacks one of its values"):
        anomalies(directory)


def test_a_partner_listed_twice_is_refused(tmp_path: Path):
    directory = background().write(tmp_path, "csv")
    rewrite(directory, "partners.csv", lambda data: data + data.split(b"\r\n", 2)[1] + b"\r\n")
    with pytest.raises(MalformedExport, match="^partners.csv lists partner 1 more than once$"):
        anomalies(directory)


def test_a_partners_file_that_is_not_parquet_is_refused(tmp_path: Path):
    directory = background().write(tmp_path)
    rewrite(directory, "partners.parquet", lambda data: data[: len(data) // 2])
    with pytest.raises(MalformedExport, match="^partners.parquet cannot be read as Parquet"):
        anomalies(directory)


# --- kia audit anomalies --------------------------------------------------------------------------


def kia(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "anomalies", *map(str, args)])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_kia_audit_anomalies_prints_a_table_and_the_count_per_kind(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]):
    records = background()
    copied = card(next(FRESH))
    records.scan("T-1A", at(4, 10), copied)
    records.scan("T-4", at(4, 10) + 1800, copied)
    directory = records.write(tmp_path)
    status, out, err = kia(capsys, directory, "--lang", "en")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["kind", "partner", "terminal", "card", "day", "evidence"]
    assert lines[1].split()[:5] == ["impossible_travel", "4", "T-4", copied, str(yyyymmdd(4))]
    assert lines[-1] == ("Count per kind: volume_spike 0, cards_seen_nowhere_else 0, closing_burst 0, "
                         "daily_limit 0, impossible_travel 1, many_partners 0")

    status, out, err = kia(capsys, directory, "--json", "--from", (TODAY - dt.timedelta(days=3)).isoformat())
    assert (status, json.loads(out)["anomalies"], err) == (0, [], "")
    status, out, _ = kia(capsys, directory)
    assert out.splitlines()[0].split()[0] == "jenis" and out.splitlines()[-1].startswith("Jumlah per jenis:")


def test_kia_audit_anomalies_finds_nothing_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    status, out, _ = kia(capsys, background().write(tmp_path), "--lang", "en")
    assert status == 0 and out.splitlines()[0] == "No anomalies."


def test_kia_audit_anomalies_on_a_bad_export_is_one_line_and_exit_2(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]):
    status, out, err = kia(capsys, tmp_path)
    assert (status, out) == (2, "")
    assert err == f"kia: {tmp_path} holds no manifest.json: it is not an audit export\n"
    status, _, err = kia(capsys, tmp_path, "--from", "2026-11-02", "--to", "2026-11-01")
    assert status == 2 and "--from must not be after --to" in err


def test_anomaly_json_carries_every_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    records = background()
    twice = card(next(FRESH))
    records.scan("T-1A", at(5, 10), twice)
    records.scan("T-1B", at(5, 10, 5), twice)
    status, out, _ = kia(capsys, records.write(tmp_path), "--json")
    document = json.loads(out)
    assert status == 0 and document["counts"]["daily_limit"] == 1
    assert set(document["anomalies"][0]) == {field.name for field in dataclasses.fields(Anomaly)}
