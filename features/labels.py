"""Labels: did the configured outcome start in (as_of, as_of + horizon]? Unknown until the horizon is observed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.history import position
from features.timeline import day_of, shift_months, to_days


def labels(rows: pd.DataFrame, events: pd.DataFrame, *, event_type: str = "looked_after",
           horizon_months: int = 12, extract_date: pd.Timestamp) -> pd.Series:
    """For each (child_id, as_of) row: 1 if an `event_type` event of the child has an event date in
    (as_of, as_of + horizon_months], else 0; <NA> where as_of + horizon is after the extract date (the
    window is not fully observed). Returned as pandas Int8 aligned with `rows`.

    The label is the one value allowed to look past the as-of date, and only into that window."""
    ids = pd.Index(pd.unique(rows["child_id"].to_numpy(dtype=object)))
    ev = events[(events["event_type"] == event_type).to_numpy() & events["child_id"].notna().to_numpy()]
    ek = ids.get_indexer(ev["child_id"].to_numpy(dtype=object)).astype(np.int64)
    keep = ek >= 0
    pos = np.sort(position(ek[keep], to_days(ev["event_date"])[keep]))
    rk = ids.get_indexer(rows["child_id"].to_numpy(dtype=object)).astype(np.int64)
    t = to_days(rows["as_of"])
    end = shift_months(t, horizon_months) if len(t) else t
    values = label_array(pos, rk, t, end, day_of(extract_date))
    return pd.Series(values, index=rows.index, name="label")


def label_array(outcomes: np.ndarray, keys: np.ndarray, t: np.ndarray, end: np.ndarray,
                extract_day: int) -> pd.arrays.IntegerArray:
    """The labels given the sorted stream positions of outcome events and each row's key, as-of day and
    horizon end (as-of day + horizon)."""
    n = np.searchsorted(outcomes, position(keys, end), "right") - np.searchsorted(outcomes, position(keys, t), "right")
    return pd.arrays.IntegerArray((n > 0).astype(np.int8), end > extract_day)
