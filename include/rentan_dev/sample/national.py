"""A programme configuration for any set of regencies of the official reference, up to all 514:
what ``rentan sample --regencies`` writes beside its landing zone, so the pipeline can be tried at
provincial or national size.

Only regencies with desa take part: the programme is paid from a desa's village fund, which a
kelurahan (a city's ward) does not have, so the 79 cities made only of kelurahan and Kepulauan
Seribu are left out (434 of the 514 regencies and cities remain, with 75,252 desa). Each chosen
regency gets the rules a new regency starts with: a quota of 100 workers a desa from
2025 (the Lahat rule, which the national figures assume) and a BPJS TK branch of its own. The
regencies of the shipped configuration keep their own entries (quotas, branches, contacts); a
chosen regency named like a shipped branch is served by that branch.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rentan import reference
from rentan.config import DEFAULT_CONFIG

NEW_REGENCY_QUOTA = 100
NEW_REGENCY_FROM = "2025-01-01"


def _slug(name: str) -> str:
    """``Kabupaten Muara Enim`` -> ``muara-enim``; ``Kota Lubuk Linggau`` -> ``kota-lubuk-linggau``
    (a city and a regency may share a name)."""
    kota = name.startswith("Kota ")
    short = re.sub(r"^(Kabupaten|Kota)\s+", "", name)
    s = re.sub(r"[^a-z0-9]+", "-", short.lower()).strip("-")
    return f"kota-{s}" if kota else s


def chosen_regencies(select: list[str]) -> list[tuple[str, str, str]]:
    """(code, name, province name) of the regencies named by ``select``: ``all``, province codes
    (``16``) or regency codes (``16.04``)."""
    regs = reference.regencies()
    provinces = dict(zip(reference.provinces()["code"], reference.provinces()["name"]))
    wanted = set(select)
    unknown = wanted - {"all"} - set(regs["code"]) - set(regs["province_code"])
    if unknown:
        raise ValueError(f"not a province or regency code of the reference: {sorted(unknown)}")
    if "all" not in wanted:
        regs = regs[regs["code"].isin(wanted) | regs["province_code"].isin(wanted)]
    with_desa = set(reference.villages(desa_only=True)["regency_code"])
    regs = regs[regs["code"].isin(with_desa)]
    return [(c, n, provinces[p]) for c, p, n in regs[["code", "province_code", "name"]].itertuples(index=False)]


def config_for(select: list[str], base: Path = DEFAULT_CONFIG) -> dict:
    """The configuration (as written to YAML) of the regencies ``select`` names."""
    raw = yaml.safe_load(base.read_text(encoding="utf-8"))
    shipped = {str(r["code"]): (slug, r) for slug, r in raw["regencies"].items()}
    branches = {slug: b for slug, b in raw["branches"].items()
                if any(str(raw["regencies"][r]["code"]) in shipped for r in b["regencies"])}
    regencies: dict[str, dict] = {}
    for code, name, province in chosen_regencies(select):
        if code in shipped:
            slug, entry = shipped[code]
            regencies[slug] = entry
            continue
        slug = _slug(name)
        if slug in branches:  # a shipped branch named after this regency serves it
            branches[slug] = {**branches[slug], "regencies": [*branches[slug]["regencies"], slug]}
        else:
            short = re.sub(r"^Kabupaten\s+", "", name)
            branches[slug] = {"name": f"BPJS Ketenagakerjaan Cabang {short}", "regencies": [slug]}
        regencies[slug] = {
            "code": code, "name": name, "province": province, "branch": slug, "village_word": "desa",
            "quota_per_village": [{"from": NEW_REGENCY_FROM, "quota": NEW_REGENCY_QUOTA}],
            "working_population": {}, "submission_deadline": None, "contact": None,
        }
    # only the branches that serve a chosen regency, and only those of their regencies
    kept = {slug: {**b, "regencies": [r for r in b["regencies"] if r in regencies]} for slug, b in branches.items()}
    kept = {slug: b for slug, b in kept.items() if b["regencies"]}
    return {"programme": raw["programme"], "tasks": raw.get("tasks") or {}, "branches": kept,
            "regencies": regencies, "sources": raw["sources"]}


def write_config(select: list[str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config_for(select), sort_keys=False, allow_unicode=True)
    path.write_text("# written by rentan sample --regencies: every regency chosen, from the official reference\n"
                    + text, encoding="utf-8")
    return path
