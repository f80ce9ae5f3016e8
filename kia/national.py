"""``kia national``: the ministry's national trust directory of office roots (docs/federation.md).

The ministry's civil registry directorate keeps, in a home folder, its
national root key (encrypted PKCS#8, passphrase from KIA_ROOT_KEY_PASSPHRASE
or KIA_KEY_PASSPHRASE, as office roots; or, with ``init --hsm``, on a
PKCS#11 token, named by ``national-root.pkcs11.json``, the key never leaving
the token: docs/hsm.md), the public pin terminals take
(``national-root.jwk``) and the directory's state as JSON
(``national.json``): the offices as they stand, and the offices of each
signed sequence, from which deltas are made.  No database.

    init            make the national root (--hsm: on a token) and an empty directory
    office-add      list an office's root for its region (--replace to rotate or reinstate;
                    --overlap-until to trust the old root too while the office switches)
    office-suspend  stop trusting an office for now
    office-revoke   stop trusting an office's root for good
    sign            sign the next full directory
    delta           sign a delta from an earlier sequence to the last signed
    publish         sign the next directory and write it, with a delta from every kept sequence,
                    as the files a plain web server serves to terminals
    prepare         what publish would sign, as a request for the national root on an air-gapped machine
    sign-request    on that machine: sign the request (no home; kia.national_offline)
    import          verify the signed bundle, record it and write the site, as publish does
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keys import CLOCK_SKEW_LEEWAY, durable, hsm, keystore
from keys.ceremony import MIN_FINGERPRINT_HEX, check_fingerprint, fingerprint
from keys.directory import (
    DirectoryChange,
    Office,
    OfficeState,
    TrustDirectory,
    build_directory,
    sign_directory,
    sign_directory_change,
    sign_directory_delta,
)
from keys.eligibility import is_valid_region, region_timezone
from keys.errors import KeyStoreError
from keys.hsm_options import token_address, token_options
from keys.jwk import kid_for, load_public_jwk, public_jwk
from keys.times import iso_utc, parse_instant
from kia.national_errors import NationalError, NationalHomeMissing
from kia.national_offline import (
    MAX_SIGNED_DAYS,
    DirectoryBundle,
    DirectoryRequest,
    sign_request,
)

STATE_FILE = "national.json"
ROOT_KEY_FILE = "national-root.key"
ROOT_KEY_REFERENCE = f"national-root{hsm.REFERENCE_SUFFIX}"  # instead of the key file, for a root on a token
ROOT_JWK_FILE = "national-root.jwk"
STATE_FORMAT = "kia-national-1"
# What ``publish`` writes in the site folder: the full directory, and a delta from each kept sequence.
SITE_DIRECTORY = "directory.jws"
SITE_DELTAS = "directory-deltas"
# Signed sequences kept for deltas; a terminal further behind fetches the full directory.
KEPT_SEQUENCES = 64
DEV_FLAG = "--insecure-dev-unencrypted-keys"


@dataclasses.dataclass
class Published:
    seq: int
    issued_at: int
    expires_at: int
    offices: list[dict[str, Any]]

    def directory(self) -> TrustDirectory:
        return TrustDirectory(self.seq, self.issued_at, self.expires_at,
                              tuple(Office.from_json(entry) for entry in self.offices))


@dataclasses.dataclass
class NationalState:
    """The directory as the ministry keeps it: offices now, and what each kept sequence said."""

    offices: dict[int, Office]
    published: list[Published]

    @property
    def last_seq(self) -> int:
        return self.published[-1].seq if self.published else 0

    def copy(self) -> NationalState:
        """A copy that ``publish`` may change while this one stays as it is."""
        return NationalState(dict(self.offices), list(self.published))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "offices": [self.offices[region].to_json() for region in sorted(self.offices)],
            "published": [dataclasses.asdict(published) for published in self.published],
        }

    @classmethod
    def from_json(cls, value: Any) -> NationalState:
        if not isinstance(value, dict) or value.get("format") != STATE_FORMAT:
            raise NationalError(f"{STATE_FILE} is not a national directory state of this version")
        try:
            offices = [Office.from_json(entry) for entry in value["offices"]]
            published = [Published(**entry) for entry in value["published"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise NationalError(f"{STATE_FILE} is damaged ({exc}); restore it from the backup") from None
        return cls({office.region: office for office in offices}, published)


# --- the state, as plain functions the commands call ---------------------------------


def load_state(home: Path) -> NationalState:
    path = home / STATE_FILE
    if not path.is_file():
        raise NationalHomeMissing(f"{home} holds no national directory; run 'kia national init --home {home}'")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise NationalError(f"{STATE_FILE} is not JSON; restore it from the backup") from None
    return NationalState.from_json(value)


def save_state(home: Path, state: NationalState) -> None:
    data = json.dumps(state.to_json(), indent=1, sort_keys=False).encode("utf-8") + b"\n"
    durable.replace(home / STATE_FILE, data, 0o644)


def add_office(state: NationalState, office: Office, *, replace: bool) -> None:
    """List ``office`` (active); an office already listed is changed only with ``replace``.

    A revoked root is never listed again: the office needs a new root.  A
    change that keeps the root keeps a rotation's overlap under way.
    """
    held = state.offices.get(office.region)
    if held is not None and not replace:
        raise NationalError(f"region {office.region} is already listed; use --replace to change its root or dates")
    if held is not None and held.state is OfficeState.REVOKED and held.root_bytes == office.root_bytes:
        raise NationalError(f"the root of region {office.region} is revoked; the office must make a new root")
    if held is not None and held.root_bytes == office.root_bytes and office.previous_root is None:
        office = dataclasses.replace(office, previous_root=held.previous_root, previous_until=held.previous_until)
    others = [other for other in state.offices.values() if other.region != office.region]
    if any(root in other.listed_roots for other in others for root in office.listed_roots):
        raise NationalError("that root key is already listed for another region; each office has its own root")
    state.offices[office.region] = office


def rotate_office(state: NationalState, office: Office, overlap_until: int, now: int) -> Office:
    """Give the listed office of ``office.region`` its new root, trusting the old one too until ``overlap_until``.

    Terminals then accept the office's lists under either root, so the
    office may sign with the new one at any moment of the overlap.
    """
    held = state.offices.get(office.region)
    if held is None:
        raise NationalError(f"region {office.region} is not listed; an overlap needs a root to leave")
    if held.state is OfficeState.REVOKED:
        raise NationalError(f"the root of region {office.region} is revoked: it is not trusted during any overlap")
    if held.root_bytes == office.root_bytes:
        raise NationalError(f"that is the root region {office.region} lists already; an overlap needs a new root")
    if not now < overlap_until <= office.valid_until:
        raise NationalError("the overlap must end after now, and no later than the new root's --valid-until")
    rotated = dataclasses.replace(office, previous_root=held.root, previous_until=overlap_until)
    add_office(state, rotated, replace=True)
    return rotated


def change_office(state: NationalState, region: int, to: OfficeState) -> Office:
    """Suspend or revoke the office of ``region``; a revoked office stays revoked."""
    held = state.offices.get(region)
    if held is None:
        raise NationalError(f"region {region} is not listed; 'kia national office-add' lists it")
    if held.state is OfficeState.REVOKED:
        raise NationalError(f"the root of region {region} is already revoked")
    if held.state is to:
        raise NationalError(f"the office of region {region} is already {to.value}")
    changed = dataclasses.replace(held, state=to)
    state.offices[region] = changed
    return changed


def publish(state: NationalState, now: int, validity: dt.timedelta) -> TrustDirectory:
    """The next directory (one more sequence), recorded as published.  Overlaps that ended are dropped.

    ``prepare`` and ``import`` call it too (on a copy of the state), so that
    a directory signed offline is exactly the one ``publish`` would sign.
    """
    for region, office in state.offices.items():
        if office.previous_until is not None and office.previous_until <= now:
            state.offices[region] = dataclasses.replace(office, previous_root=None, previous_until=None)
    directory = build_directory(state.last_seq + 1, state.offices.values(), now, validity)
    state.published.append(Published(directory.seq, directory.issued_at, directory.expires_at,
                                      directory.offices_json()))
    del state.published[:-KEPT_SEQUENCES]
    return directory


def earlier_kept(state: NationalState) -> list[TrustDirectory]:
    """The kept directories before the last published one: the site has a delta from each to the last."""
    return [entry.directory() for entry in state.published[:-1]]


def signing_request(state: NationalState, root_kid: str, now: int, valid_days: int) -> DirectoryRequest:
    """What the national root must sign for the next sequence: what ``publish`` would sign at ``now``, with
    the change from each sequence it would keep.  ``state`` is left as it is."""
    after = state.copy()
    directory = publish(after, now, dt.timedelta(days=valid_days))
    changes = tuple(DirectoryChange.between(old, directory) for old in earlier_kept(after))
    return DirectoryRequest(root_kid, directory.seq, now, valid_days, directory.offices, changes)


def import_bundle(state: NationalState, bundle: DirectoryBundle, national_root: Ed25519PublicKey,
                  now: int) -> tuple[TrustDirectory, dict[int, str]]:
    """Record the bundle's directory in ``state`` as ``publish`` would have; the directory and its deltas.

    The directory must verify under ``national_root`` and be the one
    ``publish`` gives for its issue time: the next sequence, the offices as
    they stand.  There must be a delta from each sequence ``publish``
    writes one from, leading to it.  Raises NationalError, leaving
    ``state`` unchanged.
    """
    directory = bundle.verified_directory(national_root, now)
    if directory.seq <= state.last_seq:
        raise NationalError(f"sequence {directory.seq} is already published (the last is {state.last_seq}); "
                            "this bundle was imported before")
    if directory.seq != state.last_seq + 1:
        raise NationalError(f"the bundle is of sequence {directory.seq}, but the next is {state.last_seq + 1}; "
                            "prepare again")
    if directory.issued_at > now + CLOCK_SKEW_LEEWAY:
        raise NationalError("the bundle's directory is issued later than now: the signing machine's clock is "
                            "ahead; set it and sign again")
    after = state.copy()
    validity = dt.timedelta(seconds=directory.expires_at - directory.issued_at)
    if publish(after, directory.issued_at, validity) != directory:
        raise NationalError("the offices changed since the request was prepared; prepare again, and sign the "
                            "new request")
    deltas = bundle.verified_deltas(directory, earlier_kept(after), national_root, now)
    state.offices, state.published = after.offices, after.published
    return directory, deltas


def published(state: NationalState, seq: int) -> TrustDirectory:
    for entry in state.published:
        if entry.seq == seq:
            return entry.directory()
    raise NationalError(f"sequence {seq} is not kept (only the last {KEPT_SEQUENCES}); send the full directory")


def site_deltas(state: NationalState, root: Ed25519PrivateKey) -> dict[int, str]:
    """A signed delta from every kept sequence before the last to the last: what terminals ask for."""
    new = published(state, state.last_seq)
    return {old.seq: sign_directory_delta(old, new, root) for old in earlier_kept(state)}


def write_site(site: Path, directory_token: str, deltas: dict[int, str]) -> list[int]:
    """Write the directory and ``deltas`` (from sequence -> token) as a static site; the stale deltas go.

    Each file is replaced atomically.  The full directory is written first,
    so that any delta a server hands out leads at most to the sequence of
    the full directory a terminal falls back to (never past it).  Deltas
    from sequences no longer kept are removed.  Returns the sequences
    removed.
    """
    folder = site / SITE_DELTAS
    durable.make_folders(folder, 0o755)
    _write(site / SITE_DIRECTORY, directory_token)
    for from_seq, token in sorted(deltas.items()):
        _write(folder / f"{from_seq}.jws", token)
    removed = []
    for path in folder.glob("*.jws"):
        if path.stem.isdigit() and int(path.stem) not in deltas:
            path.unlink()
            removed.append(int(path.stem))
    return sorted(removed)


# --- the commands -----------------------------------------------------------------------------

home_option = click.option("--home", required=True, type=click.Path(file_okay=False, path_type=Path),
                           help="The national directory's home folder (state and the encrypted national root).")
region_option = click.option("--region", required=True, type=int, help="The regency/city code, e.g. 3372.")
dev_keys_option = click.option(DEV_FLAG, "insecure_dev_keys", is_flag=True,
                               help="DANGEROUS, development only: keep the national root unencrypted.")
valid_days_option = click.option("--valid-days", type=click.IntRange(1, MAX_SIGNED_DAYS), default=30,
                                 show_default=True)
site_option = click.option("--out", "site", required=True, type=click.Path(file_okay=False, path_type=Path),
                           help="The folder a web server serves: directory.jws and directory-deltas/FROM.jws go there.")


@click.group()
def national() -> None:
    """Ministry: the national trust directory of the offices' root keys."""


