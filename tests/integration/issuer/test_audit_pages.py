"""The auditor's pages through Flask's test client (both databases): who may open them, what they
filter, page and export, and the quarantine decisions they make (CSRF-protected, audited).

The office is tests.factories.audit_data's scene at NOW: 83 records at four
terminals of three partners, six of them held (five awaiting a decision,
one confirmed), one released, two flagged stale by the terminal.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from issuer import create_app, transparency, witnessing
from issuer.storage.models import AuditEvent, RedemptionRow
from issuer.storage.store import IssuerHome
from issuer.web.i18n import TEXT
from keys.cosignature import CosignerKey
from tests.factories import ACTOR, DAY, NOW
from tests.factories.audit_data import MUSEUM, Scene, accepted, audit_scene
from tests.factories.offices import PASSWORD, UNLOCK
from tests.terminal_sim import send

PAGES = ("/audit/", "/audit/redemptions", "/audit/redemptions.csv", "/audit/quarantine", "/audit/alarms",
         "/audit/trail")
RECORDS, HELD, FLAGGED = 83, 6, 2


@pytest.fixture
def founded_at() -> int:
    return NOW - 40 * DAY


@pytest.fixture
def scene(office: IssuerHome) -> Scene:
    return audit_scene(office, NOW)


@pytest.fixture
def app(office: IssuerHome, scene: Scene) -> Iterator[Flask]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True},
                     now=lambda: NOW)
    yield app
    app.extensions["kia_home"].close()


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, "the page carries no CSRF token"
    return found[1]


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


@pytest.fixture
def auditor(app: Flask) -> FlaskClient:
    return signed_in(app, "auditor")


def rows(page: str, table: str) -> list[str]:
    """The text of each body row of the table with id ``table``, tags stripped and spaces collapsed."""
    body = re.search(rf'<table[^>]*id="{table}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, f"no table {table}"
    cells = re.findall(r"<tr[^>]*>(.*?)</tr>", body[1], re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in cells]


def text(page: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no element {element_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found[2])).split())


def get(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(True)[:500]
    return response.get_data(True)


# --- who may look ---------------------------------------------------------------


@pytest.mark.parametrize("username", ["officer", "manager"])
def test_officers_and_partner_managers_see_no_audit_page(app: Flask, username: str):
    client = signed_in(app, username)
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    assert "/audit/" not in get(client, "/")  # and no link to them


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(app: Flask):
    for path in PAGES:
        response = app.test_client().get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


@pytest.mark.parametrize("username", ["auditor", "admin"])
def test_auditors_and_admins_open_every_audit_page(app: Flask, username: str):
    client = signed_in(app, username)
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    assert 'href="/audit/"' in get(client, "/")


# --- the overview --------------------------------------------------------------------


def test_the_overview_counts_what_waits_for_an_auditor(auditor: FlaskClient):
    page = get(auditor, "/audit/")
    assert text(page, "count-awaiting").startswith("5 Catatan menunggu keputusan")
    assert text(page, "count-findings").startswith("5 ")
    assert text(page, "count-held").startswith(f"{HELD} ")
    assert text(page, "count-alarms").startswith("7 ")  # one per check the museum's batch failed


def test_the_overview_shows_the_logs_latest_checkpoint_and_who_cosigned_it(auditor: FlaskClient,
                                                                          office: IssuerHome, tmp_path):
    assert "Log belum punya checkpoint" in text(get(auditor, "/audit/"), "no-checkpoint")
    transparency.init_log(office, UNLOCK, "kia.surakarta.example/log", NOW, by=ACTOR)
    witness = CosignerKey.of("inspektorat.example/saksi", Ed25519PrivateKey.generate())
    witnessing.add_witness(office, "http://127.0.0.1:9/", witness.verifier_key(), NOW, by=ACTOR)
    checkpoint = transparency.sign(office, UNLOCK, NOW)
    page = get(auditor, "/audit/")
    assert text(page, "log-size") == f"{checkpoint.size:,}".replace(",", ".")
    assert "inspektorat.example/saksi: belum menandatangani checkpoint ini" in text(page, "checkpoint")
    assert html.escape(checkpoint.note.splitlines()[0]) in page


# --- redemptions ---------------------------------------------------------------------


def test_the_redemption_browser_pages_fifty_at_a_time_newest_scan_first(auditor: FlaskClient):
    first = get(auditor, "/audit/redemptions")
    assert text(first, "summary") == f"{RECORDS} ditemukan · menampilkan 1–50"
    shown = rows(first, "redemptions")
    assert len(shown) == 50
    assert shown[0].startswith("2027-06-10 10:00:00 WIB Museum Keris Nusantara")  # the scan dated in the future
    next_link = html.unescape(re.search(r'id="next-page" href="([^"]+)"', first)[1])  # type: ignore[index]
    second = get(auditor, next_link)
    assert text(second, "summary") == f"{RECORDS} ditemukan · menampilkan 51–{RECORDS}"
    assert len(rows(second, "redemptions")) == RECORDS - 50
    assert 'id="next-page"' not in second
    assert not set(rows(second, "redemptions")) & set(shown)


def test_a_held_row_shows_its_badge_its_checks_in_bahasa_and_rupiah(auditor: FlaskClient, scene: Scene):
    page = get(auditor, f"/audit/redemptions?terminal={scene.museum_terminal}&check=rules_mismatch")
    (row,) = rows(page, "redemptions")
    assert f"{scene.museum_terminal} #5" in row
    assert "Rp 100.000.000 Rp 5.000 Rp 99.995.000" in row
    assert "Ditahan Harga atau potongan tidak sesuai aturan mitra (dikonfirmasi)" in row


FILTERS = [  # (query, how many records it finds)
    ("flag=held", HELD),
    ("flag=flagged", FLAGGED),
    ("flag=none", RECORDS - HELD - FLAGGED),
    ("check=serial_unknown", 1),
    ("check=card_revoked", 1),  # released since, and still found by its check
    ("partner={pool}", 8),
    ("partner={pool}&flag=held", 0),
    ("terminal={museum}", 9),
    ("from=2026-11-22&to=2026-11-22", 8),  # today: the museum's (less the future and the pre-enrolment) and cinema-2's
    ("from=2026-11-17&to=2026-11-17", 13),  # a day at the cinema: twelve cards and one unreadable scan
    ("from=2027-01-01", 1),
]


def test_the_redemption_browser_filters(auditor: FlaskClient, scene: Scene):
    for query, count in FILTERS:
        page = get(auditor, "/audit/redemptions?" + query.format(pool=scene.pool, museum=scene.museum_terminal))
        assert text(page, "summary").startswith(f"{count} ditemukan"), query


def test_a_card_is_found_by_its_serial_in_any_case(auditor: FlaskClient, office: IssuerHome):
    with office.transaction() as session:
        serial = session.scalar(select(RedemptionRow.serial).where(RedemptionRow.partner_id == 2).limit(1))
    assert serial
    page = get(auditor, f"/audit/redemptions?serial={serial.lower()}")
    assert [serial in row for row in rows(page, "redemptions")] == [True]


def test_a_filter_that_cannot_be_used_is_answered_with_a_message(auditor: FlaskClient):
    for query in ("from=2026-11-22&to=2026-11-01", "flag=stolen", "check=nothing", "from=kemarin", "partner=999"):
        assert "Saringan tidak dapat dipakai" in get(auditor, f"/audit/redemptions?{query}", 400), query
        assert auditor.get(f"/audit/redemptions.csv?{query}").status_code == 400, query
    for path in ("/audit/redemptions?after=not-a-cursor", f"/audit/redemptions?after={2**64}.1",
                 "/audit/alarms?kind=nothing", "/audit/trail?from=2026-11-22&to=2026-11-01", "/audit/trail?after=x",
                 "/audit/trail?to=9999-12-31"):
        assert "Saringan tidak dapat dipakai" in get(auditor, path, 400), path
    assert "1–50" in get(auditor, "/audit/redemptions?start=" + "9" * 5000)  # a count shown, never trusted
    assert auditor.get("/audit/quarantine?partner=99999999999999999999999").status_code == 400


# --- the export -------------------------------------------------------------------------


def exported(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/audit/redemptions.csv?{query}")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="redemptions-')
    return list(csv.DictReader(io.StringIO(response.get_data(True))))


def test_the_export_holds_every_matching_record_not_only_the_page(auditor: FlaskClient, scene: Scene):
    everything = exported(auditor)
    assert len(everything) == RECORDS
    held = exported(auditor, "flag=held")
    assert len(held) == HELD and {row["held"] for row in held} == {"True"}
    future = held[0]
    assert (future["time_utc"], future["local_time"], future["partner"], future["terminal_id"], future["seq"],
            future["checks"]) == ("2027-06-10T03:00:00Z", "2027-06-10 10:00:00 WIB", "Museum Keris Nusantara",
                                  scene.museum_terminal, "6", "future:open")


def test_the_export_link_carries_the_page_filters(auditor: FlaskClient, scene: Scene):
    page = get(auditor, f"/audit/redemptions?partner={scene.pool}&flag=none&after=1.1&start=50")
    link = html.unescape(re.search(r'id="export-csv" href="([^"]+)"', page)[1])  # type: ignore[index]
    assert link == f"/audit/redemptions.csv?partner={scene.pool}&flag=none"


def test_a_terminal_cannot_plant_a_spreadsheet_formula_in_the_export(auditor: FlaskClient, office: IssuerHome,
                                                                       scene: Scene):
    planted = dataclasses.replace(accepted(NOW - 600, ("8H635DTC", "5-12"), MUSEUM),
                                  service='=HYPERLINK("http://x","klik")')
    send(office, scene.terminals["museum"], [planted], NOW)
    (row,) = [row for row in exported(auditor) if "HYPERLINK" in row["service"]]
    assert row["service"] == "'=HYPERLINK(\"http://x\",\"klik\")"
    assert row["held"] == "True"  # a service the museum never set


# --- the quarantine queue ----------------------------------------------------------------


def decide(client: FlaskClient, terminal_id: str, seq: int, decision: str, reason: str,
           token: str | None = None) -> tuple[int, str]:
    """Post a decision from the queue page as the browser does; the status and the page it leads to."""
    form = {"decision": decision, "reason": reason,
            "csrf_token": token if token is not None else csrf_token(get(client, "/audit/quarantine"))}
    response = client.post(f"/audit/quarantine/{terminal_id}/{seq}", data=form)
    if response.status_code != 302:
        return response.status_code, response.get_data(True)
    return 302, get(client, response.headers["Location"])


def held(office: IssuerHome, terminal_id: str, seq: int) -> bool:
    with office.transaction() as session:
        return bool(session.scalar(select(RedemptionRow.held).where(RedemptionRow.terminal_id == terminal_id,
                                                                    RedemptionRow.seq == seq)))


def test_the_queue_shows_each_held_record_with_its_evidence(auditor: FlaskClient, scene: Scene):
    page = get(auditor, "/audit/quarantine")
    assert text(page, "summary") == "5 ditemukan"
    for seq in scene.held_open:
        assert f'id="held-{scene.museum_terminal}-{seq}"' in page
    assert ('Kartu tidak pernah diterbitkan</strong>: <span class="evidence">no card of this office has the serial'
            in page)
    confirmed = get(auditor, "/audit/quarantine?state=confirmed")
    assert f'id="held-{scene.museum_terminal}-{scene.confirmed}"' in confirmed
    assert 'name="decision"' not in confirmed  # decided already: nothing to press
    assert get(auditor, f"/audit/quarantine?partner={scene.pool}").count('class="held-record"') == 0


def test_an_auditor_releases_a_held_record_with_a_reason_and_it_is_audited(auditor: FlaskClient,
                                                                             office: IssuerHome, scene: Scene):
    terminal, seq = scene.museum_terminal, 3
    status, page = decide(auditor, terminal, seq, "release", "kartu lama dari kantor sebelum sistem ini")
    assert status == 302
    assert f"Catatan {terminal}#{seq} dilepas: dihitung lagi dalam pendapatan." in page
    assert not held(office, terminal, seq)
    with office.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "record_release",
                                                         AuditEvent.target == f"{terminal}#{seq}")).one()
    assert (event.username, event.at, event.remote_addr) == ("auditor", NOW, "127.0.0.1")


def test_an_admin_confirms_a_held_record_and_it_stays_held(app: Flask, office: IssuerHome, scene: Scene):
    admin = signed_in(app, "admin")
    status, page = decide(admin, scene.museum_terminal, 2, "confirm", "serial palsu")
    assert status == 302 and "tetap di luar pendapatan" in page
    assert held(office, scene.museum_terminal, 2)
    assert f'id="held-{scene.museum_terminal}-2"' not in page  # out of the queue of open records


def test_a_decision_without_a_reason_changes_nothing(auditor: FlaskClient, office: IssuerHome, scene: Scene):
    status, page = decide(auditor, scene.museum_terminal, 3, "release", "   ")
    assert status == 302 and "Tuliskan alasan keputusan" in page
    assert held(office, scene.museum_terminal, 3)


def test_a_decision_without_the_form_token_is_refused(auditor: FlaskClient, office: IssuerHome, scene: Scene):
    status, _ = decide(auditor, scene.museum_terminal, 3, "release", "dipalsukan dari situs lain", token="")
    assert status == 400
    assert held(office, scene.museum_terminal, 3)


def test_only_release_or_confirm_is_a_decision(auditor: FlaskClient, office: IssuerHome, scene: Scene):
    status, _ = decide(auditor, scene.museum_terminal, 3, "delete", "hapus saja")
    assert status == 400
    assert held(office, scene.museum_terminal, 3)


def test_deciding_twice_or_an_unknown_record_says_so(auditor: FlaskClient, scene: Scene):
    _, page = decide(auditor, scene.museum_terminal, scene.confirmed, "release", "coba lagi")
    assert "tidak punya temuan yang menunggu keputusan" in page
    _, page = decide(auditor, scene.museum_terminal, 999, "release", "tidak ada")
    assert f"Catatan {scene.museum_terminal}#999 tidak ada di kantor." in page
    status, _ = decide(auditor, scene.museum_terminal, 2**64, "release", "di luar bilangan")
    assert status == 404


@pytest.mark.parametrize("username", ["officer", "manager"])
def test_only_auditors_and_admins_decide(app: Flask, office: IssuerHome, scene: Scene, username: str):
    client = signed_in(app, username)
    token = csrf_token(get(client, "/"))
    status, _ = decide(client, scene.museum_terminal, 3, "release", "saya petugas", token=token)
    assert status == 403
    assert held(office, scene.museum_terminal, 3)


# --- alarms and the trail ---------------------------------------------------------------


def test_alarms_are_named_in_bahasa_and_filtered_by_kind_and_partner(auditor: FlaskClient, scene: Scene):
    page = get(auditor, "/audit/alarms")
    assert text(page, "summary") == "7 ditemukan · menampilkan 1–7"
    assert any(row.startswith("2026-11-22 09:00:00 WIB Kartu tidak pernah diterbitkan Museum Keris Nusantara")
               for row in rows(page, "alarms"))
    (only,) = rows(get(auditor, "/audit/alarms?kind=serial_unknown"), "alarms")
    assert scene.museum_terminal in only
    assert rows(get(auditor, f"/audit/alarms?partner={scene.pool}"), "alarms") == ["Tidak ada alarm."]
    assert "Kind of alarm" in get(auditor, "/audit/alarms?lang=en")


def actions(page: str) -> list[str]:
    """The action codes of the trail's rows, as the title of each action cell keeps them."""
    return re.findall(r'<td class="action" title="([^"]*)">', page)


