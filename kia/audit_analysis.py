"""An auditor's anomaly pass: the office's indicators, recomputed in DuckDB from an export's raw records.

The office raises anomalies from what it stored: per record at ingest
(issuer.redemption_checks) and daily for patterns (issuer.anomalies).  An
auditor does not take its word for them.  ``anomalies`` reads the export's
redemptions and partners (Parquet or CSV, ``kia-audit-export/1``) and
recomputes every indicator in SQL with the office's own thresholds
(keys.audit_thresholds), over every accepted record: the office's ``held`` and
``flagged`` verdicts are ignored, unless the auditor leaves the held records
out to compare with the office's own pass.  Kinds, in the order reported:

- ``volume_spike``: a terminal's accepted scans on a local day are at least
  ``SPIKE_MIN`` and more than ``SPIKE_FACTOR`` times the median of its previous
  ``HISTORY_DAYS`` days with scans (history from ``HISTORY_DAYS`` calendar days
  before the period on);
- ``cards_seen_nowhere_else``: of at least ``LONER_MIN_CARDS`` cards a terminal
  accepted in the period, ``LONER_SHARE`` or more were accepted at no other
  partner, while at other partners' terminals the median share is at most
  ``LONER_SHARE - LONER_MARGIN`` (one finding per terminal for the period: no day);
- ``closing_burst``: on a day a terminal was in use for more than
  ``BURST_MIN_SPAN`` seconds, at least ``BURST_MIN`` of its accepted scans, and
  ``BURST_SHARE`` of them, came in the ``BURST_WINDOW`` seconds before its last;
- ``daily_limit``: a card accepted more than ``daily_limit`` times for one
  service at one partner (any of its terminals) on the partner's local day.  The
  export does not carry the partners' rules, so the limit is the auditor's
  (default 1: every second use of a day is listed, as evidence to weigh);
- ``impossible_travel``: two consecutive accepted uses of a card at located
  partners more than ``TRAVEL_KM`` apart, faster than ``TRAVEL_KMH``
  (great-circle distance); reported at the later use;
- ``many_partners``: a card accepted at more than ``MAX_PARTNERS_PER_HOUR``
  partners within an hour either side of one of its uses; one finding per card
  and day, at the latest such use.

The per-record kinds look at the records up to ``MARGIN_DAYS`` beyond the
period, so a use on its first day is compared with the one before it.

The pass reads the export twice (its terminals, then the records with a small
number for each terminal) and sorts the records once: one window over each
card's uses in time order finds the travel pairs and the few cards that could
break a daily limit or meet many partners (uses that close together), and only
those cards are examined in full; no join pairs every record with every other.
bench/bench_audit_anomalies.py times it on 10 million records.  DuckDB is
imported when the pass runs: a terminal-only install of ``kia`` lacks it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keys.audit_thresholds import (
    BURST_MIN,
    BURST_MIN_SPAN,
    BURST_SHARE,
    BURST_WINDOW,
    EARTH_RADIUS_KM,
    HISTORY_DAYS,
    LONER_MARGIN,
    LONER_MIN_CARDS,
    LONER_SHARE,
    MAX_PARTNERS_PER_HOUR,
    SPIKE_FACTOR,
    SPIKE_MIN,
    TRAVEL_KM,
    TRAVEL_KMH,
)
from kia.audit_export_format import DuckDBMissing, MalformedExport, Manifest, read_manifest

if TYPE_CHECKING:
    import duckdb

KINDS = ("volume_spike", "cards_seen_nowhere_else", "closing_burst", "daily_limit", "impossible_travel",
         "many_partners")
MARGIN_DAYS = 2
HOUR, DAY = 3600, 86400
# No two places on Earth are further apart than half its circumference: uses further apart in time
# than this can never be too fast to travel between.
_LONGEST_TRIP = math.ceil(math.pi * EARTH_RADIUS_KM / TRAVEL_KMH * HOUR)
_LAST_DAY = 99991231

# The columns the pass reads, typed as the export format writes them; all but these few must hold a value.
REDEMPTION_COLUMNS = {"terminal_id": "VARCHAR", "partner_id": "BIGINT", "seq": "BIGINT", "at": "BIGINT",
                      "day": "INTEGER", "serial": "VARCHAR", "accepted": "BOOLEAN", "service": "VARCHAR",
                      "held": "BOOLEAN"}
PARTNER_COLUMNS = {"partner_id": "BIGINT", "latitude": "DOUBLE", "longitude": "DOUBLE"}
_NULLABLE = frozenset({"serial", "latitude", "longitude"})


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """One finding: where, which card (for the per-card kinds), which day, and its evidence."""

    kind: str
    partner_id: int
    terminal_id: str | None
    serial: str | None
    day: int | None  # the partner-local day, YYYYMMDD; None for a finding over the whole period
    evidence: str
    figures: Mapping[str, int | float] = dataclasses.field(default_factory=dict, compare=False)


@dataclasses.dataclass(frozen=True)
class _Loaded:
    first: int  # the period's first local day, YYYYMMDD
    last: int  # and its last, inclusive
    terminals: Mapping[int, str]  # the pass's number for each terminal -> its id


def anomalies(export_dir: Path, start: dt.date | None = None, end: dt.date | None = None, *,
              daily_limit: int = 1, include_held: bool = True) -> list[Anomaly]:
    """The anomalies of the export's records on local days ``start`` to ``end`` (default: all it holds).

    ``include_held=False`` leaves out the records the office holds, as the office's own
    statistical pass does.  The export is read as it is: ``kia audit verify`` checks its
    files and chains.  Raises MalformedExport for a directory that is not a readable export
    (no manifest, another format, a missing file or column, a value missing or of the wrong type).
    """
    if daily_limit < 1:
        raise ValueError("the daily limit must be at least 1")
    if start is not None and end is not None and start > end:
        raise ValueError("the period starts after it ends")
    try:
        import duckdb
    except ModuleNotFoundError:
        raise DuckDBMissing() from None

    # The pass sorts its own output: rows need not keep the file's order, which lets DuckDB load in parallel.
    with duckdb.connect(":memory:", config={"preserve_insertion_order": False}) as con:
        loaded = _load(con, export_dir, start, end, include_held)
        if loaded is None:
            return []
        try:
            found = (_volume_spikes(con, loaded) + _cards_seen_nowhere_else(con, loaded)
                     + _closing_bursts(con, loaded) + _per_card(con, loaded, daily_limit))
        except duckdb.Error as error:
            raise MalformedExport(f"{export_dir}: the records cannot be analysed: {_first_line(error)}") from None
    return sorted(found, key=lambda found: (KINDS.index(found.kind), found.day or 0, found.partner_id,
                                            found.terminal_id or "", found.serial or ""))


def count_by_kind(found: Sequence[Anomaly]) -> dict[str, int]:
    """How many anomalies of each kind, every kind named (zero included)."""
    return {kind: sum(1 for anomaly in found if anomaly.kind == kind) for kind in KINDS}


def as_json(found: Sequence[Anomaly]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(anomaly) | {"figures": dict(anomaly.figures)} for anomaly in found]


# --- reading the export -------------------------------------------------------------------------


def _source(con: duckdb.DuckDBPyConnection, export_dir: Path, manifest: Manifest, table: str,
            columns: Mapping[str, str]) -> tuple[str, dict[str, Any], str]:
    """A query reading the export's ``table`` (Parquet where the manifest lists it, else CSV) with
    ``columns`` typed, its parameters, and the file's name."""
    names = manifest.tables(table)
    name = next((name for name in names if name.endswith(".parquet")), names[0])
    path = export_dir / name
    if not path.is_file():
        raise MalformedExport(f"{name} is listed in the manifest but missing")
    parameters: dict[str, Any] = {"path": str(path)}
    if name.endswith(".parquet"):
        import duckdb

        reader = "read_parquet($path)"
        try:
            found = [str(row[0]) for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                                        [str(path)]).fetchall()]
        except duckdb.Error as error:
            raise MalformedExport(f"{name} cannot be read as Parquet: {_first_line(error)}") from None
    else:
        # Every field as text, as the format writes it (RFC 4180, empty for null), then cast:
        # no type guessed from a sample.
        found = _csv_header(path)
        parameters["columns"] = dict.fromkeys(found, "VARCHAR")
        reader = ("read_csv($path, header = true, auto_detect = false, columns = $columns, delim = ',', "
                  "quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = false, strict_mode = true)")
    missing = [column for column in columns if column not in found]
    if missing:
        raise MalformedExport(f"{name} lacks the column(s) {', '.join(missing)}")
    typed = ", ".join(f'CAST("{column}" AS {kind}) AS "{column}"' for column, kind in columns.items())
    return f"SELECT {typed} FROM {reader}", parameters, name  # noqa: S608 (the format's own column names)


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error):
        raise MalformedExport(f"{path.name} does not start with a CSV header row") from None
    if len(set(header)) != len(header):
        raise MalformedExport(f"{path.name} names a column twice in its header")
    return header


