"""Child-level predictions kept out of the tracking store: a protected folder beside it, owner-only.

The fairness audit needs each test row's child and family ids (family-clustered bootstrap), protected
characteristics (sex, ethnicity, disability) and outcome. Those are identifiable, so they are never MLflow
artifacts (anyone who can read the tracking store could read them). Instead `write_predictions` puts them in

    <protected root>/predictions/<key>/{test,validation}_predictions.parquet     (folders 0700, files 0600)

where `key` is a random pseudonymous key recorded on the run as the tag `protected_predictions_key`; the run
itself gets only `predictions/manifest.json` (the key, row counts, column names and SHA-256 of each file, no
row-level data). Where the protected root is for a store: `training.tracking.protected_root`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pandas as pd

from core.io import DIR_MODE, write_parquet
from training.checksums import file_sha256

KEY_TAG = "protected_predictions_key"
SPLITS = ("test", "validation")


def _private_dirs(folder: Path) -> None:
    for d in reversed([folder, *folder.parents]):
        if not d.exists():
            d.mkdir(mode=DIR_MODE)
    for d in (folder, folder.parent, folder.parent.parent):  # <root>/predictions/<key>
        os.chmod(d, DIR_MODE)


def write_predictions(predictions: dict[str, pd.DataFrame], root: Path) -> tuple[str, dict]:
    """Write the splits' predictions to a new folder under the protected root (`training.tracking.protected_root`);
    returns (key, manifest for the run)."""
    key = secrets.token_hex(16)
    folder = root / "predictions" / key
    _private_dirs(folder)
    manifest: dict = {"key": key, "tag": KEY_TAG, "where": "the protected folder beside the tracking store "
                      "(docs/training.md); never an MLflow artifact", "files": {}}
    for split in SPLITS:
        if split in predictions:
            path = write_parquet(predictions[split], folder / f"{split}_predictions.parquet")
            manifest["files"][path.name] = {"rows": len(predictions[split]),
                                            "columns": [str(c) for c in predictions[split].columns],
                                            "sha256": file_sha256(path)}
    return key, manifest


def predictions_path(key: str, root: Path, split: str = "test") -> Path:
    """Where a run's predictions are, from its key and the protected root (`training.tracking.protected_root`)."""
    if not key or not all(c in "0123456789abcdef" for c in key):  # a key, never a path
        raise ValueError(f"not a protected-predictions key: {key!r}")
    return root / "predictions" / key / f"{split}_predictions.parquet"
