"""Fixtures for the statutory-returns importer: the liia-tools samples (examples/returns) and helpers."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from core.config import load_config

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "returns"
KEY = b"test-key-0123456789abcdef"
HUBS = load_config(None).council.hub_names
ANNEX_A_IDS = [612306, 997679, 1373595, 1761444, 2529037, 3623204, 4073694, 4653765, 5358472, 6217392, 6434087,
               6537810, 6890906, 6913085, 7657294, 8140425, 8778646, 9212044, 9396243, 10160219, 10273003,
               10600594, 10692868, 10721552, 10897459, 11096583, 11578763, 11641472, 11811692, 11973218,
               12012513, 12590177, 12598894, 13981739, 14007367, 14065184, 14953858, 15221387, 15765513,
               16036763, 16216178, 16248829]


def write_residence(path: Path, keys, *, start: str = "1960-01-01") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["child_key", "resident_from", "resident_to", "hub", "deprivation_decile"])
        for i, k in enumerate(keys):
            w.writerow([k, start, "", HUBS[i % len(HUBS)], 1 + i % 10])
    return path


def write_manifest(path: Path, **entries) -> Path:
    doc = {"la_code": "201", **entries}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture()
def samples(tmp_path: Path) -> Path:
    """A writable copy of the samples."""
    dst = tmp_path / "returns"
    shutil.copytree(SAMPLES, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst
