"""Who a branch was asked to enrol in its last package and is no longer proposed tonight: the
village withdrew them (a later list of the same village and year left them out).

Each package's enrolment list is kept, with the person keys, under
``warehouse/silver/sent/branch=<branch>/snapshot_date=<date>/enrolment.parquet`` (silver holds
personal data already; no mart reads it). Tonight's package lists, in ``penarikan_*.xlsx``, the
people of the latest earlier package whose person key and NIK are both absent from tonight's
proposals of the branch's regencies, whatever their status.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from rentan.core.paths import DataPaths

SENT_COLUMNS = ["record_id", "person_key", "nik", "name", "village_code", "village_name", "source_file"]


def sent_dir(paths: DataPaths, branch: str) -> Path:
    return paths.warehouse / "silver" / "sent" / f"branch={branch}"


def record_sent(paths: DataPaths, branch: str, snapshot: dt.date, enrolled: pd.DataFrame) -> None:
    """Keep who tonight's package asks the branch to enrol (replacing a rerun's earlier record)."""
    target = sent_dir(paths, branch) / f"snapshot_date={snapshot.isoformat()}" / "enrolment.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    enrolled.reindex(columns=SENT_COLUMNS).astype("string").to_parquet(tmp, index=False, compression="zstd")
    os.replace(tmp, target)


def previous(paths: DataPaths, branch: str, snapshot: dt.date) -> tuple[dt.date | None, pd.DataFrame]:
    """The latest package before ``snapshot`` and who it listed."""
    folder = sent_dir(paths, branch)
    days = sorted(dt.date.fromisoformat(p.name.split("=", 1)[1]) for p in folder.glob("snapshot_date=*")
                  if (p / "enrolment.parquet").exists()) if folder.exists() else []
    earlier = [d for d in days if d < snapshot]
    if not earlier:
        return None, pd.DataFrame(columns=SENT_COLUMNS, dtype="string")
    last = earlier[-1]
    return last, pd.read_parquet(folder / f"snapshot_date={last.isoformat()}" / "enrolment.parquet")


def withdrawn(paths: DataPaths, branch: str, snapshot: dt.date, proposed: pd.DataFrame,
              successors: dict[str, str]) -> pd.DataFrame:
    """The withdrawal sheet: people of the last package no longer proposed tonight.
    ``proposed``: tonight's proposals (any status) with person_key and nik; ``successors``:
    a superseded list's file -> the list that replaced it."""
    last, sent = previous(paths, branch, snapshot)
    keys = set(proposed["person_key"].dropna()) if "person_key" in proposed else set()
    niks = set(proposed["nik"].dropna()) if "nik" in proposed else set()
    gone = sent[~sent["person_key"].isin(keys) & ~sent["nik"].isin(niks)]
    return pd.DataFrame({
        "NIK": gone["nik"].astype("string"),
        "NAMA": gone["name"].astype("string"),
        "KODE DESA": gone["village_code"].astype("string"),
        "DESA": gone["village_name"].astype("string"),
        "PAKET SEBELUMNYA": pd.Series([last.isoformat() if last else None] * len(gone), index=gone.index, dtype="string"),
        "DAFTAR LAMA": gone["source_file"].astype("string"),
        "DIGANTI DENGAN DAFTAR": gone["source_file"].map(successors).astype("string"),
    }).reset_index(drop=True)
