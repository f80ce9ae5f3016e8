"""``kia demo``: the whole system on one machine, as separate processes.

The office (in its home, on SQLite) has issued cards over the years: one
eleven years ago to a child then aged 6 (now 17, aged out), one two years
ago to a child then aged 3 (an under-5 card, now expired) and some today.
It rotates its issuing key, revokes a lost card, signs up a cinema, a pool
and a bus operator with their discount rules, registers a terminal for each,
and publishes the trust list.  Then it runs, as an operator would:

- ``kia issuer serve``: the office's service;
- ``kia verifier enroll`` and ``kia verifier serve`` for each terminal.

Cards are read from their printed QR codes with zxing-cpp (one from its NFC
record) and scanned at the terminals through their local API; the terminals
sync over HTTP; the office's stakeholder report follows.  With ``--serve``
everything stays up and the URLs are printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_bridge.image import payloads_from_image
from issuer import cards, issuing_keys, partners, people, reports, trust_lists
from issuer.artifacts import write_many
from issuer.audit import Actor
from issuer.children import ChildRequest
from issuer.partners import ServiceRules
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal
from keys import Card, issue_card, kid_for
from keys.keystore import generate_passphrase
from keys.times import utc_datetime
from verifier.display import rupiah
from verifier.local import LocalVerifierClient, ScanOutcome
from verifier.messages import LANGUAGES, language
from verifier.ndef_payload import token_from_ndef
from verifier.sync import OfficeClient

from .processes import Server, kia_command

SURAKARTA, BALANGAN = 3372, 6311
DAY = 86400

_TEXT: dict[str, dict[str, Any]] = {  # the demo's words, per language
    "id": {"headings": ("Terminal", "Kartu", "Anak", "Dibaca", "Keputusan", "Bayar", "Alasan"),
           "yes": "DITERIMA", "no": "DITOLAK", "age": "umur {}", "forged": "palsu", "altered": "diubah",
           "again": "lagi", "report": "Laporan pendapatan mitra hari ini (dari server Disdukcapil)",
           "report_headings": ("Mitra", "Pindai", "Diterima", "Kartu", "Harga", "Potongan", "Pendapatan"),
           "accepted": "diterima", "synced": "semua catatan terminal tersinkron"},
    "en": {"headings": ("Terminal", "Card", "Child", "Read", "Decision", "Paid", "Reason"),
           "yes": "ACCEPTED", "no": "REJECTED", "age": "age {}", "forged": "forged", "altered": "altered",
           "again": "again", "report": "Partner revenue today (from the office's service)",
           "report_headings": ("Partner", "Scans", "Accepted", "Cards", "Price", "Discount", "Revenue"),
           "accepted": "accepted", "synced": "every terminal record synced"},
}

PARTNERS = (
    # name, kind, cluster, terminal, rules
    ("Bioskop Solo Paragon", "cinema", "education_culture", "Kasir bioskop",
     ServiceRules("bioskop-reguler", "Bioskop reguler", {"0-4": 0, "5-12": 40_000, "13-16": 50_000},
                  "percent", 50, 1, 600)),
    ("Kolam Renang Tirtomoyo", "pool", "health_welfare", "Gerbang kolam",
     ServiceRules("renang-harian", "Tiket renang harian", {"0-4": 10_000, "5-12": 15_000, "13-16": 20_000},
                  "fixed", 5_000, 2, 300)),
    ("Batik Solo Trans", "transport", "civil_rights", "Bus koridor 1",
     ServiceRules("bus-sekali", "Sekali jalan", {"0-4": 0, "5-12": 3_700, "13-16": 3_700},
                  "percent", 100, 4, 0)),
)


@dataclasses.dataclass(frozen=True)
class Scan:
    terminal: int
    serial: str
    label: str
    source: str
    payload: str


@dataclasses.dataclass
class Terminal:
    name: str
    partner_id: int
    home: Path
    code: str
    root_fingerprint: str  # handed over with the code, as an officer does
    server: Server | None = None


@contextmanager
def _demo_home(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="kia-demo-") as folder:
        yield Path(folder)


def _years_ago(today: dt.date, years: int, days: int = 0) -> dt.date:
    day = today.replace(day=28) if (today.month, today.day) == (2, 29) else today
    return day.replace(year=day.year - years) - dt.timedelta(days=days)


@click.command()
@click.option("--home", "keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep everything in this folder (it must be new or empty) instead of a temporary one.")
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language of the output (default: KIA_LANG or id).")
@click.option("--serve", is_flag=True, help="Leave the office and the terminals running; print their URLs.")
def demo(keep: Path | None, lang: str | None, serve: bool) -> None:
    """The whole system: an office, three partner terminals, scans, sync and the revenue report."""
    lang = language(lang)
    text = _TEXT[lang]
    def say(line: str) -> None:
        click.echo(click.style("• ", fg="cyan") + line, err=True)

    with _demo_home(keep) as folder, ExitStack() as running:
        passphrase_file = folder / "passphrase.txt"  # generated, in a 0600 file, as an office keeps it
        passphrase_file.touch(mode=0o600)
        passphrase_file.write_text(generate_passphrase(), encoding="ascii")
        unlock = issuing_keys.KeyUnlock(passphrase_file.read_text(encoding="ascii").encode())
        env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
        # Plain HTTP on loopback: the pages' session cookie may travel without TLS here only.
        env |= {"KIA_KEY_PASSPHRASE_FILE": str(passphrase_file), "KIA_LANG": lang, "KIA_DEV_INSECURE_COOKIES": "true"}
        home = IssuerHome(folder / "office")
        stamp = int(time.time())

        tokens, labels = _issue_cards(home, unlock, stamp, text["age"], say)
        files = write_many([(serial, token) for serial, token in tokens], folder / "cards")
        terminals = _sign_up_partners(home, stamp, folder, say)
        password = _demo_user(home, stamp) if serve else None
        trust_lists.export_trust_list(home, unlock, stamp, folder / "published", by=Actor.command_line())
        say("published the trust list")

        office = Server("office", [kia_command(), "issuer", "serve", "--home", str(home.path), "--port", "0",
                                   "--workers", "2"], env, folder / "logs" / "office.log")
        running.callback(office.stop)
        office_url = office.start()
        say(f"office service at {office_url}")
        for terminal in terminals:
            _enroll(terminal, office_url, env)
            terminal.server = Server(terminal.name, [kia_command(), "verifier", "serve", "--home", str(terminal.home),
                                                     "--port", "0", "--sync-interval", "3600"],
                                     env, folder / "logs" / f"{terminal.home.name}.log")
            running.callback(terminal.server.stop)
            say(f"{terminal.name}: terminal at {terminal.server.start()}")

        # What a scanner reads off the printed cards: the QR codes, and one NFC record.
        read = {serial: payloads_from_image(card.qr_png)[0] for (serial, _), card in zip(tokens, files, strict=True)}
        nfc = {tokens[2][0]: _text(token_from_ndef(files[2].ndef.read_bytes()))}
        scans = _scans(tokens, read, nfc, labels, text)
        clients = [LocalVerifierClient(terminal.server.url) for terminal in terminals]  # type: ignore[union-attr]
        outcomes = [clients[scan.terminal].scan(scan.payload, "nfc" if scan.source == "NFC" else "camera")
                    for scan in scans]
        for client in clients:
            client.close()
        _print_decisions(scans, outcomes, terminals, text)

        for terminal in terminals:
            _sync(terminal)
        say(text["synced"])
        _print_report(home, terminals, stamp, text)

        if serve:
            # Ctrl-C (or a SIGTERM) stops everything, even in a process that
            # started with SIGINT ignored, as a shell's background job does.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.default_int_handler)
            click.echo(f"\nDisdukcapil: {office_url}/  (admin / {password})")
            for terminal in terminals:
                click.echo(f"{terminal.name}: {terminal.server.url}/")  # type: ignore[union-attr]
            click.echo("Ctrl-C " + ("untuk berhenti" if lang == "id" else "to stop"))
            with contextlib.suppress(KeyboardInterrupt):
                office.process.wait()  # type: ignore[union-attr]


def _issue_cards(home: IssuerHome, unlock: issuing_keys.KeyUnlock, now: int, age: str,
                 say: Callable[[str], None]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Cards from three moments of the office's life: 11 years ago, 2 years ago, and today."""
    today = utc_datetime(now).date()
    long_ago, lately = now - (11 * 365 + 3) * DAY, now - (2 * 365 + 1) * DAY
    office = issuing_keys.init_home(home, unlock, long_ago, by=Actor.command_line())
    batches = [
        (long_ago, [(age.format(17), _years_ago(today, 17, 40), SURAKARTA)]),
        (lately, [(age.format(5), _years_ago(today, 5, 30), BALANGAN)]),
    ]
    issued = []
    for moment, children in batches:
        requests = [ChildRequest(line, born, region) for line, (_, born, region) in enumerate(children, 1)]
        issued += [(item, children[0][0]) for item in cards.issue_cards(home, unlock, requests, moment,
                                                                        by=Actor.command_line()).cards]
    new_key = issuing_keys.rotate_issuing_key(home, unlock, now, by=Actor.command_line())
    today_children = [(age.format(2), _years_ago(today, 2, 40), SURAKARTA),
                      (age.format(8), _years_ago(today, 8, 100), SURAKARTA),
                      (age.format(12), _years_ago(today, 12, 10), SURAKARTA),
                      (age.format(14), _years_ago(today, 14, 200), BALANGAN)]
    requests = [ChildRequest(line, born, region) for line, (_, born, region) in enumerate(today_children, 1)]
    issued += [(item, today_children[item.request.line - 1][0])
               for item in cards.issue_cards(home, unlock, requests, now, by=Actor.command_line()).cards]
    lost = issued[4][0].record.serial
    cards.revoke_card(home, lost, "hilang (lost)", now, by=Actor.command_line())
    say(f"office {home.path}: root key {office.root_kid}; cards issued 11 and 2 years ago with key "
        f"{office.issuing_kid}, today with {new_key.kid}; card {lost} revoked (lost)")
    tokens = [(item.record.serial, item.record.token) for item, _ in issued]
    return tokens, {item.record.serial: label for item, label in issued}


def _sign_up_partners(home: IssuerHome, now: int, folder: Path, say: Callable[[str], None]) -> list[Terminal]:
    today = utc_datetime(now).date()
    terminals = []
    for index, (name, kind, cluster, terminal_name, rules) in enumerate(PARTNERS, 1):
        partner_id = partners.create_partner(home, name, kind, cluster, SURAKARTA, today - dt.timedelta(days=200),
                                             today + dt.timedelta(days=530), now, by=Actor.command_line())
        partners.set_service(home, partner_id, rules, now, by=Actor.command_line())
        registration = register_terminal(home, partner_id, terminal_name, now, by=Actor.command_line())
        terminals.append(Terminal(f"{name} ({terminal_name})", partner_id, folder / f"terminal-{index}",
                                  registration.enrolment_code, registration.root_fingerprint))
    say("partners signed up: " + ", ".join(name for name, *_ in PARTNERS))
    return terminals


def _demo_user(home: IssuerHome, now: int) -> str:
    password = generate_passphrase()[:20]
    people.create_user(home, "admin", password, "admin", None, now, by=Actor.command_line())
    return password


def _enroll(terminal: Terminal, office_url: str, env: dict[str, str]) -> None:
    subprocess.run([kia_command(), "verifier", "enroll", "--home", str(terminal.home), "--server", office_url,
                    "--code", terminal.code, "--root-fingerprint", terminal.root_fingerprint],
                   env=env, check=True, capture_output=True, text=True)


