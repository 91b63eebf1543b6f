"""What a received file may cost to read, checked before any reader allocates for it.

An xlsx is a zip of XML parts. A sheet's declared dimension (``<dimension ref="A1:XFD1048576">``)
and the positions of its cells decide how much a reader allocates: a 1.7 KB file whose single
cell sits at XFD1048576 asks for 17 billion cells. So the workbook's parts are looked at first,
with the standard library alone (no cell is decoded): sizes, the sheets and whether they are
hidden, the chosen sheet's used range. A file over a limit is refused with a reason; the reader
process's memory and time budget (``rentan.ingest.guard``) catches whatever this misses.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree as ET

from rentan.ingest.errors import UnreadableFile

# A village list has hundreds of rows and a branch extract some hundred thousand, a few dozen
# columns each: 20 million cells is ten times the largest extract seen, and what one reader
# holds as Python objects within its memory budget.
MAX_CELLS = 20_000_000
MAX_COLUMNS = 500
MAX_UNCOMPRESSED = 1 << 30  # 1 GiB of XML across the workbook
MAX_RATIO = 200  # XML compresses 10-30 times; hundreds of times is a zip bomb
MAX_FILE_BYTES = 512 << 20

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted xlsx or a legacy .xls
ZIP_MAGIC = b"PK"

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
_REL_ID = "{" + _NS["r"] + "}id"
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([^"]*)"')
# a cell's reference attribute, whatever attributes come before it
_CELL_REF = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="([0-9]{1,7})"')
_ROW_TAG = re.compile(rb'<(?:\w+:)?row[\s>/]')
_VALUE_END = (b"</v>", b"</is>", b":v>", b":is>")  # a cell's value or inline string, with or without a prefix
_CELL_COLUMNS = [re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{%d})[0-9]' % n) for n in (3, 2, 1)]


def column_number(letters: str | bytes) -> int:
    if isinstance(letters, bytes):
        letters = letters.decode()
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


@dataclass
class SheetPlan:
    """Which sheet of a workbook to read, how big it is, and what a sender should hear of the rest."""

    name: str
    index: int
    rows: int
    columns: int
    warnings: list[str] = field(default_factory=list)
    last_value_row: int = 0  # the last row that holds a value: what the reader must reach


def _refuse(code: str, reason: str, alasan: str) -> UnreadableFile:
    return UnreadableFile(code, reason, alasan)


def _too_big(what: str) -> UnreadableFile:
    return _refuse(
        "xlsx_too_large",
        f"The workbook is too large to read safely ({what}). Send only the list itself: one sheet, "
        f"its rows and columns, without empty formatted areas (at most {MAX_CELLS:,} cells).",
        f"Berkas terlalu besar untuk dibaca ({what}). Kirim daftar saja dalam satu lembar, tanpa area "
        f"kosong berformat (paling banyak {MAX_CELLS:,} sel).",
    )


def _encrypted() -> UnreadableFile:
    return _refuse(
        "xlsx_encrypted",
        "The file is password-protected, or an old Excel 97-2003 (.xls) workbook renamed .xlsx. Open it in "
        "Excel, remove the password (File > Info > Protect Workbook) and save it as .xlsx, then resend it.",
        "Berkas dilindungi kata sandi, atau berkas Excel lama (.xls) yang diberi nama .xlsx. Buka di Excel, "
        "hapus kata sandinya dan simpan sebagai .xlsx, lalu kirim lagi.",
    )


def corrupt(detail: str) -> UnreadableFile:
    return _refuse(
        "corrupt_xlsx",
        f"The xlsx file cannot be opened ({detail}). Ask the sender to open it in Excel, save it again "
        "and resend it.",
        "Berkas xlsx rusak dan tidak dapat dibuka. Buka kembali di Excel, simpan ulang, lalu kirim lagi.",
    )


def _last_value_row(body: bytes) -> int:
    """The number of the row holding the last value of ``body`` (0 when it cannot be told): the
    row tag nearest before the last value tag."""
    at = max(body.rfind(t) for t in _VALUE_END)
    if at < 0:
        return 0
    refs = _ROW_REF.findall(body, max(0, at - (1 << 20)), at)
    return int(refs[-1]) if refs else 0


def _used_range(zf: zipfile.ZipFile, part: str) -> tuple[int, int, int, int, int]:
    """(declared rows, declared columns, last used row, last used column, last row holding a
    value) of a sheet part, read
    as a byte stream with regular expressions: the XML is never parsed into a tree, and only the
    widest column references of each chunk become Python objects."""
    declared = (0, 0)
    max_row = max_col = rows_seen = value_row = 0
    tail = b""
    with zf.open(part) as fh:
        first = True
        while True:
            chunk = fh.read(4 << 20)
            buf = tail + chunk
            if not buf:
                break
            if first:
                m = _DIMENSION.search(buf[:8192])
                if m:
                    refs = _REF.findall(m.group(1).decode("ascii", "replace"))
                    if refs:
                        declared = (max(int(r) for _, r in refs), max(column_number(c) for c, _ in refs))
                first = False
            if chunk:
                # a chunk may end inside a tag: its last partial tag goes with the next chunk
                cut = buf.rfind(b"<")
                body, tail = (buf[:cut], buf[cut:]) if cut > 0 and len(buf) - cut < 4096 else (buf, b"")
            else:
                body, tail = buf, b""
            value_row = max(value_row, _last_value_row(body))
            rows = _ROW_REF.findall(body)
            if rows:
                max_row = max(max_row, *map(int, rows))
            rows_seen += len(_ROW_TAG.findall(body))  # rows need not carry their number
            for pattern in _CELL_COLUMNS:  # the widest references first: three letters, then two, then one
                cols = set(pattern.findall(body))
                if cols:
                    max_col = max(max_col, *map(column_number, cols))
                    break
            if not chunk:
                break
    return declared[0], declared[1], max(max_row, rows_seen), max_col, value_row


def plan_xlsx(path: Path) -> SheetPlan:
    """The first visible sheet of a workbook, once its size is known to be readable."""
    try:
        return _plan_xlsx(path)
    except UnreadableFile:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError, KeyError,
            ET.ParseError, UnicodeDecodeError, zipfile.LargeZipFile) as exc:
        # a damaged or odd archive (an encrypted member, an unknown compression): the file, not the night
        raise corrupt(f"damaged workbook: {type(exc).__name__}") from exc


def _plan_xlsx(path: Path) -> SheetPlan:
    _check_container(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise corrupt(f"damaged zip: {exc}") from exc
    with zf:
        sheets = _sheets(zf)
        visible = [s for s in sheets if s[2] == "visible"]
        if not visible:
            raise _refuse("no_visible_sheet", "Every sheet of the workbook is hidden; unhide the list's sheet "
                          "(right-click a sheet tab > Unhide) and resend it.",
                          "Semua lembar kerja disembunyikan; tampilkan lembar daftar lalu kirim lagi.")
        index, name, _, part = visible[0]
        names = set(zf.namelist())
        if part not in names:
            raise corrupt(f"the sheet {name!r} has no part {part}")
        try:
            d_rows, d_cols, rows, cols, value_row = _used_range(zf, part)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise corrupt(f"damaged sheet {name!r}: {exc}") from exc
        # the reader sizes its grid by the declared dimension and by the cells: both must fit
        for r, c, what in ((d_rows, d_cols, "declared"), (rows, cols, "used")):
            if c > MAX_COLUMNS or r * c > MAX_CELLS:
                raise _too_big(f"the sheet {name!r} has a {what} range of {r:,} rows by {c:,} columns")
        return SheetPlan(name=name, index=index, rows=max(rows, 1), columns=max(cols, 1),
                         warnings=_unread_sheets(zf, sheets, names, index, name), last_value_row=value_row)


def _check_container(path: Path) -> None:
    """An .xlsx is a zip of bounded size: not an encrypted (OLE) file, not another file renamed."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic == OLE_MAGIC:
        raise _encrypted()
    if not magic.startswith(ZIP_MAGIC):
        raise corrupt("it is not a zip archive, as every .xlsx is")
    if size > MAX_FILE_BYTES:
        raise _too_big(f"{size / (1 << 20):,.0f} MB")


