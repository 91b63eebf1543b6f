"""The reconciled package each BPJS TK branch receives, one folder per branch and snapshot:
``exports/bpjs/<branch>/<snapshot_date>/``.

- ``daftar_pendaftaran_<branch>_<date>.xlsx``: the people to enrol (eligible, within their
  village's quota), with what a branch needs to register them: NIK, name, birth place and date,
  sex, occupation, address, phone, village, programmes JKK and JKM, the reported income basis and
  the monthly contribution, from configuration; its columns, their order and headers are the
  layout of ``layout.yaml`` or the branch's own;
- ``pengecualian_<branch>_<date>.xlsx``: every proposal not on that list, with its reason in
  Bahasa Indonesia (the code beside it, English last): duplicates (naming the village that keeps
  the person), already covered, ineligible, awaiting review, over quota, and rows turned back at
  validation, with the NIK as the village typed it;
- ``rekonsiliasi_desa_<branch>_<date>.xlsx``: per village, proposed, eligible, enrolled, active,
  budgeted, paid and gap, read from the published marts;
- ``manifest.json``: each file's rows and SHA-256.

Each workbook has a Keterangan sheet (night, rules, counts, contacts, what each column means) and
prints on pages one wide with the header repeated. There is no csv: opened by double-click in a
spreadsheet, a csv's NIKs become numbers and lose their last digit (see the README).

A branch gets only the people of the regencies it serves (its ``regencies`` in configuration). The
folder is written beside its final place and renamed into it, so a branch never picks up half a
package; a re-run of the night replaces it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from rentan import lists as village_lists
from rentan.config import Branch, Config, load_config
from rentan.core.files import replace_dir
from rentan.core.ledger import Ledger
from rentan.core.night import end_of_day as snapshot_cutoff
from rentan.core.paths import DataPaths
from rentan.core.progress import track
from rentan.core.settings import data_paths
from rentan.exports import withdrawn
from rentan.exports.layout import Column, enrolment_columns
from rentan.exports.notes import NOTES_SHEET, NOTES_WIDTHS, PackageNotes, notes_frame
from rentan.exports.xlsx import write_xlsx
from rentan.quality.completeness import IncompleteNight
from rentan.quality.reasons import REASONS
from rentan.standardise import rules_version

log = logging.getLogger(__name__)

STATUS_ID = {"duplicate": "GANDA", "already_covered": "SUDAH TERDAFTAR", "already_enrolled": "SUDAH DIBAYAR DESA",
             "ineligible": "TIDAK MEMENUHI SYARAT", "needs_review": "MENUNGGU VERIFIKASI", "eligible": "LEBIH KUOTA",
             "rejected": "DITOLAK SAAT VALIDASI"}


def _people(con: duckdb.DuckDBPyConnection, paths: DataPaths, regencies: list[str], snapshot: dt.date) -> pd.DataFrame:
    cand, subs = paths.identity_glob("enrolment_candidates", snapshot), paths.parquet_glob("silver", "submissions")
    if cand is None or subs is None:
        return pd.DataFrame()
    return con.sql(f"""
        select c.area as regency, c.record_id, c.person_key, c.status, c.reason, c.over_quota, c.duplicate_of_village,
               k.name as duplicate_of_village_name,
               c.quota_rank, s.nik, s.name, s.birth_place, s.birth_date, s.sex, s.occupation, s.address, s.rt_rw,
               s.phone, c.village_code, v.name as village_name, v.district_name, c.funding_source,
               c.source_file, c.row_number
        from read_parquet('{cand}', hive_partitioning = true) c
        join read_parquet('{subs}', hive_partitioning = true, union_by_name = true) s
          on c.record_id = 'usulan:' || left(s.file_sha256, 16) || ':' || s.row_number
        left join ref_villages v on v.code = c.village_code
        left join ref_villages k on k.code = c.duplicate_of_village
        where c.area in (select unnest($regencies))
        order by c.village_code, c.quota_rank nulls last, c.source_file, c.row_number""",
                   params={"regencies": regencies}).to_arrow_table().to_pandas()


def _rejected(con: duckdb.DuckDBPyConnection, paths: DataPaths, regencies: list[str]) -> pd.DataFrame:
    q = paths.parquet_glob("quarantine", "submissions")
    if q is None:
        return pd.DataFrame()
    rel = con.read_parquet(q, hive_partitioning=True, union_by_name=True)
    # the NIK as the village typed it: quarantines written before nik_given was kept have it only
    # where the NIK itself was at fault
    typed = "case when q.field = 'nik' then q.value end"
    if "nik_given" in rel.columns:
        typed = f"coalesce(q.nik_given, {typed})"
    return con.sql(f"""
        select area as regency, village_code, v.name as village_name, name_given as name, reason_code,
               {typed} as nik_given,
               alasan, reason, source_file, row_number
        from read_parquet('{q}', hive_partitioning = true, union_by_name = true) q
        left join ref_villages v on v.code = q.village_code
        where area in (select unnest($regencies)) and file_sha256 in (select file_sha256 from received)
          and not exists (select 1 from replaced x where x.file_sha256 = q.file_sha256 and x.row_number = q.row_number)
        order by source_file, row_number""", params={"regencies": regencies}).to_arrow_table().to_pandas()


def _reason_texts(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    def text(code, lang):
        r = REASONS.get(code)
        return getattr(r, lang) if r else code
    uniq = codes.dropna().unique()
    return (codes.map({c: text(c, "id") for c in uniq}), codes.map({c: text(c, "en") for c in uniq}))


def phone_display(phone: pd.Series) -> pd.Series:
    """A phone number as a branch dials it: the 0 a numeric cell dropped put back (``8123...`` ->
    ``08123...``) and the country code written the Indonesian way (``+62``/``62`` -> ``0``)."""
    p = phone.astype("string")
    p = p.str.replace(r"^\+?62(?=8)", "0", regex=True)
    return p.mask(p.str.match(r"^8\d{7,12}$").fillna(False).astype(bool), "0" + p)


ENROLMENT_INPUT = ["status", "over_quota", "nik", "name", "birth_place", "birth_date", "sex", "occupation",
                   "address", "rt_rw", "phone", "village_code", "village_name", "district_name", "funding_source",
                   "regency", "source_file", "row_number"]


def _enrolment_list(people: pd.DataFrame, config: Config, columns: list[Column]) -> pd.DataFrame:
    rates = config.programme.rates
    people = people.reindex(columns=list(dict.fromkeys([*people.columns, *ENROLMENT_INPUT])))
    keep = people[(people["status"] == "eligible") & ~people["over_quota"].astype(bool)]
    n = len(keep)

    def text(col: str) -> pd.Series:
        return keep[col].astype("string").reset_index(drop=True)

    def const(value) -> pd.Series:
        return pd.Series([value] * n, dtype="int64" if isinstance(value, int) else "string")

    regency_names = {slug: r.name for slug, r in config.regencies.items()}
    values = {
        "no": lambda: pd.Series(range(1, n + 1), dtype="int64"),
        "nik": lambda: text("nik"),
        "nama": lambda: text("name"),
        "tempat_lahir": lambda: text("birth_place"),
        "tanggal_lahir": lambda: pd.Series(pd.to_datetime(keep["birth_date"]).to_numpy()),
        "jenis_kelamin": lambda: text("sex"),
        "pekerjaan": lambda: text("occupation").str.upper(),  # noqa: PLW0108 - evaluated only when asked for
        "no_hp": lambda: phone_display(text("phone")),
        "alamat": lambda: text("address"),
        "rt_rw": lambda: text("rt_rw"),
        "kode_desa": lambda: text("village_code"),
        "desa": lambda: text("village_name"),
        "kecamatan": lambda: text("district_name"),
        "kabupaten": lambda: text("regency").map(regency_names).astype("string"),
        "sumber_dana": lambda: text("funding_source"),
        "program": lambda: const("JKK, JKM"),
        "upah_dilaporkan": lambda: const(rates.income_basis_min_idr),
        "iuran_jkk": lambda: const(rates.jkk_monthly_idr),
        "iuran_jkm": lambda: const(rates.jkm_monthly_idr),
        "iuran_per_bulan": lambda: const(rates.monthly_idr),
        "berkas": lambda: text("source_file").str.rsplit("/", n=1).str[-1],
        "baris": lambda: keep["row_number"].astype("Int64").reset_index(drop=True),
    }
    missing = [c.field for c in columns if c.field not in values]
    if missing:
        raise ValueError(f"no values for enrolment-list field(s) {missing}")
    return pd.DataFrame({c.header: values[c.field]() for c in columns})


EXCEPTION_COLUMNS = ["NIK", "NAMA", "KODE DESA", "DESA", "STATUS", "ALASAN", "KODE ALASAN", "KODE DESA PEMEGANG",
                     "DESA PEMEGANG", "BERKAS", "BARIS", "REASON"]
PEOPLE_EXCEPTION_INPUT = ["status", "over_quota", "reason", "nik", "name", "village_code", "village_name",
                          "duplicate_of_village", "duplicate_of_village_name", "source_file", "row_number"]


def _exceptions(people: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
    """Every proposal not on the enrolment list: the reason in Bahasa Indonesia first, its code
    beside it, English last; each village code beside its name."""
    people = people.reindex(columns=list(dict.fromkeys([*people.columns, *PEOPLE_EXCEPTION_INPUT])))
    out = people[(people["status"] != "eligible") | people["over_quota"].astype(bool)].copy()
    out["code"] = out["reason"].where(out["status"] != "eligible", "over_quota")
    parts = [pd.DataFrame({
        "NIK": out["nik"], "NAMA": out["name"], "KODE DESA": out["village_code"], "DESA": out["village_name"],
        "STATUS": out["status"].map(STATUS_ID), "KODE ALASAN": out["code"],
        "KODE DESA PEMEGANG": out["duplicate_of_village"], "DESA PEMEGANG": out["duplicate_of_village_name"],
        "BERKAS": out["source_file"], "BARIS": out["row_number"],
    })]
    if not rejected.empty:
        parts.append(pd.DataFrame({
            "NIK": rejected["nik_given"], "NAMA": rejected["name"], "KODE DESA": rejected["village_code"],
            "DESA": rejected["village_name"], "STATUS": STATUS_ID["rejected"], "KODE ALASAN": rejected["reason_code"],
            "KODE DESA PEMEGANG": pd.NA, "DESA PEMEGANG": pd.NA, "BERKAS": rejected["source_file"],
            "BARIS": rejected["row_number"],
        }))
    frame = pd.concat(parts, ignore_index=True)
    frame["ALASAN"], frame["REASON"] = _reason_texts(frame["KODE ALASAN"])
    frame["BARIS"] = frame["BARIS"].astype("Int64")
    for c in EXCEPTION_COLUMNS:
        if c != "BARIS":
            frame[c] = frame[c].astype("string")
    return frame[EXCEPTION_COLUMNS]


def _reconciliation(con: duckdb.DuckDBPyConnection, paths: DataPaths, regencies: list[str],
                    snapshot: dt.date) -> pd.DataFrame:
    marts = paths.warehouse / "marts"
    part = f"snapshot_date={snapshot.isoformat()}"
    cov, bud = marts / "coverage_village" / part, marts / "budget_village" / part
    if not any(cov.glob("*.parquet")):
        raise FileNotFoundError(f"no published coverage_village for {snapshot} under {marts}: "
                                "the marts task of this night must succeed before the exports")
    return con.sql(f"""
        select c.village_code as "KODE DESA", c.village_name as "DESA", c.district_name as "KECAMATAN",
               c.quota as "KUOTA", c.proposed as "DIUSULKAN", c.eligible - c.over_quota as "MEMENUHI SYARAT",
               c.enrolled as "TERDAFTAR", c.active as "AKTIF",
               b.contribution_budget_idr as "DIANGGARKAN (RP)", b.realised_idr as "DIBAYAR (RP)",
               b.contribution_required_idr as "IURAN DIBUTUHKAN (RP)", b.gap_idr as "SELISIH (RP)",
               c.submitted as "SUDAH MENGUSULKAN"
        from read_parquet('{cov.as_posix()}/*.parquet') c
        left join (select * from read_parquet('{bud.as_posix()}/*.parquet') where fiscal_year = {snapshot.year}) b
          using (village_code)
        where c.regency in (select unnest($regencies))
        order by c.village_code""", params={"regencies": regencies}).to_arrow_table().to_pandas()


def write_workbook(path: Path, sheet: str, frame: pd.DataFrame, title: list[str], notes: PackageNotes,
                   created: dt.datetime) -> None:
    """One workbook of the package: its table, then the Keterangan sheet describing it."""
    write_xlsx(path, {sheet: frame, NOTES_SHEET: notes_frame(sheet, frame, notes)}, created=created,
               title_rows={sheet: title, NOTES_SHEET: title}, column_widths={NOTES_SHEET: NOTES_WIDTHS})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class _Night:
    """What every branch's package of one export run shares."""
    load_id: str
    snapshot: dt.date
    cutoff: dt.datetime | None
    rules: str
    created: dt.datetime


