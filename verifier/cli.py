"""``kia verifier``: verify a card offline against a signed trust list."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from keys import InvalidCardError, TrustList, load_public_jwk, verify_card, verify_trust_list
from keys.errors import KeyFileInvalid
from keys.times import iso_utc, parse_instant

from .messages import LANGUAGES, message
from .ndef_payload import token_from_ndef

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
) -> None:
    """Verify PAYLOAD (the QR text, or - for stdin) or --ndef FILE.

    Prints one JSON object; exits 0 if accepted, 1 if rejected, 2 on a usage
    or configuration error.
    """
    if (payload is None) == (ndef is None):
        raise click.UsageError("give the QR text, '-' for stdin, or --ndef FILE (exactly one)")
    now = parse_at(at)
    trust, stale = load_trust(trust_anchor, trust_list, now)
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
    try:
        token = token_from_ndef(scanned) if ndef is not None else scanned  # type: ignore[arg-type]
        verified = verify_card(token, trust, now)
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