def _load(con: duckdb.DuckDBPyConnection, export_dir: Path, start: dt.date | None, end: dt.date | None,
          include_held: bool) -> _Loaded | None:
    """Load the accepted records of the period and its margins (table ``uses``, each terminal as a
    number from table ``terminals``) and the located partners (table ``places``); None when the
    period has no record."""
    import duckdb

    manifest = read_manifest(export_dir)
    redemptions, read_redemptions, redemptions_file = _source(con, export_dir, manifest, "redemptions",
                                                              REDEMPTION_COLUMNS)
    partners, read_partners, partners_file = _source(con, export_dir, manifest, "partners", PARTNER_COLUMNS)
    lo = _day(start - dt.timedelta(days=max(HISTORY_DAYS, MARGIN_DAYS))) if start else 1  # day 0: beyond the calendar
    hi = _day(end + dt.timedelta(days=MARGIN_DAYS)) if end else _LAST_DAY
    required = " OR ".join(f'"{column}" IS NULL' for column in REDEMPTION_COLUMNS if column not in _NULLABLE)
    # A record without a value it must have is refused, not skipped, wherever it is in the file.
    kept = (f"CASE WHEN {required} THEN error('a record lacks one of its values') "
            "ELSE accepted AND day BETWEEN $lo AND $hi" + ("" if include_held else " AND NOT held") + " END")
    parameters = read_redemptions | {"lo": lo, "hi": hi}
    try:
        # Terminals numbered in the order of their ids: small keys to group and sort by, same order.
        con.execute(f"""
            CREATE TEMP TABLE terminals AS
            SELECT CAST(row_number() OVER (ORDER BY terminal_id, partner_id) AS INTEGER) AS tid,
                   terminal_id, partner_id
            FROM (SELECT DISTINCT terminal_id, partner_id FROM ({redemptions}) WHERE {kept})
        """, parameters)  # noqa: S608 (the format's own column names)
        con.execute(f"""
            CREATE TEMP TABLE uses AS
            SELECT tid, partner_id, seq, "at", day, serial, service
            FROM ({redemptions}) JOIN terminals USING (terminal_id, partner_id) WHERE {kept}
        """, parameters)  # noqa: S608 (the format's own column names)
    except duckdb.Error as error:
        raise MalformedExport(f"{redemptions_file} cannot be read: {_first_line(error)}") from None
    try:
        con.execute(f"CREATE TEMP TABLE places AS SELECT * FROM ({partners})", read_partners)  # noqa: S608 (columns)
        twice = con.execute("SELECT partner_id FROM places GROUP BY partner_id HAVING count(*) > 1 "
                            "ORDER BY partner_id LIMIT 1").fetchone()
    except duckdb.Error as error:
        raise MalformedExport(f"{partners_file} cannot be read: {_first_line(error)}") from None
    if twice is not None:
        raise MalformedExport(f"{partners_file} lists partner {twice[0]} more than once")
    con.execute("DELETE FROM places WHERE latitude IS NULL OR longitude IS NULL")
    first, last = (_day(start) if start else None), (_day(end) if end else None)
    row = con.execute("SELECT min(day), max(day) FROM uses WHERE day BETWEEN ? AND ?",
                      [first or 1, last or _LAST_DAY]).fetchone()
    if row is None or row[0] is None:
        return None
    names = dict(con.execute("SELECT tid, terminal_id FROM terminals").fetchall())
    return _Loaded(first or row[0], last or row[1], names)


