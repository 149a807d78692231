"""Locality insight: expected entries with their interval, flagged children and drivers per hub, small cells hidden."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import Config
from serving.locality import hub_drivers, locality_table
from serving.scoring import score_cohort
from training.model import RiskModel


def test_expected_entries_and_interval(s_model: RiskModel, s_cohort: pd.DataFrame, s_config: Config) -> None:
    result = score_cohort(s_model, s_cohort, s_config)
    loc = result.locality.set_index("hub")
    for hub in [*s_config.council.hub_names, "All hubs"]:
        p = result.scores["probability"] if hub == "All hubs" else \
            result.scores.loc[result.scores["hub"] == hub, "probability"]
        half = 1.959964 * np.sqrt((p * (1 - p)).sum())
        assert loc.loc[hub, "expected_entries"] == pytest.approx(p.sum(), abs=0.051)
        assert loc.loc[hub, "expected_low"] == pytest.approx(max(0, p.sum() - half), abs=0.051)
        assert loc.loc[hub, "expected_high"] == pytest.approx(p.sum() + half, abs=0.051)
    assert loc.loc["All hubs", "children"] == len(result.scores)
    assert loc.loc["All hubs", "families_listed"] == result.families["listed"].sum()


def test_flagged_children_and_share_aged_five_plus(s_model: RiskModel, s_cohort: pd.DataFrame,
                                                   s_config: Config) -> None:
    result = score_cohort(s_model, s_cohort, s_config)
    loc = result.locality.set_index("hub")
    flagged = result.scores[result.scores["listed"]]
    total = loc.loc["All hubs"]
    assert total["children_flagged"] == len(flagged)
    assert total["share_flagged_aged_5_plus"] == pytest.approx((flagged["age_years"] >= 5).mean(), abs=1e-3)


def test_small_counts_are_suppressed(s_config: Config) -> None:
    scores = pd.DataFrame({"child_id": ["a", "b", "c"], "family_id": ["f1", "f1", "f2"],
                           "hub": ["Eastgate"] * 3, "probability": [0.5, 0.2, 0.1], "age_years": [3, 8, 12]})
    families = pd.DataFrame({"family_id": ["f1", "f2"], "hub": ["Eastgate"] * 2, "listed": [True, False]})
    loc = locality_table(scores, families, s_config).set_index("hub")
    assert pd.isna(loc.loc["Eastgate", "children_flagged"])
    assert pd.isna(loc.loc["Eastgate", "share_flagged_aged_5_plus"])
    assert loc.loc["Northfield", "children_flagged"] == 0  # zero is not a small cell: nobody to identify


def test_drivers_are_the_largest_mean_shap_signals() -> None:
    names = ["n_referral_12m", "n_referral_24m", "n_domestic_abuse_6m", "cp_plan_open", "hub_code"]
    shap = np.array([[0.5, 0.3, 0.2, -0.1, 3.0], [0.1, 0.1, 0.6, 0.1, 3.0], [9.0, 9.0, 9.0, 9.0, 9.0]])
    hubs = np.array(["A", "A", "B"], dtype=object)
    drivers = hub_drivers(hubs, shap, names, "A")
    assert [d["signal"] for d in drivers] == ["referral", "domestic_abuse"]  # referral: 0.3 + 0.2 summed
    assert drivers[0]["mean_shap"] == pytest.approx(0.5)
    assert all(d["signal"] != "hub_code" for d in drivers)
