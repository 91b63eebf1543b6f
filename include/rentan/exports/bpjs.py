"""The reconciled package each BPJS TK branch receives, one folder per branch and snapshot:
``exports/bpjs/<branch>/<snapshot_date>/``.

- ``daftar_pendaftaran_<branch>_<date>.xlsx`` and ``.csv``: the people to enrol (eligible, within
  their village's quota), with what a branch needs to register them: NIK, name, birth place and
  date, sex, address, village, programmes JKK and JKM, the reported income basis and the monthly
  contribution, from configuration;
- ``pengecualian_<branch>_<date>.xlsx``: every proposal not on that list, with its reason in
  Bahasa Indonesia and English: duplicates (naming the village that keeps the person), already
  covered, ineligible, awaiting review, over quota, and rows turned back at validation;
- ``rekonsiliasi_desa_<branch>_<date>.xlsx``: per village, proposed, eligible, enrolled, active,
  budgeted, paid and gap, read from the published marts;
- ``manifest.json``: each file's rows and SHA-256.

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
from pathlib import Path

import duckdb
import pandas as pd

from rentan.config import Config, load_config
from rentan.exports.xlsx import neutralise, write_xlsx
from rentan.fsutil import replace_dir
from rentan.standardise.reasons import REASONS
from rentan.ingest.ledger import Ledger
from rentan.progress import track
from rentan.settings import DataPaths, data_paths, snapshot_cutoff

log = logging.getLogger(__name__)

STATUS_ID = {"duplicate": "GANDA", "already_covered": "SUDAH TERDAFTAR", "already_enrolled": "SUDAH DIBAYAR DESA",
             "ineligible": "TIDAK MEMENUHI SYARAT", "needs_review": "MENUNGGU VERIFIKASI", "eligible": "LEBIH KUOTA",
             "rejected": "DITOLAK SAAT VALIDASI"}


def _people(con: duckdb.DuckDBPyConnection, paths: DataPaths, regencies: list[str], snapshot: dt.date) -> pd.DataFrame:
    cand, subs = paths.identity_glob("enrolment_candidates", snapshot), paths.parquet_glob("silver", "submissions")
    if cand is None or subs is None:
        return pd.DataFrame()
    return con.sql(f"""
        select c.area as regency, c.record_id, c.status, c.reason, c.over_quota, c.duplicate_of_village,
               c.quota_rank, s.nik, s.name, s.birth_place, s.birth_date, s.sex, s.address, s.rt_rw,
               c.village_code, v.name as village_name, v.district_name, c.funding_source,
               c.source_file, c.row_number
        from read_parquet('{cand}', hive_partitioning = true) c
        join read_parquet('{subs}', hive_partitioning = true, union_by_name = true) s
          on c.record_id = 'usulan:' || left(s.file_sha256, 16) || ':' || s.row_number
        left join ref_villages v on v.code = c.village_code
        where c.area in (select unnest($regencies))
        order by c.village_code, c.quota_rank nulls last, c.source_file, c.row_number""",
                   params={"regencies": regencies}).to_arrow_table().to_pandas()


def _rejected(con: duckdb.DuckDBPyConnection, paths: DataPaths, regencies: list[str]) -> pd.DataFrame:
    q = paths.parquet_glob("quarantine", "submissions")
    if q is None:
        return pd.DataFrame()
    return con.sql(f"""
        select area as regency, village_code, v.name as village_name, name_given as name, reason_code,
               alasan, reason, source_file, row_number
        from read_parquet('{q}', hive_partitioning = true, union_by_name = true) q
        left join ref_villages v on v.code = q.village_code
        where area in (select unnest($regencies)) and file_sha256 in (select file_sha256 from received)
        order by source_file, row_number""", params={"regencies": regencies}).to_arrow_table().to_pandas()


def _reason_texts(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    def text(code, lang):
        r = REASONS.get(code)
        return getattr(r, lang) if r else code
    uniq = codes.dropna().unique()
    return (codes.map({c: text(c, "id") for c in uniq}), codes.map({c: text(c, "en") for c in uniq}))


def _enrolment_list(people: pd.DataFrame, config: Config) -> pd.DataFrame:
    rates = config.programme.rates
    keep = people[(people["status"] == "eligible") & ~people["over_quota"].astype(bool)]
    return pd.DataFrame({
        "NO": range(1, len(keep) + 1),
        "NIK": keep["nik"].to_numpy(),
        "NAMA": keep["name"].to_numpy(),
        "TEMPAT LAHIR": keep["birth_place"].to_numpy(),
        "TANGGAL LAHIR": pd.to_datetime(keep["birth_date"]).to_numpy(),
        "JENIS KELAMIN": keep["sex"].to_numpy(),
        "ALAMAT": keep["address"].to_numpy(),
        "RT/RW": keep["rt_rw"].to_numpy(),
        "KODE DESA": keep["village_code"].to_numpy(),
        "DESA": keep["village_name"].to_numpy(),
        "KECAMATAN": keep["district_name"].to_numpy(),
        "PROGRAM": "JKK, JKM",
        "UPAH DILAPORKAN": rates.income_basis_min_idr,
        "IURAN JKK": rates.jkk_monthly_idr,
        "IURAN JKM": rates.jkm_monthly_idr,
        "IURAN PER BULAN": rates.monthly_idr,
        "SUMBER DANA": keep["funding_source"].to_numpy(),
    })


def _exceptions(people: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
    out = people[(people["status"] != "eligible") | people["over_quota"].astype(bool)].copy()
    out["code"] = out["reason"].where(out["status"] != "eligible", "over_quota")
    parts = [pd.DataFrame({
        "NIK": out["nik"], "NAMA": out["name"], "KODE DESA": out["village_code"], "DESA": out["village_name"],
        "STATUS": out["status"].map(STATUS_ID), "KODE ALASAN": out["code"],
        "DESA PEMEGANG": out["duplicate_of_village"], "BERKAS": out["source_file"], "BARIS": out["row_number"],
    })]
    if not rejected.empty:
        parts.append(pd.DataFrame({
            "NIK": pd.NA, "NAMA": rejected["name"], "KODE DESA": rejected["village_code"],
            "DESA": rejected["village_name"], "STATUS": STATUS_ID["rejected"], "KODE ALASAN": rejected["reason_code"],
            "DESA PEMEGANG": pd.NA, "BERKAS": rejected["source_file"], "BARIS": rejected["row_number"],
        }))
    frame = pd.concat(parts, ignore_index=True)
    frame["ALASAN"], frame["REASON"] = _reason_texts(frame["KODE ALASAN"])
    frame["BARIS"] = frame["BARIS"].astype("Int64")
    for c in ("NIK", "NAMA", "KODE DESA", "DESA", "STATUS", "KODE ALASAN", "DESA PEMEGANG", "BERKAS"):
        frame[c] = frame[c].astype("string")
    return frame[["NIK", "NAMA", "KODE DESA", "DESA", "STATUS", "KODE ALASAN", "ALASAN", "REASON",
                  "DESA PEMEGANG", "BERKAS", "BARIS"]]


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


def _csv(frame: pd.DataFrame, path: Path) -> None:
    # the csv is opened in Excel too: the same injection guard as the xlsx, and identifiers as text
    out = frame.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = neutralise(out[c])
        elif pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%d-%m-%Y")
    out.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(paths: DataPaths | None = None, *, load_id: str, snapshot: dt.date, config: Config | None = None,
           branches: list[str] | None = None, cutoff: dt.datetime | None = None) -> dict:
    paths = paths or data_paths()
    config = config or load_config()
    from rentan.reference import villages

    created = dt.datetime.combine(snapshot, dt.time(0, 0))
    report = {}
    con = duckdb.connect()
    locks: list = []
    try:
        con.register("ref_villages", villages())
        ledger = Ledger(paths.ledger_url)
        try:
            shas = list(ledger.received_before(cutoff or snapshot_cutoff(snapshot)))
        finally:
            ledger.dispose()
        con.register("received", pd.DataFrame({"file_sha256": pd.Series(shas, dtype="string")}))
        chosen = [b for b in config.branches.values() if not branches or b.slug in branches]
        for b in track(chosen, f"export {snapshot}", "branch packages"):
            regencies = list(b.regencies)
            people = _people(con, paths, regencies, snapshot)
            rejected = _rejected(con, paths, regencies)
            recon = _reconciliation(con, paths, regencies, snapshot)
            stem = f"{b.slug}_{snapshot.isoformat()}"
            final = paths.exports / "bpjs" / b.slug / snapshot.isoformat()
            final.parent.mkdir(parents=True, exist_ok=True)
            lock = open(final.parent / ".lock", "w")
            locks.append(lock)  # closed (and so released) below, whatever happens
            # one writer per branch at a time (the DAG and a hand-run `rentan export` alike)
            fcntl.flock(lock, fcntl.LOCK_EX)
            # what a killed run left behind holds personal data: it goes now
            for stale in [*final.parent.glob(".*.tmp"), *final.parent.glob(".*.old")]:
                shutil.rmtree(stale, ignore_errors=True)
            tmp = final.parent / f".{final.name}.{os.getpid()}.tmp"
            tmp.mkdir()
            enrol = _enrolment_list(people, config) if not people.empty else _enrolment_list(
                pd.DataFrame(columns=["status", "over_quota", "nik", "name", "birth_place", "birth_date", "sex",
                                      "address", "rt_rw", "village_code", "village_name", "district_name",
                                      "funding_source"]), config)
            exc = _exceptions(people, rejected) if not people.empty else _exceptions(
                people.reindex(columns=["status", "over_quota", "reason", "nik", "name", "village_code",
                                        "village_name", "duplicate_of_village", "source_file", "row_number"]),
                rejected)
            title = [config.branches[b.slug].name, f"Data per {snapshot:%d-%m-%Y}; kabupaten: "
                     + ", ".join(config.regencies[r].name for r in regencies)]
            files = {
                f"daftar_pendaftaran_{stem}.xlsx": (enrol, "Pendaftaran"),
                f"pengecualian_{stem}.xlsx": (exc, "Pengecualian"),
                f"rekonsiliasi_desa_{stem}.xlsx": (recon, "Rekonsiliasi"),
            }
            manifest = {"branch": b.slug, "branch_name": b.name, "snapshot_date": snapshot.isoformat(),
                        "load_id": load_id, "regencies": regencies, "files": {}}
            for name, (frame, sheet) in files.items():
                write_xlsx(tmp / name, {sheet: frame}, created=created, title_rows={sheet: title})
                manifest["files"][name] = {"rows": int(len(frame)), "sha256": _sha256(tmp / name)}
            csv_name = f"daftar_pendaftaran_{stem}.csv"
            _csv(enrol, tmp / csv_name)
            manifest["files"][csv_name] = {"rows": int(len(enrol)), "sha256": _sha256(tmp / csv_name)}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            replace_dir(tmp, final)
            fcntl.flock(lock, fcntl.LOCK_UN)
            report[b.slug] = {name: f["rows"] for name, f in manifest["files"].items()}
            log.info("export for branch %s, %s: %s", b.slug, snapshot, report[b.slug])
    finally:
        con.close()
        for lock in locks:
            lock.close()
    return {"load_id": load_id, "snapshot": snapshot.isoformat(), "branches": report}
