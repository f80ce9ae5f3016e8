"""What a terminal decides with under the national directory: verifier.federation.decision_trust."""

from __future__ import annotations

from keys.chain import Redemption
from keys.directory import OfficeState
from keys.federation import FederatedTrust
from keys.jwk import public_key_bytes
from keys.serial import new_serial
from tests.factories import BALANGAN, DAY, JAYAPURA, NOW, SURAKARTA
from tests.factories.federation import make_directory, make_office
from verifier.decision import NO_HISTORY, Decision, Service, decide
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


# --- home: the region of another office's card, in the record --------------------------------


def _federated(*others, accept_regions=None) -> FederatedTrust:
    national = make_directory([office.entry() for office in (OWN, *others)])
    trust = decision_trust(OWN.trust.trust_list, OWN_ROOT, national.directory,
                           [office.listed(national.directory) for office in others], NOW, accept_regions)
    assert isinstance(trust, FederatedTrust) and trust.own_region == SURAKARTA
    return trust


def _decide(payload: str, trust, now: int = NOW) -> Decision:
    return decide(payload, trust, SERVICE, lambda *_: NO_HISTORY, now)


def test_a_card_of_another_office_is_recorded_with_its_home_region() -> None:
    decision = _decide(BALANGAN_OFFICE.card(new_serial()), _federated(BALANGAN_OFFICE))

    assert (decision.reason, decision.home) == ("accepted", BALANGAN)
    record = decision.record(1, NOW)
    assert record.home == BALANGAN and record.to_json()["home"] == BALANGAN
    assert Redemption.from_json(record.to_json()) == record


def test_an_own_region_card_under_the_directory_has_no_home() -> None:
    decision = _decide(OWN.card(new_serial()), _federated(BALANGAN_OFFICE))

    assert (decision.reason, decision.home) == ("accepted", None)
    assert "home" not in decision.record(1, NOW).to_json()


def test_a_terminal_on_its_own_list_alone_never_records_home() -> None:
    own_list = OWN.trust.trust_list

    assert [(decision.reason, decision.home) for decision in (
        _decide(OWN.card(new_serial()), own_list), _decide(BALANGAN_OFFICE.card(new_serial()), own_list))] == [
        ("accepted", None), ("unknown_key", None)]


def test_a_card_of_a_region_not_trusted_here_records_no_home() -> None:
    # Jayapura's card names its region, but no key held here verified it: an unverified region is never written.
    decision = _decide(JAYAPURA_OFFICE.card(new_serial()), _federated(BALANGAN_OFFICE))

    assert (decision.reason, decision.serial, decision.home) == ("unknown_key", None, None)


def test_a_forged_signature_under_another_offices_kid_records_no_home() -> None:
    genuine, other = BALANGAN_OFFICE.card(new_serial()), BALANGAN_OFFICE.card(new_serial())
    forged = genuine.rpartition(".")[0] + "." + other.rpartition(".")[2]

    decision = _decide(forged, _federated(BALANGAN_OFFICE))

    assert (decision.reason, decision.home) == ("bad_signature", None)


def test_a_card_another_office_refused_after_its_signature_keeps_that_offices_region() -> None:
    # The signature verified under Balangan's key: the region is authenticated, and the office learns
    # whose card was refused.
    revoked = new_serial()
    revoking = make_office(BALANGAN, revoked=[revoked])
    trust = _federated(revoking)

    refusals = [_decide(revoking.card(revoked), trust), _decide(revoking.card(new_serial(), now=NOW + 2 * DAY), trust)]

    assert [(decision.reason, decision.home) for decision in refusals] == [
        ("card_revoked", BALANGAN), ("not_yet_valid", BALANGAN)]
    assert refusals[0].serial == revoked


def test_another_office_signing_a_card_of_the_own_region_is_recorded_under_the_signing_office() -> None:
    forged_region = BALANGAN_OFFICE.card(new_serial(), region=SURAKARTA)
    own_claiming_balangan = OWN.card(new_serial(), region=BALANGAN)
    trust = _federated(BALANGAN_OFFICE)

    assert [(decision.reason, decision.home) for decision in (
        _decide(forged_region, trust), _decide(own_claiming_balangan, trust))] == [
        ("bad_claims", BALANGAN), ("bad_claims", None)]
