"""Fairness metrics: agreement with fairlearn on the raw rows, the bootstrap, the flag rule and the verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score, roc_auc_score

from governance import _metrics as fm
from governance import audit_predictions, operating_points
from tests.helpers.audit import HUBS, make_config, make_predictions


@pytest.fixture(scope="module")
def predictions() -> pd.DataFrame:
    return make_predictions()


@pytest.fixture(scope="module")
def audited(predictions: pd.DataFrame):
    return audit_predictions(predictions, make_config(), replicates=30)


def _table(report: dict, attribute: str) -> dict:
    return next(t for t in report["tables"] if t["attribute"] == attribute)


@pytest.mark.parametrize("attribute", ["sex", "ethnic_group", "hub", "age_band", "deprivation_quintile"])
def test_metrics_agree_with_fairlearn_on_the_raw_rows(predictions: pd.DataFrame, audited, attribute: str) -> None:
    cfg = make_config()
    ops = operating_points(predictions.sort_values(["as_of", "child_id"]).reset_index(drop=True), cfg)
    frame = predictions.sort_values(["as_of", "child_id"]).reset_index(drop=True)
    y, p = frame["label"].to_numpy(), frame["probability"].to_numpy()
    sf = fm.attribute_values(frame, attribute)
    table = _table(audited.report, attribute)
    for op, (_, sel) in ops.items():
        mf = MetricFrame(
            metrics={"count": count, "selection_rate": selection_rate, "recall": true_positive_rate,
                     "false_negative_rate": false_negative_rate, "false_positive_rate": false_positive_rate,
                     "precision": lambda a, b: precision_score(a, b, zero_division=np.nan)},
            y_true=y, y_pred=sel.astype(int), sensitive_features=sf)
        for row in table["groups"]:
            g, at = row["group"], row["operating_points"][op]
            assert row["counts"]["n"] in (None, mf.by_group.loc[g, "count"])
            for metric in ("selection_rate", "recall", "false_negative_rate", "false_positive_rate", "precision"):
                if at["metrics"][metric] is not None:
                    assert at["metrics"][metric] == pytest.approx(mf.by_group.loc[g, metric], abs=1e-6), (g, metric)
    scored = MetricFrame(metrics={"roc_auc": roc_auc_score, "mean_predicted": lambda a, b: float(np.mean(b)),
                                  "base_rate": lambda a, b: float(np.mean(a)),
                                  "calibration": lambda a, b: float(np.sum(b) / np.sum(a))},
                         y_true=y, y_pred=p, sensitive_features=sf)
    for row in table["groups"]:
        for metric in ("roc_auc", "mean_predicted", "base_rate", "calibration"):
            if row["metrics"][metric] is not None:
                assert row["metrics"][metric] == pytest.approx(scored.by_group.loc[row["group"], metric], abs=1e-6)


def test_operating_point_takes_capacity_per_hub_per_date(predictions: pd.DataFrame) -> None:
    ops = operating_points(predictions, make_config())
    selected = predictions.loc[ops["capacity"][1]]
    counts = selected.groupby(["as_of", "hub"]).size()
    assert set(counts.to_dict().values()) <= {h["capacity"] for h in HUBS}
    assert counts.xs("Riverside", level="hub").eq(35).all()
    top = predictions.loc[ops["top2pct"][1]].groupby("as_of").size()
    assert top.eq(np.ceil(0.02 * predictions.groupby("as_of").size())).all()


def test_bootstrap_with_unit_weights_reproduces_the_point_estimates(predictions: pd.DataFrame) -> None:
    frame = predictions.reset_index(drop=True)
    y, p = frame["label"].to_numpy(), frame["probability"].to_numpy()
    sel = {"capacity": operating_points(frame, make_config())["capacity"][1]}
    labels = fm.attribute_values(frame, "ethnic_group")
    groups = fm.ordered_groups("ethnic_group", list(labels.unique()))
    codes = pd.Categorical(labels, categories=groups).codes.astype(np.int64)
    families = pd.factorize(frame["family_id"])[0]
    ones = np.ones((1, families.max() + 1))
    boot = fm.bootstrap_rates(codes, len(groups), families, ones, y, p, sel)
    gm = fm.metric_frames(y, p, sel, labels, groups=groups)
    for rate in ("recall", "precision", "false_positive_rate", "selection_rate", "false_omission_rate"):
        np.testing.assert_allclose(boot["capacity"][rate][0], gm.at["capacity"][rate].to_numpy(float), rtol=1e-9)
    for rate in ("base_rate", "mean_predicted", "calibration"):
        np.testing.assert_allclose(boot["fixed"][rate][0], gm.fixed[rate].to_numpy(float), rtol=1e-9)


def test_family_weights_resample_whole_families() -> None:
    w = fm.family_weights(np.array([0, 0, 1, 2, 2, 2]), 100, seed=1)
    assert w.shape == (100, 3)
    assert np.all(w.sum(axis=1) == 3)


@pytest.mark.parametrize(("lo", "hi", "expected"), [(0.5, 0.79, True), (1.26, 2.0, True), (0.7, 0.9, False),
                                                    (0.9, 1.1, False), (1.2, 1.3, False), (float("nan"), 1, False)])
def test_flagged_only_when_the_whole_interval_is_outside_the_band(lo: float, hi: float, expected: bool) -> None:
    assert fm.flagged(lo, hi, (0.8, 1.25)) is expected


def test_reference_group_configured_or_largest(audited) -> None:
    assert _table(audited.report, "ethnic_group")["reference"] == "White"
    assert _table(audited.report, "ethnic_group")["reference_source"] == "largest group"
    report = audit_predictions(make_predictions(800), make_config(reference_groups={"ethnic_group": "Asian"},
                                                                   intersections=[]), replicates=5).report
    assert _table(report, "ethnic_group")["reference"] == "Asian"
    assert _table(report, "ethnic_group")["reference_source"] == "configured"


def test_verdict_flips_when_a_bias_is_injected() -> None:
    cfg = make_config(groups=["ethnic_group", "sex"], intersections=[], reference_groups={"sex": "male"})
    fair = audit_predictions(make_predictions(4000, seed=3), cfg, replicates=50)
    assert fair.verdict == "pass", fair.reasons
    # The model under-scores girls: fewer of the girls who enter care are flagged, and their risk is understated.
    biased = audit_predictions(make_predictions(4000, seed=3, bias=("sex", "female", -2.0)), cfg, replicates=50)
    assert biased.verdict == "review"
    assert any("'female'" in r and r.startswith("recall") for r in biased.reasons), biased.reasons
    assert any("'female'" in r and r.startswith("calibration") for r in biased.reasons), biased.reasons
    assert "flagged" in biased.short_reasons()


def test_unknown_reference_group_is_a_user_error(predictions: pd.DataFrame) -> None:
    from core.errors import UpstreamError

    with pytest.raises(UpstreamError, match="reference_groups.ethnic_group"):
        audit_predictions(predictions, make_config(reference_groups={"ethnic_group": "Martian"}), replicates=2)
    with pytest.raises(UpstreamError, match="lack column"):
        audit_predictions(predictions.drop(columns=["sex"]), make_config(), replicates=2)
