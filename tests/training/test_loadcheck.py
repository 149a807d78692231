"""Finding 1 (issue 16), the registry side: `promote` accepted a version whose model files had been deleted and
one whose training run was killed mid-logging; a malformed booster.txt aborted any process that loaded it.
A version is now proven loadable in a child process (checksums, load, smoke prediction) before promotion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.training import passing_store, small_config
from training.checksums import CHECKSUM_TAG, file_sha256
from training.loadcheck import check_loadable
from training.registry import PromotionRefused, promote

NAME = "upstream-risk"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Four versions that pass the metric gates (each test breaks its own one)."""
    return passing_store(tmp_path_factory.mktemp("store"), 4)


def model_files(store, version: str, name: str) -> list[Path]:
    """The stored copies of one version's model file (the logged model's folder is named by its id)."""
    _, root, client = store
    model_id = client.get_model_version(NAME, version).source.rstrip("/").rsplit("/", 1)[-1]
    found = [p for p in (root / "mlruns" / "artifacts").rglob(name) if model_id in str(p)]
    assert found, (model_id, name)
    return found


def test_good_version_loads(store) -> None:
    uri, _, client = store
    sums = json.loads(client.get_model_version(NAME, "1").tags[CHECKSUM_TAG])
    assert set(sums) == {"booster.txt", "calibrator.json", "meta.json"}
    check = check_loadable("1", tracking_uri=uri, require_checksums=True)
    assert check.ok and "checksums match" in check.detail, check.detail
    # a version logged before checksums were kept: served and scored (isolated all the same), never promoted
    client.delete_model_version_tag(NAME, "1", CHECKSUM_TAG)
    check = check_loadable("1", tracking_uri=uri)
    assert check.ok and "no checksums recorded" in check.detail
    assert not check_loadable("1", tracking_uri=uri, require_checksums=True).ok


def corrupt_booster(store, version: str) -> None:
    """Truncate the stored booster.txt (LightGBM then aborts the process that loads it) and, as if it had been
    logged that way, record its checksum: only the load itself can find the fault."""
    _, _, client = store
    paths = model_files(store, version, "booster.txt")
    for path in paths:
        text = path.read_text()
        path.write_text(text[: len(text) // 2])
    sums = json.loads(client.get_model_version(NAME, version).tags[CHECKSUM_TAG])
    sums["booster.txt"] = file_sha256(paths[0])
    client.set_model_version_tag(NAME, version, CHECKSUM_TAG, json.dumps(sums))


def test_malformed_booster_crashes_the_child_not_the_caller(store, tmp_path: Path) -> None:
    uri, _, _ = store
    corrupt_booster(store, "2")
    check = check_loadable("2", tracking_uri=uri)  # this process survives LightGBM's abort
    assert not check.ok and "crashed the process (SIGABRT" in check.detail
    with pytest.raises(PromotionRefused, match="gate 'loads' failed.*SIGABRT"):
        promote(small_config(), reason="try", version=2, tracking_uri=uri)
    # `upstream score` with that model: the usual one-line error, not exit 134 from LightGBM's abort
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "upstream.cli", "score", "--alias", "2", "--data",
                           str(root / "examples" / "tiny_extract"), "--out", str(tmp_path / "scores")],
                          capture_output=True, text=True, errors="replace",
                          env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.strip().splitlines()[-1].startswith("upstream: error: --alias 2: the model cannot be used: "
                                                           "loading version 2 crashed the process (SIGABRT")
    assert not (tmp_path / "scores").exists()


def test_deleted_artifacts_are_refused(store) -> None:
    uri, _, _ = store
    for path in model_files(store, "3", "booster.txt"):
        path.unlink()
    check = check_loadable("3", tracking_uri=uri)
    assert not check.ok and "booster.txt is missing" in check.detail
    with pytest.raises(PromotionRefused, match="gate 'loads' failed.*missing"):
        promote(small_config(), reason="try", version=3, tracking_uri=uri)


def test_changed_files_killed_runs_and_missing_provenance_are_refused(store) -> None:
    uri, _, client = store
    for path in model_files(store, "4", "calibrator.json"):
        path.write_text(path.read_text().replace("0", "1", 1))
    check = check_loadable("4", tracking_uri=uri)
    assert not check.ok and "does not match its recorded checksum" in check.detail
    mv = client.get_model_version(NAME, "4")
    client.delete_model_version_tag(NAME, "4", "git_commit")
    with pytest.raises(PromotionRefused, match="gate 'provenance' failed.*git_commit"):
        promote(small_config(), reason="try", version=4, tracking_uri=uri)
    client.set_terminated(mv.run_id, status="KILLED")  # `kill -9` while logging leaves a run not FINISHED
    with pytest.raises(PromotionRefused, match="gate 'run finished' failed.*KILLED"):
        promote(small_config(), reason="try", version=4, tracking_uri=uri)
    assert "champion" not in client.get_registered_model(NAME).aliases
