"""Atomic writes: a crash while writing leaves the previous file intact and no temporary litter."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core import io


def test_failed_write_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "list.csv"
    io.write_csv(pd.DataFrame({"a": [1]}), target)
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_text("half a lis")
        raise RuntimeError("crash")
    assert pd.read_csv(target)["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["list.csv"]


def test_atomic_dir_swaps_whole_directory(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with io.atomic_dir(target) as d:
        (d / "a.txt").write_text("1")
    with pytest.raises(RuntimeError), io.atomic_dir(target) as d:
        (d / "b.txt").write_text("2")
        raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