def _sync(terminal: Terminal) -> None:
    """Ask the running terminal to sync now, as staff pressing its sync button would."""
    answer = OfficeClient(terminal.server.url, timeout=60).request("POST", "/api/v1/sync", body={})  # type: ignore[union-attr]
    result = answer.json()
    if answer.status != 200 or result.get("refusal"):
        refusal = (result.get("refusal") or {}).get("message") or result.get("message")
        raise click.ClickException(f"{terminal.name}: the sync failed: {refusal}")


def _scans(tokens: list[tuple[str, str]], read: dict[str, str], nfc: dict[str, str], labels: dict[str, str],
           text: dict[str, object]) -> list[Scan]:
    aged_out, expired, toddler, eight, lost, fourteen = (serial for serial, _ in tokens)
    forger = Ed25519PrivateKey.generate()
    stamp = int(time.time())
    forged = issue_card(Card("7ZZZZZZ0", SURAKARTA, 201801, stamp, stamp + 86400 * 365), forger,
                        kid_for(forger.public_key()))
    header, payload, signature = dict(tokens)[eight].split(".")
    altered = ".".join((header, payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1], signature))

    def qr(terminal: int, serial: str, suffix: str = "") -> Scan:
        return Scan(terminal, serial, labels[serial] + suffix, "QR", read[serial])

    again = f" ({text['again']})"
    return [
        qr(0, eight), qr(0, eight, again), qr(0, fourteen), qr(0, lost), qr(0, toddler),
        Scan(0, "-", str(text["forged"]), "QR", forged),
        qr(1, eight), qr(1, aged_out), qr(1, expired), qr(1, fourteen),
        Scan(1, "-", str(text["altered"]), "QR", altered),
        Scan(2, toddler, labels[toddler], "NFC", nfc[toddler]), qr(2, eight), qr(2, fourteen), qr(2, eight, again),
    ]


