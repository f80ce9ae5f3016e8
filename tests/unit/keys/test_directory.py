"""The national trust directory and its deltas (keys.directory, docs/federation.md)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import errors, jws, kid_for, public_jwk
from keys.directory import (
    DIRECTORY_DELTA_TYP,
    DIRECTORY_TYP,
    MAX_DIRECTORY_LENGTH,
    Office,
    OfficeState,
    apply_directory_delta,
    build_directory,
    sign_directory,
    sign_directory_delta,
    verify_directory,
)
from keys.errors import DIRECTORY_REASONS
from tests.factories import BALANGAN, DAY, JAYAPURA, NOW, SURAKARTA, b64url_decode_lenient, forge_token
from tests.factories.federation import make_directory, make_office

JAKARTA_SELATAN = 3174


def assert_refused(call, error, reason):
    with pytest.raises(errors.KiaError) as info:
        call()
    assert type(info.value) is error, info.value
    assert info.value.reason == reason
    assert reason in DIRECTORY_REASONS
    return info.value


@pytest.fixture(scope="module")
def offices():
    return [make_office(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)]


@pytest.fixture(scope="module")
def national(offices):
    return make_directory([office.entry() for office in reversed(offices)])


def _parts(token):
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode_lenient(header)), json.loads(b64url_decode_lenient(payload))


# --- full directory ---------------------------------------------------------------


def test_verified_directory_equals_the_one_built(national):
    verified = verify_directory(national.token, national.root.public_key(), NOW)

    assert verified == national.directory
    assert [office.region for office in verified.offices] == [SURAKARTA, BALANGAN, JAYAPURA]
    assert verified.office(BALANGAN).root_kid == kid_for(verified.office(BALANGAN).root)


def test_header_and_claims_are_exactly_the_documented_ones(national, offices):
    header, claims = _parts(national.token)

    assert header == {"alg": "EdDSA", "kid": kid_for(national.root.public_key()), "typ": DIRECTORY_TYP}
    assert list(claims) == ["seq", "iat", "exp", "offices"]
    assert claims["offices"][0] == {
        "region": SURAKARTA,
        "root": public_jwk(offices[0].root.public_key()),
        "state": "active",
        "valid_from": offices[0].entry().valid_from,
        "valid_until": offices[0].entry().valid_until,
    }


def test_directory_signed_by_an_office_root_is_refused(national, offices):
    # An office must not be able to vouch for other offices: only the national root signs.
    forged = sign_directory(national.directory, offices[0].root)

    assert_refused(lambda: verify_directory(forged, national.root.public_key(), NOW),
                   errors.DirectorySignatureInvalid, "directory_bad_signature")


def test_office_trust_list_presented_as_directory_is_wrong_type_before_the_signature(national, offices):
    # typ is checked first: a document of another kind never reaches the signature check.
    assert_refused(lambda: verify_directory(offices[0].trust.token, national.root.public_key(), NOW),
                   errors.DirectoryWrongType, "directory_wrong_type")
    same_root_other_type = jws.sign(national.directory.claims(), national.root,
                                    kid_for(national.root.public_key()), "kia-tl")
    assert_refused(lambda: verify_directory(same_root_other_type, national.root.public_key(), NOW),
                   errors.DirectoryWrongType, "directory_wrong_type")


def test_delta_presented_as_full_directory_is_wrong_type(national):
    later = dataclasses.replace(national.directory, seq=2)
    delta = sign_directory_delta(national.directory, later, national.root)

    assert_refused(lambda: verify_directory(delta, national.root.public_key(), NOW),
                   errors.DirectoryWrongType, "directory_wrong_type")


@pytest.mark.parametrize("alg", ["none", "HS256", "ES256", "eddsa"])
def test_algorithm_other_than_eddsa_is_refused(national, alg):
    header = {"alg": alg, "kid": kid_for(national.root.public_key()), "typ": DIRECTORY_TYP}
    forged = forge_token(header, national.directory.claims(), national.root.sign)

    assert_refused(lambda: verify_directory(forged, national.root.public_key(), NOW),
                   errors.DirectorySignatureInvalid, "directory_bad_signature")


def test_header_with_extra_members_is_malformed(national):
    header = {"alg": "EdDSA", "kid": kid_for(national.root.public_key()), "typ": DIRECTORY_TYP, "jku": "x"}
    forged = forge_token(header, national.directory.claims(), national.root.sign)

    assert_refused(lambda: verify_directory(forged, national.root.public_key(), NOW),
                   errors.DirectoryMalformed, "directory_malformed")


def test_directory_over_the_size_cap_is_malformed_before_anything_else(national):
    huge = national.token + "A" * MAX_DIRECTORY_LENGTH

    assert_refused(lambda: verify_directory(huge, national.root.public_key(), NOW),
                   errors.DirectoryMalformed, "directory_malformed")


def test_rollback_to_an_older_directory_is_refused(national):
    assert verify_directory(national.token, national.root.public_key(), NOW, min_seq=1).seq == 1

    assert_refused(lambda: verify_directory(national.token, national.root.public_key(), NOW, min_seq=2),
                   errors.DirectoryRollback, "directory_rollback")


def test_expired_directory_is_refused_unless_accepted_as_stale(national):
    later = national.directory.expires_at

    assert_refused(lambda: verify_directory(national.token, national.root.public_key(), later),
                   errors.DirectoryExpired, "directory_expired")
    stale = verify_directory(national.token, national.root.public_key(), later, accept_expired=True)
    assert stale.is_expired(later) and not stale.is_expired(later - 1)


def _signed_claims(national, change):
    claims = national.directory.claims()
    change(claims)
    return jws.sign(claims, national.root, kid_for(national.root.public_key()), DIRECTORY_TYP)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda c: c["offices"].append(dict(c["offices"][0])), id="region_twice"),
        pytest.param(lambda c: c["offices"][1].update(root=c["offices"][0]["root"]), id="one_root_two_regions"),
        pytest.param(lambda c: c["offices"].reverse(), id="not_in_region_order"),
        pytest.param(lambda c: c["offices"][0].update(region=3300), id="not_a_region_code"),
        pytest.param(lambda c: c["offices"][0].update(region="3372"), id="region_as_text"),
        pytest.param(lambda c: c["offices"][0].update(state="paused"), id="unknown_state"),
        pytest.param(lambda c: c["offices"][0].update(valid_until=c["offices"][0]["valid_from"]), id="empty_period"),
        pytest.param(lambda c: c["offices"][0]["root"].update(d="AAAA"), id="private_root"),
        pytest.param(lambda c: c["offices"][0]["root"].update(kid="XXXX"), id="kid_not_the_roots"),
        pytest.param(lambda c: c["offices"][0].update(note="x"), id="extra_office_member"),
        pytest.param(lambda c: c.update(extra=1), id="extra_claim"),
        pytest.param(lambda c: c.update(seq=True), id="seq_not_a_number"),
        pytest.param(lambda c: c.update(exp=c["iat"]), id="expires_when_issued"),
        pytest.param(lambda c: c.update(offices={}), id="offices_not_a_list"),
    ],
)
def test_directory_not_of_the_documented_form_is_malformed(national, change):
    token = _signed_claims(national, change)

    assert_refused(lambda: verify_directory(token, national.root.public_key(), NOW),
                   errors.DirectoryMalformed, "directory_malformed")


def test_national_root_listed_as_an_office_root_is_malformed(national, offices):
    # The national root signs directories only; listed as an office it could sign a trust list too.
    entries = [office.entry() for office in offices[1:]]
    entries.append(Office(SURAKARTA, national.root.public_key(), OfficeState.ACTIVE, NOW - DAY, NOW + DAY))
    directory = build_directory(5, entries, NOW)
    token = sign_directory(directory, national.root)

    assert_refused(lambda: verify_directory(token, national.root.public_key(), NOW),
                   errors.DirectoryMalformed, "directory_malformed")


def test_build_refuses_a_region_twice_and_a_root_twice(offices):
    entry = offices[0].entry()
    with pytest.raises(ValueError, match="region is listed twice"):
        build_directory(1, [entry, dataclasses.replace(entry, root=offices[1].root.public_key())], NOW)
    with pytest.raises(ValueError, match="root key is listed for two regions"):
        build_directory(1, [entry, dataclasses.replace(entry, region=BALANGAN)], NOW)


# --- office states ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "valid_from", "valid_until", "error", "reason"),
    [
        (OfficeState.SUSPENDED, NOW - DAY, NOW + DAY, errors.OfficeSuspended, "office_suspended"),
        (OfficeState.REVOKED, NOW - DAY, NOW + DAY, errors.OfficeRevoked, "office_revoked"),
        (OfficeState.ACTIVE, NOW + 1, NOW + DAY, errors.OfficeNotValid, "office_not_valid"),
        (OfficeState.ACTIVE, NOW - DAY, NOW, errors.OfficeNotValid, "office_not_valid"),
    ],
)
def test_office_not_trusted_says_why(offices, state, valid_from, valid_until, error, reason):
    entry = offices[0].entry(state, valid_from=valid_from, valid_until=valid_until)
    directory = build_directory(1, [entry], NOW)

    refused = assert_refused(lambda: directory.trusted_office(SURAKARTA, NOW), error, reason)
    assert refused.region == SURAKARTA
    assert_refused(lambda: directory.trusted_office(JAKARTA_SELATAN, NOW), errors.OfficeNotInDirectory,
                   "office_unknown")


def test_active_office_within_its_period_is_trusted(national):
    assert national.directory.trusted_office(BALANGAN, NOW).region == BALANGAN


# --- deltas -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def next_directory(national, offices):
    """Sequence 2: Surakarta suspended, Jayapura removed, Jakarta Selatan added."""
    jakarta = make_office(JAKARTA_SELATAN)
    entries = [offices[0].entry(OfficeState.SUSPENDED), offices[1].entry(), jakarta.entry()]
    return build_directory(2, entries, NOW + DAY)


def test_delta_gives_exactly_the_full_directory(national, next_directory):
    delta = sign_directory_delta(national.directory, next_directory, national.root)
    _, claims = _parts(delta)

    applied = apply_directory_delta(national.directory, delta, national.root.public_key(), NOW + DAY)

    assert applied == next_directory
    assert applied.digest() == next_directory.digest() == claims["sha256"]
    assert list(claims) == ["from", "seq", "iat", "exp", "changed", "removed", "sha256"]
    assert [office["region"] for office in claims["changed"]] == [JAKARTA_SELATAN, SURAKARTA]
    assert claims["removed"] == [JAYAPURA]
    assert _parts(delta)[0]["typ"] == DIRECTORY_DELTA_TYP


def test_delta_from_another_sequence_is_rollback(national, next_directory):
    delta = sign_directory_delta(national.directory, next_directory, national.root)
    held = dataclasses.replace(national.directory, seq=3)

    assert_refused(lambda: apply_directory_delta(held, delta, national.root.public_key(), NOW),
                   errors.DirectoryRollback, "directory_rollback")


def test_delta_to_an_earlier_sequence_is_malformed(national, next_directory):
    claims = {"from": 2, "seq": 1, "iat": NOW, "exp": NOW + DAY, "changed": [], "removed": [],
              "sha256": national.directory.digest()}
    token = jws.sign(claims, national.root, kid_for(national.root.public_key()), DIRECTORY_DELTA_TYP)

    assert_refused(lambda: apply_directory_delta(national.directory, token, national.root.public_key(), NOW),
                   errors.DirectoryMalformed, "directory_malformed")


def _delta_claims(national, next_directory, **changes):
    delta = sign_directory_delta(national.directory, next_directory, national.root)
    claims = _parts(delta)[1] | changes
    return jws.sign(claims, national.root, kid_for(national.root.public_key()), DIRECTORY_DELTA_TYP)


def test_delta_whose_result_differs_from_the_ministrys_is_a_mismatch(national, next_directory):
    token = _delta_claims(national, next_directory, sha256=national.directory.digest())

    assert_refused(lambda: apply_directory_delta(national.directory, token, national.root.public_key(), NOW),
                   errors.DirectoryDeltaMismatch, "directory_delta_mismatch")


def test_delta_that_does_not_fit_the_held_directory_is_a_mismatch(national, next_directory):
    removes_unlisted = _delta_claims(national, next_directory, removed=[JAYAPURA, 1101])
    changes_nothing = _delta_claims(national, next_directory,
                                    changed=[national.directory.office(BALANGAN).to_json()], removed=[])

    for token in (removes_unlisted, changes_nothing):
        assert_refused(lambda token=token: apply_directory_delta(national.directory, token,
                                                                 national.root.public_key(), NOW),
                       errors.DirectoryDeltaMismatch, "directory_delta_mismatch")


def test_delta_naming_a_region_twice_is_malformed(national, next_directory):
    token = _delta_claims(national, next_directory, removed=[JAYAPURA, SURAKARTA])

    assert_refused(lambda: apply_directory_delta(national.directory, token, national.root.public_key(), NOW),
                   errors.DirectoryMalformed, "directory_malformed")


def test_delta_signed_by_another_root_is_refused(national, next_directory):
    delta = sign_directory_delta(national.directory, next_directory, Ed25519PrivateKey.generate())

    assert_refused(lambda: apply_directory_delta(national.directory, delta, national.root.public_key(), NOW),
                   errors.DirectorySignatureInvalid, "directory_bad_signature")


def test_expired_delta_result_is_refused_unless_accepted_as_stale(national, next_directory):
    delta = sign_directory_delta(national.directory, next_directory, national.root)
    later = next_directory.expires_at

    assert_refused(lambda: apply_directory_delta(national.directory, delta, national.root.public_key(), later),
                   errors.DirectoryExpired, "directory_expired")
    assert apply_directory_delta(national.directory, delta, national.root.public_key(), later,
                                 accept_expired=True) == next_directory


def test_sign_delta_refuses_to_go_backwards(national):
    with pytest.raises(ValueError, match="later sequence"):
        sign_directory_delta(national.directory, national.directory, national.root)


def test_every_directory_leaf_has_a_documented_reason():
    leaves = [errors.DirectoryMalformed, errors.DirectoryWrongType, errors.DirectorySignatureInvalid,
              errors.DirectoryExpired, errors.DirectoryRollback, errors.DirectoryDeltaMismatch,
              errors.OfficeNotInDirectory, errors.OfficeRootNotListed, errors.OfficeSuspended,
              errors.OfficeRevoked, errors.OfficeNotValid]

    assert sorted(leaf.reason for leaf in leaves) == sorted(DIRECTORY_REASONS)
    assert not set(DIRECTORY_REASONS) & set(errors.REASONS)
