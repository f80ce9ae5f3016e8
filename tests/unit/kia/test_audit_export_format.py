"""The audit export's format: what the office writes is what the auditor reads, and nothing else is read."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from kia.audit_export_format import (
    MANIFEST,
    MalformedExport,
    check_files,
    entry_for,
    open_export,
    read_manifest,
    read_table,
    unzip_export,
    zip_export,
)
from tests.factories import NOW
from tests.factories.audit_exports import Till, csv_line, honest_export, partner_row, rewrite, scan, write_export


@pytest.fixture
def till() -> Till:
    return Till().log(scan(NOW - 3600), scan(NOW - 3000, None, accepted=False),
                      scan(NOW - 2400, "HVM9MD8W", flags=("stale", "clock_skew")))


def tables(directory: Path) -> dict[str, list[dict]]:
    manifest = open_export(directory)
    return {table: list(read_table(directory, manifest, table))
            for table in ("redemptions", "checkpoints", "terminals", "partners", "findings")}


@pytest.mark.parametrize("formats", [("csv",), ("parquet",), ("csv", "parquet")])
def test_every_table_reads_back_as_written_in_csv_and_parquet(tmp_path: Path, till: Till, formats):
    finding = {"terminal_id": till.terminal_id, "seq": 2, "partner_id": 1, "check": "reason_mismatch",
               "evidence": 'refused (card_revoked), "quoted",\r\nand on two lines', "found_at": NOW,
               "state": "open", "decided_by": None, "decided_at": None, "decision": None}
    partners = [partner_row(1), partner_row(2, latitude=None)]
    write_export(tmp_path, redemptions=till.rows(), checkpoints=[till.checkpoint(3)],
                 terminals=[till.terminal_row()], partners=partners, findings=[finding], formats=formats)

    read = tables(tmp_path)
    assert read["redemptions"] == till.rows()  # nulls, booleans, empty and two flags, hashes
    assert read["partners"] == partners  # a name with quotes and a comma; a partner without a location
    assert read["findings"] == [finding]  # text with quotes and a line break
    assert read["checkpoints"] == [till.checkpoint(3) | {"jws": read["checkpoints"][0]["jws"]}]
    assert read["terminals"] == [till.terminal_row()]


def test_the_csv_is_rfc_4180_with_a_header_crlf_and_true_false(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    lines = (tmp_path / "redemptions.csv").read_bytes().split(b"\r\n")
    assert lines[0].startswith(b"terminal_id,partner_id,seq,at,day,serial,accepted,")
    assert b",true,accepted," in lines[1] and lines[-1] == b""
    assert b",,false,card_revoked," in lines[2]  # no serial: an empty field


def test_parquet_columns_have_the_documented_types(tmp_path: Path, till: Till):
    import duckdb

    honest_export(tmp_path, till, formats=("parquet",))
    described = duckdb.sql(f"DESCRIBE SELECT * FROM '{tmp_path / 'redemptions.parquet'}'").fetchall()
    types = {name: kind for name, kind, *_ in described}
    assert (types["seq"], types["day"], types["accepted"], types["serial"]) == ("BIGINT", "INTEGER", "BOOLEAN",
                                                                                 "VARCHAR")


def test_a_missing_file_is_malformed(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    (tmp_path / "checkpoints.csv").unlink()
    with pytest.raises(MalformedExport, match="checkpoints.csv is listed in manifest.json but missing"):
        open_export(tmp_path)


def test_a_file_changed_after_the_manifest_is_malformed(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    data = (tmp_path / "redemptions.csv").read_bytes()
    (tmp_path / "redemptions.csv").write_bytes(data.replace(b",40000,", b",45000,", 1))
    with pytest.raises(MalformedExport, match="redemptions.csv is not the file the manifest lists"):
        open_export(tmp_path)


def test_a_truncated_csv_is_malformed_even_with_a_manifest_to_match(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    rewrite(tmp_path, "redemptions.csv", lambda data: data[:-40])
    with pytest.raises(MalformedExport, match="truncated"):
        tables(tmp_path)


def test_a_csv_cut_at_a_line_end_misses_the_rows_the_manifest_counts(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    rewrite(tmp_path, "redemptions.csv", lambda data: b"\r\n".join(data.split(b"\r\n")[:-2]) + b"\r\n")
    with pytest.raises(MalformedExport, match="holds 2 rows, the manifest says 3"):
        tables(tmp_path)


@pytest.mark.parametrize(("field", "value", "problem"), [
    (2, "1.5", "seq is not a whole number"),
    (3, "", "at is empty"),
    (6, "yes", "accepted is not true or false"),
])
def test_a_bad_value_names_its_file_row_and_column(tmp_path: Path, till: Till, field, value, problem):
    honest_export(tmp_path, till)
    csv_line(tmp_path, "redemptions.csv", 3, lambda fields: [*fields[:field], value, *fields[field + 1:]])
    with pytest.raises(MalformedExport, match=f"redemptions.csv row 3: {problem}"):
        tables(tmp_path)


def test_a_renamed_or_missing_column_is_malformed(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    csv_line(tmp_path, "redemptions.csv", 1, lambda fields: [name.replace("paid", "net") for name in fields])
    with pytest.raises(MalformedExport, match="the header must be terminal_id,partner_id,seq"):
        tables(tmp_path)


def test_a_row_with_a_field_too_few_is_malformed(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    csv_line(tmp_path, "redemptions.csv", 2, lambda fields: fields[:-1])
    with pytest.raises(MalformedExport, match="row 2: 19 fields instead of 20"):
        tables(tmp_path)


def test_a_parquet_column_of_the_wrong_type_is_malformed(tmp_path: Path, till: Till):
    import duckdb

    honest_export(tmp_path, till, formats=("parquet",))
    path = tmp_path / "redemptions.parquet"
    duckdb.sql(f"COPY (SELECT * REPLACE (CAST(seq AS VARCHAR) AS seq) FROM '{path}') TO '{tmp_path / 'x.parquet'}'")
    rewrite(tmp_path, "redemptions.parquet", lambda _: (tmp_path / "x.parquet").read_bytes())
    with pytest.raises(MalformedExport, match="redemptions.parquet: seq is VARCHAR, not int"):
        tables(tmp_path)


def test_garbage_named_parquet_is_malformed(tmp_path: Path, till: Till):
    honest_export(tmp_path, till, formats=("parquet",))
    rewrite(tmp_path, "partners.parquet", lambda data: data[: len(data) // 2])
    with pytest.raises(MalformedExport, match="partners.parquet cannot be read as Parquet"):
        tables(tmp_path)


def test_csv_and_parquet_that_differ_are_malformed(tmp_path: Path, till: Till):
    honest_export(tmp_path, till, formats=("csv", "parquet"))
    csv_line(tmp_path, "redemptions.csv", 2, lambda fields: [*fields[:3], str(int(fields[3]) + 1), *fields[4:]])
    with pytest.raises(MalformedExport, match="redemptions.csv and redemptions.parquet differ at row 1"):
        tables(tmp_path)


def test_a_manifest_of_another_format_or_without_a_table_is_malformed(tmp_path: Path, till: Till):
    honest_export(tmp_path, till)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    (tmp_path / MANIFEST).write_text(json.dumps(manifest | {"format": "kia-audit-export/3"}))
    with pytest.raises(MalformedExport, match="not of the format kia-audit-export/2"):
        read_manifest(tmp_path)
    del manifest["files"]["findings.csv"]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(MalformedExport, match=r"lists no findings.csv\|parquet"):
        read_manifest(tmp_path)


def test_an_export_of_format_1_is_read_without_home_and_format_2_with_it(tmp_path: Path, till: Till):
    # Format 1 came before records named a foreign card's home region: its redemptions lack the column.
    honest_export(tmp_path, till, formats=("csv",))
    assert [row["home"] for row in tables(tmp_path)["redemptions"]] == [None] * len(till.records)

    def drop_home(data: bytes) -> bytes:
        return b"".join(line.rsplit(b",", 1)[0] + b"\r\n" for line in data.split(b"\r\n") if line)

    rewrite(tmp_path, "redemptions.csv", drop_home)
    with pytest.raises(MalformedExport, match="the header must be"):  # format 2 without home
        tables(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    (tmp_path / MANIFEST).write_text(json.dumps(manifest | {"format": "kia-audit-export/1"}))
    rows = tables(tmp_path)["redemptions"]
    assert len(rows) == len(till.records) and "home" not in rows[0]


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/passwd", "log/../../x", "a\\b", ""])
def test_a_manifest_naming_a_file_outside_the_export_is_malformed(tmp_path: Path, till: Till, name):
    honest_export(tmp_path, till)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["files"][name] = {"sha256": "0" * 64, "bytes": 0}
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(MalformedExport, match="lists a file"):
        read_manifest(tmp_path)


def test_files_the_manifest_adds_later_are_checked_too(tmp_path: Path, till: Till):
    # The transparency log's files will join the export (log/...): listed, they are hashed like the rest.
    honest_export(tmp_path, till)
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "checkpoint").write_text("kia.example.go.id/log\n5\nAAAA\n")
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    entry = entry_for(tmp_path / "log" / "checkpoint")
    manifest["files"]["log/checkpoint"] = {"sha256": entry.sha256, "bytes": entry.bytes}
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    check_files(tmp_path, read_manifest(tmp_path))

    (tmp_path / "log" / "checkpoint").write_text("kia.example.go.id/log\n6\nAAAA\n")
    with pytest.raises(MalformedExport, match="log/checkpoint is not the file the manifest lists"):
        open_export(tmp_path)


def test_the_zip_round_trips_and_refuses_files_the_manifest_does_not_list(tmp_path: Path, till: Till):
    honest_export(tmp_path / "office", till)
    zip_export(tmp_path / "office", tmp_path / "export.zip")
    manifest = unzip_export(tmp_path / "export.zip", tmp_path / "auditor")
    assert tables(tmp_path / "auditor") == tables(tmp_path / "office") and manifest.start == "2026-11-01"

    with zipfile.ZipFile(tmp_path / "export.zip", "a") as archive:
        archive.writestr("../../evil.sh", b"echo pwned")
    with pytest.raises(MalformedExport, match="files the manifest does not list: ../../evil.sh"):
        unzip_export(tmp_path / "export.zip", tmp_path / "again")
    assert not (tmp_path / "evil.sh").exists()


def test_a_truncated_zip_is_malformed(tmp_path: Path, till: Till):
    honest_export(tmp_path / "office", till)
    zip_export(tmp_path / "office", tmp_path / "export.zip")
    data = (tmp_path / "export.zip").read_bytes()
    with pytest.raises(MalformedExport, match="not a complete zip"):
        unzip_export(io.BytesIO(data[: len(data) - 100]), tmp_path / "auditor")
