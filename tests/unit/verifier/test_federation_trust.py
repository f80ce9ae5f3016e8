"""What a terminal decides with under the national directory: verifier.federation.decision_trust."""

from __future__ import annotations

from keys.directory import OfficeState
from keys.federation import FederatedTrust
from keys.jwk import public_key_bytes
from keys.serial import new_serial
from tests.factories import BALANGAN, DAY, JAYAPURA, NOW, SURAKARTA
from tests.factories.federation import make_directory, make_office
from verifier.decision import NO_HISTORY, Service, decide
from verifier.federation import decision_trust

SERVICE = Service.from_json({"code": "museum", "name": "Museum", "prices": {"5-12": 10_000},
                             "discount": {"kind": "fixed", "value": 2_500}, "daily_limit": 1,
                             "passback_seconds": 0})
OWN, BALANGAN_OFFICE, JAYAPURA_OFFICE = make_office(SURAKARTA), make_office(BALANGAN), make_office(JAYAPURA)
OWN_ROOT = public_key_bytes(OWN.root.public_key())


def _reason(trust, office, now: int = NOW) -> str:
    return decide(office.card(new_serial()), trust, SERVICE, lambda *_: NO_HISTORY, now).reason


def test_without_a_directory_the_own_list_decides_alone() -> None:
    assert decision_trust(OWN.trust.trust_list, OWN_ROOT, None, [], NOW) is OWN.trust.trust_list


def test_with_a_directory_every_trusted_office_is_accepted() -> None:
    national = make_directory([office.entry() for office in (OWN, BALANGAN_OFFICE, JAYAPURA_OFFICE)])
    trust = decision_trust(OWN.trust.trust_list, OWN_ROOT, national.directory,
                           [BALANGAN_OFFICE.listed(national.directory), JAYAPURA_OFFICE.listed(national.directory)],
                           NOW)

    assert isinstance(trust, FederatedTrust) and trust.regions == (SURAKARTA, BALANGAN, JAYAPURA)
    assert [_reason(trust, office) for office in (OWN, BALANGAN_OFFICE, JAYAPURA_OFFICE)] == ["accepted"] * 3


def test_a_list_held_for_the_own_region_never_replaces_the_own_offices_list() -> None:
    # Another root the ministry lists for Surakarta: the terminal's own office stays its authority.
    impostor = make_office(SURAKARTA)
    national = make_directory([impostor.entry(), BALANGAN_OFFICE.entry()])
    trust = decision_trust(OWN.trust.trust_list, OWN_ROOT, national.directory, [impostor.listed(national.directory)],
                           NOW)

    assert trust is OWN.trust.trust_list  # the directory does not list the own root: own list alone
    assert _reason(trust, impostor) == "unknown_key"
    assert _reason(trust, OWN) == "accepted"


def test_an_office_past_its_validity_is_left_out_at_the_decisions_time() -> None:
    national = make_directory([OWN.entry(), BALANGAN_OFFICE.entry(valid_until=NOW + DAY)])
    listed = [BALANGAN_OFFICE.listed(national.directory)]

    before = decision_trust(OWN.trust.trust_list, OWN_ROOT, national.directory, listed, NOW)
    after = decision_trust(OWN.trust.trust_list, OWN_ROOT, national.directory, listed, NOW + DAY)

    assert isinstance(before, FederatedTrust) and before.regions == (SURAKARTA, BALANGAN)
    assert isinstance(after, FederatedTrust) and after.regions == (SURAKARTA,)


def test_a_suspended_own_office_keeps_deciding_its_own_cards_alone() -> None:
    national = make_directory([OWN.entry(OfficeState.SUSPENDED), BALANGAN_OFFICE.entry()])
    trust = decision_trust(OWN.trust.trust_list, OWN_ROOT, national.directory,
                           [BALANGAN_OFFICE.listed(national.directory)], NOW)

    assert trust is OWN.trust.trust_list


def test_the_partners_choice_always_keeps_the_own_region() -> None:
    national = make_directory([office.entry() for office in (OWN, BALANGAN_OFFICE, JAYAPURA_OFFICE)])
    trust = decision_trust(OWN.trust.trust_list, OWN_ROOT, national.directory,
                           [BALANGAN_OFFICE.listed(national.directory), JAYAPURA_OFFICE.listed(national.directory)],
                           NOW, accept_regions=[JAYAPURA])

    assert isinstance(trust, FederatedTrust) and trust.regions == (SURAKARTA, JAYAPURA)
