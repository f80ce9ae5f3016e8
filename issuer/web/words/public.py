"""Words of the public pages: (Bahasa Indonesia, English)."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    # The layout (templates/public_base.html).
    "pub_site_name": ("KIA: Kartu Identitas Anak", "KIA: the Child Identity Card"),
    "pub_tagline": ("Potongan harga untuk anak pemegang KIA, dan cara mendapatkan kartunya",
                    "Discounts for children who hold a KIA, and how to get the card"),
    "pub_nav_discounts": ("Potongan harga", "Discounts"),
    "pub_nav_howto": ("Cara mendapatkan KIA", "How to get a KIA"),
    "pub_nav_figures": ("Angka program", "Programme figures"),
    "pub_footer": ("Diterbitkan oleh Dinas Kependudukan dan Pencatatan Sipil (Disdukcapil). Halaman ini tidak "
                   "memuat data pribadi.",
                   "Published by the civil registry office (Disdukcapil). These pages hold no personal data."),
    "pub_open_data": ("Data terbuka (JSON)", "Open data (JSON)"),
    "pub_staff": ("Masuk petugas", "Staff sign-in"),
    "pub_public_site": ("Potongan harga KIA dan cara mendapatkan KIA (halaman umum)",
                        "KIA discounts and how to get a KIA (public pages)"),
    # Where a KIA gives a discount (/publik/).
    "pub_discounts_title": ("Di mana KIA memberi potongan harga", "Where a KIA gives a discount"),
    "pub_discounts_intro": ("Tunjukkan KIA anak di kasir mitra berikut. Kasir memindai kode QR pada kartu, lalu "
                            "potongan diberikan menurut kategori usia anak.",
                            "Show the child's KIA at the counter of these partners. The cashier scans the QR code "
                            "on the card and gives the discount for the child's age category."),
    "pub_other_regions_all": ("Juga menerima KIA dari semua kabupaten/kota di Indonesia",
                              "Also honours KIA cards of every regency and city in Indonesia"),
    "pub_other_regions_listed": ("Juga menerima KIA dari:", "Also honours KIA cards of:"),
    "pub_filter_cluster": ("Klaster KLA", "KLA cluster"),
    "pub_filter_region": ("Wilayah", "Region"),
    "pub_filter_kind": ("Jenis tempat", "Kind of place"),
    "pub_all": ("Semua", "All"),
    "pub_show": ("Tampilkan", "Show"),
    "pub_page_of": ("halaman {page} dari {pages}", "page {page} of {pages}"),
    "pub_pages": ("Halaman", "Pages"),
    "pub_previous": ("← Sebelumnya", "← Previous"),
    "pub_next": ("Berikutnya →", "Next →"),
    "pub_partners_found": ("{count} mitra", "{count} partners"),
    "pub_no_partners": ("Belum ada mitra yang memberi potongan untuk pilihan ini.",
                        "No partner gives a discount for this choice yet."),
    "pub_age": ("Usia anak", "Child's age"),
    "pub_age_0-4": ("0–4 tahun", "0–4 years"),
    "pub_age_5-12": ("5–12 tahun", "5–12 years"),
    "pub_age_13-16": ("13–16 tahun", "13–16 years"),
    "pub_usual_price": ("Harga biasa", "Usual price"),
    "pub_kia_discount": ("Potongan KIA", "KIA discount"),
    "pub_you_pay": ("Dibayar", "You pay"),
    "pub_free": ("Gratis", "Free"),
    "pub_discount_percent": ("Potongan {value}%", "{value}% off"),
    "pub_discount_fixed": ("Potongan {amount}", "{amount} off"),
    # How and where to get a KIA (/publik/cara-mendapatkan).
    "pub_howto_title": ("Cara mendapatkan KIA", "How to get a KIA"),
    "pub_howto_intro": ("KIA adalah kartu identitas untuk anak di bawah 17 tahun. Kartu diterbitkan oleh "
                        "Disdukcapil kabupaten/kota tempat anak terdaftar dalam Kartu Keluarga.",
                        "The KIA is the identity card of children under 17. It is issued by the Disdukcapil "
                        "of the regency or city where the child is registered on the family card."),
    "pub_types_title": ("Dua jenis KIA", "Two kinds of KIA"),
    "pub_type_under_five": ("Anak di bawah 5 tahun: KIA tanpa foto, berlaku sampai ulang tahun ke-5.",
                            "Children under 5: a KIA without a photo, valid until the 5th birthday."),
    "pub_type_five_up": ("Anak 5 sampai 17 tahun: KIA dengan foto, berlaku sampai sehari sebelum ulang tahun "
                         "ke-17.",
                         "Children from 5 to 17: a KIA with a photo, valid until the day before the 17th "
                         "birthday."),
    "pub_ways_title": ("Tiga cara mengajukan", "Three ways to apply"),
    "pub_way_counter": ("Di loket Disdukcapil", "At the Disdukcapil counter"),
    "pub_way_counter_text": ("Orang tua atau wali datang ke loket Disdukcapil dengan dokumen di bawah. Petugas "
                             "memeriksa berkas, lalu kartu dicetak dan diserahkan.",
                             "A parent or guardian comes to the Disdukcapil counter with the documents below. "
                             "The officer checks them; the card is then printed and handed over."),
    "pub_way_school": ("Melalui sekolah", "Through the school"),
    "pub_way_school_text": ("Sekolah yang bekerja sama dengan Disdukcapil mengumpulkan berkas murid dan "
                            "mengajukannya bersama-sama. Disdukcapil memverifikasi dan mencetak kartu, lalu "
                            "menyerahkannya kembali ke sekolah. Tanyakan kepada sekolah anak apakah sekolah ikut.",
                            "Schools that work with the Disdukcapil collect their pupils' documents and apply for "
                            "them together. The Disdukcapil checks them, prints the cards and hands them back to "
                            "the school. Ask the child's school whether it takes part."),
    "pub_way_clinic": ("Melalui klinik dan rumah bersalin", "Through clinics and maternity homes"),
    "pub_way_clinic_text": ("Klinik dan rumah bersalin yang bekerja sama dengan Disdukcapil dapat mengajukan KIA "
                            "untuk bayi yang baru lahir. Tanyakan kepada petugas klinik.",
                            "Clinics and maternity homes that work with the Disdukcapil can apply for a KIA for a "
                            "newborn baby. Ask the clinic's staff."),
    "pub_bring_title": ("Yang perlu dibawa", "What to bring"),
    "pub_bring_family_card": ("Kartu Keluarga (KK) yang memuat nama anak.",
                              "The family card (Kartu Keluarga, KK) that lists the child."),
    "pub_bring_birth_certificate": ("Kutipan akta kelahiran anak, asli dan fotokopinya.",
                                    "The child's birth certificate, the original and a copy."),
    "pub_bring_parent_id": ("KTP-el orang tua atau wali.", "The parent's or guardian's electronic ID card (KTP-el)."),
    "pub_bring_photo": ("Untuk anak 5 tahun ke atas: pas foto berwarna, atau anak ikut datang untuk difoto.",
                        "For children of 5 and over: a colour passport photo, or the child comes along to be "
                        "photographed."),
    "pub_bring_note": ("Persyaratan dapat berbeda antar daerah: tanyakan dulu ke Disdukcapil setempat.",
                       "What is asked can differ between regions: check with the local Disdukcapil first."),
    "pub_use_title": ("Memakai KIA", "Using the KIA"),
    "pub_use_text": ("Bawa kartu saat mengunjungi mitra dan tunjukkan di kasir. Kartu yang hilang atau rusak "
                     "dapat diganti di Disdukcapil; kartu lama diblokir sehingga tidak dapat dipakai orang lain.",
                     "Bring the card when visiting a partner and show it at the counter. A lost or damaged card can "
                     "be replaced at the Disdukcapil; the old card is blocked so that no one else can use it."),
    "pub_institutions_title": ("Sekolah dan klinik yang mengajukan KIA", "Schools and clinics that apply for KIAs"),
    "pub_no_institutions": ("Belum ada sekolah atau klinik yang terdaftar.", "No school or clinic is listed yet."),
    "pub_name": ("Nama", "Name"),
    "pub_kind": ("Jenis", "Kind"),
    "pub_region": ("Wilayah", "Region"),
    "pub_institution_school": ("Sekolah", "School"),
    "pub_institution_clinic": ("Klinik / rumah bersalin", "Clinic / maternity home"),
    # The programme's published figures (/publik/angka).
    "pub_figures_title": ("Angka program KIA", "KIA programme figures"),
    "pub_figures_intro": ("Angka yang diterbitkan kantor, per {day}: jumlah saja, tanpa data pribadi.",
                          "Figures the office publishes, as of {day}: counts only, no personal data."),
    "pub_partners_now": ("Mitra dengan MoU berlaku", "Partners with an MoU in force"),
    "pub_services_now": ("Layanan dengan potongan", "Discounted services"),
    "pub_active_cards": ("KIA aktif", "Active KIAs"),
    "pub_partners_over_time": ("Mitra dengan MoU berlaku pada akhir setiap bulan, 24 bulan terakhir",
                               "Partners with an MoU in force at each month's end, last 24 months"),
    "pub_month": ("Bulan", "Month"),
    "pub_partners": ("Mitra", "Partners"),
    "pub_coverage_title": ("Cakupan KIA per wilayah", "KIA coverage by region"),
    "pub_coverage_help": ("KIA aktif dibandingkan jumlah anak yang berhak menurut data kantor.",
                          "Active KIAs against the number of eligible children in the office's data."),
    "pub_eligible": ("Anak yang berhak", "Eligible children"),
    "pub_as_of": ("per", "as of"),
    "pub_coverage": ("Cakupan", "Coverage"),
    "pub_not_known": ("belum ada data", "not known yet"),
    "pub_no_figures": ("Belum ada angka.", "No figures yet."),
    "pub_table_of_chart": ("Angka grafik", "The chart's figures"),
}