def _sheets(zf: zipfile.ZipFile) -> list[tuple[int, str, str, str]]:
    """The workbook's sheets as (index, name, state, part), once the archive is known to unpack
    to a bounded size."""
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > MAX_UNCOMPRESSED or (total > (16 << 20) and total > MAX_RATIO * max(packed, 1)):
        raise _too_big(f"{total / (1 << 20):,.0f} MB of XML once unpacked")
    try:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except KeyError as exc:
        raise corrupt(f"no {exc.args[0]} inside") from exc
    except (ET.ParseError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise corrupt(f"damaged workbook part: {exc}") from exc
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("rel:Relationship", _NS)}
    sheets: list[tuple[int, str, str, str]] = []
    for i, s in enumerate(book.findall("m:sheets/m:sheet", _NS)):
        target = targets.get(s.get(_REL_ID), "")
        part = (target.lstrip("/") if target.startswith("/")
                else str(PurePosixPath("xl") / target))
        sheets.append((i, s.get("name", f"Sheet{i + 1}"), s.get("state", "visible"), part))
    if not sheets:
        raise corrupt("the workbook lists no sheet")
    return sheets


def _unread_sheets(zf: zipfile.ZipFile, sheets: list[tuple[int, str, str, str]], names: set[str], index: int,
                   name: str) -> list[str]:
    """Warnings for the sheets not read: hidden ones before the one read, and others holding cells."""
    warnings = []
    hidden_before = [s[1] for s in sheets[:index] if s[2] != "visible" and s[3] in names]
    if hidden_before:
        warnings.append(f"hidden sheet(s) {', '.join(map(repr, hidden_before))} before {name!r} were not "
                        f"read; only the first visible sheet is")
    later = []
    for other in sheets:
        if other[0] == index or other[3] not in names or other[1] in hidden_before:
            continue
        with zf.open(other[3]) as fh:
            head = fh.read(1 << 16)
        if _CELL_REF.search(head):
            later.append(other[1])
    if later:
        warnings.append(f"sheet(s) {', '.join(map(repr, later))} also hold cells and were not read; "
                        f"only the first visible sheet {name!r} is")
    return warnings
