"""Submission rows: who is proposed where, with which defect, and what each cell shows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from rentan_dev.sample import defects
from rentan_dev.sample.people import NamePools, date_parts, display_names
from rentan_dev.sample.templates import (
    DATE_FORMAT_DRIFT,
    DATE_FORMATS_CSV,
    DATE_FORMATS_XLSX,
    MONTHS_ID,
    OCCUPATIONS,
    SUMBER_DANA,
)
from rentan_dev.sample.villages import choice, csv_format, style, templates

EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01 (Excel counts from 1899-12-30)
ROMAN = np.array(["I", "II", "III", "IV", "V", "VI"], dtype=object)


def draw_rows(rng: np.random.Generator, plan: pd.DataFrame) -> pd.DataFrame:
    """One row per proposed line, village by village, with its row number and class."""
    n_rows = plan["n_rows"].to_numpy()
    village = np.repeat(np.arange(len(plan)), n_rows)
    start = np.concatenate([[0], np.cumsum(n_rows)[:-1]])
    pos = np.arange(len(village)) - start[village]
    header_row = plan["title_rows"].map(len).to_numpy() + 1
    blank = plan["blank_before"].to_numpy()
    row_number = header_row[village] + 1 + pos + ((blank[village] > 0) & (pos >= blank[village]))
    is_xlsx = (plan["format"].to_numpy() == "xlsx")[village]
    renewal = plan["renewal"].to_numpy()[village]
    return pd.DataFrame({
        "village": village,
        "pos": pos,
        "row_number": row_number.astype(np.int64),
        "is_xlsx": is_xlsx,
        "regency_id": pd.factorize(plan["regency"])[0][village],
        "cls": defects.draw_classes(rng, is_xlsx, renewal),
    })


def resolve_duplicates(rng: np.random.Generator, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For duplicate rows, the clean row they repeat (-1 elsewhere). Duplicates that cannot have a
    source (the first row of a file) become clean. Returns (cls, src)."""
    cls = rows["cls"].to_numpy().copy()
    village = rows["village"].to_numpy()
    reg = rows["regency_id"].to_numpy()
    n = len(cls)
    src = np.full(n, -1, dtype=np.int64)
    clean = cls == "clean"
    clean_idx = np.flatnonzero(clean)
    before = np.concatenate([[0], np.cumsum(clean)])  # clean rows before index i

    def bounds(keys: np.ndarray):
        first = np.searchsorted(keys, keys, side="left")
        last = np.searchsorted(keys, keys, side="right")
        return before[first], before[last]

    vlo, _ = bounds(village)
    rlo, rhi = bounds(reg)

    w = np.flatnonzero(cls == "dup_within_village")
    count = before[w] - vlo[w]
    ok = count > 0
    k = np.floor(rng.random(len(w)) * count).astype(np.int64)
    src[w[ok]] = clean_idx[vlo[w[ok]] + k[ok]]
    cls[w[~ok]] = "clean"

    a = np.flatnonzero(cls == "dup_across_villages")
    pending = a[(rhi[a] - rlo[a]) > 0]
    for _attempt in range(30):
        if not len(pending):
            break
        k = rlo[pending] + np.floor(rng.random(len(pending)) * (rhi[pending] - rlo[pending])).astype(np.int64)
        s = clean_idx[k]
        good = village[s] != village[pending]
        src[pending[good]] = s[good]
        pending = pending[~good]
    cls[a[src[a] < 0]] = "clean"

    x = np.flatnonzero(cls == "dup_across_regencies")
    other = len(clean_idx) - (rhi[x] - rlo[x])
    ok = other > 0
    k = np.floor(rng.random(len(x)) * other).astype(np.int64)
    k = np.where(k >= rlo[x], k + (rhi[x] - rlo[x]), k)
    src[x[ok]] = clean_idx[k[ok]]
    cls[x[~ok]] = "clean"
    return cls, src


def _cased(values: np.ndarray, upper: np.ndarray) -> np.ndarray:
    s = pd.Series(values, dtype=object)
    out = s.str.upper()
    low = ~upper
    if low.any():
        out[low] = s[low].str.title()
    return out.to_numpy(dtype=object)


