"""Fetching the national directory and other offices' trust lists (verifier/federation.py holds them).

The directory comes from any URL (it is signed; plain HTTP only to this
machine, as for enrolment): with one held at sequence N, the delta
``directory-deltas/N.jws`` beside it first (what ``kia national publish``
writes), else the full directory, asked for conditionally (ETag,
Last-Modified) so an unchanged one is not downloaded again.  Each office's list from ``GET
<office>/api/v1/trustlist``, unauthenticated, a delta ``?since=N`` when a
list is held, as verifier/sync.py pulls the own office's.  What does not
verify is not taken: a refused office is reported, the others are kept.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.directory import TrustDirectory, apply_directory_delta, verify_directory
from keys.errors import InvalidDirectoryError, KiaError
from keys.federation import OfficeTrustList, apply_office_delta, verify_office_trust_list
from keys.jwk import kid_for, public_key_bytes

from .errors import VerifierError
from .federation import FederationError, FederationStore, own_region, refusal
from .sync import Answer, InsecureServer, OfficeClient, OfficeUnreachable

log = logging.getLogger("kia.verifier.federation")

# Where the ministry's deltas are, beside the directory's URL: ``directory-deltas/SEQ.jws`` from sequence SEQ.
DELTAS_FOLDER = "directory-deltas"
# A terminal that took this many deltas in a row fetches the full directory, so its chain stays short.
MAX_HELD_DIRECTORY_DELTAS = 32


class DirectoryRefused(VerifierError):
    """The directory fetched does not verify, or the ministry's server did not give it, and none is held."""


