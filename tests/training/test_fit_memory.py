"""The memory-saving paths give what the plain ones gave: block matrices, in-place baselines, no column copies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.helpers.training import FEATURES
from training.baselines import LogisticBaseline
from training.fit import block_matrix, feature_matrix


def _mixed_table(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    table = pd.DataFrame({c: rng.poisson(1.0, n).astype("float32") for c in FEATURES})
    table["days_since_referral"] = np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 999, n)).astype("float32")
    table["cp_plan_open"] = pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 2, n)), dtype="Int64")
    table["hub_code"] = rng.integers(0, 3, n)  # int64
    table.index = rng.permutation(n) + 1000  # not a RangeIndex
    return table


def test_block_matrix_equals_feature_matrix_of_the_rows() -> None:
    table = _mixed_table()
    rows = np.random.default_rng(2).permutation(len(table))[:321]
    got = block_matrix(table, FEATURES, rows)
    expected = feature_matrix(table.iloc[rows], FEATURES).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.to_numpy().flags.c_contiguous  # LightGBM reads it without a copy of its own


def test_logistic_baseline_never_modifies_its_input() -> None:
    table = _mixed_table()
    X = feature_matrix(table, FEATURES).astype("float64")  # float64: to_numpy() could be a view
    before = X.copy()
    y = (np.random.default_rng(3).random(len(X)) < 0.2).astype(int)
    model = LogisticBaseline().fit(X, y)
    p = model.predict_proba(X)
    pd.testing.assert_frame_equal(X, before, check_exact=True)
    assert np.all((p > 0) & (p < 1))
