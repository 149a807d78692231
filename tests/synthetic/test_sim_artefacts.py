"""Artefacts a model could learn that real data would not hold: arrival spikes, ordered identifiers, perfect linkage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.contract import PARTNER_EVENT_TYPES, SOCIAL_CARE_EVENT_TYPES
from synthetic import SimulatedCouncil, simulate


def test_no_month_holds_a_spike_of_arrivals(council: SimulatedCouncil) -> None:
    ch = council.children
    moved_in = ch[ch["arrived_on"] > ch["date_of_birth"]]  # not born in the area
    per_month = moved_in["arrived_on"].dt.to_period("M").value_counts()
    assert per_month.max() / len(moved_in) < 0.02, per_month.head()
    born_here = (ch["arrived_on"] == ch["date_of_birth"]).mean()
    assert 0.4 < born_here < 0.9  # most children were born here, the rest came over the years
    assert ch["arrived_on"].min() < council.start - pd.DateOffset(years=15)


def _rank_correlation(a: pd.Series, b: pd.Series) -> float:
    return float(a.rank().corr(b.rank()))


def test_identifiers_carry_no_order(council: SimulatedCouncil) -> None:
    ch = council.children
    assert abs(_rank_correlation(ch["child_id"], ch["arrived_on"])) < 0.05
    assert abs(_rank_correlation(ch["child_id"], ch["date_of_birth"])) < 0.05
    truth = council.truth.merge(ch[["child_id", "family_id"]], on="child_id")
    assert abs(_rank_correlation(truth["family_id"], truth["p_true"])) < 0.05
    assert abs(_rank_correlation(truth["child_id"], truth["p_true"])) < 0.05


@pytest.fixture(scope="module")
def linked_pair(small_config) -> tuple[SimulatedCouncil, SimulatedCouncil]:
    """The same small council with every partner event linked, and with the configured linkage."""
    cfg = small_config(start="2014-01", end="2016-12", truth_dates=2, replicates=4)
    full = cfg.model_copy(update={"data_sharing": cfg.data_sharing.model_copy(
        update={"linkage": {t: 1.0 for t in PARTNER_EVENT_TYPES}})})
    return (simulate(full, children=3000, seed=5, workers=0),
            simulate(cfg, children=3000, seed=5, workers=0))


def test_linkage_is_recording_only(linked_pair: tuple[SimulatedCouncil, SimulatedCouncil]) -> None:
    full, linked = linked_pair
    pd.testing.assert_frame_equal(full.children, linked.children)
    pd.testing.assert_frame_equal(full.truth, linked.truth)  # the oracle knows what the simulator knows
    cols = ["family_id", "child_id", "event_type", "event_date", "end_date", "source", "detail"]

    def social_care(c: SimulatedCouncil) -> pd.DataFrame:
        return c.events.loc[c.events["event_type"].isin(SOCIAL_CARE_EVENT_TYPES), cols].reset_index(drop=True)

    pd.testing.assert_frame_equal(social_care(full), social_care(linked))


def test_linkage_keeps_the_configured_share(linked_pair: tuple[SimulatedCouncil, SimulatedCouncil]) -> None:
    full, linked = linked_pair
    n_full = full.events["event_type"].value_counts()
    n_linked = linked.events["event_type"].value_counts()
    for etype, rate in linked.linkage.items():
        kept = n_linked.get(etype, 0) / n_full[etype]
        se = np.sqrt(rate * (1 - rate) / n_full[etype])
        assert abs(kept - rate) < 4 * se + 1e-9, (etype, kept, rate)
    key = ["family_id", "child_id", "event_type", "event_date", "detail"]
    partner = linked.events[linked.events["event_type"].isin(PARTNER_EVENT_TYPES)]
    inner = partner[key].merge(full.events[key].drop_duplicates(), how="left", indicator=True)
    assert (inner["_merge"] == "both").all()  # a linked event is one the agency recorded
