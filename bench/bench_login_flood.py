"""Trust-list API latency with and without a wrong-password flood on the sign-in page (issue 12).

A fresh office on SQLite, made with the ``kia`` CLI (an admin, a published
trust list), served by gunicorn as production starts it (``gunicorn -c
gunicorn.conf.py "issuer:create_app()"``, 2 sync workers, port 0) in its own
process, with argon2-cffi's production parameters.  One client times
``GET /api/v1/trustlist`` (a new connection each, as a terminal makes),
``SAMPLES`` times in a row:

- idle: nothing else asks the service anything;
- flood: ``FLOOD_THREADS`` threads post wrong passwords for ``admin`` to
  ``/login`` as fast as the service answers (each with its own session and
  CSRF token), from one address; timing starts once the flood has made
  ``WARM_UP`` tries, the throttle engaged or not.

Figures: the median and 90th percentile latency of each phase (median of
``RUNS`` runs), and the flood's answers by status (401: a password hashed
and refused; 429: refused by the throttle before hashing).

    python bench/bench_login_flood.py [--runs 3] [--samples 200] [--threads 8]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import re
import statistics
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from common import gunicorn, kia, machine

PASSPHRASE = "bench passphrase, not a secret 2026"
PASSWORD = "bench admin password 2026"  # noqa: S105 (a throwaway office's)
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
WARM_UP = 40  # flood tries before timing starts

Address = tuple[str, int]


def make_office(home: Path) -> dict[str, str]:
    """An office with an admin and a published trust list, made with the CLI; the environment it runs in."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
    env |= {"KIA_KEY_PASSPHRASE": PASSPHRASE, "KIA_ROOT_KEY_PASSPHRASE": PASSPHRASE,
            "KIA_NEW_USER_PASSWORD": PASSWORD}
    kia("issuer", "init", "--home", str(home), env=env)
    kia("issuer", "user", "add", "--home", str(home), "--username", "admin", "--role", "admin", env=env)
    kia("issuer", "trustlist", "export", "--home", str(home), "--out", str(home / "published"), env=env)
    return env



def request(address: Address, method: str, path: str, body: str | None = None,
            headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(*address, timeout=60)
    connection.request(method, path, body, headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def trust_list_latencies(address: Address, samples: int) -> list[float]:
    latencies = []
    for _ in range(samples):
        start = time.perf_counter()
        response = request(address, "GET", "/api/v1/trustlist")
        latencies.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"the trust list answered {response.status}")
    return latencies


class Flood:
    """``threads`` clients posting wrong passwords for admin until stopped; counts the answers by status."""

    def __init__(self, address: Address, threads: int) -> None:
        self.address, self.stop = address, threading.Event()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.tries, self.warm = 0, threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._guess, daemon=True) for _ in range(threads)]

    def _guess(self) -> None:
        connection = http.client.HTTPConnection(*self.address, timeout=60)
        connection.request("GET", "/login")
        page = connection.getresponse()
        cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
        match = CSRF.search(page.read().decode())
        connection.close()
        assert match is not None, "no CSRF token on the sign-in page"
        form = urllib.parse.urlencode({"csrf_token": match[1], "username": "admin", "password": "wrong guess 123"})
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        while not self.stop.is_set():
            status = request(self.address, "POST", "/login", form, headers).status
            with self.lock:
                self.statuses[status] += 1
                self.tries += 1
                if self.tries >= WARM_UP:
                    self.warm.set()

    def __enter__(self) -> Flood:
        for thread in self.threads:
            thread.start()
        if not self.warm.wait(timeout=300):
            raise SystemExit("the flood did not get going")
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def run(samples: int, threads: int) -> tuple[list[float], list[float], collections.Counter[int]]:
    with tempfile.TemporaryDirectory(prefix="kia-bench-flood-") as folder:
        home = Path(folder) / "office"
        env = make_office(home)
        with gunicorn(home, {k: v for k, v in env.items() if k != "KIA_NEW_USER_PASSWORD"}) as (address, _):
            trust_list_latencies(address, 20)  # workers warm
            idle = trust_list_latencies(address, samples)
            with Flood(address, threads) as flood:
                flooded = trust_list_latencies(address, samples)
            return idle, flooded, flood.statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    options = parser.parse_args()
    print(f"machine: {machine()}; gunicorn 2 sync workers, SQLite, production Argon2 parameters")
    idle_medians, idle_p90s, flood_medians, flood_p90s = [], [], [], []
    for number in range(1, options.runs + 1):
        idle, flooded, statuses = run(options.samples, options.threads)
        idle_medians.append(statistics.median(idle))
        idle_p90s.append(p90(idle))
        flood_medians.append(statistics.median(flooded))
        flood_p90s.append(p90(flooded))
        answers = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
        print(f"run {number}: trust list idle median {idle_medians[-1] * 1000:.1f} ms (p90 {idle_p90s[-1] * 1000:.1f}),"
              f" under a {options.threads}-thread flood median {flood_medians[-1] * 1000:.1f} ms"
              f" (p90 {flood_p90s[-1] * 1000:.1f}); flood answers {answers}")
    print(f"median of {options.runs} runs: idle {statistics.median(idle_medians) * 1000:.1f} ms"
          f" (p90 {statistics.median(idle_p90s) * 1000:.1f}), flood {statistics.median(flood_medians) * 1000:.1f} ms"
          f" (p90 {statistics.median(flood_p90s) * 1000:.1f})")


if __name__ == "__main__":
    main()
