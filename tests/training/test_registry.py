"""MLflow tracking and the gated registry: versions, aliases, tags, fresh-process loading, promotion gates."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from core.errors import UpstreamError
from tests.helpers.training import FEATURES, small_config
from training.model import RiskModel
from training.registry import PromotionRefused, _check_gates, list_versions, load_version, promote
from training.tracking import log_training, resolve_tracking_uri


@pytest.fixture(scope="module")
def result(fitted_result):
    return fitted_result


def _with_test_metrics(result, **overall: float):
    metrics = copy.deepcopy(result.metrics)
    for key, value in overall.items():
        scorer, _, metric = key.partition("__")
        metrics["test"][scorer]["overall"][metric] = value
    return dataclasses.replace(result, metrics=metrics)


@pytest.fixture(scope="module")
def store(tmp_path_factory, result, feature_table):
    """A store with version 1 logged in full (plots included) from the fitted result."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlruns' / 'mlflow.db'}"
    table, _ = feature_table
    logged = log_training(result, table_sample=table.head(200), fingerprint="fp-test", tracking_uri=uri)
    return uri, logged


def test_version_gets_challenger_alias_tags_and_artifacts(store, result) -> None:
    uri, logged = store
    assert logged["version"] == "1"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    model = client.get_registered_model("upstream-risk")
    assert {k: str(v) for k, v in model.aliases.items()} == {"challenger": "1"}
    tags = client.get_model_version("upstream-risk", "1").tags
    assert tags["data_fingerprint"] == "fp-test"
    assert tags["config_hash"] == result.config.config_hash()
    assert tags["feature_set_version"] == "1" and tags["git_commit"]
    run = client.get_run(logged["run_id"])
    assert run.data.metrics["test_model_pr_auc"] == pytest.approx(result.metrics["test"]["model"]["overall"]["pr_auc"])
    assert "validation_logistic_pr_auc" in run.data.metrics and "test_oracle_pr_auc" in run.data.metrics
    assert run.data.params["imbalance"] == result.imbalance
    artifacts = {a.path for a in client.list_artifacts(logged["run_id"])}
    assert {"metrics.json", "config.yaml", "features.json", "splits.json", "plots", "predictions"} <= artifacts
    plots = {Path(a.path).name for a in client.list_artifacts(logged["run_id"], "plots")}
    assert plots == {"pr_curves.png", "reliability.png", "precision_at_k.png", "importance.png",
                     "shap_beeswarm.png"}
    # artifacts live beside the SQLite file, in artifacts/
    db = Path(uri[len("sqlite:///"):])
    assert (db.parent / "artifacts").is_dir()


def test_pyfunc_loads_in_a_fresh_process(store, result, feature_table, tmp_path) -> None:
    uri, _ = store
    table, _ = feature_table
    rows = table[table["as_of"] == result.split.test[0]].head(50)
    rows.to_parquet(tmp_path / "rows.parquet")
    script = textwrap.dedent(f"""
        import mlflow, pandas as pd
        model = mlflow.pyfunc.load_model("models:/upstream-risk@challenger")
        out = model.predict(pd.read_parquet({str(tmp_path / 'rows.parquet')!r}))
        out.to_parquet({str(tmp_path / 'out.parquet')!r})
    """)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == ["probability", "margin"]
    pred = result.predictions["test"]
    expected = pred[pred["as_of"] == result.split.test[0]].set_index("child_id").loc[rows["child_id"]]
    np.testing.assert_allclose(out["margin"], expected["margin"], rtol=1e-6)
    np.testing.assert_allclose(out["probability"], expected["probability"], rtol=1e-6)


def test_load_version_gives_the_risk_model(store, result, feature_table) -> None:
    uri, logged = store
    table, _ = feature_table
    loaded = load_version("challenger", tracking_uri=uri)
    assert isinstance(loaded, RiskModel)
    assert loaded.version == "1" and loaded.run_id == logged["run_id"] and loaded.feature_names == FEATURES
    assert loaded.alias == "challenger" and loaded.aliases == ("challenger",)
    assert loaded.tags["data_fingerprint"] == "fp-test"
    assert loaded.num_iteration == result.model.best_iteration_
    assert loaded.booster.num_trees() == result.model.best_iteration_  # only the trees it uses are logged
    rows = table[table["as_of"] == result.split.test[0]].head(20)
    shap, base = loaded.explain(rows)
    np.testing.assert_allclose(shap.sum(axis=1) + base, loaded.predict(rows)["margin"], rtol=1e-6, atol=1e-9)
    # the same numbers as training's own model and calibrator
    fitted = result.risk_model().predict(rows)
    np.testing.assert_allclose(loaded.predict(rows), fitted, rtol=1e-9, atol=1e-12)
    assert load_version(1, tracking_uri=uri).alias is None
    with pytest.raises(UpstreamError, match="no champion yet"):
        load_version(tracking_uri=uri)
    with pytest.raises(UpstreamError, match="no version 99"):
        load_version(99, tracking_uri=uri)


def test_model_is_logged_as_code_with_a_made_up_input_example(store, result) -> None:
    uri, logged = store
    from mlflow.models import Model

    from training.tracking import using_store

    with using_store(uri):
        import mlflow

        local = Path(mlflow.artifacts.download_artifacts(logged["model_uri"]))
    mlmodel = Model.load(local / "MLmodel")
    flavor = mlmodel.flavors["python_function"]
    assert "model_code_path" in flavor and "python_model.pkl" not in {p.name for p in local.rglob("*")}
    assert mlmodel.signature is not None and mlmodel.signature.inputs.input_names() == FEATURES
    example = json.loads((local / "input_example.json").read_text())
    assert example["columns"] == FEATURES and example["data"] == [[0] * len(FEATURES)]