@national.command("init")
@home_option
@dev_keys_option
@click.option("--hsm", "on_token", is_flag=True,
              help="Make the national root on a PKCS#11 token, not in an encrypted file (docs/hsm.md).")
@token_options
def init(home: Path, insecure_dev_keys: bool, on_token: bool, pkcs11_module: str | None,
         hsm_token: str | None) -> None:
    """Make the national root key and an empty directory in HOME."""
    if (home / STATE_FILE).exists():
        raise NationalError(f"{home} already holds a national directory")
    token = token_address(on_token, pkcs11_module, hsm_token)
    root: Ed25519PrivateKey
    if token is None:
        root = Ed25519PrivateKey.generate()
        keystore.write_private_key(home / ROOT_KEY_FILE, root, _passphrase(insecure_dev_keys),
                                   allow_unencrypted_for_development=insecure_dev_keys)
    elif insecure_dev_keys:
        raise click.UsageError(f"a root on a token is never in a file: --hsm and {DEV_FLAG} do not go together")
    else:
        root = hsm.generate_key(token, "national-root")
        hsm.write_reference(home / ROOT_KEY_REFERENCE, hsm.KeyReference.of(token, root))
    pin = json.dumps(public_jwk(root.public_key()), indent=1).encode("ascii") + b"\n"
    durable.replace(home / ROOT_JWK_FILE, pin, 0o644)
    save_state(home, NationalState({}, []))
    _emit({"home": str(home), "root_kid": kid_for(root.public_key()), "root_jwk": str(home / ROOT_JWK_FILE)})


