"""Why a child is outside the cohort: the cohort's own rules (History.cohort_rules), the first broken one named."""

from __future__ import annotations

import pandas as pd

from features.cohort import cohort, outside_cohort


def test_each_rule_that_keeps_a_child_out_is_named() -> None:
    as_of = pd.Timestamp("2016-06-30")
    day = pd.to_datetime
    ids = ["unborn", "adult", "nearly_adult", "gone", "not_yet", "in_care", "care_ended", "care_ending"]
    children = pd.DataFrame({
        "child_id": ids, "family_id": "F1",
        "date_of_birth": day(["2016-07-01", "1998-06-30", "1998-07-01", "2005-01-01", "2005-01-01", "2005-01-01",
                              "2005-01-01", "2005-01-01"]),
        "arrived_on": day(["2016-07-01", "1998-06-30", "1998-07-01", "2005-01-01", "2016-07-01", "2005-01-01",
                           "2005-01-01", "2005-01-01"]),
        "left_on": day([None, None, None, "2016-06-29", None, None, None, None]),
    })
    events = pd.DataFrame({  # care episodes: open; ended on the as-of date; ending after it; another event type
        "event_id": ["E1", "E2", "E3", "E4"], "family_id": "F1",
        "child_id": ["in_care", "care_ended", "care_ending", "gone"],
        "event_type": ["looked_after", "looked_after", "looked_after", "cp_plan"],
        "event_date": day(["2016-01-01", "2016-01-01", "2016-01-01", "2016-01-01"]),
        "end_date": day([None, "2016-06-30", "2016-07-01", None]),
        "source": None, "detail": [None, None, None, "neglect"],
    })
    why = outside_cohort(children, events, as_of)
    assert why == {
        "unborn": "not born by the as-of date", "adult": "18 or over at the as-of date", "nearly_adult": None,
        "gone": "not resident at the as-of date", "not_yet": "not resident at the as-of date",
        "in_care": "looked after at the as-of date (already in care)", "care_ended": None,
        "care_ending": "looked after at the as-of date (already in care)"}
    # exactly the children the cohort leaves out
    assert set(cohort(children, events, as_of)["child_id"]) == {c for c, w in why.items() if w is None}
