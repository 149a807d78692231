"""Finding 1 (issue 16), the service side: a malformed booster.txt in the champion made LightGBM abort the whole
server at the next hot reload (exit 134), and every start after. Now each version is loaded in a child process
first: the real LightGBM crash happens there, the service keeps answering with the old version, and a restart
falls back to the last version that loaded, saying so in /health/ready."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from core.config import Config
from serving.web.app import create_app
from serving.web.data import ScoresRepository, Store
from tests.helpers.training import passing_store, small_config
from training.checksums import CHECKSUM_TAG, file_sha256
from training.registry import promote

NAME = "upstream-risk"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, MlflowClient]:
    """Two registered versions that pass the metric gates; version 1 is promoted to champion."""
    store = passing_store(tmp_path_factory.mktemp("registry"), 2)
    promote(small_config(), reason="first", version=1, tracking_uri=store[0])
    return store


def _corrupt_and_crown(registry: tuple[str, Path, MlflowClient], version: str) -> None:
    """Truncate the version's stored booster.txt (with a matching checksum, as if logged that way) and point the
    champion alias at it by hand, as a careless operator could (`promote` would refuse it)."""
    _, root, client = registry
    model_id = client.get_model_version(NAME, version).source.rstrip("/").rsplit("/", 1)[-1]
    paths = [p for p in (root / "mlruns" / "artifacts").rglob("booster.txt") if model_id in str(p)]
    assert paths
    for path in paths:
        text = path.read_text()
        path.write_text(text[: len(text) // 2])
    sums = json.loads(client.get_model_version(NAME, version).tags[CHECKSUM_TAG])
    sums["booster.txt"] = file_sha256(paths[0])
    client.set_model_version_tag(NAME, version, CHECKSUM_TAG, json.dumps(sums))
    client.set_registered_model_alias(NAME, "champion", version)


def test_corrupted_champion_never_takes_the_service_down(registry, tmp_path: Path, s_config: Config,
                                                         scores_dir: Path) -> None:
    uri, _, _ = registry
    config = s_config.model_copy(update={"model": s_config.model.model_copy(update={"registered_name": NAME})})
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    store = Store(db)
    token = store.add_user("ds", "data_scientist")
    auth = {"Authorization": f"Bearer {token}"}

    app = create_app(config, store=store, scores=ScoresRepository(scores_dir), start_reload=False, tracking_uri=uri)
    host = app.state.upstream.host
    with TestClient(app) as client:
        assert host.check()
        assert client.get("/api/model", headers=auth).json()["version"] == "1"
        _corrupt_and_crown(registry, "2")
        assert not host.check()  # the child process died of LightGBM's abort; this one did not
        ready = client.get("/health/ready").json()
        assert ready["ready"] and ready["model_version"] == "1"
        assert "version 2" in ready["reload_error"] and "SIGABRT" in ready["reload_error"]
        assert client.get("/api/model", headers=auth).json()["version"] == "1"
        assert not host.check()  # the failed version is not retried (one child per alias move, not per poll)

    # a restart: the champion still cannot load, so the service serves the last version that did, and says so
    restarted = create_app(config, store=Store(db), scores=ScoresRepository(scores_dir), start_reload=False,
                           tracking_uri=uri)
    with TestClient(restarted) as client:
        restarted.state.upstream.host.check()
        ready = client.get("/health/ready").json()
        assert ready["ready"] and ready["model_version"] == "1"
        assert "version 2" in ready["fallback"] and "last version that loaded" in ready["fallback"]
        assert client.get("/api/model", headers=auth).json()["version"] == "1"