def test_the_trail_filters_by_person_action_target_and_day(auditor: FlaskClient, scene: Scene):
    decisions = rows(get(auditor, "/audit/trail?user=AUDITOR&action=record_confirm"), "trail")
    assert decisions == [
        f"2026-11-22 09:40:00 WIB auditor Catatan karantina dikonfirmasi {scene.museum_terminal}#5 10.0.0.7"]
    by_target = get(auditor, f"/audit/trail?target={scene.museum_terminal.lower()}")
    assert actions(by_target) == ["record_confirm", "record_release", "terminal_enrol", "terminal_register"]
    assert rows(get(auditor, "/audit/trail?target=100%25"), "trail") == ["Belum ada data."]  # % is text, not a pattern
    one_day = get(auditor, "/audit/trail?from=2026-11-16&to=2026-11-16")
    assert actions(one_day) == ["card_revoke"] and "Kartu dicabut" in rows(one_day, "trail")[0]
    assert "Waktu dalam zona WIB." in one_day


@pytest.mark.parametrize(("lang", "words"), [("id", 0), ("en", 1)])
def test_the_trail_names_each_action_in_words_and_keeps_its_code(auditor: FlaskClient, office: IssuerHome,
                                                                 lang: str, words: int):
    with office.transaction() as session:
        session.add(AuditEvent(at=NOW, username="kepala", action="legacy_thing", target=None, remote_addr=None))
        written = set(session.scalars(select(AuditEvent.action)))
    assert len(written) > 10  # the scene's actions, and the one an older office wrote
    everything = get(auditor, f"/audit/trail?lang={lang}")
    for code in written - {"legacy_thing"}:
        name = escape(TEXT[f"action_{code}"][words])  # as the page escapes it
        assert f'<option value="{code}">{name}</option>' in everything  # the filter's choices are in words too
        page = get(auditor, f"/audit/trail?action={code}&lang={lang}")
        assert set(actions(page)) == {code} and f'<td class="action" title="{code}">{name}</td>' in page
        assert not any(code in line.split() for line in rows(page, "trail")), code  # no raw code in a row's text
    page = get(auditor, f"/audit/trail?action=legacy_thing&lang={lang}")
    assert '<td class="action" title="legacy_thing">legacy_thing</td>' in page  # an unknown action: its code


def test_the_pages_speak_english_when_asked(auditor: FlaskClient):
    page = get(auditor, "/audit/redemptions?lang=en")
    assert "<h1>Redemptions</h1>" in page and text(page, "summary") == f"{RECORDS} found · showing 1–50"
    assert "Export CSV" in page
    assert "<h1>Quarantine</h1>" in get(auditor, "/audit/quarantine?lang=en")
