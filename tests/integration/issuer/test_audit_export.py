"""The audit export from a real office, checked by the auditor's tools alone.

An office with partners, terminals that synced honest scans and records its
checks held (tests.factories.audit_data) exports a period; ``kia audit
verify`` and ``kia audit revenue`` (kia.audit_verify) must find every chain
and checkpoint whole and the office's figures equal to the records', and
must name the record when one field of the export is changed.  The API
serves the same export to auditors who sign in with HTTP Basic.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer import reports
from issuer.audit_export import write_export
from issuer.errors import Invalid, PartnerNotFound, Refused
from issuer.storage.models import AuditEvent, RedemptionRow
from issuer.storage.store import IssuerHome
from kia.audit_export_format import open_export, read_table, unzip_export
from kia.audit_verify import ExportNotVerified, recompute_revenue, verify_export
from tests.factories import ACTOR, DAY, NOW, WIB
from tests.factories.audit_data import Scene, audit_scene
from tests.factories.audit_exports import csv_line, rewrite
from tests.factories.offices import PASSWORD

TODAY = dt.datetime.fromtimestamp(NOW, WIB).date()
MONTH = (TODAY.replace(day=1), TODAY.replace(day=28))


@pytest.fixture
def founded_at() -> int:
    return NOW - 40 * DAY


@pytest.fixture
def scene(office: IssuerHome) -> Scene:
    return audit_scene(office, NOW)


def export(office: IssuerHome, folder: Path, start: dt.date = MONTH[0], end: dt.date = MONTH[1],
           partner: int | None = None, formats: tuple[str, ...] = ("csv",), **options) -> Path:
    write_export(office, folder, start, end, partner, formats, NOW, by=ACTOR, **options)
    return folder


def rows(folder: Path, table: str) -> list[dict]:
    return list(read_table(folder, open_export(folder), table))


def test_an_office_export_verifies_and_its_revenue_is_the_offices(office: IssuerHome, scene: Scene, tmp_path: Path):
    folder = export(office, tmp_path / "export", formats=("csv", "parquet"))

    report = verify_export(folder, require_checkpoint=True)
    with office.transaction() as session:
        stored = session.scalars(select(RedemptionRow.seq)).all()
    assert report.records == len(stored) and report.records_covered == report.records
    assert report.terminals == 4 and report.checkpoints_verified == report.checkpoints > 0

    revenue = recompute_revenue(folder)
    month = reports.figures(office, "partner", "month", *MONTH)
    assert {int(row.group): (row.accepted, row.gross, row.discount, row.net, row.held, row.flagged)
            for row in month} == {partner: (values["accepted"], values["gross"], values["discount"], values["net"],
                                            values["held"], values["flagged"])
                                  for partner, values in revenue.partners.items()}
    assert revenue.partners[scene.museum]["held"] == 5  # open and confirmed records stay out; the released one counts
    with office.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "audit_export")).one()
    assert event.target == f"{MONTH[0]}..{MONTH[1]} partner all"


def test_one_field_changed_in_the_export_fails_verification_naming_the_record(
    office: IssuerHome, scene: Scene, tmp_path: Path
):
    folder = export(office, tmp_path / "export")
    cinema = scene.terminals["cinema-1"].terminal_id
    lines = (folder / "redemptions.csv").read_text().splitlines()
    number = next(n for n, line in enumerate(lines, 1) if line.startswith(f"{cinema},") and ",3," in line[:40])
    csv_line(folder, "redemptions.csv", number, lambda fields: [*fields[:12], "1", *fields[13:]])  # paid: 1 rupiah

    with pytest.raises(ExportNotVerified) as caught:
        verify_export(folder)
    assert [(p.terminal, p.seq, p.check) for p in caught.value.report.failures] == [
        (cinema, 3, "invalid_record"), (cinema, 3, "hash_mismatch")]


def test_an_export_whose_file_changed_after_the_manifest_is_never_verified(
    office: IssuerHome, scene: Scene, tmp_path: Path
):
    from kia.audit_export_format import MalformedExport

    folder = export(office, tmp_path / "export")
    data = (folder / "redemptions.csv").read_bytes()
    (folder / "redemptions.csv").write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedExport, match="redemptions.csv is not the file the manifest lists"):
        verify_export(folder)


def test_one_day_mid_chain_links_to_the_stored_hash_and_a_signed_checkpoint(
    office: IssuerHome, scene: Scene, tmp_path: Path
):
    day = TODAY - dt.timedelta(days=3)
    folder = export(office, tmp_path / "export", day, day, scene.cinema)
    redemptions = rows(folder, "redemptions")
    assert {row["day"] for row in redemptions} == {int(f"{day:%Y%m%d}")} and redemptions[0]["seq"] > 1
    with office.transaction() as session:
        before = session.scalars(select(RedemptionRow.hash).where(
            RedemptionRow.terminal_id == redemptions[0]["terminal_id"],
            RedemptionRow.seq == redemptions[0]["seq"] - 1)).one()
    assert redemptions[0]["prev_hash"] == before
    report = verify_export(folder, require_checkpoint=True)
    assert report.checkpoints_verified == 2  # the one before the day checks prev_hash, the day's own its records
    assert recompute_revenue(folder).total["accepted"] == 12


def test_a_clock_gone_ahead_stays_in_the_chain_but_out_of_the_period(office: IssuerHome, scene: Scene, tmp_path: Path):
    folder = export(office, tmp_path / "export", partner=scene.museum)
    days = [row["day"] for row in rows(folder, "redemptions")]
    assert len(days) == 9 and sum(day > int(f"{MONTH[1]:%Y%m%d}") for day in days) == 1  # 200 days ahead, seq 6
    verify_export(folder, require_checkpoint=True)
    assert recompute_revenue(folder).total["scans"] == 8


def test_a_batch_synced_while_the_office_exports_is_in_neither_its_records_nor_its_figures(
    office: IssuerHome, scene: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from issuer import audit_export
    from tests.factories.audit_data import POOL, accepted
    from tests.terminal_sim import send

    write_table = audit_export._write_table

    def sync_meanwhile(directory: Path, table: str, *args):
        if table == "redemptions":  # the export has begun reading; a terminal's batch lands
            card = (scene.terminals["cinema-1"].records[0].serial, "5-12")
            send(office, scene.terminals["pool"], [accepted(NOW - 600, card, POOL)], NOW)
        return write_table(directory, table, *args)

    monkeypatch.setattr(audit_export, "_write_table", sync_meanwhile)
    folder = export(office, tmp_path / "export", partner=scene.pool)
    assert len(rows(folder, "redemptions")) == 8
    assert recompute_revenue(folder).total["accepted"] == 8  # figures of the same snapshot: they agree
    assert reports.figures(office, "partner", "month", *MONTH, scene.pool)[0].accepted == 9


def test_a_partners_export_holds_only_that_partner(office: IssuerHome, scene: Scene, tmp_path: Path):
    folder = export(office, tmp_path / "export", partner=scene.pool, formats=("parquet",))
    assert {row["partner_id"] for row in rows(folder, "redemptions")} == {scene.pool}
    assert [row["partner_id"] for row in rows(folder, "partners")] == [scene.pool]
    assert [row["terminal_id"] for row in rows(folder, "terminals")] == [scene.terminals["pool"].terminal_id]
    verify_export(folder, require_checkpoint=True)
    assert list(recompute_revenue(folder).partners) == [scene.pool]


def test_a_redacted_export_keeps_the_findings_but_not_their_evidence(office: IssuerHome, scene: Scene,
                                                                      tmp_path: Path):
    full = rows(export(office, tmp_path / "full", partner=scene.museum), "findings")
    redacted = rows(export(office, tmp_path / "redacted", partner=scene.museum, redact_evidence=True), "findings")
    assert [(row["seq"], row["check"], row["state"]) for row in redacted] == [
        (row["seq"], row["check"], row["state"]) for row in full]
    assert all(row["evidence"] for row in full) and {row["evidence"] for row in redacted} == {""}
    assert {row["decided_by"] for row in redacted} == {None} and "auditor" in {row["decided_by"] for row in full}


def test_bad_requests_for_an_export_are_refused(office: IssuerHome, scene: Scene, tmp_path: Path):
    with pytest.raises(Invalid, match="must not be after"):
        export(office, tmp_path / "a", MONTH[1], MONTH[0])
    with pytest.raises(Invalid, match="at most 366 days"):
        export(office, tmp_path / "b", MONTH[0] - dt.timedelta(days=400), MONTH[1])
    with pytest.raises(PartnerNotFound):
        export(office, tmp_path / "c", partner=999)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "mine.txt").write_text("an auditor's notes")
    with pytest.raises(Refused, match="is not empty"):
        export(office, tmp_path / "d")


def test_an_empty_period_exports_empty_tables_that_verify(office: IssuerHome, scene: Scene, tmp_path: Path):
    folder = export(office, tmp_path / "export", dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    assert rows(folder, "redemptions") == [] and verify_export(folder).records == 0
    assert recompute_revenue(folder).total["scans"] == 0


# --- the API -------------------------------------------------------------------------


URL = f"/api/v1/audit/export?from={MONTH[0]}&to={MONTH[1]}"


def test_the_api_asks_for_credentials_and_refuses_wrong_ones(client: FlaskClient, office: IssuerHome, scene: Scene):
    response = client.get(URL)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic realm=")
    response = client.get(URL, auth=("auditor", "not the password"))
    assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
    with office.transaction() as session:
        assert session.scalars(select(AuditEvent.username).where(AuditEvent.action == "sign_in_failed")).all() == [
            "auditor"]


def test_an_auditor_downloads_an_export_that_verifies(client: FlaskClient, office: IssuerHome, scene: Scene,
                                                      tmp_path: Path):
    response = client.get(URL + "&format=both", auth=("auditor", PASSWORD))
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.content_length == len(response.data)  # the auditor's progress bar knows the size
    manifest = unzip_export(io.BytesIO(response.data), tmp_path / "export")
    assert manifest.partner is None and "redemptions.parquet" in manifest.files
    verify_export(tmp_path / "export", require_checkpoint=True)
    recompute_revenue(tmp_path / "export")


def test_an_officer_may_not_export(client: FlaskClient, scene: Scene):
    assert client.get(URL, auth=("officer", PASSWORD)).status_code == 403


def test_a_partner_manager_exports_only_their_own_partner_without_evidence(
    client: FlaskClient, scene: Scene, tmp_path: Path
):
    assert client.get(URL + f"&partner={scene.pool}", auth=("manager", PASSWORD)).status_code == 403
    response = client.get(URL, auth=("manager", PASSWORD))
    manifest = unzip_export(io.BytesIO(response.data), tmp_path / "export")
    assert manifest.partner == scene.cinema
    assert {row["partner_id"] for row in rows(tmp_path / "export", "redemptions")} == {scene.cinema}


@pytest.mark.parametrize(("query", "status"), [
    (f"?from={MONTH[0]}", 400), (f"?from={MONTH[1]}&to={MONTH[0]}", 400), (URL[URL.index("?"):] + "&partner=999", 404),
    (URL[URL.index("?"):] + "&format=xlsx", 400),
])
def test_the_api_answers_a_bad_query_in_json(client: FlaskClient, scene: Scene, query: str, status: int):
    response = client.get("/api/v1/audit/export" + query, auth=("auditor", PASSWORD))
    assert response.status_code == status and response.get_json()["message"]


def test_an_office_that_rewrites_a_file_and_its_manifest_is_still_caught(office: IssuerHome, scene: Scene,
                                                                          tmp_path: Path):
    # The manifest's hashes guard the transfer, not the office: the terminals' signatures do.
    folder = export(office, tmp_path / "export")
    museum = scene.museum_terminal
    rewrite(folder, "redemptions.csv", lambda data: data.replace(b",100000000,5000,99995000,", b",10000,5000,5000,"))
    with pytest.raises(ExportNotVerified) as caught:
        verify_export(folder)
    assert [(p.terminal, p.seq, p.check) for p in caught.value.report.failures] == [(museum, 5, "hash_mismatch")]
