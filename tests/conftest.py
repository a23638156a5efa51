"""Shared test fixtures."""

from __future__ import annotations

import pytest

from twinnet.datasets import shared_data_dir
from twinnet.errors import DataNotFoundError


@pytest.fixture(scope="session")
def milan_dir():
    try:
        return shared_data_dir("milan")
    except DataNotFoundError as exc:  # CI always has ../shared/data; a bare copy may not
        pytest.skip(f"shared Milan data not available: {exc}")
