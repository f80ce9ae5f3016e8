"""Fetching the national directory and other offices' trust lists (verifier/federation.py holds them).

The directory comes from any URL (it is signed; plain HTTP only to this
machine, as for enrolment); each office's list from ``GET
<office>/api/v1/trustlist``, unauthenticated, a delta ``?since=N`` when a
list is held, as verifier/sync.py pulls the own office's.  What does not
verify is not taken: a refused office is reported, the others are kept.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.directory import TrustDirectory, verify_directory
from keys.errors import InvalidDirectoryError, KiaError
from keys.federation import OfficeTrustList, apply_office_delta, verify_office_trust_list
from keys.jwk import kid_for, public_key_bytes

from .errors import VerifierError
from .federation import FederationError, FederationStore, own_region, refusal
from .sync import Answer, InsecureServer, OfficeClient, OfficeUnreachable

log = logging.getLogger("kia.verifier.federation")


class DirectoryRefused(VerifierError):
    """The directory fetched does not verify, or the ministry's server did not give it, and none is held."""


@dataclasses.dataclass(frozen=True)
class FetchReport:
    directory_seq: int
    directory_expires_at: int
    regions: dict[int, dict[str, Any]]  # region -> {url, seq, state, refusal}

    def to_json(self) -> dict[str, Any]:
        return {"directory": {"seq": self.directory_seq, "expires_at": self.directory_expires_at},
                "regions": {str(region): value for region, value in sorted(self.regions.items())}}


Client = Callable[[str], OfficeClient]


def client_for(url: str) -> OfficeClient:
    """An HTTP(S) client for the server at ``url``; plain HTTP only to this machine (as at enrolment)."""
    return OfficeClient(url)


def fetch(
    store: FederationStore,
    now: int,
    *,
    directory_url: str | None = None,
    offices: Mapping[int, str] | None = None,
    client: Client = client_for,
) -> FetchReport:
    """Fetch the directory, then the trust list of every office whose URL is known; keep what verifies.

    ``directory_url`` and ``offices`` (region -> office URL) are remembered
    for the next fetch.  Raises FederationError when nothing is pinned or no
    directory URL is known, DirectoryRefused when no directory is held and
    the one fetched does not verify (a held directory stays when a newer
    one cannot be had, and the report says why).
    """
    root = store.national_root()
    settings = store.settings()
    settings = dataclasses.replace(settings, directory_url=directory_url or settings.directory_url,
                                   offices={**settings.offices, **(offices or {})})
    if settings.directory_url is None:
        raise FederationError("no directory URL is known: give --directory-url")
    for url in (settings.directory_url, *settings.offices.values()):
        _check_url(url)
    store.save_settings(settings)
    held = _held_directory(store, root, now)
    directory, directory_refusal = _fetch_directory(store, root, settings.directory_url, held, now, client)
    own = own_region(directory, public_key_bytes(store.home.root_key()))
    regions: dict[int, dict[str, Any]] = {}
    for region, url in sorted(settings.offices.items()):
        if region == own:
            regions[region] = {"url": url, "seq": None, "state": "own_office", "refusal": None}
            continue
        if settings.accept_regions is not None and region not in settings.accept_regions:
            # The partner does not accept these cards: the terminal need not carry the office's list.
            regions[region] = {"url": url, "seq": None, "state": "not_accepted", "refusal": None}
            continue
        regions[region] = _fetch_office(store, directory, region, url, now, client)
    report = FetchReport(directory.seq, directory.expires_at, regions)
    store.save_status(report.to_json() | {"fetched_at": now, "directory_refusal": directory_refusal})
    return report


def _held_directory(store: FederationStore, root: Ed25519PublicKey, now: int) -> TrustDirectory | None:
    """The directory held, verified again; None (fetch a new one) when there is none or it was damaged."""
    token = store.directory_token()
    if token is None:
        return None
    try:
        return verify_directory(token, root, now, accept_expired=True)
    except InvalidDirectoryError as exc:
        log.error("the directory held does not verify (%s); fetching a new one", exc)
        return None


def _check_url(url: str) -> None:
    try:
        client_for(url)
    except (ValueError, InsecureServer) as exc:
        raise FederationError(str(exc)) from None


def _fetch_directory(store: FederationStore, root: Ed25519PublicKey, url: str, held: TrustDirectory | None,
                     now: int, client: Client) -> tuple[TrustDirectory, dict[str, str] | None]:
    """The directory fetched (saved), or the one held and why the fetched one was not taken."""
    parts = urllib.parse.urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        server = client(f"{parts.scheme}://{parts.netloc}")
        answer = server.request("GET", path, headers={"Accept": "application/jose, */*"})
        if answer.status != 200:
            raise OfficeUnreachable(f"the ministry's server answered {answer.status} for the directory")
        token = answer.body.decode("ascii").strip()
        directory = verify_directory(token, root, now, accept_expired=True, min_seq=held.seq if held else 0)
    except (OfficeUnreachable, InvalidDirectoryError, UnicodeDecodeError) as exc:
        if held is None:
            raise DirectoryRefused(f"the directory was not taken: {exc}") from None
        log.error("kept the directory held (sequence %d): %s", held.seq, exc)
        return held, {"code": getattr(exc, "reason", "directory_unreachable"), "message": str(exc)}
    if held is None or directory.seq > held.seq:
        store.save_directory(token)
    return directory, None


