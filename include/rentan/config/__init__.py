"""Programme rules, regencies and branches, read from ``regencies.yaml``.

``RENTAN_CONFIG`` may point at another file with the same shape (a regency's own deployment).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from rentan.core.paths import SOURCES

DEFAULT_CONFIG = Path(__file__).with_name("regencies.yaml")


@dataclass(frozen=True)
class Rates:
    jkk_percent_of_income: float
    income_basis_min_idr: int
    jkm_monthly_idr: int

    @property
    def jkk_monthly_idr(self) -> int:
        return round(self.income_basis_min_idr * self.jkk_percent_of_income / 100)

    @property
    def monthly_idr(self) -> int:
        """Iuran of one worker for one month at the minimum income basis (JKK + JKM)."""
        return self.jkk_monthly_idr + self.jkm_monthly_idr


@dataclass(frozen=True)
class Programme:
    rates: Rates
    max_age_years: int
    jkm_death_benefit_idr: int
    scholarship_max_idr: int
    # a member counts as paid up when the last month paid is at most this many months before the
    # snapshot's month: the month in progress is not due until it ends
    paid_up_grace_months: int = 1
    # source -> how many days old its newest extract may be for a branch's night to be complete
    branch_extracts: dict[str, int] = field(default_factory=dict)
    # a later village list repeating this share of the people still proposed replaces them whole
    revision_share: float = 0.5
    # what villages write under SUMBER DANA (the submission template's dropdown offers these)
    funding_sources: tuple[str, ...] = ("ADD",)
    # how close (rapidfuzz ratio, 0-100) a typed village name must be to an official one: within
    # the district the row names, and anywhere in the regency (a one-letter typo in a short name
    # scores about 80; made-up names score well below)
    village_fuzzy_cutoff_in_district: int = 75
    village_fuzzy_cutoff_in_regency: int = 85
    # how long a night's identity tables are kept for its marts and exports (and a retry of them)
    identity_snapshot_days: int = 7


@dataclass(frozen=True)
class Tasks:
    """How the nightly DAG cuts a night into Airflow tasks (see ``tasks:`` in regencies.yaml)."""

    max_load_tasks_per_source: int = 32
    max_export_tasks: int = 32


def groups(areas: list[str], most: int) -> list[list[str]]:
    """``areas`` in at most ``most`` groups of nearly equal size, in their order: one area a group
    while there are no more areas than ``most``."""
    if not areas:
        return []
    n = -(-len(areas) // max(1, most))  # areas a group, rounded up
    return [areas[i:i + n] for i in range(0, len(areas), n)]


@dataclass(frozen=True)
class QuotaStep:
    start: dt.date
    quota: int


@dataclass(frozen=True)
class Regency:
    slug: str
    code: str
    name: str
    province: str
    branch: str
    village_word: str
    quota_steps: tuple[QuotaStep, ...]
    working_population: dict[int, int] = field(default_factory=dict)
    submission_deadline: dt.date | None = None
    # who, at the regency, answers for the villages' submissions (named in the branch's package)
    contact: str | None = None

    @property
    def province_code(self) -> str:
        return self.code.split(".")[0]

    @property
    def nik_prefix(self) -> str:
        """The first four NIK digits of people first registered in this regency."""
        return self.code.replace(".", "")

    def population_for(self, year: int) -> tuple[int | None, int | None]:
        """(year of the figure, working population): the latest published figure up to ``year``."""
        known = [y for y in self.working_population if y <= year]
        return (max(known), self.working_population[max(known)]) if known else (None, None)

    def programme_months(self, year: int) -> int:
        """Months of ``year`` in which villages pay: from the first quota's start, 12 a year after."""
        start = self.quota_steps[0].start if self.quota_steps else None
        if start is None or year < start.year:
            return 0
        return 12 - start.month + 1 if year == start.year else 12

    def quota_on(self, day: dt.date) -> int:
        """Quota per village in force on ``day`` (0 before the programme started)."""
        quota = 0
        for step in self.quota_steps:
            if step.start <= day:
                quota = step.quota
        return quota


@dataclass(frozen=True)
class Branch:
    slug: str
    name: str
    regencies: tuple[str, ...]
    # the extracts a night needs from this branch: source -> maximum age in days
    extracts: dict[str, int] = field(default_factory=dict)
    # this branch's own enrolment-list layout, (field, header) in column order; empty: the default
    # of rentan/exports/layout.yaml
    enrolment_list: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Config:
    programme: Programme
    regencies: dict[str, Regency]
    branches: dict[str, Branch]
    sources: dict[str, str]  # source -> "regency" | "branch"
    tasks: Tasks = field(default_factory=Tasks)

    def areas(self, source: str) -> list[str]:
        """The area slugs a source's files are filed under."""
        kind = self.sources[source]
        return list(self.regencies) if kind == "regency" else list(self.branches)

    def regency_by_code(self, code: str) -> Regency:
        for reg in self.regencies.values():
            if reg.code == code:
                return reg
        raise KeyError(code)


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _extracts(raw: dict) -> dict[str, int]:
    """``{membership: {max_age_days: 35}, claims: null}`` -> ``{"membership": 35}``."""
    out = {}
    for source, rule in raw.items():
        if rule is None:
            continue
        if source not in ("membership", "claims"):
            raise ValueError(f"branch_extracts: {source!r} is no extract a branch sends (membership, claims)")
        out[source] = int(rule["max_age_days"])
    return out


