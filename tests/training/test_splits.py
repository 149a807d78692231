"""Temporal splits: label windows never overlap the next block; test is the latest labelled block."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import UpstreamError
from training.splits import horizon_end, labelled_dates, temporal_split

QUARTERS = list(pd.date_range("2010-03-31", "2016-12-31", freq="QE-DEC"))


def test_horizon_end_keeps_month_ends() -> None:
    assert horizon_end(pd.Timestamp("2016-02-29"), 12) == pd.Timestamp("2017-02-28")
    assert horizon_end(pd.Timestamp("2015-06-30"), 12) == pd.Timestamp("2016-06-30")
    assert horizon_end(pd.Timestamp("2015-11-30"), 3) == pd.Timestamp("2016-02-29")


@pytest.mark.parametrize("horizon", [3, 6, 12, 18])
def test_blocks_have_gaps_at_least_one_horizon(horizon: int) -> None:
    split = temporal_split(QUARTERS, horizon_months=horizon, validation_dates=4, test_dates=4)
    assert split.test == tuple(QUARTERS[-4:])
    assert len(split.validation) == 4 and split.train
    assert all(horizon_end(d, horizon) <= split.validation[0] for d in split.train)
    assert all(horizon_end(d, horizon) <= split.test[0] for d in split.validation)
    # the blocks are as late as the rule allows: one more date would break it
    later_val = [d for d in QUARTERS if d > split.validation[-1]][0]
    assert horizon_end(later_val, horizon) > split.test[0]


def test_labelled_dates_respect_extract_date() -> None:
    table = pd.DataFrame({"as_of": QUARTERS, "label": pd.array([0] * len(QUARTERS), dtype="Int8")})
    table.loc[table["as_of"] > pd.Timestamp("2015-12-31"), "label"] = pd.NA
    dates = labelled_dates(table, horizon_months=12)
    assert dates[-1] == pd.Timestamp("2015-12-31")
    dates = labelled_dates(table, horizon_months=12, extract_date=pd.Timestamp("2016-09-30"))
    assert dates[-1] == pd.Timestamp("2015-09-30")


def test_not_enough_history_is_a_user_error() -> None:
    with pytest.raises(UpstreamError, match="not enough history"):
        temporal_split(QUARTERS[-10:], horizon_months=12, validation_dates=4, test_dates=4)
    with pytest.raises(UpstreamError, match="test block needs"):
        temporal_split(QUARTERS[:2], horizon_months=12, validation_dates=4, test_dates=4)


def test_block_of_maps_dates() -> None:
    split = temporal_split(QUARTERS, horizon_months=12, validation_dates=4, test_dates=4)
    blocks = split.block_of(pd.Series([split.train[0], split.validation[0], split.test[-1], QUARTERS[-5]]))
    assert blocks.tolist()[:3] == ["train", "validation", "test"]
    assert pd.isna(blocks.iloc[3])
