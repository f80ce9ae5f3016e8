"""Region names (keys/regions.py): every Kemendagri regency and city, by its code."""

from __future__ import annotations

import csv
from importlib import resources

from keys.eligibility import is_valid_region
from keys.regions import region_name, region_names

KEMENDAGRI_KABUPATEN, KEMENDAGRI_KOTA = 416, 98  # Kepmendagri 300.2.2-2138/2025, as in 2022 (100.1.1-6117)


def rows() -> list[dict[str, str]]:
    text = resources.files("keys").joinpath("data", "regions.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_every_code_is_a_valid_region_and_named_once():
    codes = [int(row["code"]) for row in rows()]
    assert all(is_valid_region(code) for code in codes)
    assert len(codes) == len(set(codes))
    assert all(row["name"].strip() == row["name"] and row["name"] for row in rows())


def test_the_list_holds_every_regency_and_city_of_the_source():
    names = region_names()
    assert len(names) == KEMENDAGRI_KABUPATEN + KEMENDAGRI_KOTA
    assert sum(name.startswith("Kabupaten ") for name in names.values()) == KEMENDAGRI_KABUPATEN
    assert sum(name.startswith("Kota ") for name in names.values()) == KEMENDAGRI_KOTA
    # A city's code ends in 71 and up, a regency's below (e.g. 3372 Kota Surakarta, 3311 Kabupaten Sukoharjo).
    assert all((code % 100 >= 71) == name.startswith("Kota ") for code, name in names.items())
    # Every one of the 38 provinces has its regencies and cities.
    assert len({code // 100 for code in names}) == 38


def test_the_programme_regions_have_their_kemendagri_names():
    assert region_name(3372) == "Kota Surakarta"
    assert region_name(6311) == "Kabupaten Balangan"  # Smart Kids
    assert region_name(6308) == "Kabupaten Hulu Sungai Utara"
    assert region_name(6208) == "Kabupaten Sukamara"  # Alibaba; BPS numbers it 6206
    assert region_name(6501) == "Kabupaten Bulungan"  # Kaltara's capital; BPS numbers it 6502
    assert region_name(6571) == "Kota Tarakan"
    assert region_name(9171) == "Kota Jayapura"
    assert region_name(9301) == "Kabupaten Merauke"  # Papua Selatan, since 2022
    assert region_name(3171) == "Kota Administrasi Jakarta Pusat"


def test_a_code_the_list_lacks_is_shown_as_its_digits():
    assert region_name(3399) == "3399"
