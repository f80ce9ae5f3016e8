"""Cards, issuing keys and trust lists on a real database: issuing, batches, revocation, pruning, deltas.

(issuer.cards, issuer.issuing_keys, issuer.trust_lists.)

Every operation takes ``now``; the story runs on factories.NOW and days
after.  Each test runs on SQLite and on PostgreSQL (``issuer_db_url``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from issuer.cards import card_count, find_card, issue_cards, revoke_card
from issuer.children import ChildRequest, RowError, read_batch
from issuer.errors import CardAlreadyRevoked, IssuerError, UnknownCard
from issuer.issuing_keys import KeyUnlock, change_issuing_key, list_issuing_keys, rotate_issuing_key
from issuer.storage.models import BatchRow, CardRow, Child, Office, TrustListRow
from issuer.storage.store import IssuerHome
from issuer.trust_lists import TrustListExport, export_trust_list, trust_list_seq
from keys import (
    CARD_TYP,
    RevokedSerials,
    TrustList,
    apply_delta,
    load_public_jwk,
    verify_card,
    verify_trust_list,
)
from keys.errors import CardRevoked, IssuingKeyRevoked, KeyLifecycleError, PassphraseWrong
from keys.jws import unverified_header
from keys.serial import normalize_serial
from tests.factories import (
    ACTOR,
    BIRTH_DATE,
    DAY,
    NOW,
    SURAKARTA,
    TURNS_FIVE_SOON,
    UNDER_FIVE_BIRTH_DATE,
    b64url_decode_lenient,
)
from tests.factories.offices import UNLOCK
from tests.integration.conftest import RunKia

# Two pupils of 2018-05-14: a girl (day + 40 in the NIK) and a boy.
GIRL_NIK, BOY_NIK = "3372015405180001", "3372011405180002"


def issue(home: IssuerHome, *birth_dates: dt.date, now: int = NOW) -> list[str]:
    requests = [ChildRequest(line, born, SURAKARTA) for line, born in enumerate(birth_dates, 1)]
    return [item.record.serial for item in issue_cards(home, UNLOCK, requests, now, by=ACTOR).cards]


def root_of(export: TrustListExport) -> Ed25519PublicKey:
    return load_public_jwk(json.loads(export.root_jwk.read_text(encoding="ascii")))


def exported(export: TrustListExport, now: int) -> TrustList:
    return verify_trust_list(export.trust_list.read_text(encoding="ascii"), root_of(export), now)


def token_of(home: IssuerHome, serial: str) -> str:
    return find_card(home, serial).token


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text("birth_date,region,name,nik,school,external_id\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


# --- issuing --------------------------------------------------------------------------


def test_a_school_batch_records_each_child_its_card_and_the_batch(office: IssuerHome, tmp_path: Path) -> None:
    school = write_csv(
        tmp_path / "sd-mangkubumen.csv",
        f"2018-05-14,3372,Siti Rahayu Kusumawardani,{GIRL_NIK},SD Negeri Mangkubumen,p-1",
        "2023-03-10,6311,,,,p-2",
    )
    requests, errors = read_batch(school, NOW)
    assert errors == []

    issuance = issue_cards(office, UNLOCK, requests, NOW, channel="school", source=school.name, by=ACTOR)

    assert issuance.rejected == [] and issuance.batch_id is not None
    siti, toddler = (item.record for item in issuance.cards)
    assert [item.request.external_id for item in issuance.cards] == ["p-1", "p-2"]
    with office.database.transaction() as session:
        batch = session.get_one(BatchRow, issuance.batch_id)
        assert (batch.channel, batch.source, batch.state) == ("school", "sd-mangkubumen.csv", "submitted")
        assert (batch.submitted_at, batch.rows_accepted, batch.rows_rejected) == (NOW, 2, 0)
        rows = {row.serial: row for row in session.scalars(select(CardRow))}
        assert set(rows) == {siti.serial, toddler.serial}
        assert all(row.batch_id == batch.id for row in rows.values())
        child = rows[siti.serial].child
        assert child is not None
        assert (child.birth_date, child.region, child.name, child.nik, child.school) == (
            BIRTH_DATE,
            SURAKARTA,
            "Siti Rahayu Kusumawardani",
            GIRL_NIK,
            "SD Negeri Mangkubumen",
        )
        other = rows[toddler.serial].child
        assert other is not None
        assert (other.birth_date, other.region, other.name, other.nik, other.school) == (
            UNDER_FIVE_BIRTH_DATE,
            6311,
            None,
            None,
            None,
        )
    # The card says what its token says: birth month and region, never the child's data.
    assert (siti.region, siti.birth_month, siti.state, siti.revoked_at) == (SURAKARTA, 201805, "active", None)
    assert (toddler.region, toddler.birth_month) == (6311, 202303)
    assert siti.kid == unverified_header(siti.token, CARD_TYP)["kid"] == list_issuing_keys(office)[0].kid
    claims = b64url_decode_lenient(siti.token.split(".")[1])
    assert set(json.loads(claims)) == {"sub", "reg", "bm", "iat", "exp"}
    for secret in ("Siti", GIRL_NIK, "Mangkubumen", "2018-05-14"):
        assert secret.encode() not in claims
    assert find_card(office, siti.serial.lower()) == siti


def test_a_card_at_the_counter_has_no_batch(office: IssuerHome) -> None:
    issuance = issue_cards(office, UNLOCK, [ChildRequest(0, BIRTH_DATE, SURAKARTA)], NOW, by=ACTOR)

    (item,) = issuance.cards
    assert (issuance.batch_id, issuance.rejected) == (None, [])
    with office.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(BatchRow)) == 0
        row = session.get_one(CardRow, item.record.serial)
        assert row.batch_id is None and row.child is not None
        assert (row.child.birth_date, row.child.name, row.child.nik) == (BIRTH_DATE, None, None)


def test_a_nik_that_already_has_a_card_is_refused_in_a_later_batch(office: IssuerHome) -> None:
    pupil = ChildRequest(2, BIRTH_DATE, SURAKARTA, "p-1", nik=GIRL_NIK)
    first = issue_cards(office, UNLOCK, [pupil], NOW, channel="school", by=ACTOR)
    again = [
        ChildRequest(2, BIRTH_DATE, SURAKARTA, "p-1", name="Siti", nik=GIRL_NIK),
        ChildRequest(3, BIRTH_DATE, SURAKARTA, "p-7", nik=BOY_NIK),
    ]

    later = issue_cards(office, UNLOCK, again, NOW + DAY, channel="school", source="again.csv", by=ACTOR)

    (error,) = later.rejected
    assert isinstance(error, RowError)
    assert (error.line, error.field, error.external_id) == (2, "nik", "p-1")
    assert GIRL_NIK not in error.error and "Siti" not in error.error  # messages carry no child's data
    assert [(item.request.line, item.request.nik) for item in later.cards] == [(3, BOY_NIK)]
    assert card_count(office) == 2
    with office.database.transaction() as session:
        batch = session.get_one(BatchRow, later.batch_id)
        assert (batch.rows_accepted, batch.rows_rejected, batch.submitted_at) == (1, 1, NOW + DAY)
        assert sorted(session.scalars(select(Child.nik))) == sorted([GIRL_NIK, BOY_NIK])
        assert first.batch_id != later.batch_id


def test_the_same_nik_twice_in_one_call_issues_one_card_and_refuses_the_other(office: IssuerHome) -> None:
    """read_batch catches a NIK repeated in one CSV; the service must hold on its own
    (an API client, two counters at once) with a RowError, not a database error that
    would carry the child's NIK and name into a log."""
    twice = [
        ChildRequest(1, BIRTH_DATE, SURAKARTA, name="Siti", nik=GIRL_NIK),
        ChildRequest(2, BIRTH_DATE, SURAKARTA, name="Siti", nik=GIRL_NIK),
    ]

    issuance = issue_cards(office, UNLOCK, twice, NOW, channel="clinic", by=ACTOR)

    assert [item.request.line for item in issuance.cards] == [1]
    assert [(error.line, error.field) for error in issuance.rejected] == [(2, "nik")]
    assert card_count(office) == 1


