"""Calendar arithmetic and the as-of grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import load_config
from core.errors import UpstreamError
from features import Extract, as_of_grid
from features.timeline import (
    completed_months,
    day_of,
    from_day,
    month_end_on_or_before,
    parse_every,
    resolve_as_of,
    shift_months,
)

CFG = load_config()


def _d(s: str) -> int:
    return day_of(pd.Timestamp(s))


@pytest.mark.parametrize(("date", "months", "want"), [
    ("2016-06-30", -3, "2016-03-31"),  # a month end stays a month end
    ("2016-03-31", -1, "2016-02-29"),
    ("2016-02-29", -12, "2015-02-28"),
    ("2015-02-28", 12, "2016-02-29"),
    ("2016-03-15", -1, "2016-02-15"),
    ("2016-03-30", -1, "2016-02-29"),  # clamped to the shorter month
    ("2016-03-31", 12, "2017-03-31"),
])
def test_shift_months(date: str, months: int, want: str) -> None:
    assert from_day(int(shift_months(_d(date), months)[0])) == pd.Timestamp(want)


@pytest.mark.parametrize(("born", "on", "want"), [
    ("2010-01-31", "2016-03-31", 74),
    ("2010-01-31", "2016-02-29", 72),  # the 31st has not come round in February
    ("2000-02-29", "2018-02-28", 215),  # a leap-day child turns 18 on 1 March
    ("2000-02-29", "2018-03-01", 216),
    ("2016-03-31", "2016-03-31", 0),
])
def test_completed_months(born: str, on: str, want: int) -> None:
    assert int(completed_months(np.array([_d(born)]), np.array([_d(on)]))[0]) == want


def _extract(last: str) -> Extract:
    children = pd.DataFrame({"arrived_on": [pd.Timestamp("2010-01-01")], "left_on": [pd.NaT]})
    events = pd.DataFrame({"event_date": [pd.Timestamp(last)], "end_date": [pd.NaT]})
    return Extract(children=children, events=events)


def test_default_grid_is_20_quarterly_month_ends_anchored_at_the_extract() -> None:
    grid = as_of_grid(_extract("2017-03-31"), CFG)
    assert len(grid) == 20
    assert grid[-1] == pd.Timestamp("2017-03-31") and grid[0] == pd.Timestamp("2012-06-30")
    assert all(d.is_month_end for d in grid)
    assert grid[-2] == pd.Timestamp("2016-12-31")


def test_grid_anchor_is_the_month_end_on_or_before_the_extract_date() -> None:
    assert as_of_grid(_extract("2017-03-30"), CFG)[-1] == pd.Timestamp("2017-02-28")


def test_month_end_on_or_before() -> None:
    """The default as-of date of `upstream score` and the grid's anchor."""
    assert month_end_on_or_before(pd.Timestamp("2017-03-31")) == pd.Timestamp("2017-03-31")
    assert month_end_on_or_before(pd.Timestamp("2017-03-30 14:00")) == pd.Timestamp("2017-02-28")


def test_grid_with_range_and_step() -> None:
    grid = as_of_grid(_extract("2017-03-31"), CFG, start=pd.Timestamp("2015-12-31"),
                      end=pd.Timestamp("2016-12-31"), every_months=6)
    assert grid == [pd.Timestamp("2015-12-31"), pd.Timestamp("2016-06-30"), pd.Timestamp("2016-12-31")]
    with pytest.raises(UpstreamError):
        as_of_grid(_extract("2017-03-31"), CFG, start=pd.Timestamp("2018-01-01"))


def test_parse_every() -> None:
    assert parse_every("3M") == 3 and parse_every("12m") == 12 and parse_every("6") == 6 and parse_every(None) is None
    for bad in ("0M", "3W", "x", "-3M"):
        with pytest.raises(UpstreamError, match="--every"):
            parse_every(bad)


def test_resolve_as_of_refuses_bad_requests() -> None:
    ex = _extract("2017-03-31")
    assert resolve_as_of(ex, CFG)[-1] == pd.Timestamp("2017-03-31")
    assert resolve_as_of(ex, CFG, as_of=[pd.Timestamp("2016-03-31")]) == [pd.Timestamp("2016-03-31")]
    with pytest.raises(UpstreamError, match="month ends"):
        resolve_as_of(ex, CFG, as_of=[pd.Timestamp("2016-03-15")])
    with pytest.raises(UpstreamError, match="after the extract date"):
        resolve_as_of(ex, CFG, as_of=[pd.Timestamp("2017-04-30")])
    with pytest.raises(UpstreamError, match="not both"):
        resolve_as_of(ex, CFG, as_of=[pd.Timestamp("2016-03-31")], every_months=3)


def test_the_default_grid_starts_where_the_sources_note_says(tmp_path) -> None:
    """An imported extract's `extract.json` (history start + 24 months) bounds `upstream features`' default grid,
    as it bounds training's; explicit dates and an explicit --from are the user's own choice."""
    import json

    (tmp_path / "extract.json").write_text(json.dumps({"earliest_as_of": "2015-04-01"}))
    base = _extract("2017-03-31")
    ex = Extract(children=base.children, events=base.events, source=tmp_path)
    grid = resolve_as_of(ex, CFG)
    assert grid[0] == pd.Timestamp("2015-06-30") and grid[-1] == pd.Timestamp("2017-03-31") and len(grid) == 8
    assert resolve_as_of(ex, CFG, start=pd.Timestamp("2014-01-01"))[0] == pd.Timestamp("2014-03-31")
    assert resolve_as_of(ex, CFG, as_of=[pd.Timestamp("2013-03-31")]) == [pd.Timestamp("2013-03-31")]
