"""The words of the office's pages: Bahasa Indonesia first, English available."""

from __future__ import annotations

from flask import request

LANGUAGES = ("id", "en")
_LANGUAGE_KEY = "kia.language"  # the request's language, kept in its WSGI environ once read

TEXT: dict[str, tuple[str, str]] = {
    # key: (Bahasa Indonesia, English)
    "app_name": ("Layanan KIA Disdukcapil", "KIA office service"),
    "sign_in": ("Masuk", "Sign in"),
    "sign_out": ("Keluar", "Sign out"),
    "username": ("Nama pengguna", "Username"),
    "password": ("Kata sandi", "Password"),
    "bad_credentials": ("Nama pengguna atau kata sandi salah.", "Wrong username or password."),
    "session_expired": ("Silakan masuk untuk melanjutkan.", "Please sign in to continue."),
    "account_locked": ("Akun ini dikunci sementara karena terlalu banyak kata sandi salah. Coba lagi dalam "
                       "{minutes} menit, atau minta admin mengatur ulang kata sandinya.",
                       "This account is locked for now after too many wrong passwords. Try again in {minutes} "
                       "minutes, or ask an admin to reset its password."),
    "address_throttled": ("Terlalu banyak percobaan masuk yang gagal dari alamat ini. Coba lagi dalam {minutes} "
                          "menit.",
                          "Too many failed sign-ins from this address. Try again in {minutes} minutes."),
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
    "no_chart_data": ("Belum ada angka", "No figures yet"),
    "latest_alarms": ("Alarm terbaru", "Latest alarms"),
    "no_alarms": ("Tidak ada alarm.", "No alarms."),
    "gross": ("Harga penuh", "Gross"),
    "discount": ("Potongan", "Discount"),
    "net": ("Pendapatan bersih", "Net revenue"),
    "scans": ("Pindaian", "Scans"),
    "accepted": ("Diterima", "Accepted"),
    "unique_cards": ("Kartu unik", "Unique cards"),
    "held": ("Ditahan", "Held"),
    "held_hint": ("Catatan yang gagal pemeriksaan kantor: tidak dihitung sampai auditor memutuskan",
                  "Records that failed the office's checks: not counted until an auditor decides"),
    "flagged": ("Ditandai terminal", "Flagged by the terminal"),
    "flagged_hint": ("Dihitung, tetapi terminal memakai daftar kedaluwarsa atau jamnya meleset",
                     "Counted, though the terminal's trust list was stale or its clock off"),
    # The auditor's pages (issuer/web/audit.py).
    "audit": ("Audit", "Audit"),
    "audit_overview": ("Ringkasan", "Overview"),
    "audit_help": ("Catatan yang gagal pemeriksaan kantor ditahan di luar pendapatan sampai auditor melepas atau "
                   "mengonfirmasinya; setiap keputusan tercatat di jejak audit.",
                   "Records that failed the office's checks are held out of revenue until an auditor releases or "
                   "confirms them; every decision is in the audit trail."),
    "redemptions": ("Catatan pemindaian", "Redemptions"),
    "quarantine": ("Karantina", "Quarantine"),
    "alarms": ("Alarm", "Alarms"),
    "audit_trail": ("Jejak audit", "Audit trail"),
    "awaiting_decision": ("Catatan menunggu keputusan", "Records awaiting a decision"),
    "open_findings": ("Temuan terbuka", "Open findings"),
    "held_now": ("Catatan ditahan (termasuk yang dikonfirmasi)", "Records held (confirmed ones included)"),
    "alarms_this_week": ("Alarm 7 hari terakhir", "Alarms in the last 7 days"),
    "filter": ("Saring", "Filter"),
    "clear_filter": ("Hapus saringan", "Clear filters"),
    "any": ("Semua", "Any"),
    "terminal": ("Terminal", "Terminal"),
    "from_day": ("Dari tanggal", "From"),
    "to_day": ("Sampai tanggal", "To"),
    "flag": ("Tanda", "Flag"),
    "flag_held": ("Ditahan", "Held"),
    "flag_flagged": ("Ditandai terminal", "Flagged by the terminal"),
    "flag_none": ("Tanpa tanda", "Neither"),
    "check": ("Pemeriksaan", "Check"),
    "seq": ("No. urut", "Seq."),
    "service": ("Layanan", "Service"),
    "category": ("Kategori usia", "Age category"),
    "decision": ("Keputusan", "Decision"),
    "refused": ("Ditolak", "Refused"),
    "price": ("Harga", "Price"),
    "paid": ("Dibayar", "Paid"),
    "marks": ("Tanda dan temuan", "Flags and findings"),
    "rows_match": ("{total} ditemukan", "{total} found"),
    "rows_shown": ("menampilkan {first}–{last}", "showing {first}–{last}"),
    "next_page": ("Berikutnya →", "Next →"),
    "first_page": ("← Terbaru", "← Newest"),
    "pages": ("Halaman", "Pages"),
    "export_csv": ("Ekspor CSV", "Export CSV"),
    "export_help": ("semua catatan yang cocok, bukan hanya halaman ini", "every matching record, not only this page"),
    "partner_time": ("Waktu setempat mitra", "Partner's local time"),
    "times_in": ("Waktu dalam zona {zone}.", "Times in {zone}."),
    "filter_invalid": ("Saringan tidak dapat dipakai: periksa tanggal (dari ≤ sampai) dan isian lainnya.",
                       "The filter cannot be used: check the dates (from ≤ to) and the other fields."),
    "findings": ("Temuan", "Findings"),
    "evidence": ("Bukti", "Evidence"),
    "finding_open": ("menunggu", "open"),
    "finding_released": ("dilepas", "released"),
    "finding_confirmed": ("dikonfirmasi", "confirmed"),
    "queue_open": ("Menunggu keputusan", "Awaiting a decision"),
    "queue_released": ("Dilepas", "Released"),
    "queue_confirmed": ("Dikonfirmasi", "Confirmed"),
    "queue_empty": ("Tidak ada catatan di sini.", "No record here."),
    "queue_shown": ("{shown} catatan terbaru dari {total}", "the newest {shown} of {total} records"),
    "decision_reason": ("Alasan keputusan (wajib, satu baris)", "Reason for the decision (required, one line)"),
    "release": ("Lepaskan: hitung lagi", "Release: count again"),
    "confirm": ("Konfirmasi: tetap ditahan", "Confirm: keep held"),
    "released_ok": ("Catatan {record} dilepas: dihitung lagi dalam pendapatan.",
                    "Record {record} is released: it counts in revenue again."),
    "confirmed_ok": ("Catatan {record} dikonfirmasi: tetap di luar pendapatan.",
                     "Record {record} is confirmed: it stays out of revenue."),
    "reason_needed": ("Tuliskan alasan keputusan dalam satu baris (1 sampai 200 karakter).",
                      "Give the reason for the decision on one line (1 to 200 characters)."),
    "nothing_to_decide": ("Catatan {record} tidak punya temuan yang menunggu keputusan; mungkin sudah diputuskan.",
                          "Record {record} has no open finding; it may have been decided already."),
    "record_missing": ("Catatan {record} tidak ada di kantor.", "There is no record {record} at the office."),
    "alarm_kind": ("Jenis alarm", "Kind of alarm"),
    "detail": ("Rincian", "Detail"),
    "action": ("Tindakan", "Action"),
    "target": ("Sasaran", "Target"),
    "target_contains": ("Sasaran memuat", "Target contains"),
    "from_where": ("Dari alamat", "From address"),
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
    "log_checkpoint": ("Checkpoint log transparansi terbaru", "Latest checkpoint of the transparency log"),
    "log_checkpoint_help": ("Setiap fakta yang diterima kantor ada di log publik ini; saksi menandatangani bersama "
                            "setiap checkpoint. Periksa dengan 'kia audit log' (docs/transparency-log.md).",
                            "Every fact the office accepts is in this public log; witnesses cosign each checkpoint. "
                            "Check it with 'kia audit log' (docs/transparency-log.md)."),
    "log_size": ("Jumlah entri", "Entries"),
    "log_root": ("Hash akar", "Root hash"),
    "signed_at": ("Ditandatangani", "Signed"),
    "witnesses": ("Saksi", "Witnesses"),
    "cosigned_at": ("ditandatangani bersama", "cosigned"),
    "not_cosigned": ("belum menandatangani checkpoint ini", "has not cosigned this checkpoint"),
    "no_witnesses": ("Belum ada saksi: tambahkan dengan 'kia issuer log witness-add'.",
                     "No witness yet: add one with 'kia issuer log witness-add'."),
    "checkpoint_text": ("Teks checkpoint (C2SP signed note)", "Checkpoint text (C2SP signed note)"),
    "checkpoint_link": ("Checkpoint untuk mesin (/api/v1/log/checkpoint)",
                        "Checkpoint for machines (/api/v1/log/checkpoint)"),
    "no_checkpoint": ("Log belum punya checkpoint: jalankan 'kia issuer log init' lalu 'kia issuer log publish'.",
                      "The log has no checkpoint yet: run 'kia issuer log init', then 'kia issuer log publish'."),
    "keys": ("Kunci penerbit", "Issuing keys"),
    "keys_help": ("Kunci aktif menandatangani kartu baru; kunci pensiun tetap diverifikasi; kartu dari kunci yang "
                  "dicabut ditolak. Terbitkan daftar kepercayaan baru setelah perubahan (di bawah).",
                  "The active key signs new cards; retired keys still verify; cards of a revoked key are refused. "
                  "Publish a new trust list after a change (below)."),
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
    "key_place": ("Tempat kunci", "Where it is kept"),
    "key_on_hsm": ("HSM", "HSM"),
    "key_in_file": ("Berkas terenkripsi", "Encrypted file"),
    "rotate_on_hsm": ("Kunci baru dibuat di HSM (token {token}); kunci itu tidak pernah bisa dibaca dari token.",
                      "New keys are made on the HSM (token {token}); a key can never be read from the token."),
    "rotate_in_file": ("Kunci baru dibuat sebagai berkas terenkripsi. Untuk memakai HSM, atur KIA_PKCS11_MODULE dan "
                       "KIA_HSM_TOKEN pada layanan (docs/hsm.md).",
                       "New keys are made as encrypted files. To use an HSM, set KIA_PKCS11_MODULE and "
                       "KIA_HSM_TOKEN for the service (docs/hsm.md)."),
    "key_changed": ("Status kunci diubah.", "The key's state has changed."),
    "new_partner": ("Mitra baru", "New partner"),
    "new_terminal": ("Daftarkan terminal (nama)", "Register a terminal (name)"),
    "register": ("Daftarkan", "Register"),
    "enrolment_code": ("Kode pendaftaran sekali pakai", "One-time enrolment code"),
    "enrolment_help": ("Masukkan kode ini di terminal mitra (kia verifier enroll). Kode hanya ditampilkan sekarang dan "
                       "berlaku sampai", "Enter this code at the partner's terminal (kia verifier enroll). It is shown "
                       "only now and is valid until"),
    "root_fingerprint": ("Sidik kunci akar kantor", "The office's root key fingerprint"),
    "root_fingerprint_help": ("Berikan juga sidik ini kepada pemasang terminal (kia verifier enroll "
                              "--root-fingerprint): terminal memeriksanya sebelum mengirim kode, sehingga tidak "
                              "mempercayai kantor palsu.",
                              "Give this fingerprint to the terminal's installer too (kia verifier enroll "
                              "--root-fingerprint): the terminal checks it before it sends the code, so it trusts "
                              "no false office."),
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
    "users": ("Pengguna", "Users"),
    "role": ("Peran", "Role"),
    "role_admin": ("Admin", "Admin"),
    "role_officer": ("Petugas", "Officer"),
    "role_partner_manager": ("Pengelola mitra", "Partner manager"),
    "role_auditor": ("Auditor", "Auditor"),
    "user_active": ("Aktif", "Active"),
    "user_disabled_state": ("Nonaktif", "Disabled"),
    "add_user": ("Tambah pengguna", "Add a user"),
    "partner_for_managers": ("Mitra (khusus pengelola mitra)", "Partner (partner managers only)"),
    "confirm_password": ("Ulangi kata sandi", "Repeat the password"),
    "new_password": ("Kata sandi baru", "New password"),
    "change_role": ("Ubah peran", "Change role"),
    "disable": ("Nonaktifkan", "Disable"),
    "enable": ("Aktifkan", "Enable"),
    "reset_password": ("Atur ulang kata sandi", "Reset password"),
    "passwords_differ": ("Kedua kata sandi tidak sama.", "The two passwords differ."),
    "field_username": ("Nama pengguna", "Username"),
    "field_password": ("Kata sandi", "Password"),
    "field_confirm": ("Ulangi kata sandi", "Repeat the password"),
    "field_role": ("Peran", "Role"),
    "field_partner": ("Mitra", "Partner"),
    "field_csrf_token": ("Formulir", "Form"),
    "user_added": ("Pengguna {username} ditambahkan.", "{username} was added."),
    "role_changed": ("Peran {username} diubah.", "{username}'s role has changed."),
    "user_disabled": ("{username} dinonaktifkan; sesinya berakhir.", "{username} is disabled; their sessions end."),
    "user_enabled": ("{username} diaktifkan kembali.", "{username} is enabled again."),
    "password_reset": ("Kata sandi {username} diganti; sesinya berakhir.",
                       "{username} has a new password; their sessions end."),
    "trust_list_imported": ("Daftar kepercayaan urutan {seq} diterbitkan untuk terminal.",
                            "Trust list {seq} is published to the terminals."),
}


