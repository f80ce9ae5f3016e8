"""What an auditor checks in an audit export, from the export alone.

``verify_export`` trusts none of the office's verdicts: it recomputes every
record's chain hash from ``prev_hash`` and the record as the terminal signed
it (keys.chain), links each record to the one before, verifies every
checkpoint with the terminal's own key and matches it to the chain, and
reports each failure as (terminal, seq, check, sentence).  The checks, in
the order they run for each record:

- ``unknown_terminal``, ``unknown_partner``: the record's terminal (with a
  public key) or partner is not in the export;
- ``partner_mismatch``: the record's partner is not its terminal's;
- ``day_mismatch``: ``day`` is not the local date of ``at`` in the partner
  region's zone (the bucket every report counts it in);
- ``flagged_mismatch``: ``flagged`` is not "the record has flags";
- ``invalid_record``: the record breaks the rules of keys.chain.Redemption;
- ``gap``, ``broken_link``: records are missing, or ``prev_hash`` is not the
  hash of the record before (zeros before record 1);
- ``hash_mismatch``: SHA-256(prev_hash || canonical record) is not ``hash``:
  the record changed after the terminal chained it;
- for each checkpoint: ``checkpoint_invalid`` (not signed by the terminal's
  key, or for another terminal), ``checkpoint_columns`` (its seq or hash
  columns are not what it signed), ``checkpoint_mismatch`` (the chain hash at
  its seq is not the one signed);
- ``uncovered``: records after a terminal's last matching checkpoint (a
  warning, a failure with ``require_checkpoint``): only a signature binds the
  chain to what the terminal logged.

``recompute_revenue`` counts the figures of issuer/reports.py again from the
raw records and compares them with the office's figures.json.
Verification raises: ``ExportNotVerified`` and ``RevenueDiffers`` carry the
report; ``MalformedExport`` means the export itself cannot be read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.chain import InvalidCheckpoint, InvalidRecord, Redemption, verify_checkpoint
from keys.eligibility import region_timezone
from keys.errors import KeyFileInvalid
from keys.jwk import load_public_jwk
from keys.times import local_date

from .audit_export_format import (
    FIGURE_FIELDS,
    ZERO_HASH,
    ExportError,
    MalformedExport,
    Manifest,
    Row,
    open_export,
    read_figures,
    read_table,
)

MAX_LISTED = 10_000  # problems kept in a report; the counts go on
# Every check, in Bahasa Indonesia and English, for the summary people read.
CHECKS: dict[str, tuple[str, str]] = {
    "unknown_terminal": ("terminal tidak ada di ekspor", "terminal not in the export"),
    "unknown_partner": ("mitra tidak ada di ekspor", "partner not in the export"),
    "partner_mismatch": ("mitra catatan bukan mitra terminalnya", "the record's partner is not its terminal's"),
    "day_mismatch": ("hari laporan tidak sesuai waktu catatan", "report day does not match the record's time"),
    "flagged_mismatch": ("tanda flagged tidak sesuai flags", "flagged does not match the flags"),
    "invalid_record": ("catatan tidak sah", "invalid record"),
    "gap": ("catatan hilang", "records missing"),
    "broken_link": ("rantai terputus", "broken chain link"),
    "hash_mismatch": ("catatan berubah setelah dirantai", "record changed after it was chained"),
    "checkpoint_invalid": ("tanda tangan checkpoint tidak sah", "checkpoint signature invalid"),
    "checkpoint_columns": ("kolom checkpoint bukan yang ditandatangani", "checkpoint columns are not what it signs"),
    "checkpoint_mismatch": ("checkpoint tidak cocok dengan rantai", "checkpoint does not match the chain"),
    "checkpoint_unmatched": ("checkpoint tanpa catatan untuk dicocokkan", "checkpoint with no record to match"),
    "uncovered": ("catatan tanpa checkpoint", "records no checkpoint covers"),
}
_HEX_HASH = re.compile(r"[0-9a-f]{64}")
Progress = Callable[[int], None]


@dataclasses.dataclass(frozen=True)
class Problem:
    terminal: str
    seq: int | None
    check: str
    message: str

    def line(self) -> str:
        where = self.terminal + (f" #{self.seq}" if self.seq is not None else "")
        return f"{where}: {self.check}: {self.message}"


@dataclasses.dataclass
class Verification:
    """What verify_export found: counts, failures and warnings (each at most MAX_LISTED listed)."""

    terminals: int = 0
    records: int = 0
    checkpoints: int = 0
    checkpoints_verified: int = 0
    records_covered: int = 0
    failure_count: int = 0
    warning_count: int = 0
    failures: list[Problem] = dataclasses.field(default_factory=list)
    warnings: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.failure_count == 0

    def fail(self, problem: Problem) -> None:
        self.failure_count += 1
        if len(self.failures) < MAX_LISTED:
            self.failures.append(problem)

    def warn(self, problem: Problem) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_LISTED:
            self.warnings.append(problem)

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "terminals": self.terminals, "records": self.records, "records_covered": self.records_covered,
            "checkpoints": self.checkpoints, "checkpoints_verified": self.checkpoints_verified,
            "failure_count": self.failure_count, "warning_count": self.warning_count,
            "failures": [dataclasses.asdict(problem) for problem in self.failures],
            "warnings": [dataclasses.asdict(problem) for problem in self.warnings],
        }


class ExportNotVerified(ExportError):
    """Some record or checkpoint of the export does not verify; ``report`` says which."""

    def __init__(self, report: Verification) -> None:
        super().__init__(f"the export does not verify: {report.failure_count} failure(s)")
        self.report = report


def verify_export(directory: Path, *, require_checkpoint: bool = False,
                  progress: Progress | None = None) -> Verification:
    """Verify the export in ``directory``; returns the report when everything verified.

    Raises MalformedExport (the export cannot be read as documented) or
    ExportNotVerified (it can, and something in it is not what the terminals
    signed).
    """
    manifest = open_export(directory)
    terminals = _keyed(read_table(directory, manifest, "terminals"), "terminal_id", "terminals")
    partners = _keyed(read_table(directory, manifest, "partners"), "partner_id", "partners")
    checkpoints = _checkpoints(read_table(directory, manifest, "checkpoints"))
    report = Verification()
    chain: _Chain | None = None
    for row in _counted(read_table(directory, manifest, "redemptions"), progress):
        if chain is None or row["terminal_id"] != chain.terminal:
            if chain is not None:
                if row["terminal_id"] < chain.terminal:
                    raise MalformedExport("redemptions: rows are not ordered by terminal_id, then seq")
                chain.finish()
            terminal = row["terminal_id"]
            chain = _Chain(terminal, terminals.get(terminal), checkpoints.pop(terminal, {}), report,
                           require_checkpoint)
            report.terminals += 1
        report.records += 1
        chain.add(row, partners)
    if chain is not None:
        chain.finish()
    for terminal, orphans in sorted(checkpoints.items()):  # checkpoints of terminals without records
        report.checkpoints += len(orphans)
        for seq in orphans:
            report.warn(Problem(terminal, seq, "checkpoint_unmatched", "no exported record at its seq"))
    if not report.verified:
        raise ExportNotVerified(report)
    return report


def _counted(rows: Iterator[Row], progress: Progress | None, every: int = 10_000) -> Iterator[Row]:
    count = 0
    for row in rows:
        yield row
        count += 1
        if progress is not None and count % every == 0:
            progress(every)
    if progress is not None and count % every:
        progress(count % every)


def _keyed(rows: Iterator[Row], key: str, table: str) -> dict[Any, Row]:
    keyed: dict[Any, Row] = {}
    for row in rows:
        if row[key] in keyed:
            raise MalformedExport(f"{table}: {key} {row[key]} appears twice")
        keyed[row[key]] = row
    return keyed


def _checkpoints(rows: Iterator[Row]) -> dict[str, dict[int, Row]]:
    found: dict[str, dict[int, Row]] = defaultdict(dict)
    for row in rows:
        _hex(row["hash"], "checkpoints", "hash")
        if row["seq"] in found[row["terminal_id"]]:
            raise MalformedExport(f"checkpoints: {row['terminal_id']} #{row['seq']} appears twice")
        found[row["terminal_id"]][row["seq"]] = row
    return dict(found)


def _hex(value: str | None, table: str, column: str) -> None:
    if value is not None and not _HEX_HASH.fullmatch(value):
        raise MalformedExport(f"{table}: {column} {value[:70]!r} is not 64 lowercase hex digits")


def local_day(at: int, region: int) -> int:
    """The partner-local day of ``at`` as YYYYMMDD, 0 for a time beyond the calendar (as the office files it)."""
    day = local_date(at, region_timezone(region))
    return 0 if day is None else day.year * 10000 + day.month * 100 + day.day


_RECORD_FIELDS = ("seq", "at", "serial", "accepted", "reason", "service", "category", "price", "discount", "paid")


def record_of(row: Row) -> tuple[Redemption, str | None]:
    """The record as the terminal chained it, from an export row (its flags are space-separated),
    and the rule of keys.chain it breaks (None when it breaks none): its hash is checked all the same."""
    fields: dict[str, Any] = {name: row[name] for name in _RECORD_FIELDS}
    fields["flags"] = row["flags"].split(" ") if row["flags"] else []
    if row.get("home") is not None:  # a card of another region (format 2); absent, as chained, otherwise
        fields["home"] = row["home"]
    try:
        return Redemption.from_json(fields), None
    except InvalidRecord as exc:
        return Redemption(**(fields | {"flags": tuple(fields["flags"])})), str(exc)


class _Chain:
    """One terminal's records in sequence, and its checkpoints matched against them."""

    def __init__(self, terminal: str, known: Row | None, checkpoints: dict[int, Row], report: Verification,
                 require_checkpoint: bool) -> None:
        self.terminal, self.known, self.checkpoints, self.report = terminal, known, checkpoints, report
        self.require_checkpoint = require_checkpoint
        self.previous: Row | None = None
        self.segments: list[list[int]] = []  # [first, last] seqs of each run of linked records
        self.hash_at: dict[int, str] = {}  # the chain hash at each checkpoint's seq, as exported and checked
        self.key = self._key()

    def _fail(self, seq: int | None, check: str, message: str) -> None:
        self.report.fail(Problem(self.terminal, seq, check, message))

    def _key(self) -> Ed25519PublicKey | None:
        if self.known is None or self.known["public_jwk"] is None:
            self._fail(None, "unknown_terminal", "the export has no such terminal with a public key: "
                                                 "its checkpoints cannot be verified")
            return None
        try:
            return load_public_jwk(json.loads(self.known["public_jwk"]))
        except (ValueError, KeyFileInvalid) as exc:
            self._fail(None, "unknown_terminal", f"the terminal's public_jwk is not an Ed25519 public JWK ({exc})")
            return None

    def add(self, row: Row, partners: dict[Any, Row]) -> None:
        seq = row["seq"]
        _hex(row["prev_hash"], "redemptions", "prev_hash")
        _hex(row["hash"], "redemptions", "hash")
        if self.previous is not None and seq <= self.previous["seq"]:
            raise MalformedExport(f"redemptions: {self.terminal} #{seq} is out of order or appears twice")
        self._check_filing(row, partners)
        record, broken = record_of(row)
        if broken is not None:
            self._fail(seq, "invalid_record", broken)
        linked = self._link(row)
        if row["prev_hash"] is not None:
            digest = hashlib.sha256(bytes.fromhex(row["prev_hash"]) + record.canonical()).hexdigest()
            if digest != row["hash"]:
                self._fail(seq, "hash_mismatch", f"SHA-256(prev_hash || record) is {digest[:16]}..., "
                                                 f"not its hash {row['hash'][:16]}...")
        if linked:
            self.segments[-1][1] = seq
        else:
            self.segments.append([seq, seq])
            if seq - 1 in self.checkpoints:
                self.hash_at[seq - 1] = row["prev_hash"] or ""
        if seq in self.checkpoints:
            self.hash_at[seq] = row["hash"]
        self.previous = row

    def _check_filing(self, row: Row, partners: dict[Any, Row]) -> None:
        """What the office filed with the record: its partner, its day, its flag."""
        seq, partner = row["seq"], partners.get(row["partner_id"])
        if self.known is not None and row["partner_id"] != self.known["partner_id"]:
            self._fail(seq, "partner_mismatch", f"filed under partner {row['partner_id']}, "
                                                f"the terminal is partner {self.known['partner_id']}'s")
        if partner is None:
            self._fail(seq, "unknown_partner", f"the export has no partner {row['partner_id']}")
        elif row["day"] != (day := local_day(row["at"], partner["region"])):
            self._fail(seq, "day_mismatch", f"filed under day {row['day']}, its time is on {day} in the "
                                            "partner's zone")
        if row["flagged"] != bool(row["flags"]):
            self._fail(seq, "flagged_mismatch", f"flagged is {str(row['flagged']).lower()} "
                                                f"for flags {row['flags']!r}")

    def _link(self, row: Row) -> bool:
        """Whether the record continues the run before it; reports why not when it should."""
        seq, previous = row["seq"], self.previous
        if row["prev_hash"] is None:
            self._fail(seq, "gap", f"the office holds no record {seq - 1} before it")
            return False
        if previous is None:
            if seq == 1 and row["prev_hash"] != ZERO_HASH:
                self._fail(seq, "broken_link", "record 1 must follow the zero hash")
            return False
        if seq != previous["seq"] + 1:
            self._fail(seq, "gap", f"records {previous['seq'] + 1}..{seq - 1} are missing")
            return False
        if row["prev_hash"] != previous["hash"]:
            self._fail(seq, "broken_link", f"prev_hash is not the hash of record {seq - 1}")
            return False
        return True

    def finish(self) -> None:
        """Verify the terminal's checkpoints against its chain; report what no checkpoint covers."""
        signed: list[int] = []
        for seq, row in sorted(self.checkpoints.items()):
            self.report.checkpoints += 1
            if self._checkpoint_holds(seq, row):
                self.report.checkpoints_verified += 1
                signed.append(seq)
        for first, last in self.segments:
            covered = max((seq for seq in signed if first <= seq <= last), default=first - 1)
            self.report.records_covered += covered - first + 1
            if covered < last:
                problem = Problem(self.terminal, covered + 1, "uncovered",
                                  f"records {covered + 1}..{last} are covered by no checkpoint the terminal signed")
                (self.report.fail if self.require_checkpoint else self.report.warn)(problem)

    def _checkpoint_holds(self, seq: int, row: Row) -> bool:
        if self.key is None:
            return False
        try:
            signed = verify_checkpoint(row["jws"], self.key, self.terminal)
        except InvalidCheckpoint as exc:
            self._fail(seq, "checkpoint_invalid", str(exc))
            return False
        if signed.seq != seq or signed.hash.hex() != row["hash"]:
            self._fail(seq, "checkpoint_columns", f"the checkpoint signs seq {signed.seq} and hash "
                                                  f"{signed.hash.hex()[:16]}..., not its columns")
            return False
        if seq not in self.hash_at:
            self.report.warn(Problem(self.terminal, seq, "checkpoint_unmatched", "no exported record at its seq"))
            return False
        if self.hash_at[seq] != row["hash"]:
            self._fail(seq, "checkpoint_mismatch", f"the terminal signed {row['hash'][:16]}... at this seq, the "
                                                   f"records chain to {self.hash_at[seq][:16]}...")
            return False
        return True


