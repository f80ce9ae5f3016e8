"""A terminal that accepts the cards of other offices: the national directory and their trust lists.

The terminal's own office stays its authority (verifier/home.py, verifier/sync.py).
Beside it, in ``HOME/federation/``, the terminal may hold::

    national-root.jwk        the national root, pinned by the operator (``kia verifier federation pin``)
    federation.json          where to fetch from: the directory's URL, each region's office URL,
                             and the regions the partner accepts (none listed: every region)
    directory.jws            the latest full directory, as the national root signed it
    directory-deltas/N.jws   the directory deltas applied to it since, N the sequence each leads to
    offices/REGION/trustlist.jws     an office's latest full trust list, as its root signed it
    offices/REGION/deltas/N.jws      the deltas applied to it since
    status.json              what the last fetch found, per region (refusals are kept here)

Everything is verified again when it is loaded, as the home's own trust
list is: a file changed on disk is refused, not believed.  Files are
replaced atomically (keys/durable.py) with the home's modes (0700, 0600).

``fetch`` (verifier/federation_fetch.py) takes the directory from its URL (any URL: the directory is
signed; plain HTTP only to this machine, as for enrolment) and then each
listed office's list from ``GET <office>/api/v1/trustlist``, a delta
``?since=N`` when a list is held.  A directory that does not verify under
the pinned root, or is older than the one held, is not taken; an office
list that does not verify under the root the directory lists for its
region is not taken either: that office is reported, the others are kept.

``decision_trust`` is what the running terminal decides with: the own
office's list alone when no directory is held (exactly as before), else a
keys.federation.FederatedTrust of the own office's list, authoritative for
its region, and the other offices' lists the directory trusts at ``now``.
When the directory does not trust the own office (not listed, another
root, suspended), the own list decides alone: the terminal's own office
keeps working whatever the directory says of it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys import TrustList, durable, load_public_jwk, public_jwk
from keys.directory import TrustDirectory, apply_directory_delta, verify_directory
from keys.eligibility import is_valid_region
from keys.errors import KeyFileInvalid, KiaError, OfficeNotTrusted
from keys.federation import FederatedTrust, OfficeTrustList, apply_office_delta, verify_office_trust_list
from keys.jwk import kid_for, public_key_bytes

from .errors import SetupError
from .home import TerminalHome

log = logging.getLogger("kia.verifier.federation")

FOLDER = "federation"
_FORMAT = "kia-federation-1"
# Later than any office's validity (POSIX seconds below 2**40, keys.directory).
_NEVER = 2**40
_PRIVATE_FOLDER, _PRIVATE_FILE = 0o700, 0o600

# (file name, inode, size, modification time) of each federation file: what the watcher compares.
Fingerprint = tuple[tuple[str, int, int, int], ...]


class FederationError(SetupError):
    """The terminal's federation is not set up (no pinned national root, no directory URL)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where the terminal fetches from, and which regions its partner accepts."""

    directory_url: str | None = None
    offices: Mapping[int, str] = dataclasses.field(default_factory=dict)  # region -> office URL
    accept_regions: tuple[int, ...] | None = None  # None: every region the directory lists

    def to_json(self) -> dict[str, Any]:
        return {"format": _FORMAT, "directory_url": self.directory_url,
                "offices": {str(region): url for region, url in sorted(self.offices.items())},
                "accept_regions": None if self.accept_regions is None else list(self.accept_regions)}

    @classmethod
    def from_json(cls, value: Any) -> Settings:
        if not isinstance(value, dict) or value.get("format") != _FORMAT:
            raise FederationError("federation.json is not of this version; pin the national root again")
        accept = value.get("accept_regions")
        return cls(value.get("directory_url"), {int(region): str(url) for region, url in value["offices"].items()},
                   None if accept is None else tuple(int(region) for region in accept))


@dataclasses.dataclass(frozen=True)
class Held:
    """The federation as verified from the home at one moment."""

    directory: TrustDirectory
    lists: Mapping[int, OfficeTrustList]  # the other offices' lists that verified, by region
    refused: Mapping[int, KiaError]  # why each other held list did not
    accept_regions: tuple[int, ...] | None
    own_root: bytes  # the own office's root, pinned at enrolment (read here, never on the scan path)


