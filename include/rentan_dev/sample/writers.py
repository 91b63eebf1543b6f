"""Spreadsheet and csv writers that know where every data row lands.

Row numbers are fixed before writing, from the layout (title rows, blank spacer rows), so that ground
truth and duplicate references can name a row without reading the file back. Both writers are
byte-deterministic: xlsxwriter stamps the zip entries with the document's ``created`` time, and the
csv text is built in memory and written in one go.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xlsxwriter

# Large sheets go through xlsxwriter's row-streaming mode to keep memory flat; the others are built in
# memory, which spares the temporary files xlsxwriter otherwise makes per part.
STREAMING_ROWS = 100_000


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@dataclass(frozen=True)
class Layout:
    """Rows above the table (a text, or None for a blank spacer row) and an optional blank row
    inside the data, inserted before data row ``blank_before`` (0-based)."""

    title_rows: tuple[str | None, ...] = ()
    blank_before: int | None = None

    @property
    def header_row(self) -> int:
        return len(self.title_rows) + 1

    def data_row_numbers(self, n: int) -> np.ndarray:
        numbers = self.header_row + 1 + np.arange(n, dtype=np.int64)
        if self.blank_before is not None and 0 < self.blank_before < n:
            numbers[self.blank_before:] += 1
        return numbers


@dataclass
class Sheet:
    name: str
    header: list[str]
    columns: list[np.ndarray]  # object arrays: str, int, float, datetime.date or None per cell
    layout: Layout = field(default_factory=Layout)
    number_formats: dict[int, str] = field(default_factory=dict)  # column index -> Excel number format
    date_format: str = "dd/mm/yyyy"


def write_xlsx(path: Path, sheets: list[Sheet], created: dt.datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    streaming = max(len(s.columns[0]) if s.columns else 0 for s in sheets) > STREAMING_ROWS
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True} if streaming else {"in_memory": True})
    wb.set_properties({"created": created, "author": "", "company": ""})
    for sheet in sheets:
        ws = wb.add_worksheet(sheet.name)
        date_fmt = wb.add_format({"num_format": sheet.date_format})
        num_fmts = {c: wb.add_format({"num_format": f}) for c, f in sheet.number_formats.items()}
        r = 0
        for title in sheet.layout.title_rows:
            if title:
                ws.write_string(r, 0, title)
            r += 1
        ws.write_row(r, 0, sheet.header)
        r += 1
        n = len(sheet.columns[0]) if sheet.columns else 0
        blank = sheet.layout.blank_before
        rows = zip(*[c.tolist() for c in sheet.columns])
        for i, row in enumerate(rows):
            if blank is not None and i == blank and 0 < blank < n:
                r += 1
            for c, v in enumerate(row):
                if v is None:
                    continue
                t = type(v)
                if t is str:
                    if v:
                        ws.write_string(r, c, v)
                elif t is int or t is float:
                    fmt = num_fmts.get(c)
                    if fmt is None:
                        ws.write_number(r, c, v)
                    else:
                        ws.write_number(r, c, v, fmt)
                elif t is dt.date or t is dt.datetime:
                    ws.write_datetime(r, c, v, date_fmt)
                else:
                    raise TypeError(f"cell of type {t.__name__} in column {c}")
            r += 1
    wb.close()


def csv_bytes(header: list[str], columns: list[np.ndarray], layout: Layout, *, sep: str, encoding: str,
              bom: bool = False, newline: str = "\n") -> bytes:
    """The file's bytes: title rows padded with separators, as spreadsheet programs save them.
    Cells are str, int or None (written empty)."""
    if layout.blank_before is not None:
        # spacer rows stay out of csv files: a line of bare separators reads differently across tools
        raise ValueError("blank data rows are only written to xlsx files")
    buf = io.StringIO()
    out = csv.writer(buf, delimiter=sep, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    out.writerows([(t or "",) + ("",) * (len(header) - 1) for t in layout.title_rows])
    out.writerow(header)
    out.writerows(zip(*[c.tolist() for c in columns]))
    data = buf.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
