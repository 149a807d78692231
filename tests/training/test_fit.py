"""fit_evaluate: honest blocks, labelled rows only, baselines and oracle scored, reproducible for a seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import UpstreamError
from tests.helpers.training import FEATURES, small_config
from training.baselines import ReferralRule
from training.fit import fit_evaluate
from training.metrics import flatten
from training.splits import horizon_end


@pytest.fixture(scope="module")
def result(fitted_result):
    return fitted_result


def test_blocks_are_separated_and_use_only_labelled_rows(result, feature_table) -> None:
    table, _ = feature_table
    split = result.split
    assert all(horizon_end(d, 12) <= split.validation[0] for d in split.train)
    assert all(horizon_end(d, 12) <= split.test[0] for d in split.validation)
    labelled_dates = sorted(table.loc[table["label"].notna(), "as_of"].unique())
    assert split.test[-1] == pd.Timestamp(labelled_dates[-1])
    for name in ("validation", "test"):
        pred = result.predictions[name]
        assert pred["label"].notna().all()
        assert set(pred["as_of"].unique()) == set(getattr(split, name))
    assert result.rows["test"] == int((table["as_of"].isin(split.test) & table["label"].notna()).sum())


def test_predictions_carry_what_the_fairness_audit_reads(result) -> None:
    pred = result.predictions["test"]
    for col in ("child_id", "family_id", "as_of", "label", "probability", "margin", "logistic", "rule", "p_true",
                "sex", "ethnicity", "ethnic_group", "disability", "age_band", "hub", "deprivation_decile",
                "previously_known"):
        assert col in pred.columns, col
    assert pred["probability"].between(0, 1).all()
    # the calibrated probability never reorders the margin
    order = np.argsort(pred["margin"].to_numpy())
    assert np.all(np.diff(pred["probability"].to_numpy()[order]) >= -1e-12)


def test_metrics_cover_model_baselines_and_oracle(result) -> None:
    test = result.metrics["test"]
    assert set(test) == {"model", "logistic", "rule", "oracle"}
    overall = test["model"]["overall"]
    for key in ("roc_auc", "pr_auc", "brier", "ece", "precision_at_capacity", "recall_at_capacity",
                "precision_at_top1pct", "precision_at_top2pct", "precision_at_top5pct",
                "recall_not_known_at_capacity", "expected_precision_ratio_at_top2pct"):
        assert key in overall and np.isfinite(overall[key]), key
    assert set(test["model"]["by_hub"]) == {"Northfield", "Riverside", "Eastgate"}
    assert set(test["model"]["by_age_band"]) <= {"0-4", "5-9", "10-15", "16-17"}
    assert overall["roc_auc"] > 0.7
    assert result.imbalance in result.imbalance_scores
    assert "brier" not in test["rule"]["overall"]  # a count is not a probability


def test_same_data_config_and_seed_give_same_metrics(result, feature_table) -> None:
    table, truth = feature_table
    again = fit_evaluate(table.sample(frac=1.0, random_state=3), small_config(), feature_names=FEATURES,
                         truth=truth)
    # NaN-free flat view (NaN != NaN would fail a plain dict comparison)
    assert flatten(again.metrics) == flatten(result.metrics)


def test_unlabelled_table_is_refused(feature_table) -> None:
    table, _ = feature_table
    blank = table.assign(label=pd.array([pd.NA] * len(table), dtype="Int8"))
    with pytest.raises(UpstreamError, match="no labelled rows"):
        fit_evaluate(blank, small_config(), feature_names=FEATURES)


def test_missing_feature_column_is_refused(feature_table) -> None:
    table, _ = feature_table
    with pytest.raises(UpstreamError, match="lacks column"):
        fit_evaluate(table.drop(columns=["n_referral_12m"]), small_config(), feature_names=FEATURES)


def test_rule_ranks_by_count_then_recency() -> None:
    X = pd.DataFrame({"n_referral_12m": [2, 2, 3, 0], "days_since_referral": [100, 5, 300, np.nan]})
    score = ReferralRule().fit(X).score(X)
    assert list(np.argsort(-score)) == [2, 1, 0, 3]


def test_tuning_is_bounded_and_recorded(feature_table) -> None:
    table, truth = feature_table
    tuned = fit_evaluate(table, small_config(tune_trials=2), feature_names=FEATURES, truth=truth, tune=True)
    assert tuned.tuning is not None and tuned.tuning["n_trials"] == 2
    assert tuned.tuning["best_value"] >= tuned.tuning["trials"][0]["value"]
