"""Test-period predictions in the agreed shape (docs/interfaces.md), for the fairness audit's tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import Config, parse_config

HUBS = [{"name": "Northfield", "capacity": 30}, {"name": "Riverside", "capacity": 35},
        {"name": "Eastgate", "capacity": 25}]
CODES = ["WBRI", "WOTH", "ABAN", "APKN", "BAFR", "MWBC"]
GROUP_OF = {"WBRI": "White", "WOTH": "White", "WROM": "White", "ABAN": "Asian", "APKN": "Asian", "BAFR": "Black",
            "MWBC": "Mixed"}


def make_predictions(n_children: int = 3000, *, seed: int = 0, n_dates: int = 4,
                     bias: tuple[str, str, float] | None = None, rare: dict[str, tuple[str, int]] | None = None
                     ) -> pd.DataFrame:
    """Test-period predictions in the agreed shape; `bias` = (column, value, margin shift) mis-scores a group;
    `rare` = {column: (value, n_children)} plants a small group."""
    rng = np.random.default_rng(seed)
    kids = pd.DataFrame({
        "child_id": [f"C{i:06d}" for i in range(n_children)],
        "family_id": [f"F{i // 2:06d}" for i in range(n_children)],
        "hub": rng.choice([h["name"] for h in HUBS], n_children),
        "born": rng.uniform(0, 17.9, n_children),
        "deprivation_decile": rng.integers(1, 11, n_children),
        "sex": rng.choice(["male", "female"], n_children),
        "ethnicity": rng.choice(CODES, n_children, p=[.6, .05, .1, .1, .1, .05]),
        "disability": rng.choice(["yes", "no", "unknown"], n_children, p=[.1, .85, .05]),
        "frailty": rng.gamma(0.6, 1.0, n_children),
        "known": rng.random(n_children) < 0.3,
    })
    for col, (value, k) in (rare or {}).items():
        kids.loc[kids.index[-k:], col] = value
    frames = []
    for i, as_of in enumerate(pd.date_range("2015-03-31", periods=n_dates, freq="QE-DEC")):
        f = kids.copy()
        f["as_of"] = as_of
        f["age_band"] = pd.cut(f["born"] + i * 0.25, [0, 5, 10, 16, 99], right=False,
                               labels=["0-4", "5-9", "10-15", "16-17"]).astype(str)
        z = -5.2 + 1.2 * f["frailty"] + 0.6 * f["known"] + 0.2 * (f["deprivation_decile"] <= 3)
        f["label"] = (rng.random(len(f)) < 1 / (1 + np.exp(-z))).astype(int)
        margin = z + rng.normal(0, 0.7, len(f))
        if bias is not None:
            margin = margin + bias[2] * (f[bias[0]] == bias[1])
        f["margin"] = margin
        f["probability"] = 1 / (1 + np.exp(-margin))
        frames.append(f)
    t = pd.concat(frames, ignore_index=True)
    t["ethnic_group"] = t["ethnicity"].map(GROUP_OF).fillna("Other")
    t["previously_known"] = t["known"]
    return t[["child_id", "family_id", "as_of", "label", "probability", "margin", "sex", "ethnicity", "ethnic_group",
              "disability", "age_band", "hub", "deprivation_decile", "previously_known"]]


def make_config(**fairness: object) -> Config:
    return parse_config({"council": {"hubs": HUBS}, "fairness": fairness})
