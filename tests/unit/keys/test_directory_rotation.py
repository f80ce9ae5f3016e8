"""Root rotation with an overlap: two roots listed for one region while the office switches (issue 14).

During the overlap the directory lists the office's new ``root`` and the
``previous_root`` it is leaving, with ``previous_until``; lists under either
verify, and after ``previous_until`` only the new root's do.  A directory
with no overlap is written exactly as before.
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import jws
from keys.directory import (
    DIRECTORY_TYP,
    apply_directory_delta,
    build_directory,
    sign_directory,
    sign_directory_delta,
    verify_directory,
)
from keys.errors import DirectoryMalformed, OfficeRootNotListed, TrustListSignatureInvalid
from keys.federation import FederatedTrust, apply_office_delta, verify_office_trust_list
from keys.jwk import kid_for, public_jwk, public_key_bytes
from keys.revocation import RevokedSerials
from keys.trustlist import build_trust_list, sign_delta
from tests.factories import BALANGAN, DAY, NOW, SURAKARTA, make_trust
from tests.factories.federation import make_directory, make_office

OVERLAP_ENDS = NOW + 7 * DAY


@pytest.fixture
def rotation() -> tuple:
    """Balangan rotating from its old root to a new one; the same issuing keys, re-signed under the new root."""
    balangan = make_office(BALANGAN)
    new_root = Ed25519PrivateKey.generate()
    under_new = make_trust(NOW, signers=balangan.trust.signers, seq=2, root=new_root)
    office = dataclasses.replace(balangan.entry(), root=new_root.public_key(),
                                 previous_root=balangan.root.public_key(), previous_until=OVERLAP_ENDS)
    national = make_directory([make_office(SURAKARTA).entry(), office])
    return balangan, under_new, national


def test_a_directory_without_an_overlap_is_written_as_before() -> None:
    entry = make_office(BALANGAN).entry().to_json()

    assert set(entry) == {"region", "root", "state", "valid_from", "valid_until"}


def test_during_the_overlap_a_list_under_either_root_verifies(rotation: tuple) -> None:
    balangan, under_new, national = rotation
    directory = verify_directory(national.token, national.root.public_key(), NOW)

    old = verify_office_trust_list(directory, BALANGAN, balangan.trust.token, NOW)
    new = verify_office_trust_list(directory, BALANGAN, under_new.token, NOW)

    assert old.root == public_key_bytes(balangan.root.public_key())
    assert new.root == public_key_bytes(under_new.root.public_key())
    assert directory.office(BALANGAN).to_json()["previous_root"] == public_jwk(balangan.root.public_key())


def test_after_the_overlap_a_list_under_the_root_left_is_refused(rotation: tuple) -> None:
    balangan, under_new, national = rotation
    directory = national.directory

    with pytest.raises(TrustListSignatureInvalid):
        verify_office_trust_list(directory, BALANGAN, balangan.trust.token, OVERLAP_ENDS)
    assert verify_office_trust_list(directory, BALANGAN, under_new.token, OVERLAP_ENDS).trust_list.seq == 2


def test_a_list_under_a_root_never_listed_is_refused_during_the_overlap(rotation: tuple) -> None:
    _, _, national = rotation

    with pytest.raises(TrustListSignatureInvalid):
        verify_office_trust_list(national.directory, BALANGAN, make_trust(NOW).token, NOW)


def test_the_federated_trust_holds_the_leaving_roots_list_only_until_the_overlap_ends(rotation: tuple) -> None:
    balangan, _, national = rotation
    held = verify_office_trust_list(national.directory, BALANGAN, balangan.trust.token, NOW)

    assert FederatedTrust(national.directory, [held], NOW).regions == (BALANGAN,)
    with pytest.raises(OfficeRootNotListed):
        FederatedTrust(national.directory, [held], OVERLAP_ENDS)


def test_an_office_that_switches_roots_mid_chain_has_its_delta_taken(rotation: tuple) -> None:
    balangan, under_new, national = rotation
    held = verify_office_trust_list(national.directory, BALANGAN, balangan.trust.token, NOW)
    following = build_trust_list(2, held.trust_list.keys, RevokedSerials.from_serials([]), NOW)
    # The delta from the list under the old root, signed by the office's new root.
    delta = sign_delta(1, held.trust_list.revoked, following, under_new.root)

    taken = apply_office_delta(national.directory, held, delta, NOW)

    assert (taken.trust_list.seq, taken.root) == (2, public_key_bytes(under_new.root.public_key()))


def test_a_root_listed_for_one_region_and_left_by_another_is_refused(rotation: tuple) -> None:
    balangan, _, national = rotation
    surakarta = dataclasses.replace(national.directory.office(SURAKARTA), root=balangan.root.public_key())

    with pytest.raises(ValueError, match="two regions"):
        build_directory(2, [surakarta, national.directory.office(BALANGAN)], NOW)
    claims = {"seq": 2, "iat": NOW, "exp": NOW + DAY,
              "offices": [surakarta.to_json(), national.directory.office(BALANGAN).to_json()]}
    token = jws.sign(claims, national.root, kid_for(national.root.public_key()), DIRECTORY_TYP)
    with pytest.raises(DirectoryMalformed, match="two regions"):
        verify_directory(token, national.root.public_key(), NOW)


def test_the_national_root_is_never_a_root_an_office_leaves(rotation: tuple) -> None:
    _, _, national = rotation
    office = dataclasses.replace(national.directory.office(BALANGAN), previous_root=national.root.public_key())
    token = sign_directory(build_directory(2, [office], NOW), national.root)

    with pytest.raises(DirectoryMalformed, match="national root"):
        verify_directory(token, national.root.public_key(), NOW)


def test_a_previous_root_without_its_end_is_malformed(rotation: tuple) -> None:
    _, _, national = rotation
    entry = national.directory.office(BALANGAN).to_json()
    del entry["previous_until"]
    claims = {"seq": 2, "iat": NOW, "exp": NOW + DAY, "offices": [entry]}
    token = jws.sign(claims, national.root, kid_for(national.root.public_key()), DIRECTORY_TYP)

    with pytest.raises(DirectoryMalformed):
        verify_directory(token, national.root.public_key(), NOW)


def test_a_delta_carries_the_start_and_the_end_of_an_overlap(rotation: tuple) -> None:
    balangan, _, national = rotation
    before = make_directory([national.directory.office(SURAKARTA), balangan.entry()], root=national.root)
    ended = dataclasses.replace(national.directory.office(BALANGAN), previous_root=None, previous_until=None)
    after = build_directory(3, [national.directory.office(SURAKARTA), ended], NOW)
    during = dataclasses.replace(national.directory, seq=2)
    pin = national.root.public_key()

    started = apply_directory_delta(before.directory, sign_directory_delta(before.directory, during, national.root),
                                    pin, NOW)
    finished = apply_directory_delta(started, sign_directory_delta(started, after, national.root), pin, NOW)

    assert started == during and started.office(BALANGAN).previous_root is not None
    assert finished == after and finished.office(BALANGAN).previous_root is None