def test_a_school_batch_through_kia_counts_the_rows_the_csv_check_refused(
    tmp_path: Path, issuer_db_url: str | None, run_kia: RunKia, kia_env: dict[str, str]
) -> None:
    """The batch row must agree with what `kia issuer card issue --csv` told the school."""
    home = IssuerHome(tmp_path / "office", issuer_db_url)
    env = kia_env if issuer_db_url is None else {**kia_env, "KIA_DATABASE_URL": issuer_db_url}
    eight = dt.date.today().replace(day=1) - dt.timedelta(days=8 * 366)
    school = write_csv(
        tmp_path / "school.csv", f"{eight},3372,,,,p-1", f"{eight},33X2,,,,p-2", "not-a-date,3372,,,,p-3"
    )
    assert run_kia("issuer", "init", "--home", home.path, cwd=tmp_path, env=env).returncode == 0

    result = run_kia(
        "issuer",
        "card",
        "issue",
        "--home",
        home.path,
        "--csv",
        school,
        "--out",
        tmp_path / "cards",
        cwd=tmp_path,
        env=env,
    )

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["issued"], report["rejected"]) == (1, 2)
    with home.database.transaction() as session:
        batch = session.get_one(BatchRow, report["batch_id"])
        assert (batch.channel, batch.source, batch.state) == ("school", "school.csv", "submitted")
        assert (batch.rows_accepted, batch.rows_rejected) == (1, 2)
    home.close()


