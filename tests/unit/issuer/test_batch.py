"""issuer.children: one child at the counter, or a school's CSV.

Time is fixed at factories.NOW (2026-11-22, 10:00 WIB).  NIKs are written out
in full: digits 7-12 are the birth date as DDMMYY, with 40 added to the day
for girls.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from issuer import children
from issuer.children import ROW_ERRORS, ChildRequest, RowError, read_batch, validate_child
from issuer.errors import BatchFileError
from tests.factories import NOW, SURAKARTA

AT = NOW
HEADER = "birth_date,region,name,nik,school,external_id"
# A girl born 2018-05-14 in Surakarta (day 14 + 40 = 54) and a boy born the same day.
GIRL_NIK = "3372015405180001"
BOY_NIK = "3372011405180002"
NAME = "Siti Rahayu Kusumawardani"
SCHOOL = "SD Negeri Mangkubumen Kidul 16"


def write_csv(folder: Path, *lines: str, name: str = "pupils.csv", newline: str = "\n") -> Path:
    path = folder / name
    path.write_text(newline.join(lines) + newline, encoding="utf-8", newline="")
    return path


def check(birth_date: str = "2018-05-14", region: str = "3372", **optional: str) -> ChildRequest | RowError:
    return validate_child(7, AT, birth_date, region, **optional)


def assert_refused(result: ChildRequest | RowError, field: str) -> RowError:
    assert isinstance(result, RowError), result
    assert (result.line, result.field) == (7, field)
    return result


# --- one child -----------------------------------------------------------------


def test_a_good_child_keeps_what_the_office_records() -> None:
    result = check(nik=GIRL_NIK, name=NAME, school=SCHOOL, external_id="NISN-0098765/7b")

    assert result == ChildRequest(7, dt.date(2018, 5, 14), SURAKARTA, "NISN-0098765/7b", NAME, GIRL_NIK, SCHOOL)


def test_optional_fields_may_be_absent_and_surrounding_spaces_are_forgiven() -> None:
    assert check(" 2018-05-14 ", " 3372 ", nik=f" {BOY_NIK} ", external_id=" ") == ChildRequest(
        7, dt.date(2018, 5, 14), SURAKARTA, None, nik=BOY_NIK
    )


def test_a_region_written_with_a_dot_as_kemendagri_prints_it_is_accepted() -> None:
    assert check(region="33.72") == ChildRequest(7, dt.date(2018, 5, 14), SURAKARTA)


def test_a_newborn_born_today_is_eligible() -> None:
    assert isinstance(check("2026-11-22"), ChildRequest)


@pytest.mark.parametrize("birth_date", ["2018-5-14x", "2018-02-30", "", "kemarin", "05/14/2018", "14.05.2018",
                                        "14/05-2018", "14/05/18"])
def test_a_birth_date_that_is_not_a_date_as_schools_write_it_is_refused(birth_date: str) -> None:
    error = assert_refused(check(birth_date), "birth_date")
    assert error.code == "birth_date_format" and "DD/MM/YYYY" in error.error


@pytest.mark.parametrize("birth_date", ["2018-05-14", "14/05/2018", "14-05-2018", "14/5/2018", " 14/05/2018 "])
def test_a_birth_date_is_read_day_first_as_indonesian_forms_write_it(birth_date: str) -> None:
    assert check(birth_date) == ChildRequest(7, dt.date(2018, 5, 14), SURAKARTA)


def test_a_birth_date_in_the_future_is_refused() -> None:
    # Tomorrow in Surakarta (WIB); the office's local date decides.
    error = assert_refused(check("2026-11-23"), "birth_date")
    assert "future" in error.error


def test_a_child_who_has_turned_17_gets_a_ktp_not_a_kia() -> None:
    assert_refused(check("2009-11-22"), "birth_date")  # 17 today
    assert isinstance(check("2009-11-23"), ChildRequest)  # 17 tomorrow: still a child today


@pytest.mark.parametrize("region", ["33A2", "337", "33720", "", "-372"])
def test_a_region_that_is_not_four_digits_is_refused(region: str) -> None:
    error = assert_refused(check(region=region), "region")
    assert "4-digit" in error.error


@pytest.mark.parametrize("region", ["2071", "9999", "3300", "0101"])
def test_a_region_of_an_unknown_province_or_regency_is_refused(region: str) -> None:
    error = assert_refused(check(region=region), "region")
    assert "not a known" in error.error


@pytest.mark.parametrize("nik", ["337201540518", "33720154051800011", "3372O15405180001", "3372-01540518000"])
def test_a_nik_that_is_not_16_digits_is_refused(nik: str) -> None:
    error = assert_refused(check(nik=nik), "nik")
    assert "16 digits" in error.error


@pytest.mark.parametrize(
    "nik",
    [
        "3372011505180001",  # day 15, born on the 14th
        "3372015505180001",  # a girl's day 55
        "3372011406180001",  # month 06
        "3372011405170001",  # year 17
        "3372010000000001",  # no date at all
    ],
)
def test_a_nik_whose_birth_date_differs_from_birth_date_is_refused(nik: str) -> None:
    error = assert_refused(check(nik=nik), "nik")
    assert "does not match" in error.error


@pytest.mark.parametrize("nik", [BOY_NIK, GIRL_NIK])
def test_a_nik_carries_the_birth_day_plus_40_for_girls(nik: str) -> None:
    assert isinstance(check(nik=nik), ChildRequest)


@pytest.mark.parametrize("field", ["name", "school"])
@pytest.mark.parametrize("value", ["Siti\x07Rahayu", "Siti\tRahayu", "Siti\nRahayu", "Siti\x00", "x" * 201])
def test_control_characters_or_overlong_text_are_refused(field: str, value: str) -> None:
    assert_refused(check(**{field: value}), field)


def test_names_in_any_script_are_accepted() -> None:
    assert isinstance(check(name="Ni Putu Ayu Dewi Ṣāliḥah 李", school="SD Katolik Santo Yosef"), ChildRequest)


@pytest.mark.parametrize("external_id", ["pupil 1", "=HYPERLINK(1)", "a" * 65, "nomor;7", "ünïcode"])
def test_a_bad_external_id_is_refused(external_id: str) -> None:
    assert_refused(check(external_id=external_id), "external_id")


def test_the_first_bad_field_is_the_one_reported() -> None:
    assert assert_refused(check("bad", "bad", nik="bad"), "birth_date")


# --- a school's CSV -----------------------------------------------------------------


def test_a_batch_reports_good_rows_and_bad_rows_by_physical_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER,  # line 1
        f"2018-05-14,3372,{NAME},{GIRL_NIK},{SCHOOL},p-1",  # 2: good
        "",  # 3: blank
        f"2018-14-05,3372,Budi Santoso,{BOY_NIK},{SCHOOL},p-2",  # 4: bad date (month 14)
        ",,,,,",  # 5: blank values only
        "2015-01-31,6311,Rizky Pratama,,,p-3",  # 6: good, Balangan
        "2016-07-01,33X1,Dewi Lestari,,,p-4",  # 7: bad region
        "   ",  # 8: only spaces
        "2020-02-29,9171,,,,",  # 9: good, Jayapura, born on 29 February
    )

    requests, errors = read_batch(path, AT)

    assert requests == [
        ChildRequest(2, dt.date(2018, 5, 14), 3372, "p-1", NAME, GIRL_NIK, SCHOOL),
        ChildRequest(6, dt.date(2015, 1, 31), 6311, "p-3", "Rizky Pratama"),
        ChildRequest(9, dt.date(2020, 2, 29), 9171, None),
    ]
    assert [(error.line, error.field) for error in errors] == [(4, "birth_date"), (7, "region")]


def test_line_numbers_hold_with_windows_line_endings_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeff Birth_Date ,REGION,Name\r\n2018-05-14,3372,Siti\r\n\r\n2030-01-01,3372,Budi\r\n".encode("utf-8")
    )

    requests, errors = read_batch(path, AT)

    assert [request.line for request in requests] == [2]
    assert [(error.line, error.field) for error in errors] == [(4, "birth_date")]


def test_a_nik_already_in_the_batch_is_refused_with_the_line_of_the_first(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "nik,birth_date,region",
        f"{GIRL_NIK},2018-05-14,3372",
        f"{BOY_NIK},2018-05-14,3372",
        f"{GIRL_NIK},2018-05-14,3372",
    )

    requests, errors = read_batch(path, AT)

    assert [request.line for request in requests] == [2, 3]
    assert errors == [RowError(4, "nik", "duplicate_in_file", ref=2)]
    assert errors[0].error == "the same child is already on line 2"


def test_a_child_without_nik_twice_in_the_file_by_name_birth_date_and_region_is_refused(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "name,birth_date,region",
        "Siti  Rahayu,14/05/2018,3372",
        "Siti Rahayu,14/05/2018,6311",  # another region: another child
        "siti rahayu,2018-05-14,3372",  # the first again, written otherwise
        ",2018-05-14,3372",  # no name and no NIK: nothing to match by
        ",2018-05-14,3372",
    )

    requests, errors = read_batch(path, AT)

    assert [request.line for request in requests] == [2, 3, 5, 6]
    assert errors == [RowError(4, "name", "duplicate_in_file", ref=2)]


def test_a_refused_row_keeps_the_schools_external_id_only_when_it_is_well_formed(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "birth_date,region,name,external_id",
        "2030-01-01,3372,Siti,NISN-0098765",
        "2030-01-01,3372,Budi,Budi Santoso",  # a name typed in the id column is not echoed
    )

    _, errors = read_batch(path, AT)

    assert [(error.line, error.external_id) for error in errors] == [(2, "NISN-0098765"), (3, None)]


def test_a_header_only_file_is_an_empty_batch(tmp_path: Path) -> None:
    assert read_batch(write_csv(tmp_path, HEADER), AT) == ([], [])


@pytest.mark.parametrize("header", ["birth_date,name,nik", "region,name", "tgl,kode", ""])
def test_a_file_without_a_required_column_is_refused_as_a_whole(tmp_path: Path, header: str) -> None:
    path = write_csv(tmp_path, header, "2018-05-14,Siti,3372015405180001")

    with pytest.raises(BatchFileError, match="birth_date and region") as caught:
        read_batch(path, AT)
    assert caught.value.code == "file_columns"


def test_indonesian_column_names_are_read_as_the_documented_ones(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "No Induk;Nama;Tanggal Lahir;Wilayah", "NIS-7;Budi;14/05/2018;33.72")

    assert read_batch(path, AT) == ([ChildRequest(2, dt.date(2018, 5, 14), SURAKARTA, "NIS-7", "Budi")], [])


def test_a_windows_1252_file_as_excel_saves_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("birth_date;region;name\r\n14/05/2018;3372;Jérôme Siregar\r\n".encode("cp1252"))

    (request,), errors = read_batch(path, AT)

    assert errors == [] and request.name == "Jérôme Siregar"


def test_a_file_that_is_no_text_is_refused_as_a_whole(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x81\x8d\x00\x00birth_date,region")

    with pytest.raises(BatchFileError, match="not CSV text") as caught:
        read_batch(path, AT)
    assert caught.value.code == "file_encoding"


def test_a_missing_file_is_a_batch_file_error(tmp_path: Path) -> None:
    with pytest.raises(BatchFileError, match="cannot be read"):
        read_batch(tmp_path / "absent.csv", AT)


def test_a_batch_over_the_row_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(children, "MAX_BATCH_ROWS", 3)
    path = write_csv(tmp_path, "birth_date,region", *["2018-05-14,3372"] * 4)

    with pytest.raises(BatchFileError, match="more than 3 rows"):
        read_batch(path, AT)


def test_a_file_that_is_not_csv_is_refused_without_echoing_the_field(tmp_path: Path) -> None:
    secret = "Z" * 200_000  # larger than the csv module's field limit
    path = write_csv(tmp_path, "birth_date,region,name", f"2018-05-14,3372,{secret}")

    with pytest.raises(BatchFileError, match="Line 2 is not valid CSV") as caught:
        read_batch(path, AT)
    assert "ZZZZ" not in str(caught.value)


def test_error_messages_never_carry_the_childs_data(tmp_path: Path) -> None:
    """Every refused row's message is free of the values it refused (names, NIKs, dates, ids)."""
    rows = [
        ("2018-14-05", "3372", "Ayu Kartika Sari", "3372015405180003", "SD Negeri 5", "id-001"),
        ("2027-03-01", "3372", "Bagus Wicaksono", "3372010103270004", "SD Negeri 6", "id-002"),
        ("2005-01-02", "3372", "Cahya Ramadhani", "3372014201050005", "SMP Negeri 1", "id-003"),
        ("2018-05-14", "3A72", "Dimas Prasetyo", "3372011405180006", "SD Negeri 7", "id-004"),
        ("2018-05-14", "2071", "Eka Wulandari", "3372015405180007", "SD Negeri 8", "id-005"),
        ("2018-05-14", "3372", "Fajar Nugroho", "337201140518", "SD Negeri 9", "id-006"),
        ("2018-05-14", "3372", "Gita Permata", "3372015405190008", "SD Negeri 10", "id-007"),
        ("2018-05-14", "3372", "Hana\x1bMaharani", "3372015405180009", "SD Negeri 11", "id-008"),
        ("2018-05-14", "3372", "Indra Gunawan", "3372011405180010", "SD Negeri 12\x7f\x01", "id-009"),
        ("2018-05-14", "3372", "Joko Susilo", "3372011405180011", "SD Negeri 13", "id 010 Joko"),
        ("2018-05-14", "3372", "Kartini Putri", "3372015405180001", "SD Negeri 14", "id-011"),
        ("2018-05-14", "3372", "Lestari Ningsih", "3372015405180001", "SD Negeri 15", "id-012"),
    ]
    path = write_csv(tmp_path, HEADER, *(",".join(row) for row in rows))

    requests, errors = read_batch(path, AT)

    assert [request.line for request in requests] == [12]
    assert [error.line for error in errors] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]
    texts = " | ".join(f"{error.field} {error.error} {ROW_ERRORS[error.code][0]}" for error in errors)
    for birth_date, _region, name, nik, school, external_id in rows:
        for value in (birth_date, nik, school, external_id, *re.split(r"[\x00-\x20]", name)):
            assert value not in texts, value
