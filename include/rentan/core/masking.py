"""What may be shown of a text that can hold personal data: a file name a village chose
("KTP 1604... Budi.csv"), an error a library raised quoting a cell."""

from __future__ import annotations

import re

# a NIK has 16 digits and a KPJ 11; shorter runs (dates, row numbers, codes) stay readable
_LONG_DIGITS = re.compile(r"\d{11,}")


def mask_digits(text: str, limit: int | None = None) -> str:
    """Long digit runs masked after their first four digits, and the text cut to ``limit``."""
    text = _LONG_DIGITS.sub(lambda m: m.group()[:4] + "*" * (len(m.group()) - 4), str(text))
    return text if limit is None or len(text) <= limit else text[:limit] + " ..."
