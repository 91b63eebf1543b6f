"""Which villages submit, how many people each proposes, and how each one's file looks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from rentan.config import Config
from rentan_dev.sample.templates import (
    CSV_FORMATS,
    DATE_FORMATS_CSV,
    DATE_FORMATS_XLSX,
    DEFAULT_STYLE_REGENCY,
    HEADER_TEMPLATES,
    REGENCY_STYLE,
    SHEET_NAMES,
    TITLE_LINES,
)
from rentan_dev.sample.writers import slug

SILENT_SHARE = 0.10
OVER_QUOTA_SHARE = 0.05
NORMAL_FILL = (0.70, 1.00)
OVER_FILL = (0.05, 0.20)
BLANK_ROW_SHARE = 0.05  # xlsx files with an empty row inside the table
EXTRA_SHEET_SHARE = 0.10  # xlsx files with a second sheet (a tally) the ingest must ignore
HEADER_SPACE_SHARE = 0.05  # a header cell with a trailing space
PHONE_AS_NUMBER_SHARE = 0.2  # xlsx files whose NO HP column was typed as numbers

# Special deliveries, each taken by one village that proposes nobody otherwise.
FILE_ISSUES = ("empty", "header_only", "corrupt")


def style(regency: str) -> dict:
    return REGENCY_STYLE.get(regency, REGENCY_STYLE[DEFAULT_STYLE_REGENCY])


def templates(regency: str) -> dict:
    return HEADER_TEMPLATES.get(regency, HEADER_TEMPLATES[DEFAULT_STYLE_REGENCY])


def choice(rng: np.random.Generator, weights: dict, n: int) -> np.ndarray:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), n, p=p / p.sum())]


def plan(rng: np.random.Generator, cfg: Config, desa: pd.DataFrame, snapshot: dt.date, scale: float,
         villages_limit: int | None) -> pd.DataFrame:
    """One row per desa of the configured regencies (or ``villages_limit`` of them per regency)."""
    parts = []
    for reg in cfg.regencies.values():
        v = desa[desa["regency_code"] == reg.code].sort_values("code").reset_index(drop=True)
        if villages_limit is not None and len(v) > villages_limit:
            keep = np.sort(rng.choice(len(v), villages_limit, replace=False))
            v = v.iloc[keep].reset_index(drop=True)
        n = len(v)
        st = style(reg.slug)
        quota = reg.quota_on(snapshot)
        target = quota * scale
        u = rng.random(n)
        status = np.where(u < SILENT_SHARE, "silent", np.where(u < SILENT_SHARE + OVER_QUOTA_SHARE,
                                                                "over_quota", "normal")).astype(object)
        if quota == 0:
            status[:] = "silent"
        normal_rows = np.maximum(1, np.round(target * rng.uniform(*NORMAL_FILL, n))).astype(np.int64)
        over_rows = np.maximum(np.floor(target) + 1, np.floor(target * (1 + rng.uniform(*OVER_FILL, n))))
        n_rows = np.select([status == "normal", status == "over_quota"], [normal_rows, over_rows.astype(np.int64)], 0)

        fmt = choice(rng, st["formats"], n)
        if scale > 1:
            # keep the number of xlsx cells about constant: xlsxwriter is the slow part
            keep_xlsx = rng.random(n) < 1 / scale
            csv_default = max((k for k in st["formats"] if k != "xlsx"), key=lambda k: st["formats"][k])
            fmt = np.where((fmt == "xlsx") & ~keep_xlsx, csv_default, fmt).astype(object)
        template = choice(rng, st["templates"], n)
        upper = rng.random(n) < st["upper_share"]
        is_xlsx = fmt == "xlsx"
        date_main = np.where(is_xlsx, choice(rng, DATE_FORMATS_XLSX, n), choice(rng, DATE_FORMATS_CSV, n))
        title_kind = np.where(rng.random(n) < st["title_share"], rng.integers(0, len(TITLE_LINES), n), -1)
        title_gap = rng.random(n) < 0.5
        blank_draw = rng.random(n) < BLANK_ROW_SHARE
        blank_pos = np.where(is_xlsx & blank_draw & (n_rows > 2),
                             1 + np.floor(rng.random(n) * np.maximum(n_rows - 1, 1)).astype(np.int64), -1)
        sheet = np.array(SHEET_NAMES, dtype=object)[rng.integers(0, len(SHEET_NAMES), n)]
        extra_sheet = is_xlsx & (rng.random(n) < EXTRA_SHEET_SHARE)
        header_space = np.where(rng.random(n) < HEADER_SPACE_SHARE, rng.integers(1, 6, n), -1)
        sex_long = rng.random(n) < 0.6
        rt_style = rng.integers(0, 3, n)
        has_rt = rng.random(n) < st["rt_rw_share"]
        phone_number = is_xlsx & (rng.random(n) < PHONE_AS_NUMBER_SHARE)

        rows = []
        for i in range(n):
            tpl = templates(reg.slug)[template[i]]
            headers = dict(tpl)
            lines: tuple[str | None, ...] = ()
            if title_kind[i] >= 0:
                word = reg.village_word.upper()
                fill = {"word": word, "village": v.at[i, "name"].upper(), "district": v.at[i, "district_name"].upper(),
                            "year": snapshot.year, "regency": reg.name.upper().replace("KABUPATEN ", "")}
                lines = tuple(t.format(**fill) for t in TITLE_LINES[title_kind[i]])
                if title_gap[i]:
                    lines = (*lines, None)
            ext = "xlsx" if fmt[i] == "xlsx" else "csv"
            kec = slug(v.at[i, "district_name"])
            rows.append({
                "village_code": v.at[i, "code"],
                "village_name": v.at[i, "name"],
                "district_code": v.at[i, "district_code"],
                "district_name": v.at[i, "district_name"],
                "regency": reg.slug,
                "regency_code": reg.code,
                "branch": reg.branch,
                "quota": quota,
                "status": status[i],
                "n_rows": int(n_rows[i]),
                "format": fmt[i],
                "template": template[i],
                "upper": bool(upper[i]),
                "date_main": date_main[i],
                "title_rows": lines,
                "blank_before": int(blank_pos[i]),
                "sheet": sheet[i] if ext == "xlsx" else "",
                "extra_sheet": bool(extra_sheet[i]),
                "header_space": int(header_space[i]),
                "sex_style": "LP" if headers["jenis_kelamin"] == "L/P" or not sex_long[i] else "long",
                "rt_style": int(rt_style[i]) if has_rt[i] else -1,
                "phone_number": bool(phone_number[i]),
                "renewal": reg.quota_on(dt.date(snapshot.year - 1, 12, 31)) > 0,
                "file": f"submissions/{reg.slug}/{kec}/usulan_pekerja_rentan_{slug(v.at[i, 'name'])}.{ext}",
                "file_issue": "",
            })
        parts.append(pd.DataFrame(rows))
    out = pd.concat(parts, ignore_index=True)
    return _assign_file_issues(rng, out)


def _assign_file_issues(rng: np.random.Generator, p: pd.DataFrame) -> pd.DataFrame:
    silent = np.flatnonzero(p["status"].to_numpy() == "silent")
    if len(silent) < len(FILE_ISSUES):
        extra = rng.choice(np.flatnonzero(p["status"].to_numpy() != "silent"), len(FILE_ISSUES) - len(silent),
                           replace=False)
        p.loc[extra, ["status", "n_rows"]] = ["silent", 0]
        silent = np.flatnonzero(p["status"].to_numpy() == "silent")
    chosen = rng.choice(silent, len(FILE_ISSUES), replace=False)
    for idx, issue in zip(chosen, FILE_ISSUES):
        p.at[idx, "file_issue"] = issue
        stem = p.at[idx, "file"].rsplit(".", 1)[0]
        if issue == "header_only":
            p.at[idx, "format"] = "csv_semicolon_cp1252"
            p.at[idx, "file"] = stem + ".csv"
            p.at[idx, "sheet"] = ""
            p.at[idx, "title_rows"] = ()
        else:
            p.at[idx, "format"] = "xlsx"
            p.at[idx, "file"] = stem + ".xlsx"
            p.at[idx, "sheet"] = "Sheet1"
    return p


def csv_format(fmt: str) -> dict:
    return CSV_FORMATS[fmt]


# ---- how a village's name gets typed ----

def _norm(name: str) -> str:
    return "".join(ch for ch in name.upper() if ch.isalpha())


def _typo(rng: np.random.Generator, name: str, taken: set[str]) -> str:
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    for _ in range(20):
        i = letters[int(rng.integers(0, len(letters)))]
        op = int(rng.integers(0, 3))
        if op == 0:
            cand = name[:i] + name[i + 1:]
        elif op == 1:
            cand = name[:i] + name[i] + name[i:]
        else:
            vowels = "aiueo" if name[i].islower() else "AIUEO"
            cand = name[:i] + vowels[int(rng.integers(0, 5))] + name[i + 1:]
        if cand != name and _norm(cand) not in taken and _norm(cand) != _norm(name):
            return cand
    return name.lower()


def spelling_variants(rng: np.random.Generator, p: pd.DataFrame) -> pd.DataFrame:
    """Per village: its name as the file normally shows it, and three harmless misspellings."""
    shown, case, nospace, typo = [], [], [], []
    taken_by_regency = {reg: {_norm(n) for n in g["village_name"]} for reg, g in p.groupby("regency")}
    for name, upper, reg in zip(p["village_name"], p["upper"], p["regency"]):
        base = name.upper() if upper else name
        shown.append(base)
        case.append(name if upper else name.lower())
        # no_space is harmless only when the name's letters stay the name's letters
        nospace.append(base.replace(" ", "", 1) if " " in base else "")
        taken = taken_by_regency[reg] - {_norm(name)}
        typo.append(_typo(rng, base, taken))
    return pd.DataFrame({"shown": shown, "case": case, "no_space": nospace, "typo": typo})


_SYLLABLES_A = ("Tanjung", "Muara", "Air", "Sungai", "Talang", "Lubuk", "Pulau", "Karang", "Padang", "Gunung",
                "Bukit", "Tebing", "Sri", "Way")
_SYLLABLES_B = ("Bening", "Sentosa", "Harapan", "Permai", "Lestari", "Berkah", "Damai", "Cempaka", "Kenanga",
                "Mulia", "Gemilang", "Pelangi", "Rindang", "Sejuk")


def unknown_village_names(rng: np.random.Generator, p: pd.DataFrame,
                          all_villages: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per regency, names that are no village of it and not near one: made up, or real elsewhere."""
    out = {}
    for reg, g in p.groupby("regency", sort=False):
        code = g["regency_code"].iat[0]
        own = all_villages.loc[all_villages["regency_code"] == code, "name"].tolist()
        own_norm = {_norm(x) for x in own}
        made_up = [f"{a} {b}" for a in _SYLLABLES_A for b in _SYLLABLES_B]
        others = all_villages.loc[(all_villages["regency_code"] != code)
                                  & all_villages["regency_code"].str[:2].isin(["16", "18"]), "name"].unique().tolist()
        cand = sorted(set(made_up)) + sorted(set(others))
        cand = [c for c in cand if _norm(c) not in own_norm]
        score = process.cdist(cand, own, scorer=fuzz.ratio, processor=str.upper, workers=1).max(axis=1)
        ok = np.array(cand, dtype=object)[score < 75]
        out[reg] = ok[np.sort(rng.choice(len(ok), min(60, len(ok)), replace=False))]
    return out
