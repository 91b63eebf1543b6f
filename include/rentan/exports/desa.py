"""Fix-lists (daftar perbaikan) for the villages: every submitted row we turned back, with what is
wrong and what to do, in Bahasa Indonesia, one workbook per village.

Layout, below ``<data>/exports/desa/``::

    <regency slug>/<village code>/daftar_perbaikan_<village name>_<village code>.xlsx
    <regency slug>/tanpa-kode-desa/daftar_perbaikan_<file stem>.xlsx   (file's village not known)
    <regency slug>/templat_usulan_<regency slug>.xlsx                  (blank form, see template.py)

A regency's folder always mirrors the current quarantine: it is built complete in ``<data>/work``
and swapped in, so a village whose rows are all fixed no longer finds an old list telling it
otherwise. The workbooks do hold names and NIKs, since they go back to the village that typed
them; file names and log lines never do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import shutil
import uuid
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import yaml

from rentan import lists as village_lists
from rentan import reference
from rentan.config import DEFAULT_CONFIG, Config, Regency, load_config
from rentan.core.files import replace_dir
from rentan.core.ledger import Ledger
from rentan.core.night import end_of_day
from rentan.core.paths import DataPaths
from rentan.core.settings import data_paths

from .template import template_name, write_template
from .turned_back import quarantined
from .xlsx import write_xlsx

log = logging.getLogger(__name__)

SOURCE = "submissions"
UNKNOWN_VILLAGE_DIR = "tanpa-kode-desa"
VILLAGE_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")

TITLE = "DAFTAR PERBAIKAN USULAN PEKERJA RENTAN"
MAIN_SHEET = "Daftar Perbaikan"
SUMMARY_SHEET = "Ringkasan"
COLUMNS = ["Berkas", "Lembar", "Baris", "Nama", "Kolom", "Isi Saat Ini", "Masalah", "Masalah Lain",
           "Yang Harus Dilakukan", "Saran"]
HELD_BACK = "SELURUH BERKAS DITAHAN"

@lru_cache(maxsize=1)
def _header_names() -> dict[str, str]:
    """Canonical field -> the header a village form usually has, for rows where the sender's
    own header is unknown (a missing column)."""
    path = DEFAULT_CONFIG.with_name("headers.yaml")
    try:
        spellings = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(SOURCE) or {}
    except OSError:
        return {}
    return {f: str(s[0]) for f, s in spellings.items() if s}


def name_slug(name: str) -> str:
    """A village name as a file name part: ``Tanjung Sakti`` -> ``tanjung-sakti``."""
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-") or "desa"


def _regency_slugs(rows: pd.DataFrame, config: Config) -> pd.Series:
    by_code = pd.Series({r.code: slug for slug, r in config.regencies.items()}, dtype="string")
    area = rows["area"].astype("string")
    from_area = area.where(area.isin(list(config.regencies)))
    return from_area.fillna(rows["regency_code"].astype("string").map(by_code)).astype("string")


def _file_keys(rows: pd.DataFrame) -> pd.Series:
    """For rows of no known village: the fix-list's name part, one per source file, from the file's
    own stem in safe characters (a hash of the path is added when two files of a regency would
    share it). Null for rows of a known village."""
    unknown = rows["village"].isna()
    files = rows.loc[unknown, ["slug", "source_file"]].drop_duplicates().astype("string")
    stem = (files["source_file"].str.replace("\\", "/", regex=False).str.rsplit("/", n=1).str[-1]
            .str.replace(r"\.[^.]*$", "", regex=True)
            .str.replace(r"[^A-Za-z0-9._-]+", "_", regex=True).str.strip("._-").str[:80])
    stem = stem.mask(stem.fillna("").eq(""), "berkas")
    clash = pd.concat([files["slug"], stem.rename("stem")], axis=1).duplicated(keep=False)
    if clash.any():
        tag = files.loc[clash, "source_file"].map(lambda f: hashlib.sha256(f.encode("utf-8")).hexdigest()[:8])
        stem[clash] = stem[clash] + "_" + tag
    key = pd.Series(stem.to_numpy(), index=pd.MultiIndex.from_frame(files), dtype="string")
    at = pd.MultiIndex.from_frame(rows[["slug", "source_file"]].astype("string"))
    return pd.Series(key.reindex(at).to_numpy(), index=rows.index, dtype="string").where(unknown)


def _table(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The fix-lists of all villages at once (one call, not one per village: pandas costs per call):
    each list's rows by file and row, each held-back file led by one line that says the whole file
    was held back and why. Sorted by ``by`` (the list) first; the rows carry ``by``'s columns."""
    headers = _header_names()
    field = rows["field"].astype("string")
    field_header = field.map(headers).astype("string").fillna(field.str.replace("_", " ").str.upper())
    body = pd.DataFrame({
        **{k: rows[k] for k in by},
        "Berkas": rows["berkas"],
        "Lembar": rows["sheet"].astype("string").fillna(""),
        "Baris": rows["row_number"].astype("Int64"),
        "Nama": rows["name_given"].astype("string"),
        "Kolom": rows["sender_header"].astype("string").str.strip().replace("", pd.NA).fillna(field_header),
        "Isi Saat Ini": rows["value"].astype("string"),
        "Masalah": rows["masalah"].astype("string"),
        "Masalah Lain": rows["masalah_lain"].astype("string"),
        "Yang Harus Dilakukan": rows["tindakan_"].astype("string"),
        "Saran": rows["suggestions"].astype("string"),
        "_file": rows["source_file"].astype("string"),
        "_line": 1,
    })
    held = rows[rows["held"].astype(bool)]
    if len(held):
        one_file = [*by, "source_file"]
        first = held.sort_values(["source_file", "row_number"]).drop_duplicates(one_file)
        n_rows = held.groupby(one_file).size().rename("n_rows")
        n_held = first[one_file].merge(n_rows, left_on=one_file, right_index=True, how="left")["n_rows"]
        missing_col = first["reason_code"].eq("missing_column") & first["field"].notna()
        col_name = field_header.reindex(first.index)
        why = first["masalah"].astype("string").where(
            ~missing_col, first["masalah"].astype("string") + " Kolom yang tidak ada: " + col_name)
        lead = pd.DataFrame({
            **{k: first[k] for k in by},
            "Berkas": first["berkas"],
            "Lembar": "",
            "Baris": pd.Series(pd.NA, index=first.index, dtype="Int64"),
            "Nama": pd.NA,
            "Kolom": col_name.where(missing_col),
            "Isi Saat Ini": pd.NA,
            "Masalah": f"{HELD_BACK} (" + n_held.astype("string") + " baris): " + why,
            "Masalah Lain": pd.NA,
            "Yang Harus Dilakukan": first["tindakan_"].astype("string"),
            "Saran": "Semua baris berkas ini di bawah ikut ditahan. Perbaiki berkasnya, lalu kirim ulang seluruh berkas.",
            "_file": first["source_file"].astype("string"),
            "_line": 0,
        })
        body = pd.concat([lead, body], ignore_index=True)
    # every column is a sort key, so equal input gives equal order whatever order the files were read in
    keys = [*by, "_file", "_line", "Lembar", "Baris"] + [c for c in COLUMNS if c not in ("Lembar", "Baris")]
    body = body.sort_values(keys, na_position="first", kind="mergesort")
    return body[[*by, *COLUMNS]].reset_index(drop=True)


