"""The ground truth: what every generated file really holds, row by row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rentan_dev.sample.defects import FILE_CLASSES, MEMBERSHIP_CLASSES, ROW_CLASSES, VARIATIONS


def submission_truth(rows: pd.DataFrame, plan: pd.DataFrame, persons: pd.DataFrame, shown: pd.DataFrame,
                     copies: list[tuple[str, str]]) -> pd.DataFrame:
    v = rows["village"].to_numpy()
    person = rows["person"].to_numpy()
    src = rows["src"].to_numpy()
    file = plan["file"].to_numpy(dtype=object)[v]
    row_number = rows["row_number"].to_numpy()
    has_src = src >= 0
    p = persons.iloc[person]
    membership = pd.Series(rows["cls"]).map(MEMBERSHIP_CLASSES).fillna("")
    out = pd.DataFrame({
        "file": file,
        "sheet": plan["sheet"].to_numpy(dtype=object)[v],
        "row_number": row_number,
        "file_expected": "loaded",
        "person_id": p["person_id"].to_numpy(),
        "true_nik": p["nik"].to_numpy(dtype=object),
        "village_code": plan["village_code"].to_numpy(dtype=object)[v],
        "regency": plan["regency"].to_numpy(dtype=object)[v],
        "defect": rows["cls"].to_numpy(dtype=object),
        "severity": rows["cls"].map({c.name: c.severity for c in ROW_CLASSES}).fillna("").to_numpy(dtype=object),
        "duplicate_of_person": pd.array(p["person_id"].to_numpy(), dtype="Int64"),
        "duplicate_of_file": np.where(has_src, file[np.maximum(src, 0)], ""),
        "duplicate_of_row": pd.array(row_number[np.maximum(src, 0)], dtype="Int64"),
        "membership": membership.to_numpy(dtype=object),
    })
    out.loc[~has_src, ["duplicate_of_person", "duplicate_of_row"]] = pd.NA
    out = pd.concat([out, shown.reset_index(drop=True)], axis=1)
    # rows of files that failed to arrive whole are not rows anyone can read
    keep = ~pd.Series(file).isin(plan.loc[plan["file_issue"] != "", "file"]).to_numpy()
    out = out[keep]
    extra = []
    for copy, orig in copies:
        c = out[out["file"] == orig].copy()
        c["file"] = copy
        c["file_expected"] = "duplicate"
        extra.append(c)
    return pd.concat([out, *extra], ignore_index=True)


def _days_to_date(s: pd.Series) -> pd.Series:
    return pd.Series(np.asarray(s).astype("datetime64[D]"), index=s.index)


def _parquet(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def write_all(dest: Path, *, files: pd.DataFrame, submissions: pd.DataFrame, persons: pd.DataFrame,
              plan: pd.DataFrame, members: pd.DataFrame, claims: pd.DataFrame, budget: pd.DataFrame) -> None:
    files.to_csv(dest / "files.csv", index=False, lineterminator="\n")
    _parquet(submissions, dest / "submissions.parquet")

    p = persons.copy()
    p["birth_date"] = _days_to_date(p.pop("birth_date_days"))
    _parquet(p[["person_id", "nik", "name", "sex", "birth_date", "birth_date_placeholder", "birth_place",
                "residence_district_code", "residence_regency_code", "home_village_code", "nik_region_code",
                "moved", "phone", "origin"]], dest / "persons.parquet")

    vp = plan.copy()
    vp["title_rows"] = vp["title_rows"].map(lambda t: sum(1 for x in t if x))
    vp = vp.rename(columns={"n_rows": "rows"})
    vp["file"] = np.where((vp["rows"] > 0) | (vp["file_issue"] != ""), vp["file"], "")
    vp.to_csv(dest / "villages.csv", index=False, lineterminator="\n")

    pid = persons["person_id"].to_numpy()
    m = members.copy()
    m.insert(0, "person_id", pid[m.pop("person").to_numpy()])
    m["registered_on"] = _days_to_date(m.pop("registered_days"))
    last = m.pop("last_paid_month").to_numpy()
    m["last_paid"] = (pd.Series(last // 12).astype(str) + "-"
                      + pd.Series(last % 12 + 1).astype(str).str.zfill(2)).to_numpy()
    m["nik"] = persons["nik"].to_numpy(dtype=object)[np.searchsorted(pid, m["person_id"].to_numpy())]
    _parquet(m[["kpj", "person_id", "nik", "branch", "regency", "role", "segment", "program", "registered_on",
                "status", "last_paid", "payer", "payer_village_code", "file", "row_number"]],
             dest / "membership.parquet")

    c = claims.copy()
    c["kpj"] = members["kpj"].to_numpy(dtype=object)[c["member_index"].to_numpy()]
    c["person_id"] = pid[members["person"].to_numpy()[c["member_index"].to_numpy()]]
    c["incident_date"] = _days_to_date(c.pop("incident_days"))
    c["paid_date"] = _days_to_date(c.pop("paid_days"))
    _parquet(c[["claim_no", "branch", "kpj", "person_id", "type", "incident_date", "paid_date", "amount",
                "beneficiary", "beneficiary_relation", "file", "row_number"]], dest / "claims.parquet")

    _parquet(budget, dest / "budget.parquet")
    (dest / "README.md").write_text(readme(), encoding="utf-8")


def readme() -> str:
    classes = "\n".join(f"| `{c.name}` | {c.rate:g} | {c.base} | {c.severity} | {c.description} |" for c in ROW_CLASSES)
    file_classes = "\n".join(f"| `{k}` | {v} |" for k, v in FILE_CLASSES.items())
    variations = "\n".join(f"| `{k}` | {v} |" for k, v in VARIATIONS.items())
    return f"""# Ground truth of the generated landing zone

