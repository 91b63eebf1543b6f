"""Spreadsheets and csv text written for people: village operators, BPJS TK branch staff.

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
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from pathlib import Path

import pandas as pd
import xlsxwriter

# Characters that make a spreadsheet treat a cell's text as a formula (OWASP: CSV injection).
INJECTION_START = "=+-@\t\r"
_INJECTION_PATTERN = r"^[=+\-@\t\r]"

DATE_FORMAT = "dd-mm-yyyy"
MAX_COLUMN_WIDTH = 60
MIN_COLUMN_WIDTH = 6
DATE_COLUMN_WIDTH = 12
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


def neutralise(values: pd.Series) -> pd.Series:
    """Text with a leading ``'`` where it would otherwise start a formula; missing stays missing.

    Non-text values are turned into their text first: the result is always a string column."""
    text = values.astype("string")
    risky = text.str.match(_INJECTION_PATTERN).fillna(False).astype(bool)
    return text.mask(risky, "'" + text)


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
    if dtype == object and pd.api.types.infer_dtype(col, skipna=True) in ("date", "datetime"):
        return "date"
    return "text"


def _check_sheet_name(name: str) -> None:
    if not name or len(name) > 31 or _SHEET_NAME_FORBIDDEN & set(name) or name.startswith("'"):
        raise ValueError(f"{name!r} cannot be an Excel sheet name (1-31 characters, none of []:*?/\\)")


def _longest_line(shown: pd.Series | None) -> int:
    if shown is None or shown.empty:
        return 0
    # a cell with line breaks is as wide as its longest line
    lengths = shown.str.split("\n").explode().str.len()
    return int(lengths.fillna(0).max())


def _width(header: str, longest: int, kind: str) -> float:
    if kind == "date":
        longest = DATE_COLUMN_WIDTH
    return float(min(MAX_COLUMN_WIDTH, max(MIN_COLUMN_WIDTH, len(str(header)) + 2, longest + 2)))


def _write_sheet(wb: xlsxwriter.Workbook, name: str, frame: pd.DataFrame, titles: list[str],
                 fmt: dict[str, xlsxwriter.format.Format]) -> None:
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

    for c, column in enumerate(frame.columns):
        col = frame[column].reset_index(drop=True)
        kind = _kind(col)
        shown = neutralise(col) if kind == "text" else None
        longest = _longest_line(shown if kind == "text" else col.astype("string"))
        wrap = kind == "text" and (longest + 2 > MAX_COLUMN_WIDTH or bool(shown.str.contains("\n").any()))
        width = _width(str(column), longest, kind)
        cell_fmt = {"text": fmt["wrap"] if wrap else fmt["text"], "date": fmt["date"],
                    "number": fmt["number"], "bool": fmt["number"]}[kind]
        # the column format also applies to cells typed in later, so a NIK added by hand stays text
        ws.set_column(c, c, width, cell_fmt)
        ws.write_string(header_row, c, neutralise_text(str(column)), fmt["header"])

        # xlsxwriter takes one cell per call; what each cell becomes was decided above, per column
        r0 = header_row + 1
        if kind == "text":
            for i, v in enumerate(shown.tolist()):
                if v is pd.NA or v == "":
                    continue
                ws.write_string(r0 + i, c, v, cell_fmt)
        elif kind == "number":
            for i, v in enumerate(col.tolist()):
                if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
                    continue
                ws.write_number(r0 + i, c, v, cell_fmt)
        elif kind == "bool":
            for i, v in enumerate(col.tolist()):
                if v is None or v is pd.NA:
                    continue
                ws.write_boolean(r0 + i, c, bool(v), cell_fmt)
        else:
            days = pd.to_datetime(col, errors="raise")
            for i, v in enumerate(days.tolist()):
                if v is None or v is pd.NaT:
                    continue
                ws.write_datetime(r0 + i, c, v.to_pydatetime().replace(tzinfo=None), cell_fmt)

    if len(frame.columns):
        ws.freeze_panes(header_row + 1, 0)
        ws.autofilter(header_row, 0, header_row + max(n, 1), len(frame.columns) - 1)


def write_xlsx(path: str | os.PathLike, sheets: dict[str, pd.DataFrame], *, created: dt.datetime,
               title_rows: dict[str, list[str]] | None = None) -> Path:
    """Write ``sheets`` (sheet name -> table, in order) to ``path``, replacing it atomically.

    Columns of a numeric dtype are written as numbers, datetime columns (or object columns holding
    dates) as dates shown ``dd-mm-yyyy``, booleans as booleans, everything else as neutralised text.
    ``title_rows[sheet]`` lines go above that sheet's table, followed by one blank row."""
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
        wb = xlsxwriter.Workbook(str(tmp), WORKBOOK_OPTIONS)
        wb.set_properties({"created": created, "author": "", "company": ""})
        fmt = {
            "title": wb.add_format({"bold": True, "font_size": 13}),
            "subtitle": wb.add_format({}),
            "header": wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1,
                                     "text_wrap": True, "valign": "top", "num_format": "@"}),
            "text": wb.add_format({"num_format": "@", "valign": "top"}),
            "wrap": wb.add_format({"num_format": "@", "valign": "top", "text_wrap": True}),
            "number": wb.add_format({"valign": "top"}),
            "date": wb.add_format({"num_format": DATE_FORMAT, "valign": "top"}),
        }
        for name, frame in sheets.items():
            _write_sheet(wb, name, frame, list(titles.get(name) or []), fmt)
        wb.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
