"""School CSVs as they arrive in practice, and inputs that must not slip through."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.children import ChildRequest, RowError, read_batch, validate_child
from tests.factories import NOW

AT = NOW


def test_a_semicolon_csv_saved_by_excel_in_an_indonesian_locale_is_read(tmp_path: Path) -> None:
    path = tmp_path / "sekolah.csv"
    path.write_text("birth_date;region;name;external_id\n2018-05-14;3372;Budi;NIS-1\n", encoding="utf-8")
    requests, errors = read_batch(path, AT)
    assert errors == []
    assert [(r.line, r.region, r.external_id) for r in requests] == [(2, 3372, "NIS-1")]


def test_nik_with_non_ascii_digits_is_refused() -> None:
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in "3372011405180001")
    result = validate_child(3, AT, "2018-05-14", "3372", nik=arabic_indic)
    assert isinstance(result, RowError) and result.field == "nik"


@pytest.mark.parametrize("control", ["\x7f", "\x85", "\x9b"])
def test_names_with_delete_or_c1_control_characters_are_refused(control: str) -> None:
    result = validate_child(3, AT, "2018-05-14", "3372", name=f"Budi{control}")
    assert isinstance(result, RowError) and result.field == "name"


@pytest.mark.parametrize("formula", ["-2+3", "=cmd", "+1", "@sum", ".hidden"])
def test_an_external_id_a_spreadsheet_would_run_as_a_formula_is_refused(formula: str) -> None:
    result = validate_child(3, AT, "2018-05-14", "3372", external_id=formula)
    assert isinstance(result, RowError) and result.field == "external_id"


def test_an_ordinary_external_id_is_kept() -> None:
    result = validate_child(3, AT, "2018-05-14", "3372", external_id="NIS/2024-0017")
    assert isinstance(result, ChildRequest) and result.external_id == "NIS/2024-0017"
