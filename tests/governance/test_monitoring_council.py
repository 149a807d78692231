"""Known answers on a small simulated council: an unchanged council raises nothing; police notifications that stop
for the last six months raise feed and drift alerts naming the police features; matured outcomes agree with the
test-period figures; the outputs, the MLflow run and the CLI's exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.governance.monitoring_council import LAST, Council, build_council, police_features, report_for

ID_PATTERN = ("C0", "F0")


@pytest.fixture(scope="module")
def council() -> Council:
    return build_council()


@pytest.fixture(scope="module")
def unchanged(council: Council) -> dict:
    return report_for(council, council.extract)


@pytest.fixture(scope="module")
def police_stopped(council: Council) -> dict:
    return report_for(council, council.without_police())


def test_an_unchanged_council_raises_no_alert(unchanged: dict) -> None:
    assert unchanged["status"] == "ok", unchanged["alerts"]
    assert unchanged["drift"]["counts"]["alert"] == 0 and unchanged["drift"]["score"]["band"] == "stable"
    assert unchanged["feed"]["late_months"] == [] and unchanged["feed"]["empty_months"] == []


def test_police_notifications_that_stop_raise_feed_and_drift_alerts(council: Council, police_stopped: dict) -> None:
    kinds = {(a["kind"], a["subject"]) for a in police_stopped["alerts"]}
    assert police_stopped["status"] == "alert"
    assert ("feed_missing", "domestic_abuse_notification") in kinds
    assert ("source_missing", "police") in kinds
    drift = [a for a in police_stopped["alerts"] if a["kind"] == "input_drift"]
    assert len(drift) == 1
    moved = set(drift[0]["subject"].split(", "))
    assert moved and moved <= police_features(council.feature_names)
    # named in the feature dictionary's words
    assert "police domestic abuse notifications" in drift[0]["message"]
    top = police_stopped["drift"]["top_movers"][0]
    assert top["feature"] in police_features(council.feature_names) and "police" in top["label"]
    # nothing else is blamed
    assert not any("school" in s or "health" in s for _, s in kinds)


def test_matured_outcomes_agree_with_the_test_figures(council: Council) -> None:
    past, _ = council.score(council.extract, pd.Timestamp("2016-02-29"))
    report = report_for(council, council.extract, past=[past], fairness=False)
    assert report["outcomes"]["waiting"] == [f"{LAST:%Y-%m-%d}"]
    (run,) = report["outcomes"]["runs"]
    assert run["as_of"] == "2016-02-29" and run["alerts"] == []
    for name in ("precision", "recall", "recall_not_known", "calibration_listed"):
        fig = run["figures"][name]
        lo, hi = fig["ci"]
        clo, chi = fig["card_ci"]
        assert lo <= fig["value"] <= hi and clo <= fig["card"] <= chi
        assert lo <= chi and clo <= hi, f"{name}: realised {fig} does not overlap the card's interval"
        assert not fig["below_card"]
    counts = run["figures"]["counts"]
    assert counts["entrants"] > 10 and counts["listed_children"] > 0


@pytest.mark.slow
def test_fairness_over_time_reuses_the_audit(council: Council) -> None:
    past, _ = council.score(council.extract, pd.Timestamp("2016-02-29"))
    report = report_for(council, council.extract, past=[past])
    fair = report["fairness_over_time"]
    assert fair["verdict"] in ("pass", "review") and fair["as_of_dates"] == ["2016-02-29"]
    attrs = {p["attribute"] for p in fair["primary"]}
    assert {"previously_known", "ethnic_group", "hub"} <= attrs


def test_reference_and_report_hold_no_identifiers(council: Council, police_stopped: dict) -> None:
    ids = set(council.extract.children["child_id"]) | set(council.extract.children["family_id"])
    for blob in (json.dumps(council.reference), json.dumps(police_stopped)):
        tokens = set(blob.replace('"', " ").replace(",", " ").replace(":", " ").split())
        assert not tokens & ids


def test_report_files(council: Council, police_stopped: dict, tmp_path: Path) -> None:
    from governance.monitoring._report import write_report

    files = write_report(police_stopped, tmp_path, council.config)
    names = {f.name for f in files}
    assert {"monitor.json", "monitor.html", "feed.png", "psi.png"} <= names
    html = (tmp_path / "monitor.html").read_text()
    assert "Decision support only" in html and "ALERT" in html and "police" in html
    assert json.loads((tmp_path / "monitor.json").read_text())["status"] == "alert"


# --- through the registry and the CLI ---------------------------------------------------------------------------
def _register(council: Council, uri: str, tmp: Path) -> None:
    """A registered version whose run holds what monitoring reads (features, reference, test predictions)."""
    import mlflow
    from mlflow import MlflowClient

    from training.reference import REFERENCE_ARTIFACT
    from training.tracking import experiment_id, using_store

    with using_store(uri) as client:
        exp = experiment_id(client)
        with mlflow.start_run(experiment_id=exp) as run:
            mlflow.log_dict({"feature_names": council.feature_names}, "features.json")
            mlflow.log_dict(council.reference, REFERENCE_ARTIFACT)
            path = tmp / "test_predictions.parquet"
            council.test_predictions.to_parquet(path)
            mlflow.log_artifact(str(path), artifact_path="predictions")
        client.create_registered_model("upstream-risk")
        mv = client.create_model_version("upstream-risk", f"runs:/{run.info.run_id}/model", run.info.run_id)
        client.set_registered_model_alias("upstream-risk", "champion", mv.version)
        assert isinstance(client, MlflowClient)


def _write_scores(council: Council, extract, directory: Path) -> None:
    run, _ = council.score(extract, LAST)
    directory.mkdir(parents=True)
    run.scores.to_parquet(directory / "scores.parquet")
    (directory / "manifest.json").write_text(json.dumps(run.manifest))


def _write_extract(extract, directory: Path) -> None:
    directory.mkdir(parents=True)
    extract.children.to_parquet(directory / "children.parquet")
    extract.events.to_parquet(directory / "events.parquet")


def test_cli_exits_1_on_alert_and_logs_a_run_linked_to_the_version(council: Council, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from upstream.cli import app

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    _register(council, uri, tmp_path)
    cfg = council.config.model_dump(mode="json")
    cfg["serving"]["database_url"] = f"sqlite:///{tmp_path / 'serving.db'}"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    runner = CliRunner()
    results = {}
    for name, extract in (("unchanged", council.extract), ("police", council.without_police())):
        _write_extract(extract, tmp_path / name / "council")
        _write_scores(council, extract, tmp_path / name / "scores")
        results[name] = runner.invoke(app, ["monitor", "--data", str(tmp_path / name / "council"),
                                            "--scores", str(tmp_path / name / "scores"),
                                            "--out", str(tmp_path / name / "monitor"),
                                            "--config", str(tmp_path / "config.yaml")])
    assert results["unchanged"].exit_code == 0, results["unchanged"].output
    assert results["unchanged"].output.strip().splitlines()[-1].startswith("monitor: ok")
    assert results["police"].exit_code == 1, results["police"].output
    assert "monitor: alert" in results["police"].output and "feed_missing" in results["police"].output
    report = json.loads((tmp_path / "police" / "monitor" / "monitor.json").read_text())
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(report["mlflow_run_id"])
    assert run.data.tags["model_version"] == "1" and run.data.tags["status"] == "alert"
    assert run.data.metrics["alerts"] >= 4
    assert client.get_model_version("upstream-risk", "1").tags["monitoring_run_id"] == report["mlflow_run_id"]
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"monitor.json", "monitor.html", "charts"} <= logged
    # the archive of scores (identifiable) stays in the output, owner-only, and never goes to MLflow
    archived = tmp_path / "police" / "monitor" / "runs" / f"{LAST:%Y-%m-%d}_v1"
    assert (archived / "scores.parquet").is_file() and (archived.stat().st_mode & 0o077) == 0
    assert not any("runs" in p for p in logged)


def test_a_version_without_a_stored_reference_gets_the_same_one_rebuilt(council: Council) -> None:
    from governance.monitoring._monitor import rebuild_reference

    rebuilt = rebuild_reference(council.extract, council.test_predictions, council.feature_names, council.config)
    assert rebuilt["feed"] == council.reference["feed"]
    assert rebuilt["score"] == council.reference["score"]
    for name in ("n_domestic_abuse_6m", "age_months", "days_since_referral"):
        assert rebuilt["inputs"][name] == council.reference["inputs"][name]
