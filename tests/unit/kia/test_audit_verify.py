"""The auditor's verification of an export: chains, checkpoints and revenue, trusting nothing else.

Each attack is one an office (or whoever holds its export) could try: a
record changed, records dropped, a chain rewritten to hide a change, a
checkpoint signed by a key that is not the terminal's, figures that are not
the records'.  Each must be named (terminal, seq, check), never "verified".
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kia.audit_export_format import MalformedExport
from kia.audit_verify import (
    ExportNotVerified,
    RevenueDiffers,
    local_day,
    recompute_revenue,
    verify_export,
)
from tests.factories import JAYAPURA, NOW, SURAKARTA
from tests.factories.audit_exports import Till, csv_line, honest_export, partner_row, scan, write_export

HOUR = 3600


def failures(directory: Path, **options) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ExportNotVerified) as caught:
        verify_export(directory, **options)
    return [(problem.terminal, problem.seq, problem.check) for problem in caught.value.report.failures]


@pytest.fixture
def till() -> Till:
    """Ten scans an hour apart, the third refused, the last flagged stale."""
    scans = [scan(NOW - 20 * HOUR + n * HOUR, accepted=n != 2, flags=("stale",) if n == 9 else ())
             for n in range(10)]
    return Till().log(*scans)


def test_an_honest_export_verifies(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    report = verify_export(tmp_path, require_checkpoint=True)
    assert (report.terminals, report.records, report.records_covered, report.checkpoints,
            report.checkpoints_verified) == (1, 10, 10, 1, 1)


def test_a_period_that_starts_mid_chain_verifies_from_prev_hash(tmp_path: Path, till: Till):
    write_export(tmp_path, redemptions=till.rows(4), checkpoints=[till.checkpoint(3), till.checkpoint(10)],
                 terminals=[till.terminal_row()], partners=[partner_row()])
    report = verify_export(tmp_path, require_checkpoint=True)
    assert (report.records, report.records_covered, report.checkpoints_verified) == (7, 7, 2)


def test_a_changed_price_is_named_by_terminal_and_seq(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    csv_line(tmp_path, "redemptions.csv", 6, lambda fields: [*fields[:10], "30000", "15000", "15000", *fields[13:]])
    assert failures(tmp_path) == [(till.terminal_id, 5, "hash_mismatch")]


def test_a_chain_rewritten_to_hide_a_change_fails_at_the_terminals_checkpoint(tmp_path: Path, till: Till):
    # Whoever changes record 5 and recomputes every hash after it keeps the chain whole; the signature is not.
    forged = Till(till.terminal_id, key=till.key, records=list(till.records))
    forged.records[4] = dataclasses.replace(forged.records[4], price=30_000, discount=15_000, paid=15_000)
    write_export(tmp_path, redemptions=forged.rows(), checkpoints=[till.checkpoint(10)],
                 terminals=[till.terminal_row()], partners=[partner_row()])
    assert failures(tmp_path) == [(till.terminal_id, 10, "checkpoint_mismatch")]
    assert failures(tmp_path, require_checkpoint=True) == [(till.terminal_id, 10, "checkpoint_mismatch"),
                                                          (till.terminal_id, 1, "uncovered")]


def test_a_dropped_record_is_a_gap(tmp_path: Path, till: Till):
    rows = till.rows()
    write_export(tmp_path, redemptions=rows[:5] + rows[7:], checkpoints=[till.checkpoint(10)],
                 terminals=[till.terminal_row()], partners=[partner_row()])
    assert failures(tmp_path) == [(till.terminal_id, 8, "gap")]
    assert failures(tmp_path, require_checkpoint=True) == [(till.terminal_id, 8, "gap"),
                                                          (till.terminal_id, 1, "uncovered")]


def test_a_record_whose_prev_hash_does_not_link_is_a_broken_link(tmp_path: Path, till: Till):
    rows = till.rows()
    rows[6] = rows[6] | {"prev_hash": hashlib.sha256(b"another chain").hexdigest()}
    write_export(tmp_path, redemptions=rows, checkpoints=[till.checkpoint(10)], terminals=[till.terminal_row()],
                 partners=[partner_row()])
    assert failures(tmp_path) == [(till.terminal_id, 7, "broken_link"), (till.terminal_id, 7, "hash_mismatch")]


def test_a_checkpoint_signed_by_another_key_is_refused(tmp_path: Path, till: Till):
    write_export(tmp_path, redemptions=till.rows(),
                 checkpoints=[till.checkpoint(5, key=Ed25519PrivateKey.generate()), till.checkpoint(10)],
                 terminals=[till.terminal_row()], partners=[partner_row()])
    assert failures(tmp_path) == [(till.terminal_id, 5, "checkpoint_invalid")]


def test_a_checkpoints_hash_column_that_is_not_what_it_signs_is_refused(tmp_path: Path, till: Till):
    checkpoint = till.checkpoint(10) | {"hash": "ab" * 32}
    write_export(tmp_path, redemptions=till.rows(), checkpoints=[checkpoint], terminals=[till.terminal_row()],
                 partners=[partner_row()])
    assert failures(tmp_path) == [(till.terminal_id, 10, "checkpoint_columns")]


def test_records_after_the_last_checkpoint_are_a_warning_unless_checkpoints_are_required(tmp_path: Path, till: Till):
    write_export(tmp_path, redemptions=till.rows(), checkpoints=[till.checkpoint(6)],
                 terminals=[till.terminal_row()], partners=[partner_row()])
    report = verify_export(tmp_path)
    assert report.records_covered == 6 and [w.check for w in report.warnings] == ["uncovered"]
    assert "records 7..10" in report.warnings[0].message
    assert failures(tmp_path, require_checkpoint=True) == [(till.terminal_id, 7, "uncovered")]


def test_a_terminal_the_export_does_not_have_cannot_vouch_for_its_records(tmp_path: Path, till: Till):
    write_export(tmp_path, redemptions=till.rows(), checkpoints=[till.checkpoint(10)], terminals=[],
                 partners=[partner_row()])
    assert failures(tmp_path) == [(till.terminal_id, None, "unknown_terminal")]


def test_what_the_office_filed_with_a_record_is_checked_too(tmp_path: Path, till: Till):
    rows = till.rows()
    rows[1] |= {"day": rows[1]["day"] + 1}  # moved to another day's report
    rows[2] |= {"flagged": True}
    rows[3] |= {"partner_id": 2}
    write_export(tmp_path, redemptions=rows, checkpoints=[till.checkpoint(10)], terminals=[till.terminal_row()],
                 partners=[partner_row(1), partner_row(2)])
    assert failures(tmp_path) == [(till.terminal_id, 2, "day_mismatch"), (till.terminal_id, 3, "flagged_mismatch"),
                                  (till.terminal_id, 4, "partner_mismatch")]


def test_a_record_against_the_chains_own_rules_is_invalid(tmp_path: Path):
    till = Till().log(scan(NOW - HOUR), dataclasses.replace(scan(NOW - 60), paid=1))  # paid is not price - discount
    honest_export(tmp_path, till)
    assert failures(tmp_path) == [(till.terminal_id, 2, "invalid_record")]


def test_rows_out_of_order_or_twice_are_malformed(tmp_path: Path, till: Till):
    rows = till.rows()
    write_export(tmp_path, redemptions=[*rows[:3], rows[2], *rows[3:]], checkpoints=[], terminals=[],
                 partners=[partner_row()])
    with pytest.raises(MalformedExport, match="out of order or appears twice"):
        verify_export(tmp_path)


def test_a_hash_that_is_not_hex_is_malformed(tmp_path: Path, till: Till):
    rows = till.rows()
    rows[0] |= {"hash": "not a hash"}
    write_export(tmp_path, redemptions=rows, checkpoints=[], terminals=[], partners=[partner_row()])
    with pytest.raises(MalformedExport, match="hash 'not a hash' is not 64 lowercase hex digits"):
        verify_export(tmp_path)


def test_local_days_follow_the_partners_zone():
    midnight_wib = 1795280400  # 2026-11-21T17:00:00Z
    assert local_day(midnight_wib, SURAKARTA) == 20261122
    assert local_day(midnight_wib - 1, SURAKARTA) == 20261121
    assert local_day(midnight_wib - 3600, JAYAPURA) == 20261122  # an hour before, it is 01:00 in WIT
    assert local_day(2**40, SURAKARTA) == 0  # beyond the calendar: outside every day, as the office files it


# --- revenue ---------------------------------------------------------------------------


def day_figures(till: Till, **overrides: int) -> dict:
    """The office's figures for the till's day: 9 accepted of 10, one held, one flagged."""
    day = local_day(till.records[0].at, SURAKARTA)
    row = {"day": day, "scans": 10, "accepted": 8, "unique_cards": 1, "gross": 320_000, "discount": 160_000,
           "net": 160_000, "held": 1, "flagged": 1} | overrides
    return {"partners": [{"partner_id": 1, **row}], "programme": [row]}


@pytest.fixture
def one_day(till: Till) -> Till:
    till.held = {4}
    assert len({local_day(record.at, SURAKARTA) for record in till.records}) == 1
    return till


def test_revenue_recomputed_from_the_records_matches_the_offices(tmp_path: Path, one_day: Till):
    honest_export(tmp_path, one_day, figures=day_figures(one_day))
    revenue = recompute_revenue(tmp_path)
    assert revenue.total == {"scans": 10, "accepted": 8, "unique_cards": 1, "gross": 320_000, "discount": 160_000,
                             "net": 160_000, "held": 1, "flagged": 1}
    assert revenue.partners == {1: revenue.total}


def test_figures_that_are_not_the_records_are_shown_field_by_field(tmp_path: Path, one_day: Till):
    honest_export(tmp_path, one_day, figures=day_figures(one_day, net=200_000, held=0))
    with pytest.raises(RevenueDiffers) as caught:
        recompute_revenue(tmp_path)
    lines = [difference.line() for difference in caught.value.revenue.differences]
    day = local_day(one_day.records[0].at, SURAKARTA)
    assert lines == [f"partner 1, day {day}: net office 200000, recomputed 160000",
                     f"partner 1, day {day}: held office 0, recomputed 1",
                     f"programme, day {day}: net office 200000, recomputed 160000",
                     f"programme, day {day}: held office 0, recomputed 1"]


def test_records_outside_the_period_link_the_chain_but_are_not_counted(tmp_path: Path):
    till = Till().log(scan(NOW - 2 * HOUR), scan(NOW + 200 * 86_400), scan(NOW - HOUR))  # a clock gone ahead
    day = local_day(NOW, SURAKARTA)
    row = {"day": day, "scans": 2, "accepted": 2, "unique_cards": 1, "gross": 80_000, "discount": 40_000,
           "net": 40_000, "held": 0, "flagged": 0}
    honest_export(tmp_path, till, figures={"partners": [{"partner_id": 1, **row}], "programme": [row]})
    assert verify_export(tmp_path).records == 3
    assert recompute_revenue(tmp_path).total["scans"] == 2
