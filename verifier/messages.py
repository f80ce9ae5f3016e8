"""What partner staff read for each reason code: Bahasa Indonesia, and English.

One short sentence each, saying what happened and what to do.  Every code of
keys.errors.REASONS and verifier.decision.RULE_REASONS has both languages,
and so has every notice (a unit test holds this).
"""

from __future__ import annotations

import os

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
LANGUAGE_ENV = "KIA_LANG"

MESSAGES: dict[str, dict[str, str]] = {
    "accepted": {
        "id": "Kartu sah. Berikan potongan harga.",
        "en": "Valid card. Give the discount.",
    },
    "too_large": {
        "id": "Data pindaian terlalu besar: bukan kartu KIA. Pindai ulang kode QR di kartu.",
        "en": "The scan is too large to be a KIA card. Scan the card's QR code again.",
    },
    "malformed": {
        "id": "Kode ini bukan kartu KIA. Pindai ulang kode QR di kartu.",
        "en": "This code is not a KIA card. Scan the card's QR code again.",
    },
    "bad_header": {
        "id": "Kartu tidak dikenali (format tidak sah). Tolak potongan harga.",
        "en": "Card not recognised (invalid format). Refuse the discount.",
    },
    "wrong_type": {
        "id": "Kode ini bukan kartu KIA. Minta anak menunjukkan kartu KIA.",
        "en": "This code is not a KIA card. Ask for the child's KIA card.",
    },
    "unknown_key": {
        "id": "Kartu tidak diterbitkan oleh Disdukcapil yang dikenal. Tolak potongan harga.",
        "en": "The card was not issued by a known civil registry office. Refuse the discount.",
    },
    "algorithm_not_allowed": {
        "id": "Kartu palsu: tanda tangan tidak sah. Tolak potongan harga.",
        "en": "Forged card: invalid signature. Refuse the discount.",
    },
    "bad_signature": {
        "id": "Kartu palsu atau rusak: tanda tangan tidak cocok. Tolak potongan harga.",
        "en": "Forged or altered card: the signature does not match. Refuse the discount.",
    },
    "key_revoked": {
        "id": "Kartu ditandatangani kunci yang sudah dicabut. Minta orang tua menghubungi Disdukcapil.",
        "en": "The card was signed with a revoked key. Ask the parent to contact the civil registry.",
    },
    "key_not_valid": {
        "id": "Tanggal terbit kartu tidak sesuai kunci penerbit. Tolak potongan harga.",
        "en": "The card's issue date does not fit its issuing key. Refuse the discount.",
    },
    "bad_claims": {
        "id": "Isi kartu tidak sah. Tolak potongan harga.",
        "en": "The card's contents are invalid. Refuse the discount.",
    },
    "not_yet_valid": {
        "id": "Kartu belum berlaku. Periksa jam dan tanggal perangkat ini.",
        "en": "The card is not valid yet. Check this device's date and time.",
    },
    "expired": {
        "id": "Kartu KIA balita sudah habis masa berlaku (anak sudah 5 tahun). Minta orang tua mengganti kartu.",
        "en": "The under-5 KIA has expired (the child is 5). Ask the parent to renew the card.",
    },
    "aged_out": {
        "id": "Anak sudah berusia 17 tahun: KIA tidak berlaku lagi.",
        "en": "The child has turned 17: the KIA no longer applies.",
    },
    "card_revoked": {
        "id": "Kartu sudah dicabut (hilang atau diganti). Tolak potongan harga.",
        "en": "The card has been revoked (lost or replaced). Refuse the discount.",
    },
    # The partner's rules (verifier.decision.RULE_REASONS).
    "no_service": {
        "id": "Layanan ini belum punya aturan potongan KIA (MoU berakhir atau belum diatur). Kenakan harga biasa.",
        "en": "This service has no KIA discount rules (MoU ended or not set up). Charge the normal price.",
    },
    "no_price": {
        "id": "Layanan ini tidak memberi potongan KIA untuk kelompok usia anak ini. Kenakan harga biasa.",
        "en": "This service gives no KIA discount for this child's age group. Charge the normal price.",
    },
    "daily_limit": {
        "id": "Kartu ini sudah mencapai batas pemakaian hari ini. Kenakan harga biasa.",
        "en": "This card has reached today's limit. Charge the normal price.",
    },
    "passback": {
        "id": "Kartu ini baru saja dipakai di layanan ini. Tolak potongan harga.",
        "en": "This card was used here only moments ago. Refuse the discount.",
    },
    "trust_list_malformed": {
        "id": "Daftar kepercayaan rusak. Hubungi admin untuk memperbaruinya.",
        "en": "The trust list is damaged. Ask the administrator to update it.",
    },
    "trust_list_wrong_type": {
        "id": "Berkas ini bukan daftar kepercayaan. Hubungi admin.",
        "en": "This file is not a trust list. Ask the administrator.",
    },
    "trust_list_bad_signature": {
        "id": "Daftar kepercayaan tidak ditandatangani Disdukcapil. Jangan dipakai; hubungi admin.",
        "en": "The trust list is not signed by the civil registry. Do not use it; ask the administrator.",
    },
    "trust_list_expired": {
        "id": "Daftar kepercayaan sudah kedaluwarsa. Sambungkan perangkat untuk memperbarui.",
        "en": "The trust list has expired. Connect the device to update it.",
    },
    "trust_list_rollback": {
        "id": "Daftar kepercayaan lebih lama dari yang dimiliki. Unduh daftar lengkap.",
        "en": "The trust list is older than the one held. Download the full list.",
    },
    "trust_list_delta_mismatch": {
        "id": "Pembaruan daftar kepercayaan tidak cocok. Unduh daftar lengkap.",
        "en": "The trust list update does not match. Download the full list.",
    },
}


# Notices the staff screen shows beside a decision or instead of one.
NOTICES: dict[str, dict[str, str]] = {
    "stale": {
        "id": "Daftar kepercayaan sudah kedaluwarsa: sambungkan perangkat ke internet untuk memperbaruinya.",
        "en": "The trust list has expired: connect the device to the internet to update it.",
    },
    "clock_skew": {
        "id": "Jam perangkat ini tidak sesuai jam kantor Disdukcapil. Periksa tanggal dan jam perangkat.",
        "en": "This device's clock differs from the civil registry's. Check the device's date and time.",
    },
    "log_unavailable": {
        "id": "Pindaian tidak dapat dicatat (penyimpanan penuh atau rusak). Jangan beri potongan; hubungi admin.",
        "en": "The scan cannot be recorded (storage full or failing). Give no discount; call the administrator.",
    },
    "log_corrupt": {
        "id": "Catatan perangkat rusak dan sudah disisihkan. Hubungi Disdukcapil sebelum memindai lagi.",
        "en": "The device's log is damaged and was set aside. Contact the civil registry before scanning again.",
    },
}


def language(requested: str | None = None) -> str:
    """The language to speak: the one asked for, KIA_LANG, or Indonesian."""
    chosen = (requested or os.environ.get(LANGUAGE_ENV) or DEFAULT_LANGUAGE).lower()[:2]
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def message(reason: str, lang: str | None = None) -> str:
    return MESSAGES[reason][language(lang)]


def notice(name: str, lang: str | None = None) -> str:
    """The staff screen's sentence for a flag (``stale``, ``clock_skew``) or a log failure."""
    return NOTICES[name][language(lang)]
