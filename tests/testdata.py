"""Where the test media live (real faces copied from the project's fixtures; see tests/data/PROVENANCE.md).

Test modules import these names from here, never from ``conftest`` (several folders have a conftest.py, and which
one ``import conftest`` finds depends on the collection order)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
IMAGES = DATA / "images"
VIDEOS = DATA / "videos"
ARTIFACTS = Path(__file__).parent / "artifacts"
