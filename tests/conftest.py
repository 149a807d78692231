"""Shared fixtures: the repo root, the default config and the tiny hand-made extract."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
# Tests never write to the repo's own MLflow store.
os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///" + str(Path(os.environ.get("TMPDIR", "/tmp"))
                                                                 / f"upstream-test-{os.getpid()}.db"))

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "examples" / "tiny_extract"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def tiny_copy(tmp_path: Path) -> Path:
    """A writable copy of the tiny valid extract."""
    dest = tmp_path / "extract"
    shutil.copytree(TINY, dest)
    return dest
