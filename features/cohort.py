"""The cohort at an as-of date: children born, under 18, resident and not looked after on that date."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.history import History
from features.timeline import day_of, normalise_dates


def cohort(children: pd.DataFrame, events: pd.DataFrame,
           as_of: pd.Timestamp | Sequence[pd.Timestamp]) -> pd.DataFrame:
    """One row (child_id, family_id, as_of) per child in the cohort at each as-of date, ordered by date then
    child_id. Excluded: the unborn, children aged 18 or more, children not yet arrived or already gone
    (`left_on` is the last day resident), and children in care on the date (a care episode started on or
    before it and not ended by it)."""
    return cohort_frame(History(children, events), normalise_dates(as_of))


def cohort_frame(history: History, dates: list[pd.Timestamp]) -> pd.DataFrame:
    codes, which = history.cohort_codes([day_of(d) for d in dates])
    return pd.DataFrame({
        "child_id": history.child_ids[codes],
        "family_id": history.family_ids[history.family[codes]],
        "as_of": pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[ns]"))[which],
    })
