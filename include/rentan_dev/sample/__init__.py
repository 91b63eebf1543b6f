"""A seeded, realistic landing zone with its ground truth.

``generate(root)`` writes ``<root>/landing/{submissions,budget,membership,claims}/<area>/...`` the way
villages, DPMD offices and BPJS TK branches deliver them, planting known defects at known rates, and
``<root>/truth/`` saying, row by row, what each file really holds (see ``truth/README.md``). The same
seed and scale give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from rentan.config import Config, load_config
from rentan.core.settings import data_paths
from rentan.reference import districts as reference_districts
from rentan.reference import regencies as reference_regencies
from rentan.reference import villages as reference_villages
from rentan_dev.sample import budget as budget_mod
from rentan_dev.sample import landing, registry, submissions, truth
from rentan_dev.sample import villages as villages_mod
from rentan_dev.sample.defects import (
    CLASS_BY_NAME,
    DEFECT_CLASSES,
    DEFECT_RATES,
    FILE_CLASSES,
    MEMBERSHIP_CLASSES,
    ROW_CLASSES,
    VARIATIONS,
)
from rentan_dev.sample.people import assign_niks, make_people, name_pools
from rentan_dev.sample.templates import FIELDS, HEADER_TEMPLATES, header_spellings

__all__ = [
    "CLASS_BY_NAME",
    "DEFECT_CLASSES",
    "DEFECT_RATES",
    "FIELDS",
    "FILE_CLASSES",
    "HEADER_TEMPLATES",
    "MARKER",
    "ROW_CLASSES",
    "VARIATIONS",
    "generate",
    "header_spellings",
]

DEFAULT_SEED = 20250701
DEFAULT_SNAPSHOT = dt.date(2025, 6, 30)
# Left in truth/ so that a later run knows the landing zone beside it is generated and may go.
MARKER = ".rentan-sample"

# Independent random streams, so that changing one part of the generator leaves the others' draws alone.
_STREAMS = ("plan", "rows", "people", "render", "members", "claims", "budget", "files", "niks", "spelling")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    return {name: np.random.default_rng([seed, i]) for i, name in enumerate(_STREAMS)}


def _prepare(root: Path) -> None:
    """Remove a previous generated landing zone and truth; refuse to touch one that was not generated."""
    paths = data_paths(root)
    marker = paths.truth / MARKER
    occupied = [p for p in (paths.landing, paths.truth) if p.exists() and any(p.iterdir())]
    if occupied and not marker.exists():
        raise FileExistsError(
            f"{', '.join(map(str, occupied))} exist(s) and was not written by the sample generator; "
            "choose another data root or remove it yourself")
    for p in (paths.landing, paths.truth):
        if p.exists():
            shutil.rmtree(p)
    paths.truth.mkdir(parents=True)
    marker.write_text("written by rentan_dev.sample.generate; landing/ and truth/ here are regenerated on each run\n")
    paths.landing.mkdir(parents=True)


def generate(root: str | Path, seed: int = DEFAULT_SEED, scale: float = 1.0,
             snapshot: dt.date = DEFAULT_SNAPSHOT, *, villages_limit: int | None = None,
             config: Config | None = None) -> dict:
    """Write a landing zone and its ground truth under ``root``; return a summary.

    ``scale`` multiplies the rows each village proposes and the size of the BPJS extracts (the
    number of villages is the official one). ``villages_limit`` keeps that many desa per regency
    (for quick runs); the BPJS extracts shrink with it.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    cfg = config or load_config()
    if not any(r.quota_on(snapshot) for r in cfg.regencies.values()):
        raise ValueError(f"no configured regency had a village quota on {snapshot}: nothing to submit")
    paths = data_paths(root)
    _prepare(paths.root)
    rng = _streams(seed)
    created = dt.datetime.combine(snapshot, dt.time(8, 0))

    codes = [r.code for r in cfg.regencies.values()]
    desa = reference_villages(codes, desa_only=True)
    all_villages = reference_villages()
    dist = reference_districts()
    district_names = dict(zip(dist["code"], dist["name"]))
    regency_names = {c: n.replace("Kabupaten ", "").replace("Kota ", "")
                     for c, n in zip(reference_regencies()["code"], reference_regencies()["name"])}
    village_names = dict(zip(all_villages["code"], all_villages["name"]))
    desa_total = {r.slug: int((desa["regency_code"] == r.code).sum()) for r in cfg.regencies.values()}
    regency_villages = {r.slug: np.sort(desa.loc[desa["regency_code"] == r.code, "code"].to_numpy(dtype=object))
                        for r in cfg.regencies.values()}
    pools = name_pools(seed)

    # who proposes how many, and which row carries which defect
    plan = villages_mod.plan(rng["plan"], cfg, desa, snapshot, scale, villages_limit)
    rows = submissions.draw_rows(rng["rows"], plan)
    cls, src = submissions.resolve_duplicates(rng["rows"], rows)
    rows["cls"] = cls
    rows["src"] = src
    v = rows["village"].to_numpy()
    new = src < 0

    # the people: those proposed (one per non-duplicate row) and the other members of BPJS TK
    proposed = make_people(
        rng["people"], pools, residence_district=plan["district_code"].to_numpy(dtype=object)[v][new],
        home_village=plan["village_code"].to_numpy(dtype=object)[v][new], old=cls[new] == "age_65_plus",
        snapshot=snapshot, district_names=district_names, regency_names=regency_names)
    proposed["origin"] = "proposed"
    spec = registry.background_spec(rng["people"], cfg, plan, desa_total, scale)
    background = make_people(
        rng["people"], pools, residence_district=spec["residence_district_code"].to_numpy(dtype=object),
        home_village=spec["home_village_code"].to_numpy(dtype=object), old=np.zeros(len(spec), dtype=bool),
        snapshot=snapshot, district_names=district_names, regency_names=regency_names, male_share=0.6)
    background["origin"] = spec["role"].to_numpy(dtype=object)
    persons = pd.concat([proposed, background], ignore_index=True)
    persons.insert(0, "person_id", np.arange(1, len(persons) + 1, dtype=np.int64))
    persons.insert(1, "nik", assign_niks(rng["niks"], persons))

    person = np.full(len(rows), -1, dtype=np.int64)
    person[new] = np.arange(int(new.sum()))
    person[~new] = person[src[~new]]
    rows["person"] = person

    # membership: proposed people who are members already, then the background
    linked = np.flatnonzero(new & pd.Series(cls).isin(list(MEMBERSHIP_CLASSES)).to_numpy())
    own_code = plan["village_code"].to_numpy(dtype=object)[v]
    linked_roles = pd.DataFrame({
        "person": person[linked],
        "role": pd.Series(cls[linked]).map(MEMBERSHIP_CLASSES).to_numpy(dtype=object),
        "regency": plan["regency"].to_numpy(dtype=object)[v][linked],
        "payer_village_code": np.where(np.isin(cls[linked], ["active_bpu_same_village", "active_bpu_other_payer"]),
                                       own_code[linked], ""),
    })
    bg_roles = pd.DataFrame({
        "person": len(proposed) + np.arange(len(spec)),
        "role": spec["role"].to_numpy(dtype=object),
        "regency": spec["regency"].to_numpy(dtype=object),
        "payer_village_code": np.where(spec["role"].isin(["perangkat", "village_cohort"]),
                                       spec["home_village_code"], ""),
    })
    roles = pd.concat([linked_roles, bg_roles], ignore_index=True)
    members = registry.membership(rng["members"], cfg, snapshot, persons, roles, village_names, regency_villages)
    branch_factor = {}
    for b in cfg.branches.values():
        kept = sum(int((plan["regency"] == s).sum()) for s in b.regencies)
        total = sum(desa_total.get(s, 0) for s in b.regencies)
        branch_factor[b.slug] = scale * kept / max(total, 1)
    claims, members = registry.claims(rng["claims"], cfg, snapshot, members, persons, pools, branch_factor)

    # what the village files show
    spelling = villages_mod.spelling_variants(rng["spelling"], plan)
    unknown = villages_mod.unknown_village_names(rng["spelling"], plan, all_villages)
    cells, shown = submissions.render(rng["render"], rows, plan, persons, pools, spelling, unknown,
                                      persons["nik"].to_numpy(dtype=object).astype(np.int64), snapshot)

    # files
    entries = landing.write_submissions(rng["files"], paths.landing, plan, rows, cells, created)
    problem, copies = landing.write_problem_files(rng["files"], paths.landing, plan, created, entries)
    entries += problem
    lines = budget_mod.budget_lines(rng["budget"], cfg, plan, snapshot)
    budget_entries, lines = landing.write_budget(rng["budget"], paths.landing, plan, lines, created, cfg)
    entries += budget_entries
    member_entries, members = landing.write_membership(paths.landing, members, persons, cfg, snapshot, created)
    entries += member_entries
    claim_entries, claims = landing.write_claims(paths.landing, claims, members, persons, cfg, snapshot, created)
    entries += claim_entries

    files = pd.DataFrame(entries).sort_values("file", kind="stable").reset_index(drop=True)
    files["delivered_at"] = _deliver(np.random.default_rng([seed, 99]), paths.landing, files, cfg, snapshot, created)
    files["bytes"] = [(paths.landing / f).stat().st_size for f in files["file"]]
    files["sha256"] = [hashlib.sha256((paths.landing / f).read_bytes()).hexdigest() for f in files["file"]]

    sub_truth = truth.submission_truth(rows, plan, persons, shown, copies)
    truth.write_all(paths.truth, files=files, submissions=sub_truth, persons=persons, plan=plan, members=members,
                    claims=claims, budget=lines)
    summary = _summary(seed, scale, snapshot, villages_limit, files, sub_truth, plan, persons, members, claims, lines)
    (paths.truth / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def _deliver(rng: np.random.Generator, landing: Path, files: pd.DataFrame, cfg: Config, snapshot: dt.date,
             created: dt.datetime) -> np.ndarray:
    """Give each file the time it was delivered, as its modification time (what the ingestion
    ledger records as received): village files over the weeks before the snapshot, mostly before
    their regency's deadline where there is one and some after it; BPJS extracts and budgets on
    the morning of the snapshot."""
    wib = dt.timezone(dt.timedelta(hours=7))
    out = []
    days_before = rng.integers(0, 45, len(files))
    late = rng.random(len(files)) < 0.15
    minutes = rng.integers(8 * 60, 16 * 60, len(files))
    for i, (source, area) in enumerate(zip(files["source"], files["area"])):
        when = created.replace(tzinfo=wib)
        reg = cfg.regencies.get(area)
        if source == "submissions" and reg is not None:
            last = reg.submission_deadline if reg.submission_deadline and reg.submission_deadline < snapshot else snapshot
            day = last - dt.timedelta(days=int(days_before[i]))
            if late[i] and last < snapshot:
                day = last + dt.timedelta(days=1 + int(days_before[i]) % max((snapshot - last).days, 1))
            when = dt.datetime.combine(day, dt.time(0, 0), wib) + dt.timedelta(minutes=int(minutes[i]))
        out.append(when)
    # a copy sent again arrives after the file it copies
    at = dict(zip(files["file"], out))
    for i, original in enumerate(files.get("duplicate_of", pd.Series([""] * len(files)))):
        if original and original in at:
            out[i] = at[original] + dt.timedelta(hours=2)
    for file, when in zip(files["file"], out):
        os.utime(landing / file, (when.timestamp(), when.timestamp()))
    return np.array([w.isoformat() for w in out], dtype=object)


def _summary(seed, scale, snapshot, villages_limit, files, sub, plan, persons, members, claims, lines) -> dict:
    loaded = sub[sub["file_expected"] == "loaded"]
    counts = files.groupby(["source", "area"]).size()
    return {
        "seed": seed,
        "scale": scale,
        "snapshot": snapshot.isoformat(),
        "villages_limit": villages_limit,
        "files": {src: {area: int(n) for area, n in counts[src].items()} for src in counts.index.levels[0]
                  if src in counts.index.get_level_values(0)},
        "files_total": len(files),
        "file_defects": {k: int(n) for k, n in files.loc[files["reason_class"] != "", "reason_class"]
                         .value_counts().sort_index().items()},
        "villages": {reg: {s: int(n) for s, n in g["status"].value_counts().sort_index().items()}
                     for reg, g in plan.groupby("regency", sort=False)},
        "submission_rows": len(loaded),
        "submission_rows_in_duplicate_files": int(len(sub) - len(loaded)),
        "submission_rows_by_regency": {k: int(n) for k, n in loaded["regency"].value_counts().sort_index().items()},
        "persons": len(persons),
        "members": len(members),
        "members_by_branch": {k: int(n) for k, n in members["branch"].value_counts().sort_index().items()},
        "claims": len(claims),
        "claims_by_type": {k: int(n) for k, n in claims["type"].value_counts().sort_index().items()},
        "budget_rows": int((lines["file"] != "").sum()),
        "defects": {c: int((loaded["defect"] == c).sum()) for c in ("clean", *DEFECT_CLASSES)},
        "variations": {
            "name_variant": int((loaded["name_variant"] != "").sum()),
            "village_spelling_variant": int((loaded["village_spelling_variant"] != "").sum()),
        },
    }