# Alarms, as the dashboard names them (the detail after the name stays as recorded).
ALARMS: dict[str, tuple[str, str]] = {
    "fork": ("Catatan terminal bercabang", "A terminal's log forked"),
    "chain_mismatch": ("Rantai catatan tidak cocok", "A log's chain did not match"),
    "mou_expired": ("Pemindaian di luar masa MoU", "Scans outside the MoU"),
    "serial_malformed": ("Nomor seri rusak", "Malformed serial"),
    "serial_unknown": ("Kartu tidak pernah diterbitkan", "Card never issued"),
    "home_own_region": ("Daerah asal kartu tertulis daerah kantor ini",
                        "Card's home region given as this office's own"),
    "home_unlisted": ("Daerah asal kartu tidak ada di direktori nasional",
                      "Card's home region not in the national directory"),
    "home_untrusted": ("Kantor daerah asal kartu tidak dipercaya saat pindai",
                       "Card's home office not trusted at the scan's time"),
    "home_not_accepted": ("Mitra tidak menerima kartu dari daerah asal kartu",
                          "The partner does not honour cards of the card's home region"),
    "card_not_issued_yet": ("Kartu dipindai sebelum terbit", "Card scanned before it was issued"),
    "card_revoked": ("Kartu sudah dicabut", "Card already revoked"),
    "card_replaced": ("Kartu sudah diganti", "Card already replaced"),
    "card_expired": ("Kartu sudah habis masa berlaku", "Card already expired"),
    "key_revoked": ("Kunci penerbit sudah dicabut", "Issuing key already revoked"),
    "category_mismatch": ("Kategori usia tidak sesuai kartu", "Age category not the card's"),
    "rules_mismatch": ("Harga atau potongan tidak sesuai aturan mitra", "Price or discount not the partner's rules"),
    "reason_mismatch": ("Alasan bertentangan dengan keputusan", "Reason contradicts the decision"),
    "before_enrolment": ("Pemindaian sebelum terminal didaftarkan", "Scan before the terminal was enrolled"),
    "future": ("Pemindaian bertanggal di masa depan", "Scan dated in the future"),
    "while_suspended": ("Pemindaian saat terminal ditangguhkan", "Scan while the terminal was suspended"),
    "daily_limit": ("Batas harian terlampaui di terminal-terminal mitra",
                    "Daily limit passed across the partner's terminals"),
    "impossible_travel": ("Perjalanan mustahil antar mitra", "Impossible travel between partners"),
    "many_partners": ("Terlalu banyak mitra dalam satu jam", "Too many partners within an hour"),
    "volume_spike": ("Lonjakan jumlah pemindaian", "Volume spike"),
    "cards_seen_nowhere_else": ("Kartu tidak pernah terlihat di mitra lain", "Cards seen nowhere else"),
    "closing_burst": ("Penumpukan pemindaian menjelang tutup", "Burst before closing"),
    "witness_refused": ("Saksi menolak atau tidak menandatangani checkpoint",
                        "A witness refused or missed a checkpoint"),
}


