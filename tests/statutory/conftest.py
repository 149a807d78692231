"""Fixtures for the statutory-returns importer tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.statutory._helpers import SAMPLES


@pytest.fixture()
def samples(tmp_path: Path) -> Path:
    """A writable copy of the samples."""
    dst = tmp_path / "returns"
    shutil.copytree(SAMPLES, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst

