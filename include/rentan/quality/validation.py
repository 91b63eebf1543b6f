"""Great Expectations 1.x, as rentan uses it.

Suites live in ``suites/<source>.<layer>.json`` (``expectations/`` at the top of the repository)
and are read at run time: they hold the rules and their thresholds, nothing else does. Each expectation's ``meta`` says:

- ``level``: ``blocking`` (in a ``files`` suite, run on one row per received file: a file that
  fails is held back whole), ``row`` (offending rows go to quarantine) or ``warning`` (rows
  are flagged in silver and go on);
- ``reason_code``: the quarantine reason (see ``reasons.py``); ``reason_column``, when set,
  names a column whose value gives a more precise code for each row;
- ``field``: the canonical field the rule is about; ``rule``: a name unique in the suite (its
  order in the suite is the order reasons are reported in).

One validation runs per source and area and suite (GX costs ~0.1 s a call, too much per file).
Results are kept as JSON under ``<data>/gx/validations``; the night's readable account of them
is ``rentan.quality_report`` (GX's Data Docs are not built: their pages load scripts and styles
from the internet and are empty offline).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

# shipped in the package (``expectations/`` at the top of the repository is a link to them), so an
# installed rentan finds them as an editable one does; RENTAN_EXPECTATIONS points elsewhere
EXPECTATIONS_DIR = Path(os.environ.get("RENTAN_EXPECTATIONS") or Path(__file__).with_name("suites"))
LEVELS = ("blocking", "row", "warning")

log = logging.getLogger(__name__)


def _quiet_gx() -> None:
    # GX logs ~200 INFO lines at import under Airflow's root logger; it sends no usage data
    # (1.24 has none) but the flag stays off in case a later version brings it back
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@lru_cache(maxsize=32)
def suite_json(name: str) -> dict:
    path = EXPECTATIONS_DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"Great Expectations suite {name!r} not found at {path}") from None
    rules = set()
    for i, e in enumerate(data["expectations"]):
        meta = e.get("meta") or {}
        if meta.get("level") not in LEVELS or not meta.get("reason_code") or not meta.get("rule"):
            raise ValueError(f"{path}: expectation {i} ({e['type']}) needs meta.rule, meta.reason_code "
                             f"and meta.level in {LEVELS}")
        if meta["rule"] in rules:
            raise ValueError(f"{path}: two expectations are named {meta['rule']!r}")
        rules.add(meta["rule"])
    return data


@dataclass
class Outcome:
    """What one suite said of one frame: failures as (row position, order in suite, meta)."""

    suite: str
    failures: pd.DataFrame  # columns: pos, order, level, reason_code, field, reason_column, expectation

    def of_level(self, level: str) -> pd.DataFrame:
        return self.failures[self.failures["level"] == level]


class Validator:
    """An ephemeral GX context whose results are written under ``gx_root``."""

    def __init__(self, gx_root: Path):
        _quiet_gx()
        import great_expectations as gx
        import great_expectations.execution_engine.pandas_execution_engine as pandas_engine
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        # GX hashes every pandas batch only to stamp a fingerprint on the result; at a million
        # rows that is most of the validation time
        pandas_engine.HASH_THRESHOLD = 0
        self.root = Path(gx_root).resolve()
        cfg = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            data_docs_sites={},
        )
        cfg.stores["validation_results_store"] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(self.root / "validations")},
        }
        self._gx = gx
        self.context = gx.get_context(project_config=cfg, mode="ephemeral")
        self.source = self.context.data_sources.add_or_update_pandas("rentan")
        self._suites: dict[str, object] = {}

    def _suite(self, name: str):
        if name not in self._suites:
            self._suites[name] = self.context.suites.add(self._gx.ExpectationSuite(**json.loads(json.dumps(suite_json(name)))))
        return self._suites[name]

    def _run(self, suite_name: str, batch_name: str, df: pd.DataFrame, result_format: dict):
        suite = self._suite(suite_name)
        asset_name = f"{suite_name}.{batch_name}"
        try:
            asset = self.source.get_asset(asset_name)
        except LookupError:
            asset = self.source.add_dataframe_asset(asset_name)
        batch_def = asset.add_batch_definition_whole_dataframe(f"{asset_name}.whole") if not asset.batch_definitions \
            else asset.batch_definitions[0]
        vd = self.context.validation_definitions.add_or_update(
            self._gx.ValidationDefinition(name=asset_name, data=batch_def, suite=suite))
        return vd.run(batch_parameters={"dataframe": df.reset_index(drop=True)}, result_format=result_format)

    def validate(self, suite_name: str, batch_name: str, df: pd.DataFrame) -> Outcome:
        """Validate ``df`` (a RangeIndex frame) and return every failing row with its rule."""
        result = self._run(suite_name, batch_name, df, {
            "result_format": "COMPLETE", "return_unexpected_index_query": False,
            "exclude_unexpected_values": True, "partial_unexpected_count": 0})
        order = {e["meta"]["rule"]: i for i, e in enumerate(suite_json(suite_name)["expectations"])}
        parts = []
        for r in result.results:
            cfg = r.expectation_config
            meta = cfg.meta or {}
            kwargs = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
            rr = r.result or {}
            if _raised(r):
                raise RuntimeError(
                    f"suite {suite_name}: expectation {cfg.type} on {kwargs.get('column')!r} could not run "
                    f"on batch {batch_name}: {r.exception_info}")
            if r.success:
                continue
            pos = rr.get("unexpected_index_list")
            if pos is None:
                continue  # a table-level rule: no rows to name
            pos = np.asarray(pos, dtype=np.int64)
            parts.append(pd.DataFrame({
                "pos": pos,
                "order": order[meta["rule"]],
                "level": meta.get("level"), "reason_code": meta.get("reason_code"), "field": meta.get("field"),
                "reason_column": meta.get("reason_column"), "expectation": cfg.type,
            }))
        cols = ["pos", "order", "level", "reason_code", "field", "reason_column", "expectation"]
        failures = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
        return Outcome(suite=suite_name, failures=failures)

    def check(self, suite_name: str, batch_name: str, df: pd.DataFrame) -> list[tuple[str, str, int | None]]:
        """Table and column rules alike: (rule, description, unexpected rows) of each that fails."""
        result = self._run(suite_name, batch_name, df, {"result_format": "SUMMARY", "partial_unexpected_count": 0})
        failed = []
        for r in result.results:
            if r.success and not _raised(r):
                continue
            meta = r.expectation_config.meta or {}
            desc = r.expectation_config.description or r.expectation_config.type
            if _raised(r):
                desc += f" (could not run: {r.exception_info})"
            failed.append((meta.get("rule", r.expectation_config.type), desc, (r.result or {}).get("unexpected_count")))
        return failed


def _raised(r) -> bool:
    info = r.exception_info or {}
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())
