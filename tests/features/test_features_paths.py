"""The builder's size-dependent paths give the same table: Python dicts and sorts or pandas indexes for the
history (SMALL), every signal of a scope searched at once or one signal at a time (chunking), cached month shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_histories import random_extract

from core.config import load_config
from core.errors import ContractError
from features import Extract, _small, build, build_features
from features.timeline import month_shifts, shift_months

CFG = load_config()
EXTRACT_DATE = pd.Timestamp("2018-01-31")
DATES = [pd.Timestamp("2013-03-31"), pd.Timestamp("2015-06-30"), pd.Timestamp("2017-03-31")]


@pytest.fixture(scope="module")
def extract() -> Extract:
    return random_extract(n_families=40)


@pytest.fixture(scope="module")
def table(extract: Extract) -> pd.DataFrame:
    return build_features(extract, DATES, CFG, extract_date=EXTRACT_DATE)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    feats = [c for c in a.columns if a[c].dtype == np.float32]
    assert np.array_equal(a[feats].to_numpy().view(np.uint32), b[feats].to_numpy().view(np.uint32))  # bitwise


@pytest.mark.parametrize("pairs", [1, 10**9])  # one signal per chunk / every signal of a scope in one chunk
def test_chunking_changes_nothing(monkeypatch: pytest.MonkeyPatch, extract: Extract, table: pd.DataFrame,
                                  pairs: int) -> None:
    monkeypatch.setattr(build, "_CHUNK_PAIRS", pairs)
    _same(build_features(extract, DATES, CFG, extract_date=EXTRACT_DATE), table)


def test_pandas_path_of_the_history_changes_nothing(monkeypatch: pytest.MonkeyPatch, extract: Extract,
                                                    table: pd.DataFrame) -> None:
    assert len(extract.children) + len(extract.events) < _small.SMALL  # the fixture takes the small path
    monkeypatch.setattr(_small, "SMALL", 0)
    _same(build_features(extract, DATES, CFG, extract_date=EXTRACT_DATE), table)


def test_children_in_any_order(extract: Extract, table: pd.DataFrame) -> None:
    shuffled = extract.children.sample(frac=1.0, random_state=1)
    _same(build_features(Extract(children=shuffled, events=extract.events), DATES, CFG,
                         extract_date=EXTRACT_DATE), table)


@pytest.mark.parametrize("small", [True, False])
def test_duplicate_child_ids_are_refused(monkeypatch: pytest.MonkeyPatch, extract: Extract, small: bool) -> None:
    if not small:
        monkeypatch.setattr(_small, "SMALL", 0)
    children = pd.concat([extract.children, extract.children.iloc[[3]]], ignore_index=True)
    with pytest.raises(ContractError, match="unique"):
        build_features(Extract(children=children, events=extract.events), DATES, CFG)


def test_month_shifts_are_shift_months() -> None:
    days = (15_400, 16_070, 17_166)  # 2012-03-01, 2013-12-31, 2016-12-31
    months = (0, -3, -12, 12)
    got = month_shifts(days, months)
    for i, m in enumerate(months):
        assert np.array_equal(got[i], shift_months(np.asarray(days), m))
    assert not got.flags.writeable  # cached and shared
    assert month_shifts((), months).shape == (len(months), 0)
