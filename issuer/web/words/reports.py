"""Words of the reports pages, the card search, and the pages' shared presentation: (Bahasa Indonesia, English)."""

from __future__ import annotations

from ...storage.models import KLA_CLUSTERS, PARTNER_KINDS

# The one set of words for partner kinds and KLA clusters, used by every page (kind_cinema, cluster_...).
_KINDS = {
    "cinema": ("Bioskop", "Cinema"),
    "pool": ("Kolam renang", "Swimming pool"),
    "transport": ("Transportasi", "Transport"),
    "museum": ("Museum", "Museum"),
    "health": ("Kesehatan (klinik, rumah bersalin)", "Health (clinic, maternity home)"),
    "education": ("Pendidikan", "Education"),
    "bookshop": ("Toko buku", "Bookshop"),
    "recreation": ("Rekreasi", "Recreation"),
    "other": ("Lainnya", "Other"),
}
_CLUSTERS = {
    "civil_rights": ("Hak sipil dan kebebasan", "Civil rights and freedoms"),
    "family_care": ("Lingkungan keluarga dan pengasuhan alternatif", "Family environment and alternative care"),
    "health_welfare": ("Kesehatan dasar dan kesejahteraan", "Basic health and welfare"),
    "education_culture": ("Pendidikan, pemanfaatan waktu luang dan kegiatan budaya",
                          "Education, leisure and cultural activities"),
    "special_protection": ("Perlindungan khusus", "Special protection"),
}
assert set(_KINDS) == set(PARTNER_KINDS) and set(_CLUSTERS) == set(KLA_CLUSTERS), "a kind or cluster has no words"