def test_serials_stay_unique_across_many_issues(office: IssuerHome) -> None:
    serials = [serial for _ in range(3) for serial in issue(office, *[BIRTH_DATE] * 150)]

    assert len(set(serials)) == len(serials) == card_count(office) == 450
    assert all(normalize_serial(serial) == serial for serial in serials)  # each has a good check character


# --- revocation and trust lists ----------------------------------------------------------


def test_a_revoked_card_is_listed_in_the_next_export(office: IssuerHome, tmp_path: Path) -> None:
    lost, kept = issue(office, BIRTH_DATE, UNDER_FIVE_BIRTH_DATE)
    first = export_trust_list(office, UNLOCK, NOW, tmp_path / "1", by=ACTOR)
    assert len(exported(first, NOW).revoked) == 0

    record = revoke_card(office, lost.lower(), "  hilang (lost)  ", NOW + 60, by=ACTOR)
    second = export_trust_list(office, UNLOCK, NOW + 120, tmp_path / "2", by=ACTOR)

    assert (record.serial, record.state, record.revoked_at, record.revocation_reason) == (
        lost,
        "revoked",
        NOW + 60,
        "hilang (lost)",
    )
    assert (first.seq, second.seq) == (1, 2)
    assert (find_card(office, lost).listed_seq, find_card(office, kept).listed_seq) == (2, None)
    trust = exported(second, NOW + 120)
    assert trust.revoked == RevokedSerials.from_serials([lost])
    with pytest.raises(CardRevoked) as caught:
        verify_card(token_of(office, lost), trust, NOW + 180)
    assert caught.value.serial == lost
    assert verify_card(token_of(office, kept), trust, NOW + 180).card.serial == kept
    # The earlier list, still held by an offline terminal, did not know yet.
    assert verify_card(token_of(office, lost), exported(first, NOW), NOW + 180).card.serial == lost


def test_each_export_spends_the_next_sequence_and_is_recorded(office: IssuerHome, tmp_path: Path) -> None:
    (serial,) = issue(office, BIRTH_DATE)
    assert trust_list_seq(office) == 0

    first = export_trust_list(office, UNLOCK, NOW, tmp_path / "published", by=ACTOR)
    first_expires_at = exported(first, NOW).expires_at
    revoke_card(office, serial, "lost", NOW + 60, by=ACTOR)
    second = export_trust_list(office, UNLOCK, NOW + 120, tmp_path / "published", validity=dt.timedelta(days=7),
                               by=ACTOR)

    assert (first.seq, second.seq, trust_list_seq(office)) == (1, 2, 2)
    with office.database.transaction() as session:
        rows = list(session.scalars(select(TrustListRow).order_by(TrustListRow.seq)))
        root_jwk = session.get_one(Office, 1).root_jwk
    assert [(row.seq, row.issued_at, row.revoked_count) for row in rows] == [(1, NOW, 0), (2, NOW + 120, 1)]
    assert rows[0].expires_at == first_expires_at
    assert rows[1].expires_at == NOW + 120 + 7 * DAY
    # The files of the latest export: the trust anchor and the public issuing keys.
    assert json.loads(second.root_jwk.read_text(encoding="ascii")) == root_jwk
    jwks = json.loads(second.jwks.read_text(encoding="ascii"))
    assert [key["kid"] for key in jwks["keys"]] == [key.kid for key in list_issuing_keys(office)]
    assert all("d" not in key for key in [root_jwk, *jwks["keys"]])
    assert second.delta is None
    assert sorted(path.name for path in (tmp_path / "published").iterdir()) == [
        "jwks.json",
        "root.jwk",
        "trustlist.jws",
    ]


def test_revoking_twice_an_unknown_serial_or_without_a_reason_is_refused(office: IssuerHome) -> None:
    (serial,) = issue(office, BIRTH_DATE)
    revoke_card(office, serial, "lost", NOW, by=ACTOR)

    with pytest.raises(CardAlreadyRevoked):
        revoke_card(office, serial, "lost again", NOW, by=ACTOR)
    with pytest.raises(UnknownCard):
        revoke_card(office, "00000000", "lost", NOW, by=ACTOR)
    with pytest.raises(UnknownCard):
        find_card(office, "00000000")
    for reason in ("", "   ", "two\nlines", "x" * 201):
        with pytest.raises(IssuerError, match="reason"):
            revoke_card(office, serial, reason, NOW, by=ACTOR)
    record = find_card(office, serial)
    assert (record.revocation_reason, record.revoked_at) == ("lost", NOW)


