"""pytest fixtures shared by the suite."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.helpers import NO_CUDA_REASON, cuda_available

# No test reads (or writes) the user's knowledge overlay: the cache directory is an empty one of the session's,
# inherited by every envdoctor the tests start. Tests of `update` point it elsewhere themselves.
os.environ["ENVDOCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="envdoctor-test-cache-")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu`-marked tests, saying why, where CUDA is not available; torch is imported only if there are any."""
    gpu_tests = [item for item in items if item.get_closest_marker("gpu") is not None]
    if gpu_tests and not cuda_available():
        for item in gpu_tests:
            item.add_marker(pytest.mark.skip(reason=NO_CUDA_REASON))


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """An empty directory standing in for `/` of a probed host."""
    root = tmp_path / "root"
    root.mkdir()
    return root
