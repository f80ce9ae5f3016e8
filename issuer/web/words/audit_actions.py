"""Words of the audit trail's actions: ``action_<code>`` for each of issuer.audit.ACTIONS, (Bahasa Indonesia, English).

The trail shows these words with the code beside them (a ``title``); an action an older
office recorded and no longer knows is shown by its code (i18n.action_name).
"""

from __future__ import annotations

from ...audit import ACTIONS

_ACTIONS = {
    # the office, its keys and its transparency log
    "office_init": ("Kantor disiapkan (kunci akar dan kunci penerbit dibuat)",
                    "Office set up (root and issuing keys made)"),
    "key_rotate": ("Kunci penerbit baru diaktifkan", "New issuing key put in use"),
    "key_retire": ("Kunci penerbit dipensiunkan", "Issuing key retired"),
    "key_revoke": ("Kunci penerbit dicabut", "Issuing key revoked"),
    "log_init": ("Log transparansi dimulai", "Transparency log started"),
    "witness_add": ("Saksi log ditambahkan", "Log witness added"),
    "trust_list_export": ("Daftar kepercayaan diekspor", "Trust list exported"),
    "trust_list_prepare": ("Daftar kepercayaan disiapkan untuk ditandatangani", "Trust list prepared for signing"),
    "trust_list_import": ("Daftar kepercayaan bertanda tangan diterbitkan", "Signed trust list published"),
    # people and signing in
    "user_add": ("Pengguna ditambahkan", "User added"),
    "user_role": ("Peran pengguna diubah", "User's role changed"),
    "user_enable": ("Pengguna diaktifkan", "User enabled"),
    "user_disable": ("Pengguna dinonaktifkan", "User disabled"),
    "user_password_reset": ("Kata sandi pengguna diatur ulang", "User's password reset"),
    "sign_in": ("Berhasil masuk", "Signed in"),
    "sign_in_failed": ("Gagal masuk", "Sign-in failed"),
    "sign_in_locked": ("Akun dikunci sementara", "Account locked for now"),
    "sign_out": ("Keluar", "Signed out"),
    # partners, institutions, agreements and terminals
    "partner_create": ("Mitra didaftarkan", "Partner registered"),
    "service_rules": ("Aturan layanan mitra ditetapkan", "Partner's service rules set"),
    "partner_regions": ("Daerah lain yang kartunya diterima mitra ditetapkan",
                        "Other regions whose cards a partner honours set"),
    "institution_create": ("Sekolah/klinik didaftarkan", "School/clinic registered"),
    "agreement_create": ("Perjanjian kerja sama dibuat", "Agreement made"),
    "agreement_renew": ("Perjanjian kerja sama diperpanjang", "Agreement renewed"),
    "agreement_amend": ("Perjanjian kerja sama diubah", "Agreement amended"),
    "terminal_register": ("Terminal didaftarkan", "Terminal registered"),
    "terminal_register_mou_override": ("Terminal didaftarkan di luar masa MoU", "Terminal registered outside the MoU"),
    "terminal_enrol": ("Terminal dipasang dengan kode pendaftaran", "Terminal enrolled with its code"),
    "terminal_activate": ("Terminal diaktifkan", "Terminal activated"),
    "terminal_suspend": ("Terminal ditangguhkan", "Terminal suspended"),
    "terminal_retire": ("Terminal dipensiunkan", "Terminal retired"),
    # cards and batches
    "card_issue": ("Kartu diterbitkan", "Card issued"),
    "card_revoke": ("Kartu dicabut", "Card revoked"),
    "card_replace": ("Kartu diganti", "Card replaced"),
    "card_qr": ("Kode QR kartu diambil", "Card's QR code taken"),
    "cards_mark_expired": ("Kartu habis masa berlaku ditandai", "Expired cards marked"),
    "card_search": ("Kartu dicari", "Cards searched"),
    "batch_issue": ("Kartu satu berkas diterbitkan", "A batch's cards issued"),
    "batch_submit": ("Berkas anak diajukan", "Batch of children submitted"),
    "batch_verified": ("Berkas diverifikasi, kartunya ditandatangani", "Batch verified, its cards signed"),
    "batch_printed": ("Berkas dicetak", "Batch printed"),
    "batch_print_again": ("Berkas dicetak ulang", "Batch printed again"),
    "batch_handed_over": ("Kartu berkas diserahkan", "Batch's cards handed over"),
    # the auditor's work
    "record_release": ("Catatan karantina dilepas", "Held record released"),
    "record_confirm": ("Catatan karantina dikonfirmasi", "Held record confirmed"),
    "anomaly_pass": ("Pemeriksaan anomali dijalankan", "Anomaly checks run"),
    "audit_export": ("Data audit diekspor", "Audit data exported"),
    "records_prune": ("Catatan lama dihapus sesuai masa simpan", "Old records removed under the retention rule"),
    # federation
    "national_root_pin": ("Kunci akar nasional disematkan", "National root key pinned"),
    "national_directory_take": ("Direktori nasional diterima", "National directory taken"),
    "visits_take": ("Angka kunjungan dari kantor lain diterima", "Visit figures from another office taken"),
}
assert set(_ACTIONS) == set(ACTIONS), f"audit actions and their words differ: {sorted(set(ACTIONS) ^ set(_ACTIONS))}"

TEXT: dict[str, tuple[str, str]] = {f"action_{code}": words for code, words in _ACTIONS.items()}