def test_revocations_of_expired_cards_are_pruned_and_deltas_reproduce_each_list(
    office: IssuerHome, tmp_path: Path
) -> None:
    expiring, long_lived, later, expired_before_listing = issue(
        office, TURNS_FIVE_SOON, BIRTH_DATE, UNDER_FIVE_BIRTH_DATE, TURNS_FIVE_SOON
    )
    for serial in (expiring, long_lived):
        revoke_card(office, serial, "lost", NOW, by=ACTOR)
    first = export_trust_list(office, UNLOCK, NOW, tmp_path / "1", by=ACTOR)

    # Ten days on the first card has ended (5th birthday), so its revocation is dropped;
    # the fourth is revoked only after it ended, so it is never listed at all.
    revoke_card(office, later, "replaced", NOW + DAY, by=ACTOR)
    revoke_card(office, expired_before_listing, "replaced", NOW + 10 * DAY, by=ACTOR)
    second = export_trust_list(office, UNLOCK, NOW + 10 * DAY, tmp_path / "2", since=1, by=ACTOR)
    third = export_trust_list(office, UNLOCK, NOW + 11 * DAY, tmp_path / "3", since=1, by=ACTOR)

    lists = [exported(first, NOW), exported(second, NOW + 10 * DAY), exported(third, NOW + 11 * DAY)]
    assert [trust.revoked for trust in lists] == [
        RevokedSerials.from_serials([expiring, long_lived]),
        RevokedSerials.from_serials([long_lived, later]),
        RevokedSerials.from_serials([long_lived, later]),
    ]
    cards = {serial: find_card(office, serial) for serial in (expiring, long_lived, later, expired_before_listing)}
    assert [(cards[s].listed_seq, cards[s].unlisted_seq) for s in (expiring, long_lived, later)] == [
        (1, 2),
        (1, None),
        (2, None),
    ]
    unlisted = cards[expired_before_listing]
    assert (unlisted.state, unlisted.revoked_at) == ("revoked", NOW + 10 * DAY)
    assert (unlisted.listed_seq, unlisted.unlisted_seq) == (None, None)

    root = root_of(first)
    assert second.delta is not None and second.delta.name == "trustlist-delta-1-2.jws"
    assert third.delta is not None and third.delta.name == "trustlist-delta-1-3.jws"
    from_first = apply_delta(lists[0], second.delta.read_text(encoding="ascii"), root, NOW + 10 * DAY)
    assert from_first == lists[1]
    assert from_first.revoked == lists[1].revoked
    assert apply_delta(lists[0], third.delta.read_text(encoding="ascii"), root, NOW + 11 * DAY) == lists[2]


def test_export_since_a_sequence_that_was_never_published_is_refused(office: IssuerHome, tmp_path: Path) -> None:
    export_trust_list(office, UNLOCK, NOW, tmp_path / "1", by=ACTOR)

    for since in (0, 2, 7):
        with pytest.raises(IssuerError, match="no trust list of sequence"):
            export_trust_list(office, UNLOCK, NOW, tmp_path / "x", since=since, by=ACTOR)
    assert trust_list_seq(office) == 1
    assert not (tmp_path / "x").exists()


def test_an_export_that_cannot_open_the_root_key_changes_nothing(office: IssuerHome, tmp_path: Path) -> None:
    (serial,) = issue(office, BIRTH_DATE)
    revoke_card(office, serial, "lost", NOW, by=ACTOR)

    with pytest.raises(PassphraseWrong):
        export_trust_list(office, KeyUnlock(b"a wrong passphrase, long enough"), NOW, tmp_path / "x",
                          by=ACTOR)

    # The transaction that would have spent sequence 1 and listed the card is rolled back.
    assert trust_list_seq(office) == 0
    assert find_card(office, serial).listed_seq is None
    with office.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TrustListRow)) == 0
    assert not (tmp_path / "x").exists()
    assert export_trust_list(office, UNLOCK, NOW, tmp_path / "1", by=ACTOR).seq == 1


# --- issuing keys ------------------------------------------------------------------------


