"""What staff and gate screens show: rupiah, short labels, two-line displays.

The staff screen has room for a sentence (verifier/messages.py); a gate
board's screen has two lines of 20 characters, so every reason also has a
short label.  Bahasa Indonesia first, English available.
"""

from __future__ import annotations

from .local import DISPLAY_WIDTH
from .messages import language

SHORT: dict[str, dict[str, str]] = {
    "accepted": {"id": "DITERIMA", "en": "ACCEPTED"},
    "rejected": {"id": "DITOLAK", "en": "REFUSED"},
    "too_large": {"id": "Bukan kartu KIA", "en": "Not a KIA card"},
    "malformed": {"id": "Bukan kartu KIA", "en": "Not a KIA card"},
    "bad_header": {"id": "Kartu tak dikenal", "en": "Unknown card"},
    "wrong_type": {"id": "Bukan kartu KIA", "en": "Not a KIA card"},
    "unknown_key": {"id": "Penerbit tak dikenal", "en": "Unknown issuer"},
    "algorithm_not_allowed": {"id": "Kartu palsu", "en": "Forged card"},
    "bad_signature": {"id": "Kartu palsu/rusak", "en": "Forged or damaged"},
    "key_revoked": {"id": "Kunci dicabut", "en": "Key revoked"},
    "key_not_valid": {"id": "Tanggal terbit salah", "en": "Bad issue date"},
    "bad_claims": {"id": "Isi kartu salah", "en": "Invalid contents"},
    "not_yet_valid": {"id": "Belum berlaku", "en": "Not yet valid"},
    "expired": {"id": "Kartu kedaluwarsa", "en": "Card expired"},
    "aged_out": {"id": "Usia sudah 17", "en": "Aged 17 or over"},
    "card_revoked": {"id": "Kartu dicabut", "en": "Card revoked"},
    "no_service": {"id": "Tak ada layanan", "en": "No discount here"},
    "no_price": {"id": "Harga biasa", "en": "Normal price"},
    "daily_limit": {"id": "Batas harian habis", "en": "Daily limit reached"},
    "passback": {"id": "Sudah dipindai", "en": "Already scanned"},
    "unavailable": {"id": "VERIFIKASI GAGAL", "en": "CHECK FAILED"},
    "log_unavailable": {"id": "Log penuh/rusak", "en": "Log unavailable"},
}

LABELS: dict[str, dict[str, str]] = {
    "title": {"id": "Verifikasi KIA", "en": "KIA verification"},
    "scan_here": {"id": "Pindai kartu atau ketik kode QR, lalu tekan Enter",
                  "en": "Scan the card or type the QR code, then press Enter"},
    "check": {"id": "Periksa", "en": "Check"},
    "waiting": {"id": "Menunggu kartu…", "en": "Waiting for a card…"},
    "charge": {"id": "Tagih", "en": "Charge"},
    "price": {"id": "Harga", "en": "Price"},
    "discount": {"id": "Potongan", "en": "Discount"},
    "category": {"id": "Kategori usia", "en": "Age category"},
    "years": {"id": "tahun", "en": "years"},
    "eligible_until": {"id": "Berlaku sampai", "en": "Eligible until"},
    "today": {"id": "Hari ini", "en": "Today"},
    "scans": {"id": "Pindaian", "en": "Scans"},
    "accepted": {"id": "Diterima", "en": "Accepted"},
    "rejected": {"id": "Ditolak", "en": "Refused"},
    "revenue": {"id": "Pendapatan", "en": "Revenue"},
    "discounts": {"id": "Potongan diberikan", "en": "Discounts given"},
    "recent": {"id": "Pindaian terakhir", "en": "Latest scans"},
    "time": {"id": "Waktu", "en": "Time"},
    "result": {"id": "Hasil", "en": "Result"},
    "paid": {"id": "Dibayar", "en": "Paid"},
    "unsynced": {"id": "belum terkirim ke Disdukcapil", "en": "not yet sent to the office"},
    "stale": {"id": "Daftar kepercayaan sudah kedaluwarsa: hubungkan terminal ke internet agar kartu yang "
                    "dicabut dikenali.",
              "en": "The trust list has expired: connect the terminal to the internet so revoked cards are "
                    "recognised."},
    "offline": {"id": "Terminal sudah lama tidak terhubung ke Disdukcapil (terakhir: {when}). Periksa koneksi "
                      "internet.",
                "en": "The terminal has not reached the office for a long time (last: {when}). Check the "
                      "internet connection."},
    "clock": {"id": "Jam terminal berbeda jauh dari jam Disdukcapil: keputusan ditandai. Betulkan jam perangkat.",
              "en": "The terminal's clock is far from the office's: decisions are flagged. Set the device clock."},
    "mou": {"id": "Perjanjian kerja sama (MoU) berakhir {when}: tidak ada potongan harga. Hubungi Disdukcapil "
                  "untuk memperpanjang.",
            "en": "The partnership agreement (MoU) ended {when}: no discounts. Ask the office to renew it."},
    "log_full": {"id": "Log terminal tidak dapat menyimpan (disk penuh atau rusak): pindaian DITOLAK. Hubungi teknisi.",
                 "en": "The terminal log cannot store scans (disk full or damaged): scan REFUSED. Call a technician."},
    "no_config": {"id": "Aturan potongan harga belum diterima: jalankan sinkronisasi.",
                  "en": "No discount rules yet: run a sync."},
    "refusal_fork": {"id": "Disdukcapil menolak log terminal ini (catatan berbeda). Jangan hapus data; hubungi "
                           "Disdukcapil.",
                     "en": "The office refused this terminal's log (records differ). Do not delete data; call "
                           "the office."},
    "refusal_terminal_suspended": {"id": "Terminal ini ditangguhkan oleh Disdukcapil. Hubungi Disdukcapil.",
                                   "en": "This terminal has been suspended by the office. Call the office."},
    "refusal_config_older": {"id": "Aturan dari Disdukcapil lebih lama dari yang dipakai dan ditolak: aturan yang ada "
                                   "tetap berlaku. Hubungi Disdukcapil.",
                             "en": "The office sent older rules than those in use; they were refused and the rules "
                                   "held stay in force. Call the office."},
    "refusal_config_expired": {"id": "Aturan dari Disdukcapil sudah kedaluwarsa dan ditolak: aturan yang ada tetap "
                                     "berlaku. Periksa jam perangkat, lalu hubungi Disdukcapil.",
                               "en": "The office sent expired rules; they were refused and the rules held stay in "
                                     "force. Check the device clock, then call the office."},
    "refusal_other": {"id": "Disdukcapil menolak sinkronisasi: {message}. Hubungi Disdukcapil.",
                      "en": "The office refused the sync: {message}. Call the office."},
}


def short(code: str, lang: str | None = None) -> str:
    return SHORT.get(code, SHORT["rejected"])[language(lang)]


def label(name: str, lang: str | None = None, **values: str) -> str:
    return LABELS[name][language(lang)].format(**values)


def rupiah(amount: int) -> str:
    """Rupiah as Indonesians write it: Rp20.000."""
    return "Rp" + f"{amount:,}".replace(",", ".")


def display_lines(accepted: bool, reason: str, paid: int, lang: str | None = None) -> tuple[str, str]:
    """Two lines for a gate board: the verdict, then what to pay or why not."""
    if accepted:
        second = ("Bayar " if language(lang) == "id" else "Pay ") + rupiah(paid)
        return short("accepted", lang), second[:DISPLAY_WIDTH]
    return short("rejected", lang), short(reason, lang)[:DISPLAY_WIDTH]
