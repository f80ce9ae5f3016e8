"""The trust list's second form at the office (issue 14, docs/adr/0002): signed, stored and served.

Both databases.  Every export and every offline bundle signs the list and its
deltas in both forms; ``GET /api/v1/trustlist?form=2`` serves the second
where it was signed, the first where not (the terminal tells by ``typ``), and
a request without ``form`` gets exactly the answers it got before.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from issuer import create_app, offline_signing
from issuer.cards import revoke_card
from issuer.errors import BundleRefused, TrustListFileError
from issuer.issuing_keys import KeyUnlock
from issuer.storage.models import TrustListDeltaRow, TrustListRow
from issuer.storage.store import IssuerHome
from issuer.trust_lists import (
    export_trust_list,
    import_bundle,
    latest_published,
    latest_published_form,
    prepare_signing,
)
from keys import apply_delta, load_public_jwk, verify_trust_list
from keys.trustlist import form_of
from tests.factories import ACTOR, NOW
from tests.integration.issuer.test_trustlist_offline import UNLOCK, issue, root_key, signed


@pytest.fixture
def unlock() -> KeyUnlock:
    return UNLOCK


@pytest.fixture
def served(office: IssuerHome) -> Iterator[FlaskClient]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True})
    yield app.test_client()
    app.extensions["kia_home"].close()


@pytest.fixture
def two_lists(office: IssuerHome, tmp_path: Path) -> tuple[str, dict]:
    """Lists 1 and 2 exported, a card revoked between them: (its serial, the root JWK)."""
    lost = issue(office)
    issue(office)
    first = export_trust_list(office, UNLOCK, NOW, tmp_path / "1", by=ACTOR)
    revoke_card(office, lost, "hilang", NOW + 60, by=ACTOR)
    export_trust_list(office, UNLOCK, NOW + 120, tmp_path / "2", by=ACTOR)
    return lost, json.loads(first.root_jwk.read_text())


def test_an_export_stores_both_forms_of_the_list_and_its_deltas(office: IssuerHome, two_lists) -> None:
    lost, jwk = two_lists
    root = load_public_jwk(jwk)
    with office.transaction() as session:
        row = session.get_one(TrustListRow, 2)
        delta = session.get_one(TrustListDeltaRow, (1, 2))
        assert row.jws is not None and row.jws2 is not None and delta.jws2 is not None
        assert (form_of(row.jws), form_of(row.jws2), form_of(delta.jws), form_of(delta.jws2)) == (1, 2, 1, 2)
        one, two = verify_trust_list(row.jws, root, NOW + 120), verify_trust_list(row.jws2, root, NOW + 120)
        assert one == two and lost in two.revoked
        held = verify_trust_list(session.get_one(TrustListRow, 1).jws2 or "", root, NOW + 120)
        assert apply_delta(held, delta.jws2, root, NOW + 120) == one
    assert latest_published(office) == (2, row.jws)
    assert latest_published_form(office, 2) == (2, row.jws2)


def test_form_2_is_served_when_asked_and_old_requests_get_todays_answers(
    office: IssuerHome, served: FlaskClient, two_lists
) -> None:
    _, jwk = two_lists
    root = load_public_jwk(jwk)
    old_full, new_full = served.get("/api/v1/trustlist"), served.get("/api/v1/trustlist?form=2")
    assert old_full.headers["ETag"] == '"tl-2"' and new_full.headers["ETag"] == '"tl2-2"'
    assert form_of(old_full.get_data(as_text=True)) == 1 and form_of(new_full.get_data(as_text=True)) == 2
    assert new_full.mimetype == "application/jose" and new_full.headers["X-KIA-Trust-List-Seq"] == "2"
    assert len(new_full.get_data()) < len(old_full.get_data()) * 2  # tiny lists: keys dominate
    assert served.get("/api/v1/trustlist?form=1").get_data() == old_full.get_data()

    old_delta, new_delta = served.get("/api/v1/trustlist?since=1"), served.get("/api/v1/trustlist?since=1&form=2")
    assert old_delta.headers["X-KIA-Delta-From"] == new_delta.headers["X-KIA-Delta-From"] == "1"
    assert form_of(old_delta.get_data(as_text=True)) == 1 and form_of(new_delta.get_data(as_text=True)) == 2
    assert (old_delta.headers["ETag"], new_delta.headers["ETag"]) == ('"tl-2"', '"tl2-2"')
    with office.transaction() as session:
        first = verify_trust_list(session.get_one(TrustListRow, 1).jws or "", root, NOW + 120)
    assert apply_delta(first, new_delta.get_data(as_text=True), root, NOW + 120).seq == 2

    # Conditional requests: each form's tag; a terminal naming both is current in either.
    assert served.get("/api/v1/trustlist?since=2&form=2").status_code == 204
    assert served.get("/api/v1/trustlist?form=2", headers={"If-None-Match": '"tl2-2"'}).status_code == 304
    assert served.get("/api/v1/trustlist?form=2", headers={"If-None-Match": '"tl2-1", "tl-1"'}).status_code == 200
    assert served.get("/api/v1/trustlist", headers={"If-None-Match": '"tl-2"'}).status_code == 304
    assert served.get("/api/v1/trustlist", headers={"If-None-Match": '"tl2-2"'}).status_code == 200


@pytest.mark.parametrize("query", ["form=3", "form=0", "form=x", "since=1&form=-2", "form=2&form2=1"])
def test_a_bad_form_is_400(served: FlaskClient, two_lists, query: str) -> None:
    response = served.get(f"/api/v1/trustlist?{query}")
    assert response.status_code == 400 and response.get_json()["error"] == "bad_query"


def test_form_2_of_a_list_signed_only_in_form_1_is_form_1_with_its_own_tag(
    office: IssuerHome, served: FlaskClient, two_lists
) -> None:
    with office.transaction() as session:  # as lists published before migration 0014
        session.execute(update(TrustListRow).values(jws2=None))
        session.execute(update(TrustListDeltaRow).values(jws2=None))
    full = served.get("/api/v1/trustlist?form=2")
    delta = served.get("/api/v1/trustlist?since=1&form=2")
    assert form_of(full.get_data(as_text=True)) == form_of(delta.get_data(as_text=True)) == 1
    assert full.get_data() == served.get("/api/v1/trustlist").get_data()
    assert full.headers["ETag"] == delta.headers["ETag"] == '"tl-2"'
    assert served.get("/api/v1/trustlist?form=2", headers={"If-None-Match": '"tl-2"'}).status_code == 304


# --- the offline bundle ---------------------------------------------------------------------


@pytest.fixture
def published_once(office: IssuerHome, tmp_path: Path) -> str:
    lost = issue(office)
    export_trust_list(office, UNLOCK, NOW, tmp_path / "1", by=ACTOR)
    revoke_card(office, lost, "hilang", NOW + 60, by=ACTOR)
    return lost


def test_a_bundle_carries_both_forms_and_the_import_stores_both(office: IssuerHome, published_once: str) -> None:
    data = signed(office, NOW + 120, NOW + 180)
    bundle = offline_signing.SignedBundle.from_bytes_unverified(data)
    assert bundle.trust_list2 is not None and form_of(bundle.trust_list2) == 2
    assert set(bundle.deltas2) == set(bundle.deltas) == {1}
    import_bundle(office, data, NOW + 240, by=ACTOR)
    with office.transaction() as session:
        assert session.get_one(TrustListRow, 2).jws2 == bundle.trust_list2
        assert session.get_one(TrustListDeltaRow, (1, 2)).jws2 == bundle.deltas2[1]


def test_a_bundle_from_an_older_signer_imports_with_form_1_only(office: IssuerHome, published_once: str) -> None:
    bundle = offline_signing.SignedBundle.from_bytes_unverified(signed(office, NOW + 120, NOW + 180))
    older = dataclasses.replace(bundle, trust_list2=None, deltas2={})
    assert b"trust_list2" not in older.to_bytes() and b"jws2" not in older.to_bytes()
    import_bundle(office, older.to_bytes(), NOW + 240, by=ACTOR)
    with office.transaction() as session:
        assert session.get_one(TrustListRow, 2).jws2 is None
        assert session.get_one(TrustListDeltaRow, (1, 2)).jws2 is None
    assert latest_published_form(office, 2) == latest_published(office)


def test_a_bundle_whose_forms_differ_or_are_swapped_is_refused(office: IssuerHome, published_once: str) -> None:
    genuine = offline_signing.SignedBundle.from_bytes_unverified(signed(office, NOW + 120, NOW + 180))
    request = offline_signing.SigningRequest.from_bytes(prepare_signing(office, NOW + 120, by=ACTOR).to_bytes())
    _, other = offline_signing.sign_request(  # the same request with one serial more
        dataclasses.replace(request, revoked=request.revoked.union([5])).to_bytes(), root_key(office), NOW + 180
    )
    with pytest.raises(BundleRefused, match="two forms"):
        import_bundle(office, dataclasses.replace(genuine, trust_list2=other.trust_list2).to_bytes(), NOW + 240,
                      by=ACTOR)
    with pytest.raises(BundleRefused, match="delta from sequence 1"):
        import_bundle(office, dataclasses.replace(genuine, deltas2=other.deltas2).to_bytes(), NOW + 240, by=ACTOR)
    with pytest.raises(BundleRefused, match="not in form 2"):
        import_bundle(office, dataclasses.replace(genuine, deltas2=genuine.deltas).to_bytes(), NOW + 240, by=ACTOR)
    with pytest.raises(BundleRefused, match="kia-tl2"):
        import_bundle(office, dataclasses.replace(genuine, trust_list2=genuine.trust_list).to_bytes(), NOW + 240,
                      by=ACTOR)
    with pytest.raises(TrustListFileError):  # the form-1 slot's pattern admits no unencoded payload
        import_bundle(office, dataclasses.replace(genuine, trust_list=genuine.trust_list2 or "").to_bytes(),
                      NOW + 240, by=ACTOR)
    with pytest.raises(TrustListFileError, match="some of"):
        import_bundle(office, dataclasses.replace(genuine, deltas2={}).to_bytes(), NOW + 240, by=ACTOR)
    import_bundle(office, genuine.to_bytes(), NOW + 240, by=ACTOR)