@national.command("office-add")
@home_option
@region_option
@click.option("--root", "root_file", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The office's root public key (root.jwk, from 'kia issuer trustlist export').")
@click.option("--valid-from", help="ISO 8601 time with offset, or YYYY-MM-DD (00:00 in the region); default now.")
@click.option("--valid-until", required=True, help="ISO 8601 time with offset, or YYYY-MM-DD (00:00 in the region).")
@click.option("--replace", is_flag=True, help="Change a listed office: a new root, new dates, or active again.")
@click.option("--overlap-until", help="With --replace and a new root: trust the old root too until then (ISO 8601 "
              "time with offset, or YYYY-MM-DD), so the office may switch roots at any moment before.")
def office_add(home: Path, region: int, root_file: Path, valid_from: str | None, valid_until: str,
               replace: bool, overlap_until: str | None) -> None:
    """List the office of REGION with its root key, active from --valid-from to --valid-until."""
    _check_region(region)
    state = load_state(home)
    try:
        root = load_public_jwk(json.loads(root_file.read_text(encoding="utf-8")))
    except ValueError:
        raise NationalError(f"{root_file.name} is not a JSON public key") from None
    start = _now() if valid_from is None else _instant(valid_from, region, "--valid-from")
    end = _instant(valid_until, region, "--valid-until")
    if end <= start:
        raise click.BadParameter("must be later than --valid-from", param_hint="--valid-until")
    office = Office(region, root, OfficeState.ACTIVE, start, end)
    if overlap_until is None:
        add_office(state, office, replace=replace)
    elif not replace:
        raise click.UsageError("--overlap-until changes a listed office's root: give --replace too")
    else:
        office = rotate_office(state, office, _instant(overlap_until, region, "--overlap-until"), _now())
    save_state(home, state)
    _emit(_office_summary(office))


def _change(home: Path, region: int, to: OfficeState) -> None:
    _check_region(region)
    state = load_state(home)
    changed = change_office(state, region, to)
    save_state(home, state)
    _emit(_office_summary(changed) | {"note": "sign the directory to tell the terminals"})


@national.command("office-suspend")
@home_option
@region_option
def office_suspend(home: Path, region: int) -> None:
    """Stop trusting the office of REGION for now ('office-add --replace' makes it active again)."""
    _change(home, region, OfficeState.SUSPENDED)


@national.command("office-revoke")
@home_option
@region_option
def office_revoke(home: Path, region: int) -> None:
    """Stop trusting the root of REGION for good: none of its cards verify after the next directory."""
    _change(home, region, OfficeState.REVOKED)


@national.command("sign")
@home_option
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The directory file.")
@valid_days_option
@dev_keys_option
def sign(home: Path, out: Path, valid_days: int, insecure_dev_keys: bool) -> None:
    """Sign the next full directory with the national root and write it to --out."""
    state = load_state(home)
    root = _root(home, insecure_dev_keys)
    directory = publish(state, _now(), dt.timedelta(days=valid_days))
    token = sign_directory(directory, root)
    _write(out, token)
    save_state(home, state)
    _emit({"seq": directory.seq, "offices": len(directory.offices), "directory": str(out),
           "issued_at": iso_utc(directory.issued_at), "expires_at": iso_utc(directory.expires_at)})


@national.command("delta")
@home_option
@click.option("--from", "from_seq", required=True, type=click.IntRange(min=1), help="The sequence terminals hold.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The delta file.")
@dev_keys_option
def delta(home: Path, from_seq: int, out: Path, insecure_dev_keys: bool) -> None:
    """Sign a delta from sequence --from to the last signed directory."""
    state = load_state(home)
    if from_seq >= state.last_seq:
        raise NationalError(f"the last signed directory is sequence {state.last_seq}; a delta must lead past --from")
    old, new = published(state, from_seq), published(state, state.last_seq)
    change = DirectoryChange.between(old, new)
    _write(out, sign_directory_change(change, new, _root(home, insecure_dev_keys)))
    _emit({"from": from_seq, "seq": new.seq, "changed": list(change.changed), "removed": list(change.removed),
           "delta": str(out)})


@national.command("publish")
@home_option
@site_option
@valid_days_option
@dev_keys_option
def publish_site(home: Path, site: Path, valid_days: int, insecure_dev_keys: bool) -> None:
    """Sign the next directory and write it, with a delta from each kept sequence, to the site folder --out.

    Terminals holding sequence N fetch directory-deltas/N.jws beside
    directory.jws, and the full directory when there is none.
    """
    state = load_state(home)
    root = _root(home, insecure_dev_keys)
    directory = publish(state, _now(), dt.timedelta(days=valid_days))
    token = sign_directory(directory, root)
    deltas = site_deltas(state, root)
    # The sequence is recorded before any terminal can see it: a crash below never signs it twice.
    save_state(home, state)
    removed = write_site(site, token, deltas)
    _emit(_site_report(directory, site, deltas, removed))


@national.command("prepare")
@home_option
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The signing request file to carry to the offline machine.")
@valid_days_option
def prepare(home: Path, out: Path, valid_days: int) -> None:
    """Write the next directory, as 'publish' would sign it, as a request for the national root offline.

    Needs no root key, and changes nothing in HOME.  Prints the request's
    fingerprint: note it, and give it to 'sign-request' on the offline machine.
    """
    state = load_state(home)
    request = signing_request(state, kid_for(_pin(home)), _now(), valid_days)
    data = request.to_bytes()
    _write_file(out, data)
    _emit({"seq": request.seq, "offices": len(request.offices),
           "deltas_from": [change.from_seq for change in request.deltas], "request": str(out),
           "fingerprint": fingerprint(data)})


@national.command("sign-request")
@click.option("--root-key", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help=f"The national root's key file ({ROOT_KEY_FILE}), or its HSM key reference "
                   f"({ROOT_KEY_REFERENCE}), on this offline machine.")
@click.option("--in", "request_file", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The signing request that 'prepare' wrote.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The signed bundle to carry back to 'import'.")
@click.option("--fingerprint", "expected", required=True,
              help=f"The fingerprint 'prepare' printed (at least {MIN_FINGERPRINT_HEX} hex characters).")
@click.option("--valid-days", type=click.IntRange(1, MAX_SIGNED_DAYS),
              help="Days the directory is valid; default: as 'prepare --valid-days' asked.")
@dev_keys_option
def sign_request_command(root_key: Path, request_file: Path, out: Path, expected: str, valid_days: int | None,
                         insecure_dev_keys: bool) -> None:
    """Sign a prepared directory and its deltas with the national root (no home).

    The passphrase comes from KIA_ROOT_KEY_PASSPHRASE(_FILE), or
    KIA_KEY_PASSPHRASE(_FILE); a root on a token needs its PIN in KIA_HSM_PIN.
    """
    data = request_file.read_bytes()
    check_fingerprint(data, expected, NationalError)  # before the key is opened: a changed request is never signed
    directory, bundle = sign_request(data, _read_root(root_key, insecure_dev_keys), _now(), valid_days)
    _write_file(out, bundle.to_bytes())
    _emit({"seq": directory.seq, "offices": len(directory.offices), "deltas_from": sorted(bundle.deltas),
           "bundle": str(out), "issued_at": iso_utc(directory.issued_at),
           "expires_at": iso_utc(directory.expires_at)})


@national.command("import")
@home_option
@click.argument("bundle_file", metavar="BUNDLE", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@site_option
def import_command(home: Path, bundle_file: Path, site: Path) -> None:
    """Verify a BUNDLE signed offline ('sign-request'), record it and write the site --out, as 'publish' does."""
    state = load_state(home)
    bundle = DirectoryBundle.from_bytes_unverified(bundle_file.read_bytes())
    directory, deltas = import_bundle(state, bundle, _pin(home), _now())
    save_state(home, state)  # before any terminal can see it, as publish does
    removed = write_site(site, bundle.directory, deltas)
    _emit(_site_report(directory, site, deltas, removed) | {"request_sha256": bundle.request_sha256})


def _site_report(directory: TrustDirectory, site: Path, deltas: dict[int, str], removed: list[int]) -> dict[str, Any]:
    return {"seq": directory.seq, "offices": len(directory.offices), "directory": str(site / SITE_DIRECTORY),
            "deltas_from": sorted(deltas), "deltas_removed": removed,
            "issued_at": iso_utc(directory.issued_at), "expires_at": iso_utc(directory.expires_at)}


def _root(home: Path, insecure_dev_keys: bool) -> Ed25519PrivateKey:
    """The national root: on its token when the home names one (its PIN from KIA_HSM_PIN), else the key file."""
    reference = home / ROOT_KEY_REFERENCE
    return _read_root(reference if reference.is_file() else home / ROOT_KEY_FILE, insecure_dev_keys)


def _read_root(path: Path, insecure_dev_keys: bool) -> Ed25519PrivateKey:
    """The national root from its encrypted key file, or on its token for a key reference (no passphrase)."""
    passphrase = None if hsm.is_reference(path) else _passphrase(insecure_dev_keys)
    return keystore.read_signing_key(path, passphrase, allow_unencrypted_for_development=insecure_dev_keys)


def _pin(home: Path) -> Ed25519PublicKey:
    """The national root's public key as the home holds it (national-root.jwk, what terminals pin)."""
    try:
        return load_public_jwk(json.loads((home / ROOT_JWK_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyStoreError):
        raise NationalError(f"{home / ROOT_JWK_FILE} is missing or not a public key; restore it from the "
                            "backup") from None


def _passphrase(insecure_dev_keys: bool) -> bytes | None:
    if insecure_dev_keys:
        click.echo("WARNING: the national root is NOT encrypted (development flag)", err=True)
        return None
    return keystore.root_passphrase_from_env()


def _check_region(region: int) -> None:
    if not is_valid_region(region):
        raise click.BadParameter(f"{region} is not a regency/city code (four digits, e.g. 3372)",
                                 param_hint="--region")


def _instant(text: str, region: int, option: str) -> int:
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return int(dt.datetime.combine(day, dt.time(0), region_timezone(region)).timestamp())
        return parse_instant(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: {exc}", param_hint=option) from None


def _office_summary(office: Office) -> dict[str, Any]:
    summary = {"region": office.region, "root_kid": office.root_kid, "state": office.state.value,
               "valid_from": iso_utc(office.valid_from), "valid_until": iso_utc(office.valid_until)}
    if office.previous_root is not None and office.previous_until is not None:  # a rotation's overlap
        summary |= {"previous_root_kid": kid_for(office.previous_root),
                    "previous_until": iso_utc(office.previous_until)}
    return summary


def _write(path: Path, token: str) -> None:
    _write_file(path, token.encode("ascii") + b"\n")


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` whole or not at all (a half-written file on a USB stick helps nobody)."""
    durable.make_folders(path.parent, 0o755)
    durable.replace(path, data, 0o644)


def _now() -> int:
    return int(time.time())


def _emit(value: Any) -> None:
    click.echo(json.dumps(value, indent=2 if sys.stdout.isatty() else None, ensure_ascii=False))
