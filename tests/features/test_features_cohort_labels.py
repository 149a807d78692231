"""The cohort and the label, each alone: exactly who is in at an as-of date, and what the label says."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from feature_histories import frame_children, frame_events

from features.history import History, position
from features.labels import label_array
from features.timeline import day_of, normalise_dates, shift_months, to_days

T = pd.Timestamp("2016-03-31")


# The cohort rule and the label rule, each alone, on the engine's own parts (History.cohort_codes, label_array).
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


def _child(cid: str, born: str, arrived: str | None = None, left: str | None = None, family: str = "F1") -> dict:
    return {"child_id": cid, "family_id": family, "date_of_birth": born, "sex": "male", "ethnicity": "WBRI",
            "disability": "no", "hub": "Northfield", "deprivation_decile": 5, "arrived_on": arrived or born,
            "left_on": left}


def _care(cid: str, start: str, end: str | None = None, family: str = "F1") -> dict:
    return {"event_id": f"la-{cid}-{start}", "family_id": family, "child_id": cid, "event_type": "looked_after",
            "event_date": start, "end_date": end, "source": None, "detail": "N1"}


CHILDREN = frame_children([
    _child("in_plain", "2010-01-01"),
    _child("born_on_t", "2016-03-31"),
    _child("unborn", "2016-04-01"),
    _child("age_17y11m", "1998-04-01"),  # 18 tomorrow
    _child("age_18_today", "1998-03-31"),
    _child("age_18_leap", "1998-02-28"),
    _child("arrives_on_t", "2005-01-01", arrived="2016-03-31"),
    _child("arrives_later", "2005-01-01", arrived="2016-04-01"),
    _child("left_on_t", "2005-01-01", left="2016-03-31"),  # left_on is the last day resident
    _child("left_before", "2005-01-01", left="2016-03-30"),
    _child("care_open", "2008-01-01"),
    _child("care_starts_on_t", "2008-01-01"),
    _child("care_ends_on_t", "2008-01-01"),
    _child("care_ends_after_t", "2008-01-01"),
    _child("care_starts_after_t", "2008-01-01"),
    _child("care_past", "2008-01-01"),
])
EVENTS = frame_events([
    {k: (pd.Timestamp(v) if k in ("event_date", "end_date") and v else v) for k, v in e.items()} for e in [
        _care("care_open", "2015-01-01"),
        _care("care_starts_on_t", "2016-03-31"),
        _care("care_ends_on_t", "2015-01-01", "2016-03-31"),
        _care("care_ends_after_t", "2015-01-01", "2016-04-01"),
        _care("care_starts_after_t", "2016-04-01"),
        _care("care_past", "2012-01-01", "2013-01-01"),
    ]])
IN = {"in_plain", "born_on_t", "age_17y11m", "arrives_on_t", "left_on_t", "care_ends_on_t", "care_starts_after_t",
      "care_past"}


def test_cohort_excludes_exactly_the_unborn_adults_absent_and_looked_after() -> None:
    got = cohort(CHILDREN, EVENTS, T)
    assert set(got["child_id"]) == IN
    assert list(got.columns) == ["child_id", "family_id", "as_of"]
    assert (got["as_of"] == T).all()
    assert list(got["child_id"]) == sorted(IN)


def test_cohort_over_several_dates_is_ordered_by_date_then_child() -> None:
    dates = [pd.Timestamp("2016-04-30"), T]
    got = cohort(CHILDREN, EVENTS, dates)
    assert list(got["as_of"].drop_duplicates()) == sorted(dates)
    later = set(got.loc[got["as_of"] == dates[0], "child_id"])
    # a month on: the unborn is born, one turns 18, one arrives, one leaves, two come into care, one leaves it
    assert later == (IN | {"unborn", "arrives_later", "care_ends_after_t"}) - {
        "age_17y11m", "left_on_t", "care_starts_after_t"}


def _label_rows(child: str = "c", as_of: pd.Timestamp = T) -> pd.DataFrame:
    return pd.DataFrame({"child_id": [child], "as_of": [as_of]})


@pytest.mark.parametrize(("start", "want"), [
    ("2016-03-31", 0),  # on the as-of date: known at t, not a future entry
    ("2016-04-01", 1),
    ("2017-03-31", 1),  # last day of the 12-month horizon
    ("2017-04-01", 0),
])
def test_label_window_is_after_as_of_up_to_the_horizon(start: str, want: int) -> None:
    events = frame_events([_care("c", pd.Timestamp(start))])
    got = labels(_label_rows(), events, extract_date=pd.Timestamp("2018-01-01"))
    assert got.dtype == "Int8"
    assert got.iloc[0] == want


def test_label_is_missing_until_the_horizon_is_observed() -> None:
    events = frame_events([_care("c", pd.Timestamp("2016-05-01"))])
    assert labels(_label_rows(), events, extract_date=pd.Timestamp("2017-03-30")).isna().all()
    assert labels(_label_rows(), events, extract_date=pd.Timestamp("2017-03-31")).iloc[0] == 1


def test_label_other_outcome_and_other_children() -> None:
    events = frame_events([
        {**_care("c", pd.Timestamp("2016-05-01")), "event_type": "cp_plan", "detail": "neglect"},
        _care("other", pd.Timestamp("2016-05-01")),
    ])
    rows = pd.concat([_label_rows("c"), _label_rows("other")], ignore_index=True)
    assert list(labels(rows, events, event_type="cp_plan", extract_date=pd.Timestamp("2018-01-01"))) == [1, 0]
    assert list(labels(rows, events, extract_date=pd.Timestamp("2018-01-01"))) == [0, 1]
    assert list(labels(rows, events, horizon_months=1, extract_date=pd.Timestamp("2018-01-01"))) == [0, 0]
