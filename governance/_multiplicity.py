"""Family-wise error control for the fairness verdict: pre-registered primary comparisons, Holm's step-down.

The audit computes a few hundred disparities (group × metric × operating point × attribute). Tested one by one
at 95%, some fall outside the band by chance even when nothing differs. So the verdict is decided by a small,
pre-registered **primary** family only — recall and calibration disparities at the list operating point for the
protected characteristics the records hold (`fairness.primary_attributes`: ethnic group, sex, disability, age
band) — with Holm's step-down procedure holding the chance of any false flag in that family at
`fairness.family_wise_alpha` (5%). Every other disparity is **exploratory**: shown, flagged per comparison,
never the verdict's reason.

The p-value of one comparison tests "the disparity lies inside the band [low, high]" against "outside", from the
family bootstrap: with `d` the distance of the ratio outside the band and `se` the standard deviation of its
bootstrap replicates, p = 2 (1 − Φ(d / se)); p = 1 inside the band. (A normal approximation: 200 replicates
cannot resolve the small p-values Holm needs from percentiles. On the ratio scale, not the log scale, so that a
group with none of its entrants listed — ratio 0 — is judged rather than dropped.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm


def band_p_value(ratio: float, replicates: np.ndarray, band: tuple[float, float]) -> float:
    """Two-sided p-value for "the disparity lies outside the band" (1 when the point estimate is inside it).

    z = (distance of the ratio outside the band) / (standard deviation of its bootstrap replicates); a ratio of 0
    (no entrant of the group listed) is the most severe disparity, not an undefined one."""
    if ratio is None or not math.isfinite(ratio) or ratio < 0:
        return float("nan")
    low, high = band
    if low <= ratio <= high:
        return 1.0
    reps = np.asarray(replicates, float)
    reps = reps[np.isfinite(reps)]
    if len(reps) < 20:
        return float("nan")
    se = float(np.std(reps, ddof=1))
    distance = low - ratio if ratio < low else ratio - high
    if se <= 0:
        return 0.0
    return float(min(1.0, 2.0 * norm.sf(distance / se)))


def holm(p_values: Sequence[float], *, alpha: float = 0.05) -> list[bool]:
    """Holm's step-down: which hypotheses are rejected with the family-wise error held at `alpha`.

    NaN p-values (comparisons that could not be judged) are never rejected and do not count in the family."""
    p = np.asarray(p_values, float)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    reject = np.zeros(len(p), dtype=bool)
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        if p[i] <= alpha / (m - rank):
            reject[i] = True
        else:
            break
    return reject.tolist()


def primary_flags(comparisons: Sequence[dict], *, band: tuple[float, float], alpha: float) -> list[dict]:
    """Holm over the primary comparisons: each a dict with `ratio` and bootstrap `replicates` (of the ratio)
    plus anything to report; returns the rejected ones, each with its `p_value` added, smallest p first."""
    p = [band_p_value(c["ratio"], c["replicates"], band) for c in comparisons]
    rejected = holm(p, alpha=alpha)
    out = [{**c, "p_value": pv} for c, pv, r in zip(comparisons, p, rejected, strict=True) if r]
    return sorted(out, key=lambda c: c["p_value"])