def _day(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


# --- the statistical kinds, per terminal and day ------------------------------------------------


def _volume_spikes(con: duckdb.DuckDBPyConnection, loaded: _Loaded) -> list[Anomaly]:
    con.execute('CREATE TEMP TABLE daily AS SELECT tid, partner_id, day, count(*) AS scans, min("at") AS opened, '
                'max("at") AS closed FROM uses WHERE day <= ? GROUP BY tid, partner_id, day', [loaded.last])
    rows = con.execute("""
        SELECT tid, partner_id, day, scans, usual, history FROM (
            SELECT *, median(scans) OVER history AS usual, count(*) OVER history AS history FROM daily
            WINDOW history AS (PARTITION BY tid, partner_id ORDER BY day
                               ROWS BETWEEN $days PRECEDING AND 1 PRECEDING))
        WHERE day >= $first AND history > 0 AND scans >= $min AND scans > $factor * usual
    """, {"days": HISTORY_DAYS, "first": loaded.first, "min": SPIKE_MIN, "factor": SPIKE_FACTOR}).fetchall()
    return [Anomaly("volume_spike", partner_id, loaded.terminals[tid], None, day,
                    f"{scans} accepted scans on {day}, against a median of {usual:g} "
                    f"over its previous {history} days with scans",
                    {"scans": scans, "median": usual, "history_days": history})
            for tid, partner_id, day, scans, usual, history in rows]


def _cards_seen_nowhere_else(con: duckdb.DuckDBPyConnection, loaded: _Loaded) -> list[Anomaly]:
    # A card seen at one partner only, and at one of its terminals only (most such cards), counts for
    # that terminal without pairing every card with every terminal again; only the others are paired.
    rows = con.execute("""
        WITH period AS (SELECT tid, partner_id, serial FROM uses
                        WHERE serial IS NOT NULL AND day BETWEEN $first AND $last),
        cards AS (
            SELECT serial, min(partner_id) = max(partner_id) AS alone, min(tid) AS tid, min(tid) = max(tid) AS one
            FROM period GROUP BY serial),
        seen AS (SELECT tid, serial FROM period GROUP BY tid, serial),
        totals AS (SELECT tid, count(*) AS cards FROM seen GROUP BY tid HAVING count(*) >= $min_cards),
        alone AS (
            SELECT tid, count(*) AS alone FROM cards WHERE alone AND one GROUP BY tid
            UNION ALL
            SELECT tid, count(*) FROM seen WHERE serial IN (SELECT serial FROM cards WHERE alone AND NOT one)
            GROUP BY tid),
        shares AS MATERIALIZED (  -- read twice below: computed once
            SELECT tid, terminals.partner_id, cards, coalesce(sum(alone.alone), 0) AS alone,
                   coalesce(sum(alone.alone), 0) / cards AS share
            FROM totals JOIN terminals USING (tid) LEFT JOIN alone USING (tid)
            GROUP BY tid, terminals.partner_id, cards),
        compared AS (
            SELECT *, (SELECT median(other.share) FROM shares other WHERE other.partner_id <> shares.partner_id)
                      AS elsewhere
            FROM shares)
        SELECT tid, partner_id, alone, cards, elsewhere FROM compared
        WHERE share >= $share AND elsewhere <= $ceiling
    """, {"first": loaded.first, "last": loaded.last, "min_cards": LONER_MIN_CARDS, "share": LONER_SHARE,
          "ceiling": LONER_SHARE - LONER_MARGIN}).fetchall()
    return [Anomaly("cards_seen_nowhere_else", partner_id, loaded.terminals[tid], None, None,
                    f"{alone} of its {cards} cards were accepted at no other partner "
                    f"({loaded.first}..{loaded.last}); elsewhere the median share is {elsewhere:.0%}",
                    {"cards_alone": int(alone), "cards": cards, "median_share_elsewhere": elsewhere})
            for tid, partner_id, alone, cards, elsewhere in rows]


def _closing_bursts(con: duckdb.DuckDBPyConnection, loaded: _Loaded) -> list[Anomaly]:
    # Only the scans of the last BURST_WINDOW of a busy, long day are joined back: a few per day.
    rows = con.execute("""
        SELECT daily.tid, daily.partner_id, daily.day, daily.scans, count(*) AS late
        FROM daily JOIN uses ON uses.tid = daily.tid AND uses.day = daily.day AND uses.at > daily.closed - $window
        WHERE daily.day BETWEEN $first AND $last AND daily.scans >= $min AND daily.closed - daily.opened > $span
        GROUP BY daily.tid, daily.partner_id, daily.day, daily.scans HAVING count(*) >= $share * daily.scans
    """, {"window": BURST_WINDOW, "first": loaded.first, "last": loaded.last, "min": BURST_MIN,
          "span": BURST_MIN_SPAN, "share": BURST_SHARE}).fetchall()
    return [Anomaly("closing_burst", partner_id, loaded.terminals[tid], None, day,
                    f"{late} of {scans} accepted scans on {day} came in the "
                    f"{BURST_WINDOW // 60} minutes before its last scan",
                    {"late_scans": late, "scans": scans})
            for tid, partner_id, day, scans, late in rows]


# --- the per-card kinds, from each card's uses in time order ------------------------------------


def _per_card(con: duckdb.DuckDBPyConnection, loaded: _Loaded, daily_limit: int) -> list[Anomaly]:
    # One pass over each card's uses in time order keeps: the steps between two partners close
    # enough in time to be too fast, and the uses that close the (limit + 1)-th use within a day or
    # MAX_PARTNERS_PER_HOUR + 1 uses within two hours (the only cards those kinds can concern).
    # Uses of a card at one terminal in one second are in no set order here, and need none: they
    # share their time, terminal and partner (the travel evidence names the last by seq).
    con.execute("""
        CREATE TEMP TABLE steps AS
        SELECT * FROM (
            SELECT serial, "at", partner_id, tid, day,
                   lag(partner_id) OVER card AS prev_partner, lag("at") OVER card AS prev_at,
                   lag(tid) OVER card AS prev_tid,
                   "at" - lag("at", $limit) OVER card AS limit_span,
                   "at" - lag("at", $crowd) OVER card AS crowd_span
            FROM uses WHERE serial IS NOT NULL
            WINDOW card AS (PARTITION BY serial ORDER BY "at", tid))
        WHERE (prev_partner <> partner_id AND "at" - prev_at <= $longest)
           OR limit_span < $day OR crowd_span <= $two_hours
    """, {"limit": daily_limit, "crowd": MAX_PARTNERS_PER_HOUR, "longest": _LONGEST_TRIP, "day": DAY,
          "two_hours": 2 * HOUR})
    return (_daily_limits(con, loaded, daily_limit) + _impossible_travel(con, loaded)
            + _many_partners(con, loaded))


def _daily_limits(con: duckdb.DuckDBPyConnection, loaded: _Loaded, daily_limit: int) -> list[Anomaly]:
    rows = con.execute("""
        SELECT partner_id, serial, service, day, count(*) AS uses,
               list(tid ORDER BY "at", tid, seq) AS tids, list(seq ORDER BY "at", tid, seq) AS seqs
        FROM uses
        WHERE serial IN (SELECT serial FROM steps WHERE limit_span < $day) AND day BETWEEN $first AND $last
        GROUP BY partner_id, serial, service, day HAVING count(*) > $limit
    """, {"day": DAY, "first": loaded.first, "last": loaded.last, "limit": daily_limit}).fetchall()
    return [Anomaly("daily_limit", partner_id, loaded.terminals[tids[daily_limit]], serial, day,
                    f"accepted {uses} times for {service[:32]} on {day} (limit {daily_limit}): "
                    + _where(loaded, tids, seqs),
                    {"uses": uses, "limit": daily_limit})
            for partner_id, serial, service, day, uses, tids, seqs in rows]


def _impossible_travel(con: duckdb.DuckDBPyConnection, loaded: _Loaded) -> list[Anomaly]:
    rows = con.execute("""
        WITH travel AS (
            SELECT * FROM (
                SELECT steps.*, greatest("at" - prev_at, 1) AS seconds,
                       2 * $radius * asin(sqrt(
                           pow(sin(radians(there.latitude - here.latitude) / 2), 2)
                           + cos(radians(here.latitude)) * cos(radians(there.latitude))
                             * pow(sin(radians(there.longitude - here.longitude) / 2), 2))) AS km
                FROM steps JOIN places here ON here.partner_id = steps.prev_partner
                           JOIN places there ON there.partner_id = steps.partner_id
                WHERE prev_partner <> steps.partner_id AND day BETWEEN $first AND $last)
            WHERE km > $km AND km / (seconds / $hour) > $kmh)
        SELECT travel.partner_id, travel.tid, travel.serial, travel.day, prev_partner, prev_tid, max(uses.seq),
               km, seconds
        FROM travel JOIN uses ON uses.serial = travel.serial AND uses.tid = prev_tid AND uses.at = prev_at
        GROUP BY ALL
    """, {"radius": EARTH_RADIUS_KM, "first": loaded.first, "last": loaded.last, "km": TRAVEL_KM, "kmh": TRAVEL_KMH,
          "hour": HOUR}).fetchall()
    return [Anomaly("impossible_travel", partner_id, loaded.terminals[tid], serial, day,
                    f"{km:.0f} km in {seconds / 60:.0f} min from partner {prev_partner} "
                    f"({_where(loaded, [prev_tid], [prev_seq])})",
                    {"km": round(km, 1), "seconds": seconds, "from_partner": prev_partner})
            for partner_id, tid, serial, day, prev_partner, prev_tid, prev_seq, km, seconds in rows]


def _many_partners(con: duckdb.DuckDBPyConnection, loaded: _Loaded) -> list[Anomaly]:
    # The exact count, for the few cards with that many uses within two hours: each use and the
    # uses an hour either side of it (the office's rule); the latest such use of a card's day.
    rows = con.execute("""
        WITH crowded AS (
            SELECT serial, "at", partner_id, tid, seq, day FROM uses
            WHERE serial IN (SELECT serial FROM steps WHERE crowd_span <= $two_hours)),
        around AS (
            SELECT one.serial, one.at, one.partner_id, one.tid, one.day,
                   count(DISTINCT other.partner_id) AS partners,
                   list(DISTINCT other.partner_id ORDER BY other.partner_id) AS partner_ids,
                   list(other.tid ORDER BY other.at, other.tid, other.seq) AS tids,
                   list(other.seq ORDER BY other.at, other.tid, other.seq) AS seqs
            FROM crowded one JOIN crowded other
              ON other.serial = one.serial AND other.at BETWEEN one.at - $hour AND one.at + $hour
            WHERE one.day BETWEEN $first AND $last
            GROUP BY one.serial, one.at, one.partner_id, one.tid, one.seq, one.day
            HAVING count(DISTINCT other.partner_id) > $most)
        SELECT partner_id, tid, serial, day, partners, partner_ids, tids, seqs FROM around
        QUALIFY row_number() OVER (PARTITION BY serial, day ORDER BY "at" DESC, tid DESC) = 1
    """, {"two_hours": 2 * HOUR, "hour": HOUR, "first": loaded.first, "last": loaded.last,
          "most": MAX_PARTNERS_PER_HOUR}).fetchall()
    return [Anomaly("many_partners", partner_id, loaded.terminals[tid], serial, day,
                    f"{partners} partners within an hour on {day} ({', '.join(map(str, partner_ids))}): "
                    + _where(loaded, tids, seqs),
                    {"partners": partners})
            for partner_id, tid, serial, day, partners, partner_ids, tids, seqs in rows]


def _where(loaded: _Loaded, tids: Sequence[int], seqs: Sequence[int]) -> str:
    """Records as TERMINAL#SEQ, the first five of them."""
    listed = ", ".join(f"{loaded.terminals[tid]}#{seq}" for tid, seq in zip(tids[:5], seqs[:5], strict=True))
    return listed + (f" and {len(tids) - 5} more" if len(tids) > 5 else "")