def export(paths: DataPaths | None = None, *, load_id: str, snapshot: dt.date, config: Config | None = None,
           branches: list[str] | None = None, cutoff: dt.datetime | None = None) -> dict:
    paths = paths or data_paths()
    config = config or load_config()
    from rentan.reference import villages

    night = _Night(load_id=load_id, snapshot=snapshot, cutoff=cutoff, rules=rules_version(),
                   created=dt.datetime.combine(snapshot, dt.time(0, 0)))
    report: dict = {}
    refused: dict[str, str] = {}
    con = duckdb.connect()
    locks: list = []
    try:
        con.register("ref_villages", villages())
        successors = _register_lists(con, paths, config, snapshot, cutoff)
        nights = _completeness(con, paths, snapshot)
        chosen = [b for b in config.branches.values() if not branches or b.slug in branches]
        for b in track(chosen, f"export {snapshot}", "branch packages"):
            if b.slug in nights:
                refused[b.slug] = nights[b.slug]
                log.error("no package for branch %s, %s: its night is incomplete: %s", b.slug, snapshot, nights[b.slug])
                continue
            report[b.slug] = _export_branch(con, paths, config, b, night, successors, locks)
            log.info("export for branch %s, %s: %s", b.slug, snapshot, report[b.slug])
    finally:
        con.close()
        for lock in locks:
            lock.close()
    if refused:
        raise IncompleteNight("no package for " + "; ".join(
            f"branch {b} on {snapshot}: {why}" for b, why in refused.items()))
    return {"load_id": load_id, "snapshot": snapshot.isoformat(), "branches": report}