def _print_decisions(scans: list[Scan], outcomes: list[ScanOutcome], terminals: list[Terminal],
                     text: dict[str, object]) -> None:
    rows = []
    for scan, outcome in zip(scans, outcomes, strict=True):
        verdict = str(text["yes"] if outcome.accepted else text["no"])
        paid = rupiah(outcome.paid) if outcome.accepted else "-"
        reason = outcome.message if outcome.accepted else f"{outcome.reason}: {outcome.message}"
        rows.append(((terminals[scan.terminal].name.split(" (")[0], scan.serial, scan.label, scan.source, verdict,
                      paid), reason, outcome.accepted))
    _table(text["headings"], rows)  # type: ignore[arg-type]
    accepted = sum(outcome.accepted for outcome in outcomes)
    click.echo(f"\n{accepted}/{len(outcomes)} {text['accepted']}\n")


def _print_report(home: IssuerHome, terminals: list[Terminal], now: int, text: dict[str, object]) -> None:
    today = reports.today(now)
    names = {terminal.partner_id: terminal.name.split(" (")[0] for terminal in terminals}
    totals: dict[int, list[int]] = {}
    # Yesterday too: a terminal's local day may still be yesterday where the report's day has begun.
    for figures in reports.figures(home, "partner", "day", today - dt.timedelta(days=1), today):
        total = totals.setdefault(int(figures.group), [0] * 6)
        for index, value in enumerate((figures.scans, figures.accepted, figures.unique_cards, figures.gross,
                                       figures.discount, figures.net)):
            total[index] += value
    rows = []
    for partner_id, (scans, accepted, unique, gross, discount, net) in sorted(totals.items()):
        money = [rupiah(value) for value in (gross, discount, net)]
        rows.append(((names[partner_id], str(scans), str(accepted), str(unique), *money[:2]), money[2], True))
    click.echo(click.style(str(text["report"]), bold=True))
    _table(text["report_headings"], rows, verdict_at=None)  # type: ignore[arg-type]


def _table(headings: tuple[str, ...], rows: list[tuple[tuple[str, ...], str, bool]],
           verdict_at: int | None = 4) -> None:
    """Columns padded to width, the last one free; the cell at ``verdict_at`` green or red."""
    cells = [tuple(headings[:-1])] + [row[0] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headings) - 1)]
    click.echo(click.style("  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=False)) + "  " +
                           headings[-1], bold=True))
    for values, last, accepted in rows:
        padded = [value.ljust(width) for value, width in zip(values, widths, strict=True)]
        if verdict_at is not None:
            padded[verdict_at] = click.style(padded[verdict_at], fg="green" if accepted else "red", bold=True)
        click.echo("  ".join(padded) + "  " + last)


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode("ascii", errors="replace")
