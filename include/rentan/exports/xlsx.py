"""Spreadsheets written for people: village operators, BPJS TK branch staff.

Three rules hold for everything written here:

- identifiers stay text. NIK, KPJ and area codes go through ``write_string`` in a ``@`` (Text)
  formatted column, so Excel never turns a 16-digit NIK into 1.60401E+15 when the file is opened,
  edited and sent back to us;
- no cell can run as a formula. Text taken from received files (a sender can type anything) that
  starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``, following the
  OWASP guidance on CSV/formula injection, because the file may later be saved as csv or pasted
  into another workbook, where the text would be evaluated;
- the same input gives the same bytes: the document's created time is passed in (never the clock)
  and the zip entries carry xlsxwriter's fixed timestamp, so an unchanged export does not look
  changed to whoever syncs or checksums the folder.

Every sheet is also set up to print: A4 landscape, scaled to one page wide (as many pages down as
it takes), the header row repeated on each page (Excel's print titles), gridlines printed, the
sheet's title in the page header and "Halaman n dari m" in the footer. Long text wraps inside a
column of bounded width, and headers wrap too, so a column is as wide as its data, not its name.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

# Characters that make a spreadsheet treat a cell's text as a formula (OWASP: CSV injection).
INJECTION_START = "=+-@\t\r"

DATE_FORMAT = "dd-mm-yyyy"
# a numeric column whose header ends so holds rupiah: shown with thousands separators
MONEY_SUFFIX = "(RP)"
# a text column wider than this wraps: the widest a column may be and still leave room on a
# landscape page for the others
MAX_COLUMN_WIDTH = 36
MIN_COLUMN_WIDTH = 5
DATE_COLUMN_WIDTH = 11
PAPER_A4 = 9
# row heights are set from the lines a wrapped cell takes (LibreOffice, and Excel for rows it did
# not lay out itself, keep the default height and let wrapped lines overlap the next row)
LINE_HEIGHT_PT = 15
# glyphs wider than the '0' a column width counts (capitals, bold, a substituted font) and the
# room word wrapping leaves at line ends: how many characters of text one width unit holds
CHARS_PER_WIDTH = {"body": 1 / 1.15, "header": 1 / 1.4}
MARGINS_INCH = {"left": 0.4, "right": 0.4, "top": 0.7, "bottom": 0.6}
EXCEL_MAX_ROWS = 1_048_576
_SHEET_NAME_FORBIDDEN = set("[]:*?/\\")

WORKBOOK_OPTIONS = {
    # everything in memory: no temporary part files, and fixed zip entry timestamps
    "in_memory": True,
    "constant_memory": False,
    # the values decide nothing about a cell's type: the column's dtype does
    "strings_to_numbers": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
}
# a long table goes row by row to a temporary file per sheet, so memory stays flat however long the
# list (its strings are then stored in their cells, not in a shared table); a short one is built in
# memory, which spares the temporary files that cost more than its cells
STREAMED_OPTIONS = {**WORKBOOK_OPTIONS, "in_memory": False, "constant_memory": True}
STREAM_FROM_ROWS = 20_000


def neutralise(values: pd.Series) -> pd.Series:
    """Text with a leading ``'`` where it would otherwise start a formula; missing stays missing.

    Non-text values are turned into their text first: the result is always a string column."""
    return values.astype("string").map(neutralise_text, na_action="ignore").astype("string")


def neutralise_text(value: str) -> str:
    """:func:`neutralise` for one text written outside a table (a title line, a sheet caption)."""
    return "'" + value if value[:1] and value[0] in INJECTION_START else value


def _kind(col: pd.Series) -> str:
    """How a column is written: 'number', 'bool', 'date' or 'text'."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if dtype == np.dtype(object) and pd.api.types.infer_dtype(col, skipna=True) in ("date", "datetime"):
        return "date"
    return "text"


def _check_sheet_name(name: str) -> None:
    if not name or len(name) > 31 or _SHEET_NAME_FORBIDDEN & set(name) or name.startswith("'"):
        raise ValueError(f"{name!r} cannot be an Excel sheet name (1-31 characters, none of []:*?/\\)")


def _width(header: str, longest: int, kind: str) -> float:
    """Characters of width: the data's longest line, or the header's longest word (headers wrap)."""
    if kind == "date":
        longest = DATE_COLUMN_WIDTH
    word = max((len(w) for w in str(header).split()), default=0)
    return float(min(MAX_COLUMN_WIDTH, max(MIN_COLUMN_WIDTH, word + 2, longest + 2)))


