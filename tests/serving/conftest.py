"""Fixtures for scoring tests: a small feature table with the real feature columns, a tiny LightGBM and calibrator."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from core.config import Config, parse_config
from features import feature_columns
from training.calibration import MarginCalibrator
from training.model import RiskModel

SCORING_HUBS = [{"name": "Northfield", "capacity": 3}, {"name": "Riverside", "capacity": 4},
                {"name": "Eastgate", "capacity": 2}]
SCORING_AS_OF = pd.Timestamp("2017-03-31")


def scoring_config(**serving: object) -> Config:
    return parse_config({"council": {"hubs": SCORING_HUBS},
                         "serving": {"list_probability_threshold": 0.9, **serving}})


def make_cohort(config: Config, *, n_families: int = 500, seed: int = 0, as_of: pd.Timestamp = SCORING_AS_OF,
                ) -> pd.DataFrame:
    """One row per child at one as-of date, every model input present (most zero: nothing recorded)."""
    rng = np.random.default_rng(seed)
    cols = feature_columns(config)
    sizes = rng.integers(1, 5, n_families)
    fam = np.repeat(np.arange(n_families), sizes)
    n = len(fam)
    hub_of_family = rng.integers(0, len(config.council.hubs), n_families)
    frailty = rng.gamma(0.7, 1.0, n_families)[fam]
    X = pd.DataFrame(0.0, index=np.arange(n), columns=cols, dtype="float32")
    for c in cols:
        if c.startswith("days_since_"):
            X[c] = np.nan
    X["age_months"] = rng.integers(0, 17 * 12, n)
    X["months_resident"] = np.minimum(X["age_months"], rng.integers(0, 200, n))
    X["family_months_resident"] = X["months_resident"] + rng.integers(0, 50, n)
    X["n_children_family"] = sizes[fam]
    X["hub_code"] = hub_of_family[fam]
    X["deprivation_decile"] = rng.integers(1, 11, n_families)[fam]
    X["n_referral_12m"] = rng.poisson(0.4 * frailty)
    X["n_referral_24m"] = X["n_referral_12m"] + rng.poisson(0.2 * frailty)
    X["days_since_referral"] = np.where(X["n_referral_12m"] > 0, rng.integers(0, 365, n), np.nan)
    X["n_contact_6m"] = rng.poisson(0.5 * frailty)
    X["n_domestic_abuse_6m"] = rng.poisson(0.3 * frailty[np.r_[0, np.cumsum(sizes)[:-1]]])[fam]  # household
    X["cp_plan_open"] = (rng.random(n) < 0.06 * frailty).astype("float32")
    X["n_missing_episode_12m"] = np.where(X["age_months"] > 144, rng.poisson(0.4 * frailty), 0)
    X["early_help_open"] = (rng.random(n) < 0.1).astype("float32")
    z = (-4.0 + 0.7 * X["n_referral_12m"] + 0.8 * X["n_domestic_abuse_6m"] + 1.5 * X["cp_plan_open"]
         + 0.5 * X["n_missing_episode_12m"] + 0.3 * (X["deprivation_decile"] <= 3) + 0.2 * X["n_contact_6m"]
         - 0.6 * X["early_help_open"])
    p = 1 / (1 + np.exp(-z.to_numpy(dtype=float)))
    hubs = np.asarray(config.council.hub_names, dtype=object)
    keys = pd.DataFrame({"child_id": [f"C{i:05d}" for i in range(n)], "family_id": [f"F{f:04d}" for f in fam],
                         "as_of": as_of})
    audit = pd.DataFrame({
        "label": pd.array(rng.random(n) < p, dtype="Int8"),
        "sex": rng.choice(["male", "female"], n), "ethnicity": rng.choice(["WBRI", "ABAN", "BAFR"], n),
        "ethnic_group": "x", "disability": "no", "age_band": "0-4",
        "hub": hubs[X["hub_code"].to_numpy(dtype=int)],
        "previously_known": (X["n_referral_24m"] + X["n_contact_6m"] > 0).to_numpy(),
    })
    return pd.concat([keys, X, audit], axis=1)


def fit_model(config: Config, *, seed: int = 1) -> RiskModel:
    train = make_cohort(config, n_families=2500, seed=seed)
    cols = feature_columns(config)
    y = train["label"].astype(int).to_numpy()
    X = train[cols].astype("float64")
    params = {"objective": "binary", "learning_rate": 0.15, "num_leaves": 7, "min_data_in_leaf": 20,
              "verbosity": -1, "num_threads": 2, "seed": 3, "deterministic": True}
    booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=40)
    margin = booster.predict(X, raw_score=True)
    calibrator = MarginCalibrator("platt").fit(margin, y)
    return RiskModel(booster=booster, calibrator=calibrator, feature_names=cols, num_iteration=30,
                        name="upstream-risk", version="7", alias="champion", run_id="run123")


@pytest.fixture(scope="session")
def s_config() -> Config:
    return scoring_config()


@pytest.fixture(scope="session")
def s_config_with():
    return scoring_config


@pytest.fixture(scope="session")
def s_model(s_config: Config) -> RiskModel:
    return fit_model(s_config)


@pytest.fixture(scope="session")
def s_cohort(s_config: Config) -> pd.DataFrame:
    cohort = make_cohort(s_config, n_families=400, seed=11)
    cohort["label"] = pd.array([pd.NA] * len(cohort), dtype="Int8")  # scoring: the future is unknown
    return cohort
