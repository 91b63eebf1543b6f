"""Person keys: HMAC-SHA256 of the NIK under a secret key.

A plain hash of a NIK is no pseudonym: there are few enough NIKs to hash them all. With a
secret key the pseudonym cannot be reversed without the key, and the same NIK gets the same key
every night, so analysts can follow a person across snapshots without ever seeing the NIK.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

import pandas as pd

log = logging.getLogger(__name__)

ENV_VAR = "RENTAN_PERSON_KEY"
AIRFLOW_VARIABLE = "rentan_person_key"
# only for sample data and tests: production sets RENTAN_PERSON_KEY or the Airflow variable
_DEVELOPMENT_KEY = "rentan-development-key-not-for-real-data"
KEY_HEX_CHARS = 32  # 128 bits of the digest: collision-free at national scale


def secret() -> bytes:
    value = os.environ.get(ENV_VAR)
    if not value:
        try:  # inside an Airflow task, a Variable (or a secrets backend behind it) may hold it
            from airflow.sdk import Variable

            value = Variable.get(AIRFLOW_VARIABLE, default=None)
        except Exception:  # noqa: BLE001 - outside Airflow, or no Variable: fall through
            value = None
    if not value:
        log.warning("%s is not set: person keys use the development key; never use it for real data", ENV_VAR)
        value = _DEVELOPMENT_KEY
    return value.encode()


def person_keys(niks: pd.Series, key: bytes) -> pd.Series:
    """The person key of each NIK (NA stays NA); each distinct NIK is hashed once."""
    distinct = niks.dropna().unique()
    table = {n: hmac.digest(key, n.encode(), "sha256").hex()[:KEY_HEX_CHARS] for n in distinct}
    return niks.map(table).astype("string")


def hmac_sql(expr: str) -> str:
    """SQL for the person key of ``expr`` (a VARCHAR), given the pads of :func:`hmac_sql_pads` as
    the parameters ``$inner`` and ``$outer``."""
    return f"left(sha256($outer || unhex(sha256($inner || encode({expr})))), {KEY_HEX_CHARS})"


def hmac_sql_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer pads of HMAC-SHA256 (RFC 2104), so SQL can compute
    ``sha256(outer || sha256(inner || message))`` over millions of NIKs at once, with the very
    result of :func:`person_keys` (a test holds the two equal)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
