"""The matching model: m and u of every comparison level, the prior and the thresholds, read from
``model.yaml`` beside this file (or the file ``RENTAN_IDENTITY_MODEL`` names).

The file is data, versioned with the code: ``python -m rentan_dev.train`` re-estimates m, u
and the prior from a labelled linkage benchmark and rewrites them, keeping the thresholds and the
words. Its hash is identity's rules version: the merge ledger records which rules made each link.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

MODEL_FILE = Path(__file__).with_name("model.yaml")
ENV_VAR = "RENTAN_IDENTITY_MODEL"


class ModelError(ValueError):
    """The model file does not describe every comparison level the code knows."""


@dataclass(frozen=True)
class Model:
    path: Path
    version: str
    max_block: int
    prior_weight: float
    link: float            # match weight at or above which two records are one person
    review: float          # at or above which (below ``link``) a person decides
    nik_conflict: float    # records sharing a NIK whose other fields weigh below this: two persons, reviewed
    raw: dict

    def level_weights(self, comparison: str) -> np.ndarray:
        return _weights(self.path, self.version, comparison)

    def descriptions(self, comparison: str, language: str) -> list[str]:
        from rentan.identity.matching import COMPARISONS

        levels = self.raw["comparisons"][comparison]
        return [levels[name][language] for name in COMPARISONS[comparison]]


@lru_cache(maxsize=32)
def _weights(path: Path, version: str, comparison: str) -> np.ndarray:
    from rentan.identity.matching import COMPARISONS

    levels = load_model(path).raw["comparisons"][comparison]
    return np.array([math.log2(levels[n]["m"] / levels[n]["u"]) if levels[n].get("m") else 0.0
                     for n in COMPARISONS[comparison]])


def load_model(path: Path | str | None = None) -> Model:
    path = Path(path or os.environ.get(ENV_VAR) or MODEL_FILE)
    raw_bytes = path.read_bytes()
    raw = yaml.safe_load(raw_bytes)
    _check(raw, path)
    t = raw["thresholds"]
    lam = raw["prior"]["probability_two_records_match"]
    return Model(path=path, version=hashlib.sha256(raw_bytes).hexdigest()[:16], max_block=int(raw["max_block"]),
                 prior_weight=math.log2(lam / (1 - lam)), link=float(t["link"]), review=float(t["review"]),
                 nik_conflict=float(t["nik_conflict"]), raw=raw)


def _check(raw: dict, path: Path) -> None:
    from rentan.identity.matching import COMPARISONS

    for comp, names in COMPARISONS.items():
        levels = (raw.get("comparisons") or {}).get(comp) or {}
        missing = [n for n in names if n not in levels]
        if missing:
            raise ModelError(f"{path}: comparison {comp!r} lacks the levels {missing}")
        for n in names:
            lv = levels[n]
            if lv.get("m") is not None and not (0 < lv["m"] <= 1 and 0 < lv["u"] <= 1):
                raise ModelError(f"{path}: {comp}.{n}: m and u must be probabilities above 0")
            if not lv.get("en") or not lv.get("id"):
                raise ModelError(f"{path}: {comp}.{n}: a description in English (en) and Indonesian (id) is needed")
    t = raw.get("thresholds") or {}
    if not {"link", "review", "nik_conflict"} <= set(t) or t["review"] > t["link"]:
        raise ModelError(f"{path}: thresholds need link, review (at most link) and nik_conflict")


def save_estimates(path: Path, estimates: dict[str, dict[str, tuple[float, float]]], prior: float,
                   trained_on: str) -> None:
    """Rewrite the m and u of every level and the prior, keeping the thresholds and the words."""
    raw = yaml.safe_load(path.read_text())
    for comp, levels in estimates.items():
        for name, (m, u) in levels.items():
            raw["comparisons"][comp][name].update({"m": float(f"{m:.6g}"), "u": float(f"{u:.6g}")})
    raw["prior"] = {"probability_two_records_match": float(f"{prior:.6g}")}
    raw["trained_on"] = trained_on
    header = "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("#"))
    path.write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=110))
