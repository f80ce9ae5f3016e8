"""``kia national publish``: the directory and its deltas as a static site a terminal fetches from.

The ministry's home and the site folder are real folders; the commands run
in process (click's runner) with the development flag for the national
root, so no passphrase is needed.  Offices are the federation factories'
(keys made at run time); the commands read the real clock, so every check
is at the time the directory was issued.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from keys import load_public_jwk, public_jwk
from keys.directory import apply_directory_delta, verify_directory
from keys.jwk import kid_for
from kia.national import KEPT_SEQUENCES, NationalError, load_state, national, publish, published, rotate_office
from tests.factories.federation import make_office
from tests.factories.federation import run_national as _kia

DEV = "--insecure-dev-unencrypted-keys"
REGIONS = (3372, 6311, 9171)



@pytest.fixture
def ministry(tmp_path: Path) -> Path:
    home = tmp_path / "ministry"
    _kia("init", "--home", home, DEV)
    for region in REGIONS:
        root = tmp_path / f"root-{region}.jwk"
        root.write_text(json.dumps(public_jwk(make_office(region).root.public_key())))
        _kia("office-add", "--home", home, "--region", region, "--root", root, "--valid-from", "2020-01-01",
             "--valid-until", "2040-01-01")
    return home


def test_publish_writes_the_directory_and_a_delta_from_every_earlier_sequence(ministry: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pin = load_public_jwk(json.loads((ministry / "national-root.jwk").read_text()))

    first = _kia("publish", "--home", ministry, "--out", site, DEV)
    _kia("office-suspend", "--home", ministry, "--region", 9171)
    second = _kia("publish", "--home", ministry, "--out", site, DEV)
    _kia("office-revoke", "--home", ministry, "--region", 6311)
    third = _kia("publish", "--home", ministry, "--out", site, "--valid-days", 7, DEV)

    assert (first["seq"], first["deltas_from"]) == (1, [])
    assert (second["seq"], second["deltas_from"]) == (2, [1])
    assert (third["seq"], third["deltas_from"]) == (3, [1, 2])
    now = published(load_state(ministry), 3).issued_at
    directory = verify_directory((site / "directory.jws").read_text().strip(), pin, now)
    assert directory.seq == 3 and directory.expires_at - now == 7 * 86400
    assert sorted(path.name for path in (site / "directory-deltas").iterdir()) == ["1.jws", "2.jws"]
    # A terminal at sequence 1, or at 2, reaches exactly the full directory of 3.
    for held in (1, 2):
        old = published(load_state(ministry), held)  # what a terminal at that sequence holds
        delta = (site / "directory-deltas" / f"{held}.jws").read_text().strip()
        assert apply_directory_delta(old, delta, pin, now) == directory


def test_deltas_from_sequences_no_longer_kept_are_removed(ministry: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "directory-deltas").mkdir(parents=True)
    (site / "directory-deltas" / "0.jws").write_text("from a sequence the ministry no longer keeps")

    answer = _kia("publish", "--home", ministry, "--out", site, DEV)

    assert answer["deltas_removed"] == [0]
    assert list((site / "directory-deltas").iterdir()) == []


def test_publish_keeps_sign_and_delta_working_on_the_same_history(ministry: Path, tmp_path: Path) -> None:
    _kia("sign", "--home", ministry, "--out", tmp_path / "directory-1.jws", DEV)
    _kia("publish", "--home", ministry, "--out", tmp_path / "site", DEV)
    delta = _kia("delta", "--home", ministry, "--from", 1, "--out", tmp_path / "delta.jws", DEV)
    state = json.loads((ministry / "national.json").read_text())

    assert (delta["from"], delta["seq"]) == (1, 2)
    assert [entry["seq"] for entry in state["published"]] == [1, 2]
    assert KEPT_SEQUENCES == 64  # the site carries at most 63 deltas



# --- a root rotation with an overlap ---------------------------------------------------------


def test_a_rotation_with_an_overlap_lists_both_roots_until_it_ends(ministry: Path, tmp_path: Path) -> None:
    new_root = make_office(6311).root.public_key()
    (tmp_path / "new.jwk").write_text(json.dumps(public_jwk(new_root)))
    held = load_state(ministry).offices[6311]

    rotated = _kia("office-add", "--home", ministry, "--region", 6311, "--root", tmp_path / "new.jwk",
                   "--valid-from", "2020-01-01", "--valid-until", "2040-01-01", "--replace",
                   "--overlap-until", "2039-01-01")
    _kia("publish", "--home", ministry, "--out", tmp_path / "site", DEV)

    assert (rotated["root_kid"], rotated["previous_root_kid"]) == (kid_for(new_root), held.root_kid)
    office = published(load_state(ministry), 1).office(6311)
    assert office is not None and office.previous_root == held.root and office.root == new_root
    # Changing the dates later keeps the overlap under way.
    _kia("office-add", "--home", ministry, "--region", 6311, "--root", tmp_path / "new.jwk",
         "--valid-from", "2020-01-01", "--valid-until", "2041-01-01", "--replace")
    assert load_state(ministry).offices[6311].previous_root == held.root


def test_an_overlap_that_ended_is_dropped_at_the_next_publish(ministry: Path, tmp_path: Path) -> None:
    state = load_state(ministry)
    new_root = make_office(6311).root.public_key()
    rotate_office(state, dataclasses.replace(state.offices[6311], root=new_root), overlap_until=1_900_000_000,
                  now=1_800_000_000)

    directory = publish(state, 1_900_000_000, dt.timedelta(days=30))

    office = directory.office(6311)
    assert office is not None and (office.root, office.previous_root, office.previous_until) == (new_root, None, None)


@pytest.mark.parametrize(("options", "code", "says"), [
    (["--overlap-until", "2039-01-01"], 2, "give --replace too"),
    (["--replace", "--overlap-until", "2001-01-01"], 1, "overlap must end after now"),
])
def test_an_overlap_is_refused_without_replace_or_when_it_ended_already(
    ministry: Path, tmp_path: Path, options: list[str], code: int, says: str,
) -> None:
    (tmp_path / "new.jwk").write_text(json.dumps(public_jwk(make_office(6311).root.public_key())))

    result = CliRunner().invoke(national, ["office-add", "--home", str(ministry), "--region", "6311", "--root",
                                           str(tmp_path / "new.jwk"), "--valid-until", "2040-01-01", *options])

    assert result.exit_code == code and says in result.output + str(result.exception)


def test_an_overlap_needs_a_new_root(ministry: Path, tmp_path: Path) -> None:
    state = load_state(ministry)

    with pytest.raises(NationalError, match="needs a new root"):
        rotate_office(state, state.offices[6311], overlap_until=2_000_000_000, now=1_800_000_000)
