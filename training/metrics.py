"""Evaluation metrics: ranking, calibration, precision/recall at hub capacity and cohort shares, expected precision.

Conventions (stated once, used everywhere):
- precision@capacity is child-level: within each hub and test as-of date the top k *children* are selected,
  k = the hub's capacity (families per month); the all-hub figure pools the eight hub lists.
- top 1/2/5%: the top ceil(q * n) children of each as-of date's cohort.
- precision and recall are pooled over the test as-of dates (selected positives / selected rows, selected
  positives / all positives), not averaged per date.
- ECE uses `n_bins` equal-mass bins (sorted by predicted probability), weighted by bin size.
- ties in a ranking score are broken by `tiebreak` (e.g. the raw margin under an isotonic step), then child_id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

SHARES: tuple[float, ...] = (0.01, 0.02, 0.05)


@dataclass(frozen=True)
class Scores:
    """One ranking of the rows: `score` orders them; `probability` (if a probability) feeds Brier and ECE."""

    score: np.ndarray
    probability: np.ndarray | None = None
    tiebreak: np.ndarray | None = None


def share_name(q: float) -> str:
    return f"top{q * 100:g}pct".replace(".", "_")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> float:
    """ECE with equal-mass bins: sum over bins of (bin share) * |mean predicted - observed rate|."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    if len(y) == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    total = 0.0
    for idx in np.array_split(order, min(n_bins, len(y))):
        if len(idx):
            total += len(idx) / len(y) * abs(p[idx].mean() - y[idx].mean())
    return float(total)