def _summary(per: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows per problem and file of every list; ``per`` has one line per reason of each row."""
    counts = (per.groupby([*by, "source_file", "berkas", "masalah"], dropna=False)
              .agg(tindakan=("tindakan", "first"), n=("rid", "nunique")).reset_index())
    counts = counts.sort_values([*by, "source_file", "n", "masalah"], ascending=[*(True for _ in by), True, False, True],
                                kind="mergesort")
    return pd.DataFrame({
        **{k: counts[k] for k in by},
        "Berkas": counts["berkas"].astype("string"),
        "Masalah": counts["masalah"].astype("string"),
        "Yang Harus Dilakukan": counts["tindakan"].astype("string"),
        "Jumlah Baris": counts["n"].astype("int64"),
    }).reset_index(drop=True)


def _counts(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per list: rows turned back, files they came from, files held back whole."""
    held = rows["source_file"].where(rows["held"].astype(bool))
    return (rows.assign(_held=held).groupby(by, sort=False)
            .agg(n_rows=("rid", "nunique"), n_files=("source_file", "nunique"), n_held=("_held", "nunique")))


def _titles(regency: Regency, place: str, snapshot: dt.date, counts) -> list[str]:
    lines = [
        TITLE,
        f"{place}, {regency.name}",
        f"Keadaan data per {snapshot:%d-%m-%Y}",
        f"{counts.n_rows} baris dari {counts.n_files} berkas belum dapat diterima. Perbaiki baris-baris ini pada "
        "berkas asli, lalu kirim ulang seluruh berkas.",
    ]
    if counts.n_held:
        lines.append(f"PERHATIAN: {counts.n_held} berkas ditahan seluruhnya; lihat baris bertanda {HELD_BACK}.")
    return lines


def _swap_in(built: Path, target: Path, scratch: Path) -> None:
    """Put the folder ``built`` at ``target`` in place of the old one, in one step; with nothing
    built, the old one just goes."""
    try:
        if built.exists() and any(built.iterdir()):
            target.parent.mkdir(parents=True, exist_ok=True)
            replace_dir(built, target)
        elif target.exists():
            old = scratch / f"{target.name}.old.{uuid.uuid4().hex}"
            os.rename(target, old)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(built, ignore_errors=True)


def write_fix_lists(paths: DataPaths | str | os.PathLike | None = None, *, snapshot: dt.date | None = None,
                    config: Config | None = None, regencies: list[str] | None = None,
                    files: set[str] | None = None, replaced: pd.DataFrame | None = None) -> list[Path]:
    """Write every village's fix-list from the submissions quarantine, and each regency's blank
    submission form beside them; return the fix-lists written.
    ``regencies`` limits it to those regency slugs (the others' folders are left as they are);
    ``files`` to the rows of those files (SHA-256) received by the night, less the ``replaced``
    rows (file_sha256, row_number) a later list of the village replaced (``rentan.lists``).

    ``snapshot`` is the date the lists say the data is as of (today if not given); it also fixes
    the workbooks' created time, so a rerun on unchanged data rewrites identical bytes."""
    paths = paths if isinstance(paths, DataPaths) else data_paths(paths)
    config = config or load_config()
    snapshot = snapshot or dt.date.today()
    created = dt.datetime.combine(snapshot, dt.time())
    quarantine = paths.layer("quarantine", SOURCE)
    out_root = paths.exports / "desa"
    rows, reasons = quarantined(quarantine, files, replaced)
    lists = _lists(rows, reasons, config)

    scratch = paths.work / "exports"
    scratch.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for slug, regency in config.regencies.items():
        if regencies and slug not in regencies:
            continue
        _build_regency(scratch, out_root / slug, slug, regency, config, lists, snapshot, created)
        done = [out_root / slug / rel for rel, _ in lists.by_regency[slug]]
        log.info("fix-lists for %s: %d written, %d rows", slug, len(done),
                 sum(len(part) for _, part in lists.by_regency[slug]))
        written.extend(done)
    return sorted(written)


# a fix-list is one (regency slug, list path) pair
_BY = ["slug", "list"]


class _Lists(NamedTuple):
    """Every fix-list's rows by regency slug, and its sheets' parts by (regency slug, list path)."""

    by_regency: dict[str, list[tuple[str, pd.DataFrame]]]
    known: pd.DataFrame  # the reference's villages, by code
    tables: dict
    summaries: dict
    counts: pd.DataFrame


def _lists(rows: pd.DataFrame, reasons: pd.DataFrame, config: Config) -> _Lists:
    by_regency: dict[str, list[tuple[str, pd.DataFrame]]] = {slug: [] for slug in config.regencies}
    if not len(rows):
        return _Lists(by_regency, pd.DataFrame(), {}, {}, pd.DataFrame())
    rows, reasons, known = _assign_lists(rows, reasons, config)
    lists = rows.groupby(_BY, sort=True)
    tables = dict(list(_table(rows, _BY).groupby(_BY, sort=False)))
    summaries = dict(list(_summary(reasons, _BY).groupby(_BY, sort=False)))
    counts = _counts(rows, _BY)
    for (slug, rel), part in lists:
        by_regency[slug].append((rel, part))
    return _Lists(by_regency, known, tables, summaries, counts)


def _assign_lists(rows: pd.DataFrame, reasons: pd.DataFrame,
                  config: Config) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Each row's regency slug, village, file name and fix-list (``list``, its path below the
    regency's folder), rows of no configured regency left out; the reasons with the same; and the
    reference's villages by code."""
    rows["slug"] = _regency_slugs(rows, config)
    stray = rows["slug"].isna()
    if stray.any():
        log.warning("%d quarantined %s rows belong to no configured regency; no fix-list for them",
                    int(stray.sum()), SOURCE)
        rows = rows[~stray].copy()
    code = rows["village_code"].astype("string").str.strip()
    # a code of any other shape must not become a folder name
    rows["village"] = code.where(code.str.fullmatch(VILLAGE_CODE.pattern).fillna(False).astype(bool))
    rows["berkas"] = (rows["source_file"].astype("string").str.replace("\\", "/", regex=False)
                      .str.rsplit("/", n=1).str[-1])
    known = reference.villages(sorted({*rows["regency_code"].dropna().tolist(),
                                       *(r.code for r in config.regencies.values())}))
    known = known.drop_duplicates("code").set_index("code")
    # the list is named by the village's name and code, so an operator finds theirs at a glance
    named = rows["village"].map(known["name"].map(name_slug)).astype("string")
    stem = (named + "_" + rows["village"]).fillna(rows["village"])
    rows["list"] = (rows["village"] + "/daftar_perbaikan_" + stem + ".xlsx").fillna(
        f"{UNKNOWN_VILLAGE_DIR}/daftar_perbaikan_" + _file_keys(rows) + ".xlsx")
    reasons = reasons.merge(rows[["rid", "list", "slug", "berkas", "source_file"]], on="rid")
    return rows, reasons, known


def _build_regency(scratch: Path, target: Path, slug: str, regency: Regency, config: Config, lists: _Lists,
                   snapshot: dt.date, created: dt.datetime) -> None:
    """The regency's fix-lists and blank form, built in ``scratch`` and swapped in at ``target``."""
    built = scratch / f"desa-{slug}.{uuid.uuid4().hex}"
    try:
        # one after the other, in this process: a pool forked from a task process whose Arrow
        # threads hold a lock at that moment deadlocks in the child (seen under `airflow dags test`)
        for rel, part in lists.by_regency[slug]:
            village = part["village"].iat[0]
            titles = _titles(regency, _place(regency, village, part, lists.known), snapshot,
                             lists.counts.loc[(slug, rel)])
            sheets = {MAIN_SHEET: lists.tables[(slug, rel)][COLUMNS].reset_index(drop=True),
                      SUMMARY_SHEET: lists.summaries[(slug, rel)].drop(columns=_BY).reset_index(drop=True)}
            write_xlsx(built / rel, sheets, created=created, title_rows={MAIN_SHEET: titles, SUMMARY_SHEET: titles[:3]})
        # the regency's blank form travels with the lists, so a village fixing its rows has it at hand
        write_template(built / template_name(regency), regency, config, created=created)
        _swap_in(built, target, scratch)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise


def _place(regency: Regency, village, part: pd.DataFrame, known: pd.DataFrame) -> str:
    """The title line naming who the list is for."""
    word = regency.village_word.capitalize()
    if pd.isna(village):
        return f"{word} belum dikenali (berkas {part['berkas'].iat[0]})"
    if village not in known.index:
        return f"{word} dengan kode {village}"
    info = known.loc[village]
    word = "Kelurahan" if info["kind"] == "kelurahan" else word
    return f"{word} {info['name']} (kode {village}), Kecamatan {info['district_name']}"


def write_night_fix_lists(paths: DataPaths, *, snapshot: dt.date, regencies: list[str],
                          config: Config | None = None) -> list[Path]:
    """The fix-lists of the regencies whose submissions were standardised tonight, from the
    villages' current lists as of this night: a list a village has replaced is not theirs to fix."""
    if not regencies:
        return []
    config = config or load_config()
    with Ledger(paths.ledger_url) as ledger:
        now = village_lists.current(paths, ledger, end_of_day(snapshot), config.programme.revision_share)
    return write_fix_lists(paths, snapshot=snapshot, config=config, regencies=regencies,
                           files=set(now.files), replaced=now.replaced)
