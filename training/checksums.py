"""SHA-256 checksums of a model's files, recorded when the model is logged and checked before it is loaded."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHECKSUM_TAG = "artifact_sha256"
MODEL_FILES = ("booster.txt", "calibrator.json", "meta.json")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(model_dir: str | Path) -> dict[str, str]:
    """SHA-256 of each model file about to be logged (recorded on the version as the `artifact_sha256` tag)."""
    return {name: file_sha256(Path(model_dir) / name) for name in MODEL_FILES}
