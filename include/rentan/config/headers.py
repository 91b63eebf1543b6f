"""The header spellings senders use (``headers.yaml``), per source, mapped to canonical fields.

Shared by ingest (which reads a file's columns to tell which regency it belongs to) and
standardise (which maps every file's columns)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

HEADERS_FILE = Path(__file__).with_name("headers.yaml")


def header_key(text: str) -> str:
    """What two spellings of one header share: upper-case letters and digits only."""
    return re.sub(r"[^A-Z0-9]", "", str(text).upper())


@lru_cache(maxsize=1)
def _spellings() -> dict[str, dict[str, list[str]]]:
    with open(HEADERS_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def fields_of(source: str) -> list[str]:
    return list(_spellings()[source])


@lru_cache(maxsize=8)
def header_index(source: str) -> dict[str, int]:
    """header key -> position of its canonical field in fields_of(source)."""
    out: dict[str, int] = {}
    for i, (field, spellings) in enumerate(_spellings()[source].items()):
        for s in [field, *spellings]:
            k = header_key(s)
            if k in out and out[k] != i:
                raise ValueError(f"headers.yaml: {s!r} maps to two fields of {source}")
            out[k] = i
    return out


def column_of(header: list[str], source: str, field: str) -> int | None:
    """Position in ``header`` of the first column that maps to ``field``, or None."""
    index, want = header_index(source), fields_of(source).index(field)
    return next((j for j, h in enumerate(header) if index.get(header_key(h)) == want), None)