def wrapped_lines(text: pd.Series, width: float, kind: str = "body") -> np.ndarray:
    """Lines each text takes wrapped in a column ``width`` wide (an estimate on the safe side:
    a row a little too tall prints, a row too short hides text)."""
    room = max(1.0, (width - 1) * CHARS_PER_WIDTH[kind])
    parts = text.astype("string").fillna("").str.split("\n").explode()
    per_part = np.ceil(parts.str.len().fillna(0).to_numpy(dtype=float) / room).clip(min=1)
    return pd.Series(per_part, index=parts.index).groupby(level=0).sum().reindex(text.index).fillna(1).to_numpy()


def _header_footer_text(text: str) -> str:
    """Text for a page header: Excel reads ``&`` as a control code, so it is doubled."""
    return text.replace("&", "&&")[:200]


def set_up_page(ws, header_row: int | None, caption: str = "") -> None:
    """Print settings of one sheet (see the module's docstring)."""
    ws.set_landscape()
    ws.set_paper(PAPER_A4)
    ws.fit_to_pages(1, 0)  # one page wide, as many pages down as needed
    ws.set_margins(**MARGINS_INCH)
    if header_row is not None:
        ws.repeat_rows(header_row)
    ws.hide_gridlines(0)  # shown on screen and printed
    if caption:
        ws.set_header(f"&L&8{_header_footer_text(caption)}")
    ws.set_footer("&R&8Halaman &P dari &N")


def _cells(col: pd.Series, kind: str) -> list:
    """The column's values as xlsxwriter takes them, None for a blank cell."""
    if kind == "text":
        # neutralise_text per value: pandas' str.match and mask cost more than the cells on a short list
        return [None if v is pd.NA or v == "" else neutralise_text(v) for v in col.astype("string").tolist()]
    if kind == "number":
        return [None if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)) else v
                for v in col.tolist()]
    if kind == "bool":
        return [None if v is None or v is pd.NA else bool(v) for v in col.tolist()]
    days = pd.to_datetime(col, errors="raise")
    return [None if v is None or v is pd.NaT else v.to_pydatetime().replace(tzinfo=None) for v in days.tolist()]


def _line_lengths(cells: list) -> list[list[int]]:
    # measured in plain Python: a fix-list has a few dozen rows, and pandas' per-call cost on a
    # few dozen values is what made the lists slow to write
    return [[len(part) for part in v.split("\n")] if v is not None else [0] for v in cells]


def _lines(lengths: list[list[int]], width: float, kind: str = "body") -> np.ndarray:
    """:func:`wrapped_lines` from each cell's line lengths."""
    room = max(1.0, (width - 1) * CHARS_PER_WIDTH[kind])
    return np.array([sum(max(1, math.ceil(n / room)) for n in parts) for parts in lengths], dtype=float)


def _write_sheet(wb: xlsxwriter.Workbook, name: str, frame: pd.DataFrame, titles: list[str],
                 fmt: dict[str, xlsxwriter.format.Format], widths: dict[str, float] | None = None) -> None:
    _check_sheet_name(name)
    header_row = len(titles) + 1 if titles else 0
    n = len(frame)
    if header_row + 1 + n > EXCEL_MAX_ROWS:
        raise ValueError(f"sheet {name!r}: {n} rows do not fit in one Excel sheet")
    if frame.columns.duplicated().any():
        raise ValueError(f"sheet {name!r} has duplicate column names")

    ws = wb.add_worksheet(name)
    for r, title in enumerate(titles):
        if title:
            ws.write_string(r, 0, neutralise_text(str(title)), fmt["title"] if r == 0 else fmt["subtitle"])

    lines = np.ones(n)
    header_lines = 1.0
    columns = []  # (cells, writer method, format) per column, written row by row below
    for c, column in enumerate(frame.columns):
        written, column_lines, column_header_lines = _set_up_column(ws, c, column, frame[column].reset_index(drop=True),
                                                                    fmt, widths)
        if column_lines is not None:
            lines = np.maximum(lines, column_lines)
        header_lines = max(header_lines, column_header_lines)
        columns.append(written)

    ws.set_row(header_row, LINE_HEIGHT_PT * header_lines)
    for c, column in enumerate(frame.columns):
        ws.write_string(header_row, c, neutralise_text(str(column)), fmt["header"])
    _write_rows(ws, header_row + 1, columns, lines)
    if len(frame.columns):
        ws.freeze_panes(header_row + 1, 0)
        ws.autofilter(header_row, 0, header_row + max(n, 1), len(frame.columns) - 1)
    set_up_page(ws, header_row, " - ".join(t for t in titles[:2] if t))


