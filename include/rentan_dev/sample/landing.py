"""Writing the landing zone: one function per source, each returning its manifest entries."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from rentan.config import Config
from rentan.core.progress import track
from rentan_dev.sample import budget as budget_mod
from rentan_dev.sample.people import date_parts
from rentan_dev.sample.submissions import file_columns
from rentan_dev.sample.templates import CSV_FORMATS
from rentan_dev.sample.villages import templates
from rentan_dev.sample.writers import Layout, Sheet, csv_bytes, slug, write_bytes, write_xlsx

DATE_CELL_FORMATS = ("dd/mm/yyyy", "dd/mm/yyyy", "dd-mm-yyyy", "d mmmm yyyy", "yyyy-mm-dd")
CORRUPT_KEEP = 0.55  # share of an xlsx's bytes that arrived


def manifest_entry(file: str, source: str, area: str, fmt: str, *, sheet: str = "", village_code: str = "",
                   expected: str = "loaded", reason: str = "", duplicate_of: str = "", data_rows: int = 0,
                   header_row: int = 0) -> dict:
    enc = CSV_FORMATS.get(fmt, {})
    return {
        "file": file, "source": source, "area": area,
        "format": "xlsx" if fmt == "xlsx" else ("csv" if fmt.startswith("csv") else fmt),
        "encoding": ("utf-8-sig" if enc.get("bom") else enc.get("encoding", "")),
        "separator": enc.get("sep", ""), "sheet": sheet, "village_code": village_code,
        "expected": expected, "reason_class": reason, "duplicate_of": duplicate_of,
        "data_rows": int(data_rows), "header_row": int(header_row),
    }


def _write_table(path: Path, fmt: str, header: list[str], cols: list[np.ndarray], layout: Layout, sheet: str,
                 created: dt.datetime, *, number_formats=None, date_format="dd/mm/yyyy", extra: Sequence[Sheet] = ()):
    if fmt == "xlsx":
        main = Sheet(sheet, header, cols, layout, number_formats or {}, date_format)
        write_xlsx(path, [main, *extra], created)
    else:
        f = CSV_FORMATS[fmt]
        write_bytes(path, csv_bytes(header, cols, layout, sep=f["sep"], encoding=f["encoding"], bom=f["bom"],
                                    newline=f["newline"]))


def write_submissions(rng: np.random.Generator, landing: Path, plan: pd.DataFrame, rows: pd.DataFrame,
                      cells: dict[str, np.ndarray], created: dt.datetime) -> list[dict]:
    entries = []
    start = np.concatenate([[0], np.cumsum(plan["n_rows"].to_numpy())])
    date_fmt = np.array(DATE_CELL_FORMATS, dtype=object)[rng.integers(0, len(DATE_CELL_FORMATS), len(plan))]
    for i, pr in track(plan.iterrows(), "sample: village submissions", "villages", total=len(plan)):
        if pr["n_rows"] == 0 or pr["file_issue"]:
            continue
        header, cols = file_columns(pr, cells, int(start[i]), int(start[i + 1]))
        layout = Layout(pr["title_rows"], pr["blank_before"] if pr["blank_before"] > 0 else None)
        extra = []
        if pr["extra_sheet"]:
            extra.append(Sheet("REKAP", ["KETERANGAN", "JUMLAH", "SATUAN"],
                               [np.array(["JUMLAH USULAN"], dtype=object), np.array([int(pr["n_rows"])], dtype=object),
                                np.array(["ORANG"], dtype=object)]))
        nik_col = [f for f, _ in templates(pr["regency"])[pr["template"]]].index("nik")
        _write_table(landing / pr["file"], pr["format"], header, cols, layout, pr["sheet"], created,
                     number_formats={nik_col: "0"}, date_format=date_fmt[i], extra=extra)
        entries.append(manifest_entry(pr["file"], "submissions", pr["regency"], pr["format"], sheet=pr["sheet"],
                                      village_code=pr["village_code"], data_rows=pr["n_rows"],
                                      header_row=layout.header_row))
    return entries


def write_problem_files(rng: np.random.Generator, landing: Path, plan: pd.DataFrame, created: dt.datetime,
                        entries: list[dict]) -> tuple[list[dict], list[tuple[str, str]]]:
    """Empty, header-only, corrupt and non-spreadsheet files, and two files sent twice.
    Returns the new manifest entries and (copy, original) pairs."""
    out = []
    for _, pr in plan[plan["file_issue"] != ""].iterrows():
        path = landing / pr["file"]
        issue = pr["file_issue"]
        header = [h for _, h in templates(pr["regency"])[pr["template"]]]
        if issue == "empty":
            write_bytes(path, b"")
            out.append(manifest_entry(pr["file"], "submissions", pr["regency"], "xlsx", sheet="",
                                      village_code=pr["village_code"], expected="unreadable", reason="empty"))
        elif issue == "header_only":
            f = CSV_FORMATS[pr["format"]]
            write_bytes(path, csv_bytes(header, [np.array([], dtype=object) for _ in header], Layout(),
                                        sep=f["sep"], encoding=f["encoding"], bom=f["bom"], newline=f["newline"]))
            # a list with no names cannot be loaded; the village is told so, like for an empty file
            out.append(manifest_entry(pr["file"], "submissions", pr["regency"], pr["format"],
                                      village_code=pr["village_code"], expected="unreadable",
                                      reason="header_only", header_row=1))
        elif issue == "corrupt":
            buf = io.BytesIO()
            wb = xlsxwriter.Workbook(buf, {"in_memory": True})
            wb.set_properties({"created": created})
            ws = wb.add_worksheet("Sheet1")
            ws.write_row(0, 0, header)
            wb.close()
            data = buf.getvalue()
            write_bytes(path, data[: int(len(data) * CORRUPT_KEEP)])
            out.append(manifest_entry(pr["file"], "submissions", pr["regency"], "xlsx", sheet="",
                                      village_code=pr["village_code"], expected="unreadable", reason="corrupt"))

    written = [e for e in entries if e["source"] == "submissions" and e["data_rows"] > 0]
    if not written:  # nobody submitted on this snapshot date: nothing to misdeliver
        return out, []
    # a scanned cover letter dropped next to a village's list
    host = written[int(rng.integers(0, len(written)))]
    folder = host["file"].rsplit("/", 1)[0]
    village = host["file"].rsplit("/", 1)[1].split(".")[0].replace("usulan_pekerja_rentan_", "")
    pdf = f"{folder}/surat_pengantar_{village}.pdf"
    write_bytes(landing / pdf, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.bytes(4096))
    out.append(manifest_entry(pdf, "submissions", host["area"], "pdf", village_code=host["village_code"],
                              expected="unreadable", reason="not_spreadsheet"))

    copies = []
    xlsx = [e for e in written if e["format"] == "xlsx"]
    first = xlsx[int(rng.integers(0, len(xlsx)))] if xlsx else written[0]
    rest = [e for e in written if e["file"] != first["file"]]
    sent_twice = [(first, " (1)")]
    if rest:
        sent_twice.append((rest[int(rng.integers(0, len(rest)))], "_REVISI"))
    for orig, suffix in sent_twice:
        stem, ext = orig["file"].rsplit(".", 1)
        copy = f"{stem}{suffix}.{ext}"
        write_bytes(landing / copy, (landing / orig["file"]).read_bytes())
        e = dict(orig, file=copy, expected="duplicate", reason_class="same_content_as", duplicate_of=orig["file"])
        out.append(e)
        copies.append((copy, orig["file"]))
    return out, copies


def write_budget(rng: np.random.Generator, landing: Path, plan: pd.DataFrame, lines: pd.DataFrame,
                 created: dt.datetime, cfg: Config) -> tuple[list[dict], pd.DataFrame]:
    """One export per village; returns manifest entries and the lines with their file and row."""
    entries = []
    villages = plan.drop_duplicates("village_code").reset_index(drop=True)
    n = len(villages)
    present = rng.random(n) >= budget_mod.MISSING_SHARE
    as_text = rng.random(n) < budget_mod.MONEY_AS_TEXT_SHARE
    undotted = rng.random(n) < budget_mod.UNDOTTED_CODE_SHARE
    titled = rng.random(n) < budget_mod.TITLE_SHARE
    lines = lines.copy()
    l_file = np.full(len(lines), "", dtype=object)
    l_row = np.zeros(len(lines), dtype=np.int64)
    l_text = np.zeros(len(lines), dtype=bool)
    l_code = np.full(len(lines), "", dtype=object)
    by_village = dict(lines.groupby("village_code").indices.items())
    money = ["pagu_add", "anggaran_iuran", "realisasi"]
    for i, v in track(villages.iterrows(), "sample: village budgets", "villages", total=len(villages)):
        if not present[i] or v["village_code"] not in by_village:
            continue
        idx = by_village[v["village_code"]]
        part = lines.iloc[idx]
        fmt = budget_mod.FORMATS.get(v["regency"], "xlsx")
        ext = "xlsx" if fmt == "xlsx" else "csv"
        file = f"budget/{v['regency']}/{slug(v['district_name'])}/anggaran_bpjs_tk_{slug(v['village_name'])}.{ext}"
        code = part["village_code"].to_numpy(dtype=object)
        if undotted[i]:
            code = pd.Series(code, dtype=object).str.replace(".", "", regex=False).to_numpy(dtype=object)
        cols = [code, part["village_name"].str.upper().to_numpy(dtype=object)]
        cols.append(part["year"].astype(int).tolist() if fmt == "xlsx" else part["year"].astype(str).tolist())
        cols = [np.array(c, dtype=object) for c in cols]
        values = {}
        for m in [*money, "workers_budgeted"]:
            arr = part[m].to_numpy()
            if m in money and as_text[i]:
                values[m] = budget_mod.rupiah(arr)
            elif fmt == "xlsx":
                values[m] = np.array(arr.tolist(), dtype=object)
            else:
                values[m] = arr.astype(str).astype(object)
        cols += [values["pagu_add"], values["anggaran_iuran"], values["workers_budgeted"], values["realisasi"]]
        title: tuple[str | None, ...] = ()
        if titled[i]:
            reg_name = cfg.regencies[v["regency"]].name.upper()
            title = (f"PEMERINTAH {reg_name}", f"DESA {v['village_name'].upper()}",
                     "ANGGARAN IURAN BPJS KETENAGAKERJAAN PEKERJA RENTAN", None)
        layout = Layout(title)
        _write_table(landing / file, fmt, list(budget_mod.HEADER), cols, layout, "Sheet1", created)
        l_file[idx] = file
        l_row[idx] = layout.data_row_numbers(len(idx))
        l_text[idx] = bool(as_text[i])
        l_code[idx] = "digits" if undotted[i] else "dotted"
        entries.append(manifest_entry(file, "budget", v["regency"], fmt, sheet="Sheet1" if fmt == "xlsx" else "",
                                      village_code=v["village_code"], data_rows=len(idx),
                                      header_row=layout.header_row))
    lines["file"], lines["row_number"] = l_file, l_row
    lines["money_as_text"], lines["code_format"] = l_text, l_code
    return entries, lines


# Branch extract styles: file format and how dates are printed.
MEMBERSHIP_STYLE = {
    "lahat": ("csv_comma_utf8", "dmy_dash"),
    "muara-enim": ("csv_semicolon_cp1252", "iso"),
    "lampung-tengah": ("xlsx", "cells"),
}
CLAIMS_STYLE = {
    "lahat": ("csv_comma_utf8", "dmy_slash"),
    "muara-enim": ("csv_semicolon_cp1252", "iso"),
    "lampung-tengah": ("csv_comma_utf8", "dmy_slash"),
}
XLSX_MEMBERSHIP_MAX_ROWS = 60000


def _dates(days: np.ndarray, style: str, fmt: str) -> np.ndarray:
    if style == "cells" and fmt == "xlsx":
        return np.asarray(days).astype("datetime64[D]").astype(object)
    y, m, d = date_parts(days)
    yyyy = pd.Series(y).astype(str)
    mm = pd.Series(m).astype(str).str.zfill(2)
    dd = pd.Series(d).astype(str).str.zfill(2)
    if style == "iso":
        s = yyyy + "-" + mm + "-" + dd
    elif style == "dmy_dash":
        s = dd + "-" + mm + "-" + yyyy
    else:
        s = dd + "/" + mm + "/" + yyyy
    return s.to_numpy(dtype=object)


def write_membership(landing: Path, members: pd.DataFrame, persons: pd.DataFrame, cfg: Config,
                     snapshot: dt.date, created: dt.datetime) -> tuple[list[dict], pd.DataFrame]:
    entries = []
    members = members.copy()
    members["file"] = ""
    members["row_number"] = 0
    stamp = snapshot.strftime("%Y%m%d")
    for branch in cfg.branches:
        sel = np.flatnonzero(members["branch"].to_numpy() == branch)
        if not len(sel):
            continue
        part = members.iloc[sel].sort_values("kpj", kind="stable")
        fmt, dstyle = MEMBERSHIP_STYLE.get(branch, ("csv_comma_utf8", "dmy_slash"))
        if fmt == "xlsx" and len(part) > XLSX_MEMBERSHIP_MAX_ROWS:
            fmt, dstyle = "csv_comma_utf8", "dmy_slash"
        ext = "xlsx" if fmt == "xlsx" else "csv"
        file = f"membership/{branch}/kepesertaan_{slug(branch)}_{stamp}.{ext}"
        p = persons.iloc[part["person"].to_numpy()]
        last = part["last_paid_month"].to_numpy()
        blth = (pd.Series(last // 12).astype(str) + "-" + pd.Series(last % 12 + 1).astype(str).str.zfill(2))
        header = ["KPJ", "NIK", "NAMA", "TGL LAHIR", "SEGMEN", "PROGRAM", "TGL KEPESERTAAN", "STATUS",
                  "BLTH TERAKHIR", "PEMBAYAR", "KODE DESA PEMBAYAR"]
        cols = [part["kpj"].to_numpy(dtype=object), p["nik"].to_numpy(dtype=object), p["name"].to_numpy(dtype=object),
                _dates(p["birth_date_days"].to_numpy(), dstyle, fmt), part["segment"].to_numpy(dtype=object),
                part["program"].to_numpy(dtype=object), _dates(part["registered_days"].to_numpy(), dstyle, fmt),
                part["status"].to_numpy(dtype=object), blth.to_numpy(dtype=object),
                part["payer"].to_numpy(dtype=object), part["payer_village_code"].to_numpy(dtype=object)]
        layout = Layout()
        _write_table(landing / file, fmt, header, cols, layout, "Kepesertaan", created, date_format="dd/mm/yyyy")
        members.loc[part.index, "file"] = file
        members.loc[part.index, "row_number"] = layout.data_row_numbers(len(part))
        entries.append(manifest_entry(file, "membership", branch, fmt, sheet="Kepesertaan" if fmt == "xlsx" else "",
                                      data_rows=len(part), header_row=1))
    return entries, members


def write_claims(landing: Path, claims: pd.DataFrame, members: pd.DataFrame, persons: pd.DataFrame, cfg: Config,
                 snapshot: dt.date, created: dt.datetime) -> tuple[list[dict], pd.DataFrame]:
    entries = []
    claims = claims.copy()
    claims["file"] = ""
    claims["row_number"] = 0
    for branch in cfg.branches:
        sel = np.flatnonzero(claims["branch"].to_numpy() == branch)
        if not len(sel):
            continue
        part = claims.iloc[sel]
        fmt, dstyle = CLAIMS_STYLE.get(branch, ("csv_comma_utf8", "dmy_slash"))
        file = f"claims/{branch}/klaim_{slug(branch)}_{snapshot.strftime('%Y%m%d')}.csv"
        m = members.iloc[part["member_index"].to_numpy()]
        nik = persons["nik"].to_numpy(dtype=object)[m["person"].to_numpy()]
        header = ["NO KLAIM", "KPJ", "NIK", "JENIS KLAIM", "TGL KEJADIAN", "TGL BAYAR", "NOMINAL", "PENERIMA"]
        cols = [part["claim_no"].to_numpy(dtype=object), m["kpj"].to_numpy(dtype=object), nik,
                part["type"].to_numpy(dtype=object), _dates(part["incident_days"].to_numpy(), dstyle, fmt),
                _dates(part["paid_days"].to_numpy(), dstyle, fmt), part["amount"].astype(str).to_numpy(dtype=object),
                part["beneficiary"].to_numpy(dtype=object)]
        layout = Layout()
        _write_table(landing / file, fmt, header, cols, layout, "", created)
        claims.loc[part.index, "file"] = file
        claims.loc[part.index, "row_number"] = layout.data_row_numbers(len(part))
        entries.append(manifest_entry(file, "claims", branch, fmt, data_rows=len(part), header_row=1))
    return entries, claims
