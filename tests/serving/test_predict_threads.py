"""Small batches are predicted on one LightGBM thread (no OpenMP start-up per request); the margins and
TreeSHAP values are the same as with the booster's own threading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import Config
from serving import explain
from serving.scoring import ScoringModel, score_children


def test_one_thread_gives_the_same_numbers(s_model: ScoringModel, s_cohort: pd.DataFrame, s_config: Config,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rows = s_cohort.iloc[:7].reset_index(drop=True)
    assert explain.predict_params(len(rows)) == {"num_threads": 1}
    small_scores, X = score_children(s_model, rows, s_config)
    small_shap, small_base = explain.explain_rows(s_model.booster, X, s_model.feature_names,
                                                  num_iteration=s_model.num_iteration)
    monkeypatch.setattr(explain, "SMALL_BATCH", -1)  # the batch path: the booster's own threads
    assert explain.predict_params(len(rows)) == {}
    big_scores, _ = score_children(s_model, rows, s_config)
    big_shap, big_base = explain.explain_rows(s_model.booster, X, s_model.feature_names,
                                              num_iteration=s_model.num_iteration)
    pd.testing.assert_frame_equal(small_scores, big_scores, check_exact=True)
    assert np.array_equal(small_shap, big_shap) and small_base == big_base
