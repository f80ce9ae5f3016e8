"""Cards of three offices at one terminal, under the national directory (keys.federation).

Three regency/city offices (Surakarta, Balangan, Jayapura) each with their
own root, issuing key and trust list; the ministry lists their roots; one
terminal pins the national root and decides on cards of all three.  The
attacks each have a test named after them.
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import errors, qr_text, verify_card, verify_trust_list
from keys.directory import OfficeState, verify_directory
from keys.federation import (
    FederatedTrust,
    OfficeTrustList,
    apply_office_delta,
    federate,
    signing_region,
    verify_office_trust_list,
)
from keys.serial import serial_from_value
from keys.trustlist import build_trust_list, sign_delta, sign_trust_list
from tests.factories import BALANGAN, DAY, JAYAPURA, NOW, SURAKARTA, make_card, make_trust
from tests.factories.federation import colliding_signers, make_directory, make_office
from verifier.decision import NO_HISTORY, Service, decide

SERVICE = Service.from_json({
    "code": "museum",
    "name": "Museum Nasional",
    "prices": {"0-4": 0, "5-12": 10_000, "13-16": 15_000},
    "discount": {"kind": "percent", "value": 50},
    "daily_limit": 2,
    "passback_seconds": 0,
})
REVOKED_IN_SURAKARTA = serial_from_value(4242)
REGIONS = (SURAKARTA, BALANGAN, JAYAPURA)


def no_history(serial, service, now):
    return NO_HISTORY


def scan(payload, trust, now=NOW):
    return decide(payload, trust, SERVICE, no_history, now)


def assert_card_refused(call, error, reason):
    with pytest.raises(errors.InvalidCardError) as info:
        call()
    assert type(info.value) is error, info.value
    assert info.value.reason == reason


@pytest.fixture(scope="module")
def offices():
    return {
        SURAKARTA: make_office(SURAKARTA, revoked=[REVOKED_IN_SURAKARTA]),
        BALANGAN: make_office(BALANGAN),
        JAYAPURA: make_office(JAYAPURA),
    }


@pytest.fixture(scope="module")
def national(offices):
    return make_directory([office.entry() for office in offices.values()])


@pytest.fixture(scope="module")
def terminal(national, offices):
    """What a terminal builds: the pinned national root's directory, then each office's list under it."""
    directory = verify_directory(national.token, national.root.public_key(), NOW)
    tokens = {region: office.trust.token for region, office in offices.items()}
    trust, refused = federate(directory, tokens, NOW)
    assert refused == {}
    return trust


# --- three offices, one terminal -----------------------------------------------------------


def test_one_terminal_accepts_cards_of_all_three_offices(terminal, offices):
    assert terminal.regions == REGIONS
    for region, office in offices.items():
        token = office.card()
        decision = scan(token, terminal)

        assert decision.accepted, (region, decision.reason)
        assert (decision.reason, decision.category, decision.price, decision.paid) == ("accepted", "5-12",
                                                                                         10_000, 5_000)
        assert scan(qr_text(token), terminal).accepted  # the numeric QR form too
        assert terminal.verify_card(token, NOW).card.region == region


def test_an_offices_own_root_still_works_alone(offices):
    office = offices[BALANGAN]
    trust_list = verify_trust_list(office.trust.token, office.root.public_key(), NOW)

    assert scan(office.card(), trust_list).accepted
    assert not scan(offices[SURAKARTA].card(), trust_list).accepted  # another office's card, no directory


def test_decision_is_stale_when_the_directory_has_expired(national, offices):
    later = national.directory.expires_at
    directory = verify_directory(national.token, national.root.public_key(), later, accept_expired=True)
    tokens = {region: office.trust.token for region, office in offices.items()}
    trust, refused = federate(directory, tokens, later, accept_expired=True)

    assert refused == {}
    assert trust.is_expired(later) and not trust.is_expired(NOW)
    assert "stale" in scan(offices[JAYAPURA].card(), trust, later).flags


def test_scan_rejections_are_decisions_not_errors(terminal):
    assert scan("not a card", terminal).reason == "malformed"
    assert scan(b"\xff" * 10, terminal).reason == "malformed"
    assert scan("1" * 2000, terminal).reason == "too_large"


# --- attacks ---------------------------------------------------------------------------------------


def test_directory_signed_by_an_office_root(national, offices):
    # Surakarta's root signs a directory that lists a root of its own choosing for Balangan.
    forger = offices[SURAKARTA].root
    fake = make_office(BALANGAN)
    forged = make_directory([offices[SURAKARTA].entry(), fake.entry()], seq=9, root=forger)

    with pytest.raises(errors.DirectorySignatureInvalid):
        verify_directory(forged.token, national.root.public_key(), NOW)


def test_office_trust_list_signed_by_a_root_not_in_the_directory(national, offices):
    # A list for Balangan under a root the ministry never listed, with the attacker's issuing key.
    rogue = make_trust()

    with pytest.raises(errors.TrustListSignatureInvalid):
        verify_office_trust_list(national.directory, BALANGAN, rogue.token, NOW)
    with pytest.raises(errors.OfficeNotInDirectory):
        verify_office_trust_list(national.directory, 3174, rogue.token, NOW)
    trust, refused = federate(national.directory, {BALANGAN: rogue.token, JAYAPURA: offices[JAYAPURA].trust.token},
                              NOW)
    assert type(refused[BALANGAN]) is errors.TrustListSignatureInvalid
    assert trust.regions == (JAYAPURA,)
    assert scan(rogue.issue(make_card(region=BALANGAN, age=8)), trust).reason == "unknown_key"


def test_office_list_verified_under_a_root_the_directory_no_longer_lists(national, offices):
    # Balangan's root is rotated in a later directory: the list verified under the old root is refused.
    held = offices[BALANGAN].listed(national.directory)
    new_root = Ed25519PrivateKey.generate()
    rotated = dataclasses.replace(offices[BALANGAN].entry(), root=new_root.public_key())
    later = make_directory([offices[SURAKARTA].entry(), rotated], seq=2, root=national.root)

    with pytest.raises(errors.OfficeRootNotListed):
        FederatedTrust(later.directory, [held], NOW)
    with pytest.raises(errors.OfficeRootNotListed):
        apply_office_delta(later.directory, held, "x.y.z", NOW)


def test_revoked_offices_cards(national, offices):
    # The ministry revokes Jayapura's root: its list is refused and its cards no longer verify.
    card = offices[JAYAPURA].card()
    entries = [office.entry(OfficeState.REVOKED if region == JAYAPURA else OfficeState.ACTIVE)
               for region, office in offices.items()]
    revoked = make_directory(entries, seq=2, root=national.root)
    held = [office.listed(national.directory) for office in offices.values()]

    with pytest.raises(errors.OfficeRevoked):
        verify_office_trust_list(revoked.directory, JAYAPURA, offices[JAYAPURA].trust.token, NOW)
    with pytest.raises(errors.OfficeRevoked):
        FederatedTrust(revoked.directory, held, NOW)  # a terminal cannot keep the list it already held
    trust, refused = federate(revoked.directory, {r: o.trust.token for r, o in offices.items()}, NOW)
    assert type(refused[JAYAPURA]) is errors.OfficeRevoked
    assert scan(card, trust).reason == "unknown_key"
    assert scan(offices[SURAKARTA].card(), trust).accepted


def test_suspended_office_and_office_outside_its_period_are_refused(national, offices):
    entries = [offices[SURAKARTA].entry(OfficeState.SUSPENDED),
               offices[BALANGAN].entry(valid_from=NOW + DAY),
               offices[JAYAPURA].entry(valid_until=NOW)]
    directory = make_directory(entries, seq=2, root=national.root).directory

    trust, refused = federate(directory, {r: o.trust.token for r, o in offices.items()}, NOW)

    assert {region: type(error) for region, error in refused.items()} == {
        SURAKARTA: errors.OfficeSuspended, BALANGAN: errors.OfficeNotValid, JAYAPURA: errors.OfficeNotValid}
    assert trust.regions == ()
    assert scan(offices[BALANGAN].card(), trust).reason == "unknown_key"


def test_region_restriction(national, offices):
    # The partner accepts Surakarta and Balangan cards only.
    held = [office.listed(national.directory) for office in offices.values()]
    trust = FederatedTrust(national.directory, held, NOW, accept_regions={SURAKARTA, BALANGAN})

    assert trust.regions == (SURAKARTA, BALANGAN)
    assert scan(offices[SURAKARTA].card(), trust).accepted
    assert scan(offices[BALANGAN].card(), trust).accepted
    assert scan(offices[JAYAPURA].card(), trust).reason == "unknown_key"
    with pytest.raises(ValueError, match="regency/city codes"):
        FederatedTrust(national.directory, held, NOW, accept_regions={33})


def test_card_claiming_another_offices_region(terminal, offices):
    # Surakarta's key signs a card that says Jayapura: an office speaks for its own region only.
    token = offices[SURAKARTA].card(region=JAYAPURA)

    assert_card_refused(lambda: terminal.verify_card(token, NOW), errors.CardClaimsInvalid, "bad_claims")
    assert scan(token, terminal).reason == "bad_claims"


def test_rollback_of_the_directory_and_of_an_office_list(national, offices):
    with pytest.raises(errors.DirectoryRollback):
        verify_directory(national.token, national.root.public_key(), NOW, min_seq=2)
    with pytest.raises(errors.TrustListRollback):
        verify_office_trust_list(national.directory, BALANGAN, offices[BALANGAN].trust.token, NOW, min_seq=2)


def test_kid_collision_across_offices():
    # Two offices' issuing keys share a 4-character kid: each card verifies under its own office.
    (private_a, key_a), (private_b, key_b) = colliding_signers()
    assert key_a.kid == key_b.kid and key_a.public_key != key_b.public_key
    surakarta = make_office(SURAKARTA, signers=[(private_a, key_a)])
    balangan = make_office(BALANGAN, signers=[(private_b, key_b)])
    national = make_directory([surakarta.entry(), balangan.entry()])
    trust, refused = federate(national.directory, {SURAKARTA: surakarta.trust.token,
                                                   BALANGAN: balangan.trust.token}, NOW)
    assert refused == {}

    for office in (surakarta, balangan):  # the other office's key is tried first for one of the two
        verified = trust.verify_card(office.card(), NOW)
        assert (verified.card.region, verified.kid) == (office.region, key_a.kid)
    forged = balangan.card(region=SURAKARTA)  # Balangan's key, Surakarta's region: not Surakarta's card
    assert scan(forged, trust).reason == "bad_claims"
    unsigned = surakarta.card().rsplit(".", 1)[0] + "." + "A" * 86
    assert scan(unsigned, trust).reason == "bad_signature"


def test_card_revoked_in_office_a_does_not_affect_office_b_card_with_same_serial(terminal, offices):
    # Serials are random per office: the same serial in Balangan is another child's card.
    surakarta_card = offices[SURAKARTA].card(REVOKED_IN_SURAKARTA)
    balangan_card = offices[BALANGAN].card(REVOKED_IN_SURAKARTA)

    assert scan(surakarta_card, terminal).reason == "card_revoked"
    assert scan(balangan_card, terminal).accepted


def test_card_revoked_across_colliding_kids_uses_the_signing_offices_list():
    # Same kid, same serial, revoked in Surakarta only: the list of the office whose key verified decides.
    (private_a, key_a), (private_b, key_b) = colliding_signers()
    serial = serial_from_value(77)
    surakarta = make_office(SURAKARTA, signers=[(private_a, key_a)], revoked=[serial])
    balangan = make_office(BALANGAN, signers=[(private_b, key_b)])
    national = make_directory([surakarta.entry(), balangan.entry()])
    trust, _ = federate(national.directory, {SURAKARTA: surakarta.trust.token, BALANGAN: balangan.trust.token},
                        NOW)

    assert scan(surakarta.card(serial), trust).reason == "card_revoked"
    assert scan(balangan.card(serial), trust).accepted


def test_issuing_key_revoked_by_its_office_is_refused_under_the_directory(national, offices):
    office = offices[BALANGAN]
    private, key = office.trust.signer
    revoked_list = build_trust_list(2, [key.revoke(NOW - DAY)], office.trust.trust_list.revoked, NOW)
    token = sign_trust_list(revoked_list, office.root)
    trust, refused = federate(national.directory, {BALANGAN: token}, NOW)

    assert refused == {}
    assert scan(office.card(), trust).reason == "key_revoked"


def test_office_delta_under_the_directory(national, offices):
    office = offices[BALANGAN]
    held = office.listed(national.directory)
    newly_revoked = serial_from_value(99)
    new = build_trust_list(2, office.trust.trust_list.keys,
                           office.trust.trust_list.revoked.union([99]), NOW)
    delta = sign_delta(1, office.trust.trust_list.revoked, new, office.root)

    updated = apply_office_delta(national.directory, held, delta, NOW)

    assert isinstance(updated, OfficeTrustList) and updated.trust_list == new
    trust = FederatedTrust(national.directory, [updated], NOW)
    assert scan(office.card(newly_revoked), trust).reason == "card_revoked"
    with pytest.raises(errors.TrustListSignatureInvalid):
        apply_office_delta(national.directory, held, sign_delta(1, office.trust.trust_list.revoked, new,
                                                                offices[SURAKARTA].root), NOW)


def test_two_lists_for_one_region_are_refused(national, offices):
    held = offices[BALANGAN].listed(national.directory)

    with pytest.raises(ValueError, match="two trust lists"):
        FederatedTrust(national.directory, [held, held], NOW)


def test_the_single_office_path_is_unchanged(offices):
    # decide() with a TrustList goes straight to keys.verify_card, as before federation.
    office = offices[SURAKARTA]
    token = office.card()
    assert verify_card(token, office.trust.trust_list, NOW).card.region == SURAKARTA


def _refusal(call):
    with pytest.raises(errors.InvalidCardError) as info:
        call()
    return info.value


def test_a_refusal_after_the_signature_names_the_office_whose_key_verified_it(terminal, offices):
    revoked = _refusal(lambda: terminal.verify_card(offices[SURAKARTA].card(REVOKED_IN_SURAKARTA), NOW))
    claims_balangan = _refusal(lambda: terminal.verify_card(offices[SURAKARTA].card(region=BALANGAN), NOW))
    aged_out = _refusal(lambda: terminal.verify_card(offices[JAYAPURA].card(), NOW + 10 * 365 * DAY))

    assert [(error.reason, signing_region(error)) for error in (revoked, claims_balangan, aged_out)] == [
        ("card_revoked", SURAKARTA), ("bad_claims", SURAKARTA), ("aged_out", JAYAPURA)]


def test_a_refusal_before_any_key_verified_names_no_office(terminal, offices):
    unknown = _refusal(lambda: terminal.verify_card(make_trust(NOW).issue(make_card(region=BALANGAN)), NOW))
    unsigned = offices[BALANGAN].card().rsplit(".", 1)[0] + "." + "A" * 86
    forged = _refusal(lambda: terminal.verify_card(unsigned, NOW))
    malformed = _refusal(lambda: terminal.verify_card("not a card", NOW))
    # One office's list alone (keys.verify_card) knows no offices.
    alone = _refusal(lambda: verify_card(offices[SURAKARTA].card(REVOKED_IN_SURAKARTA),
                                         offices[SURAKARTA].trust.trust_list, NOW))

    assert [(error.reason, signing_region(error)) for error in (unknown, forged, malformed, alone)] == [
        ("unknown_key", None), ("bad_signature", None), ("malformed", None), ("card_revoked", None)]


def test_a_refusal_across_colliding_kids_names_the_office_whose_key_verified():
    (private_a, key_a), (private_b, key_b) = colliding_signers()
    serial = serial_from_value(78)
    surakarta = make_office(SURAKARTA, signers=[(private_a, key_a)])
    balangan = make_office(BALANGAN, signers=[(private_b, key_b)], revoked=[serial])
    national = make_directory([surakarta.entry(), balangan.entry()])
    trust, _ = federate(national.directory, {SURAKARTA: surakarta.trust.token, BALANGAN: balangan.trust.token},
                        NOW)

    # Surakarta's key of the same kid is tried first and does not verify: Balangan's refusal, Balangan's region.
    refused = _refusal(lambda: trust.verify_card(balangan.card(serial), NOW))

    assert (refused.reason, signing_region(refused)) == ("card_revoked", BALANGAN)


def test_the_own_region_is_a_region_code_and_unset_by_default(national, offices):
    held = [office.listed(national.directory) for office in offices.values()]

    assert FederatedTrust(national.directory, held, NOW).own_region is None
    assert FederatedTrust(national.directory, held, NOW, own_region=SURAKARTA).own_region == SURAKARTA
    with pytest.raises(ValueError, match="regency/city code"):
        FederatedTrust(national.directory, held, NOW, own_region=33)