def _merge_areas() -> None:
    """Add each area's words (issuer/web/words/); a key defined twice is a mistake, caught at import."""
    from .words import agreements, audit_actions, batches, public, reports

    for area in (agreements, audit_actions, batches, public, reports):
        twice = TEXT.keys() & area.TEXT.keys()
        if twice:
            raise RuntimeError(f"{area.__name__} defines words already defined: {sorted(twice)}")
        TEXT.update(area.TEXT)


_merge_areas()


def alarm_name(kind: str) -> str:
    words = ALARMS.get(kind)
    return words[LANGUAGES.index(language())] if words else kind


def action_name(code: str) -> str:
    """An audit action in words; an action this office no longer records (an older trail) by its code."""
    words = TEXT.get(f"action_{code}")
    return words[LANGUAGES.index(language())] if words else code


def language() -> str:
    """The language asked for (?lang=, then the cookie), Indonesian by default; read once per request."""
    known = request.environ.get(_LANGUAGE_KEY)
    if known is None:
        chosen = request.args.get("lang") or request.cookies.get("lang") or "id"
        known = request.environ[_LANGUAGE_KEY] = chosen if chosen in LANGUAGES else "id"
    return str(known)


def t(key: str, **values: object) -> str:
    """The words for ``key`` in the page's language, with ``{name}`` fields filled from ``values``."""
    words = TEXT[key][LANGUAGES.index(language())]
    return words.format(**values) if values else words
