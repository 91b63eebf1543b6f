"""The columns of a branch package, from ``layout.yaml``: the enrolment list's order and headers
(the default, or a branch's own from its configuration) and what every column means."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from rentan.config import Branch, Config

LAYOUT_FILE = Path(__file__).with_name("layout.yaml")


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    meaning: str


@lru_cache(maxsize=1)
def _layout() -> dict:
    with open(LAYOUT_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def field_meanings() -> dict[str, str]:
    """Every field an enrolment list can carry -> what it means."""
    return {str(k): str(v) for k, v in _layout()["fields"].items()}


def meanings(workbook: str) -> dict[str, str]:
    """Column header -> meaning, for ``exceptions``, ``reconciliation`` or ``withdrawn``."""
    return {str(k): str(v) for k, v in _layout()[workbook].items()}


def _village_word(branch: Branch, config: Config) -> str:
    words = sorted({config.regencies[r].village_word.upper() for r in branch.regencies})
    return "/".join(words) or "DESA"


def enrolment_columns(branch: Branch, config: Config) -> list[Column]:
    """The enrolment list's columns for ``branch``, in order. A layout naming an unknown field, or
    the same header twice, is refused with the place it was set."""
    own = bool(branch.enrolment_list)
    pairs = list(branch.enrolment_list) if own else [(str(c["field"]), str(c["header"]))
                                                     for c in _layout()["enrolment_list"]]
    where = f"branches.{branch.slug}.enrolment_list in the configuration" if own else f"enrolment_list in {LAYOUT_FILE}"
    known = field_meanings()
    unknown = [f for f, _ in pairs if f not in known]
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    word = _village_word(branch, config)
    cols = [Column(f, h.replace("{village_word}", word).strip(), known[f]) for f, h in pairs]
    headers = [c.header for c in cols]
    twice = sorted({h for h in headers if headers.count(h) > 1})
    if twice or not all(headers):
        raise ValueError(f"{where}: every column needs a header of its own (repeated or empty: {twice or ['']})")
    if "nik" not in {c.field for c in cols}:
        raise ValueError(f"{where}: an enrolment list without the nik field cannot be used to register anyone")
    return cols
