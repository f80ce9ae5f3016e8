"""How fast are print-ready cards drawn?  Cards per second and PDF size for both layouts.

Times ``issuer.printing.sheet_pdf`` (A4, 10 a sheet) and ``card_pages_pdf``
(one page a side) on genuine tokens, median of several runs, and the two QR
encoders the module could take its modules from (libzint, which it uses,
and segno).  With ``--weasyprint PYTHON`` (a Python that has WeasyPrint, e.g.
a throwaway venv: ``python -m venv /tmp/weasy && /tmp/weasy/bin/pip install
weasyprint``), the same one-page-a-side layout is also drawn by WeasyPrint
from HTML with the QR as inline SVG rectangles, in the same run, for
comparison; that process is timed from inside, without its start-up.

    .venv/bin/python bench/bench_printing.py [--cards 1000] [--runs 3] [--weasyprint /tmp/weasy/bin/python]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import segno
from common import machine, sample_tokens

from issuer import printing
from issuer.artifacts import qr_modules
from issuer.printing import PrintedCard
from keys import qr_text
from keys.eligibility import last_eligible_day
from keys.regions import region_name

NAMES = ("Siti Nurhaliza", "Muhammad Rizky Ananda Pratama", "Ayu Kusumawardhani", None)

# Run by the WeasyPrint Python: reads the cards as JSON on stdin, prints seconds and bytes.
WEASYPRINT_SCRIPT = r'''
import json, sys, time
from weasyprint import HTML
cards = json.load(sys.stdin)
MODULE, QUIET = 0.508, 4
def qr(card):
    size = card["modules"] + 2 * QUIET
    path = "".join(f"M{c + QUIET} {r + QUIET}h{n}v1h-{n}z" for r, c, n in card["runs"])
    return (f'<svg class="qr" viewBox="0 0 {size} {size}" shape-rendering="crispEdges" '
            f'style="width:{size * MODULE}mm;height:{size * MODULE}mm"><rect width="{size}" height="{size}" '
            f'fill="#fff"/><path fill="#000" d="{path}"/></svg>')
def sides(card):
    name = card["name"] or ""
    return (f'<section class="front"><div class="band"><b>KARTU IDENTITAS ANAK</b><br>'
            f'<small>KIA · Disdukcapil {card["region"]}</small></div>'
            f'<div class="body"><small>Nama</small><p class="name">{name}</p><small>Berlaku s.d.</small>'
            f'<p>{card["until"]}</p><small>Nomor seri</small><p class="serial">{card["serial"]}</p></div>{qr(card)}'
            f'</section><section class="back"><div class="band">KIA · Disdukcapil {card["region"]}</div>'
            f'<ol><li>Tunjukkan kartu ini di mitra KIA untuk mendapat potongan harga.</li>'
            f'<li>Daftar mitra: laman publik KIA Disdukcapil {card["region"]}</li>'
            f'<li>Jika menemukan kartu ini, kembalikan ke Disdukcapil {card["region"]}.</li></ol>'
            f'<p class="serial">{card["serial"]}</p></section>')
STYLE = """@page { size: 89.6mm 57.98mm; margin: 0 }
body { margin: 0; font-family: 'DejaVu Sans'; font-size: 7pt }
section { position: relative; width: 89.6mm; height: 57.98mm; page-break-after: always; background: #ecf3fb }
.band { background: #0e478c; color: #fff; padding: 3mm 5mm; border-bottom: 1mm solid #f7b715 }
.body { position: absolute; left: 5mm; top: 19mm; width: 40mm }
.name { font-weight: bold; font-size: 10pt; margin: 0 0 2mm }
.serial { font-family: 'DejaVu Sans Mono'; font-weight: bold; font-size: 13pt; margin: 0 }
.qr { position: absolute; right: 3mm; bottom: 3mm }
ol { margin: 2mm 5mm; padding-left: 4mm }"""
html = f"<html><head><style>{STYLE}</style></head><body>{''.join(sides(c) for c in cards)}</body></html>"
start, start_cpu = time.perf_counter(), time.process_time()
pdf = HTML(string=html).write_pdf()
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - start_cpu, "bytes": len(pdf)}))
'''


def claims(token: str) -> dict[str, int | str]:
    payload = token.split(".")[1]
    decoded: dict[str, int | str] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def printed_cards(count: int) -> list[PrintedCard]:
    tokens, _ = sample_tokens(count)
    cards = []
    for index, token in enumerate(tokens):
        card = claims(token)
        cards.append(PrintedCard(str(card["sub"]), token, int(card["reg"]), int(card["exp"]),
                                 NAMES[index % len(NAMES)]))
    return cards


def timed(function: Callable[[], bytes], runs: int) -> tuple[float, list[float], float, int]:
    """Median wall seconds, every run's, median CPU seconds of this process, and the PDF's size.

    CPU time tells what a quiet machine would see when others share the cores.
    """
    samples, cpu, size = [], [], 0
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        size = len(function())
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(samples), samples, statistics.median(cpu), size


def weasyprint_run(python: Path, cards: list[PrintedCard]) -> dict[str, float] | str:
    """WeasyPrint's seconds and bytes for the one-page-a-side layout, or why it did not run."""
    if not python.is_file():
        return f"no Python at {python}"
    payload = []
    for card in cards:
        symbol = printing._symbol(card.token)
        until = last_eligible_day(card.expires_at, card.region)
        payload.append({"serial": card.serial, "name": card.name, "region": region_name(card.region),
                        "until": until.isoformat(), "modules": symbol.modules, "runs": symbol.runs})
    done = subprocess.run([str(python), "-c", WEASYPRINT_SCRIPT], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=3600, check=False)
    if done.returncode != 0:
        return f"WeasyPrint failed: {done.stderr.strip().splitlines()[-1:]}"
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--weasyprint", type=Path, help="a Python with WeasyPrint installed")
    parser.add_argument("--weasyprint-cards", type=int, default=100,
                        help="cards for WeasyPrint (it is far slower; cards per second are compared)")
    args = parser.parse_args()
    cards = printed_cards(args.cards)
    print(f"machine: {machine()}")
    print(f"{args.cards} cards, median of {args.runs} runs (each run draws every QR afresh); "
          f"load average {os.getloadavg()[0]:.1f}")

    sample = cards[:50]
    zint = statistics.median(_per_card(qr_modules, sample, 3))
    segno_ms = statistics.median(_per_card(lambda token: segno.make(qr_text(token), error="q", mode="numeric",
                                                                     boost_error=False), sample, 3))
    version = segno.make(qr_text(cards[0].token), error="q", mode="numeric", boost_error=False).designator
    print(f"QR modules per card: libzint {zint * 1000:.2f} ms, segno {segno_ms * 1000:.2f} ms "
          f"(symbol {version}, {printing._symbol(cards[0].token).modules} modules)")

    for name, draw in (("sheet_pdf", printing.sheet_pdf), ("card_pages_pdf", printing.card_pages_pdf)):
        printing._symbol.cache_clear()
        median, samples, cpu, size = timed(lambda draw=draw: draw(cards), args.runs)  # type: ignore[misc]
        runs = ", ".join(f"{sample:.2f}" for sample in samples)
        print(f"{name:15} {args.cards / median:7.0f} cards/s  median {median:.2f} s ({runs}), "
              f"CPU {cpu:.2f} s = {args.cards / cpu:.0f} cards/s  "
              f"PDF {size / 1e6:.2f} MB ({size / args.cards / 1000:.1f} kB a card)")

    print(f"load average after fpdf2: {os.getloadavg()[0]:.1f}")
    if args.weasyprint is None:
        print("WeasyPrint: not compared (give --weasyprint PYTHON)")
        return
    samples, cpu, size = [], [], 0
    for _ in range(args.runs):
        result = weasyprint_run(args.weasyprint, cards[: args.weasyprint_cards])
        if isinstance(result, str):
            print(f"WeasyPrint: not compared: {result}")
            return
        samples.append(result["seconds"])
        cpu.append(result["cpu"])
        size = int(result["bytes"])
    median, count = statistics.median(samples), min(args.cards, args.weasyprint_cards)
    runs = ", ".join(f"{sample:.2f}" for sample in samples)
    median_cpu = statistics.median(cpu)
    print(f"{'WeasyPrint':15} {count / median:7.1f} cards/s  median {median:.2f} s ({runs}), "
          f"CPU {median_cpu:.2f} s = {count / median_cpu:.1f} cards/s  "
          f"PDF {size / 1e6:.2f} MB ({size / count / 1000:.1f} kB a card)  {count} cards, one page a side, "
          "from HTML")


def _per_card(encode: Callable[[str], object], cards: list[PrintedCard], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for card in cards:
            encode(card.token)
        samples.append((time.perf_counter() - start) / len(cards))
    return samples


if __name__ == "__main__":
    main()
