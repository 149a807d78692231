"""Metrics: hand-checked precision/recall at capacity and shares, ECE, expected precision vs the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.calibration import MarginCalibrator
from training.metrics import Scores, evaluate, expected_calibration_error, flatten, select_capacity, select_share


def _frame() -> pd.DataFrame:
    # two as-of dates, two hubs (A capacity 2, B capacity 1), 4 children per hub per date
    rows = []
    for as_of in ("2015-03-31", "2015-06-30"):
        for hub in ("A", "B"):
            for i in range(4):
                rows.append({"child_id": f"{hub}{i}", "as_of": pd.Timestamp(as_of), "hub": hub,
                             "age_band": "0-4" if i < 2 else "5-9", "previously_known": i % 2 == 0})
    frame = pd.DataFrame(rows)
    frame["family_id"] = "F" + frame["child_id"]  # one child per family: the list equals the child top k
    frame["label"] = [1, 0, 1, 0, 0, 1, 0, 0,   1, 1, 0, 0, 0, 0, 0, 1]
    return frame


def test_select_capacity_takes_top_k_per_hub_and_date() -> None:
    frame = _frame()
    score = np.tile([0.9, 0.8, 0.1, 0.2], 4)
    sel = select_capacity(frame, Scores(score), {"A": 2, "B": 1})
    assert sel.sum() == 2 * (2 + 1)
    assert sel.reshape(4, 4).tolist()[0] == [True, True, False, False]
    assert sel.reshape(4, 4).tolist()[1] == [True, False, False, False]


def test_ties_are_broken_by_tiebreak_then_child_id() -> None:
    frame = _frame()
    score = np.ones(len(frame))
    tiebreak = np.tile([0.0, 0.0, 0.0, 1.0], 4)
    sel = select_capacity(frame, Scores(score, tiebreak=tiebreak), {"A": 2, "B": 1})
    assert sel.reshape(4, 4).tolist()[0] == [True, False, False, True]   # tiebreak, then child A0
    assert sel.reshape(4, 4).tolist()[1] == [False, False, False, True]


def test_select_share_uses_ceiling_of_cohort_share() -> None:
    frame = _frame()
    sel = select_share(frame, Scores(np.arange(len(frame), dtype=float)), 0.2)  # ceil(0.2 * 8) = 2 per date
    assert sel.sum() == 4


def test_evaluate_precision_recall_and_oracle_ratio() -> None:
    frame = _frame()
    score = np.tile([0.9, 0.8, 0.1, 0.2], 4)
    p_true = np.linspace(0.05, 0.95, len(frame))
    res = evaluate(frame, {"model": Scores(score, score), "oracle": Scores(p_true, p_true)},
                   capacities={"A": 2, "B": 1}, p_true=p_true)
    overall = res["model"]["overall"]
    # selected: A0,A1 / B0 at date 1 -> labels 1,0 / 0 ; A0,A1 / B0 at date 2 -> 1,1 / 0
    assert overall["precision_at_child_capacity"] == pytest.approx(3 / 6)
    assert overall["recall_at_child_capacity"] == pytest.approx(3 / 6)
    # not previously known = odd i: positives B1 (date 1), A1 and B3 (date 2); A1 selected at date 2
    assert overall["recall_not_known_at_child_capacity"] == pytest.approx(1 / 3)
    sel = select_capacity(frame, Scores(score), {"A": 2, "B": 1})
    oracle_sel = select_capacity(frame, Scores(p_true), {"A": 2, "B": 1})
    assert overall["expected_precision_at_child_capacity"] == pytest.approx(p_true[sel].mean())
    assert overall["expected_precision_ratio_at_child_capacity"] == pytest.approx(p_true[sel].mean()
                                                                             / p_true[oracle_sel].mean())
    assert "expected_precision_ratio_at_child_capacity" not in res["oracle"]["overall"]
    for key in ("precision", "recall", "recall_not_known", "expected_precision"):  # one child per family
        assert overall[f"{key}_at_list"] == pytest.approx(overall[f"{key}_at_child_capacity"])
    assert set(res["model"]["by_hub"]) == {"A", "B"} and set(res["model"]["by_age_band"]) == {"0-4", "5-9"}
    assert res["model"]["by_hub"]["B"]["precision_at_child_capacity"] == pytest.approx(0.0)
    flat = flatten(res, "test")
    assert "test_model_precision_at_list" in flat and "test_model_by_hub_A_pr_auc" in flat


def test_ece_equal_mass_bins() -> None:
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0]), n_bins=2) == pytest.approx(0.0)
    # two bins of two: |0.25 - 0| * 0.5 + |0.75 - 1| * 0.5
    assert expected_calibration_error(y, np.array([0.2, 0.3, 0.7, 0.8]), n_bins=2) == pytest.approx(0.25)


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibrator_is_monotone_and_round_trips(method: str) -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(size=2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(-(2 * margin - 1)))).astype(int)
    cal = MarginCalibrator(method).fit(margin, y)
    grid = np.linspace(-4, 4, 50)
    p = cal.transform(grid)
    assert np.all(np.diff(p) >= -1e-12) and p.min() >= 0 and p.max() <= 1
    again = MarginCalibrator.from_json(cal.to_json())
    np.testing.assert_allclose(again.transform(grid), p)
    assert abs(cal.transform(margin).mean() - y.mean()) < 0.02