TEXT: dict[str, tuple[str, str]] = {
    **{f"kind_{code}": words for code, words in _KINDS.items()},
    **{f"cluster_{code}": words for code, words in _CLUSTERS.items()},
    # The reports page (issuer/web/reports.py).
    "rep_title": ("Laporan", "Reports"),
    "rep_help": ("Angka dihitung dari pindaian yang diterima; catatan yang ditahan pemeriksaan kantor tidak "
                 "dihitung sampai auditor memutuskan. Tanggal adalah hari setempat mitra.",
                 "Figures count accepted scans; records held by the office's checks do not count until an "
                 "auditor decides. Dates are the partner's local days."),
    "rep_help_partner": ("Angka mitra Anda: pindaian kartu KIA yang diterima, harga penuh, potongan dan pendapatan "
                         "bersih. Tanggal adalah hari setempat mitra.",
                         "Your partner's figures: accepted KIA scans, full price, discount and net revenue. "
                         "Dates are the partner's local days."),
    "rep_range": ("Rentang waktu", "Date range"),
    "rep_range_this_month": ("Bulan ini", "This month"),
    "rep_range_last_month": ("Bulan lalu", "Last month"),
    "rep_range_this_year": ("Tahun ini", "This year"),
    "rep_range_last_12_months": ("12 bulan terakhir", "Last 12 months"),
    "rep_range_custom": ("Pilih tanggal sendiri", "Custom dates"),
    "rep_period": ("Per", "By"),
    "rep_period_auto": ("Sesuai rentang", "As the range suggests"),
    "rep_period_day": ("Hari", "Day"),
    "rep_period_month": ("Bulan", "Month"),
    "rep_group": ("Kelompokkan menurut", "Group by"),
    "rep_group_partner": ("Mitra", "Partner"),
    "rep_group_kind": ("Jenis layanan", "Kind of service"),
    "rep_group_cluster": ("Klaster KLA", "KLA cluster"),
    "rep_group_programme": ("Seluruh program", "The whole programme"),
    "rep_group_service": ("Layanan", "Service"),
    "rep_all_partners": ("Semua mitra", "Every partner"),
    "rep_region": ("Wilayah", "Region"),
    "rep_all_regions": ("Semua wilayah", "Every region"),
    "rep_show": ("Tampilkan", "Show"),
    "rep_shown_range": ("{first} sampai {last}", "{first} to {last}"),
    "rep_figures": ("Pendapatan dari pemegang KIA", "Revenue from KIA holders"),
    "rep_figures_per_period": ("Pendapatan bersih dan potongan per periode", "Net revenue and discount per period"),
    "rep_figures_per_group": ("Pendapatan bersih dan potongan per kelompok", "Net revenue and discount per group"),
    "rep_figures_per_group_top": ("Pendapatan bersih dan potongan: {shown} kelompok teratas dari {total}",
                                  "Net revenue and discount: the top {shown} groups of {total}"),
    "rep_rows_cut": ("Halaman ini menampilkan {shown} baris pertama dari {total}. Jumlah di bawah menghitung "
                     "semuanya; unduh CSV untuk melihat setiap baris, atau pilih per bulan.",
                     "This page shows the first {shown} of {total} rows. The totals below count them all; "
                     "download the CSV for every row, or choose by month."),
    "rep_period_column": ("Periode", "Period"),
    "rep_total": ("Jumlah", "Total"),
    "rep_no_figures": ("Tidak ada pindaian dalam rentang ini.", "No scans in this range."),
    "rep_download_csv": ("Unduh CSV (angka yang ditampilkan)", "Download CSV (the figures shown)"),
    "rep_download_last_month": ("Unduh CSV bulan lalu (per hari)", "Download last month's CSV (by day)"),
    "rep_quick": ("Pilihan cepat", "Quick choices"),
    "rep_quick_month_by_day": ("Bulan ini per hari", "This month by day"),
    "rep_quick_year_by_month": ("Tahun ini per bulan", "This year by month"),
    "rep_quick_per_service": ("Per layanan, bulan ini", "Per service, this month"),
    "rep_partners_over_time": ("Mitra dari waktu ke waktu", "Partners over time"),
    "rep_partners_in_force": ("Mitra dengan MoU berlaku", "Partners with an MoU in force"),
    "rep_partners_with_scans": ("Mitra dengan pindaian diterima", "Partners with accepted scans"),
    "rep_coverage_trend": ("Tren cakupan kartu per wilayah", "Card coverage trend per region"),
    "rep_coverage_help": ("Kartu yang berlaku pada akhir setiap bulan (bulan berjalan: sekarang), dibanding jumlah "
                          "anak yang berhak menurut data terakhir yang dimasukkan kantor.",
                          "Cards in force at the end of each month (this month: now), against the latest number "
                          "of eligible children the office entered."),
    "rep_active_cards": ("Kartu berlaku", "Cards in force"),
    "rep_eligible": ("Anak yang berhak", "Eligible children"),
    "rep_percent": ("Cakupan", "Coverage"),
    "rep_unknown": ("belum diisi", "not entered"),
    "rep_no_coverage": ("Belum ada kartu atau data anak yang berhak.", "No cards or eligible children yet."),
    "rep_elsewhere": ("Kartu daerah ini dipakai di daerah lain", "This region's cards used in other regions"),
    "rep_elsewhere_help": ("Angka yang ditandatangani kantor daerah lain tentang kartu kita di mitra mereka: per "
                           "bulan, tanpa nama atau nomor kartu anak. Hari dengan kurang dari 5 pindaian pada satu "
                           "jenis mitra tidak disebutkan jumlahnya.",
                           "Figures other regions' offices signed of our cards at their partners: per month, with "
                           "no child's name or card number. Days with fewer than 5 scans at one kind of partner "
                           "are not counted out."),
    "rep_elsewhere_chart": ("Pindaian kartu kita di daerah lain", "Our cards' scans in other regions"),
    "rep_elsewhere_scans": ("Pindaian diterima", "Accepted scans"),
    "rep_elsewhere_withheld": ("Hari di bawah 5 pindaian", "Days under 5 scans"),
    "rep_elsewhere_none": ("Belum ada angka dari kantor daerah lain untuk rentang ini. Ambil dengan: kia issuer "
                           "federation visits-fetch.",
                           "No figures from other regions' offices for this range yet. Fetch them with: kia issuer "
                           "federation visits-fetch."),
    "rep_bad_dates": ("Tanggal tidak dapat dibaca: tulis sebagai tahun-bulan-tanggal, misalnya 2026-12-01.",
                      "The dates cannot be read: write them as year-month-day, e.g. 2026-12-01."),
    "rep_dates_order": ("Tanggal awal harus sebelum atau sama dengan tanggal akhir.",
                        "The first date must not be after the last."),
    "rep_too_many_days": ("Laporan per hari mencakup paling lama {days} hari. Pilih per bulan, atau rentang yang "
                          "lebih pendek.",
                          "A report by day covers at most {days} days. Choose by month, or a shorter range."),
    "rep_too_many_months": ("Laporan per bulan mencakup paling lama {months} bulan. Pilih rentang yang lebih "
                            "pendek, lalu minta rentang berikutnya.",
                            "A report by month covers at most {months} months. Choose a shorter range, then ask "
                            "for the next one."),
    "rep_too_far_ahead": ("Laporan berakhir paling lambat {days} hari setelah hari ini.",
                          "A report ends at most {days} days after today."),
    "rep_bad_choice": ("Pilihan laporan tidak dikenal; pilih dari daftar.", "Unknown report choice; pick one from "
                       "the list."),
    "rep_reports_link": ("Laporan lengkap", "Full reports"),
    "rep_mou_ending": ("MoU yang segera berakhir", "Agreements ending soon"),
    "rep_mou_ends_on": ("berakhir {day}", "ends {day}"),
    "rep_no_mou_ending": ("Tidak ada MoU yang berakhir dalam waktu dekat.", "No agreement ends soon."),
    "rep_alarm_at": ("Waktu", "When"),
    # The keys page (issuer/templates/keys.html).
    "rep_kid": ("ID kunci (kid)", "Key id (kid)"),
    "rep_key_active": ("Aktif", "Active"),
    "rep_key_retired": ("Pensiun", "Retired"),
    "rep_key_revoked": ("Dicabut", "Revoked"),
    # Card search (issuer/web/search.py).
    "search_title": ("Cari kartu", "Find a card"),
    "search_help": ("Cari kartu anak dari NIK (16 angka, persis) atau sebagian nama (paling sedikit {length} huruf). "
                    "Setiap pencarian tercatat di jejak audit, tanpa NIK atau nama yang dicari.",
                    "Find a child's card by NIK (16 digits, exact) or part of the name (at least {length} "
                    "letters). Each search is in the audit trail, without the NIK or name searched."),
    "search_by": ("Cari menurut", "Search by"),
    "search_by_nik": ("NIK", "NIK"),
    "search_by_name": ("Nama anak", "Child's name"),
    "search_text": ("NIK atau nama", "NIK or name"),
    "search_button": ("Cari", "Search"),
    "search_bad_nik": ("NIK terdiri dari 16 angka.", "A NIK is 16 digits."),
    "search_short_name": ("Tulis paling sedikit {length} huruf dari nama.", "Write at least {length} letters of "
                          "the name."),
    "search_long": ("Teks pencarian terlalu panjang.", "The search text is too long."),
    "search_none": ("Tidak ada kartu yang cocok.", "No card matches."),
    "search_found": ("{count} kartu ditemukan.", "{count} cards found."),
    "search_more": ("Hanya {limit} hasil pertama yang ditampilkan: perjelas pencarian.",
                    "Only the first {limit} results are shown: narrow the search."),
    "search_matched_name": ("Nama (disamarkan)", "Name (masked)"),
    "search_issued": ("Diterbitkan", "Issued"),
    "search_open": ("Buka", "Open"),
    "search_state_active": ("Berlaku", "Active"),
    "search_state_revoked": ("Dicabut", "Revoked"),
    "search_state_replaced": ("Diganti", "Replaced"),
    "search_state_expired": ("Habis masa berlaku", "Expired"),
    # An ended session, and requests too large (issuer/web/auth.py, issuer/app.py).
    "sess_form_kept": ("Sesi Anda sudah berakhir, jadi formulir belum dikirim. Masuk lagi: isian Anda disimpan "
                       "di halaman ini dan dapat dikirim ulang.",
                       "Your session had ended, so the form was not sent. Sign in again: what you entered is "
                       "kept on this page and can be sent again."),
    "sess_resend_title": ("Kirim ulang formulir", "Send the form again"),
    "sess_resend_help": ("Periksa isian yang tersimpan, lalu kirim ulang. Berkas yang diunggah dan kata sandi tidak "
                         "disimpan: pilih atau ketik lagi di halaman asalnya.",
                         "Check what was kept, then send it again. Uploaded files and passwords are not kept: "
                         "choose or type them again on their page."),
    "sess_resend": ("Kirim ulang", "Send again"),
    "sess_cancel": ("Batal", "Cancel"),
    "sess_form_refused": ("Formulir ini tidak dapat diterima (tanda keamanannya tidak cocok). Muat ulang halaman "
                          "lalu kirim lagi.",
                          "This form cannot be accepted (its security token does not match). Reload the page and "
                          "send it again."),
    "err_too_large": ("Berkas atau formulir terlalu besar: paling banyak {size} MB. Pecah berkasnya lalu kirim "
                      "lagi.",
                      "The file or form is too large: at most {size} MB. Split the file and send it again."),
    "err_bad_request": ("Permintaan tidak dapat dibaca. Kembali lalu coba lagi.",
                        "The request could not be read. Go back and try again."),
    "err_method": ("Halaman ini tidak menerima cara kirim itu.", "This page does not take that kind of request."),
    # The error page's heading, by HTTP status (issuer/templates/error.html); err_heading for any other.
    "err_heading": ("Permintaan tidak berhasil", "The request did not succeed"),
    "err_heading_400": ("Permintaan tidak dapat diproses", "The request cannot be processed"),
    "err_heading_403": ("Akses ditolak", "Access refused"),
    "err_heading_404": ("Tidak ditemukan", "Not found"),
    "err_heading_405": ("Cara kirim tidak diterima", "Method not allowed"),
    "err_heading_409": ("Bertentangan dengan data yang ada", "Conflicts with what is recorded"),
    "err_heading_413": ("Terlalu besar", "Too large"),
    "err_heading_422": ("Tidak dapat diterima", "Cannot be accepted"),
    "err_heading_429": ("Terlalu banyak permintaan", "Too many requests"),
    "err_heading_500": ("Terjadi kesalahan di layanan", "The service failed"),
    "err_heading_503": ("Layanan sedang tidak tersedia", "The service is unavailable"),
    # A refusal a page shows, by the error's class (issuer.web.error_page.said); other errors keep their message.
    "exc_HomeBusy": ("Kantor sedang mengerjakan perintah lain. Coba lagi sebentar lagi.",
                     "The office is busy with another command. Try again shortly."),
    "exc_DatabaseConflict": ("Data yang sama sedang diubah bersamaan. Tidak ada yang tersimpan; coba lagi.",
                             "The same records were being changed at once. Nothing was kept; try again."),
    "exc_DatabaseUnavailable": ("Basis data kantor tidak dapat dihubungi. Hubungi admin kantor.",
                                "The office's database cannot be reached. Call the office's admin."),
    "exc_UnknownCard": ("Tidak ada kartu dengan nomor seri itu.", "No card has that serial."),
    "exc_RemovedByRetention": ("Catatan bulan itu sudah dihapus sesuai masa simpan kantor, dan angka ini "
                               "memerlukannya. Angka per hari dan per bulan utuh tetap ada, juga rentang yang "
                               "mulai tanggal 1 atau berakhir di akhir bulan.",
                               "The records of that month were removed under the office's retention rule, and this "
                               "figure needs them. Figures of whole days and months remain, and ranges that start "
                               "on the 1st or end on a month's last day."),
    "exc_CardAlreadyRevoked": ("Kartu ini sudah dicabut.", "This card is already revoked."),
    "exc_UnknownUser": ("Pengguna itu tidak ada.", "There is no such person."),
    "exc_PartnerNotFound": ("Mitra itu tidak ada.", "There is no such partner."),
    "exc_TerminalNotFound": ("Terminal itu tidak ada.", "There is no such terminal."),
    "exc_InstitutionNotFound": ("Sekolah atau klinik itu tidak ada.", "There is no such school or clinic."),
    "exc_UsernameTaken": ("Nama pengguna itu sudah dipakai; pilih yang lain.",
                          "That username is taken; choose another."),
    "exc_OwnAccount": ("Anda tidak dapat menonaktifkan akun sendiri atau mengubah peran sendiri; minta admin lain.",
                       "You cannot disable your own account or change your own role; ask another admin."),
    "exc_LastAdmin": ("Ini admin aktif terakhir: jadikan orang lain admin lebih dulu.",
                      "This is the last active admin: make someone else an admin first."),
    "exc_TerminalStateRefused": ("Terminal ini tidak dapat diubah begitu: terminal yang dipensiunkan tidak kembali, "
                                 "dan yang belum didaftarkan hanya dapat dipensiunkan.",
                                 "This terminal cannot change so: a retired terminal never comes back, and one "
                                 "never enrolled can only be retired."),
    "exc_TrustListFileError": ("Berkas itu bukan permintaan tanda tangan atau paket daftar kepercayaan yang sah.",
                               "That file is not a valid signing request or trust-list bundle."),
    "exc_BundleRollback": ("Paket ini tidak lebih baru dari daftar kepercayaan terakhir kantor.",
                           "This bundle's list is not newer than the office's latest."),
    "exc_BundleOutdated": ("Data kantor berubah (kartu dicabut atau kunci diubah) sejak permintaan dibuat: buat "
                           "permintaan baru lalu tanda tangani lagi.",
                           "The office changed (a card revoked or a key changed) since the request was made: "
                           "prepare a new request and sign it again."),
    "exc_PassphraseMissing": ("Frasa sandi kunci penerbit belum diatur di server. Hubungi admin kantor.",
                              "The issuing key's passphrase is not set on the server. Call the office's admin."),
    "exc_PassphraseTooShort": ("Frasa sandi kunci penerbit di server terlalu pendek. Hubungi admin kantor.",
                               "The issuing key's passphrase on the server is too short. Call the office's admin."),
    "exc_PassphraseWrong": ("Frasa sandi di server tidak membuka kunci penerbit. Hubungi admin kantor.",
                            "The passphrase on the server does not open the issuing key. Call the office's admin."),
    "exc_KeyStoreError": ("Kunci penerbit tidak dapat dibuka. Hubungi admin kantor.",
                          "The issuing key cannot be opened. Call the office's admin."),
    "exc_HsmError": ("HSM tidak dapat dipakai untuk kunci penerbit: periksa modul PKCS#11 dan token yang diatur di "
                     "server. Hubungi admin kantor.",
                     "The HSM cannot be used for the issuing key: check the PKCS#11 module and token set on the "
                     "server. Call the office's admin."),
    "exc_HsmPinRefused": ("Token HSM menolak PIN (KIA_HSM_PIN) di server, atau PIN terkunci. Hubungi admin kantor.",
                          "The HSM token refused the PIN on the server (KIA_HSM_PIN), or the PIN is locked. "
                          "Call the office's admin."),
    "exc_KeyLifecycleError": ("Keadaan kunci tidak mengizinkan perubahan ini: hanya kunci aktif yang dapat "
                              "dipensiunkan, dan kunci yang dicabut tetap dicabut.",
                              "The key's state does not allow this change: only an active key can be retired, and "
                              "a revoked key stays revoked."),
    "err_internal": ("Kesalahan sudah dicatat. Coba lagi sebentar lagi; bila berulang, hubungi admin kantor.",
                     "The error is logged. Try again shortly; if it happens again, tell the office's admin."),
}