@dataclasses.dataclass(frozen=True)
class FetchReport:
    directory_seq: int
    directory_expires_at: int
    regions: dict[int, dict[str, Any]]  # region -> {url, seq, state, refusal}
    # How the directory came: "delta", "full", "not_modified" (the server said 304) or "kept" (refused).
    transfer: str = "full"

    def to_json(self) -> dict[str, Any]:
        return {"directory": {"seq": self.directory_seq, "expires_at": self.directory_expires_at,
                              "transfer": self.transfer},
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
    held = _held_directory(store, now)
    validators = store.status().get("directory_validators") if held is not None else None
    directory, directory_refusal, transfer, validators = _fetch_directory(
        store, root, settings.directory_url, held, now, client, validators if isinstance(validators, dict) else None)
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
    report = FetchReport(directory.seq, directory.expires_at, regions, transfer)
    store.save_status(report.to_json() | {"fetched_at": now, "directory_refusal": directory_refusal,
                                          "directory_validators": validators})
    return report


def _held_directory(store: FederationStore, now: int) -> TrustDirectory | None:
    """The directory held (with its deltas), verified again; None (fetch a full one) when none or damaged."""
    try:
        return store.load_directory(now)
    except (InvalidDirectoryError, OSError, UnicodeDecodeError) as exc:
        log.error("the directory held does not verify (%s); fetching a new one", exc)
        return None


def _check_url(url: str) -> None:
    try:
        client_for(url)
    except (ValueError, InsecureServer) as exc:
        raise FederationError(str(exc)) from None


def _fetch_directory(
    store: FederationStore, root: Ed25519PublicKey, url: str, held: TrustDirectory | None, now: int,
    client: Client, validators: dict[str, str] | None,
) -> tuple[TrustDirectory, dict[str, str] | None, str, dict[str, str] | None]:
    """The directory now held, why a fetched one was not taken, how it came, and the validators to keep.

    With a directory held, the delta from its sequence is asked for first
    (``directory-deltas/SEQ.jws`` beside the directory's URL); when there is
    none, or it does not apply, the full directory, conditionally when the
    server gave an ETag or a Last-Modified for the last one taken.
    """
    if held is not None and len(store.directory_deltas()) < MAX_HELD_DIRECTORY_DELTAS:
        taken = _directory_delta(store, root, url, held, now, client)
        if taken is not None:
            # ``kia national publish`` writes the full directory before its deltas, so the full one is no
            # newer than the delta's Last-Modified: asked for since then, an unchanged one is not sent again.
            # (An ETag held describes an older full directory, and would win over If-Modified-Since.)
            directory, answer = taken
            return directory, None, "delta", _validators(answer, etag=False)
    conditional = _conditional_headers(validators) if held is not None else {}
    try:
        answer = _get(client, url, {"Accept": "application/jose, */*", **conditional})
        if answer.status == 304 and conditional and held is not None:
            return held, None, "not_modified", validators
        if answer.status != 200:
            raise OfficeUnreachable(f"the ministry's server answered {answer.status} for the directory")
        token = answer.body.decode("ascii").strip()
        directory = verify_directory(token, root, now, accept_expired=True, min_seq=held.seq if held else 0)
    except (OfficeUnreachable, InvalidDirectoryError, UnicodeDecodeError) as exc:
        if held is None:
            raise DirectoryRefused(f"the directory was not taken: {exc}") from None
        log.error("kept the directory held (sequence %d): %s", held.seq, exc)
        return held, {"code": getattr(exc, "reason", "directory_unreachable"), "message": str(exc)}, "kept", None
    if held is None or directory.seq > held.seq:
        store.save_directory(token)
        return directory, None, "full", _validators(answer)
    return held, None, "full", _validators(answer)  # the same sequence as held (taken by delta): nothing new


def _directory_delta(store: FederationStore, root: Ed25519PublicKey, url: str, held: TrustDirectory, now: int,
                     client: Client) -> tuple[TrustDirectory, Answer] | None:
    """The directory after the ministry's delta from ``held`` (kept), and the answer that carried it;
    None when there is none or it fails."""
    delta_url = urllib.parse.urljoin(url, f"{DELTAS_FOLDER}/{held.seq}.jws")
    try:
        answer = _get(client, delta_url, {"Accept": "application/jose, */*"})
        if answer.status != 200:
            if answer.status != 404:
                log.warning("no directory delta from sequence %d: the server answered %d", held.seq, answer.status)
            return None
        token = answer.body.decode("ascii").strip()
        directory = apply_directory_delta(held, token, root, now, accept_expired=True)
    except (OfficeUnreachable, InvalidDirectoryError, UnicodeDecodeError) as exc:
        log.warning("the directory delta from sequence %d was not taken (%s); fetching the full one", held.seq, exc)
        return None
    store.save_directory_delta(directory.seq, token)
    return directory, answer


def _get(client: Client, url: str, headers: dict[str, str]) -> Answer:
    parts = urllib.parse.urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return client(f"{parts.scheme}://{parts.netloc}").request("GET", path, headers=headers)


def _conditional_headers(validators: dict[str, str] | None) -> dict[str, str]:
    headers = {}
    if validators and isinstance(validators.get("etag"), str):
        headers["If-None-Match"] = validators["etag"]
    if validators and isinstance(validators.get("last_modified"), str):
        headers["If-Modified-Since"] = validators["last_modified"]
    return headers


def _validators(answer: Answer, *, etag: bool = True) -> dict[str, str] | None:
    """The ETag (unless not ``etag``) and Last-Modified of an answer, to ask for the next directory conditionally.

    A Last-Modified in the same second as the answer's Date is weak (RFC 9110
    section 8.8.2.2): the file may change again within that second unseen by
    If-Modified-Since, so it is kept only when strictly earlier than Date.
    """
    kept: dict[str, str] = {}
    tag = answer.header("ETag") if etag else None
    if tag:
        kept["etag"] = tag
    modified, date = answer.header("Last-Modified"), answer.header("Date")
    if modified and date:
        try:
            if email.utils.parsedate_to_datetime(modified) < email.utils.parsedate_to_datetime(date):
                kept["last_modified"] = modified
        except (TypeError, ValueError):
            pass
    return kept or None


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
            "root_kid": kid_for(Ed25519PublicKey.from_public_bytes(taken.root))}  # during an overlap, either root


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
