"""Children submitted for a card, one at the counter or many from a school CSV.

One validator serves both.  A bad row is reported by its line number and
field, never by its content: error messages carry no child's data.  The
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


@dataclasses.dataclass(frozen=True)
class RowError:
    line: int
    field: str
    error: str
    external_id: str | None = None  # the school's own id, so it can find the pupil


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
        born = dt.date.fromisoformat(birth_date.strip())
    except ValueError:
        return RowError(line, "birth_date", "birth_date must be a date as YYYY-MM-DD")
    region_text = region.strip().replace(".", "")
    if not region_text.isdigit() or len(region_text) != 4:
        return RowError(line, "region", "region must be a 4-digit regency/city code, e.g. 3372")
    try:
        card_validity(born, int(region_text), utc_datetime(now))
    except ValueError:
        return RowError(line, "region", "region is not a known regency/city code")
    except NotEligible as exc:
        return RowError(line, "birth_date", str(exc))
    nik = nik.strip()
    if nik and not _NIK.fullmatch(nik):
        return RowError(line, "nik", "nik must be 16 digits")
    if nik and not _nik_matches_birth_date(nik, born):
        return RowError(line, "nik", "the birth date inside nik does not match birth_date")
    for field, value in (("name", name), ("school", school)):
        if len(value) > MAX_TEXT_LENGTH or any(unicodedata.category(char) == "Cc" for char in value):
            return RowError(line, field, f"{field} is too long or holds control characters")
    external_id = external_id.strip()
    if external_id and not _EXTERNAL_ID.fullmatch(external_id):
        return RowError(
            line, "external_id", "external_id must be up to 64 letters, digits or ._/-, starting with a letter or digit"
        )
    return ChildRequest(
        line, born, int(region_text), external_id or None, name.strip() or None, nik or None, school.strip() or None
    )


def _nik_matches_birth_date(nik: str, born: dt.date) -> bool:
    """A NIK holds DDMMYY at digits 7-12, with 40 added to the day for girls."""
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    return day in (born.day, born.day + 40) and month == born.month and year == born.year % 100


def read_batch(path: Path, now: int) -> tuple[list[ChildRequest], list[RowError]]:
    """Read a school's CSV: valid requests, and errors by line number.

    Raises BatchFileError when the file as a whole cannot be used (unreadable,
    not UTF-8, no header, a required column missing, too many rows).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BatchFileError(f"cannot read {path.name}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BatchFileError(f"{path.name} is not UTF-8 text; save the CSV as UTF-8") from None
    requests: list[ChildRequest] = []
    errors: list[RowError] = []
    seen_niks: dict[str, int] = {}
    for line, row in _rows(text, path.name):
        result = validate_child(
            line,
            now,
            row.get("birth_date") or "",
            row.get("region") or "",
            **{name: row.get(name) or "" for name in OPTIONAL_COLUMNS},
        )
        nik = (row.get("nik") or "").strip()
        if isinstance(result, ChildRequest) and nik:
            if nik in seen_niks:
                result = RowError(line, "nik", f"the same nik is already on line {seen_niks[nik]}")
            else:
                seen_niks[nik] = line
        if isinstance(result, ChildRequest):
            requests.append(result)
        else:
            external_id = (row.get("external_id") or "").strip()
            known = external_id if _EXTERNAL_ID.fullmatch(external_id) else None
            errors.append(dataclasses.replace(result, external_id=known))
    return requests, errors


def _rows(text: str, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    header = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [column.strip().lower() for column in reader.fieldnames or []]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise BatchFileError(f"{name} has no column {', '.join(missing)}; the header row needs birth_date and region")
    reader.fieldnames = columns
    count, last_line = 0, reader.line_num
    try:
        for row in reader:
            count, last_line = count + 1, reader.line_num
            if count > MAX_BATCH_ROWS:
                raise BatchFileError(f"{name} has more than {MAX_BATCH_ROWS} rows; split the batch")
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue  # a blank line
            yield reader.line_num, row
    except csv.Error as exc:
        # The record that failed starts on the line after the last good one.
        raise BatchFileError(f"{name} line {last_line + 1}: not valid CSV ({exc})") from None
