"""Children submitted for a card, one at the counter or many from a school CSV.

One validator serves both.  A bad row is reported by its line number, field
and an error code (``ROW_ERRORS``, in Bahasa Indonesia and English), never
by its content: error messages carry no child's data.

Files come as schools save them: comma or semicolon separated (Excel in an
Indonesian locale saves semicolons), UTF-8 with or without a byte order mark
or Windows-1252 (what Excel on Windows saves as "CSV"), birth dates as
YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY.  The
office keeps ``birth_date``, ``region`` and, when given, ``name``, ``nik`` and
``school`` with the card (issuer.storage.models.Child); the card token carries only
the birth month and region.  ``external_id`` is echoed, never stored, so a
school can match cards to pupils.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from keys import NotEligible, card_validity
from keys.eligibility import region_timezone
from keys.times import utc_datetime

from .errors import BatchFileError

REQUIRED_COLUMNS = ("birth_date", "region")
OPTIONAL_COLUMNS = ("name", "nik", "school", "external_id")
MAX_TEXT_LENGTH = 200
MAX_BATCH_ROWS = 200_000
_NIK = re.compile(r"[0-9]{16}")
# Starts with a letter or digit: a spreadsheet must never read it as a formula.
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
# Excel in an Indonesian locale saves CSV with semicolons.
_DELIMITERS = ",;\t"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY_FIRST_DATE = re.compile(r"([0-9]{1,2})([/-])([0-9]{1,2})\2([0-9]{4})")


@dataclasses.dataclass(frozen=True)
class ChildRequest:
    """A valid request: what the card needs, nothing more."""

    line: int
    birth_date: dt.date
    region: int
    external_id: str | None = None
    # Kept by the office with the card (never in the token): see issuer.storage.models.Child.
    name: str | None = None
    nik: str | None = None
    school: str | None = None


# code: (Bahasa Indonesia, English); ``{ref}`` is the other line or batch the error names.
ROW_ERRORS: dict[str, tuple[str, str]] = {
    "birth_date_format": ("tanggal lahir harus berupa tanggal TTTT-BB-HH, HH/BB/TTTT atau HH-BB-TTTT",
                          "birth_date must be a date as YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY"),
    "birth_date_future": ("tanggal lahir ada di masa depan", "the birth date is in the future"),
    "birth_date_adult": ("anak berusia 17 tahun atau lebih mendapat KTP, bukan KIA",
                         "a child of 17 or older gets a KTP, not a KIA"),
    "region_format": ("wilayah harus berupa kode kabupaten/kota 4 angka, mis. 3372",
                      "region must be a 4-digit regency/city code, e.g. 3372"),
    "region_unknown": ("wilayah bukan kode kabupaten/kota yang dikenal", "region is not a known regency/city code"),
    "nik_format": ("NIK harus 16 angka", "nik must be 16 digits"),
    "nik_birth_date": ("tanggal lahir di dalam NIK tidak sama dengan tanggal lahir",
                       "the birth date inside nik does not match birth_date"),
    "text_invalid": ("teks terlalu panjang atau memuat karakter kendali",
                     "the text is too long or holds control characters"),
    "external_id_format": ("nomor induk sekolah paling banyak 64 huruf, angka atau ._/-, diawali huruf atau angka",
                           "external_id must be up to 64 letters, digits or ._/-, starting with a letter or digit"),
    "duplicate_in_file": ("anak yang sama sudah ada di baris {ref}", "the same child is already on line {ref}"),
    "duplicate_in_batch": ("anak yang sama sedang menunggu di berkas #{ref}",
                           "the same child is already waiting in batch {ref}"),
    "has_card": ("anak ini sudah memegang kartu aktif; ganti kartunya bila hilang",
                 "a card was already issued for this child; replace it instead"),
}


@dataclasses.dataclass(frozen=True)
class RowError:
    line: int
    field: str
    code: str  # a key of ROW_ERRORS
    external_id: str | None = None  # the school's own id, so it can find the pupil
    ref: int | None = None  # the other line or batch that the code names

    @property
    def error(self) -> str:
        """The error in English, for the command line and logs (the pages translate ``code``)."""
        return ROW_ERRORS[self.code][1].format(ref=self.ref)


def parse_birth_date(text: str) -> dt.date:
    """A birth date as YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY; raises ValueError otherwise.

    Day first, as Indonesian forms and spreadsheets write it; never month first.
    """
    text = text.strip()
    if _ISO_DATE.fullmatch(text):
        return dt.date.fromisoformat(text)
    found = _DAY_FIRST_DATE.fullmatch(text)
    if found is None:
        raise ValueError("not a date")
    return dt.date(int(found[4]), int(found[3]), int(found[1]))


def validate_child(
    line: int,
    now: int,
    birth_date: str,
    region: str,
    *,
    nik: str = "",
    name: str = "",
    school: str = "",
    external_id: str = "",
) -> ChildRequest | RowError:
    """Check one child's fields; a RowError names the first bad field."""
    try:
        born = parse_birth_date(birth_date)
    except ValueError:
        return RowError(line, "birth_date", "birth_date_format")
    region_text = region.strip().replace(".", "")
    if not region_text.isdigit() or len(region_text) != 4 or not region_text.isascii():
        return RowError(line, "region", "region_format")
    try:
        card_validity(born, int(region_text), utc_datetime(now))
    except ValueError:
        return RowError(line, "region", "region_unknown")
    except NotEligible:
        today = dt.datetime.fromtimestamp(now, region_timezone(int(region_text))).date()
        return RowError(line, "birth_date", "birth_date_future" if born > today else "birth_date_adult")
    nik = nik.strip()
    if nik and not _NIK.fullmatch(nik):
        return RowError(line, "nik", "nik_format")
    if nik and not _nik_matches_birth_date(nik, born):
        return RowError(line, "nik", "nik_birth_date")
    for field, value in (("name", name), ("school", school)):
        if len(value) > MAX_TEXT_LENGTH or any(unicodedata.category(char) == "Cc" for char in value):
            return RowError(line, field, "text_invalid")
    external_id = external_id.strip()
    if external_id and not _EXTERNAL_ID.fullmatch(external_id):
        return RowError(line, "external_id", "external_id_format")
    return ChildRequest(
        line, born, int(region_text), external_id or None, name.strip() or None, nik or None, school.strip() or None
    )


