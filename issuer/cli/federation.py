"""``kia issuer federation``: the national root and directory the office checks other regions' cards against."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import click

from .. import federation, visits
from ..errors import Invalid, IssuerError
from ..retention import month_text, parse_month
from .common import by, emit, home_option, now, open_home

TRUST_LIST_BYTES = 16 << 20  # the most a terminal takes too


@click.group("federation")
def federation_group() -> None:
    """Cards of other regions: the ministry's national root and directory (docs/federation.md)."""


@federation_group.command("pin")
@home_option
@click.option("--national-root", "root_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The ministry's national root public JWK (national-root.jwk).")
@click.option("--replace", is_flag=True, help="Pin this root over another one (the ministry changed its root).")
def pin(home: Path, root_file: Path, replace: bool) -> None:
    """Pin the ministry's national root: directories are taken only under it."""
    try:
        jwk = json.loads(root_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Invalid(f"cannot read the national root {root_file}: {exc}") from None
    emit({"national_root_kid": federation.pin(open_home(home), jwk, now(), by=by(), replace=replace)})


@federation_group.command("directory")
@home_option
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="A directory.jws file.")
@click.option("--url", help="Where the ministry publishes it, e.g. https://.../directory.jws.")
def directory(home: Path, path: Path | None, url: str | None) -> None:
    """Take the national directory the ministry signed (run daily from cron with --url)."""
    if (path is None) == (url is None):
        raise Invalid("give the directory as --file or as --url, one of them")
    token = path.read_text(encoding="utf-8") if path is not None else _fetched(url or "")
    emit(federation.status_json(federation.take_directory(open_home(home), token, now(), by=by())))


@federation_group.command("status")
@home_option
def status(home: Path) -> None:
    """The national root pinned, the directory held and the region it lists for this office."""
    emit(federation.status_json(federation.status(open_home(home))))


@federation_group.command("visits-fetch")
@home_option
@click.option("--office", "offices", multiple=True, required=True, metavar="REGION=URL",
              help="Another office and where it serves, e.g. 3171=https://kia.jakarta.go.id (repeat).")
@click.option("--month", required=True, help="The local month, YYYY-MM.")
def visits_fetch(home: Path, offices: tuple[str, ...], month: str) -> None:
    """Fetch what other offices signed of this office's cards used at their partners in MONTH, check and keep it.

    Exits 1 when an office's figures could not be fetched or were refused (the others are kept).
    """
    office_home, wanted = open_home(home), parse_month(month)
    own = federation.status(office_home).own_region
    if own is None:
        raise Invalid("take a national directory that lists this office first: kia issuer federation directory")
    outcomes, failed = [], False
    for region, url in (_office(value) for value in offices):
        try:
            token = _fetched(f"{url}/api/v1/federation/visits?home={own}&month={month_text(wanted)}",
                             visits.MAX_VISITS_BYTES)
            trust_list = _fetched(f"{url}/api/v1/trustlist", TRUST_LIST_BYTES)
            _, got, cells = visits.take(office_home, token, trust_list, now(), by=by(), region=region,
                                        month=wanted)
            outcomes.append({"region": region, "month": month_text(got), "cells": len(cells),
                             "scans": sum(cell.scans or 0 for cell in cells)})
        except IssuerError as exc:
            failed = True
            outcomes.append({"region": region, "refused": str(exc)})
    emit(outcomes)
    if failed:
        raise SystemExit(1)


@federation_group.command("visits")
@home_option
@click.option("--month", help="Only this local month, YYYY-MM.")
def visits_list(home: Path, month: str | None) -> None:
    """The figures other offices signed of this office's cards, per office and month."""
    emit(visits.received(open_home(home), None if month is None else parse_month(month)))


def _office(value: str) -> tuple[int, str]:
    region, _, url = value.partition("=")
    if not region.isdigit() or not url:
        raise Invalid(f"--office is REGION=URL, e.g. 3171=https://kia.jakarta.go.id, not {value!r}")
    return int(region), url.rstrip("/")


def _fetched(url: str, limit: int = federation.MAX_DIRECTORY_BYTES) -> str:
    if not url.startswith(("https://", "http://")):
        raise Invalid("a URL starts with https:// (or http:// on a closed network)")
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (scheme checked above)
            body: bytes = answer.read(limit + 1)
    except OSError as exc:
        raise Invalid(f"cannot fetch {url}: {exc}") from None
    if len(body) > limit:
        raise Invalid(f"{url} answered more than {limit} bytes")
    return body.decode("ascii", errors="replace")
