"""``kia verifier federation``: a terminal that accepts other regions' cards (docs/federation.md).

::

    kia verifier federation pin    --home DIR --national-root national-root.jwk [--accept-region 3372 ...]
    kia verifier federation fetch  --home DIR [--directory-url URL] [--office REGION=URL ...] [--offices FILE] [--at T]
    kia verifier federation status --home DIR [--at T]
    kia verifier verify --trust-anchor root.jwk --trust-list trustlist.jws \
        --national-root national-root.jwk --directory directory.jws --office-list 6311=balangan.jws ... PAYLOAD

Output is JSON on stdout.  ``fetch`` exits 1 when the directory cannot be
had and none is held, or when an office's list was refused (the others are
kept; the JSON says which); errors of setup exit 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys import TrustList, load_public_jwk
from keys.directory import verify_directory
from keys.eligibility import is_valid_region
from keys.errors import InvalidDirectoryError, KeyFileInvalid, KiaError
from keys.federation import FederatedTrust, verify_office_trust_list
from keys.jwk import kid_for, public_key_bytes

from .federation import FederationError, FederationStore, decision_trust
from .federation import status as federation_status
from .federation_fetch import DirectoryRefused
from .federation_fetch import fetch as fetch_federation
from .home import TerminalHome

Command = TypeVar("Command", bound=Callable[..., Any])

home_option = click.option("--home", required=True, type=click.Path(file_okay=False, path_type=Path),
                           help="The terminal's home folder (enrolled with 'kia verifier enroll').")


_OFFICE_LINE = re.compile(r"(\d+)\s*[=\s]\s*(\S+)")
at_option = click.option("--at", "at", metavar="ISO-8601", help="Check as at this time instead of now.")


def _store(home: Path) -> FederationStore:
    terminal_home = TerminalHome(home)
    terminal_home.require()
    return FederationStore(terminal_home)


def _region(value: str, option: str) -> int:
    if not value.isdigit() or not is_valid_region(int(value)):
        raise click.BadParameter(f"{value!r} is not a four-digit regency/city code, e.g. 3372", param_hint=option)
    return int(value)


def _offices(pairs: tuple[str, ...], listed: Path | None) -> dict[int, str]:
    """REGION=URL pairs, and the lines of --offices FILE (``REGION URL`` or ``REGION=URL``, # comments)."""
    lines = list(pairs)
    if listed is not None:
        lines += [line.split("#", 1)[0].strip() for line in listed.read_text(encoding="utf-8").splitlines()]
    offices = {}
    for line in filter(None, lines):
        match = _OFFICE_LINE.fullmatch(line.strip())
        if match is None:
            raise click.BadParameter(f"{line!r} is not REGION=URL", param_hint="--office")
        offices[_region(match[1], "--office")] = match[2]
    return offices


def federation_options(command: Command) -> Command:
    """``kia verifier verify``'s options for cards of other regions."""
    for option in reversed((
        click.option("--national-root", "national_root", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="national-root.jwk, the ministry's key that signs --directory."),
        click.option("--directory", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="directory.jws, the national trust directory."),
        click.option("--office-list", "office_lists", multiple=True, metavar="REGION=FILE",
                     help="Another office's trustlist.jws, e.g. 6311=balangan.jws (repeat)."),
    )):
        command = option(command)
    return command


def offline_trust(
    trust: TrustList, trust_anchor: Path, now: int, *, national_root: Path | None, directory: Path | None,
    office_lists: tuple[str, ...],
) -> tuple[TrustList | FederatedTrust, int | None]:
    """What ``kia verifier verify`` checks the card against, and the directory's sequence when one is given.

    The own office's ``trust`` (under ``trust_anchor``) decides alone without a
    directory.  An office list that the directory does not vouch for is left
    out, with a warning on stderr.  Raises FederationError (setup) for a
    directory that does not verify.
    """
    if (national_root is None) != (directory is None):
        raise click.UsageError("give --national-root and --directory together")
    if national_root is None or directory is None:
        if office_lists:
            raise click.UsageError("--office-list needs --national-root and --directory")
        return trust, None
    try:
        verified = verify_directory(directory.read_text(encoding="ascii", errors="replace").strip(),
                                    _public_key(national_root), now, accept_expired=True)
    except InvalidDirectoryError as exc:
        raise FederationError(f"the directory {directory.name} is not used: {exc}") from None
    others = []
    for pair in office_lists:
        region, _, path = pair.partition("=")
        try:
            token = Path(path).read_text(encoding="ascii", errors="replace").strip()
            others.append(verify_office_trust_list(verified, _region(region, "--office-list"), token, now,
                                                   accept_expired=True))
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path!r}: {exc}", param_hint="--office-list") from None
        except KiaError as exc:
            click.echo(f"warning: the trust list of region {region} is not used: {exc}", err=True)
    own_root = public_key_bytes(_public_key(trust_anchor))
    return decision_trust(trust, own_root, verified, others, now), verified.seq


def _public_key(path: Path) -> Ed25519PublicKey:
    try:
        return load_public_jwk(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise KeyFileInvalid(f"cannot read the key {path.name}: {exc}") from None


@click.group()
def federation() -> None:
    """Accept other regions' cards: the national directory and other offices' trust lists."""


@federation.command()
@home_option
@click.option("--national-root", "national_root", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="national-root.jwk, the ministry's public national root, received by another channel.")
@click.option("--accept-region", "accept_regions", multiple=True, metavar="REGION",
              help="Accept the cards of this region only (repeat; the partner's choice).  Default: every region "
                   "the directory lists.  The own office's region is always accepted.")
def pin(home: Path, national_root: Path, accept_regions: tuple[str, ...]) -> None:
    """Pin the national root key that signs the directory."""
    store = _store(home)
    key = _public_key(national_root)
    regions = [_region(region, "--accept-region") for region in accept_regions]
    store.pin(key, regions or None)
    click.echo(json.dumps({"pinned": True, "national_root_kid": kid_for(key), "accept_regions": regions or None,
                           "home": str(home)}))


@federation.command()
@home_option
@click.option("--directory-url", metavar="URL", help="Where the ministry publishes the directory "
              "(remembered; plain http:// only to this machine).")
@click.option("--office", "pairs", multiple=True, metavar="REGION=URL",
              help="An office's service, e.g. 6311=https://kia.balangankab.go.id (repeat; remembered).")
@click.option("--offices", "listed", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A file of offices, one 'REGION URL' a line.")
@at_option
@click.pass_context
def fetch(ctx: click.Context, home: Path, directory_url: str | None, pairs: tuple[str, ...],
          listed: Path | None, at: str | None) -> None:
    """Fetch the directory, then each office's trust list; keep what verifies."""
    store = _store(home)
    try:
        report = fetch_federation(store, _now(at), directory_url=directory_url, offices=_offices(pairs, listed))
    except DirectoryRefused as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)
    result = report.to_json()
    click.echo(json.dumps(result, ensure_ascii=False))
    refused = [region for region, entry in result["regions"].items() if entry["refusal"]]
    if refused:
        click.echo(f"error: the trust lists of region {', '.join(refused)} were not taken; see 'refusal'", err=True)
        ctx.exit(1)


@federation.command()
@home_option
@at_option
def status(home: Path, at: str | None) -> None:
    """Print the directory and each region's trust list the terminal holds, as JSON."""
    click.echo(json.dumps(federation_status(_store(home), _now(at)), ensure_ascii=False))


def _now(at: str | None) -> int:
    from .cli import parse_at  # the group is registered by verifier.cli: imported by then

    return parse_at(at)

