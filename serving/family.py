"""Family risk: the probability that at least one of a family's children enters care within the horizon.

family_risk = 1 − ∏(1 − p_child), from the children's calibrated probabilities. This assumes the children's
outcomes are independent given their features. They are not quite: siblings usually enter care together, so
their outcomes are positively correlated and the true chance that *any* child enters lies between the
largest child's risk and this product — the figure is an upper-ish approximation. It is monotone in each
child's risk, equals the child's risk for a one-child family, and never falls below the highest child's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# A calibrated probability of exactly 1 would make log1p(-p) infinite; nothing real is that certain.
_P_MAX = 1.0 - 1e-12


def family_risk(probabilities: Sequence[float] | np.ndarray) -> float:
    """1 − ∏(1 − p) over one family's children (0 for no children)."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, _P_MAX)
    return float(-np.expm1(np.log1p(-p).sum()))


def family_risks(family_ids: pd.Series | np.ndarray, probabilities: pd.Series | np.ndarray) -> pd.Series:
    """family_risk for every family at once, indexed by family_id (vectorised: a groupby of log(1 − p))."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, _P_MAX)
    logs = pd.Series(np.log1p(-p)).groupby(np.asarray(family_ids), sort=True).sum()
    return -np.expm1(logs).rename("family_risk")
