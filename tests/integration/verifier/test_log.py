"""verifier.log on real SQLite files: the chain, history, acknowledgement and pruning."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest

from keys.chain import GENESIS, InvalidRecord, Redemption, chain_hash, chain_hashes
from tests.factories import BALANGAN, DAY, NOW, SERIAL, make_card, make_trust
from tests.integration.verifier.records import ACCEPTED, REJECTED, SERVICE, WIB, decision, fill, open_log
from verifier.decision import History, Service, decide
from verifier.log import (
    MIN_RETENTION_SECONDS,
    AcknowledgedBeyondHead,
    DaySummary,
    RecordNotKept,
    TerminalLog,
)

HOUR = 3600
MIDNIGHT_WIB = NOW - 10 * HOUR  # NOW is 10:00 WIB on 22 November 2026


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "terminal" / "log.db"


@pytest.fixture
def log(path: Path):
    with open_log(path) as log:
        yield log


def all_records(log: TerminalLog) -> list[Redemption]:
    return sorted(log.recent(10**6), key=lambda record: record.seq)


# --- opening and appending -------------------------------------------------------------------


def test_a_new_log_is_empty_at_the_genesis_hash(log: TerminalLog, path: Path) -> None:
    assert path.exists()
    assert log.head() == (0, GENESIS)
    assert (log.acknowledged(), log.pending(), log.recent()) == (0, [], [])
    assert log.hash_at(0) == GENESIS


def test_the_log_is_write_ahead_and_every_commit_is_synced(log: TerminalLog) -> None:
    # The durability settings are per connection: read them from the log's own.
    assert log._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert log._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_appends_number_records_from_one_and_chain_them(log: TerminalLog) -> None:
    first = log.append(ACCEPTED, NOW)
    second = log.append(REJECTED, NOW + 5)

    assert first == ACCEPTED.record(1, NOW) and second == REJECTED.record(2, NOW + 5)
    hashes = chain_hashes(GENESIS, [first, second])
    assert log.head() == (2, hashes[1])
    assert [log.hash_at(1), log.hash_at(2)] == hashes


def test_records_survive_closing_and_reopening(path: Path) -> None:
    with open_log(path) as log:
        fill(log, 5)
        head = log.head()
    with open_log(path) as log:
        assert log.head() == head
        assert [record.seq for record in all_records(log)] == [1, 2, 3, 4, 5]
        assert all_records(log)[0] == ACCEPTED.record(1, NOW)


def test_flags_and_empty_fields_round_trip_exactly(log: TerminalLog) -> None:
    flagged = decision(flags=("stale", "clock_skew"))
    log.append(flagged, NOW)
    log.append(REJECTED, NOW)

    assert all_records(log) == [flagged.record(1, NOW), REJECTED.record(2, NOW)]
    log.verify_chain()


def test_a_record_of_another_offices_card_keeps_its_home_in_the_chain(path: Path) -> None:
    with open_log(path) as log:
        log.append(ACCEPTED, NOW)
        record = log.append(decision(home=BALANGAN), NOW + 5)
        sent = [kept.to_json() for kept in log.pending()]

    expected = Redemption(2, NOW + 5, SERIAL, True, "accepted", SERVICE, "5-12", 35_000, 11_550, 23_450, (), 6311)
    assert record == expected
    assert "home" not in sent[0] and sent[1]["home"] == 6311
    with open_log(path) as log:  # the chain is checked again from the file at open
        assert all_records(log) == [ACCEPTED.record(1, NOW), expected]
        assert log.hash_at(2) == chain_hash(chain_hash(GENESIS, ACCEPTED.record(1, NOW)), expected)
        assert log._db.execute("SELECT home FROM records ORDER BY seq").fetchall() == [(None,), (6311,)]


def test_a_decision_the_office_would_refuse_is_not_written(log: TerminalLog) -> None:
    log.append(ACCEPTED, NOW)

    with pytest.raises(InvalidRecord):
        log.append(decision(flags=("x" * 40,)), NOW)
    with pytest.raises(InvalidRecord):
        log.append(decision(paid=1), NOW)
    with pytest.raises(InvalidRecord):
        log.append(decision(home=33), NOW)  # not a region code

    assert log.head()[0] == 1
    log.append(ACCEPTED, NOW)
    assert log.head()[0] == 2


def test_the_log_stores_no_more_than_the_record_and_its_hash(log: TerminalLog) -> None:
    columns = [row[1] for row in log._db.execute("PRAGMA table_info(records)")]

    assert columns == [*Redemption.__dataclass_fields__, "hash"]


# --- history ----------------------------------------------------------------------------------


def test_history_counts_accepted_scans_of_the_card_at_the_service_on_the_local_day(log: TerminalLog) -> None:
    log.append(ACCEPTED, MIDNIGHT_WIB - 60)  # 23:59 WIB the day before
    log.append(ACCEPTED, MIDNIGHT_WIB)  # 00:00 WIB
    log.append(ACCEPTED, NOW - HOUR)
    log.append(decision(accepted=False, reason="passback", price=0, discount=0, paid=0), NOW - 30)
    log.append(decision(service="kolam-renang"), NOW - 20)
    log.append(decision(serial="00000010"), NOW - 10)

    assert log.history(SERIAL, SERVICE, NOW) == History(2, NOW - HOUR)
    assert log.history(SERIAL, "kolam-renang", NOW) == History(1, NOW - 20)
    assert log.history(SERIAL, SERVICE, MIDNIGHT_WIB - 1) == History(1, NOW - HOUR)
    assert log.history("00000020", SERVICE, NOW) == History(0, None)


@pytest.mark.parametrize(("zone", "today"), [(WIB, 0), (dt.timezone(dt.timedelta(hours=9), "WIT"), 1)])
def test_history_follows_the_terminals_zone(tmp_path: Path, zone: dt.tzinfo, today: int) -> None:
    with TerminalLog.open(tmp_path / "log.db", zone) as log:
        log.append(ACCEPTED, NOW - 10 * HOUR - 30 * 60)  # 23:30 WIB on the 21st, 01:30 WIT on the 22nd

        assert log.history(SERIAL, SERVICE, NOW).accepted_today == today


def test_decide_with_the_logs_history_enforces_the_daily_limit_and_passback(log: TerminalLog) -> None:
    trust = make_trust()
    token = trust.issue(make_card())
    rules = Service.from_json({"code": SERVICE, "name": "Bioskop", "prices": {"5-12": 35_000},
                               "discount": {"kind": "percent", "value": 50}, "daily_limit": 2,
                               "passback_seconds": 600})

    def scan(now: int) -> str:
        made, record = log.decide_and_append(lambda history: decide(token, trust.trust_list, rules, history, now),
                                             now)
        assert record == made.record(record.seq, now)
        return made.reason

    reasons = [scan(NOW), scan(NOW + 60), scan(NOW + 700), scan(NOW + 1400), scan(NOW + DAY)]

    assert reasons == ["accepted", "passback", "accepted", "daily_limit", "accepted"]


def test_concurrent_scans_of_one_card_cannot_both_pass_the_daily_limit(log: TerminalLog) -> None:
    trust = make_trust()
    token = trust.issue(make_card())
    rules = Service.from_json({"code": SERVICE, "name": "Bioskop", "prices": {"5-12": 35_000},
                               "discount": {"kind": "fixed", "value": 5_000}, "daily_limit": 3,
                               "passback_seconds": 0})
    start = threading.Barrier(8)

    def reader() -> None:
        start.wait()
        for _ in range(5):
            log.decide_and_append(lambda history: decide(token, trust.trust_list, rules, history, NOW), NOW)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = all_records(log)
    assert len(records) == 40 and sum(record.accepted for record in records) == 3
    log.verify_chain()


# --- today and recent -------------------------------------------------------------------------


def test_today_sums_the_local_day_for_the_staff_screen(log: TerminalLog) -> None:
    log.append(ACCEPTED, MIDNIGHT_WIB - 1)
    fill(log, 5, start=MIDNIGHT_WIB)

    assert log.today(NOW) == DaySummary(dt.date(2026, 11, 22), scans=5, accepted=3, rejected=2,
                                        price=105_000, discount=34_650, paid=70_350)
    assert log.today(NOW + DAY) == DaySummary(dt.date(2026, 11, 23), 0, 0, 0, 0, 0, 0)


def test_recent_is_newest_first(log: TerminalLog) -> None:
    fill(log, 30)

    assert [record.seq for record in log.recent(3)] == [30, 29, 28]
    assert len(log.recent()) == 20


# --- acknowledgement ----------------------------------------------------------------------------


def test_pending_is_what_the_office_has_not_acknowledged_in_order(log: TerminalLog) -> None:
    fill(log, 12)

    assert [record.seq for record in log.pending(5)] == [1, 2, 3, 4, 5]
    log.acknowledge(7)
    assert [record.seq for record in log.pending()] == [8, 9, 10, 11, 12]
    assert log.acknowledged() == 7


def test_the_acknowledgement_never_goes_backwards(log: TerminalLog) -> None:
    fill(log, 5)
    log.acknowledge(4)
    log.acknowledge(2)  # a late answer to an earlier batch

    assert log.acknowledged() == 4


def test_an_acknowledgement_beyond_the_last_record_is_refused(log: TerminalLog, path: Path) -> None:
    fill(log, 3)

    with pytest.raises(AcknowledgedBeyondHead, match="acknowledges sequence 9 but this log ends at 3"):
        log.acknowledge(9)
    assert log.acknowledged() == 0


def test_acknowledgement_checkpoints_and_meta_survive_a_restart(path: Path) -> None:
    with open_log(path) as log:
        fill(log, 4)
        log.acknowledge(3)
        log.store_checkpoint(3, "eyJ.checkpoint.three", NOW)
        log.set_meta("last_server_time", str(NOW))
        log.set_meta("last_server_time", str(NOW + 1))
    with open_log(path) as log:
        assert log.acknowledged() == 3
        assert log.checkpoints() == [(3, "eyJ.checkpoint.three", NOW)]
        assert (log.get_meta("last_server_time"), log.get_meta("missing")) == (str(NOW + 1), None)


# --- pruning ------------------------------------------------------------------------------------


def test_prune_removes_only_acknowledged_records_past_the_retention(log: TerminalLog) -> None:
    fill(log, 10, start=NOW, step=DAY)  # record n at NOW + (n - 1) days
    log.acknowledge(8)
    hashes = [log.hash_at(seq) for seq in range(1, 11)]

    removed = log.prune(NOW + 9 * DAY, MIN_RETENTION_SECONDS)  # keeps records of the last two days

    assert removed == 7  # 1..7; 8 is within the retention
    assert [record.seq for record in all_records(log)] == [8, 9, 10]
    assert log.hash_at(7) == hashes[6]  # the base
    assert [log.hash_at(seq) for seq in (8, 9, 10)] == hashes[7:]
    with pytest.raises(RecordNotKept):
        log.hash_at(6)
    log.verify_chain()


def test_prune_never_removes_unacknowledged_records(log: TerminalLog) -> None:
    fill(log, 6, start=NOW, step=DAY)
    log.acknowledge(2)

    assert log.prune(NOW + 100 * DAY, MIN_RETENTION_SECONDS) == 2
    assert [record.seq for record in log.pending()] == [3, 4, 5, 6]


def test_prune_keeps_the_head_so_the_next_record_still_chains(path: Path) -> None:
    with open_log(path) as log:
        fill(log, 4, start=NOW, step=DAY)
        log.acknowledge(4)
        assert log.prune(NOW + 100 * DAY, MIN_RETENTION_SECONDS) == 3
        head = log.head()
        assert head[0] == 4
    with open_log(path) as log:
        assert log.head() == head
        record = log.append(ACCEPTED, NOW + 101 * DAY)
        reference = open_log(path.with_name("reference.db"))
        fill(reference, 4, start=NOW, step=DAY)
        reference.append(ACCEPTED, NOW + 101 * DAY)
        assert record.seq == 5 and log.head() == reference.head()
        reference.close()


def test_prune_removes_a_prefix_only_when_a_clock_went_back(log: TerminalLog) -> None:
    log.append(ACCEPTED, NOW)
    log.append(ACCEPTED, NOW + 10 * DAY)  # the clock ran ahead, then was corrected
    log.append(ACCEPTED, NOW + DAY)
    log.append(ACCEPTED, NOW + 11 * DAY)
    log.acknowledge(4)

    assert log.prune(NOW + 5 * DAY, MIN_RETENTION_SECONDS) == 1  # record 3 is old, but 2 stands before it
    log.verify_chain()


def test_prune_drops_checkpoints_below_the_new_base(log: TerminalLog) -> None:
    fill(log, 6, start=NOW, step=DAY)
    for seq in (2, 4, 6):
        log.store_checkpoint(seq, f"checkpoint-{seq}", NOW)
    log.acknowledge(6)

    log.prune(NOW + 100 * DAY, MIN_RETENTION_SECONDS)

    assert [seq for seq, _, _ in log.checkpoints()] == [6]


def test_a_retention_shorter_than_the_rules_need_is_refused(log: TerminalLog) -> None:
    with pytest.raises(ValueError, match="at least"):
        log.prune(NOW, DAY)


# --- threads ------------------------------------------------------------------------------------


def test_appends_from_many_threads_and_a_sync_thread_keep_one_contiguous_chain(log: TerminalLog) -> None:
    done = threading.Event()
    acknowledged: list[int] = []

    def sync() -> None:
        while not done.is_set():
            batch = log.pending(50)
            if batch:
                log.acknowledge(batch[-1].seq)
                acknowledged.append(batch[-1].seq)

    def reader(offset: int) -> None:
        for index in range(100):
            log.append(ACCEPTED if index % 3 else REJECTED, NOW + offset + index)

    syncing = threading.Thread(target=sync)
    syncing.start()
    readers = [threading.Thread(target=reader, args=(offset,)) for offset in range(4)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join()
    done.set()
    syncing.join()

    assert [record.seq for record in all_records(log)] == list(range(1, 401))
    assert acknowledged == sorted(acknowledged)
    log.verify_chain()


def test_a_second_process_appending_to_the_same_file_continues_the_chain(path: Path) -> None:
    first, second = open_log(path), open_log(path)
    try:
        first.append(ACCEPTED, NOW)
        second.append(REJECTED, NOW)
        first.append(ACCEPTED, NOW)
    finally:
        first.close()
        second.close()
    with open_log(path) as log:
        assert log.head()[0] == 3


def test_an_unreadable_location_is_unavailable_not_corrupt(tmp_path: Path) -> None:
    from verifier.log import LogUnavailable

    directory = tmp_path / "log.db"
    directory.mkdir()

    with pytest.raises(LogUnavailable, match="cannot be opened"):
        open_log(directory)
    assert directory.is_dir()


def test_closed_logs_release_the_file(path: Path) -> None:
    log = open_log(path)
    fill(log, 2)
    log.close()

    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM records").fetchone() == (2,)
