"""Read a received spreadsheet as text, cell for cell, without interpreting it.

A NIK typed into Excel as a number has already lost its 16th digit; parsing a file with
type inference would hide that. So every cell is kept as the text it holds, and for xlsx
the columns whose cell was numeric are listed per row, because a numeric NIK cell is itself
evidence of damage that the standardise stage must report to the village.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from python_calamine import CalamineWorkbook, PasswordError

from rentan.ingest.errors import UnreadableFile
from rentan.ingest.limits import corrupt, plan_xlsx

# A header row is the first row, within the first HEADER_SCAN_ROWS, that fills at least
# HEADER_MIN_CELLS cells: title rows above it ("DAFTAR USULAN ...") fill one merged cell.
HEADER_SCAN_ROWS = 20
HEADER_MIN_CELLS = 3
CSV_DELIMITERS = ",;\t|"
SPREADSHEET_SUFFIXES = {".xlsx", ".csv"}


@dataclass
class Table:
    """The data rows of one received file, every value as text (None for an empty cell)."""

    sheet: str
    header_row: int
    header: list[str]
    row_numbers: list[int]
    columns: list[list[str | None]]  # one list per header column, aligned with row_numbers
    numeric: list[list[bool]] = field(default_factory=list)  # per column, per row; empty for csv
    warnings: list[str] = field(default_factory=list)  # what the sender should hear although it loaded

    @property
    def n_rows(self) -> int:
        return len(self.row_numbers)


def _cell_text(value) -> str | None:
    """Text of one xlsx cell as the sender typed or Excel stored it."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e17:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if (value.hour, value.minute, value.second) != (0, 0, 0) else value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _unique_headers(raw: list[str | None], warnings: list[str] | None = None) -> list[str]:
    """Header texts as given, made unique so each value keeps its own column: a repeated name gets
    the first free suffix (NO HP, NO HP, NO HP_2 become NO HP, NO HP_3, NO HP_2), with a warning."""
    names = [(h or "").strip() or f"KOLOM_{i}" for i, h in enumerate(raw, start=1)]
    taken = set(names)
    seen: set[str] = set()
    out = []
    for name in names:
        if name in seen:
            k = 2
            while f"{name}_{k}" in taken:
                k += 1
            new = f"{name}_{k}"
            taken.add(new)
            if warnings is not None:
                warnings.append(f"the header {name!r} appears more than once; a later column is read as {new!r}")
            name = new
        seen.add(name)
        out.append(name)
    return out


def _find_header(rows: list[list], is_filled) -> int:
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if sum(1 for v in row if is_filled(v)) >= HEADER_MIN_CELLS:
            return i
    raise UnreadableFile(
        "no_header",
        f"No header row found in the first {HEADER_SCAN_ROWS} rows "
        f"(a header row has at least {HEADER_MIN_CELLS} filled cells).",
        f"Baris judul kolom tidak ditemukan pada {HEADER_SCAN_ROWS} baris pertama "
        f"(baris judul kolom berisi paling sedikit {HEADER_MIN_CELLS} sel).",
    )


def _no_data() -> UnreadableFile:
    return UnreadableFile(
        "no_data_rows",
        "The file has a header row but no data rows below it.",
        "Berkas hanya berisi judul kolom, tidak ada baris data di bawahnya.",
    )


_LONG_DIGITS = re.compile(r"\d{4,}")


def _header_rows(rows: list[list], h: int, text, filled, warnings: list[str]) -> tuple[list, int]:
    """The header's cells and the index of the last header row.

    Two patterns of government forms are read as the sender means them: a second header row under
    merged cells (IDENTITAS over NIK | NO KK), whose names replace the group's, and a row that only
    numbers the columns (1, 2, 3, ...)."""
    head = list(rows[h])
    if h + 1 >= len(rows):
        return head, h
    nxt = rows[h + 1]
    top = {j for j, v in enumerate(head) if filled(v)}
    sub = {j for j, v in enumerate(nxt) if filled(v)}
    if not sub:
        return head, h
    values = [text(nxt[j]) or "" for j in sorted(sub)]
    numbering = [v.strip() for v in values] == [str(k) for k in range(1, len(values) + 1)]
    # only with rows below it: a lone "1, 2, 3" row is data, however odd
    if numbering and len(values) >= HEADER_MIN_CELLS and any(filled(v) for r in rows[h + 2:] for v in r):
        warnings.append(f"row {h + 2} only numbers the columns (1, 2, 3, ...) and was not read as data")
        return head, h + 1
    looks_like_names = all(any(ch.isalpha() for ch in v) and not _LONG_DIGITS.search(v) for v in values)
    under_merge = bool(sub - top) and bool(top - sub)
    if looks_like_names and under_merge:
        merged = [nxt[j] if j in sub else (head[j] if j < len(head) else None)
                  for j in range(max(len(head), len(nxt)))]
        warnings.append(f"rows {h + 1} and {h + 2} were read together as one header (a merged header row)")
        return merged, h + 1
    return head, h