def _columns(raw, where: str) -> list[tuple[str, str]]:
    """A list of ``{field: ..., header: ...}`` as (field, header) pairs; the fields themselves are
    checked where they are used (rentan.exports.layout)."""
    if not raw:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, dict) and {"field", "header"} <= set(c) for c in raw):
        raise ValueError(f"{where}: a list of {{field: ..., header: ...}} entries, one per column")
    return [(str(c["field"]), str(c["header"])) for c in raw]


def _parse(raw: dict) -> Config:
    prog = raw["programme"]
    programme = Programme(
        rates=Rates(**prog["rates"]),
        max_age_years=int(prog["max_age_years"]),
        jkm_death_benefit_idr=int(prog["jkm_death_benefit_idr"]),
        scholarship_max_idr=int(prog["scholarship_max_idr"]),
        paid_up_grace_months=int(prog.get("paid_up_grace_months", 1)),
        branch_extracts=_extracts(prog.get("branch_extracts") or {}),
        revision_share=float(prog.get("revision_share", 0.5)),
        funding_sources=tuple(str(f) for f in prog.get("funding_sources") or ["ADD"]),
        village_fuzzy_cutoff_in_district=int((prog.get("village_names") or {}).get("fuzzy_cutoff_in_district", 75)),
        village_fuzzy_cutoff_in_regency=int((prog.get("village_names") or {}).get("fuzzy_cutoff_in_regency", 85)),
        identity_snapshot_days=int((prog.get("retention") or {}).get("identity_snapshot_days", 7)),
    )
    branches = {
        slug: Branch(slug=slug, name=b["name"], regencies=tuple(b["regencies"]),
                     extracts=_extracts({**(prog.get("branch_extracts") or {}), **(b.get("extracts") or {})}),
                     enrolment_list=tuple(_columns(b.get("enrolment_list"), f"branches.{slug}.enrolment_list")))
        for slug, b in raw["branches"].items()
    }
    regencies = {}
    for slug, r in raw["regencies"].items():
        if r["branch"] not in branches:
            raise ValueError(f"regency {slug!r} names branch {r['branch']!r}, which is not configured")
        deadline = r.get("submission_deadline")
        regencies[slug] = Regency(
            slug=slug,
            code=str(r["code"]),
            name=r["name"],
            province=r["province"],
            branch=r["branch"],
            village_word=r["village_word"],
            quota_steps=tuple(
                sorted((QuotaStep(_date(q["from"]), int(q["quota"])) for q in r["quota_per_village"]),
                       key=lambda s: s.start)
            ),
            working_population={int(k): int(v) for k, v in (r.get("working_population") or {}).items()},
            submission_deadline=_date(deadline) if deadline else None,
            contact=r.get("contact") or None,
        )
    for b in branches.values():
        for slug in b.regencies:
            if slug not in regencies:
                raise ValueError(f"branch {b.slug!r} serves regency {slug!r}, which is not configured")
    sources = {name: s["area"] for name, s in raw["sources"].items()}
    if set(sources) != set(SOURCES):
        # the nightly DAG has one load task per known source: another would never be loaded
        raise ValueError(f"configured sources {sorted(sources)}; rentan loads {sorted(SOURCES)}")
    return Config(programme=programme, regencies=regencies, branches=branches, sources=sources,
                  tasks=_tasks(raw.get("tasks") or {}))


def _tasks(raw: dict) -> Tasks:
    unknown = set(raw) - set(Tasks.__dataclass_fields__)
    if unknown:
        raise ValueError(f"tasks: unknown setting(s) {sorted(unknown)}; known: {sorted(Tasks.__dataclass_fields__)}")
    tasks = Tasks(**{k: int(v) for k, v in raw.items()})
    if min(tasks.max_load_tasks_per_source, tasks.max_export_tasks) < 1:
        raise ValueError("tasks: each maximum is a number of tasks, at least 1")
    return tasks


@lru_cache(maxsize=4)
def _load(path: str) -> Config:
    with open(path, encoding="utf-8") as fh:
        return _parse(yaml.safe_load(fh))


def load_config(path: str | os.PathLike | None = None) -> Config:
    chosen = path or os.environ.get("RENTAN_CONFIG") or DEFAULT_CONFIG
    return _load(str(Path(chosen).resolve()))
