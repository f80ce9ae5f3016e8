"""The public discounts page (/publik) under gunicorn: requests per second and bytes per page.

A fresh office on SQLite made with issuer's own services: ``PARTNERS``
partners in force (default 50) in 16 regions and all five KLA clusters,
each with two discounted services, 20 schools and clinics, eligible
children in each region and 200 cards.  Served by gunicorn as production
starts it (``gunicorn -c gunicorn.conf.py "issuer:create_app()"``, 2 sync
workers, port 0).  ``THREADS`` clients (default 4) each ask for ``/publik/``
``REQUESTS`` times (default 250), a new connection each as a phone's
browser would make through the city's proxy; requests per second over the
whole run, median of ``RUNS`` runs (default 3).  Each asks as a browser
does, with ``Accept-Encoding: gzip`` (the public pages compress themselves).
Then the size of each public page as sent to a browser and uncompressed,
and of the stylesheet (served by gunicorn as it is).

    python bench/bench_public_page.py [--partners 50] [--runs 3] [--threads 4] [--requests 250]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import gunicorn, machine

from issuer import institutions, issuing_keys, partners, reports
from issuer.audit import Actor
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.partners import ServiceRules
from issuer.storage.models import KLA_CLUSTERS, PARTNER_KINDS
from issuer.storage.store import IssuerHome

PASSPHRASE = "bench passphrase, not a secret 2026"
ACTOR = Actor("bench", "127.0.0.1")
REGIONS = (3372, 3374, 3578, 3171, 3273, 3471, 1371, 1271, 3201, 3515, 6311, 5171, 7371, 6471, 9171, 6208)
PAGES = ("/publik/", "/publik/cara-mendapatkan", "/publik/angka", "/publik/data/partners.json",
         "/static/public.css")

Address = tuple[str, int]


def make_office(home: IssuerHome, count: int) -> None:
    """``count`` partners in force with two services each, schools and clinics, cards and eligible children."""
    now = int(time.time())
    unlock = issuing_keys.KeyUnlock(PASSPHRASE.encode())
    issuing_keys.init_home(home, unlock, now, by=ACTOR)
    today = dt.date.today()
    for index in range(count):
        region, kind = REGIONS[index % len(REGIONS)], PARTNER_KINDS[index % len(PARTNER_KINDS)]
        start = today - dt.timedelta(days=30 + 13 * index)  # joining over the months, as the programme grew
        partner_id = partners.create_partner(home, f"Mitra KIA nomor {index + 1}", kind,
                                             KLA_CLUSTERS[index % len(KLA_CLUSTERS)], region, start,
                                             partners.default_mou_end(start) + dt.timedelta(days=400), now, by=ACTOR)
        for number, (discount_kind, value) in enumerate((("percent", 10 + index % 40), ("fixed", 2_500))):
            rules = ServiceRules(f"layanan-{number}", f"Layanan anak {number + 1}",
                                 {"0-4": 0, "5-12": 15_000 + 1_000 * index, "13-16": 20_000 + 1_000 * index},
                                 discount_kind, value, 2, 0)
            partners.set_service(home, partner_id, rules, now, by=ACTOR)
    for index in range(20):
        institutions.create_institution(home, f"{'SD Negeri' if index % 2 else 'Klinik Bersalin'} {index + 1}",
                                        "school" if index % 2 else "clinic", REGIONS[index % len(REGIONS)], now,
                                        by=ACTOR)
    for region in REGIONS:
        reports.set_eligible_children(home, region, 25_000, today)
    born = today.replace(year=today.year - 9)
    requests = [ChildRequest(line, born, REGIONS[line % len(REGIONS)]) for line in range(1, 201)]
    issue_cards(home, unlock, requests, now, by=ACTOR)


def fetch(address: Address, path: str, compressed: bool = True) -> bytes:
    """The body as sent: gzipped when ``compressed``, as a browser asks (``Accept-Encoding: gzip``)."""
    connection = http.client.HTTPConnection(*address, timeout=60)
    connection.request("GET", path, headers={"Accept-Encoding": "gzip, deflate, br"} if compressed else {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status}")
    return body


def requests_per_second(address: Address, threads: int, requests: int) -> float:
    def ask() -> None:
        for _ in range(requests):
            fetch(address, "/publik/")

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * requests / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=250)
    options = parser.parse_args()
    print(f"machine: {machine()}; {options.partners} partners; {options.threads} clients x "
          f"{options.requests} requests a run, {options.runs} runs")
    with tempfile.TemporaryDirectory(prefix="kia-bench-public-") as folder:
        home = IssuerHome(Path(folder) / "office")
        make_office(home, options.partners)
        home.close()
        env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
        with gunicorn(home.path, env) as (address, _):
            for _ in range(20):  # workers warm
                fetch(address, "/publik/")
            rates = [requests_per_second(address, options.threads, options.requests) for _ in range(options.runs)]
            print(f"/publik/: {statistics.median(rates):,.0f} requests/s (median; runs: "
                  f"{', '.join(f'{rate:,.0f}' for rate in rates)})")
            for path in PAGES:
                print(f"{path}: {len(fetch(address, path)):,} bytes sent to a browser, "
                      f"{len(fetch(address, path, compressed=False)):,} uncompressed")


if __name__ == "__main__":
    main()