# --- revenue ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Difference:
    partner_id: int | None  # None: the programme's total
    day: int
    field: str
    office: int
    recomputed: int

    def line(self) -> str:
        scope = "programme" if self.partner_id is None else f"partner {self.partner_id}"
        return f"{scope}, day {self.day}: {self.field} office {self.office}, recomputed {self.recomputed}"


@dataclasses.dataclass
class Revenue:
    """The figures recomputed from the records, per partner over the period, and where the office differs."""

    start: str
    end: str
    partners: dict[int, dict[str, int]]  # additive figures over the period, and unique cards over it
    total: dict[str, int]
    differences: list[Difference]

    def to_json(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "agrees": not self.differences,
                "partners": [{"partner_id": partner, **figures} for partner, figures in sorted(self.partners.items())],
                "total": self.total, "differences": [dataclasses.asdict(item) for item in self.differences]}


class RevenueDiffers(ExportError):
    """The office's figures are not those the records give; ``revenue`` lists each difference."""

    def __init__(self, revenue: Revenue) -> None:
        super().__init__(f"the office's figures differ from the records in {len(revenue.differences)} place(s)")
        self.revenue = revenue


class _Tally:
    """issuer/reports.py's figures for one group: accepted means accepted and not held."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(FIGURE_FIELDS, 0)
        self.cards: set[str] = set()

    def add(self, row: Row) -> None:
        self.counts["scans"] += 1
        if not row["accepted"]:
            return
        if row["held"]:
            self.counts["held"] += 1
            return
        self.counts["accepted"] += 1
        self.counts["gross"] += row["price"]
        self.counts["discount"] += row["discount"]
        self.counts["net"] += row["paid"]
        self.counts["flagged"] += bool(row["flags"])
        if row["serial"] is not None:
            self.cards.add(row["serial"])

    def figures(self) -> dict[str, int]:
        return self.counts | {"unique_cards": len(self.cards)}


def recompute_revenue(directory: Path, *, progress: Progress | None = None) -> Revenue:
    """The revenue figures from the export's raw records, compared with figures.json.

    A record counts on its partner-local day, recomputed from its time and
    the partner's region; ``held`` is the office's quarantine, the one
    verdict the figures take from it (kia audit verify and the findings say
    why).  Raises MalformedExport or RevenueDiffers.
    """
    manifest = open_export(directory)
    first, last = _day(manifest.start), _day(manifest.end)
    office = read_figures(directory)
    if (office.get("from"), office.get("to"), office.get("partner")) != (manifest.start, manifest.end,
                                                                          manifest.partner):
        raise MalformedExport("figures.json is for another period or partner than the manifest")
    regions = {row["partner_id"]: row["region"] for row in read_table(directory, manifest, "partners")}
    by_day: dict[tuple[int | None, int], _Tally] = defaultdict(_Tally)
    over_period: dict[int, _Tally] = defaultdict(_Tally)
    total = _Tally()
    for row in _counted(read_table(directory, manifest, "redemptions"), progress):
        if row["partner_id"] not in regions:
            raise MalformedExport(f"partners has no partner {row['partner_id']}, which records name")
        day = local_day(row["at"], regions[row["partner_id"]])
        if not first <= day <= last:
            continue  # exported to link the chain, outside the period
        for tally in (by_day[(row["partner_id"], day)], by_day[(None, day)], over_period[row["partner_id"]], total):
            tally.add(row)
    told = {(row["partner_id"], row["day"]): row for row in office["partners"]}
    told |= {(None, row["day"]): row for row in office["programme"]}
    differences = []
    for key in sorted(set(told) | set(by_day), key=lambda item: (item[0] is None, item[0] or 0, item[1])):
        ours = by_day[key].figures() if key in by_day else dict.fromkeys(FIGURE_FIELDS, 0)
        theirs = told.get(key, {})
        differences += [Difference(key[0], key[1], field, int(theirs.get(field, 0)), ours[field])
                        for field in FIGURE_FIELDS if int(theirs.get(field, 0)) != ours[field]]
    revenue = Revenue(manifest.start, manifest.end,
                      {partner: tally.figures() for partner, tally in over_period.items()}, total.figures(),
                      differences)
    if differences:
        raise RevenueDiffers(revenue)
    return revenue


def _day(text: str) -> int:
    return int(text.replace("-", ""))


def manifest_rows(manifest: Manifest, table: str) -> int | None:
    """The rows the manifest gives for ``table`` (for a progress bar), None when it does not say."""
    names = manifest.tables(table)
    return manifest.files[names[0]].rows if names else None