def _fetch_office(store: FederationStore, directory: TrustDirectory, region: int, url: str, now: int,
                  client: Client) -> dict[str, Any]:
    """One office's list, fetched and kept when it verifies; what the status says of the region."""
    held: OfficeTrustList | None = None
    try:
        directory.trusted_office(region, now)
        if region in store.held_regions():
            try:
                held = store.load_list(directory, region, now)
            except KiaError as exc:  # a list under a root the directory no longer lists: fetch a full one
                log.warning("fetching a full list for region %d: the one held does not verify (%s)", region, exc)
        taken = _pull(store, client(url), directory, region, held, now)
    except OfficeUnreachable as exc:
        log.error("no trust list from the office of region %d: %s", region, exc)
        return {"url": url, "seq": held.trust_list.seq if held else None, "state": "unreachable",
                "refusal": {"code": "office_unreachable", "message": str(exc)}}
    except (KiaError, UnicodeDecodeError) as exc:
        log.error("refused the trust list of region %d: %s", region, exc)
        return {"url": url, "seq": held.trust_list.seq if held else None, "state": "refused",
                "refusal": refusal(exc)}
    return {"url": url, "seq": taken.trust_list.seq, "state": "trusted", "refusal": None,
            "root_kid": kid_for(directory.trusted_office(region, now).root)}


def _pull(store: FederationStore, client: OfficeClient, directory: TrustDirectory, region: int,
          held: OfficeTrustList | None, now: int) -> OfficeTrustList:
    """As verifier.sync pulls the own office's list: a delta from the held sequence when the office keeps one,
    asked for in the second form (docs/adr/0002) and taken in either."""
    if held is not None:
        seq = held.trust_list.seq
        answer = _get_trust_list(client, f"?since={seq}", {"If-None-Match": f'"tl2-{seq}", "tl-{seq}"'})
        if answer.status in (204, 304):
            return held
        if answer.status == 200 and answer.header("X-KIA-Delta-From") is not None:
            token = answer.body.decode("ascii")
            taken = apply_office_delta(directory, held, token, now, accept_expired=True)
            store.save_delta(region, taken.trust_list.seq, token)
            return taken
        if answer.status not in (200, 404):
            raise OfficeUnreachable(f"the office answered {answer.status} for its trust list")
    answer = _get_trust_list(client, "", None)
    if answer.status != 200:
        raise OfficeUnreachable(f"the office answered {answer.status} for its trust list")
    token = answer.body.decode("ascii")
    taken = verify_office_trust_list(directory, region, token, now, accept_expired=True,
                                     min_seq=held.trust_list.seq if held else 0)
    store.save_full_list(region, token)
    return taken


def _get_trust_list(client: OfficeClient, query: str, headers: dict[str, str] | None) -> Answer:
    """GET an office's list with ``query`` in the second form, or the first from an office that answers 400."""
    answer = client.request("GET", f"/api/v1/trustlist{query}&form=2" if query else "/api/v1/trustlist?form=2",
                            headers=headers)
    if answer.status == 400:
        answer = client.request("GET", f"/api/v1/trustlist{query}", headers=headers)
    return answer


class FederationLoop:
    """``kia verifier serve``'s background fetch of the directory and the other offices' lists.

    Every ``interval`` seconds, once the home is pinned to a national root and
    knows the directory's URL (``kia verifier federation pin``, then one
    ``fetch`` by hand to give the URLs): the fetch above, whose files the
    running terminal's home watcher then reloads.  An unreachable ministry or
    office is logged and tried again at the next round; what is held stays.
    """

    def __init__(self, store: FederationStore, now: Callable[[], int], *, interval: float = 600.0,
                 client: Client = client_for) -> None:
        self.store, self.now, self.interval, self.client = store, now, interval, client
        self.stopping = threading.Event()
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None

    def round(self) -> FetchReport | None:
        """One fetch now; None when the home holds no federation to fetch for, or it failed."""
        if not self.store.is_pinned() or self.store.settings().directory_url is None:
            return None
        try:
            report = fetch(self.store, self.now(), client=self.client)
        except KiaError as exc:  # unreachable, refused, or a setting gone wrong: logged, tried again
            self.last_error = str(exc)
            log.warning("federation fetch failed: %s; next try in %.0f s", exc, self.interval)
            return None
        self.last_error = None
        refused = sorted(region for region, entry in report.regions.items() if entry.get("refusal"))
        if refused:
            log.warning("federation: offices refused: %s", ", ".join(map(str, refused)))
        return report

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kia-federation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.round()
            self.stopping.wait(self.interval)
