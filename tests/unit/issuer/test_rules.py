"""The office's pure rules, without a database: agreements, local days, the audit actor, error families."""

from __future__ import annotations

import datetime as dt
import getpass

import pytest

from issuer import partners
from issuer.app import _error_code
from issuer.audit import Actor
from issuer.errors import (
    BatchFileError,
    BundleRollback,
    CardAlreadyRevoked,
    DatabaseUnavailable,
    HomeNotFound,
    Invalid,
    IssuerError,
    NotFound,
    PartnerNotFound,
    SyncRefused,
    TerminalSuspended,
    UnknownCard,
)
from issuer.storage.models import Partner
from keys.chain import SyncError
from keys.errors import KeyStoreError
from kia.cli import exit_code_for
from tests.factories import BALANGAN, JAYAPURA, SURAKARTA
from verifier.decision import ConfigInvalid, NoPriceForCategory
from verifier.home import HomeError
from verifier.log import LogCorrupt

WIB_MIDNIGHT_DEC_1 = int(dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC).timestamp())  # 00:00 WIB, 1 December


@pytest.mark.parametrize(("start", "end"), [
    (dt.date(2026, 1, 1), dt.date(2027, 12, 31)),
    (dt.date(2026, 3, 15), dt.date(2028, 3, 14)),
    (dt.date(2028, 2, 29), dt.date(2030, 2, 28)),  # no 29 February two years on: to the day before 1 March
    (dt.date(2027, 3, 1), dt.date(2029, 2, 28)),
])
def test_an_agreement_runs_two_years_to_the_day_before_its_second_anniversary(start: dt.date, end: dt.date) -> None:
    assert partners.default_mou_end(start) == end


@pytest.mark.parametrize(("region", "day"), [
    (SURAKARTA, dt.date(2026, 12, 1)),  # WIB: midnight has struck
    (BALANGAN, dt.date(2026, 12, 1)),  # WITA: 01:00
    (JAYAPURA, dt.date(2026, 12, 1)),  # WIT: 02:00
])
def test_the_local_day_is_the_regions_not_utcs(region: int, day: dt.date) -> None:
    assert partners.local_today(region, WIB_MIDNIGHT_DEC_1) == day
    assert partners.local_today(region, WIB_MIDNIGHT_DEC_1 - 3600 * 3) == dt.date(2026, 11, 30)


def agreement(end: dt.date, region: int = SURAKARTA) -> Partner:
    return Partner(name="Kolam", kind="pool", cluster="health_welfare", region=region,
                   mou_start=dt.date(2025, 1, 1), mou_end=end)


@pytest.mark.parametrize(("end", "state", "active"), [
    (dt.date(2026, 11, 30), "expired", False),  # it ended yesterday, local time (still 30 November in UTC)
    (dt.date(2026, 12, 1), "ending_soon", True),  # its last day
    (dt.date(2027, 3, 1), "ending_soon", True),  # 90 days on
    (dt.date(2027, 3, 2), "in_force", True),  # 91 days on
])
def test_an_agreements_state_on_the_partners_local_day(end: dt.date, state: str, active: bool) -> None:
    assert partners.mou_state(agreement(end), WIB_MIDNIGHT_DEC_1) == state
    assert partners.mou_active(agreement(end), WIB_MIDNIGHT_DEC_1) is active


def test_the_command_line_actor_is_the_operating_system_user_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Actor.command_line() == Actor(f"cli:{getpass.getuser()}", "local")

    def no_name() -> str:
        raise KeyError("uid 4242 has no name")

    monkeypatch.setattr(getpass, "getuser", no_name)
    assert Actor.command_line().username == "cli:?"  # a bare container's uid still audits


def test_an_actors_name_is_cut_to_the_audit_column() -> None:
    assert len(Actor.terminal("T-" + "X" * 100, "10.0.0.7").username) == 64


@pytest.mark.parametrize(("error", "status", "code", "exit_code"), [
    (Invalid("bad"), 400, "invalid", 1),
    (IssuerError("bad"), 400, "invalid", 1),
    (BatchFileError("unreadable"), 400, "invalid", 2),
    (UnknownCard("no card"), 404, "not_found", 1),
    (PartnerNotFound("no partner"), 404, "not_found", 1),
    (CardAlreadyRevoked("revoked"), 409, "refused", 1),
    (BundleRollback("older"), 409, "refused", 1),
    (HomeNotFound("no home"), 503, "unavailable", 2),
    (DatabaseUnavailable("down"), 503, "unavailable", 2),
])
def test_each_office_error_family_maps_once_to_a_status_and_an_exit_code(
    error: IssuerError, status: int, code: str, exit_code: int
) -> None:
    assert (error.http_status, _error_code(error), exit_code_for(error)) == (status, code, exit_code)


def test_sync_refusals_are_refusals_of_the_office_and_sync_errors() -> None:
    refusal = SyncRefused("gap", "send from 5", 4)
    assert isinstance(refusal, SyncError) and isinstance(refusal, NotFound) is False
    assert (_error_code(refusal), refusal.code, refusal.acknowledged) == ("refused", "gap", 4)
    assert TerminalSuspended("suspended").http_status == 403


@pytest.mark.parametrize(("error", "exit_code"), [
    (HomeError("no home"), 2),
    (LogCorrupt("damaged"), 2),
    (ConfigInvalid("bad rules"), 2),
    (NoPriceForCategory("tiket", "0-4"), 1),
    (KeyStoreError("no passphrase"), 2),
])
def test_the_terminals_errors_and_the_key_stores_carry_their_exit_codes(error: Exception, exit_code: int) -> None:
    assert exit_code_for(error) == exit_code  # type: ignore[arg-type]
