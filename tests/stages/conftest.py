"""The stage tests' nights: the hand-built Lahat night of ``tests.lahat``, then with its budget,
claims and a second village file (``full_night``)."""

from __future__ import annotations

import pytest

from tests import lahat


@pytest.fixture
def night(data_root):
    """Real files through ingest and standardise: proposals and members whose statuses are known."""
    return lahat.build_night(data_root)


@pytest.fixture
def full_night(night, extracts_not_required):
    """The night, plus a budget, a claims extract delivered twice (overlapping) and a village file
    whose address would run as a formula. Only Lahat's branch sends extracts, some months old:
    this night is about the figures, so none is required for its completeness."""
    return lahat.build_full_night(night)
