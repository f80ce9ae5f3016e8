"""The audit export ``kia-audit-export/1``: its files, and how both sides write and read them.

An export is a directory (a zip on the wire) for one period of partner-local
days and optionally one partner: ``manifest.json`` (the period and the
SHA-256 of every other file), five tables (``redemptions``, ``checkpoints``,
``terminals``, ``partners``, ``findings``) as CSV, Parquet or both, and
``figures.json``, the office's own revenue figures.  docs/audit.md
("Export format") specifies every file and column for auditors who write
their own verifier.

The office writes each table as CSV with the csv module and converts it with
DuckDB; the auditor reads either with ``read_table``, which gives the same
typed rows for both, and compares them row by row when both are there.  A
file that is not exactly of the documented form raises ``MalformedExport``:
an export is never half read.  This module needs no Flask and no database;
DuckDB (the ``audit`` extra) only for Parquet.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import math
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from keys.errors import KiaError

FORMAT = "kia-audit-export/2"
# Exports of version 1, from before records named a foreign card's home region, are still read.
READ_FORMATS = ("kia-audit-export/1", FORMAT)
MANIFEST = "manifest.json"
FIGURES = "figures.json"
FORMATS = ("csv", "parquet")
ZERO_HASH = "0" * 64  # the chain's hash_0, in hex: prev_hash of a terminal's record 1
_HEX_HASH = re.compile(r"[0-9a-f]{64}")
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_READ_CHUNK = 1 << 20
_FETCH_ROWS = 10_000


class ExportError(KiaError):
    """An audit export cannot be made, fetched or checked."""

    exit_code = 1


class MalformedExport(ExportError):
    """The export is not of the documented form (a file missing, changed, truncated, a bad column)."""

    exit_code = 2


class DuckDBMissing(ExportError):
    """Parquet needs DuckDB, which is not installed."""

    exit_code = 2

    def __init__(self) -> None:
        super().__init__("Parquet files need DuckDB: pip install 'kia-verification[audit]' (or use CSV)")


# --- the tables -------------------------------------------------------------

Kind = Literal["text", "int", "bool", "float"]
_DUCKDB_TYPES: dict[Kind, str] = {"text": "VARCHAR", "int": "BIGINT", "bool": "BOOLEAN", "float": "DOUBLE"}
_DUCKDB_READS: dict[Kind, frozenset[str]] = {
    "text": frozenset({"VARCHAR"}),
    "int": frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}),
    "bool": frozenset({"BOOLEAN"}),
    "float": frozenset({"DOUBLE", "FLOAT"}),
}


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False
    duckdb_type: str = ""  # written as this DuckDB type; the kind's default when empty

    @property
    def written_as(self) -> str:
        return self.duckdb_type or _DUCKDB_TYPES[self.kind]


def _columns(*spec: str) -> tuple[Column, ...]:
    """Columns from ``name:kind`` words; ``?`` after the kind makes it nullable, ``/TYPE`` its DuckDB type."""
    columns = []
    for word in spec:
        name, _, kind = word.partition(":")
        kind, _, duckdb_type = kind.partition("/")
        nullable = kind.endswith("?")
        columns.append(Column(name, kind.rstrip("?"), nullable, duckdb_type))  # type: ignore[arg-type]
    return tuple(columns)


TABLES: dict[str, tuple[Column, ...]] = {
    "redemptions": _columns(
        "terminal_id:text", "partner_id:int", "seq:int", "at:int", "day:int/INTEGER", "serial:text?",
        "accepted:bool", "reason:text", "service:text", "category:text?", "price:int", "discount:int", "paid:int",
        "flags:text", "prev_hash:text?", "hash:text", "received_at:int", "held:bool", "flagged:bool",
        "home:int?/SMALLINT",
    ),
    "checkpoints": _columns("terminal_id:text", "seq:int", "hash:text", "jws:text", "received_at:int"),
    "terminals": _columns("terminal_id:text", "partner_id:int", "state:text", "enrolled_at:int?",
                          "public_jwk:text?"),
    "partners": _columns("partner_id:int", "name:text", "kind:text", "cluster:text", "region:int",
                         "latitude:float?", "longitude:float?"),
    "findings": _columns("terminal_id:text", "seq:int", "partner_id:int", "check:text", "evidence:text",
                         "found_at:int", "state:text", "decided_by:text?", "decided_at:int?", "decision:text?"),
}

# Version 1 had no ``home``: its records are read with home None, as they were chained.
_V1_TABLES = TABLES | {"redemptions": tuple(column for column in TABLES["redemptions"] if column.name != "home")}

Row = dict[str, Any]
# The office's figures per partner-local day (issuer/reports.py): all but unique_cards add up over days.
FIGURE_FIELDS = ("scans", "accepted", "unique_cards", "gross", "discount", "net", "held", "flagged")


def file_name(table: str, fmt: str) -> str:
    return f"{table}.{fmt}"


# --- writing (the office) ---------------------------------------------------------


def _csv_value(column: Column, value: Any) -> str:
    if value is None:
        if not column.nullable:
            raise ValueError(f"{column.name} is not nullable")
        return ""
    if column.kind == "bool":
        return "true" if value else "false"
    if column.kind == "float":
        return repr(float(value))
    return str(value)


class TableWriter:
    """Rows of one table written as RFC 4180 CSV (UTF-8, CRLF, header row), in the order given."""

    def __init__(self, path: Path, table: str) -> None:
        self.path, self.columns, self.rows = path, TABLES[table], 0
        self._file = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file, lineterminator="\r\n")
        self._writer.writerow([column.name for column in self.columns])

    def write(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow([_csv_value(column, row[column.name]) for column in self.columns])
        self.rows += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _duckdb() -> Any:
    try:
        import duckdb
    except ModuleNotFoundError:
        raise DuckDBMissing() from None
    return duckdb


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def csv_to_parquet(csv_path: Path, parquet_path: Path, table: str) -> None:
    """Convert a table written by ``TableWriter`` to Parquet with DuckDB, with the documented types."""
    columns = TABLES[table]
    types = "{" + ", ".join(f"{_sql_text(column.name)}: {_sql_text(column.written_as)}" for column in columns) + "}"
    # A text column that is not nullable holds '' where CSV has an empty field.
    selected = ", ".join(f'"{column.name}"' if column.nullable or column.kind != "text"
                         else f"coalesce(\"{column.name}\", '') AS \"{column.name}\"" for column in columns)
    options = ("header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', nullstr = '', "
               "allow_quoted_nulls = false, strict_mode = true")
    source = f"read_csv({_sql_text(str(csv_path))}, columns = {types}, {options})"
    # Column names and types are this module's own; the paths are quoted (COPY ... TO takes no parameter).
    statement = f"COPY (SELECT {selected} FROM {source}) TO {_sql_text(str(parquet_path))} (FORMAT parquet)"  # noqa: S608
    duckdb = _duckdb()
    with duckdb.connect() as connection:
        connection.execute(statement)


@dataclasses.dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int
    rows: int | None = None  # for a table: its number of rows, header not counted


@dataclasses.dataclass(frozen=True)
class Manifest:
    start: str  # YYYY-MM-DD, the first partner-local day
    end: str  # YYYY-MM-DD, the last, inclusive
    partner: int | None
    exported_at: str  # ISO 8601 UTC
    root_kid: str
    files: dict[str, FileEntry]
    format: str = FORMAT

    def columns(self, table: str) -> tuple[Column, ...]:
        """The columns of ``table`` in this export's format version."""
        return (_V1_TABLES if self.format == READ_FORMATS[0] else TABLES)[table]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format, "from": self.start, "to": self.end, "partner": self.partner,
            "exported_at": self.exported_at, "root_kid": self.root_kid,
            "files": {name: {key: value for key, value in dataclasses.asdict(entry).items() if value is not None}
                      for name, entry in sorted(self.files.items())},
        }

    def tables(self, table: str) -> list[str]:
        """The files that hold ``table``, CSV first."""
        return [file_name(table, fmt) for fmt in FORMATS if file_name(table, fmt) in self.files]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: Manifest) -> None:
    (directory / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")


def entry_for(path: Path, rows: int | None = None) -> FileEntry:
    return FileEntry(sha256_file(path), path.stat().st_size, rows)


# --- reading (the auditor) ------------------------------------------------------------


def _safe_name(name: object) -> str:
    """A file name of the manifest: a relative POSIX path inside the export, never outside it."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise MalformedExport(f"{MANIFEST} lists a file name that is not a relative path: {name!r:.80}")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")) or name == MANIFEST:
        raise MalformedExport(f"{MANIFEST} lists a file outside the export or itself: {name!r:.80}")
    return name


def _entry(name: str, value: object) -> FileEntry:
    if not isinstance(value, dict) or not {"sha256", "bytes"} <= set(value):
        raise MalformedExport(f"{MANIFEST}: the entry of {name} needs sha256 and bytes")
    digest, size, rows = value["sha256"], value["bytes"], value.get("rows")
    if not isinstance(digest, str) or not _HEX_HASH.fullmatch(digest):
        raise MalformedExport(f"{MANIFEST}: the sha256 of {name} is not 64 lowercase hex digits")
    if not _is_count(size) or (rows is not None and not _is_count(rows)):
        raise MalformedExport(f"{MANIFEST}: bytes and rows of {name} are whole numbers from 0")
    return FileEntry(digest, size, rows)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_manifest(directory: Path) -> Manifest:
    """The manifest of the export in ``directory``, of this format and complete; raises MalformedExport."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise MalformedExport(f"{directory} is not a directory holding an audit export")
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise MalformedExport(f"{directory} holds no {MANIFEST}: it is not an audit export") from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedExport(f"{MANIFEST} is not JSON") from None
    if not isinstance(document, dict) or document.get("format") not in READ_FORMATS:
        raise MalformedExport(f"{MANIFEST} is not of the format {FORMAT} (or {READ_FORMATS[0]})")
    for key in ("from", "to", "exported_at", "root_kid"):
        if not isinstance(document.get(key), str):
            raise MalformedExport(f"{MANIFEST}: {key} must be text")
    partner = document.get("partner")
    if partner is not None and not (_is_count(partner) and partner > 0):
        raise MalformedExport(f"{MANIFEST}: partner must be null or a partner id")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", document["from"]) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}",
                                                                                       document["to"]):
        raise MalformedExport(f"{MANIFEST}: from and to are dates YYYY-MM-DD")
    files = document.get("files")
    if not isinstance(files, dict):
        raise MalformedExport(f"{MANIFEST}: files must map each file name to its sha256 and bytes")
    manifest = Manifest(document["from"], document["to"], partner, document["exported_at"], document["root_kid"],
                        {_safe_name(name): _entry(name, value) for name, value in files.items()}, document["format"])
    missing = [table for table in TABLES if not manifest.tables(table)]
    if FIGURES not in manifest.files or missing:
        lacking = [FIGURES] * (FIGURES not in manifest.files) + [f"{table}.csv|parquet" for table in missing]
        raise MalformedExport(f"{MANIFEST} lists no {', '.join(lacking)}")
    return manifest


