"""The policies a hub could follow each month: which families it offers early help to, at its capacity.

- `model`: the families the model's lists rank highest (family risk 1 − ∏(1 − p), as `serving.lists` ranks them);
- `rule`: the practice hierarchy a service follows without ML (`training.baselines.PracticeRule`: CP plan, CIN plan,
  referrals in 12 months, infants; the strongest rule baseline), a family ranked by its highest child;
- `random`: families drawn at random;
- `none`: no extra offers (practice as usual: the mechanism's own early help goes on in every policy).

Every policy chooses among the same **eligible** families — resident children at home, none of them looked after
or open to early help, a CIN plan or a CP plan (offered help included), and no offer declined in the last
`DECLINE_MONTHS` — and offers at most each hub's capacity a month: a hub lead works down the list, skipping
families already open. The probability threshold that lists a very-high-risk family beyond capacity does not
apply (offers never exceed capacity).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.config import Config
from training.baselines import PracticeRule
from training.model import RiskModel
from training.operating_point import rank_family_table

POLICIES: tuple[str, ...] = ("model", "rule", "random", "none")
FEATURE_POLICIES: frozenset[str] = frozenset({"model", "rule"})
DECLINE_MONTHS = 12  # a family that declined is not offered again for a year


@dataclass(frozen=True)
class Cohort:
    """What a policy sees at the end of a month: the eligible families (state rows) and, for the feature policies,
    the cohort's feature rows (with family_id and hub) and the family_id of every state family row."""

    eligible: np.ndarray  # family rows of the state
    hub: np.ndarray  # hub index per family row of the state
    capacity: np.ndarray  # offers per hub this month
    features: pd.DataFrame | None = None
    family_ids: np.ndarray | None = None


def capacities(config: Config, multiplier: float) -> np.ndarray:
    """Families each hub can take on a month (config `council.hubs[].capacity`), times `multiplier`, rounded."""
    return np.array([int(round(h.capacity * multiplier)) for h in config.council.hubs], dtype=np.int64)


def _by_hub(order: np.ndarray, hub: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The first `capacity[h]` families of each hub, from family rows in preference order."""
    h = hub[order]
    rank = np.zeros(len(order), dtype=np.int64)
    for code in np.unique(h):
        at = np.flatnonzero(h == code)
        rank[at] = np.arange(len(at))
    return order[rank < capacity[h]]


def choose_random(cohort: Cohort, keys: np.ndarray) -> np.ndarray:
    """Eligible families in the order of their random `keys` (one uniform per family row), up to capacity."""
    order = cohort.eligible[np.argsort(keys[cohort.eligible], kind="stable")]
    return _by_hub(order, cohort.hub, cohort.capacity)


def _ranked(cohort: Cohort, score: np.ndarray, combine: str) -> np.ndarray:
    """Eligible families ranked by the rows' `score` within hub, up to capacity (state family rows)."""
    feats = cohort.features
    row_of = {fid: i for i, fid in enumerate(cohort.family_ids)}
    eligible_ids = set(cohort.family_ids[cohort.eligible])
    keep = feats["family_id"].isin(eligible_ids).to_numpy()
    if not keep.any():
        return np.zeros(0, dtype=np.int64)
    rows = pd.DataFrame({"family_id": feats["family_id"].to_numpy()[keep],
                         "child_id": feats["child_id"].to_numpy()[keep], "hub": feats["hub"].to_numpy()[keep],
                         "score": score[keep]})
    fam = rank_family_table(rows, capacities={}, threshold=None, score="score", combine=combine)
    # rank_family_table orders by hub, then family score (highest first), then family_id
    order = np.array([row_of[f] for f in fam["family_id"]], dtype=np.int64)
    return _by_hub(order, cohort.hub, cohort.capacity)


def model_scorer(model: RiskModel) -> Callable[[pd.DataFrame], np.ndarray]:
    """Calibrated probability per feature row (the lists' ranking)."""
    return lambda feats: model.calibrate(model.margin(model.matrix(feats)))


def rule_scorer(feats: pd.DataFrame) -> np.ndarray:
    """The practice hierarchy's score per feature row."""
    return PracticeRule().fit(feats).score(feats)


def choose(policy: str, cohort: Cohort, *, keys: np.ndarray, model: RiskModel | None) -> np.ndarray:
    """The family rows the policy offers early help to this month.

    Parameters
    ----------
    policy : str
        One of `POLICIES`.
    cohort : Cohort
        Eligible families, hubs, capacities (and features for `model` / `rule`).
    keys : ndarray
        One uniform per family row (the `random` policy's draw; common to every policy of a seed and month).
    model : RiskModel or None
        The model for `model`.

    Returns
    -------
    ndarray
        Family rows of the state, at most each hub's capacity of them, all eligible.
    """
    if policy == "none":
        return np.zeros(0, dtype=np.int64)
    if policy == "random":
        return choose_random(cohort, keys)
    if policy == "model":
        assert model is not None
        return _ranked(cohort, model_scorer(model)(cohort.features), "any")
    if policy == "rule":
        return _ranked(cohort, rule_scorer(cohort.features), "max")
    raise ValueError(f"unknown policy {policy!r}")
