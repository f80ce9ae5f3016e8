"""``kia demo``: the whole issuing and verifying story on an embedded home.

Creates a root key and an issuing key, issues cards for children of several
ages (QR PNG and SVG, NDEF), revokes one, rotates the issuing key, exports
the trust list, then verifies every card offline the way a terminal would:
decoding the printed QR PNG (or reading the NDEF file), checking it against
the trust list, and printing each decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_bridge.image import payloads_from_image
from issuer import service
from issuer.artifacts import CardFiles, write_many
from issuer.batch import ChildRequest
from issuer.store import IssuerHome
from keys import Card, InvalidCardError, TrustList, issue_card, kid_for, verify_card
from keys.keystore import generate_passphrase
from verifier.cli import load_trust
from verifier.messages import LANGUAGES, language, message
from verifier.ndef_payload import token_from_ndef

SURAKARTA, BALANGAN, JAYAPURA = 3372, 6311, 9171

_HEADINGS = {
    "id": ("Kartu", "Anak", "Kunci", "Dibaca", "Keputusan", "Alasan", "DITERIMA", "DITOLAK", "+1 bln"),
    "en": ("Card", "Child", "Key", "Read", "Decision", "Reason", "ACCEPTED", "REJECTED", "+1 month"),
}


_AGE_LABEL = {"id": "umur {}", "en": "age {}"}
_KEY_STATE = {
    "id": {"active": "aktif", "retired": "pensiun", "revoked": "dicabut"},
    "en": {"active": "active", "retired": "retired", "revoked": "revoked"},
}


@dataclasses.dataclass(frozen=True)
class Scan:
    label: str
    kid: str
    payload: str | bytes
    source: str
    at: int
    serial: str


@contextmanager
def _demo_home(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="kia-demo-") as folder:
        yield Path(folder)


def _years_ago(today: dt.date, years: int, days: int = 0) -> dt.date:
    return today.replace(year=today.year - years) - dt.timedelta(days=days) if (today.month, today.day) != (2, 29) \
        else dt.date(today.year - years, 2, 28) - dt.timedelta(days=days)


@click.command()
@click.option("--home", "keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep everything in this folder instead of a temporary one.")
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language of the table (default: KIA_LANG or id).")
def demo(keep: Path | None, lang: str | None) -> None:
    """Issue, revoke, rotate, export and verify: the whole story in one run."""
    lang = language(lang)
    with _demo_home(keep) as folder:
        # A generated passphrase in a 0600 file, as an office would keep it.
        passphrase_file = folder / "passphrase.txt"
        if not passphrase_file.exists():
            passphrase_file.touch(mode=0o600)
            passphrase_file.write_text(generate_passphrase(), encoding="ascii")
        unlock = service.KeyUnlock(passphrase_file.read_text(encoding="ascii").encode())
        home, cards_dir, published = IssuerHome(folder / "office"), folder / "cards", folder / "published"
        now = dt.datetime.now(dt.UTC)
        stamp = int(now.timestamp())
        say = lambda text: click.echo(click.style("• ", fg="cyan") + text, err=True)  # noqa: E731

        office = service.init_home(home, unlock, stamp)
        say(f"office home {home.path} (SQLite): root key {office.root_kid}, issuing key {office.issuing_kid}")
        today = now.date()
        age = _AGE_LABEL[lang]
        children = [
            (age.format(2), _years_ago(today, 2, 40), SURAKARTA),
            (age.format(4), _years_ago(today, 5, -3), BALANGAN),  # turns 5 in three days
            (age.format(8), _years_ago(today, 8, 100), SURAKARTA),
            (age.format(12), _years_ago(today, 12, 10), JAYAPURA),
            (age.format(16), _years_ago(today, 17, -20), SURAKARTA),  # turns 17 in twenty days
        ]
        requests = [ChildRequest(line, born, region) for line, (_, born, region) in enumerate(children, 1)]
        issued = service.issue_cards(home, unlock, requests, now).cards
        labels = {item.record.serial: children[item.request.line - 1][0] for item in issued}
        files = write_many([(i.record.serial, i.record.token) for i in issued], cards_dir)
        say(f"issued {len(issued)} cards with QR PNG, QR SVG and NDEF in {cards_dir}")

        lost = issued[3].record.serial
        service.revoke_card(home, lost, "hilang (lost)", stamp)
        say(f"revoked card {lost} (lost)")
        new_key = service.rotate_issuing_key(home, unlock, stamp)
        say(f"rotated issuing key: {new_key.kid} now signs, {office.issuing_kid} retired (still verifies)")
        after = service.issue_cards(home, unlock, [ChildRequest(6, _years_ago(today, 9), SURAKARTA)], now).cards
        labels[after[0].record.serial] = age.format(9)
        files += write_many([(after[0].record.serial, after[0].record.token)], cards_dir)
        export = service.export_trust_list(home, unlock, stamp, published)
        say(f"exported trust list {export.seq} to {published}")

        trust, _ = load_trust(export.root_jwk, export.trust_list, stamp)
        kid_labels = {key.kid: f"{key.kid} ({_KEY_STATE[lang][key.state.value]})" for key in trust.keys}
        scans = _scans(issued + after, files, labels, kid_labels, stamp, _HEADINGS[lang][-1])
        scans += _attacks(issued[0].record.token, stamp)
        _print_table(scans, trust, lang)


def _scans(
    issued: list[service.IssuedCard],
    files: list[CardFiles],
    labels: dict[str, str],
    kid_labels: dict[str, str],
    now: int,
    later: str,
) -> list[Scan]:
    scans = []
    for item, card_files in zip(issued, files, strict=True):
        record = item.record
        (qr,) = payloads_from_image(card_files.qr_png)  # read the printed QR like a scanner
        scans.append(Scan(labels[record.serial], kid_labels[record.kid], qr, "QR", now, record.serial))
    scans.append(dataclasses.replace(scans[0], payload=token_from_ndef(files[0].ndef.read_bytes()), source="NFC"))
    # The same cards a month on: the 4-year-old has turned 5, the 16-year-old 17.
    in_a_month = now + 31 * 86400
    for scan in (scans[1], scans[4]):
        scans.append(dataclasses.replace(scan, label=f"{scan.label} {later}", at=in_a_month))
    return scans


def _attacks(genuine: str, now: int) -> list[Scan]:
    """A forged card (a key the office never had) and an altered one."""
    forger = Ed25519PrivateKey.generate()
    forged_card = Card("7ZZZZZZ0", SURAKARTA, 201501, now, now + 86400 * 365)
    forged = issue_card(forged_card, forger, kid_for(forger.public_key()))
    header, payload, signature = genuine.split(".")
    altered = ".".join((header, payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1], signature))
    return [
        Scan("palsu (forged)", "-", forged, "QR", now, "-"),
        Scan("diubah (altered)", "-", altered, "QR", now, "-"),
    ]


def _print_table(scans: list[Scan], trust: TrustList, lang: str) -> None:
    *headings, reason_heading, yes, no, _ = _HEADINGS[lang]
    rows = []
    for scan in scans:
        try:
            verify_card(scan.payload, trust, scan.at)
            decision, reason, accepted = yes, message("accepted", lang), True
        except InvalidCardError as error:
            decision, reason, accepted = no, f"{error.reason}: {message(error.reason, lang)}", False
        rows.append(((scan.serial, scan.label, scan.kid, scan.source, decision), reason, accepted))
    widths = [max(len(cells[i]) for cells in [tuple(headings)] + [row[0] for row in rows]) for i in range(5)]
    heading = "  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)) + "  " + reason_heading
    click.echo(click.style(heading, bold=True))
    for cells, reason, accepted in rows:
        plain = "  ".join(value.ljust(width) for value, width in zip(cells[:4], widths[:4], strict=True))
        verdict = click.style(cells[4].ljust(widths[4]), fg="green" if accepted else "red", bold=True)
        click.echo(f"{plain}  {verdict}  {reason}")
    accepted_count = sum(accepted for _, _, accepted in rows)
    click.echo(f"\n{accepted_count}/{len(rows)} " + ("diterima" if lang == "id" else "accepted"))
