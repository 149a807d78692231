"""Finding 4 (issue 16): every training run stored child-level rows (child_id, family_id, sex, ethnicity, ...) in
MLflow. Now no tracking artifact holds an identifier or a protected characteristic; the predictions the audit
needs are in an owner-only folder beside the store, found from the run by a pseudonymous key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.helpers.training import small_config
from training.protected import KEY_TAG, predictions_path
from training.tracking import log_training, protected_root

IDENTIFYING = ("child_id", "family_id", "sex", "ethnicity", "ethnic_group", "disability")


@pytest.fixture(scope="module")
def logged(tmp_path_factory, feature_table, fitted_result):
    table, _ = feature_table
    result = fitted_result
    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    out = log_training(result, table_sample=table.head(50), fingerprint="fp", tracking_uri=uri, plots=False)
    return uri, out, root, table


def test_no_tracking_artifact_holds_identifiers(logged) -> None:
    uri, out, root, table = logged
    artifacts = root / "mlruns" / "artifacts"
    files = [p for p in artifacts.rglob("*") if p.is_file()]
    assert files and not any(p.suffix in (".parquet", ".csv") for p in files)
    ids = set(table["child_id"].head(200)) | set(table["family_id"].head(200))
    for p in files:  # every text artifact (model files, metrics, config, manifest...): no id anywhere
        if p.suffix != ".png":
            text = p.read_text(encoding="utf-8", errors="replace")
            assert not any(i in text for i in ids), p
            assert not any(f'"{col}": "' in text for col in IDENTIFYING), p
    manifest = json.loads(next(artifacts.rglob("manifest.json")).read_text())
    assert manifest["key"] and "child_id" in manifest["files"]["test_predictions.parquet"]["columns"]


def test_predictions_are_protected_beside_the_store(logged) -> None:
    uri, out, root, _ = logged
    client = MlflowClient(tracking_uri=uri)
    key = client.get_run(out["run_id"]).data.tags[KEY_TAG]
    assert key != out["run_id"]
    path = predictions_path(key, protected_root(uri))
    assert path.is_relative_to(root / "mlruns" / "protected")
    pred = pd.read_parquet(path)
    assert {"child_id", "family_id", "sex", "ethnicity", "disability", "label"} <= set(pred.columns)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    with pytest.raises(ValueError):
        predictions_path("../../etc", protected_root(uri))


def test_the_audit_reads_the_protected_predictions(logged, tmp_path: Path) -> None:
    from governance import audit_version

    uri, out, _, _ = logged
    result, _, version = audit_version(small_config(), tmp_path / "audit", version=out["version"], replicates=20,
                                       tracking_uri=uri)
    assert version == out["version"] and result.verdict in ("pass", "review")
