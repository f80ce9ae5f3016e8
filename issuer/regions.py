"""Names of regencies and cities (kabupaten/kota) by their Kemendagri code, e.g. 3372 Kota Surakarta.

The names come from ``issuer/data/regions.csv`` (code,name), read once.  A
code the file does not name is shown as its digits: a page never fails on a
region the list lacks.
"""

from __future__ import annotations

import csv
import functools
from importlib import resources


@functools.cache
def region_names() -> dict[int, str]:
    data = resources.files(__package__).joinpath("data", "regions.csv")
    if not data.is_file():
        return {}
    rows = csv.DictReader(data.read_text(encoding="utf-8").splitlines())
    return {int(row["code"]): row["name"] for row in rows}


def region_name(code: int) -> str:
    """``Kota Surakarta`` for 3372; the code itself for one the list does not hold."""
    return region_names().get(code, str(code))