def _nik_matches_birth_date(nik: str, born: dt.date) -> bool:
    """A NIK holds DDMMYY at digits 7-12, with 40 added to the day for girls."""
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    return day in (born.day, born.day + 40) and month == born.month and year == born.year % 100


# What a file's trouble is, by code: (Bahasa Indonesia, English), with its {fields}.
FILE_ERRORS: dict[str, tuple[str, str]] = {
    "file_unreadable": ("Berkas tidak dapat dibaca.", "The file cannot be read."),
    "file_encoding": ("Berkas bukan teks CSV; simpan sebagai CSV (UTF-8 atau Windows).",
                      "The file is not CSV text; save it as CSV (UTF-8 or Windows)."),
    "file_columns": ("Baris judul tidak memuat kolom {columns}; baris pertama harus memuat birth_date dan region.",
                     "The header row has no column {columns}; it needs birth_date and region."),
    "file_rows": ("Berkas memuat lebih dari {limit} baris; bagi menjadi beberapa berkas.",
                  "The file has more than {limit} rows; split it into several batches."),
    "file_csv": ("Baris {line} bukan CSV yang sah (mis. tanda petik tidak tertutup).",
                 "Line {line} is not valid CSV (e.g. a quote left open)."),
}
# Column names as schools write them in Bahasa Indonesia, read as the documented ones.
COLUMN_ALIASES = {
    "tanggal_lahir": "birth_date", "tgl_lahir": "birth_date", "wilayah": "region", "kode_wilayah": "region",
    "nama": "name", "nama_anak": "name", "sekolah": "school", "no_induk": "external_id", "nis": "external_id",
}


class BatchFileProblem(BatchFileError):
    """A file that cannot be used as a whole; ``code`` (a key of FILE_ERRORS) and ``values`` explain it."""

    def __init__(self, code: str, **values: object) -> None:
        super().__init__(FILE_ERRORS[code][1].format(**values))
        self.code, self.values = code, values


def child_key(request: ChildRequest) -> tuple[object, ...] | None:
    """What makes two requests the same child: the NIK, or else the name with birth date and region.

    Names are compared without case, compatibility forms or repeated spaces;
    a request with neither NIK nor name cannot be matched (None).
    """
    if request.nik:
        return ("nik", request.nik)
    if request.name:
        return ("name", normal_name(request.name), request.birth_date, request.region)
    return None


def normal_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def decode_batch(data: bytes) -> str:
    """The file's text: UTF-8 (a byte order mark is dropped), else Windows-1252 as Excel on Windows saves.

    Raises BatchFileProblem when it is neither (e.g. a spreadsheet's binary file).
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise BatchFileProblem("file_encoding") from None
    if "\x00" in text:
        raise BatchFileProblem("file_encoding")
    return text


def read_batch(path: Path, now: int) -> tuple[list[ChildRequest], list[RowError]]:
    """Read a school's CSV file: valid requests, and errors by line number (see ``parse_batch``)."""
    try:
        data = path.read_bytes()
    except OSError:
        raise BatchFileProblem("file_unreadable") from None
    return parse_batch(data, now)


def parse_batch(data: bytes, now: int) -> tuple[list[ChildRequest], list[RowError]]:
    """A school's CSV: valid requests, and errors by line number.

    The same child twice in the file (``child_key``) is refused on its second
    line, naming the first.  Raises BatchFileProblem when the file as a whole
    cannot be used (not text, no header, a required column missing, too many
    rows, broken CSV).
    """
    text = decode_batch(data)
    requests: list[ChildRequest] = []
    errors: list[RowError] = []
    seen: dict[tuple[object, ...], int] = {}
    for line, row in _rows(text):
        result = validate_child(
            line,
            now,
            row.get("birth_date") or "",
            row.get("region") or "",
            **{name: row.get(name) or "" for name in OPTIONAL_COLUMNS},
        )
        if isinstance(result, ChildRequest):
            key = child_key(result)
            if key is not None and key in seen:
                result = RowError(line, "nik" if result.nik else "name", "duplicate_in_file", ref=seen[key])
            elif key is not None:
                seen[key] = line
        if isinstance(result, ChildRequest):
            requests.append(result)
        else:
            external_id = (row.get("external_id") or "").strip()
            known = external_id if _EXTERNAL_ID.fullmatch(external_id) else None
            errors.append(dataclasses.replace(result, external_id=known))
    return requests, errors


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    header = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [column.strip().lower().replace(" ", "_") for column in reader.fieldnames or []]
    columns = [COLUMN_ALIASES.get(column, column) for column in columns]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise BatchFileProblem("file_columns", columns=", ".join(missing))
    reader.fieldnames = columns
    count, last_line = 0, reader.line_num
    try:
        for row in reader:
            count, last_line = count + 1, reader.line_num
            if count > MAX_BATCH_ROWS:
                raise BatchFileProblem("file_rows", limit=MAX_BATCH_ROWS)
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue  # a blank line
            yield reader.line_num, row
    except csv.Error:
        # The record that failed starts on the line after the last good one.
        raise BatchFileProblem("file_csv", line=last_line + 1) from None