def check_files(directory: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there, of its size and SHA-256; raises MalformedExport."""
    for name, entry in sorted(manifest.files.items()):
        path = directory / name
        if not path.is_file():
            raise MalformedExport(f"{name} is listed in {MANIFEST} but missing")
        if path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
            raise MalformedExport(f"{name} is not the file the manifest lists (size or SHA-256 differ): "
                                  "changed or truncated")


def open_export(directory: Path) -> Manifest:
    """The manifest of a complete, unchanged export (every listed file checked)."""
    manifest = read_manifest(directory)
    check_files(directory, manifest)
    return manifest


def _csv_rows(path: Path, columns: tuple[Column, ...]) -> Iterator[Row]:
    name = path.name
    with path.open("rb") as raw:
        raw.seek(0, 2)
        if raw.tell() >= 2:
            raw.seek(-2, 2)
            if raw.read(2) != b"\r\n":
                raise MalformedExport(f"{name} does not end with a line break: truncated")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            expected = [column.name for column in columns]
            if header != expected:
                raise MalformedExport(f"{name}: the header must be {','.join(expected)}")
            for line, fields in enumerate(reader, start=2):
                if len(fields) != len(columns):
                    raise MalformedExport(f"{name} row {line}: {len(fields)} fields instead of {len(columns)}")
                yield {column.name: _from_csv(column, text, name, line) for column, text in zip(columns, fields,
                                                                                                 strict=True)}
        except csv.Error as exc:
            raise MalformedExport(f"{name}: not RFC 4180 CSV ({exc})") from None
        except UnicodeDecodeError:
            raise MalformedExport(f"{name} is not UTF-8") from None


def _from_csv(column: Column, text: str, name: str, line: int) -> Any:
    if text == "":
        if column.nullable:
            return None
        if column.kind == "text":
            return ""
        raise MalformedExport(f"{name} row {line}: {column.name} is empty")
    if column.kind == "text":
        return text
    if column.kind == "int":
        if not _INTEGER.fullmatch(text):
            raise MalformedExport(f"{name} row {line}: {column.name} is not a whole number")
        return int(text)
    if column.kind == "bool":
        if text not in ("true", "false"):
            raise MalformedExport(f"{name} row {line}: {column.name} is not true or false")
        return text == "true"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise MalformedExport(f"{name} row {line}: {column.name} is not a number")
    return value


def _parquet_rows(path: Path, columns: tuple[Column, ...]) -> Iterator[Row]:
    duckdb = _duckdb()
    name = path.name
    with duckdb.connect() as connection:
        try:
            described = connection.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
            found = [(str(row[0]), str(row[1])) for row in described]
            expected = [column.name for column in columns]
            if [column for column, _ in found] != expected:
                raise MalformedExport(f"{name}: the columns must be {','.join(expected)}")
            for column, (_, type_name) in zip(columns, found, strict=True):
                if type_name not in _DUCKDB_READS[column.kind]:
                    raise MalformedExport(f"{name}: {column.name} is {type_name}, not {column.kind}")
            result = connection.execute("SELECT * FROM read_parquet(?)", [str(path)])
            line = 0
            while batch := result.fetchmany(_FETCH_ROWS):
                for values in batch:
                    line += 1
                    row = dict(zip(expected, values, strict=True))
                    for column in columns:
                        if row[column.name] is None and not column.nullable:
                            raise MalformedExport(f"{name} row {line}: {column.name} is null")
                    yield row
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MalformedExport(f"{name} cannot be read as Parquet: {first[:200]}") from None


def _rows(path: Path, columns: tuple[Column, ...]) -> Iterator[Row]:
    return _csv_rows(path, columns) if path.suffix == ".csv" else _parquet_rows(path, columns)


def read_table(directory: Path, manifest: Manifest, table: str) -> Iterator[Row]:
    """The rows of ``table``, typed as documented, in file order.

    When the export holds the table in both formats, both are read and must
    hold the same rows; the manifest's row count must match.  Raises
    MalformedExport.
    """
    names = manifest.tables(table)
    count = 0
    columns = manifest.columns(table)
    for row in _same_rows([_rows(directory / name, columns) for name in names], names):
        count += 1
        yield row
    for name in names:
        expected = manifest.files[name].rows
        if expected is not None and expected != count:
            raise MalformedExport(f"{name} holds {count} rows, the manifest says {expected}")


def _same_rows(sources: Sequence[Iterator[Row]], names: Sequence[str]) -> Iterator[Row]:
    """The rows of one source, or of several that must hold the same rows."""
    if len(sources) == 1:
        yield from sources[0]
        return
    for line, rows in enumerate(itertools.zip_longest(*sources), start=1):
        if any(row is None or row != rows[0] for row in rows):
            raise MalformedExport(f"{' and '.join(names)} differ at row {line}")
        yield rows[0]


def read_figures(directory: Path) -> dict[str, Any]:
    """figures.json as written by the office; raises MalformedExport unless it has the documented shape."""
    try:
        figures = json.loads((directory / FIGURES).read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise MalformedExport(f"{FIGURES} is not JSON") from None
    if not isinstance(figures, dict) or not all(isinstance(figures.get(key), list) for key in ("partners",
                                                                                              "programme")):
        raise MalformedExport(f"{FIGURES} must hold the lists partners and programme")
    for key, names in (("partners", ("partner_id", "day", *FIGURE_FIELDS)), ("programme", ("day", *FIGURE_FIELDS))):
        for number, row in enumerate(figures[key], start=1):
            if not isinstance(row, dict) or not all(_is_count(row.get(name)) for name in names):
                raise MalformedExport(f"{FIGURES}: {key} row {number} needs the whole numbers {', '.join(names)}")
    return figures



# --- the zip on the wire -------------------------------------------------------------


def zip_export(directory: Path, target: Path) -> None:
    """The export in ``directory`` as one zip: the manifest and every file it lists, nothing else."""
    manifest = read_manifest(directory)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(directory / MANIFEST, MANIFEST)
        for name in sorted(manifest.files):
            archive.write(directory / name, name)


def unzip_export(source: Path | IO[bytes], directory: Path) -> Manifest:
    """Extract an export zip into ``directory`` (new or empty) and check it; raises MalformedExport.

    Only the manifest and the files it lists are extracted, each no larger
    than the manifest says: a zip cannot write outside the directory or fill
    the disk.
    """
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ExportError(f"{directory} exists and is not an empty directory; choose a new one")
    try:
        with zipfile.ZipFile(source) as archive:
            members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
            if MANIFEST not in members or members[MANIFEST].file_size > 1 << 20:
                raise MalformedExport(f"the zip holds no {MANIFEST} of a sensible size")
            directory.mkdir(parents=True, exist_ok=True)
            _extract(archive, members[MANIFEST], directory / MANIFEST, 1 << 20)
            manifest = read_manifest(directory)
            unlisted = sorted(set(members) - set(manifest.files) - {MANIFEST})
            if unlisted:
                raise MalformedExport(f"the zip holds files the manifest does not list: {', '.join(unlisted)[:200]}")
            for name, entry in manifest.files.items():
                if name not in members:
                    raise MalformedExport(f"{name} is listed in {MANIFEST} but missing")
                (directory / name).parent.mkdir(parents=True, exist_ok=True)
                _extract(archive, members[name], directory / name, entry.bytes)
    except (zipfile.BadZipFile, EOFError):
        raise MalformedExport("the download is not a complete zip file") from None
    check_files(directory, manifest)
    return manifest


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limit: int) -> None:
    written = 0
    with archive.open(info) as source, target.open("wb") as sink:
        while chunk := source.read(_READ_CHUNK):
            written += len(chunk)
            if written > limit:
                raise MalformedExport(f"{info.filename} is larger than the manifest says")
            sink.write(chunk)
