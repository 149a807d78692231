"""Family risk: 1 − ∏(1 − p), monotone in every child's risk, at least the highest child's, exact for one child."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.family import family_risk, family_risks

probs = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(p=probs, which=st.integers(0, 5), bump=st.floats(0.0, 1.0))
def test_family_risk_is_monotone_in_each_childs_risk(p: list[float], which: int, bump: float) -> None:
    i = which % len(p)
    higher = list(p)
    higher[i] = min(1.0, p[i] + bump)
    assert family_risk(higher) >= family_risk(p) - 1e-12


@settings(max_examples=200, deadline=None)
@given(p=probs)
def test_family_risk_is_between_the_highest_child_and_the_sum(p: list[float]) -> None:
    r = family_risk(p)
    assert max(p) - 1e-12 <= r <= min(1.0, sum(p)) + 1e-12


def test_one_child_and_known_values() -> None:
    assert family_risk([0.3]) == pytest.approx(0.3)
    assert family_risk([0.5, 0.5]) == pytest.approx(0.75)
    assert family_risk([]) == 0.0
    assert family_risk([1.0, 0.2]) == pytest.approx(1.0)


def test_vectorised_matches_one_at_a_time() -> None:
    rng = np.random.default_rng(3)
    fam = rng.integers(0, 50, 200).astype(str)
    p = rng.random(200) ** 3
    many = family_risks(pd.Series(fam), pd.Series(p))
    for f in np.unique(fam):
        assert many[f] == pytest.approx(family_risk(p[fam == f]), abs=1e-12)
