"""``kia issuer trustlist``: sign trust lists with the root key at hand, or on an air-gapped machine.

``export`` signs on a machine that holds the root key.  Otherwise
``prepare`` (on the service) writes a signing request, ``sign`` (on the
offline machine) needs only the root key file and its passphrase: no home,
no database, and ``import`` (back on the service) publishes the signed
bundle.  docs/operations.md walks through the ceremony.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import click

from keys import hsm
from keys.times import iso_utc

from .. import offline_signing, trust_lists
from ..issuing_keys import KeyUnlock
from .common import by, dev_keys_option, emit, home_option, now, open_home, unlock

MAX_SIGNED_DAYS = 365


@click.group()
def trustlist() -> None:
    """Sign trust lists: export with the root key at hand, or prepare, sign offline, import."""


@trustlist.command("export")
@home_option
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--since", type=click.IntRange(min=1), help="Also write a delta from this earlier sequence.")
@click.option("--valid-days", type=click.IntRange(1, 365), default=30, show_default=True)
@dev_keys_option
def export(home: Path, out: Path, since: int | None, valid_days: int, insecure_dev_keys: bool) -> None:
    """Write trustlist.jws, root.jwk (the trust anchor) and jwks.json."""
    result = trust_lists.export_trust_list(open_home(home), unlock(insecure_dev_keys, issuing=False, root=True),
                                           now(), out, since=since, validity=dt.timedelta(days=valid_days), by=by())
    emit(
        {
            "seq": result.seq,
            "trust_list": str(result.trust_list),
            "root_jwk": str(result.root_jwk),
            "jwks": str(result.jwks),
            "delta": None if result.delta is None else str(result.delta),
        }
    )


@trustlist.command("prepare")
@home_option
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The signing request file to carry to the offline machine.")
def prepare(home: Path, out: Path) -> None:
    """Write what the next trust list must say, for the root key to sign offline.

    Prints the request's fingerprint: note it, and give it to 'sign' on the offline machine.
    """
    request = trust_lists.prepare_signing(open_home(home), now(), by=by())
    data = request.to_bytes()
    write_file(out, data)
    emit(summary(request) | {"request": str(out), "fingerprint": offline_signing.fingerprint(data)})


@trustlist.command("sign")
@click.option("--root-key", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The office's root key file (root.key), or its HSM key reference (root.pkcs11.json), "
                   "on this offline machine.")
@click.option("--in", "request_file", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The signing request that 'prepare' wrote.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The signed bundle to carry back to the service.")
@click.option("--fingerprint", "expected", required=True,
              help=f"The fingerprint 'prepare' printed (at least {offline_signing.MIN_FINGERPRINT_HEX} hex "
                   "characters).")
@click.option("--valid-days", type=click.IntRange(1, MAX_SIGNED_DAYS), default=30, show_default=True)
@dev_keys_option
def sign(root_key: Path, request_file: Path, out: Path, expected: str, valid_days: int,
         insecure_dev_keys: bool) -> None:
    """Sign a prepared trust list and its deltas with the root key (no home, no database).

    The passphrase comes from KIA_ROOT_KEY_PASSPHRASE(_FILE), or KIA_KEY_PASSPHRASE(_FILE).
    """
    data = request_file.read_bytes()
    offline_signing.check_fingerprint(data, expected)
    # A root key on an HSM (root.pkcs11.json) needs its token's PIN (KIA_HSM_PIN), not a passphrase.
    keys = KeyUnlock(None) if hsm.is_reference(root_key) else unlock(insecure_dev_keys, issuing=False, root=True)
    root = keys.read_file(root_key, root=True)
    stamp = now()
    request, bundle = offline_signing.sign_request(data, root, stamp, dt.timedelta(days=valid_days))
    write_file(out, bundle.to_bytes())
    emit(summary(request) | {"bundle": str(out), "issued_at": iso_utc(stamp),
                             "expires_at": iso_utc(stamp + valid_days * 86400)})


@trustlist.command("import")
@home_option
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Also write trustlist.jws, root.jwk and jwks.json here, as 'export' does.")
def import_(home: Path, bundle: Path, out: Path | None) -> None:
    """Verify a signed bundle against the office's root key and publish it to the terminals."""
    imported = trust_lists.import_bundle(open_home(home), bundle.read_bytes(), now(), by=by())
    result: dict[str, Any] = {"seq": imported.trust_list.seq, "revoked": len(imported.trust_list.revoked),
                              "deltas": imported.deltas, "expires_at": iso_utc(imported.trust_list.expires_at)}
    if out is not None:
        files = trust_lists.write_published(out, imported.trust_list, imported.signed, imported.root_jwk, None)
        result |= {"trust_list": str(files.trust_list), "root_jwk": str(files.root_jwk), "jwks": str(files.jwks)}
    emit(result)


def summary(request: offline_signing.SigningRequest) -> dict[str, Any]:
    """What a request asks to sign, for the people at both ends to compare."""
    return {
        "seq": request.seq,
        "keys": [{"kid": key.kid, "state": key.state.value} for key in request.keys],
        "revoked": len(request.revoked),
        "deltas_from": [base.from_seq for base in request.deltas],
    }


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` whole or not at all (a half-written file on a USB stick helps nobody)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
