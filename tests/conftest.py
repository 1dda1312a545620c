"""Shared fixtures. Real exchange data lives in ../shared/data beside the repository; tests
that need it skip with a clear reason when it is absent (a user's fresh clone has none)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# LOBZERO_SHARED_DATA points the tests at another copy of the recordings (or at nothing)
SHARED_DATA = Path(os.environ.get("LOBZERO_SHARED_DATA", REPO / ".." / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not available ({SHARED_DATA} is absent)")
    return SHARED_DATA
