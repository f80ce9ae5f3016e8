"""``kia verifier``: the partner terminal.

``verify`` checks one card against a trust list file; ``enroll``, ``serve``,
``sync`` and ``status`` run a terminal from its home folder (verifier/home.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from keys import InvalidCardError, TrustList, load_public_jwk, verify_card, verify_trust_list
from keys.errors import KeyFileInvalid
from keys.keystore import passphrase_from_env
from keys.times import iso_utc, parse_instant

from .enrolment import RootPin, enroll_terminal, office_root, root_fingerprint
from .federation_cli import federation, federation_options, offline_trust
from .home import TerminalHome
from .messages import LANGUAGES, message
from .ndef_payload import token_from_ndef
from .sync import InsecureServer, OfficeClient, OfficeUnreachable, Sync
from .terminal import Terminal

# Exit codes of `kia verifier verify` (DESIGN section 9).
ACCEPTED, REJECTED, CONFIGURATION_ERROR = 0, 1, 2
# More than any card; what is larger is refused as too large, never read whole.
_READ_LIMIT = 4097


@click.group()
def verifier() -> None:
    """Partner terminal: verify cards offline."""


def parse_at(value: str | None) -> int:
    """The --at option as POSIX seconds; now when it is not given."""
    if value is None:
        return int(time.time())
    try:
        return parse_instant(value)
    except ValueError:
        raise click.BadParameter(
            "use ISO 8601 with an offset, e.g. 2026-11-22T10:00:00+07:00", param_hint="--at"
        ) from None


def load_trust(anchor: Path, trust_list: Path, now: int) -> tuple[TrustList, bool]:
    """The verified trust list and whether it is stale (past its expiry).

    A stale list still decides, as DESIGN section 5 asks, but says so.
    Raises KeyFileInvalid or InvalidTrustListError (configuration errors).
    """
    try:
        root = load_public_jwk(json.loads(anchor.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise KeyFileInvalid(f"cannot read the trust anchor {anchor.name}: {exc}") from None
    trust = verify_trust_list(trust_list.read_text(encoding="ascii", errors="replace"), root, now, accept_expired=True)
    return trust, trust.is_expired(now)


@verifier.command()
@click.option("--trust-anchor", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="root.jwk, the office's root public key pinned at enrolment.")
@click.option("--trust-list", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="trustlist.jws, signed by the root key.")
@click.option("--at", "at", metavar="ISO-8601", help="Verify as at this time instead of now.")
@click.option("--ndef", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Read the card from an NDEF file instead of QR text.")
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language of the message (default: KIA_LANG or id).")
@federation_options
@click.argument("payload", required=False)
@click.pass_context
def verify(
    ctx: click.Context,
    trust_anchor: Path,
    trust_list: Path,
    at: str | None,
    ndef: Path | None,
    lang: str | None,
    payload: str | None,
    national_root: Path | None,
    directory: Path | None,
    office_lists: tuple[str, ...],
) -> None:
    """Verify PAYLOAD (the QR text, or - for stdin) or --ndef FILE.

    With --national-root and --directory, cards of every region whose
    --office-list is given are accepted too (docs/federation.md).  Prints
    one JSON object; exits 0 if accepted, 1 if rejected, 2 on a usage or
    configuration error.
    """
    if (payload is None) == (ndef is None):
        raise click.UsageError("give the QR text, '-' for stdin, or --ndef FILE (exactly one)")
    now = parse_at(at)
    trust, _ = load_trust(trust_anchor, trust_list, now)
    deciding, directory_seq = offline_trust(trust, trust_anchor, now, national_root=national_root,
                                            directory=directory, office_lists=office_lists)
    stale = deciding.is_expired(now)
    if stale:
        click.echo(f"warning: {message('trust_list_expired', lang)}", err=True)
    scanned: str | bytes
    if ndef is not None:
        with ndef.open("rb") as handle:
            scanned = handle.read(_READ_LIMIT)
    elif payload == "-":
        scanned = sys.stdin.buffer.read(_READ_LIMIT)
    else:
        scanned = payload or ""
    result: dict[str, Any] = {"trust_list_seq": trust.seq, "trust_list_stale": stale, "verified_at": iso_utc(now)}
    if directory_seq is not None:
        result["directory_seq"] = directory_seq
    try:
        token = token_from_ndef(scanned) if ndef is not None else scanned  # type: ignore[arg-type]
        verified = (verify_card(token, deciding, now) if isinstance(deciding, TrustList)
                    else deciding.verify_card(token, now))
    except InvalidCardError as error:
        result.update(accepted=False, reason=error.reason, message=message(error.reason, lang),
                      serial=getattr(error, "serial", None))
        _emit(result)
        ctx.exit(REJECTED)
    card = verified.card
    result.update(
        accepted=True,
        reason="accepted",
        message=message("accepted", lang),
        serial=card.serial,
        kid=verified.kid,
        region=card.region,
        age_years=card.age_at(now),
        age_category=card.age_category_at(now),
        eligible_until=card.last_eligible_day().isoformat(),
    )
    _emit(result)


def _emit(result: dict[str, Any]) -> None:
    ordered = {name: result.pop(name) for name in ("accepted", "reason", "message", "serial") if name in result}
    click.echo(json.dumps(ordered | result, ensure_ascii=False))


# --- the terminal: enrol, serve, sync ------------------------------------------------------

DEV_FLAG = "--insecure-dev-unencrypted-keys"

home_option = click.option("--home", required=True, type=click.Path(file_okay=False, path_type=Path),
                           help="The terminal's home folder (key, trust list, rules, log).")
dev_keys_option = click.option(DEV_FLAG, "insecure_dev_keys", is_flag=True,
                               help="DANGEROUS, development only: keep the terminal key unencrypted.")


def _passphrase(insecure_dev_keys: bool) -> bytes | None:
    if insecure_dev_keys:
        click.echo(f"warning: {DEV_FLAG}: the terminal key is not encrypted", err=True)
        return None
    return passphrase_from_env()


def _open_terminal(home: TerminalHome, insecure_dev_keys: bool, now: int, service: str | None = None) -> Terminal:
    home.require()
    key = home.private_key(_passphrase(insecure_dev_keys), unencrypted_for_development=insecure_dev_keys)
    return Terminal.open(home, key, now, service)


def _interactive() -> bool:
    """Whether a person at a terminal can answer a yes/no question."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _root_pin(client: OfficeClient, trust_anchor: Path | None, fingerprint: str | None) -> RootPin:
    """How the office's root key is checked: the trust anchor, the fingerprint given, or a person's yes."""
    if trust_anchor is not None and fingerprint is not None:
        raise click.UsageError("give --trust-anchor or --root-fingerprint, not both")
    if trust_anchor is not None:
        try:
            return load_public_jwk(json.loads(trust_anchor.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise KeyFileInvalid(f"cannot read the trust anchor {trust_anchor.name}: {exc}") from None
    if fingerprint is not None:
        return fingerprint
    shown = root_fingerprint(office_root(client))
    if not _interactive():
        raise click.UsageError(f"the office at {client.server} has the root key fingerprint {shown}; check it with "
                               "the office and give it with --root-fingerprint (or give --trust-anchor root.jwk)")
    click.echo(f"The office at {client.server} has the root key fingerprint:\n\n    {shown}\n", err=True)
    if not click.confirm("Is it the fingerprint the office gave you with the enrolment code?", err=True):
        raise click.ClickException("enrolment cancelled: the enrolment code was not sent")
    return shown


@verifier.command()
@home_option
@click.option("--server", required=True, metavar="URL", help="The office's service, e.g. https://kia.example.go.id "
              "(plain http:// only to this machine).")
@click.option("--code", required=True, help="The one-time enrolment code the office gave for this terminal.")
@click.option("--trust-anchor", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="root.jwk received from the office by another channel: refuse a server with another root.")
@click.option("--root-fingerprint", "fingerprint", metavar="FINGERPRINT",
              help="The office's root key fingerprint, given with the enrolment code (RFC 7638 thumbprint, "
                   "base64url, 43 characters): refuse a server with another root.  Without this or "
                   "--trust-anchor, the fingerprint is shown and must be confirmed.")
@dev_keys_option
def enroll(home: Path, server: str, code: str, trust_anchor: Path | None, fingerprint: str | None,
           insecure_dev_keys: bool) -> None:
    """Create this terminal's key and register it with the office.

    The office's root key is checked before the code is sent: against
    --trust-anchor, against --root-fingerprint, or by showing its fingerprint
    for you to confirm.  Pins the root key, fetches the trust list and the
    partner's rules, and prints the terminal id as JSON.
    """
    terminal_home = TerminalHome(home)
    if terminal_home.is_enrolled():
        raise click.UsageError(f"{home} already holds an enrolled terminal; use a new --home for a new terminal")
    try:
        client = OfficeClient(server)
    except (ValueError, InsecureServer) as exc:
        raise click.BadParameter(str(exc), param_hint="--server") from None
    pin = _root_pin(client, trust_anchor, fingerprint)
    passphrase = _passphrase(insecure_dev_keys)
    key = (terminal_home.private_key(passphrase, unencrypted_for_development=insecure_dev_keys)
           if terminal_home.key_path.exists()  # an enrolment that failed half-way: same key again
           else terminal_home.create_key(passphrase, unencrypted_for_development=insecure_dev_keys))
    enrolment = enroll_terminal(terminal_home, client, key, code, int(time.time()), pin)
    click.echo(json.dumps(enrolment, ensure_ascii=False))


@verifier.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it local).")
@click.option("--port", default=8470, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--service", "service_code", metavar="CODE", help="The partner's service this terminal sells "
              "(default: the first in the rules).")
@click.option("--sync-interval", default=60.0, show_default=True, type=click.FloatRange(1, 86400),
              help="Seconds between syncs when the office is reachable.")
@click.option("--no-sync", is_flag=True, help="Do not sync in the background (sync with 'kia verifier sync').")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@dev_keys_option
def serve(home: Path, host: str, port: int, service_code: str | None, sync_interval: float, no_sync: bool,
          threads: int, insecure_dev_keys: bool) -> None:
    """Serve the staff screen and the local scan API, and sync in the background."""
    from .serve import serve_terminal

    terminal = _open_terminal(TerminalHome(home), insecure_dev_keys, int(time.time()), service_code)
    serve_terminal(terminal, host, port, threads=threads, sync_interval=None if no_sync else sync_interval)


@verifier.command()
@home_option
@dev_keys_option
@click.pass_context
def sync(ctx: click.Context, home: Path, insecure_dev_keys: bool) -> None:
    """Send the log to the office and fetch the trust list and rules, once.

    Exits 1 when the office is unreachable or refused the terminal.
    """
    terminal = _open_terminal(TerminalHome(home), insecure_dev_keys, int(time.time()))
    try:
        result = Sync(terminal, OfficeClient(terminal.identity.server)).run(lambda: int(time.time()))
    except OfficeUnreachable as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)
    finally:
        terminal.close()
    click.echo(json.dumps({"pushed": result.pushed, "acknowledged": result.acknowledged,
                           "trust_list_seq": result.trust_list_seq, "config_version": result.config_version,
                           "refusal": result.refusal.to_json() if result.refusal else None}))
    if result.refusal:
        click.echo(f"error: {result.refusal.message}", err=True)
        ctx.exit(1)


@verifier.command()
@home_option
@dev_keys_option
def status(home: Path, insecure_dev_keys: bool) -> None:
    """Print the terminal's state as JSON: trust list, rules, pending records, today."""
    terminal = _open_terminal(TerminalHome(home), insecure_dev_keys, int(time.time()))
    try:
        state = terminal.status(int(time.time()))
    finally:
        terminal.close()
    today = state.today
    click.echo(json.dumps({
        "terminal_id": state.terminal_id, "partner": state.partner, "service": state.service,
        "trust_list_seq": state.trust_list_seq, "stale": state.stale, "offline_long": state.offline_long,
        "clock_skew": state.clock_skew, "mou_until": state.mou_until.isoformat() if state.mou_until else None,
        "refusal": state.refusal.to_json() if state.refusal else None, "pending": state.pending,
        "today": {"scans": today.scans, "accepted": today.accepted, "rejected": today.rejected,
                  "price": today.price, "discount": today.discount, "paid": today.paid},
    }, ensure_ascii=False))


verifier.add_command(federation)
