"""fit_evaluate: honest blocks, labelled rows only, baselines and oracle scored, reproducible for a seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import UpstreamError
from tests.helpers.training import FEATURES, small_config
from training.baselines import LogisticBaseline, PracticeRule, ReferralRule
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
    assert set(test) == {"model", "logistic", "practice", "rule", "oracle"}
    overall = test["model"]["overall"]
    for key in ("roc_auc", "pr_auc", "brier", "ece", "precision_at_list", "recall_at_list",
                "precision_at_child_capacity", "recall_at_child_capacity",
                "precision_at_top1pct", "precision_at_top2pct", "precision_at_top5pct",
                "recall_not_known_at_list", "expected_precision_ratio_at_top2pct",
                "expected_precision_ratio_at_list", "calibration_ratio_at_list", "calibration_true_ratio_at_list"):
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


def test_headline_figures_carry_family_bootstrap_intervals_and_entrant_counts(result) -> None:
    overall = result.metrics["test"]["model"]["overall"]
    for key in ("pr_auc", "roc_auc", "precision_at_list", "recall_at_list", "recall_not_known_at_list",
                "expected_precision_ratio_at_list", "expected_precision_ratio_at_top2pct",
                "calibration_ratio_at_list", "calibration_ratio_at_top10pct"):
        lo, hi = overall[f"{key}_ci_low"], overall[f"{key}_ci_high"]
        assert lo <= hi, key
        assert lo - 1e-9 <= overall[key] <= hi + 1e-9 or key.startswith("expected"), key
    # quarterly dates with 12-month windows: one entrant is a positive row at several dates
    assert 0 < overall["n_entrants"] <= overall["n_positive"]
    assert overall["n_entrants_selected_at_list"] <= overall["n_entrants"]


def test_model_is_compared_with_every_baseline_on_paired_intervals(result) -> None:
    paired = result.metrics["test"]["model"]["paired"]
    assert set(paired) == {"logistic", "practice", "rule", "oracle"}
    for other, diff in paired.items():
        point = result.metrics["test"]["model"]["overall"]["pr_auc"] - \
            result.metrics["test"][other]["overall"]["pr_auc"]
        assert diff["pr_auc_diff"] == pytest.approx(point)
        assert diff["pr_auc_diff_ci_low"] <= diff["pr_auc_diff_ci_high"]
    assert result.strongest_baseline() in ("logistic", "practice", "rule")


def test_bootstrap_auc_matches_scikit_learn_with_unit_weights() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from training.bootstrap import FamilyBootstrap

    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.1).astype(float)
    score = np.round(rng.random(500) + y * 0.5, 1)  # ties, as isotonic steps make
    boot = FamilyBootstrap(np.arange(500), replicates=3, seed=0)
    boot.weights_ = np.ones_like(boot.weights_)
    roc, ap = boot.aucs(y, score)
    assert roc == pytest.approx(np.full(3, roc_auc_score(y, score)))
    assert ap == pytest.approx(np.full(3, average_precision_score(y, score)))


def test_practice_rule_follows_the_hierarchy() -> None:
    X = pd.DataFrame({"cp_plan_open": [0, 1, 0, 0, 0, 0], "cin_plan_open": [0, 0, 1, 0, 0, 1],
                      "n_referral_12m": [0, 0, 0, 3, 0, 9], "days_since_referral": [np.nan] * 3 + [10, np.nan, 5],
                      "age_months": [6, 150, 150, 150, 150, 150]})
    score = PracticeRule().fit(X).score(X)
    # CP plan, then CIN plan (with referrals before without), then referrals, then the infant, then the rest
    assert list(np.argsort(-score, kind="stable")) == [1, 5, 2, 3, 0, 4]


def test_logistic_baseline_uses_age_bands() -> None:
    rng = np.random.default_rng(1)
    age = rng.uniform(0, 18 * 12, 4000)
    y = ((age < 12) | (age > 13 * 12)).astype(int) * (rng.random(4000) < 0.5)  # U-shaped in age
    X = pd.DataFrame({"age_months": age, "noise": rng.random(4000)})
    banded = LogisticBaseline().fit(X, y).predict_proba(X)
    linear = LogisticBaseline(age_bands=False).fit(X, y).predict_proba(X)
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(y, banded) > roc_auc_score(y, linear) + 0.1


def test_adverse_events_never_lower_risk_under_monotone_constraints(result, feature_table) -> None:
    from training.fit import feature_matrix

    table, _ = feature_table
    X = feature_matrix(table.head(300), result.feature_names)
    base = result.model.predict_margin(X)
    for col, step in (("n_referral_12m", 3.0), ("n_contact_6m", 2.0), ("days_since_referral", -100.0)):
        more = X.copy()
        more[col] = (more[col].fillna(0 if step > 0 else 400) + step).clip(lower=0)
        if step < 0:
            more[col] = more[col].where(X[col].notna(), np.nan)
        assert np.all(result.model.predict_margin(more) >= base - 1e-9), col


def test_deployment_refit_uses_every_labelled_date_and_holds_out_families(result) -> None:
    d = result.deployment
    assert d is not None
    assert d.dates[0] == result.split.train[0] and d.dates[-1] == result.split.test[-1]
    assert len(d.dates) > len(result.split.train) + len(result.split.validation) + len(result.split.test) - 1
    assert d.rows["fit"] > 0 and d.rows["calibration"] > 0
    assert d.calibrator.has_family
    assert d.model.best_iteration_ == result.model.best_iteration_


def test_family_level_reliability_is_reported(result) -> None:
    fam = result.metrics["test"]["model"]["family"]
    assert fam["n_families"] > 0 and fam["n_families_entering"] > 0
    for key in ("calibrated_ratio", "independence_ratio", "highest_child_ratio", "calibrated_ratio_at_list_ci_low"):
        assert np.isfinite(fam[key]), key
    # 1 - prod(1 - p) is never below the highest child's risk
    assert fam["independence_ratio"] >= fam["highest_child_ratio"] - 1e-9