def test_promotion_gates_end_to_end(tmp_path, result, feature_table) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    table, _ = feature_table
    cfg = small_config()

    def log(res) -> str:
        return str(log_training(res, table_sample=table.head(50), fingerprint="fp", tracking_uri=uri,
                                plots=False)["version"])

    with pytest.raises(UpstreamError, match="no registered model"):
        promote(cfg, reason="nothing yet", tracking_uri=uri)
    v1 = log(_with_test_metrics(result, model__pr_auc=0.30, logistic__pr_auc=0.35, rule__pr_auc=0.2,
                                model__ece=0.01))
    with pytest.raises(PromotionRefused, match=r"beats logistic baseline.*short by 0\.0500"):
        promote(cfg, reason="first", tracking_uri=uri)
    v2 = log(_with_test_metrics(result, model__pr_auc=0.40, logistic__pr_auc=0.35, rule__pr_auc=0.2,
                                model__ece=0.01))
    done = promote(cfg, reason="beats baselines", user="tester", tracking_uri=uri)
    assert (done.version, done.previous_champion) == (v2, None)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert {k: str(v) for k, v in client.get_registered_model("upstream-risk").aliases.items()} == {"champion": v2}
    tags = client.get_model_version("upstream-risk", v2).tags
    assert tags["promotion_reason"] == "beats baselines" and tags["promoted_by"] == "tester"
    assert tags["promoted_at"].endswith("Z")
    with pytest.raises(UpstreamError, match="already the champion"):
        promote(cfg, reason="again", version=v2, tracking_uri=uri)

    v3 = log(_with_test_metrics(result, model__pr_auc=0.37, model__ece=0.01))
    with pytest.raises(PromotionRefused, match=r"PR-AUC vs champion.*0\.0300 below.*short by 0\.0200"):
        promote(cfg, reason="worse", tracking_uri=uri)
    client.set_model_version_tag("upstream-risk", v3, "fairness_verdict", "review")
    with pytest.raises(PromotionRefused):
        promote(cfg, reason="worse", version=v3, tracking_uri=uri)

    v4 = log(_with_test_metrics(result, model__pr_auc=0.395, model__ece=0.01))
    client.set_model_version_tag("upstream-risk", v4, "fairness_verdict", "review")
    with pytest.raises(PromotionRefused, match="gate 'fairness'"):
        promote(cfg, reason="fair?", tracking_uri=uri)
    done = promote(cfg, reason="board accepted the review", override_fairness=True, user="lead", tracking_uri=uri)
    assert (done.version, done.previous_champion) == (v4, v2)
    assert "board accepted" in client.get_model_version("upstream-risk", v4).tags["fairness_override"]
    versions = list_versions(cfg, tracking_uri=uri)
    assert versions["version"].tolist() == [4, 3, 2, 1]
    assert versions.set_index("version").loc[4, "aliases"] == "champion"
    assert versions.set_index("version").loc[3, "fairness"] == "review"
    assert versions.set_index("version").loc[1, "fairness"] == "not audited"
    assert int(v1) == 1 and load_version(tracking_uri=uri).version == v4


def test_gates_report_by_how_much() -> None:
    cfg = small_config()
    good = {"test_pr_auc": 0.5, "test_ece": 0.01, "test_logistic_pr_auc": 0.4, "test_rule_pr_auc": 0.3}
    assert any("not yet audited" in line for line in _check_gates(cfg, good, None, verdict=None,
                                                                   override_fairness=False))
    with pytest.raises(PromotionRefused, match=r"ECE 0\.0500 exceeds the bound 0\.0200 by 0\.0300"):
        _check_gates(cfg, {**good, "test_ece": 0.05}, None, verdict=None, override_fairness=False)
    with pytest.raises(PromotionRefused, match="rule baseline"):
        _check_gates(cfg, {**good, "test_rule_pr_auc": 0.6}, None, verdict="pass", override_fairness=False)
    # within tolerance of the champion passes
    _check_gates(cfg, good, {"test_pr_auc": 0.505}, verdict="pass", override_fairness=False)


def test_cli_models_and_promote(store, monkeypatch) -> None:
    from upstream.cli import app

    uri, _ = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    runner = CliRunner()
    listed = runner.invoke(app, ["models"])
    assert listed.exit_code == 0, listed.output
    assert "challenger" in listed.output and "PR-AUC" in listed.output and "not audited" in listed.output
    refused = runner.invoke(app, ["promote", "--reason", "try", "--version", "7"])
    assert refused.exit_code != 0


def test_default_store_is_absolute_under_the_checkout(monkeypatch, tmp_path) -> None:
    import training

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    checkout = Path(training.__file__).resolve().parent.parent
    assert resolve_tracking_uri() == f"sqlite:///{checkout / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert resolve_tracking_uri() == "http://tracking.example:5000"  # a server's URI is used as given
    monkeypatch.chdir(tmp_path)  # a relative SQLite path is made absolute against the working directory
    assert resolve_tracking_uri("sqlite:///store/m.db") == f"sqlite:///{tmp_path / 'store' / 'm.db'}"
    assert (tmp_path / "store").is_dir()
