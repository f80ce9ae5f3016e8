"""The staff screen's federation block: the national directory and each region's state, in words.

Shown only on a terminal whose home is federated (a national root pinned,
docs/federation.md); ``block`` turns ``TerminalFederation.status`` into
ready-made text, Bahasa Indonesia first and English, so that the page
formats nothing itself (as verifier/app.py does for decisions).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from keys.regions import region_name

from .messages import MESSAGES, language

WORDS: dict[str, dict[str, str]] = {
    "heading": {"id": "Federasi nasional (kartu dari wilayah lain)",
                "en": "National federation (cards from other regions)"},
    "directory": {"id": "Direktori nasional", "en": "National directory"},
    "sequence": {"id": "urutan {seq}", "en": "sequence {seq}"},
    "expires": {"id": "Berlaku sampai (waktu setempat)", "en": "Valid until (local time)"},
    "state": {"id": "Keadaan", "en": "State"},
    "current": {"id": "Masih berlaku", "en": "Current"},
    "stale": {"id": "KEDALUWARSA: sambungkan terminal ke internet untuk memperbaruinya",
              "en": "EXPIRED: connect the terminal to the internet to update it"},
    "last_fetch": {"id": "Pengambilan direktori terakhir", "en": "Last directory fetch"},
    "fetch_ok": {"id": "Berhasil, {when}", "en": "Succeeded, {when}"},
    "fetch_refused": {"id": "{when}: {why}", "en": "{when}: {why}"},
    "fetch_never": {"id": "Belum pernah", "en": "Never"},
    "none_held": {"id": "Direktori nasional belum diambil: hanya kartu wilayah sendiri yang diterima.",
                  "en": "No national directory yet: only this region's cards are accepted."},
    "held_refused": {"id": "Direktori yang disimpan tidak sah dan tidak dipakai: hanya kartu wilayah sendiri yang "
                           "diterima. Hubungi admin.",
                     "en": "The directory held does not verify and is not used: only this region's cards are "
                           "accepted. Ask the administrator."},
    "region": {"id": "Wilayah", "en": "Region"},
    "note": {"id": "Keterangan", "en": "Note"},
    "own_office": {"id": "Kantor sendiri", "en": "Own office"},
    "trusted": {"id": "Dipercaya", "en": "Trusted"},
    "stale_list": {"id": "Daftar kedaluwarsa", "en": "List expired"},
    "refused": {"id": "Ditolak", "en": "Refused"},
    "not_accepted": {"id": "Tidak diterima mitra", "en": "Not accepted by the partner"},
    "not_fetched": {"id": "Belum diambil", "en": "Not fetched yet"},
}

# Why a directory or an office's list was refused (keys.errors.DIRECTORY_REASONS and the fetch's own codes);
# the trust-list codes are verifier.messages.MESSAGES'.
REFUSALS: dict[str, dict[str, str]] = {
    "directory_malformed": {"id": "Direktori rusak.", "en": "The directory is damaged."},
    "directory_wrong_type": {"id": "Berkas ini bukan direktori nasional.", "en": "The file is not a directory."},
    "directory_bad_signature": {"id": "Direktori tidak ditandatangani kementerian. Jangan dipakai; hubungi admin.",
                                "en": "The directory is not signed by the ministry. Do not use it; ask the "
                                      "administrator."},
    "directory_expired": {"id": "Direktori sudah kedaluwarsa.", "en": "The directory has expired."},
    "directory_rollback": {"id": "Direktori yang diterima lebih lama dari yang disimpan; yang disimpan tetap dipakai.",
                           "en": "The directory received is older than the one held; the one held stays."},
    "directory_delta_mismatch": {"id": "Pembaruan direktori tidak cocok; direktori lengkap akan diambil.",
                                 "en": "The directory update does not match; the full directory will be fetched."},
    "directory_unreachable": {"id": "Server kementerian tidak dapat dihubungi; direktori yang disimpan tetap "
                                    "dipakai.",
                              "en": "The ministry's server could not be reached; the directory held stays."},
    "office_unknown": {"id": "Kantor ini tidak tercantum di direktori.", "en": "The office is not in the directory."},
    "office_root_not_listed": {"id": "Kunci kantor ini tidak tercantum di direktori.",
                               "en": "The office's key is not the one the directory lists."},
    "office_suspended": {"id": "Kantor ini ditangguhkan oleh kementerian.",
                         "en": "The ministry has suspended this office."},
    "office_revoked": {"id": "Kunci kantor ini dicabut oleh kementerian.",
                       "en": "The ministry has revoked this office's key."},
    "office_not_valid": {"id": "Kantor ini di luar masa berlakunya di direktori.",
                         "en": "The office is outside its validity in the directory."},
    "office_unreachable": {"id": "Kantor tidak dapat dihubungi; daftar yang disimpan tetap dipakai.",
                           "en": "The office could not be reached; the list held stays."},
}


# Each region's state (verifier.federation.status) -> its words above.
_STATE_WORDS = {"own_office": "own_office", "trusted": "trusted", "stale": "stale_list", "refused": "refused",
                "not_accepted": "not_accepted", "not_fetched": "not_fetched"}


def word(name: str, lang: str, **values: object) -> str:
    return WORDS[name][language(lang)].format(**values)


def refusal_words(refusal: dict[str, Any] | None, lang: str) -> str:
    """A refusal's reason code in words; an unknown code is shown as it is."""
    if not refusal:
        return ""
    code = str(refusal.get("code"))
    texts = REFUSALS.get(code) or MESSAGES.get(code)
    if texts is None:
        return ("Ditolak" if language(lang) == "id" else "Refused") + f" ({code})"
    return texts[language(lang)]


