"""Partners, their discount rules and their terminals (issuer/partners.py), and the officer's CLI.

The service functions run on SQLite and PostgreSQL at the fixed NOW of
tests.factories; the officer's commands run through the ``kia`` entry point, on both
databases too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from issuer import partners
from issuer.errors import Invalid, IssuerError, PartnerNotFound, TerminalNotFound
from issuer.partners import ServiceRules
from issuer.storage.models import Partner, PartnerService, Terminal
from issuer.storage.store import IssuerHome
from issuer.terminals import enroll, register_terminal, set_terminal_state
from keys.chain import MAX_MONEY
from keys.serial import ALPHABET
from kia.cli import main
from tests.factories import ACTOR, DAY, NOW, SURAKARTA, utc
from tests.factories.offices import SERVICE, UNLOCK
from tests.terminal_sim import SimulatedTerminal

TODAY = utc(NOW).date()
MOU = (TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=700))
CODE = re.compile(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")


def new_partner(office: IssuerHome, **changes: Any) -> int:
    fields = {"name": "Bioskop Solo Paragon", "kind": "cinema", "cluster": "education_culture",
              "region": SURAKARTA, "mou_start": MOU[0], "mou_end": MOU[1]} | changes
    return partners.create_partner(office, now=NOW, **fields, by=ACTOR)


def count(office: IssuerHome, model: type) -> int:
    with office.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def enrolled_terminal(office: IssuerHome, partner_id: int) -> str:
    registration = register_terminal(office, partner_id, "Kasir 1", NOW, by=ACTOR)
    enroll(office, UNLOCK, registration.enrolment_code, SimulatedTerminal().public_jwk, NOW, by=ACTOR)
    return registration.terminal_id


# --- partners ------------------------------------------------------------------


def test_a_partner_is_created_with_its_mou(office: IssuerHome):
    partner_id = new_partner(office, name="  Kolam Renang Manahan ", kind="pool", cluster="health_welfare")
    with office.transaction() as session:
        row = session.get_one(Partner, partner_id)
        assert (row.name, row.kind, row.cluster, row.region) == ("Kolam Renang Manahan", "pool", "health_welfare",
                                                                 SURAKARTA)
        assert (row.mou_start, row.mou_end, row.created_at) == (*MOU, NOW)


def test_a_partner_with_a_bad_field_is_refused_before_anything_is_written(office: IssuerHome):
    # Each field's check is a unit test (tests/unit/issuer/test_partner_rules.py).
    with pytest.raises(Invalid, match="MoU"):
        new_partner(office, mou_end=MOU[0])
    assert count(office, Partner) == 0


# --- discount rules ------------------------------------------------------------------


def rules(**changes: Any) -> ServiceRules:
    return dataclasses.replace(SERVICE, **changes)


def test_set_service_refuses_rules_out_of_range_before_anything_is_written(office: IssuerHome):
    # Each rule's range is a unit test (tests/unit/issuer/test_partner_rules.py).
    partner_id = new_partner(office)
    with pytest.raises(Invalid, match="daily limit"):
        partners.set_service(office, partner_id, rules(daily_limit=0), NOW, by=ACTOR)
    assert count(office, PartnerService) == 0


def test_set_service_accepts_the_limits_of_each_range(office: IssuerHome):
    partner_id = new_partner(office)
    edges = [
        rules(code="gratis", discount_kind="percent", discount_value=100, daily_limit=100, passback_seconds=86_400),
        rules(code="tanpa-diskon", discount_kind="percent", discount_value=0, daily_limit=1, passback_seconds=0),
        rules(code="potongan-maks", prices={"13-16": MAX_MONEY}, discount_kind="fixed", discount_value=MAX_MONEY),
        rules(code="potongan-nol", prices={"0-4": 0}, discount_kind="fixed", discount_value=0),
    ]
    for edge in edges:
        partners.set_service(office, partner_id, edge, NOW, by=ACTOR)
    with office.transaction() as session:
        stored = [partners.service_rules(row) for row in session.scalars(select(PartnerService))]
    assert sorted(stored, key=lambda r: r.code) == sorted(edges, key=lambda r: r.code)


def test_set_service_replaces_the_rules_of_the_same_code(office: IssuerHome):
    partner_id, other = new_partner(office), new_partner(office, name="Bioskop Lain")
    partners.set_service(office, partner_id, SERVICE, NOW, by=ACTOR)
    changed = rules(name="Bioskop reguler (baru)", prices={"5-12": 45_000}, discount_kind="fixed",
                    discount_value=10_000, daily_limit=1, passback_seconds=0)
    partners.set_service(office, partner_id, changed, NOW, by=ACTOR)
    partners.set_service(office, other, SERVICE, NOW, by=ACTOR)  # the same code at another partner is another service
    with office.transaction() as session:
        mine = [partners.service_rules(row) for row in
                session.scalars(select(PartnerService).where(PartnerService.partner_id == partner_id))]
    assert mine == [changed] and count(office, PartnerService) == 2


def test_set_service_for_an_unknown_partner_is_refused(office: IssuerHome):
    with pytest.raises(PartnerNotFound, match="no partner 42"):
        partners.set_service(office, 42, SERVICE, NOW, by=ACTOR)


# --- terminals -----------------------------------------------------------------------


def test_register_terminal_makes_a_pending_terminal_and_keeps_only_the_code_hash(office: IssuerHome):
    partner_id = new_partner(office)
    registration = register_terminal(office, partner_id, " Kasir 1 ", NOW, by=ACTOR)
    code = registration.enrolment_code
    assert len(code) == 14 and CODE.fullmatch(code)
    assert re.fullmatch(rf"T-[{ALPHABET}]{{8}}", registration.terminal_id)
    assert registration.expires_at == NOW + 7 * DAY

    with office.transaction() as session:
        row = session.get_one(Terminal, registration.terminal_id)
        assert (row.partner_id, row.name, row.state, row.created_at) == (partner_id, "Kasir 1", "pending", NOW)
        assert (row.public_jwk, row.enrolled_at, row.acknowledged_seq, row.chain_hash) == (None, None, 0, "0" * 64)
        assert row.enrolment_expires_at == registration.expires_at
        assert row.enrolment_code_hash == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
        raw = session.execute(select(Terminal.__table__).where(Terminal.id == row.id)).one()
    spellings = {code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()}
    assert not [value for value in raw if any(spelling in str(value) for spelling in spellings)]


def test_each_registration_gets_its_own_terminal_and_code(office: IssuerHome):
    partner_id = new_partner(office)
    made = [register_terminal(office, partner_id, f"Kasir {n}", NOW, by=ACTOR) for n in range(5)]
    assert len({r.terminal_id for r in made}) == len({r.enrolment_code for r in made}) == 5


def test_register_terminal_refuses_a_blank_name_or_an_unknown_partner(office: IssuerHome):
    partner_id = new_partner(office)
    with pytest.raises(IssuerError, match="terminal's name"):
        register_terminal(office, partner_id, "  ", NOW, by=ACTOR)
    with pytest.raises(PartnerNotFound, match="no partner 42"):
        register_terminal(office, 42, "Kasir", NOW, by=ACTOR)
    assert count(office, Terminal) == 0


def state_of(office: IssuerHome, terminal_id: str) -> str:
    with office.transaction() as session:
        return session.get_one(Terminal, terminal_id).state


def test_an_enrolled_terminal_is_suspended_reactivated_and_retired_for_good(office: IssuerHome):
    terminal_id = enrolled_terminal(office, new_partner(office))
    assert state_of(office, terminal_id) == "active"
    for state in ("suspended", "suspended", "active", "retired"):
        set_terminal_state(office, terminal_id, state, NOW, by=ACTOR)
        assert state_of(office, terminal_id) == state
    for state in ("active", "suspended", "retired"):
        with pytest.raises(IssuerError, match=f"is retired and cannot become {state}"):
            set_terminal_state(office, terminal_id, state, NOW, by=ACTOR)
    assert state_of(office, terminal_id) == "retired"


def test_a_pending_terminal_cannot_be_activated_without_enrolment(office: IssuerHome):
    registration = register_terminal(office, new_partner(office), "Kasir", NOW, by=ACTOR)
    with pytest.raises(IssuerError, match="is pending and cannot become active"):
        set_terminal_state(office, registration.terminal_id, "active", NOW, by=ACTOR)
    assert state_of(office, registration.terminal_id) == "pending"
    set_terminal_state(office, registration.terminal_id, "retired", NOW,
                       by=ACTOR)  # a code never used can be withdrawn
    assert state_of(office, registration.terminal_id) == "retired"


def test_set_terminal_state_refuses_unknown_states_and_terminals(office: IssuerHome):
    terminal_id = enrolled_terminal(office, new_partner(office))
    for state in ("pending", "deleted", "ACTIVE", ""):
        with pytest.raises(IssuerError, match="active, suspended or retired"):
            set_terminal_state(office, terminal_id, state, NOW, by=ACTOR)
    with pytest.raises(TerminalNotFound, match="no terminal T-NOBODY"):
        set_terminal_state(office, "T-NOBODY", "suspended", NOW, by=ACTOR)
    assert state_of(office, terminal_id) == "active"


# --- the officer's CLI ---------------------------------------------------------------
# In-process through kia.cli.main, the console script's entry point with its error
# handling: a subprocess costs a second here, and tests/e2e/test_sync_http.py runs
# the installed script itself.


def kia(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``kia issuer ARGS...``."""
    with pytest.raises(SystemExit) as exited:
        main(["issuer", *map(str, args)])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, issuer_db_url: str | None) -> None:
    """The office shell: KIA_DATABASE_URL names PostgreSQL, or is unset for SQLite in the home."""
    for name in ("KIA_DATABASE_URL", "KIA_KEY_PASSPHRASE", "KIA_KEY_PASSPHRASE_FILE", "KIA_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    if issuer_db_url:
        monkeypatch.setenv("KIA_DATABASE_URL", issuer_db_url)


def test_the_officer_adds_partners_and_rules_and_manages_terminals_with_kia(
    capsys: pytest.CaptureFixture[str], office: IssuerHome, cli_env: None
):
    today = dt.datetime.now(dt.UTC).date()

    def ok(*args: str) -> Any:
        status, out, err = kia(capsys, *args, "--home", office.path)
        assert (status, err) == (0, "")
        return json.loads(out)

    start = today - dt.timedelta(days=30)
    added = ok("partner", "add", "--name", "Kolam Renang Manahan", "--kind", "pool", "--cluster", "health_welfare",
               "--region", "3372", "--mou-start", start.isoformat())
    two_years = (start.replace(year=start.year + 2) - dt.timedelta(days=1)).isoformat()
    assert added == {"partner_id": 1, "mou_start": start.isoformat(), "mou_end": two_years}
    ok("partner", "add", "--name", "Museum Lama", "--kind", "museum", "--cluster", "education_culture",
       "--region", "3372", "--mou-start", "2020-01-01", "--mou-end", "2021-12-31")

    service = ok("partner", "service", "1", "--code", "renang-anak", "--name", "Renang anak", "--price", "5-12=15000",
                 "--price", "13-16=20000", "--percent", "50", "--daily-limit", "2", "--passback", "3600")
    assert service["service"] == {
        "code": "renang-anak", "name": "Renang anak", "prices": {"13-16": 20000, "5-12": 15000},
        "discount": {"kind": "percent", "value": 50}, "daily_limit": 2, "passback_seconds": 3600,
    }
    replaced = ok("partner", "service", "1", "--code", "renang-anak", "--name", "Renang anak",
                  "--price", "5-12=15000", "--fixed", "5000")
    assert replaced["service"]["discount"] == {"kind": "fixed", "value": 5000}
    assert replaced["service"]["daily_limit"] == 1 and replaced["service"]["passback_seconds"] == 0

    assert ok("partner", "regions", "1", "--region", "9171", "--region", "6311") == {
        "partner_id": 1, "other_regions": "listed", "regions": [6311, 9171]}
    listed = ok("partner", "list")
    assert [(p["partner_id"], p["mou_state"], p["services"], p["other_regions"], p["regions"]) for p in listed] == [
        (1, "in_force", ["renang-anak"], "listed", [6311, 9171]), (2, "expired", [], "none", None)]

    registered = ok("terminal", "register", "--partner", "1", "--name", "Loket 1")
    assert CODE.fullmatch(registered["enrolment_code"])
    terminal_id = registered["terminal_id"]
    enroll(office, UNLOCK, registered["enrolment_code"], SimulatedTerminal().public_jwk,
           int(dt.datetime.now(dt.UTC).timestamp()), by=ACTOR)
    for verb, state in (("suspend", "suspended"), ("activate", "active"), ("retire", "retired")):
        assert ok("terminal", verb, terminal_id) == {"terminal_id": terminal_id, "state": state}
        assert state_of(office, terminal_id) == state


def test_bad_officer_commands_say_what_is_wrong_in_one_line(
    capsys: pytest.CaptureFixture[str], office: IssuerHome, cli_env: None, tmp_path: Path
):
    partner_id = new_partner(office)
    pending = register_terminal(office, partner_id, "Kasir", NOW, by=ACTOR).terminal_id
    at = ("--home", str(office.path))
    service = ("partner", "service", str(partner_id), *at, "--code", "reguler", "--name", "Reguler")
    commands: dict[str, tuple[tuple[str, ...], int, str]] = {  # arguments, exit status, words of the message
        "partner_add_bad_region": (("partner", "add", *at, "--name", "X", "--kind", "cinema", "--cluster",
                                    "health_welfare", "--region", "3300", "--mou-start", "2026-01-01"), 1, "region"),
        "partner_add_bad_kind": (("partner", "add", *at, "--name", "X", "--kind", "casino", "--cluster",
                                  "health_welfare", "--region", "3372", "--mou-start", "2026-01-01"), 2, "--kind"),
        "partner_add_mou_backwards": (("partner", "add", *at, "--name", "X", "--kind", "cinema", "--cluster",
                                       "health_welfare", "--region", "3372", "--mou-start", "2026-01-01",
                                       "--mou-end", "2025-01-01"), 1, "MoU"),
        "service_without_a_discount": ((*service, "--price", "5-12=1000"), 2, "--percent"),
        "service_price_not_rupiah": ((*service, "--price", "5-12=murah", "--percent", "10"), 2, "CATEGORY=RUPIAH"),
        "service_unknown_category": ((*service, "--price", "17+=1000", "--percent", "10"), 1, "age category"),
        "service_percent_over_100": ((*service, "--price", "5-12=1000", "--percent", "150"), 2, "--percent"),
        "service_unknown_partner": (("partner", "service", "9", *service[3:], "--price", "5-12=1", "--fixed", "1"),
                                    1, "no partner 9"),
        "list_not_an_office": (("partner", "list", "--home", str(tmp_path / "nowhere")), 2, "kia issuer init"),
        "regions_no_choice": (("partner", "regions", str(partner_id), *at), 2, "--all"),
        "regions_two_choices": (("partner", "regions", str(partner_id), *at, "--all", "--none"), 2, "exactly one"),
        "regions_bad_code": (("partner", "regions", str(partner_id), *at, "--region", "12"), 1, "4-digit"),
        "regions_own_region": (("partner", "regions", str(partner_id), *at, "--region", "3372"), 1, "own"),
        "regions_unknown_partner": (("partner", "regions", "9", *at, "--all"), 1, "no partner 9"),
        "register_unknown_partner": (("terminal", "register", *at, "--partner", "9", "--name", "K"), 1, "partner 9"),
        "register_blank_name": (("terminal", "register", *at, "--partner", str(partner_id), "--name", " "), 1,
                                "name"),
        "suspend_unknown_terminal": (("terminal", "suspend", "T-NOBODY00", *at), 1, "no terminal T-NOBODY00"),
        "activate_pending_terminal": (("terminal", "activate", pending, *at), 1, "cannot become active"),
        "retire_without_a_terminal": (("terminal", "retire", *at), 2, "TERMINAL_ID"),
    }
    seen = {}
    for name, (args, _, words) in commands.items():
        status, out, err = kia(capsys, *args)
        seen[name] = (status, out, err.count("\n"), err.startswith("kia: "), words in err, "Traceback" in err)
    assert seen == {name: (status, "", 1, True, True, False) for name, (_, status, _) in commands.items()}
    assert count(office, Partner) == 1 and count(office, PartnerService) == 0 and count(office, Terminal) == 1
    assert state_of(office, pending) == "pending"
