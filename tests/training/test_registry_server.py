"""The shared registry: a real PostgreSQL and `mlflow server` started in a temp folder; log, register, alias, load.

Only `MLFLOW_TRACKING_URI=http://127.0.0.1:PORT` changes: the same `log_training`, `promote` and `load_version`
as for the single council's SQLite store. Skipped (with the reason) only where PostgreSQL cannot be run;
`make test` installs Debian's postgresql when it is missing. Marked slow: starting PostgreSQL and the MLflow
server (schema migrations, two Python processes importing MLflow) takes 45-90 s on the shared 2-core machine;
run with `make test-all` or `pytest -m slow tests/training/test_registry_server.py`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from tests.helpers.training import FEATURES, small_config
from training.registry import list_versions, load_version, promote
from training.registry_server import RegistryServer, free_port, main, why_unavailable
from training.tracking import log_training

NAME = "upstream-risk"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    reason = why_unavailable()
    if reason:
        pytest.skip(f"PostgreSQL cannot run here: {reason}")
    # not pytest's tmp_path: /tmp/pytest-of-root is 0700 and the postgres user must reach the cluster folder
    root = Path(tempfile.mkdtemp(prefix="upstream-registry-test-"))
    srv = RegistryServer(root=root, port=free_port(), pg_port=free_port())
    try:
        srv.up()
        yield srv
    finally:
        srv.down()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def result(fitted_result):
    return fitted_result


@pytest.fixture(scope="module")
def logged(server, result, feature_table):
    table, _ = feature_table
    # version 1 carries test figures that pass the promotion gates (the small random table's own may not)
    metrics = copy.deepcopy(result.metrics)
    metrics["test"]["model"]["overall"].update(pr_auc=0.40, ece=0.01)
    metrics["test"]["logistic"]["overall"]["pr_auc"] = 0.35
    metrics["test"]["rule"]["overall"]["pr_auc"] = 0.20
    first = log_training(dataclasses.replace(result, metrics=metrics), table_sample=table.head(100),
                         fingerprint="fp-region", tracking_uri=server.tracking_uri, plots=False)
    second = log_training(result, table_sample=table.head(100), fingerprint="fp-region",
                          tracking_uri=server.tracking_uri, plots=False)
    return first, second


def test_versions_aliases_and_tags_live_in_postgres(server, logged) -> None:
    first, second = logged
    assert (first["version"], second["version"]) == ("1", "2")
    assert first["tracking_uri"] == server.tracking_uri
    client = MlflowClient(tracking_uri=server.tracking_uri, registry_uri=server.tracking_uri)
    assert {k: str(v) for k, v in client.get_registered_model(NAME).aliases.items()} == {"challenger": "2"}
    assert client.get_model_version(NAME, "1").tags["data_fingerprint"] == "fp-region"
    # the rows are in PostgreSQL, read with psql through the password file the server uses
    psql = shutil.which("psql") or str(Path(sys.executable).parent / "psql")
    done = subprocess.run([psql, "-h", "127.0.0.1", "-p", str(server.pg_port), "-U", "upstream", "-d", "mlflow",
                           "-tAc", f"SELECT count(*) FROM model_versions WHERE name = '{NAME}'"],
                          capture_output=True, text=True, env={**os.environ, "PGPASSFILE": str(server.pgpass)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"
    # artifacts are served by the server from its artifacts folder, not written by the client elsewhere
    assert any(p.name == "booster.txt" for p in server.artifacts.rglob("booster.txt"))
    assert any(p.name == "metrics.json" for p in server.artifacts.rglob("metrics.json"))
    assert oct(server.pgpass.stat().st_mode & 0o777) == "0o600"


def test_promote_and_load_through_the_environment(server, logged, result, feature_table,
                                                  monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.tracking_uri)
    cfg = small_config()
    client = MlflowClient(tracking_uri=server.tracking_uri, registry_uri=server.tracking_uri)
    if client.get_registered_model(NAME).aliases.get("champion") is None:
        done = promote(cfg, reason="regional registry test", version="1", user="tester")
        assert done.version == "1"
    versions = list_versions(cfg).set_index("version")
    assert versions.loc[1, "aliases"] == "champion" and versions.loc[2, "aliases"] == "challenger"

    table, _ = feature_table
    rows = table[table["as_of"] == result.split.test[0]].head(30)
    loaded = load_version("champion")
    assert loaded.version == "1" and loaded.feature_names == FEATURES
    pred = result.predictions["test"]
    expected = pred[pred["as_of"] == result.split.test[0]].set_index("child_id").loc[rows["child_id"]]
    np.testing.assert_allclose(loaded.predict(rows)["margin"], expected["margin"], rtol=1e-6)


def test_pyfunc_loads_from_the_server_in_a_fresh_process(server, logged, result, feature_table,
                                                         tmp_path) -> None:
    table, _ = feature_table
    rows = table[table["as_of"] == result.split.test[0]].head(20)
    rows.to_parquet(tmp_path / "rows.parquet")
    script = textwrap.dedent(f"""
        import mlflow, pandas as pd
        model = mlflow.pyfunc.load_model("models:/{NAME}@challenger")
        model.predict(pd.read_parquet({str(tmp_path / 'rows.parquet')!r})).to_parquet({str(tmp_path / 'o.parquet')!r})
    """)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.tracking_uri}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    out = pd.read_parquet(tmp_path / "o.parquet")
    pred = result.predictions["test"]
    expected = pred[pred["as_of"] == result.split.test[0]].set_index("child_id").loc[rows["child_id"]]
    np.testing.assert_allclose(out["probability"], expected["probability"], rtol=1e-6)


def test_status_and_up_again_reuse_the_running_registry(server, capsys) -> None:
    assert main(["status", "--root", str(server.root)]) == 0
    out = capsys.readouterr().out
    assert "postgres: True" in out and "healthy: True" in out and server.tracking_uri in out
    # `up` on a running registry keeps its ports and says where it is
    again = RegistryServer(root=server.root, port=free_port(), pg_port=free_port())
    assert again.up() == server.tracking_uri


def test_refuses_a_busy_port_with_a_clear_message(capsys) -> None:
    import socket

    if why_unavailable():
        pytest.skip(f"PostgreSQL cannot run here: {why_unavailable()}")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        root = Path(tempfile.mkdtemp(prefix="upstream-registry-busy-"))
        try:
            code = main(["up", "--root", str(root), "--pg-port", str(port), "--port", str(free_port())])
            assert code == 2
            assert f"port {port} (PostgreSQL) is in use" in capsys.readouterr().err
        finally:
            RegistryServer(root=root).down()
            shutil.rmtree(root, ignore_errors=True)