class FederationStore:
    """The ``federation`` folder of a terminal's home."""

    def __init__(self, home: TerminalHome) -> None:
        self.home = home
        self.path = home.path / FOLDER
        self.pin_path = self.path / "national-root.jwk"
        self.settings_path = self.path / "federation.json"
        self.directory_path = self.path / "directory.jws"
        self.directory_deltas_path = self.path / "directory-deltas"
        self.status_path = self.path / "status.json"
        self.offices_path = self.path / "offices"

    # --- what the operator sets -------------------------------------------------------

    def is_pinned(self) -> bool:
        return self.pin_path.exists()

    def pin(self, national_root: Ed25519PublicKey, accept_regions: Iterable[int] | None = None) -> None:
        """Pin the national root (and the partner's regions); a directory held under another root goes."""
        if public_key_bytes(national_root) == public_key_bytes(self.home.root_key()):
            raise FederationError("that is the office's root key, not the national root; ask the ministry for "
                                  "national-root.jwk")
        durable.make_folders(self.path, _PRIVATE_FOLDER)
        if self.is_pinned() and public_key_bytes(self.national_root()) != public_key_bytes(national_root):
            self._drop_directory_deltas()
            self.directory_path.unlink(missing_ok=True)
        accepted = None if accept_regions is None else tuple(sorted(set(accept_regions)))
        self.save_settings(dataclasses.replace(self.settings(), accept_regions=accepted))
        _write(self.pin_path, json.dumps(public_jwk(national_root), indent=2) + "\n")

    def national_root(self) -> Ed25519PublicKey:
        try:
            return load_public_jwk(json.loads(self.pin_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise FederationError(f"no national root is pinned: run 'kia verifier federation pin --home "
                                  f"{self.home.path} --national-root national-root.jwk' first") from None
        except (OSError, ValueError, KeyFileInvalid) as exc:
            raise FederationError(f"cannot read the pinned national root: {exc}") from None

    def settings(self) -> Settings:
        try:
            return Settings.from_json(json.loads(self.settings_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return Settings()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FederationError(f"federation.json is damaged ({exc}); pin the national root again") from None

    def save_settings(self, settings: Settings) -> None:
        durable.make_folders(self.path, _PRIVATE_FOLDER)
        _write(self.settings_path, json.dumps(settings.to_json(), indent=2) + "\n")

    # --- what fetch keeps -----------------------------------------------------------------

    def directory_token(self) -> str | None:
        try:
            return self.directory_path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None

    def save_directory(self, token: str) -> None:
        """Keep ``token`` as the full directory; the deltas applied to the one before go first.

        Between the two steps the home holds the previous full directory
        alone: older, but every file in it still verifies.
        """
        self._drop_directory_deltas()
        _write(self.directory_path, token)

    def save_directory_delta(self, seq: int, token: str) -> None:
        """Keep a directory delta leading to ``seq``, applied on load after those before it."""
        durable.make_folders(self.directory_deltas_path, _PRIVATE_FOLDER)
        _write(self.directory_deltas_path / f"{seq:010d}.jws", token)

    def directory_deltas(self) -> list[Path]:
        folder = self.directory_deltas_path
        return sorted(folder.glob("*.jws")) if folder.exists() else []

    def _drop_directory_deltas(self) -> None:
        for delta in self.directory_deltas():
            delta.unlink()

    def load_directory(self, now: int) -> TrustDirectory | None:
        """The full directory held with its deltas applied, each verified again; None when none is held.

        Raises FederationError (the pin) or an InvalidDirectoryError leaf: a
        file changed on disk, or a delta that does not follow, is refused,
        never believed in part.
        """
        token = self.directory_token()
        if token is None:
            return None
        root = self.national_root()
        directory = verify_directory(token, root, now, accept_expired=True)
        for delta in self.directory_deltas():
            directory = apply_directory_delta(directory, delta.read_text(encoding="ascii"), root, now,
                                              accept_expired=True)
        return directory

    def _office(self, region: int) -> Path:
        return self.offices_path / str(region)

    def save_full_list(self, region: int, token: str) -> None:
        folder = self._office(region)
        durable.make_folders(folder, _PRIVATE_FOLDER)
        _write(folder / "trustlist.jws", token)
        for delta in self._deltas(region):
            delta.unlink()

    def save_delta(self, region: int, seq: int, token: str) -> None:
        folder = self._office(region) / "deltas"
        durable.make_folders(folder, _PRIVATE_FOLDER)
        _write(folder / f"{seq:010d}.jws", token)

    def _deltas(self, region: int) -> list[Path]:
        folder = self._office(region) / "deltas"
        return sorted(folder.glob("*.jws")) if folder.exists() else []

    def held_regions(self) -> list[int]:
        if not self.offices_path.exists():
            return []
        return sorted(int(path.name) for path in self.offices_path.iterdir()
                      if path.name.isdigit() and is_valid_region(int(path.name))
                      and (path / "trustlist.jws").exists())

    def load_list(self, directory: TrustDirectory, region: int, now: int) -> OfficeTrustList:
        """The region's held list with its deltas, verified under ``directory``; raises a KiaError leaf."""
        token = (self._office(region) / "trustlist.jws").read_text(encoding="ascii")
        held = verify_office_trust_list(directory, region, token, now, accept_expired=True)
        for delta in self._deltas(region):
            held = apply_office_delta(directory, held, delta.read_text(encoding="ascii"), now, accept_expired=True)
        return held

    def status(self) -> dict[str, Any]:
        try:
            value = json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def save_status(self, status: dict[str, Any]) -> None:
        _write(self.status_path, json.dumps(status, indent=2, ensure_ascii=False) + "\n")

    # --- what the running terminal reads ------------------------------------------------------

    def load(self, now: int) -> Held | None:
        """The directory and the other offices' lists, each verified again; None without a pin or directory.

        Raises FederationError or an InvalidDirectoryError leaf when the pin
        or the directory held is damaged.  An office list that does not
        verify is left out and kept in ``refused``.
        """
        if not self.is_pinned():
            return None
        directory = self.load_directory(now)
        if directory is None:
            return None
        lists, refused = {}, {}
        for region in self.held_regions():
            try:
                lists[region] = self.load_list(directory, region, now)
            except KiaError as error:
                refused[region] = error
            except (OSError, ValueError) as exc:
                refused[region] = KiaError(f"the held list of region {region} cannot be read: {exc}")
        return Held(directory, lists, refused, self.settings().accept_regions,
                    public_key_bytes(self.home.root_key()))

    def fingerprint(self) -> Fingerprint:
        """The federation files as they are on disk now, from their metadata alone (see TerminalHome)."""
        if not self.path.exists():
            return ()
        entries = []
        for path in sorted(self.path.rglob("*")):
            if path.name.startswith(".") or path.name == self.status_path.name or not path.is_file():
                continue  # a temporary file mid-write, or what the last fetch reported
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            entries.append((str(path.relative_to(self.path)), info.st_ino, info.st_size, info.st_mtime_ns))
        return tuple(entries)


# --- deciding ---------------------------------------------------------------------------------


def own_region(directory: TrustDirectory, own_root: bytes) -> int | None:
    """The region the directory lists the terminal's own office's root for (as its root or, during an
    overlap, the root it is leaving), if any."""
    return next((office.region for office in directory.offices if own_root in office.listed_roots), None)


def decision_trust(
    own: TrustList,
    own_root: bytes,
    directory: TrustDirectory | None,
    others: Iterable[OfficeTrustList],
    now: int,
    accept_regions: Iterable[int] | None = None,
) -> TrustList | FederatedTrust:
    """What decide() checks a card against at ``now``: ``own`` alone, or federated with ``others``.

    ``own`` is the office's list verified under the pinned office root
    ``own_root``; it decides alone without a directory or when the
    directory does not trust its office.  Other offices the directory does
    not trust at ``now`` (or under another root) are left out.  The own
    region is always accepted, whatever ``accept_regions`` says, and is the
    federated trust's ``own_region``: decide() records ``home`` for the others' cards.
    """
    if directory is None:
        return own
    region = own_region(directory, own_root)
    if region is None or _untrusted(directory, region, own_root, now):
        return own
    lists = [OfficeTrustList(region, own_root, own)]
    lists += [office_list for office_list in others
              if office_list.region != region and not _untrusted(directory, office_list.region, office_list.root, now)]
    accepted = None if accept_regions is None else {*accept_regions, region}
    return FederatedTrust(directory, lists, now, accept_regions=accepted, own_region=region)


def _untrusted(directory: TrustDirectory, region: int, root: bytes, now: int) -> bool:
    try:
        return not directory.trusted_office(region, now).lists_root(root, now)
    except OfficeNotTrusted:
        return True


class TerminalFederation:
    """The running terminal's federation: loaded from the home, rebuilt when its files change.

    The scan path reads no file: ``trust`` combines what was loaded with the
    own list it is given, and keeps the result until the own list, the
    files, or an office's validity period (a boundary in the directory) change.
    """

    def __init__(self, home: TerminalHome) -> None:
        self.store = FederationStore(home)
        self._held: Held | None = None
        self._loaded: Fingerprint | None = None
        self._lock = threading.Lock()
        self._built: tuple[TrustList, int, int, TrustList | FederatedTrust] | None = None  # own, from, until, trust
        self.refused_on_load = False  # the files held did not verify at the last load

    @property
    def held(self) -> Held | None:
        return self._held

    def reload_if_changed(self, now: int) -> bool:
        """Load the federation files again when they changed on disk; True when they did.

        A directory that no longer verifies leaves the terminal on its own
        office's list (logged), never stopped.
        """
        fingerprint = self.store.fingerprint()
        if fingerprint == self._loaded:
            return False
        self._loaded = fingerprint
        refused = False
        try:
            held = self.store.load(now)
        except (KiaError, OSError, ValueError) as exc:
            log.error("the federation held does not verify; deciding on the own office's list alone: %s", exc)
            held, refused = None, True
        with self._lock:
            self._held, self._built, self.refused_on_load = held, None, refused
        if held is not None:
            log.info("federation: directory %d, %d other offices' lists, %d refused", held.directory.seq,
                     len(held.lists), len(held.refused))
        return True

    def status(self, now: int) -> dict[str, Any] | None:
        """``status`` of what was loaded, for the staff screen (no signature checked again); None unless pinned.

        Adds ``held_refused``: the files held did not verify at the last load
        (the terminal decides on its own office's list alone).
        """
        if not self.store.is_pinned():
            return None
        try:
            described = describe(self.store, self._held, now)
        except (KiaError, OSError, ValueError) as exc:  # the pin or settings damaged since the last load
            log.error("the federation's status cannot be read: %s", exc)
            return {"pinned": True, "directory": None, "own_region": None, "regions": {}, "held_refused": True}
        return described | {"held_refused": self.refused_on_load}

    def trust(self, own: TrustList, now: int) -> TrustList | FederatedTrust:
        """What the terminal decides with at ``now`` (see ``decision_trust``)."""
        with self._lock:
            held, built = self._held, self._built
        if held is None:
            return own
        if built is not None and built[0] is own and built[1] <= now < built[2]:
            return built[3]
        trust = decision_trust(own, held.own_root, held.directory, held.lists.values(), now, held.accept_regions)
        with self._lock:
            if self._held is held:
                self._built = (own, now, _next_boundary(held.directory, now), trust)
        return trust


def _next_boundary(directory: TrustDirectory, now: int) -> int:
    """The first moment after ``now`` at which an office's validity, or a rotation's overlap, begins or ends."""
    moments = [moment for office in directory.offices
               for moment in (office.valid_from, office.valid_until, office.previous_until)
               if moment is not None and moment > now]
    return min(moments, default=_NEVER)


# --- status -----------------------------------------------------------------------------------------


def status(store: FederationStore, now: int) -> dict[str, Any]:
    """What the terminal holds, verified now, with what the last fetch reported per region."""
    return describe(store, store.load(now), now)


def describe(store: FederationStore, held: Held | None, now: int) -> dict[str, Any]:
    """``status`` of what was verified as ``held`` (None: no directory held or it did not verify)."""
    settings = store.settings()
    pinned = store.is_pinned()
    result: dict[str, Any] = {"pinned": pinned, "national_root_kid": kid_for(store.national_root()) if pinned else None,
                              "directory_url": settings.directory_url,
                              "accept_regions": list(settings.accept_regions) if settings.accept_regions else None,
                              "directory": None, "own_region": None, "regions": {}}
    if held is None:
        return result
    directory = held.directory
    last_fetch = store.status()
    result["directory"] = {"seq": directory.seq, "expires_at": directory.expires_at,
                           "expired": directory.is_expired(now), "refusal": last_fetch.get("directory_refusal"),
                           "fetched_at": last_fetch.get("fetched_at")}
    result["own_region"] = own_region(directory, held.own_root)
    fetched = last_fetch.get("regions", {})
    for region in sorted({*settings.offices, *held.lists, *held.refused}):
        last = fetched.get(str(region), {})
        entry: dict[str, Any] = {"url": settings.offices.get(region), "seq": None, "state": "not_fetched",
                                 "refusal": last.get("refusal")}
        if region == result["own_region"]:
            entry.update(state="own_office", refusal=None)
        elif settings.accept_regions is not None and region not in settings.accept_regions:
            entry.update(state="not_accepted", refusal=None)
        elif region in held.lists:
            office_list = held.lists[region]
            entry["seq"] = office_list.trust_list.seq
            try:
                directory.trusted_office(region, now)
                entry["state"] = "stale" if office_list.trust_list.is_expired(now) else "trusted"
            except OfficeNotTrusted as untrusted:
                entry.update(state="refused", refusal=refusal(untrusted))
        elif region in held.refused:
            entry.update(state="refused", refusal=refusal(held.refused[region]))
        result["regions"][str(region)] = entry
    return result


def refusal(error: BaseException) -> dict[str, str]:
    """Why a document or an office was refused: its reason code (keys.errors) and one sentence."""
    return {"code": str(getattr(error, "reason", None) or "trust_list_refused"), "message": str(error)}


def _write(path: Path, text: str) -> None:
    durable.replace(path, text.encode("utf-8"), _PRIVATE_FILE)
