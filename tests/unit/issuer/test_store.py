"""issuer.store: the office's home folder, its state file, lock and key files."""

from __future__ import annotations

import fcntl
import json
import os
import stat
from pathlib import Path

import pytest

from issuer import service
from issuer.artifacts import write_many
from issuer.batch import read_batch
from issuer.errors import HomeBusy, HomeExists, HomeNotFound
from issuer.store import STATE_FILE, IssuerHome, IssuerState
from tests.factories import DAY, NOW, utc

UNLOCK = service.KeyUnlock(b"unit-test passphrase, not a secret")


@pytest.fixture
def home(tmp_path: Path) -> IssuerHome:
    office = IssuerHome(tmp_path / "office")
    service.init_home(office, UNLOCK, NOW - DAY)
    return office


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def issue_two_and_revoke_one(home: IssuerHome, out: Path) -> list[service.IssuedCard]:
    batch = out / "batch.csv"
    out.mkdir(exist_ok=True)
    batch.write_text("birth_date,region\n2018-05-14,3372\n2023-03-10,6311\n", encoding="utf-8")
    requests, _ = read_batch(batch, utc(NOW))
    issued = service.issue_cards(home, UNLOCK, requests, utc(NOW))
    service.revoke_card(home, issued[1].record.serial, "hilang (lost)", NOW)
    service.export_trust_list(home, UNLOCK, NOW, out)
    return issued


def test_the_state_round_trips_through_the_state_file(home: IssuerHome, tmp_path: Path) -> None:
    issued = issue_two_and_revoke_one(home, tmp_path / "out")
    service.rotate_issuing_key(home, UNLOCK, NOW + DAY)

    state = home.load()
    copy = IssuerHome(tmp_path / "copy")
    copy.save(state)

    assert copy.load() == state
    assert IssuerState.from_json(json.loads(json.dumps(state.to_json()))) == state
    assert state.trust_list_seq == 1
    assert [entry.key.state.value for entry in state.keys] == ["retired", "active"]
    revoked = state.cards[issued[1].record.serial]
    assert (revoked.state, revoked.revocation_reason, revoked.listed_seq) == ("revoked", "hilang (lost)", 1)
    assert state.cards[issued[0].record.serial] == issued[0].record


def test_a_state_file_of_another_format_is_refused(home: IssuerHome) -> None:
    data = json.loads(home.state_path.read_text(encoding="utf-8"))
    data["format"] = 99
    home.state_path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(ValueError, match="unsupported state format 99"):
        home.load()


def test_a_folder_without_a_state_file_is_not_a_home(tmp_path: Path) -> None:
    with pytest.raises(HomeNotFound, match="kia issuer init"):
        IssuerHome(tmp_path).load()


def test_a_mistyped_home_is_not_created_as_a_side_effect(tmp_path: Path) -> None:
    """An operation on a folder that is not a home must leave the disk as it was."""
    typo = IssuerHome(tmp_path / "ofice")

    with pytest.raises(HomeNotFound):
        service.revoke_card(typo, "00000000", "lost", NOW)

    assert not typo.path.exists()


def test_init_never_overwrites_a_home(home: IssuerHome) -> None:
    before = home.state_path.read_bytes()
    keys_before = sorted(path.name for path in (home.path / "keys").iterdir())

    with pytest.raises(HomeExists):
        service.init_home(home, UNLOCK, NOW)
    with pytest.raises(HomeExists):
        home.create(home.load())

    assert home.state_path.read_bytes() == before
    assert sorted(path.name for path in (home.path / "keys").iterdir()) == keys_before


def test_a_home_locked_by_another_command_is_busy(home: IssuerHome, tmp_path: Path) -> None:
    # Another process's lock: a separate open file description holding flock.
    fd = os.open(home.path / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(HomeBusy, match="try again"):
            service.rotate_issuing_key(home, UNLOCK, NOW)
        with pytest.raises(HomeBusy):
            service.export_trust_list(home, UNLOCK, NOW, tmp_path / "out")
    finally:
        os.close(fd)

    assert len(home.load().keys) == 1  # nothing happened while busy
    service.rotate_issuing_key(home, UNLOCK, NOW)  # and the lock is free again
    assert len(home.load().keys) == 2


def test_the_lock_is_not_reentrant_within_one_process(home: IssuerHome) -> None:
    with home.locked(), pytest.raises(HomeBusy):
        service.revoke_card(home, "00000000", "lost", NOW)


def test_state_and_key_files_are_readable_by_the_owner_only(home: IssuerHome, tmp_path: Path) -> None:
    issue_two_and_revoke_one(home, tmp_path / "out")

    assert mode(home.path) == 0o700
    assert mode(home.state_path) == 0o600
    assert mode(home.path / ".lock") == 0o600
    assert mode(home.path / "keys") == 0o700
    key_files = list((home.path / "keys").iterdir())
    assert len(key_files) == 2  # root and the first issuing key
    assert all(mode(path) == 0o600 for path in key_files)
    assert all(b"ENCRYPTED PRIVATE KEY" in path.read_bytes() for path in key_files)


def test_saving_leaves_no_temporary_files(home: IssuerHome, tmp_path: Path) -> None:
    issue_two_and_revoke_one(home, tmp_path / "out")

    assert sorted(path.name for path in home.path.iterdir()) == sorted([".lock", STATE_FILE, "keys"])


def test_no_childs_name_nik_school_or_birth_day_is_ever_written(home: IssuerHome, tmp_path: Path) -> None:
    children = [
        ("2018-05-14", "3372", "Siti Rahayu Kusumawardani", "3372015405180001", "SD Negeri Mangkubumen", "p-1"),
        ("2023-03-10", "6311", "Muhammad Rizky Ananda", "6311011003230002", "PAUD Melati Balangan", "p-2"),
        ("2012-12-03", "9171", "Yohanes Wenda", "9171010312120003", "SD Inpres Kotaraja", "p-3"),
    ]
    out = tmp_path / "cards"
    out.mkdir()
    batch = out / "school.csv"
    batch.write_text(
        "birth_date,region,name,nik,school,external_id\n" + "".join(",".join(row) + "\n" for row in children),
        encoding="utf-8",
    )
    requests, errors = read_batch(batch, utc(NOW))
    assert errors == [] and len(requests) == 3
    issued = service.issue_cards(home, UNLOCK, requests, utc(NOW))
    write_many([(item.record.serial, item.record.token) for item in issued], out)
    service.revoke_card(home, issued[0].record.serial, "diganti (replaced)", NOW)
    service.export_trust_list(home, UNLOCK, NOW, tmp_path / "published")
    batch.unlink()  # the school's own file is theirs; everything else is ours

    written = [path for folder in (home.path, out, tmp_path / "published") for path in folder.rglob("*")]
    contents = [path.read_bytes() for path in written if path.is_file()]
    assert len(contents) >= 2 + 3 * 3 + 3  # state and keys, card files, published files
    for birth_date, _region, name, nik, school, _external_id in children:
        year, month, day = birth_date.split("-")
        # Words of six letters or more: a shorter one may turn up by chance in base64 or PNG data.
        words = [word for word in name.split() if len(word) >= 6]
        for secret in (name, *words, nik, school, birth_date, f"{day}-{month}-{year}", f"{day}/{month}/{year}"):
            assert not any(secret.encode("utf-8") in content for content in contents), secret