Written by `rentan_dev.sample.generate`; never read by the pipeline. Everything a check needs to know
about `../landing/`: which rows are whose, what is wrong with them, and which files cannot be read.
Paths (`file`) are relative to `landing/`, with `/` separators. Row numbers are 1-based as a
spreadsheet shows them (csv: the line number, header line included). The header row of a file is the
first row with at least 3 non-empty cells; title rows above it have at most one. xlsx files may hold an
empty row inside the table and a second sheet; only the first sheet counts.

## files.csv: every file under landing/
| column | meaning |
|---|---|
| file | path under landing/ |
| source, area | `submissions`/`budget` + regency slug; `membership`/`claims` + branch slug |
| format | `xlsx`, `csv` or `pdf`, as the extension says (whatever the bytes are) |
| encoding, separator | for csv: `utf-8`, `utf-8-sig` (with BOM) or `cp1252`; `,` or `;` |
| sheet | name of the first sheet (xlsx), else empty |
| village_code | the village that sent it (submissions, budget) |
| expected | `loaded`, `duplicate` (same bytes as `duplicate_of`) or `unreadable` |
| reason_class | empty, or one of the file classes below |
| duplicate_of | for `duplicate`: the file it copies |
| data_rows | data rows the file holds (0 for unreadable and header-only files) |
| header_row | row number of the header (0 when there is none) |
| bytes, sha256 | size and digest of the file |

| reason_class | meaning |
|---|---|
{file_classes}

A header-only file parses, but holds no rows to load: it is `unreadable` (`header_row` 1, 0 rows).
Empty, header-only and corrupt files come from villages that sent nothing else (`villages.csv`:
`status == silent`, `file_issue` set); the .pdf lies beside a village's proper list.

## submissions.parquet: one row per data row of every readable submission file
Duplicate deliveries (`file_expected == duplicate`) repeat their original's rows under the copy's name.

| column | meaning |
|---|---|
| file, sheet, row_number | where the row is |
| file_expected | `loaded` or `duplicate` (the file is a copy) |
| person_id | the real person (persons.parquet) |
| true_nik | their real NIK |
| village_code, regency | the village that sent the file |
| defect | `clean` or one class below |
| severity | the class's severity; empty for clean |
| duplicate_of_person | for duplicate classes: the person repeated (= person_id) |
| duplicate_of_file, duplicate_of_row | for duplicate classes: the original row |
| membership | the person's record in the membership extract: `aktif_pu`, `aktif_bpu_other_payer`, `aktif_bpu_same_village`, `non_aktif`, or empty (none) |
| nik_shown | the NIK cell as text (numeric cells: the integer they hold) |
| name_shown, name_variant | the NAMA cell; how it differs from the KTP name |
| village_shown, village_spelling_variant | the DESA/PEKON cell; how it differs from the file's usual spelling of its own village |
| date_format | how the birth date is written |
| sex_shown | L or P as the cell means it |
| sumber_dana | the SUMBER DANA cell |

### Row classes (`defect`)
Rates are per row among the rows of `base` (`xlsx`/`csv`: rows of such files; `renewal`: regencies
whose programme ran in an earlier year). A row carries one class at most.

| class | rate | base | severity | meaning |
|---|---|---|---|---|
{classes}

### Variations that are not defects
| column | values |
|---|---|
{variations}

Birth dates may also be registry placeholders (31 December, 1 July: persons.parquet
`birth_date_placeholder`); the NIK carries the same date.

## villages.csv: one row per desa considered
village_code, village_name, district_code, district_name, regency, regency_code, branch, quota (per
village on the snapshot date), status (`normal`: 70-100 % of quota x scale, `over_quota`: above it,
`silent`: no file), rows, format, template (see `rentan_dev.sample.templates.HEADER_TEMPLATES`), upper,
date_main, title_rows (count), blank_before, sheet, extra_sheet, header_space, sex_style, rt_style,
phone_number, renewal, file, file_issue.

## persons.parquet: everyone the generator made up
person_id, nik (16 digits: region of `nik_region_code`, DDMMYY with day + 40 for women, serial),
name (as on the KTP), sex, birth_date, birth_date_placeholder, birth_place, residence_district_code,
residence_regency_code, home_village_code, nik_region_code (district that issued the NIK; differs
from the residence when `moved`), moved, phone, origin (`proposed`, or the background role).

## membership.parquet: one row per membership record (card)
kpj, person_id, nik, branch, regency, role (`pu_employee`, `bpu_self`, `bpu_self_previous` (an older
closed card of someone who joined again), `jakon`, `pmi`, `perangkat` (village officials, PU, paid by
their village), `village_cohort` (BPU paid from ADD in an earlier year), or the proposed row's
membership value), segment, program, registered_on, status, last_paid (YYYY-MM), payer,
payer_village_code, file, row_number.

## claims.parquet: one row per claim paid
claim_no, branch, kpj, person_id (the member), type (`JKK`, `JKM`, `BEASISWA`, `JHT`), incident_date,
paid_date, amount (rupiah), beneficiary, beneficiary_relation (`member`, `spouse`, `child`), file,
row_number. Members who died (JKM) or drew their JHT are NON AKTIF in membership.

## budget.parquet: one row per village and fiscal year
village_code, village_name, regency, year, pagu_add, anggaran_iuran, workers_budgeted, realisasi
(all rupiah integers), file and row_number (empty / 0 for villages whose export is missing),
money_as_text (the file shows `Rp 20.160.000`), code_format (`dotted` or `digits`).

## summary.json
The counts `generate` returned.
"""
