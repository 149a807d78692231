"""The training tests' small config and feature table, and the fixtures training and governance tests share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import Config, parse_config

HUBS = [{"name": "Northfield", "capacity": 3}, {"name": "Riverside", "capacity": 4},
        {"name": "Eastgate", "capacity": 2}]
FEATURES = ["hub_code", "age_years", "deprivation_decile", "n_referral_12m", "days_since_referral",
            "contact_count_6m", "domestic_abuse_notification_count_6m", "cp_plan_open", "sibling_referral_count_12m"]
EXTRACT_DATE = pd.Timestamp("2016-12-31")


def small_config(**model: object) -> Config:
    data = {
        "council": {"hubs": HUBS},
        "model": {"seed": 7, "validation_dates": 4, "test_dates": 4, "num_boost_round": 60,
                  "early_stopping_rounds": 10, "learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 20,
                  "tune_trials": 3, **model},
    }
    return parse_config(data)


def make_table(n_children: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature table and truth for quarterly as-of dates 2011-03-31 .. 2016-12-31 (the last 4 unlabelled)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2011-03-31", EXTRACT_DATE, freq="QE-DEC")
    hubs = [h["name"] for h in HUBS]
    child = pd.DataFrame({
        "child_id": [f"C{i:05d}" for i in range(n_children)],
        "family_id": [f"F{i // 2:05d}" for i in range(n_children)],
        "hub": rng.choice(hubs, n_children),
        "born": rng.uniform(1995, 2012, n_children),
        "deprivation_decile": rng.integers(1, 11, n_children),
        "sex": rng.choice(["male", "female"], n_children),
        "ethnicity": rng.choice(["WBRI", "ABAN", "BAFR", "MWBC"], n_children),
        "disability": rng.choice(["yes", "no", "unknown"], n_children, p=[0.1, 0.85, 0.05]),
        "frailty": rng.gamma(1.0, 1.0, n_children),
    })
    frames = []
    for as_of in dates:
        f = child.copy()
        n = len(f)
        f["as_of"] = as_of
        f["age_years"] = np.clip(as_of.year + as_of.dayofyear / 365.25 - f["born"], 0, 17.9)
        f["n_referral_12m"] = rng.poisson(0.3 * f["frailty"])
        f["days_since_referral"] = np.where(f["n_referral_12m"] > 0, rng.integers(1, 365, n), np.nan)
        f["contact_count_6m"] = rng.poisson(0.5 * f["frailty"])
        f["domestic_abuse_notification_count_6m"] = rng.poisson(0.2 * f["frailty"])
        f["cp_plan_open"] = (rng.random(n) < 0.05 * f["frailty"]).astype(int)
        f["sibling_referral_count_12m"] = rng.poisson(0.2, n)
        z = (-4.2 + 0.6 * f["n_referral_12m"] + 0.9 * f["domestic_abuse_notification_count_6m"]
             + 1.4 * f["cp_plan_open"] + 0.3 * (f["deprivation_decile"] <= 3) + 0.25 * f["contact_count_6m"]
             + 0.5 * (f["age_years"] > 12) * f["contact_count_6m"])
        f["p_true"] = 1 / (1 + np.exp(-z))
        f["entered"] = rng.random(n) < f["p_true"]
        frames.append(f)
    t = pd.concat(frames, ignore_index=True)
    t["hub_code"] = t["hub"].map({h: i for i, h in enumerate(hubs)}).astype(int)
    observed = t["as_of"] + pd.DateOffset(months=12) <= EXTRACT_DATE
    t["label"] = pd.array(np.where(observed, t["entered"].astype(int), pd.NA), dtype="Int8")
    t["age_band"] = pd.cut(t["age_years"], [0, 5, 10, 16, 18], right=False,
                           labels=["0-4", "5-9", "10-15", "16-17"]).astype(str)
    t["ethnic_group"] = t["ethnicity"].map({"WBRI": "White", "ABAN": "Asian", "BAFR": "Black", "MWBC": "Mixed"})
    t["previously_known"] = (t["n_referral_12m"] > 0) | (t["contact_count_6m"] > 0)
    for col in FEATURES:  # model inputs are float32, as features.build_features writes them
        t[col] = t[col].astype("float32")
    table = t[["child_id", "family_id", "as_of", *FEATURES, "label", "sex", "ethnicity", "ethnic_group",
               "disability", "age_band", "hub", "previously_known"]].copy()
    truth = t[["child_id", "as_of", "p_true", "entered"]].copy()
    truth["p_true_se"] = 0.0
    truth["route"] = None
    return table, truth


@pytest.fixture(scope="session")
def feature_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_table()


@pytest.fixture()
def config() -> Config:
    return small_config()


@pytest.fixture()
def tracking_uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