def _register_lists(con: duckdb.DuckDBPyConnection, paths: DataPaths, config: Config, snapshot: dt.date,
                    cutoff: dt.datetime | None) -> dict[str, str]:
    """Register the villages' current lists as of the night (``received``, ``replaced``) with
    ``con``; return which list replaced rows of which."""
    with Ledger(paths.ledger_url) as ledger:
        cut = cutoff or snapshot_cutoff(snapshot)
        now = village_lists.current(paths, ledger, cut, config.programme.revision_share)
        successors = now.successors(ledger.submission_lists(cut))
    con.register("received", now.received())
    con.register("replaced", now.replaced)
    return successors


def _export_branch(con: duckdb.DuckDBPyConnection, paths: DataPaths, config: Config, b: Branch, night: _Night,
                   successors: dict[str, str], locks: list) -> dict[str, int]:
    """Write branch ``b``'s package into place; return the rows of each of its files. Its lock
    is appended to ``locks``, for the caller to close whatever happens."""
    snapshot = night.snapshot
    regencies = list(b.regencies)
    people = _people(con, paths, regencies, snapshot)
    rejected = _rejected(con, paths, regencies)
    recon = _reconciliation(con, paths, regencies, snapshot)
    stem = f"{b.slug}_{snapshot.isoformat()}"
    final = paths.exports / "bpjs" / b.slug / snapshot.isoformat()
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = open(final.parent / ".lock", "w")  # noqa: SIM115 - held until the package is in place
    locks.append(lock)  # closed (and so released) by export, whatever happens
    # one writer per branch at a time (the DAG and a hand-run `rentan export` alike)
    fcntl.flock(lock, fcntl.LOCK_EX)
    # what a killed run left behind holds personal data: it goes now
    for stale in [*final.parent.glob(".*.tmp"), *final.parent.glob(".*.old")]:
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.parent / f".{final.name}.{os.getpid()}.tmp"
    tmp.mkdir()
    columns = enrolment_columns(b, config)
    enrol = _enrolment_list(people, config, columns)
    exc = _exceptions(people, rejected)
    title = [config.branches[b.slug].name, f"Data per {snapshot:%d-%m-%Y}; kabupaten: "
             + ", ".join(config.regencies[r].name for r in regencies)]
    gone = withdrawn.withdrawn(paths, b.slug, snapshot, people.reindex(columns=["person_key", "nik"]), successors)
    files = {
        f"daftar_pendaftaran_{stem}.xlsx": (enrol, "Pendaftaran"),
        f"pengecualian_{stem}.xlsx": (exc, "Pengecualian"),
        f"rekonsiliasi_desa_{stem}.xlsx": (recon, "Rekonsiliasi"),
        f"penarikan_{stem}.xlsx": (gone, "Penarikan"),
    }
    notes = PackageNotes(branch=b, config=config, snapshot=snapshot, load_id=night.load_id, rules_version=night.rules,
                         cutoff=night.cutoff, rows={sheet: len(frame) for frame, sheet in files.values()},
                         rejected=len(rejected), enrolment_columns=columns)
    manifest = _write_package(tmp, b, regencies, night, files, title, notes)
    replace_dir(tmp, final)
    withdrawn.record_sent(paths, b.slug, snapshot, _sent(people))
    fcntl.flock(lock, fcntl.LOCK_UN)
    return {name: f["rows"] for name, f in manifest["files"].items()}