def test_rotation_keeps_old_cards_valid_and_key_revocation_kills_them(office: IssuerHome, tmp_path: Path) -> None:
    (old_card,) = issue(office, BIRTH_DATE)
    (first_key,) = list_issuing_keys(office)
    new_key = rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR)
    (new_card,) = issue(office, BIRTH_DATE, now=NOW + 120)

    old, new = list_issuing_keys(office)
    assert (old.kid, old.state.value, old.created_at, old.retired_at, old.revoked_at) == (
        first_key.kid,
        "retired",
        NOW - DAY,
        NOW + 60,
        None,
    )
    assert (new.kid, new.state.value, new.created_at, new.retired_at) == (new_key.kid, "active", NOW + 60, None)
    assert (find_card(office, old_card).kid, find_card(office, new_card).kid) == (old.kid, new.kid)
    trust = exported(export_trust_list(office, UNLOCK, NOW + 180, tmp_path / "1", by=ACTOR), NOW + 180)
    assert verify_card(token_of(office, old_card), trust, NOW + 240).kid == old.kid
    assert verify_card(token_of(office, new_card), trust, NOW + 240).kid == new.kid

    revoked = change_issuing_key(office, old.kid, "revoke", NOW + 300, by=ACTOR)
    trust = exported(export_trust_list(office, UNLOCK, NOW + 360, tmp_path / "2", by=ACTOR), NOW + 360)
    assert (revoked.kid, revoked.state.value, revoked.revoked_at) == (old.kid, "revoked", NOW + 300)
    assert [(key.state.value, key.revoked_at) for key in list_issuing_keys(office)] == [
        ("revoked", NOW + 300),
        ("active", None),
    ]
    with pytest.raises(IssuingKeyRevoked):
        verify_card(token_of(office, old_card), trust, NOW + 420)
    assert verify_card(token_of(office, new_card), trust, NOW + 420).kid == new.kid


def test_a_revoked_keys_cards_leave_the_list_its_state_refuses_them_and_a_delta_says_so(
    office: IssuerHome, tmp_path: Path
) -> None:
    # A key given away: its cards are replaced under a new key, then the key is revoked.
    old_cards = issue(office, BIRTH_DATE, BIRTH_DATE, BIRTH_DATE)
    (old,) = list_issuing_keys(office)
    rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR)
    (kept,) = issue(office, BIRTH_DATE, now=NOW + 120)
    for serial in (*old_cards, kept):
        revoke_card(office, serial, "replaced", NOW + 180, by=ACTOR)
    first = export_trust_list(office, UNLOCK, NOW + 240, tmp_path / "1", by=ACTOR)
    assert exported(first, NOW + 240).revoked == RevokedSerials.from_serials([*old_cards, kept])

    change_issuing_key(office, old.kid, "revoke", NOW + 300, by=ACTOR)
    second = export_trust_list(office, UNLOCK, NOW + 360, tmp_path / "2", since=1, by=ACTOR)
    trust = exported(second, NOW + 360)
    # Only the new key's card is listed: the old key's cards are refused by the key's state.
    assert trust.revoked == RevokedSerials.from_serials([kept])
    for serial in old_cards:
        with pytest.raises(IssuingKeyRevoked):
            verify_card(token_of(office, serial), trust, NOW + 420)
    with pytest.raises(CardRevoked):
        verify_card(token_of(office, kept), trust, NOW + 420)
    assert [(find_card(office, serial).listed_seq, find_card(office, serial).unlisted_seq)
            for serial in (*old_cards, kept)] == [(1, 2)] * 3 + [(1, None)]
    # A terminal holding list 1 takes the delta to list 2: the three serials go, the key's state comes.
    assert second.delta is not None
    assert apply_delta(exported(first, NOW + 240), second.delta.read_text(encoding="ascii"), root_of(first),
                       NOW + 360) == trust


def test_a_retired_key_stops_signing_until_a_rotation(office: IssuerHome) -> None:
    (key,) = list_issuing_keys(office)

    retired = change_issuing_key(office, key.kid, "retire", NOW, by=ACTOR)

    assert (retired.state.value, retired.retired_at, retired.revoked_at) == ("retired", NOW, None)
    assert list_issuing_keys(office) == [retired]
    with pytest.raises(KeyLifecycleError, match="kia issuer key rotate"):
        issue(office, BIRTH_DATE)
    assert card_count(office) == 0
    new_key = rotate_issuing_key(office, UNLOCK, NOW + 60, by=ACTOR)
    (serial,) = issue(office, BIRTH_DATE, now=NOW + 120)
    assert find_card(office, serial).kid == new_key.kid
    assert [key.state.value for key in list_issuing_keys(office)] == ["retired", "active"]
