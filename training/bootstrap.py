"""Family-clustered bootstrap: resample whole families (all their children, rows and as-of dates), vectorised.

One child enters care once but is a positive at up to four quarterly as-of dates, and siblings share their
household's records: rows are not independent, families (nearly) are. Every interval in training and in the
fairness audit comes from `family_weights` — a (replicates × families) matrix of multinomial resampling
counts — so a replicate is a weighted sum, never a Python loop over replicates:

- linear statistics (counts, sums of probabilities, hits at an operating point) are `weights @ per-family sums`;
- ROC-AUC and PR-AUC are computed from one sort of the scores and weighted cumulative sums per replicate
  (chunked to bound memory);
- selections (who is listed) are held fixed: the interval is the sampling uncertainty at the operating point
  actually used;
- paired comparisons apply the same weights to both scorers and take the interval of the difference.

Intervals are 95% percentile intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVEL = 0.95
# Bound the (replicates × rows) working arrays of the AUC computations to about this many cells.
_CHUNK_CELLS = 4_000_000


def family_weights(family_codes: np.ndarray, replicates: int, *, seed: int) -> np.ndarray:
    """(replicates x families) multinomial resampling counts: each replicate draws as many families as exist."""
    n_families = int(family_codes.max()) + 1 if len(family_codes) else 0
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_families, np.full(n_families, 1.0 / n_families), size=replicates).astype(np.float64)


def interval(samples: np.ndarray, *, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of one statistic's replicates (NaN when fewer than half are defined)."""
    samples = np.asarray(samples, float)
    ok = samples[np.isfinite(samples)]
    if len(ok) < max(1, len(samples) // 2):
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    return float(np.quantile(ok, alpha)), float(np.quantile(ok, 1 - alpha))


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(num, float) / np.asarray(den, float)
    return np.where(np.isfinite(out), out, np.nan)


class FamilyBootstrap:
    """The replicate weights for one set of rows, and the statistics computed from them.

    Parameters
    ----------
    family_ids : the family of each row.
    replicates : number of bootstrap replicates.
    seed : the resampling seed (same seed, same rows: same intervals).
    """

    def __init__(self, family_ids: np.ndarray | pd.Series, *, replicates: int, seed: int) -> None:
        self.codes_, uniques = pd.factorize(np.asarray(family_ids), sort=True)
        self.n_families_ = len(uniques)
        self.weights_ = family_weights(self.codes_, replicates, seed=seed)

    @property
    def replicates(self) -> int:
        return int(self.weights_.shape[0])

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Replicate sums of one or more row statistics: (replicates,) or (replicates, k)."""
        values = np.asarray(values, float)
        flat = values.reshape(len(values), -1)
        per_family = np.stack([np.bincount(self.codes_, weights=flat[:, j], minlength=self.n_families_)
                               for j in range(flat.shape[1])], axis=1)
        out = self.weights_ @ per_family
        return out[:, 0] if values.ndim == 1 else out

    def row_weights(self, start: int, stop: int) -> np.ndarray:
        return self.weights_[start:stop][:, self.codes_]

    def aucs(self, y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ROC-AUC, PR-AUC) per replicate; PR-AUC is average precision as scikit-learn defines it (ties grouped)."""
        y = np.asarray(y, float)
        score = np.asarray(score, float)
        order = np.argsort(-score, kind="stable")
        s_sorted, y_sorted = score[order], y[order]
        # the last row of each run of equal scores: one threshold per distinct score
        ends = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
        codes_sorted = self.codes_[order]
        roc = np.empty(self.replicates)
        ap = np.empty(self.replicates)
        chunk = max(1, _CHUNK_CELLS // max(len(y), 1))
        for start in range(0, self.replicates, chunk):
            w = self.weights_[start:start + chunk][:, codes_sorted]
            tp = np.cumsum(w * y_sorted, axis=1)[:, ends]
            fp = np.cumsum(w * (1.0 - y_sorted), axis=1)[:, ends]
            pos, neg = tp[:, -1:], fp[:, -1:]
            with np.errstate(divide="ignore", invalid="ignore"):
                tpr = np.concatenate([np.zeros((len(w), 1)), tp / pos], axis=1)
                fpr = np.concatenate([np.zeros((len(w), 1)), fp / neg], axis=1)
                roc[start:start + len(w)] = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2, axis=1)
                precision = tp / (tp + fp)
                ap[start:start + len(w)] = np.sum(np.diff(tpr, axis=1) * np.nan_to_num(precision), axis=1)
            bad_pos = pos[:, 0] <= 0
            roc[start:start + len(w)][bad_pos | (neg[:, 0] <= 0)] = np.nan
            ap[start:start + len(w)][bad_pos] = np.nan
        return roc, ap


def with_interval(out: dict[str, float], name: str, samples: np.ndarray, *, level: float = LEVEL) -> None:
    """Add `<name>_ci_low` and `<name>_ci_high` to `out` from the replicates."""
    lo, hi = interval(samples, level=level)
    out[f"{name}_ci_low"] = lo
    out[f"{name}_ci_high"] = hi