def _set_up_column(ws, c: int, column, col: pd.Series, fmt: dict[str, xlsxwriter.format.Format],
                   widths: dict[str, float] | None) -> tuple[tuple[list, Any, xlsxwriter.format.Format],
                                                             np.ndarray | None, float]:
    """Set column ``c``'s width and format; return its (cells, writer method, format), the lines
    each of its rows takes where it wraps (None where it does not) and the lines its header takes."""
    kind = _kind(col)
    cells = _cells(col, kind)
    lengths = (_line_lengths(cells) if kind == "text"
               else [[len(v)] for v in col.astype("string").fillna("").tolist()])
    longest = max((max(parts) for parts in lengths), default=0)
    money = kind == "number" and str(column).endswith(MONEY_SUFFIX)
    if money:
        longest += max(longest - 2, 0) // 3  # the thousands separators
    width = (widths or {}).get(str(column)) or _width(str(column), longest, kind)
    wrap = kind == "text" and (longest + 2 > width or any(len(parts) > 1 for parts in lengths))
    lines = _lines(lengths, width) if wrap and len(col) else None
    header_lines = float(_lines([[len(p) for p in str(column).split("\n")]], width, "header")[0])
    number = fmt["money"] if money else fmt["number"]
    cell_fmt = {"text": fmt["wrap"] if wrap else fmt["text"], "date": fmt["date"],
                "number": number, "bool": fmt["number"]}[kind]
    # the column format also applies to cells typed in later, so a NIK added by hand stays text
    ws.set_column(c, c, width, cell_fmt)
    write = {"text": ws.write_string, "number": ws.write_number, "bool": ws.write_boolean,
             "date": ws.write_datetime}[kind]
    return (cells, write, cell_fmt), lines, header_lines


def _write_rows(ws, r0: int, columns: list[tuple[list, Any, xlsxwriter.format.Format]],
                lines: np.ndarray) -> None:
    # row by row, as xlsxwriter's constant-memory mode takes them: a branch's list of a whole
    # province is streamed to disk, not held as a million cells in memory
    tall = lines > 1
    for i in range(len(lines)):
        if tall[i]:
            ws.set_row(r0 + i, LINE_HEIGHT_PT * float(lines[i]))
        for c, (cells, write, cell_fmt) in enumerate(columns):
            v = cells[i]
            if v is not None:
                write(r0 + i, c, v, cell_fmt)


def formats(wb: xlsxwriter.Workbook) -> dict[str, xlsxwriter.format.Format]:
    """The cell formats every workbook for people uses."""
    return {
        "title": wb.add_format({"bold": True, "font_size": 13}),
        "subtitle": wb.add_format({}),
        "header": wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1,
                                 "text_wrap": True, "valign": "top", "num_format": "@"}),
        "text": wb.add_format({"num_format": "@", "valign": "top"}),
        "wrap": wb.add_format({"num_format": "@", "valign": "top", "text_wrap": True}),
        "number": wb.add_format({"valign": "top"}),
        "date": wb.add_format({"num_format": DATE_FORMAT, "valign": "top"}),
        # thousands separated as the reader's locale writes them (1.000.000 in Indonesian)
        "money": wb.add_format({"num_format": "#,##0", "valign": "top"}),
    }


def write_xlsx(path: str | os.PathLike, sheets: dict[str, pd.DataFrame], *, created: dt.datetime,
               title_rows: dict[str, list[str]] | None = None,
               column_widths: dict[str, dict[str, float]] | None = None) -> Path:
    """Write ``sheets`` (sheet name -> table, in order) to ``path``, replacing it atomically.

    Columns of a numeric dtype are written as numbers, datetime columns (or object columns holding
    dates) as dates shown ``dd-mm-yyyy``, booleans as booleans, everything else as neutralised text.
    ``title_rows[sheet]`` lines go above that sheet's table, followed by one blank row;
    ``column_widths[sheet]`` fixes the width of some columns (text longer than that wraps)."""
    path = Path(path)
    titles = title_rows or {}
    unknown = set(titles) - set(sheets)
    if unknown:
        raise ValueError(f"title rows given for sheets that are not written: {sorted(unknown)}")
    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temporary file sits next to the target, so os.replace stays on one filesystem
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx.tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        long = sum(len(frame) for frame in sheets.values()) >= STREAM_FROM_ROWS
        wb = xlsxwriter.Workbook(str(tmp), STREAMED_OPTIONS if long else WORKBOOK_OPTIONS)
        wb.set_properties({"created": created, "author": "", "company": ""})
        fmt = formats(wb)
        for name, frame in sheets.items():
            _write_sheet(wb, name, frame, list(titles.get(name) or []), fmt, (column_widths or {}).get(name))
        wb.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
