"""The nightly load's stages as plain functions: what each DAG task calls.

Each returns a small JSON-able summary (it travels through XCom; data never does).
"""

from __future__ import annotations

import logging

from rentan.ingest import ingest
from rentan.settings import data_paths

log = logging.getLogger(__name__)


def run_ingest(load_id: str, areas: list[str] | None = None) -> dict:
    return ingest(data_paths(), load_id=load_id, areas=areas or None).as_dict()


def not_built(stage: str) -> dict:
    """A stage whose code has not landed yet: it says so and writes nothing."""
    log.info("stage %s: not built yet; nothing written", stage)
    return {"stage": stage, "built": False}
