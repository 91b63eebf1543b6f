"""Every reason a row or a file can be turned back, in English for engineers and in Bahasa
Indonesia for the village operator who must fix it, with what to do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    en: str
    id: str
    action: str  # tindakan: what the sender should do, in Bahasa Indonesia


_R = [
    # NIK
    Reason("nik_missing", "NIK is empty.", "NIK kosong.", "Isi NIK 16 digit sesuai KTP/KK."),
    Reason("nik_numeric_cell", "NIK was stored as a number in Excel, which keeps only 15 digits: the last digit is lost.",
           "NIK tersimpan sebagai angka di Excel sehingga digit terakhir hilang (Excel hanya menyimpan 15 digit).",
           "Ketik ulang NIK dari KTP/KK dengan format sel Teks (atau awali dengan tanda petik ').", ),
    Reason("nik_scientific", "NIK appears in scientific notation (e.g. 1.60401E+15): digits are lost.",
           "NIK tertulis dalam format ilmiah (misalnya 1,60401E+15) sehingga digitnya hilang.",
           "Ketik ulang NIK dari KTP/KK dengan format sel Teks, lalu kirim ulang berkas aslinya."),
    Reason("nik_decimal", "NIK has a decimal part (e.g. ...0001.0): it passed through a number format.",
           "NIK memiliki angka desimal (misalnya ...0001.0) karena pernah diubah menjadi angka.",
           "Ketik ulang NIK dari KTP/KK dengan format sel Teks."),
    Reason("nik_serial_zero", "NIK ends in 0000, which no NIK does: the last digits were lost in a spreadsheet.",
           "Empat digit terakhir NIK 0000, tidak ada NIK seperti itu; digit terakhir hilang di spreadsheet.",
           "Periksa kembali NIK pada KTP/KK dan ketik ulang dengan format sel Teks."),
    Reason("nik_not_digits", "NIK contains characters other than digits.", "NIK berisi huruf atau tanda selain angka.",
           "Periksa NIK pada KTP/KK; NIK hanya berisi 16 angka."),
    Reason("nik_wrong_length", "NIK does not have 16 digits.", "NIK tidak berjumlah 16 digit.",
           "Periksa NIK pada KTP/KK; NIK harus 16 digit."),
    Reason("nik_unknown_region", "The NIK's first four digits are no Indonesian province and regency.",
           "Empat digit pertama NIK bukan kode provinsi dan kabupaten/kota yang ada.",
           "Periksa NIK pada KTP/KK; kemungkinan salah ketik."),
    Reason("nik_bad_birth_date", "The NIK's birth-date digits (7-12) are no calendar date.",
           "Digit tanggal lahir pada NIK (digit ke-7 s.d. 12) bukan tanggal yang benar.",
           "Periksa NIK pada KTP/KK; kemungkinan salah ketik."),
    # dates
    Reason("date_missing", "Birth date is empty.", "Tanggal lahir kosong.", "Isi tanggal lahir, misalnya 17-08-1975."),
    Reason("date_unreadable", "Birth date is not a date in any known form.", "Tanggal lahir tidak dapat dibaca.",
           "Tulis tanggal lahir dengan format HH-BB-TTTT, misalnya 17-08-1975."),
    Reason("date_impossible", "Birth date names a day that does not exist (e.g. 31-02).",
           "Tanggal lahir tidak ada di kalender (misalnya 31-02).", "Periksa tanggal lahir pada KTP/KK."),
    Reason("date_in_future", "Birth date is in the future.", "Tanggal lahir berada di masa depan.",
           "Periksa tanggal lahir pada KTP/KK."),
    # other fields
    Reason("name_missing", "Name is empty.", "Nama kosong.", "Isi nama lengkap sesuai KTP."),
    Reason("name_no_letters", "Name holds no letter: only punctuation, digits, spaces or invisible characters (e.g. '-', '123').",
           "Nama tidak berisi huruf: hanya tanda baca, angka, spasi atau karakter tak terlihat (misalnya '-', '123').",
           "Isi nama lengkap sesuai KTP dengan huruf."),
    Reason("village_missing", "Village (desa/pekon) is empty.", "Nama desa/pekon kosong.", "Isi nama desa/pekon."),
    Reason("village_unknown", "Village is not an official village of this regency.",
           "Nama desa/pekon tidak ditemukan dalam daftar resmi desa di kabupaten ini.",
           "Tulis nama desa/pekon sesuai daftar resmi Kemendagri (lihat kolom saran)."),
    Reason("kpj_invalid", "KPJ (card number) is not 11 digits.", "Nomor KPJ bukan 11 digit.",
           "Periksa nomor KPJ pada kartu peserta."),
    Reason("segment_unknown", "Membership segment is not PU, BPU, JAKON or PMI.",
           "Segmen kepesertaan bukan PU, BPU, JAKON atau PMI.", "Periksa segmen kepesertaan."),
    Reason("status_unknown", "Membership status is not AKTIF or NON AKTIF.", "Status kepesertaan bukan AKTIF atau NON AKTIF.",
           "Periksa status kepesertaan."),
    Reason("registration_date_invalid", "Registration date is missing or not a date.",
           "Tanggal kepesertaan kosong atau tidak dapat dibaca.", "Periksa tanggal kepesertaan."),
    Reason("date_out_of_range", "Date is outside the possible range: before 1977 (when Jamsostek, now BPJS TK, began) or after the data's snapshot date.",
           "Tanggal di luar rentang yang mungkin: sebelum 1977 (awal Jamsostek, kini BPJS TK) atau setelah tanggal data.",
           "Periksa tahun pada tanggal tersebut; kemungkinan salah ketik (misalnya 2099 atau 1800)."),
    Reason("claim_number_missing", "Claim number is empty.", "Nomor klaim kosong.", "Isi nomor klaim."),
    Reason("claim_type_unknown", "Claim type is not JKK, JKM, BEASISWA, JHT, JP or JKP.",
           "Jenis klaim bukan JKK, JKM, BEASISWA, JHT, JP atau JKP.", "Periksa jenis klaim."),
    Reason("claim_date_invalid", "Incident or payment date is missing or not a date.",
           "Tanggal kejadian atau tanggal bayar kosong atau tidak dapat dibaca.", "Periksa tanggal klaim."),
    Reason("paid_before_incident", "Claim payment date is before its incident date.",
           "Tanggal bayar klaim lebih awal dari tanggal kejadian.", "Periksa tanggal kejadian dan tanggal bayar klaim."),
    Reason("amount_invalid", "Amount is missing or not a number.", "Nominal kosong atau bukan angka.",
           "Tulis nominal dalam rupiah tanpa desimal."),
    Reason("amount_negative", "Amount is negative.", "Nominal bernilai negatif.",
           "Tulis nominal dalam rupiah tanpa tanda minus."),
    Reason("amount_out_of_range", "Amount is beyond any real one: more than 15 digits, infinite, or above the field's limit (a single claim at most Rp 5,000,000,000).",
           "Nominal melebihi nilai yang mungkin: lebih dari 15 digit, tak hingga, atau di atas batas kolom (satu klaim paling banyak Rp 5.000.000.000).",
           "Periksa nominal; kemungkinan ada angka nol berlebih atau sel berformat ilmiah (misalnya 1E+30)."),
    Reason("budget_year_invalid", "Fiscal year is missing or not a year.", "Tahun anggaran kosong atau tidak valid.",
           "Isi tahun anggaran, misalnya 2025."),
    Reason("sex_mismatch", "Sex (L/P) differs from the sex the NIK encodes (day + 40 for women).",
           "Jenis kelamin (L/P) berbeda dengan yang tercantum dalam NIK.", "Periksa jenis kelamin dan NIK pada KTP/KK."),
    # file level
    Reason("missing_column", "A required column is missing from the file.", "Kolom wajib tidak ada dalam berkas.",
           "Tambahkan kolom yang diminta dengan judul kolom sesuai format, lalu kirim ulang berkas."),
    Reason("too_many_invalid", "Too many rows of this file are invalid: the file looks misaligned or of the wrong kind.",
           "Terlalu banyak baris tidak valid dalam berkas ini; kemungkinan kolom tergeser atau salah berkas.",
           "Periksa urutan dan judul kolom, lalu kirim ulang berkas."),
    # identity and eligibility: why a proposal is not on a branch's enrolment list
    Reason("duplicate_within_village", "The same person is proposed twice by this village.",
           "Orang yang sama diusulkan dua kali oleh desa ini.", "Hapus baris ganda dari usulan."),
    Reason("duplicate_across_villages", "The same person is also proposed by another village of the regency, which keeps them.",
           "Orang yang sama juga diusulkan oleh desa lain di kabupaten ini, dan tetap didaftarkan oleh desa itu.",
           "Koordinasikan dengan desa yang disebut; satu orang hanya dibiayai satu desa."),
    Reason("duplicate_across_regencies", "The same person is also proposed in another regency, which keeps them.",
           "Orang yang sama juga diusulkan di kabupaten lain, dan tetap didaftarkan di sana.",
           "Pastikan domisili pekerja; satu orang hanya dibiayai satu kali."),
    Reason("active_pu", "Already an active BPJS TK member through an employer (PU).",
           "Sudah menjadi peserta aktif BPJS Ketenagakerjaan melalui pemberi kerja (PU).",
           "Tidak perlu didaftarkan; usulkan pekerja rentan lain."),
    Reason("double_funding", "Already an active BPU member paid by another payer: funding them again would pay twice.",
           "Sudah menjadi peserta BPU aktif yang dibayar pihak lain; membiayai lagi berarti dobel.",
           "Tidak perlu didaftarkan; usulkan pekerja rentan lain."),
    Reason("double_funding_budget", "The same person is also proposed by another village under another budget (SUMBER DANA): funding both would pay twice.",
           "Orang yang sama juga diusulkan desa lain dengan sumber dana lain (SUMBER DANA); membiayai keduanya berarti dobel.",
           "Koordinasikan dengan desa yang disebut; satu orang hanya dibiayai dari satu anggaran."),
    Reason("payer_unknown", "An active BPU member whose payer the BPJS TK extract does not let us name: a reviewer must check who pays before enrolling.",
           "Peserta BPU aktif yang pembayarnya tidak dapat dikenali dari data BPJS TK; petugas harus memeriksa siapa yang membayar.",
           "Tunggu verifikasi petugas; jangan didaftarkan sebelum pembayarnya jelas."),
    Reason("bpu_paid_by_this_village", "Already an active BPU member paid by this village: a renewal, not a new enrolment.",
           "Sudah menjadi peserta BPU aktif yang dibayar desa ini; cukup diperpanjang.",
           "Lanjutkan pembayaran iuran; tidak perlu pendaftaran baru."),
    Reason("not_a_desa", "The village named is a kelurahan, which has no village fund (ADD) to pay contributions from.",
           "Wilayah yang disebut adalah kelurahan, yang tidak memiliki Alokasi Dana Desa untuk membayar iuran.",
           "Periksa nama desa; pekerja di kelurahan tidak dibiayai dari ADD."),
    Reason("age_limit", "At or over the programme's age limit on the snapshot date.",
           "Usia sudah mencapai atau melewati batas usia program pada tanggal data.",
           "Tidak dapat didaftarkan; usulkan pekerja rentan lain."),
    Reason("possible_same_person", "May be the same person as another record (near-identical name and birth date, NIK differs slightly): a reviewer must decide.",
           "Mungkin orang yang sama dengan data lain (nama dan tanggal lahir hampir sama, NIK sedikit berbeda); menunggu verifikasi petugas.",
           "Periksa NIK pada KTP/KK; petugas akan memutuskan."),
    Reason("over_quota", "Eligible, but past the village's quota in the order received.",
           "Memenuhi syarat, tetapi melebihi kuota desa menurut urutan penerimaan.",
           "Dapat diusulkan kembali bila ada kuota kosong."),
    Reason("batch_blocked", "The whole file was held back because it breached a file-level rule.",
           "Seluruh isi berkas ditahan karena berkas melanggar aturan tingkat berkas.",
           "Lihat alasan berkas, perbaiki, lalu kirim ulang berkas."),
]

REASONS: dict[str, Reason] = {r.code: r for r in _R}


def reason(code: str) -> Reason:
    try:
        return REASONS[code]
    except KeyError:
        raise KeyError(f"reason code {code!r} has no wording in rentan.quality.reasons") from None
