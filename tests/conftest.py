"""pytest fixtures shared by the suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """An empty directory standing in for `/` of a probed host."""
    root = tmp_path / "root"
    root.mkdir()
    return root