def _write_package(tmp: Path, b: Branch, regencies: list[str], night: _Night,
                   files: dict[str, tuple[pd.DataFrame, str]], title: list[str], notes: PackageNotes) -> dict[str, Any]:
    """The package's workbooks and manifest, in the folder ``tmp``; return the manifest."""
    manifest: dict[str, Any] = {"branch": b.slug, "branch_name": b.name, "snapshot_date": night.snapshot.isoformat(),
                                "load_id": night.load_id, "regencies": regencies, "files": {}}
    for name, (frame, sheet) in files.items():
        write_workbook(tmp / name, sheet, frame, title, notes, night.created)
        manifest["files"][name] = {"rows": len(frame), "sha256": _sha256(tmp / name)}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _completeness(con: duckdb.DuckDBPyConnection, paths: DataPaths, snapshot: dt.date) -> dict[str, str]:
    """Branch -> why its night is incomplete, from the published ``completeness`` mart of the night."""
    part = paths.warehouse / "marts" / "completeness" / f"snapshot_date={snapshot.isoformat()}"
    if not any(part.glob("*.parquet")):
        raise FileNotFoundError(f"no published completeness mart for {snapshot} under {paths.warehouse / 'marts'}: "
                                "the marts task of this night must succeed before the exports")
    rows = con.sql(f"select branch, incomplete_reason from read_parquet('{part.as_posix()}/*.parquet') "
                   "where not complete").fetchall()
    return dict(rows)


def _sent(people: pd.DataFrame) -> pd.DataFrame:
    """Who the package's enrolment list names, with their person keys (kept in silver)."""
    if people.empty:
        return pd.DataFrame(columns=withdrawn.SENT_COLUMNS)
    keep = people[(people["status"] == "eligible") & ~people["over_quota"].astype(bool)]
    return keep.reindex(columns=withdrawn.SENT_COLUMNS)
