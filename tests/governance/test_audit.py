"""The audit of a registered version: outputs logged to its run, the verdict tag, and the promotion gate reading it."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from core.config import Config, parse_config
from core.errors import UpstreamError
from governance import EarlyHelpCounts, audit_predictions, audit_version, early_help_from_extract
from tests.helpers.audit import make_config, make_predictions
from tests.helpers.training import small_config
from training.registry import PromotionRefused, promote
from training.tracking import log_training

OUTPUTS = {"audit.json", "audit.html", "model_card.md", "transparency_record.md"}


def run_config() -> Config:
    """Here the run step is under test (MLflow, files, tags), not the groups: three groups keep it quick."""
    data = small_config().model_dump(mode="json")
    data["fairness"].update(groups=["sex", "hub", "previously_known"], intersections=[])
    return parse_config(data)


@pytest.fixture(scope="module")
def store(tmp_path_factory, feature_table, fitted_result):
    """A store holding one version logged by the training pipeline (with its test predictions)."""
    table, _ = feature_table
    result = fitted_result
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlruns' / 'mlflow.db'}"
    logged = log_training(result, table_sample=table.head(200), fingerprint="fp-audit", tracking_uri=uri, plots=False)
    return uri, logged


def test_audit_version_logs_outputs_and_sets_the_verdict_tag(store, tmp_path) -> None:
    uri, logged = store
    result, name, version = audit_version(run_config(), tmp_path / "out", alias="challenger", replicates=10,
                                          tracking_uri=uri)
    assert (name, version) == ("upstream-risk", logged["version"])
    assert {p.name for p in (tmp_path / "out").iterdir()} == OUTPUTS
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = client.get_model_version(name, version).tags
    # the tags say what the audit found: the verdict follows from the reasons, and the reasons tag summarises them
    assert result.verdict == ("review" if result.reasons else "pass")
    assert tags["fairness_verdict"] == result.verdict
    assert tags["fairness_reasons"] == result.short_reasons() and len(tags["fairness_reasons"]) <= 500
    logged_files = {a.path for a in client.list_artifacts(logged["run_id"], "fairness")}
    assert logged_files == {f"fairness/{n}" for n in OUTPUTS}
    report = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert report["model"]["version"] == version and report["model"]["metrics"]["test_model_pr_auc"] > 0
    assert report["verdict"] == result.verdict and report["reasons"] == list(result.reasons)


def test_promote_refuses_review_unless_overridden_with_a_reason(store, tmp_path) -> None:
    uri, logged = store
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_model_version_tag("upstream-risk", logged["version"], "fairness_verdict", "review")
    # Tiny data fails the other gates first; make them pass so the fairness gate is the one tested.
    passing = {"test_model_pr_auc": 0.9, "test_model_ece": 0.001,
               **{f"test_model_paired_{b}_pr_auc_diff_ci_{end}": v for b in ("logistic", "practice", "rule")
                  for end, v in (("low", 0.1), ("high", 0.2))}}
    for key, value in passing.items():
        client.log_metric(logged["run_id"], key, value, step=1)
    cfg = small_config()
    with pytest.raises(PromotionRefused, match="fairness"):
        promote(cfg, reason="monthly retrain", tracking_uri=uri)
    done = promote(cfg, reason="board accepted: hub capacity explains it", override_fairness=True,
                   tracking_uri=uri, user="board-chair")
    assert any("OVERRIDDEN" in line for line in done.checks)
    tags = client.get_model_version("upstream-risk", logged["version"]).tags
    assert "board-chair" in tags["fairness_override"] and "hub capacity" in tags["fairness_override"]


def test_cli_audit(store, tmp_path, monkeypatch) -> None:
    from upstream.cli import app

    uri, logged = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cfg_path = tmp_path / "config.yaml"
    import yaml

    cfg_path.write_text(yaml.safe_dump(run_config().model_dump(mode="json")))
    out = CliRunner().invoke(app, ["audit", "--version", logged["version"], "--out", str(tmp_path / "cli"),
                                   "--replicates", "5", "--config", str(cfg_path)])
    assert out.exit_code == 0, out.output
    assert "fairness verdict" in out.output
    assert (tmp_path / "cli" / "audit.html").is_file()
    with pytest.raises(UpstreamError, match="not both"):
        audit_version(small_config(), tmp_path / "x", version=1, alias="champion", tracking_uri=uri)


def test_early_help_from_the_extract(tiny_copy) -> None:
    cfg = make_config()
    from core.config import load_config

    hubs_cfg = load_config()
    counts = early_help_from_extract(tiny_copy, hubs_cfg, start=pd.Timestamp("2013-12-31"),
                                     end=pd.Timestamp("2014-12-31"))
    assert counts.under_5 + counts.five_plus == 1
    assert "extract" in counts.source
    report = audit_predictions(make_predictions(800), cfg, replicates=5,
                               early_help=EarlyHelpCounts(under_5=120, five_plus=60, source="test")).report
    eh = report["age_coverage"]["early_help"]
    assert eh["share_5_plus"] == pytest.approx(60 / 180, abs=1e-4) and eh["source"] == "test"
    tiny = audit_predictions(make_predictions(800), cfg, replicates=5,
                             early_help=EarlyHelpCounts(under_5=120, five_plus=4, source="test")).report
    assert tiny["age_coverage"]["early_help"]["aged_5_plus"] is None
    assert tiny["age_coverage"]["early_help"]["share_5_plus"] is None


def test_age_coverage_is_side_by_side() -> None:
    report = audit_predictions(make_predictions(2000), make_config(), replicates=5).report
    age = report["age_coverage"]
    assert set(age["flagged"]) == {"list", "child_capacity", "top2pct"}
    for block in [*age["flagged"].values(), age["entrants"]]:
        assert 0 <= block["share_5_plus"] <= 1
        assert block["share_5_plus"] == pytest.approx(block["aged_5_plus"] / block["total"], abs=1e-4)
    assert "early_help_note" in age