def read_xlsx(path: Path) -> Table:
    plan = plan_xlsx(path)  # refuses a workbook too large to read, and picks the first visible sheet
    warnings = list(plan.warnings)
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet_name = plan.name
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except PasswordError as exc:
        raise UnreadableFile("xlsx_encrypted", "The workbook is password-protected; remove the password in "
                             "Excel (File > Info > Protect Workbook), save it and resend it.",
                             "Berkas dilindungi kata sandi; hapus kata sandinya di Excel, simpan, lalu kirim lagi."
                             ) from exc
    except Exception as exc:  # calamine raises several error types for a damaged zip or xml
        raise corrupt(f"{type(exc).__name__}") from exc

    if len(rows) < plan.last_value_row:
        # row conservation for a workbook: the sheet's own XML says how far its values go
        raise UnreadableFile(
            "xlsx_rows_lost",
            f"The sheet {sheet_name!r} holds values down to row {plan.last_value_row:,}, but only "
            f"{len(rows):,} rows could be read from it; the file is held back so no row is lost. Open it "
            "in Excel, save it again and resend it.",
            f"Lembar {sheet_name!r} berisi data sampai baris {plan.last_value_row:,}, tetapi hanya "
            f"{len(rows):,} baris yang terbaca; berkas ditahan agar tidak ada baris yang hilang. Buka di Excel, "
            "simpan ulang, lalu kirim lagi.",
        )

    def filled(v) -> bool:
        return v is not None and not (isinstance(v, str) and v.strip() == "")

    if not any(filled(v) for row in rows for v in row):
        raise UnreadableFile(
            "empty_sheet",
            f"The first visible sheet ({sheet_name!r}) has no filled cells.",
            f"Lembar pertama yang tampil ({sheet_name!r}) kosong.",
        )
    h = _find_header(rows, filled)
    head, last = _header_rows(rows, h, _cell_text, filled, warnings)
    data_idx = [i for i in range(last + 1, len(rows)) if any(filled(v) for v in rows[i])]
    if not data_idx:
        raise _no_data()
    # calamine gives rectangular rows; keep every column that holds a header or any value
    width = max(
        [j + 1 for j, v in enumerate(head) if filled(v)]
        + [max((j + 1 for j, v in enumerate(rows[i]) if filled(v)), default=0) for i in data_idx]
    )
    header = _unique_headers([_cell_text(v) for v in (head + [None] * width)[:width]], warnings)
    columns: list[list[str | None]] = []
    numeric: list[list[bool]] = []
    for j in range(width):
        col = [rows[i][j] if j < len(rows[i]) else None for i in data_idx]
        columns.append([_cell_text(v) for v in col])
        numeric.append([isinstance(v, (int, float)) and not isinstance(v, bool) for v in col])
    return Table(sheet=sheet_name, header_row=h + 1, header=header,
                 row_numbers=[i + 1 for i in data_idx], columns=columns, numeric=numeric, warnings=warnings)


