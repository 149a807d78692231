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


# Why a child is outside the cohort, per rule of `History.cohort_rules` (the first rule broken is given).
OUTSIDE_COHORT = {
    "born": "not born by the as-of date",
    "under_18": "18 or over at the as-of date",
    "resident": "not resident at the as-of date",
    "not_looked_after": "looked after at the as-of date (already in care)",
}


def outside_cohort(children: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, str | None]:
    """Why each child is outside the cohort at `as_of`, by the cohort's own rules.

    Parameters
    ----------
    children, events : DataFrame
        Contract tables (typed, as `load_extract` returns them).
    as_of : Timestamp
        The as-of date.

    Returns
    -------
    dict
        child_id -> the first rule the child breaks, in words (`OUTSIDE_COHORT`), or None if in the cohort.
    """
    history = History(children, events)
    rules = history.cohort_rules(day_of(pd.Timestamp(as_of)))
    reasons = np.full(history.n_children, None, dtype=object)
    for rule, passes in reversed(rules.items()):  # the first broken rule is written last
        reasons[~passes] = OUTSIDE_COHORT[rule]
    return dict(zip(history.child_ids.tolist(), reasons.tolist(), strict=True))


def cohort_frame(history: History, dates: list[pd.Timestamp]) -> pd.DataFrame:
    codes, which = history.cohort_codes([day_of(d) for d in dates])
    return pd.DataFrame({
        "child_id": history.child_ids[codes],
        "family_id": history.family_ids[history.family[codes]],
        "as_of": pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[ns]"))[which],
    })