def block(status: dict[str, Any] | None, zone: dt.tzinfo, lang: str) -> dict[str, Any] | None:
    """The federation block's text, or None when the home is not federated (nothing is shown)."""
    if status is None:
        return None
    shown: dict[str, Any] = {"heading": word("heading", lang), "stale": False, "notice": None, "lines": [],
                             "columns": [word("region", lang), word("state", lang), word("note", lang)],
                             "regions": []}
    directory = status.get("directory")
    if directory is None:
        shown["notice"] = word("held_refused" if status.get("held_refused") else "none_held", lang)
        return shown
    expires = _local(directory["expires_at"], zone)
    fetched_at, why = directory.get("fetched_at"), refusal_words(directory.get("refusal"), lang)
    if not isinstance(fetched_at, int):
        fetched = word("fetch_never", lang)
    else:
        fetched = word("fetch_refused", lang, when=_local(fetched_at, zone), why=why) if why else word(
            "fetch_ok", lang, when=_local(fetched_at, zone))
    shown["stale"] = bool(directory["expired"])
    shown["lines"] = [
        {"label": word("directory", lang), "value": word("sequence", lang, seq=directory["seq"])},
        {"label": word("expires", lang), "value": expires},
        {"label": word("state", lang), "value": word("stale" if directory["expired"] else "current", lang)},
        {"label": word("last_fetch", lang), "value": fetched},
    ]
    for region, entry in status["regions"].items():
        state, refusal = entry["state"], entry.get("refusal")
        if state == "not_fetched" and refusal and refusal.get("code") != "office_unreachable":
            state = "refused"  # never held because the fetch refused it: say so, the note says why
        name = _STATE_WORDS.get(state)
        shown["regions"].append({"region": region, "name": _region_name(region), "state": state,
                                 "text": word(name, lang) if name else state, "note": refusal_words(refusal, lang)})
    return shown


def _region_name(region: str) -> str:
    """``Kabupaten Balangan (6311)``: staff know regions by name, the ministry's directory by code."""
    name = region_name(int(region)) if region.isdigit() else region
    return region if name == region else f"{name} ({region})"


def _local(moment: int, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(moment, zone).strftime("%Y-%m-%d %H:%M %Z")