def reliability_bins(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> pd.DataFrame:
    """Equal-mass bins: mean predicted probability, observed rate and count per bin (for the diagram)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    rows = [{"predicted": p[idx].mean(), "observed": y[idx].mean(), "n": len(idx)}
            for idx in np.array_split(order, min(n_bins, max(len(y), 1))) if len(idx)]
    return pd.DataFrame(rows, columns=["predicted", "observed", "n"])


def _rank_within(groups: np.ndarray, scores: Scores, child_ids: np.ndarray) -> np.ndarray:
    """0-based rank of each row within its group, best score first, ties broken deterministically."""
    tiebreak = scores.tiebreak if scores.tiebreak is not None else np.zeros(len(groups))
    child_codes = pd.factorize(child_ids, sort=True)[0]
    order = np.lexsort((child_codes, -np.asarray(tiebreak, float), -np.asarray(scores.score, float), groups))
    ranks = np.empty(len(groups), dtype=np.int64)
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    counts = np.diff(np.r_[starts, len(order)])
    ranks[order] = np.arange(len(order)) - np.repeat(starts, counts)
    return ranks


def select_capacity(frame: pd.DataFrame, scores: Scores, capacities: dict[str, int]) -> np.ndarray:
    """Rows in the top k children of their (as-of date, hub), k = the hub's capacity."""
    groups = frame.groupby(["as_of", "hub"], sort=True, dropna=False).ngroup().to_numpy()
    ranks = _rank_within(groups, scores, frame["child_id"].to_numpy())
    k = frame["hub"].map(capacities).fillna(0).to_numpy()
    return ranks < k


def select_share(frame: pd.DataFrame, scores: Scores, share: float) -> np.ndarray:
    """Rows in the top ceil(share * n) of their as-of date's cohort."""
    groups = pd.factorize(frame["as_of"])[0]
    ranks = _rank_within(groups, scores, frame["child_id"].to_numpy())
    sizes = np.bincount(groups)[groups]
    return ranks < np.ceil(share * sizes)


def _safe(fn, *args) -> float:
    try:
        return float(fn(*args))
    except ValueError:
        return float("nan")


def _slice_metrics(y: np.ndarray, scores: Scores, selections: dict[str, np.ndarray], not_known: np.ndarray,
                   p_true: np.ndarray | None, n_bins: int) -> dict[str, float]:
    out: dict[str, float] = {"n_rows": float(len(y)), "n_positive": float(y.sum())}
    both = 0 < y.sum() < len(y)
    out["roc_auc"] = _safe(roc_auc_score, y, scores.score) if both else float("nan")
    out["pr_auc"] = _safe(average_precision_score, y, scores.score) if y.sum() > 0 else float("nan")
    if scores.probability is not None and len(y):
        out["brier"] = float(brier_score_loss(y, scores.probability)) if len(y) else float("nan")
        out["ece"] = expected_calibration_error(y, scores.probability, n_bins=n_bins)
        out["mean_probability"] = float(np.mean(scores.probability))
    for name, sel in selections.items():
        n_sel = int(sel.sum())
        hits = float(y[sel].sum())
        out[f"precision_at_{name}"] = hits / n_sel if n_sel else float("nan")
        out[f"recall_at_{name}"] = float(hits / y.sum()) if y.sum() else float("nan")
        nk_pos = y[not_known].sum()
        out[f"recall_not_known_at_{name}"] = (float(y[sel & not_known].sum() / nk_pos) if nk_pos
                                             else float("nan"))
        if p_true is not None:
            out[f"expected_precision_at_{name}"] = float(np.nanmean(p_true[sel])) if n_sel else float("nan")
    return out


def evaluate(frame: pd.DataFrame, scorers: dict[str, Scores], *, capacities: dict[str, int],
             p_true: np.ndarray | None = None, shares: tuple[float, ...] = SHARES, n_bins: int = 10,
             breakdowns: tuple[str, ...] = ("hub", "age_band")) -> dict[str, dict]:
    """Metrics for each scorer on the labelled rows of `frame` (child_id, as_of, hub, label, ...).

    Returns {scorer: {"overall": {...}, "by_hub": {hub: {...}}, "by_age_band": {band: {...}}}}. With
    `p_true`, each selection also gets expected precision (mean p_true among the selected) and, for every
    scorer but "oracle", its ratio to the oracle's expected precision at the same k.
    """
    frame = frame.reset_index(drop=True)
    y = frame["label"].to_numpy(dtype=float)
    not_known = (~frame["previously_known"].astype(bool)).to_numpy() if "previously_known" in frame \
        else np.zeros(len(frame), bool)
    results: dict[str, dict] = {}
    for name, scores in scorers.items():
        selections = {"capacity": select_capacity(frame, scores, capacities)}
        for q in shares:
            selections[share_name(q)] = select_share(frame, scores, q)
        result = {"overall": _slice_metrics(y, scores, selections, not_known, p_true, n_bins)}
        for col in breakdowns:
            if col not in frame:
                continue
            parts = {}
            for value, idx in frame.groupby(col, sort=True, observed=True).indices.items():
                sub = Scores(scores.score[idx],
                             None if scores.probability is None else scores.probability[idx],
                             None if scores.tiebreak is None else scores.tiebreak[idx])
                parts[str(value)] = _slice_metrics(
                    y[idx], sub, {k: v[idx] for k, v in selections.items()}, not_known[idx],
                    None if p_true is None else p_true[idx], n_bins)
            result[f"by_{col}"] = parts
        results[name] = result
    if p_true is not None and "oracle" in results:
        oracle = results["oracle"]["overall"]
        for name, result in results.items():
            if name == "oracle":
                continue
            overall = result["overall"]
            for key in [k for k in overall if k.startswith("expected_precision_at_")]:
                denominator = oracle.get(key, float("nan"))
                ratio = overall[key] / denominator if denominator and not math.isnan(denominator) else math.nan
                overall[key.replace("expected_precision_at_", "expected_precision_ratio_at_")] = ratio
    return results


def flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Nested metrics to flat MLflow names, e.g. test_model_by_hub_Northfield_pr_auc; NaNs dropped."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        name = name.replace("overall_", "")
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
            flat["".join(c if c.isalnum() or c in "_-." else "_" for c in name)] = float(value)
    return flat
