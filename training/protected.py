"""Child-level predictions kept out of the tracking store: a protected folder beside it, owner-only.

The fairness audit needs each test row's child and family ids (family-clustered bootstrap), protected
characteristics (sex, ethnicity, disability) and outcome. Those are identifiable, so they are never MLflow
artifacts (anyone who can read the tracking store could read them). Instead `write_predictions` puts them in

    <protected root>/predictions/<key>/{test,validation}_predictions.parquet     (folders 0700, files 0600)

where `key` is a random pseudonymous key recorded on the run as the tag `protected_predictions_key`; the run
itself gets only `predictions/manifest.json` (the key, row counts, column names and SHA-256 of each file, no
row-level data). The protected root is `UPSTREAM_PROTECTED_DIR` if set, else `protected/` beside a SQLite
tracking store (`mlruns/protected/` by default), else `mlruns/protected/` in the checkout.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pandas as pd

from core.io import DIR_MODE, write_parquet

KEY_TAG = "protected_predictions_key"
ROOT_ENV = "UPSTREAM_PROTECTED_DIR"
SPLITS = ("test", "validation")


def protected_root(tracking_uri: str) -> Path:
    """Where identifiable training outputs live for this tracking store (see the module docstring)."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///"):]).parent / "protected"
    from training.tracking import REPO_ROOT

    return REPO_ROOT / "mlruns" / "protected"


def _private_dirs(folder: Path) -> None:
    for d in reversed([folder, *folder.parents]):
        if not d.exists():
            d.mkdir(mode=DIR_MODE)
    for d in (folder, folder.parent, folder.parent.parent):  # <root>/predictions/<key>
        os.chmod(d, DIR_MODE)


def write_predictions(predictions: dict[str, pd.DataFrame], tracking_uri: str) -> tuple[str, dict]:
    """Write the splits' predictions to a new protected folder; returns (key, manifest for the run)."""
    from training.loadcheck import file_sha256

    key = secrets.token_hex(16)
    folder = protected_root(tracking_uri) / "predictions" / key
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


def predictions_path(key: str, tracking_uri: str, split: str = "test") -> Path:
    if not key or not all(c in "0123456789abcdef" for c in key):  # a key, never a path
        raise ValueError(f"not a protected-predictions key: {key!r}")
    return protected_root(tracking_uri) / "predictions" / key / f"{split}_predictions.parquet"