def _not_text() -> UnreadableFile:
    return UnreadableFile(
        "not_text",
        "The .csv file is not text (it holds binary data). Send the list as .xlsx or a real .csv.",
        "Berkas .csv bukan teks. Kirim daftar dalam format .xlsx atau .csv yang benar.",
    )


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when every other byte of the text is zero, as in Excel's
    "Unicode Text" saved without its byte order mark."""
    head = head[: len(head) // 2 * 2]
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "utf-16-be"
    return None


def decode_text(raw: bytes) -> str:
    """Decode csv bytes: UTF-16 (Excel's "Unicode Text", with or without its byte order mark),
    UTF-8 (with or without BOM), else Windows-1252 as Excel on Windows writes."""
    encoding: str | None = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else _utf16_without_bom(raw[:4096])
    if encoding:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            raise _not_text() from None
        if "\x00" in text:
            raise _not_text()
        return text
    if b"\x00" in raw:
        raise _not_text()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, so nothing is lost
        return raw.decode("latin-1")


def _delimiter(text: str) -> str:
    sample = "\n".join(text[:1 << 16].splitlines()[:HEADER_SCAN_ROWS + 5])
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in CSV_DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","


# a cell of a list or an extract is a name, an address, a note: 100,000 characters is no cell
MAX_FIELD_CHARS = 100_000
csv.field_size_limit(1 << 24)  # read it whole, then say how long it is


def _malformed(line: int, what: str, apa: str) -> UnreadableFile:
    return UnreadableFile("csv_malformed", f"Line {line}: {what}. Fix that line and resend the file.",
                          f"Baris {line}: {apa}. Perbaiki baris itu lalu kirim lagi.")


def read_csv(path: Path) -> Table:
    text = decode_text(path.read_bytes())
    if not text.strip():
        raise UnreadableFile("empty_file", "The file holds no text.", "Berkas tidak berisi apa pun.")
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    start = 1
    try:
        for row in reader:
            rows.append(row)
            line_numbers.append(start)  # the line the record starts on, as an editor shows it
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _malformed(start, f"the line cannot be read as csv ({exc})",
                         "baris tidak dapat dibaca sebagai csv") from exc

    def filled(v) -> bool:
        return v is not None and v.strip() != ""

    warnings: list[str] = []
    h = _find_header(rows, filled)
    head, last = _header_rows(rows, h, lambda v: v, filled, warnings)
    data_idx = [i for i in range(last + 1, len(rows)) if any(filled(v) for v in rows[i])]
    if not data_idx:
        raise _no_data()
    width = max([len(head)] + [max((j + 1 for j, v in enumerate(rows[i]) if filled(v)), default=0) for i in data_idx])
    # only records that span lines, or a file long enough to hold an overlong cell, need a look
    ends = [*line_numbers[1:], reader.line_num + 1]
    suspects = [i for i in data_idx if ends[i] - line_numbers[i] > 1 or len(text) > MAX_FIELD_CHARS]
    _check_records(rows, line_numbers, suspects, delimiter, len([v for v in head if filled(v)]))
    header = _unique_headers((head + [None] * width)[:width], warnings)
    columns = [[(rows[i][j] or None) if j < len(rows[i]) else None for i in data_idx] for j in range(width)]
    return Table(sheet="", header_row=line_numbers[h], header=header,
                 row_numbers=[line_numbers[i] for i in data_idx], columns=columns, numeric=[], warnings=warnings)


def _check_records(rows, line_numbers, suspects, delimiter: str, header_cells: int) -> None:
    """Row conservation against the file itself: a record the parser made of several physical
    lines must be one cell with line breaks, not lines swallowed by a quote left open. A cell that
    spans lines and holds, on one of them, as many separators as a whole record, is such a quote."""
    need = max(HEADER_MIN_CELLS, header_cells) - 1
    for i in suspects:
        for j, v in enumerate(rows[i]):
            if len(v) > MAX_FIELD_CHARS:
                raise _malformed(line_numbers[i], f"column {j + 1} holds {len(v):,} characters, more than any "
                                 f"cell of a list ({MAX_FIELD_CHARS:,})",
                                 f"kolom {j + 1} berisi {len(v):,} karakter, terlalu panjang")
            if "\n" in v or "\r" in v:
                inner = v.splitlines()
                if len(inner) > 1 and any(line.count(delimiter) >= need for line in inner[1:]):
                    end = (i + 1 < len(line_numbers) and line_numbers[i + 1] - 1) or None
                    span = f"lines {line_numbers[i]} to {end}" if end else f"line {line_numbers[i]} to the end"
                    raise UnreadableFile(
                        "csv_rows_swallowed",
                        f"Line {line_numbers[i]}: a quote (\") in column {j + 1} is opened and not closed, so "
                        f"{span} were read as one cell and their rows would be lost. Remove the stray quote or "
                        "close it, and resend the file.",
                        f"Baris {line_numbers[i]}: tanda kutip (\") di kolom {j + 1} tidak ditutup, sehingga "
                        f"baris-baris berikutnya terbaca sebagai satu sel. Hapus atau tutup tanda kutip itu, "
                        "lalu kirim lagi.")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_table(path: Path) -> Table:
    """Rows of a received file, or UnreadableFile saying why not."""
    suffix = path.suffix.lower()
    if suffix not in SPREADSHEET_SUFFIXES:
        raise UnreadableFile(
            "not_spreadsheet",
            f"Only .xlsx and .csv files are accepted; this file is {suffix or 'without an extension'}.",
            f"Hanya berkas .xlsx dan .csv yang diterima; berkas ini {suffix or 'tanpa ekstensi'}.",
        )
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile("not_regular_file", "This is not a regular file (a pipe, a device or a folder); "
                             "only files are read.", "Ini bukan berkas biasa; hanya berkas yang dibaca.")
    if st.st_size == 0:
        raise UnreadableFile("empty_file", "The file is empty (0 bytes).", "Berkas kosong (0 byte).")
    return read_xlsx(path) if suffix == ".xlsx" else read_csv(path)
