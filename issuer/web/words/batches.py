"""Words of the batches and institutions pages: (Bahasa Indonesia, English).

A refused row's error and a file's trouble are shown by their codes
(issuer.children.ROW_ERRORS and FILE_ERRORS keep both languages beside the
checks that raise them) as ``batch_err_<code>``.
"""

from __future__ import annotations

from ...children import FILE_ERRORS, ROW_ERRORS

TEXT: dict[str, tuple[str, str]] = {
    "role_institution": ("Sekolah/klinik", "School/clinic"),
    "inst_institutions": ("Sekolah dan klinik", "Schools and clinics"),
    "inst_help": ("Sekolah (Smart Kids) dan klinik atau rumah bersalin (Alibaba) mengajukan berkas anak; kantor "
                  "memverifikasi, mencetak, lalu menyerahkan kartunya kembali.",
                  "Schools (Smart Kids) and clinics or maternity homes (Alibaba) submit batches of children; the "
                  "office verifies, prints, and hands the cards back."),
    "inst_queue": ("Antrean per lembaga", "Queue per institution"),
    "inst_name": ("Nama lembaga", "Institution"),
    "inst_kind": ("Jenis", "Kind"),
    "inst_kind_school": ("Sekolah", "School"),
    "inst_kind_clinic": ("Klinik/rumah bersalin", "Clinic/maternity home"),
    "inst_region": ("Wilayah", "Region"),
    "inst_waiting": ("Perlu ditindak", "To act on"),
    "inst_new": ("Lembaga baru", "New institution"),
    "inst_add": ("Tambah lembaga", "Add institution"),
    "inst_added": ("Lembaga ditambahkan. Buat akunnya di halaman Pengguna.",
                   "The institution is added. Make its account on the Users page."),
    "inst_none": ("Belum ada sekolah atau klinik.", "No school or clinic yet."),
    "inst_for_accounts": ("Lembaga (khusus akun sekolah/klinik)", "Institution (school/clinic accounts only)"),
    "inst_accounts": ("Akun lembaga ini", "This institution's accounts"),
    "batch_submit_csv": ("Ajukan berkas anak (CSV)", "Submit a batch of children (CSV)"),
    "batch_csv_help": ("Kolom: birth_date (atau tanggal_lahir), region (atau wilayah); boleh juga name (nama), nik, "
                       "school (sekolah), external_id (no_induk). Pemisah koma atau titik koma; tanggal TTTT-BB-HH, "
                       "HH/BB/TTTT atau HH-BB-TTTT. Simpan dari Excel sebagai CSV.",
                       "Columns: birth_date (or tanggal_lahir), region (or wilayah); optionally name (nama), nik, "
                       "school (sekolah), external_id (no_induk). Comma or semicolon separated; dates YYYY-MM-DD, "
                       "DD/MM/YYYY or DD-MM-YYYY. Save from Excel as CSV."),
    "batch_file": ("Berkas CSV", "CSV file"),
    "batch_submit_one": ("Ajukan satu anak", "Submit one child"),
    "batch_submit": ("Ajukan", "Submit"),
    "batch_external_id": ("No. induk", "Pupil no."),
    "batch_no_institution": ("Tanpa lembaga", "No institution"),
    "batch_title": ("Berkas #{id}", "Batch #{id}"),
    "batch_of": ("dari {institution}", "from {institution}"),
    "batch_summary": ("{children} anak diterima · {refused} baris ditolak · {cards} kartu dibuat",
                      "{children} children accepted · {refused} rows refused · {cards} cards made"),
    "batch_steps": ("Langkah", "Steps"),
    "batch_children": ("Anak dalam berkas", "Children in the batch"),
    "batch_refused": ("Baris yang ditolak", "Refused rows"),
    "batch_refused_help": ("Perbaiki baris ini di berkas Anda lalu ajukan sebagai berkas baru.",
                           "Fix these rows in your file and submit them as a new batch."),
    "batch_child_waiting": ("menunggu verifikasi", "waiting for verification"),
    "batch_child_card_made": ("kartu dibuat", "card made"),
    "batch_child_printed": ("dicetak", "printed"),
    "batch_child_handed_over": ("diserahkan", "handed over"),
    "batch_verify": ("Verifikasi dan tandatangani kartu", "Verify and sign the cards"),
    "batch_verify_confirm": ("Anak-anak dalam berkas ini sudah dicocokkan dengan data kependudukan? Kartu "
                             "ditandatangani sekarang.",
                             "Have the children of this batch been checked against the population register? The "
                             "cards are signed now."),
    "batch_print_sheet": ("Cetak: lembar A4 isi 10 (PDF)", "Print: A4 sheets of 10 (PDF)"),
    "batch_print_cards": ("Cetak: satu halaman per kartu (PDF)", "Print: one page per card (PDF)"),
    "batch_print_help": ("Berkas cetak memuat kartu yang berlaku; setiap unduhan tercatat di jejak audit.",
                         "The print files carry working cards; every download is in the audit trail."),
    "batch_hand_over": ("Catat penyerahan ke lembaga", "Record the handover"),
    "batch_handover_csv": ("Daftar serah terima (CSV)", "Handover list (CSV)"),
    "batch_handover_pdf": ("Tanda terima (PDF)", "Receipt (PDF)"),
    "batch_verified_ok": ("Berkas #{id} diverifikasi; {cards} kartu ditandatangani.",
                          "Batch #{id} is verified; {cards} cards are signed."),
    "batch_moved_ok": ("Berkas #{id}: {state}.", "Batch #{id}: {state}."),
    "batch_submitted_ok": ("Berkas #{id} diajukan: {children} anak menunggu verifikasi, {refused} baris ditolak.",
                           "Batch #{id} is submitted: {children} children wait for verification, {refused} rows "
                           "refused."),
    "batch_file_again": ("Berkas ini sudah diajukan sebagai berkas #{id}.", "This file was already submitted as "
                         "batch #{id}."),
    "batch_not_verified": ("Berkas ini belum diverifikasi; kartunya dibuat saat verifikasi.",
                           "This batch is not verified yet; its cards are made on verification."),
    "batch_no_cards": ("Berkas ini belum memuat kartu.", "This batch holds no card yet."),
    "batch_wrong_step": ("Berkas #{id} berstatus {state}; langkah itu tidak bisa sekarang.",
                         "Batch #{id} is {state}; that step cannot be taken now."),
    "batch_printing_missing": ("Pencetakan PDF belum tersedia di layanan ini.",
                               "PDF printing is not available on this service yet."),
    "batch_field_birth_date": ("tanggal lahir", "birth date"),
    "batch_field_region": ("wilayah", "region"),
    "batch_field_name": ("nama", "name"),
    "batch_field_nik": ("NIK", "NIK"),
    "batch_field_school": ("sekolah", "school"),
    "batch_field_external_id": ("no. induk", "pupil no."),
    "batch_field_file": ("berkas", "file"),
    "batch_lines_total": ("{count} anak", "{count} children"),
    "batch_channel_school": ("Sekolah", "School"),
    "batch_channel_clinic": ("Klinik", "Clinic"),
    "batch_channel_counter": ("Loket", "Counter"),
    "batch_channel_import": ("Impor", "Import"),
    "batch_open": ("Buka", "Open"),
    "batch_all": ("Semua berkas", "All batches"),
}
TEXT.update({f"batch_err_{code}": words for code, words in ROW_ERRORS.items()})
TEXT.update({f"batch_err_{code}": words for code, words in FILE_ERRORS.items()})
