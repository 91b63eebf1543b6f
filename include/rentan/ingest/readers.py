"""Read a received spreadsheet as text, cell for cell, without interpreting it.

A NIK typed into Excel as a number has already lost its 16th digit; parsing a file with
type inference would hide that. So every cell is kept as the text it holds, and for xlsx
the columns whose cell was numeric are listed per row, because a numeric NIK cell is itself
evidence of damage that the standardise stage must report to the village.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from python_calamine import CalamineWorkbook

# A header row is the first row, within the first HEADER_SCAN_ROWS, that fills at least
# HEADER_MIN_CELLS cells: title rows above it ("DAFTAR USULAN ...") fill one merged cell.
HEADER_SCAN_ROWS = 20
HEADER_MIN_CELLS = 3
CSV_DELIMITERS = ",;\t|"
SPREADSHEET_SUFFIXES = {".xlsx", ".csv"}


class UnreadableFile(Exception):
    """A received file that cannot be turned into rows, with a reason a sender understands."""

    def __init__(self, code: str, reason: str, alasan: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.alasan = alasan


@dataclass
class Table:
    """The data rows of one received file, every value as text (None for an empty cell)."""

    sheet: str
    header_row: int
    header: list[str]
    row_numbers: list[int]
    columns: list[list[str | None]]  # one list per header column, aligned with row_numbers
    numeric: list[list[bool]] = field(default_factory=list)  # per column, per row; empty for csv

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


def _unique_headers(raw: list[str | None]) -> list[str]:
    """Header texts as given, made unique so each value keeps its own column."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(raw, start=1):
        name = (h or "").strip() or f"KOLOM_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
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


def read_xlsx(path: Path) -> Table:
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet_name = book.sheet_names[0]
        rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises several error types for a damaged zip or xml
        raise UnreadableFile(
            "corrupt_xlsx",
            f"The xlsx file cannot be opened ({type(exc).__name__}: {exc}). "
            "Ask the sender to open it in Excel, save it again and resend it.",
            "Berkas xlsx rusak dan tidak dapat dibuka. Buka kembali di Excel, simpan ulang, lalu kirim lagi.",
        ) from exc

    def filled(v) -> bool:
        return v is not None and not (isinstance(v, str) and v.strip() == "")

    if not any(filled(v) for row in rows for v in row):
        raise UnreadableFile(
            "empty_sheet",
            f"The first sheet ({sheet_name!r}) has no filled cells.",
            f"Lembar pertama ({sheet_name!r}) kosong.",
        )
    h = _find_header(rows, filled)
    data_idx = [i for i in range(h + 1, len(rows)) if any(filled(v) for v in rows[i])]
    if not data_idx:
        raise _no_data()
    # calamine gives rectangular rows; keep every column that holds a header or any value
    width = max(
        [j + 1 for j, v in enumerate(rows[h]) if filled(v)]
        + [max((j + 1 for j, v in enumerate(rows[i]) if filled(v)), default=0) for i in data_idx]
    )
    header = _unique_headers([_cell_text(v) for v in (rows[h] + [None] * width)[:width]])
    columns: list[list[str | None]] = []
    numeric: list[list[bool]] = []
    for j in range(width):
        col = [rows[i][j] if j < len(rows[i]) else None for i in data_idx]
        columns.append([_cell_text(v) for v in col])
        numeric.append([isinstance(v, (int, float)) and not isinstance(v, bool) for v in col])
    return Table(sheet=sheet_name, header_row=h + 1, header=header,
                 row_numbers=[i + 1 for i in data_idx], columns=columns, numeric=numeric)


def decode_text(raw: bytes) -> str:
    """Decode csv bytes: UTF-8 (with or without BOM), else Windows-1252 as Excel on Windows writes."""
    if b"\x00" in raw[:4096]:
        raise UnreadableFile(
            "not_text",
            "The .csv file is not text (it holds binary data). Send the list as .xlsx or a real .csv.",
            "Berkas .csv bukan teks. Kirim daftar dalam format .xlsx atau .csv yang benar.",
        )
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
    sample = "\n".join(text.splitlines()[:HEADER_SCAN_ROWS + 5])
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in CSV_DELIMITERS}
        return max(counts, key=counts.get) if max(counts.values()) else ","


def read_csv(path: Path) -> Table:
    text = decode_text(path.read_bytes())
    if not text.strip():
        raise UnreadableFile("empty_file", "The file holds no text.", "Berkas tidak berisi apa pun.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    start = 1
    for row in reader:
        rows.append(row)
        line_numbers.append(start)  # the line the record starts on, as an editor shows it
        start = reader.line_num + 1

    def filled(v) -> bool:
        return v is not None and v.strip() != ""

    h = _find_header(rows, filled)
    data_idx = [i for i in range(h + 1, len(rows)) if any(filled(v) for v in rows[i])]
    if not data_idx:
        raise _no_data()
    width = max([len(rows[h])] + [max((j + 1 for j, v in enumerate(rows[i]) if filled(v)), default=0) for i in data_idx])
    header = _unique_headers((rows[h] + [None] * width)[:width])
    columns = []
    for j in range(width):
        columns.append([(rows[i][j] or None) if j < len(rows[i]) else None for i in data_idx])
    return Table(sheet="", header_row=line_numbers[h], header=header,
                 row_numbers=[line_numbers[i] for i in data_idx], columns=columns, numeric=[])


def read_table(path: Path) -> Table:
    """Rows of a received file, or UnreadableFile saying why not."""
    suffix = path.suffix.lower()
    if suffix not in SPREADSHEET_SUFFIXES:
        raise UnreadableFile(
            "not_spreadsheet",
            f"Only .xlsx and .csv files are accepted; this file is {suffix or 'without an extension'}.",
            f"Hanya berkas .xlsx dan .csv yang diterima; berkas ini {suffix or 'tanpa ekstensi'}.",
        )
    if path.stat().st_size == 0:
        raise UnreadableFile("empty_file", "The file is empty (0 bytes).", "Berkas kosong (0 byte).")
    return read_xlsx(path) if suffix == ".xlsx" else read_csv(path)
