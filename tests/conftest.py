"""Shared fixtures. Test media are real faces copied from the project's fixtures (see tests/data/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from testdata import ARTIFACTS


@pytest.fixture(scope="session")
def analyzer():
    from mimetic import Analyzer

    with Analyzer() as a:
        yield a


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
