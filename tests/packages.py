"""Reading a branch package's workbooks the way a branch's own tooling would: openpyxl, the header
row found below the title lines, every cell as stored (a NIK is text, a date a date)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd


def sheet_rows(path: Path, sheet: str | None = None) -> tuple[list[str], list[tuple]]:
    """(header, data rows) of one sheet (the first if not named): the header is the first row with
    three or more filled cells, as the landing zone's contract says of received files."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = [tuple(c for c in r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    at = next(i for i, r in enumerate(rows) if sum(v is not None for v in r) >= 3)
    header = [str(v) for v in rows[at] if v is not None]
    return header, [r[:len(header)] for r in rows[at + 1:] if any(v is not None for v in r)]


def sheet_frame(path: Path, sheet: str | None = None) -> pd.DataFrame:
    header, data = sheet_rows(path, sheet)
    return pd.DataFrame(data, columns=header)
