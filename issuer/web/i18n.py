"""The words of the office's pages: Bahasa Indonesia first, English available."""

from __future__ import annotations

from flask import request

LANGUAGES = ("id", "en")

TEXT: dict[str, tuple[str, str]] = {
    # key: (Bahasa Indonesia, English)
    "app_name": ("Layanan KIA Disdukcapil", "KIA office service"),
    "sign_in": ("Masuk", "Sign in"),
    "sign_out": ("Keluar", "Sign out"),
    "username": ("Nama pengguna", "Username"),
    "password": ("Kata sandi", "Password"),
    "bad_credentials": ("Nama pengguna atau kata sandi salah.", "Wrong username or password."),
    "session_expired": ("Silakan masuk untuk melanjutkan.", "Please sign in to continue."),
    "forbidden": ("Anda tidak berhak membuka halaman ini.", "You may not open this page."),
    "not_found": ("Halaman tidak ditemukan.", "Page not found."),
    "dashboard": ("Dasbor", "Dashboard"),
    "cards": ("Kartu", "Cards"),
    "partners": ("Mitra", "Partners"),
    "revenue_per_partner": ("Pendapatan dari pemegang KIA per mitra, bulan ini",
                            "Revenue from KIA holders per partner, this month"),
    "revenue_over_time": ("Pendapatan dari pemegang KIA, 12 bulan terakhir",
                          "Revenue from KIA holders, last 12 months"),
    "coverage": ("Cakupan kartu per wilayah (%)", "Card coverage per region (%)"),
    "latest_alarms": ("Alarm terbaru", "Latest alarms"),
    "no_alarms": ("Tidak ada alarm.", "No alarms."),
    "gross": ("Harga penuh", "Gross"),
    "discount": ("Potongan", "Discount"),
    "net": ("Pendapatan bersih", "Net revenue"),
    "scans": ("Pindaian", "Scans"),
    "accepted": ("Diterima", "Accepted"),
    "unique_cards": ("Kartu unik", "Unique cards"),
    "issue_card": ("Terbitkan kartu (loket)", "Issue a card (counter)"),
    "birth_date": ("Tanggal lahir", "Birth date"),
    "region": ("Kode wilayah", "Region code"),
    "name": ("Nama anak", "Child's name"),
    "nik": ("NIK", "NIK"),
    "school": ("Sekolah", "School"),
    "issue": ("Terbitkan", "Issue"),
    "upload_batch": ("Unggah berkas sekolah (CSV)", "Upload a school batch (CSV)"),
    "upload": ("Unggah", "Upload"),
    "find_card": ("Cari kartu (nomor seri)", "Find a card (serial)"),
    "find": ("Cari", "Find"),
    "card": ("Kartu", "Card"),
    "serial": ("Nomor seri", "Serial"),
    "state": ("Status", "State"),
    "eligible_until": ("Berlaku sampai", "Eligible until"),
    "revoke": ("Cabut kartu", "Revoke card"),
    "replace": ("Ganti kartu (hilang/rusak)", "Replace card (lost/damaged)"),
    "reason": ("Alasan", "Reason"),
    "revoked_ok": ("Kartu telah dicabut.", "The card is revoked."),
    "replaced_ok": ("Kartu pengganti telah diterbitkan.", "A replacement card has been issued."),
    "issued_ok": ("Kartu telah diterbitkan.", "The card has been issued."),
    "batch_report": ("Laporan berkas", "Batch report"),
    "issued_count": ("Diterbitkan", "Issued"),
    "rejected_count": ("Ditolak", "Rejected"),
    "line": ("Baris", "Line"),
    "field": ("Kolom", "Field"),
    "error": ("Kesalahan", "Error"),
    "partner": ("Mitra", "Partner"),
    "kind": ("Jenis layanan", "Kind of service"),
    "cluster": ("Klaster KLA", "KLA cluster"),
    "mou_end": ("MoU berakhir", "MoU ends"),
    "mou_expired": ("MoU berakhir — perlu diperpanjang", "MoU expired — renew it"),
    "mou_ending_soon": ("MoU segera berakhir", "MoU ending soon"),
    "mou_in_force": ("MoU berlaku", "MoU in force"),
    "services": ("Layanan dan aturan potongan", "Services and discount rules"),
    "terminals": ("Terminal", "Terminals"),
    "suspend": ("Tangguhkan", "Suspend"),
    "activate": ("Aktifkan", "Activate"),
    "last_sync": ("Sinkron terakhir", "Last sync"),
    "this_month": ("Bulan ini", "This month"),
    "nothing_yet": ("Belum ada data.", "No data yet."),
    "read_only": ("Hanya baca", "Read only"),
    "keys": ("Kunci penerbit", "Issuing keys"),
    "keys_help": ("Kunci aktif menandatangani kartu baru; kunci pensiun tetap diverifikasi; kartu dari kunci yang "
                  "dicabut ditolak. Ekspor daftar kepercayaan setelah perubahan.",
                  "The active key signs new cards; retired keys still verify; cards of a revoked key are refused. "
                  "Export the trust list after a change."),
    "trust_list_seq": ("Daftar kepercayaan terbit terakhir", "Latest published trust list"),
    "created": ("Dibuat", "Created"),
    "retired": ("Pensiun", "Retired"),
    "revoked": ("Dicabut", "Revoked"),
    "rotate": ("Ganti kunci (rotasi)", "Rotate key"),
    "retire": ("Pensiunkan", "Retire"),
    "revoke_key": ("Cabut kunci", "Revoke key"),
    "revoke_confirm": ("Semua kartu dari kunci ini akan ditolak. Lanjutkan?",
                       "Every card of this key will be refused. Continue?"),
    "key_rotated": ("Kunci baru aktif; kunci lama dipensiunkan.", "A new key is active; the old one is retired."),
    "key_changed": ("Status kunci diubah.", "The key's state has changed."),
    "new_partner": ("Mitra baru", "New partner"),
    "new_terminal": ("Daftarkan terminal (nama)", "Register a terminal (name)"),
    "register": ("Daftarkan", "Register"),
    "enrolment_code": ("Kode pendaftaran sekali pakai", "One-time enrolment code"),
    "enrolment_help": ("Masukkan kode ini di terminal mitra (kia verifier enroll). Kode hanya ditampilkan sekarang dan "
                       "berlaku sampai", "Enter this code at the partner's terminal (kia verifier enroll). It is shown "
                       "only now and is valid until"),
    "card_type": ("Jenis kartu", "Card type"),
    "under_five": ("KIA balita (tanpa foto), berlaku sampai ulang tahun ke-5",
                   "Under-5 KIA (no photo), valid until the 5th birthday"),
    "five_to_seventeen": ("KIA 5–17 tahun (dengan foto)", "KIA for ages 5 to 17 (with photo)"),
    "mou_start": ("MoU mulai", "MoU starts"),
    "save": ("Simpan", "Save"),
    "batches": ("Berkas sekolah dan klinik", "School and clinic batches"),
    "channel": ("Saluran", "Channel"),
    "source": ("Berkas", "File"),
    "batch_submitted": ("Diajukan", "Submitted"),
    "batch_verified": ("Diverifikasi", "Verified"),
    "batch_printed": ("Dicetak", "Printed"),
    "batch_handed_over": ("Diserahkan", "Handed over"),
    "offline_signing": ("Daftar kepercayaan, ditandatangani luring", "Trust list, signed offline"),
    "offline_signing_help": (
        "Kunci akar tidak pernah berada di server ini. Siapkan permintaan, bawa ke komputer luring kantor, "
        "tandatangani di sana, lalu unggah bundel yang sudah ditandatangani. Cocokkan sidik jari di bawah dengan "
        "yang diminta oleh perintah sign.",
        "The root key is never on this server. Prepare a request, carry it to the office's offline machine, "
        "sign it there, and upload the signed bundle. Compare the fingerprint below with the one the sign "
        "command asks for."),
    "prepare_request": ("1. Siapkan permintaan tanda tangan (unduh)", "1. Prepare a signing request (download)"),
    "sign_offline_step": ("2. Di komputer luring:", "2. On the offline machine:"),
    "signed_bundle": ("3. Bundel bertanda tangan (JSON)", "3. Signed bundle (JSON)"),
    "prepared_requests": ("Permintaan yang disiapkan", "Prepared requests"),
    "when": ("Waktu", "When"),
    "who": ("Oleh", "By"),
    "request": ("Urutan", "Sequence"),
    "fingerprint": ("Sidik jari (SHA-256)", "Fingerprint (SHA-256)"),
    "trust_list_imported": ("Daftar kepercayaan urutan {seq} diterbitkan untuk terminal.",
                            "Trust list {seq} is published to the terminals."),
}


def language() -> str:
    """The language asked for (?lang=, then the cookie), Indonesian by default."""
    chosen = request.args.get("lang") or request.cookies.get("lang") or "id"
    return chosen if chosen in LANGUAGES else "id"


def t(key: str) -> str:
    words = TEXT[key]
    return words[LANGUAGES.index(language())]
