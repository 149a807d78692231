"""A region's training: per-council and pooled figures, each council's own model and the pooled-vs-own verdict."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import pandas as pd

from tests.helpers.region import trained_region
from tests.helpers.training import production_table
from training.councils import ARTIFACT, BEATS, LOSES, UNCLEAR, council_summary, councils_in


def test_every_council_gets_pooled_figures_and_a_verdict_against_its_own_model() -> None:
    outcome = trained_region()
    table = outcome.councils
    assert table is not None
    assert list(table["council"]) == ["301", "302", "303", "pooled"]
    councils = table.iloc[:3]
    assert set(councils["verdict"]) <= {BEATS, LOSES, UNCLEAR}
    for _, r in councils.iterrows():
        # intervals on every headline figure, the difference's interval consistent with its verdict
        for key in ("pooled_pr_auc", "pooled_recall_at_list", "own_pr_auc", "pr_auc_diff"):
            assert r[f"{key}_ci_low"] <= r[key] <= r[f"{key}_ci_high"], key
        assert (r["verdict"] == BEATS) == (r["pr_auc_diff_ci_low"] > 0)
        assert (r["verdict"] == LOSES) == (r["pr_auc_diff_ci_high"] < 0)
        assert r["compared_rows"] == r["test_rows"]  # the same test rows for both models
    # the councils' test rows and entrants add up to the pooled ones
    pooled = table.iloc[3]
    assert councils["test_rows"].sum() == pooled["test_rows"]
    assert councils["entrants"].sum() == pooled["entrants"]
    assert math.isclose(pooled["pooled_pr_auc"], outcome.result.metrics["test"]["model"]["overall"]["pr_auc"])
    assert "per council, test" in council_summary(table)


def test_the_per_council_table_is_logged_without_child_rows() -> None:
    outcome = trained_region()
    client = mlflow.MlflowClient(tracking_uri=outcome.tracking_uri)
    run = client.get_run(outcome.run_id)
    assert {f"council_{c}_verdict" for c in ("301", "302", "303")} <= set(run.data.tags)
    assert "test_council_302_pooled_pr_auc" in run.data.metrics
    path = mlflow.artifacts.download_artifacts(run_id=outcome.run_id, artifact_path=ARTIFACT,
                                               tracking_uri=outcome.tracking_uri)
    logged = pd.read_csv(path, dtype={"council": str, "entrants": str})
    assert len(logged) == 4 and "child_id" not in logged.columns and "family_id" not in logged.columns
    # counts of entrants under 10 are suppressed on the shared run (the terminal table keeps them)
    for (_, mine), (_, shared) in zip(outcome.councils.iterrows(), logged.iterrows(), strict=True):
        assert shared["entrants"] == ("<10" if mine["entrants"] < 10 else str(mine["entrants"]))
        metric = f"test_council_{mine['council']}_entrants"
        assert (metric in run.data.metrics) == (mine["entrants"] >= 10 and mine["council"] != "pooled")
    text = Path(path).read_text(encoding="utf-8")
    assert "-C" not in text and "-F" not in text  # no pseudonymous child or family id anywhere in it


def test_one_council_does_no_per_council_work() -> None:
    table, _ = production_table()
    assert councils_in(table) == []
    one = table.head(10).assign(council="330")
    assert councils_in(one) == []  # one code: still one council
