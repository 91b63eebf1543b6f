"""A village's lists for a year, as they stand on a night: which rows still count.

Each submissions file is one village's list for one year (its village: the official village most
of its rows name; its year: the TAHUN most of its rows give, else the year, in WIB, it was
received). When a village sends another list for the same year, received later, it is read
against the people the village's earlier lists still propose (people told apart by their name
as typed, in capitals, letters only):

- a **revision** repeats at least ``revision_share`` (configuration) of those people: it
  replaces the earlier lists whole, so a person it leaves out is withdrawn;
- anything else (**an addition**, or **a partial resend** of a few corrected rows): its people
  are added, and where it names a person an earlier list already proposed, its row replaces the
  earlier row (a corrected NIK, date or village).

Replaced rows leave identity, the marts, the branch exports and the villages' fix-lists; their
files stay in bronze, silver and quarantine, and the ledger names the list that replaced them.
What a night sees depends on its cut-off: a night before the later list arrived sees the earlier
one whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from rentan.core.ledger import Ledger, SubmissionList
from rentan.core.paths import DataPaths

REPLACED_COLUMNS = ["file_sha256", "row_number", "by_sha256"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"file_sha256": pd.Series(dtype="string"), "row_number": pd.Series(dtype="int64"),
                         "by_sha256": pd.Series(dtype="string")})


def _row_keys(paths: DataPaths, shas: list[str]) -> pd.DataFrame:
    """(file_sha256, row_number, key) of every row of those files, valid or quarantined."""
    parts = []
    for layer, name in (("silver", "name"), ("quarantine", "name_given")):
        g = paths.parquet_glob(layer, "submissions")
        if g is not None:
            parts.append(f"select file_sha256, row_number::bigint as row_number, "
                         f"nullif(regexp_replace(upper(coalesce({name}, '')), '[^A-Z]', '', 'g'), '') as key "
                         f"from read_parquet('{g}', hive_partitioning = true, union_by_name = true) "
                         f"where file_sha256 in (select unnest($shas))")
    if not parts:
        return pd.DataFrame(columns=["file_sha256", "row_number", "key"])
    with duckdb.connect() as con:
        return con.execute(" union all ".join(parts) + " order by 1, 2", {"shas": shas}).df()


def replaced_rows(paths: DataPaths, lists: list[SubmissionList], revision_share: float) -> pd.DataFrame:
    """(file_sha256, row_number, by_sha256): the rows of ``lists`` a later list among them replaced."""
    groups: dict[tuple[str, int | None], list[SubmissionList]] = {}
    for lst in lists:
        if lst.village_code:
            groups.setdefault((lst.village_code, lst.year), []).append(lst)
    groups = {k: sorted(g, key=lambda x: (_utc(x.received_at), x.file)) for k, g in groups.items() if len(g) > 1}
    if not groups:
        return _empty()
    keys = _row_keys(paths, [lst.sha256 for g in groups.values() for lst in g])
    # a GroupBy has a .keys attribute that is not a mapping's: dict() of it would call it
    rows_of = {sha: part for sha, part in keys.groupby("file_sha256", sort=False)}  # noqa: C416
    out: list[tuple[str, int, str]] = []
    for group in groups.values():
        current: dict[str, list[tuple[str, int]]] = {}  # person key -> their rows still counting
        unkeyed: list[tuple[str, int]] = []               # rows without a name: replaced only by a revision
        for lst in group:
            part = rows_of.get(lst.sha256)
            if part is None:
                continue
            named = part.dropna(subset=["key"])
            people = set(named["key"])
            if current and len(people & set(current)) >= revision_share * len(current):
                out += [(sha, row, lst.sha256) for rows in current.values() for sha, row in rows]
                out += [(sha, row, lst.sha256) for sha, row in unkeyed]
                current, unkeyed = {}, []
            else:
                for k in people & set(current):
                    out += [(sha, row, lst.sha256) for sha, row in current.pop(k)]
            for k, row in zip(named["key"], named["row_number"]):
                current.setdefault(k, []).append((lst.sha256, int(row)))
            unkeyed += [(lst.sha256, int(r)) for r in part.loc[part["key"].isna(), "row_number"]]
    if not out:
        return _empty()
    return pd.DataFrame(out, columns=REPLACED_COLUMNS).astype({"file_sha256": "string", "by_sha256": "string"})


@dataclass
class Current:
    """What a night sees of the received files."""

    files: dict[str, dt.datetime]  # loaded files received before the cut-off: sha256 -> time of receipt
    replaced: pd.DataFrame         # rows of village lists a later list replaced (REPLACED_COLUMNS)

    def received(self) -> pd.DataFrame:
        return pd.DataFrame({"file_sha256": pd.Series(list(self.files), dtype="string"),
                             "received_at": pd.to_datetime(pd.Series(list(self.files.values()), dtype=object),
                                                           utc=True)})

    def successors(self, lists: list[SubmissionList]) -> dict[str, str]:
        """file of a list -> file of the latest list that replaced rows of it."""
        by_sha = {lst.sha256: lst.file for lst in lists}
        last = self.replaced.drop_duplicates("file_sha256", keep="last")
        return {by_sha[a]: by_sha[b] for a, b in zip(last["file_sha256"], last["by_sha256"])
                if a in by_sha and b in by_sha}


def current(paths: DataPaths, ledger: Ledger, cutoff: dt.datetime, revision_share: float) -> Current:
    return Current(ledger.current_files(cutoff), replaced_rows(paths, ledger.submission_lists(cutoff), revision_share))


def record(paths: DataPaths, ledger: Ledger, revision_share: float) -> None:
    """Write into the ledger, for every list, the later list that replaced rows of it (all lists
    received so far)."""
    lists = ledger.submission_lists()
    replaced = replaced_rows(paths, lists, revision_share)
    by_sha = {lst.sha256: lst.file for lst in lists}
    total = replaced.groupby("file_sha256").size()
    # rows are listed in the order the replacing lists were received: the last is the latest
    latest = replaced.drop_duplicates("file_sha256", keep="last")
    ledger.record_replacements({a: (by_sha.get(b), b, int(total[a])) for a, b in
                                zip(latest["file_sha256"], latest["by_sha256"])})


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