def _date_texts(days: np.ndarray, fmt: np.ndarray, upper: np.ndarray) -> np.ndarray:
    y, m, d = date_parts(days)
    yyyy = pd.Series(y).astype(str)
    mm = pd.Series(m).astype(str).str.zfill(2)
    dd = pd.Series(d).astype(str).str.zfill(2)
    month = pd.Series(np.array(MONTHS_ID, dtype=object)[m - 1])
    month = month.where(~pd.Series(upper), month.str.upper())
    choices = {
        "iso": yyyy + "-" + mm + "-" + dd,
        "dmy_dash": dd + "-" + mm + "-" + yyyy,
        "dmy_slash": dd + "/" + mm + "/" + yyyy,
        "dmy_slash_yy": dd + "/" + mm + "/" + yyyy.str[2:],
        "dmy_dot": dd + "." + mm + "." + yyyy,
        "long_id": pd.Series(d).astype(str) + " " + month + " " + yyyy,
    }
    out = np.full(len(days), None, dtype=object)
    for name, text in choices.items():
        sel = fmt == name
        out[sel] = text.to_numpy(dtype=object)[sel]
    return out


def render(rng: np.random.Generator, rows: pd.DataFrame, plan: pd.DataFrame, persons: pd.DataFrame,
           pools: NamePools, spelling: pd.DataFrame, unknown_names: dict[str, np.ndarray],
           all_true_niks: np.ndarray, snapshot: dt.date) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Cell values per field (object arrays, typed for xlsx) and the per-row truth they embody."""
    n = len(rows)
    v = rows["village"].to_numpy()
    cls = rows["cls"].to_numpy()
    is_xlsx = rows["is_xlsx"].to_numpy()
    upper = plan["upper"].to_numpy()[v]
    regency = plan["regency"].to_numpy()[v]
    p = persons.iloc[rows["person"].to_numpy()]
    true_nik = p["nik"].to_numpy(dtype=object)
    sex = p["sex"].to_numpy(dtype=object)
    birth = p["birth_date_days"].to_numpy()
    cells: dict[str, np.ndarray] = {}

    # NIK
    nik = true_nik.copy()
    nik_shown = true_nik.copy()
    sel = cls == "nik_numeric_damaged"
    damaged = defects.numeric_damaged(true_nik[sel])
    nik[sel] = damaged.tolist()
    nik_shown[sel] = damaged.astype(np.int64).astype(str).astype(object)
    sel = cls == "nik_scientific"
    decimal = np.array([csv_format(f)["decimal"] if f != "xlsx" else "." for f in plan["format"]])[v]
    for dec in (".", ","):
        s2 = sel & (decimal == dec)
        nik[s2] = defects.scientific(true_nik[s2], dec)
    sel = cls == "nik_trailing_zero_point"
    nik[sel] = (pd.Series(true_nik[sel], dtype=object) + ".0").to_numpy(dtype=object)
    sel = cls == "nik_mistyped"
    nik[sel] = defects.mistype(rng, true_nik[sel], all_true_niks)
    sel = cls == "nik_wrong_length"
    nik[sel] = defects.wrong_length(rng, true_nik[sel])
    text_nik = cls != "nik_numeric_damaged"
    nik_shown[text_nik] = nik[text_nik]
    cells["nik"] = nik

    # name, place, sex
    shown_name, name_variant = display_names(rng, pools, p["name"].to_numpy(dtype=object), sex)
    cells["nama"] = _cased(shown_name, upper)
    cells["tempat_lahir"] = _cased(p["birth_place"].to_numpy(dtype=object), upper)
    shown_sex = np.where(cls == "sex_mismatch", np.where(sex == "L", "P", "L"), sex)
    long = plan["sex_style"].to_numpy()[v] == "long"
    long_text = np.where(shown_sex == "L", "LAKI-LAKI", "PEREMPUAN").astype(object)
    long_text = np.where(upper, long_text, np.where(shown_sex == "L", "Laki-laki", "Perempuan"))
    cells["jenis_kelamin"] = np.where(long, long_text, shown_sex).astype(object)

    # birth date: the file's usual format, a few rows typed otherwise
    main = plan["date_main"].to_numpy()[v]
    drift = rng.random(n) < DATE_FORMAT_DRIFT
    drifted = np.where(is_xlsx, choice(rng, DATE_FORMATS_XLSX, n), choice(rng, DATE_FORMATS_CSV, n))
    date_format = np.where(drift, drifted, main).astype(object)
    date = _date_texts(birth, date_format, upper)
    serial = birth + EXCEL_EPOCH_OFFSET
    sel = date_format == "excel_serial"
    date[sel & is_xlsx] = serial[sel & is_xlsx].tolist()
    date[sel & ~is_xlsx] = serial[sel & ~is_xlsx].astype(str).astype(object)
    sel = date_format == "excel_date"
    date[sel] = birth[sel].astype("datetime64[D]").astype(object)
    bad = cls == "bad_date"
    bad_text, _ = defects.bad_dates(rng, date_parts(birth[bad])[0])
    date[bad] = np.where(is_xlsx[bad] & (bad_text == ""), np.array(None, dtype=object), bad_text)
    date_format[bad] = "bad"
    cells["tanggal_lahir"] = date

    # occupation, address, phone
    occ = np.full(n, "", dtype=object)
    for reg in np.unique(regency):
        sel = regency == reg
        occ[sel] = choice(rng, OCCUPATIONS.get(reg, OCCUPATIONS["lahat"]), int(sel.sum()))
    cells["pekerjaan"] = _cased(occ, upper)
    word = np.array([style(r)["address_word"] for r in plan["regency"]], dtype=object)[v]
    dusun = ROMAN[rng.integers(0, len(ROMAN), n)]
    # roman numerals stay capitals whatever the case of the rest
    cells["alamat"] = _cased(word, upper) + " " + dusun
    rt, rw = rng.integers(1, 9, n), rng.integers(1, 5, n)
    rt_style = plan["rt_style"].to_numpy()[v]
    width = np.array([3, 2, 1])[np.maximum(rt_style, 0)]
    rt_s = pd.Series(rt).astype(str)
    rw_s = pd.Series(rw).astype(str)
    rtrw = np.where(width == 3, rt_s.str.zfill(3) + "/" + rw_s.str.zfill(3),
                    np.where(width == 2, rt_s.str.zfill(2) + "/" + rw_s.str.zfill(2), rt_s + "/" + rw_s))
    cells["rt_rw"] = np.where(rt_style < 0, "-", rtrw).astype(object)
    phone = p["phone"].to_numpy(dtype=object).copy()
    u = rng.random(n)
    phone = np.where(u < 0.12, "", np.where(u < 0.16, "-", phone)).astype(object)
    as_number = plan["phone_number"].to_numpy()[v] & (phone != "") & (phone != "-")
    phone[as_number] = pd.Series(phone[as_number], dtype=object).astype(np.int64).tolist()
    cells["no_hp"] = phone

    # village, district
    village_shown = spelling["shown"].to_numpy(dtype=object)[v].copy()
    variant = np.full(n, "", dtype=object)
    pick = (rng.random(n) < defects.VILLAGE_SPELLING_SHARE) & (cls != "unknown_village")
    kind = np.array(["case", "no_space", "typo"], dtype=object)[rng.integers(0, 3, n)]
    nospace_ok = spelling["no_space"].to_numpy(dtype=object)[v] != ""
    kind = np.where((kind == "no_space") & ~nospace_ok, "typo", kind)
    for k in ("case", "no_space", "typo"):
        sel = pick & (kind == k)
        village_shown[sel] = spelling[k].to_numpy(dtype=object)[v][sel]
        variant[sel] = k
    unk = np.flatnonzero(cls == "unknown_village")
    for reg in np.unique(regency[unk]) if len(unk) else []:
        sel = unk[regency[unk] == reg]
        pool = unknown_names[reg]
        village_shown[sel] = pool[rng.integers(0, len(pool), len(sel))]
    village_shown[unk] = _cased(village_shown[unk], upper[unk])
    cells["desa"] = village_shown
    cells["kecamatan"] = _cased(plan["district_name"].to_numpy(dtype=object)[v], upper)

    sumber = choice(rng, SUMBER_DANA, n)
    cells["sumber_dana"] = sumber
    # numbers stay numbers in xlsx cells; csv cells are text anyway
    tahun = np.full(n, str(snapshot.year), dtype=object)
    tahun[is_xlsx] = snapshot.year
    cells["tahun"] = tahun
    no = rows["pos"].to_numpy() + 1
    no_cells = no.astype(str).astype(object)
    no_cells[is_xlsx] = no[is_xlsx].tolist()
    cells["no"] = no_cells

    truth = pd.DataFrame({
        "nik_shown": nik_shown,
        "name_shown": cells["nama"],
        "name_variant": name_variant,
        "village_shown": village_shown,
        "village_spelling_variant": variant,
        "date_format": date_format,
        "sex_shown": shown_sex,
        "sumber_dana": sumber,
    })
    return cells, truth


def file_columns(plan_row: pd.Series, cells: dict[str, np.ndarray], start: int,
                 stop: int) -> tuple[list[str], list[np.ndarray]]:
    """The header and the column arrays of one village's file, in its template's order."""
    tpl = templates(plan_row["regency"])[plan_row["template"]]
    header = [h for _, h in tpl]
    if plan_row["header_space"] >= 0:
        i = plan_row["header_space"] % len(header)
        header[i] = header[i] + " "
    return header, [cells[field][start:stop] for field, _ in tpl]
