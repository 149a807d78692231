"""Labels: did the configured outcome start in (as_of, as_of + horizon]? Unknown until the horizon is observed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.history import position


def label_array(outcomes: np.ndarray, keys: np.ndarray, t: np.ndarray, end: np.ndarray,
                extract_day: int) -> pd.arrays.IntegerArray:
    """The labels given the sorted stream positions of outcome events and each row's key, as-of day and
    horizon end (as-of day + horizon)."""
    n = np.searchsorted(outcomes, position(keys, end), "right") - np.searchsorted(outcomes, position(keys, t), "right")
    return pd.arrays.IntegerArray((n > 0).astype(np.int8), end > extract_day)
