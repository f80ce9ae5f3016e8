"""Words of the agreements (MoU) and partner pages: (Bahasa Indonesia, English).

``mou_...``: cooperation agreements; ``ptn_...``: the partner pages, with
terminal states (``ptn_terminal_active``) that other pages may use as well.
Partner kinds and KLA clusters are named once for every page, in
issuer/web/words/reports.py (``kind_cinema``, ``cluster_education_culture``).
"""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    # Terminal states (issuer.storage.models.TERMINAL_STATES).
    "ptn_terminal_pending": ("Menunggu pendaftaran", "Awaiting enrolment"),
    "ptn_terminal_active": ("Aktif", "Active"),
    "ptn_terminal_suspended": ("Ditangguhkan", "Suspended"),
    "ptn_terminal_retired": ("Pensiun", "Retired"),
    # The partner pages.
    "ptn_region": ("Wilayah", "Region"),
    "ptn_region_code": ("Kode wilayah (4 angka, mis. 3372)", "Region code (4 digits, e.g. 3372)"),
    "ptn_service_code": ("Kode layanan", "Service code"),
    "ptn_service_name": ("Nama layanan", "Service name"),
    "ptn_prices": ("Harga usia 0–4 / 5–12 / 13–16", "Price, ages 0–4 / 5–12 / 13–16"),
    "ptn_price_0_4": ("Harga usia 0–4 (Rp)", "Price, ages 0–4 (Rp)"),
    "ptn_price_5_12": ("Harga usia 5–12 (Rp)", "Price, ages 5–12 (Rp)"),
    "ptn_price_13_16": ("Harga usia 13–16 (Rp)", "Price, ages 13–16 (Rp)"),
    "ptn_discount_kind": ("Jenis potongan", "Kind of discount"),
    "ptn_discount_value": ("Besar potongan (persen atau rupiah)", "Discount (percent or rupiah)"),
    "ptn_percent": ("Persen", "Percent"),
    "ptn_fixed": ("Rupiah tetap", "Fixed rupiah"),
    "ptn_limit_per_day": ("Batas per kartu per hari", "Limit per card per day"),
    "ptn_passback": ("Jeda pindai ulang", "Pass-back window"),
    "ptn_passback_seconds": ("Jeda pindai ulang (detik)", "Pass-back window (seconds)"),
    "ptn_seconds": ("{seconds} detik", "{seconds} s"),
    "ptn_no_passback": ("tanpa jeda", "none"),
    "ptn_times": ("{count}×", "{count}×"),
    "ptn_terminal_id": ("ID terminal", "Terminal ID"),
    "ptn_terminal_name": ("Nama terminal", "Terminal name"),
    "ptn_never_synced": ("belum pernah", "never"),
    "ptn_offline": ("tidak sinkron lebih dari sehari", "not synced for more than a day"),
    "ptn_offline_help": ("Terminal aktif yang tidak sinkron lebih dari sehari mungkin mati atau tanpa jaringan: "
                         "hubungi mitra.",
                         "An active terminal that has not synced for more than a day may be off or offline: call "
                         "the partner."),
    "ptn_day": ("Tanggal", "Day"),
    "ptn_name": ("Nama mitra", "Partner's name"),
    "ptn_fields_to_check": ("Periksa isian: {fields}.", "Check these fields: {fields}."),
    "ptn_service_saved": ("Aturan layanan {code} disimpan.", "The rules of service {code} are saved."),
    # Cards of other regions the partner honours (issuer.partners.OtherRegions).
    "ptn_other_regions": ("KIA dari daerah lain", "KIA cards of other regions"),
    "ptn_other_regions_help": (
        "Anak dari kabupaten/kota lain yang berkunjung membawa KIA daerahnya. Pilih kartu daerah mana yang diterima "
        "mitra ini menurut perjanjiannya. Kantor menahan catatan kartu daerah yang tidak dipilih dari pendapatan, "
        "dan halaman umum menampilkan pilihan ini. Setel terminal mitra sama dengan pilihan ini "
        "(kia verifier federation pin --accept-region).",
        "Children visiting from other regencies and cities carry their own region's KIA. Choose which regions' "
        "cards this partner honours under its agreement. The office holds records of cards of regions not chosen "
        "out of revenue, and the public page shows the choice. Set the partner's terminals to the same "
        "(kia verifier federation pin --accept-region)."),
    "ptn_other_regions_none": ("Hanya KIA daerah ini", "This office's cards only"),
    "ptn_other_regions_all": ("KIA semua daerah yang dipercaya direktori nasional",
                              "Cards of every region the national directory trusts"),
    "ptn_other_regions_listed": ("KIA daerah berikut", "Cards of these regions"),
    "ptn_other_regions_codes": ("Kode wilayah, dipisah spasi (mis. 6311 9171)",
                                "Region codes, separated by spaces (e.g. 6311 9171)"),
    "ptn_other_regions_saved": ("Pilihan KIA daerah lain disimpan.", "The choice of other regions' cards is saved."),
    "ptn_other_regions_rule_choice": ("Pilih salah satu; kode wilayah hanya untuk \"KIA daerah berikut\".",
                                      "Choose one; region codes go only with \"Cards of these regions\"."),
    "ptn_other_regions_rule_count": ("Tulis 1 sampai 100 kode wilayah.", "Give 1 to 100 region codes."),
    "ptn_other_regions_rule_code": ("Setiap kode wilayah 4 angka, mis. 6311.",
                                    "Each region code is 4 digits, e.g. 6311."),
    "ptn_other_regions_rule_own": ("Kartu daerah mitra sendiri selalu diterima: jangan cantumkan kodenya.",
                                   "The partner's own region's cards are always honoured: leave its code out."),
    # A service rule out of range (issuer.partners.RuleInvalid's rule).
    "ptn_rule_code": ("Kode layanan 1–64 huruf, angka dan tanda hubung, mis. bioskop-reguler.",
                      "The service code is 1 to 64 letters, digits and dashes, e.g. bioskop-reguler."),
    "ptn_rule_name": ("Nama layanan 1–200 karakter.", "The service's name is 1 to 200 characters."),
    "ptn_rule_categories": ("Isi harga untuk sedikitnya satu kategori umur (0–4, 5–12, 13–16).",
                            "Give a price for at least one age category (0–4, 5–12, 13–16)."),
    "ptn_rule_prices": ("Harga dalam rupiah bulat, dari 0 sampai 100.000.000.",
                        "Prices are whole rupiah from 0 to 100,000,000."),
    "ptn_rule_percent": ("Potongan persen dari 0 sampai 100.", "A percentage discount is from 0 to 100."),
    "ptn_rule_fixed": ("Potongan tetap dalam rupiah bulat, dari 0 sampai 100.000.000.",
                       "A fixed discount is whole rupiah from 0 to 100,000,000."),
    "ptn_rule_discount_kind": ("Potongan berupa persen atau jumlah rupiah tetap.",
                               "The discount is a percentage or a fixed amount of rupiah."),
    "ptn_rule_daily_limit": ("Batas per kartu per hari dari 1 sampai 100.", "The daily limit per card is 1 to 100."),
    "ptn_rule_passback": ("Jeda anti-passback dari 0 detik sampai satu hari.",
                          "The anti-passback window is from 0 seconds to one day."),
    "ptn_back_to_partner": ("Kembali ke halaman mitra", "Back to the partner's page"),
    # Cooperation agreements (MoU).
    "mou_upcoming": ("MoU belum mulai", "MoU not started yet"),
    "mou_agreements": ("Perjanjian kerja sama (MoU)", "Cooperation agreements (MoU)"),
    "mou_current": ("MoU yang berlaku", "Current agreement"),
    "mou_number": ("Nomor perjanjian", "Agreement number"),
    "mou_number_unknown": ("belum dicatat", "not recorded"),
    "mou_period": ("Masa berlaku", "Period"),
    "mou_period_text": ("{start} s.d. {end}", "{start} to {end}"),
    "mou_starts_on": ("Mulai", "Starts"),
    "mou_ends_on": ("Berakhir", "Ends"),
    "mou_end_blank_hint": ("kosongkan: dua tahun", "leave blank: two years"),
    "mou_contact": ("Narahubung", "Contact person"),
    "mou_contact_name": ("Nama narahubung", "Contact's name"),
    "mou_contact_phone": ("Telepon narahubung", "Contact's phone"),
    "mou_contact_email": ("Surel narahubung", "Contact's e-mail"),
    "mou_document": ("Dokumen perjanjian (PDF)", "Agreement document (PDF)"),
    "mou_document_hint": ("PDF hasil pindai perjanjian yang ditandatangani, paling besar {mb} MB",
                          "Scan of the signed agreement as a PDF, at most {mb} MB"),
    "mou_document_short": ("Dokumen", "Document"),
    "mou_download": ("Unduh PDF", "Download PDF"),
    "mou_no_document": ("belum diunggah", "not uploaded"),
    "mou_state": ("Status", "State"),
    "mou_days_left": ("{days} hari lagi", "{days} days left"),
    "mou_days_ago": ("berakhir {days} hari lalu", "ended {days} days ago"),
    "mou_warning_ending_soon": ("MoU berakhir pada {end} ({days} hari lagi). Perpanjang sebelum berakhir agar "
                                "terminal mitra tetap memberi potongan.",
                                "The MoU ends on {end} ({days} days left). Renew it before then so that the "
                                "partner's terminals keep giving discounts."),
    "mou_warning_expired": ("MoU berakhir pada {end}. Terminal mitra tidak memberi potongan dan tidak dapat "
                            "didaftarkan sampai MoU diperpanjang.",
                            "The MoU ended on {end}. The partner's terminals give no discount and none can be "
                            "registered until the MoU is renewed."),
    "mou_warning_upcoming": ("MoU baru berlaku mulai {start}.", "The MoU starts on {start}."),
    "mou_list_warning": ("{count} mitra dengan MoU yang segera berakhir (dalam {days} hari) atau sudah berakhir.",
                         "{count} partners whose MoU ends within {days} days or has ended."),
    "mou_renew": ("Perpanjang MoU", "Renew the MoU"),
    "mou_renew_help": ("Periode baru untuk mitra yang sama (bukan mitra baru): mulai sehari setelah MoU sekarang "
                       "berakhir, dua tahun bila tanggal akhir dikosongkan.",
                       "A new period for the same partner (not a new partner): from the day after the current "
                       "MoU ends, two years unless an end is given."),
    "mou_amend": ("Ubah MoU yang berlaku", "Amend the current MoU"),
    "mou_amend_help": ("Isi hanya yang berubah; setiap versi tersimpan dalam riwayat.",
                       "Fill in only what changes; every version is kept in the history."),
    "mou_note": ("Catatan perubahan", "Note on the change"),
    "mou_history": ("Riwayat MoU", "MoU history"),
    "mou_version_short": ("v{version}", "v{version}"),
    "mou_starts_from": ("berlaku mulai {start}", "in force from {start}"),
    "mou_action": ("Perubahan", "Change"),
    "mou_action_create": ("dicatat", "recorded"),
    "mou_action_renew": ("diperpanjang", "renewed"),
    "mou_action_amend": ("diubah", "amended"),
    "mou_action_migrate": ("dari data lama (tanpa nomor)", "from the old records (no number)"),
    "mou_changed": ("Yang berubah", "What changed"),
    "mou_field_number": ("nomor", "number"),
    "mou_field_starts_on": ("mulai", "start"),
    "mou_field_ends_on": ("berakhir", "end"),
    "mou_field_contact_name": ("narahubung", "contact"),
    "mou_field_contact_phone": ("telepon", "phone"),
    "mou_field_contact_email": ("surel", "e-mail"),
    "mou_field_document_sha256": ("dokumen", "document"),
    "mou_renewed_ok": ("MoU diperpanjang: {start} s.d. {end}.", "The MoU is renewed: {start} to {end}."),
    "mou_amended_ok": ("MoU diubah (versi {version}).", "The MoU is amended (version {version})."),
    "mou_nothing_changed": ("Tidak ada yang berubah: isi nomor, tanggal akhir, narahubung atau dokumen baru.",
                            "Nothing changes: give a new number, end, contact or document."),
    "mou_overlap": ("MoU baru harus mulai setelah MoU sekarang berakhir ({end}). Untuk mengubah MoU sekarang, "
                    "gunakan \u201cUbah MoU yang berlaku\u201d.",
                    "The new MoU must start after the current one ends ({end}). To change the current one, use "
                    "\u201cAmend the current MoU\u201d."),
    "mou_end_before_start": ("Tanggal berakhir harus setelah tanggal mulai.", "The end must come after the start."),
    "mou_bad_document": ("Dokumen harus berupa PDF paling besar {mb} MB.", "The document must be a PDF of at most "
                         "{mb} MB."),
    "mou_partner_exists": ("Mitra \u201c{name}\u201d sudah ada di wilayah ini. Perpanjang MoU-nya di halaman mitra, "
                           "jangan ditambahkan lagi.",
                           "The partner \u201c{name}\u201d already exists in this region. Renew its MoU on its "
                           "page rather than adding it again."),
    "mou_open_partner": ("Buka halaman mitra", "Open the partner's page"),
    "mou_override": ("Daftarkan walau MoU tidak berlaku hari ini", "Register although the MoU is not in force"),
    "mou_override_reason": ("Alasan pengecualian (wajib, dicatat di jejak audit)",
                            "Reason for the exception (required, kept in the audit trail)"),
    "mou_override_needed": ("MoU mitra ini tidak berlaku hari ini: perpanjang dulu, atau centang pengecualian dan "
                            "tulis alasannya.",
                            "This partner's MoU is not in force today: renew it first, or tick the exception and "
                            "give its reason."),
}
