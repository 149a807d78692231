"""Evaluation metrics: ranking, calibration, precision/recall at the list operating point, intervals, comparisons.

Conventions (stated once, used everywhere):
- the operating point is **the list** (`list`): the children of the families the hub lists list on each as-of
  date (capacity per hub plus any family above `serving.list_probability_threshold`;
  `training.operating_point.select_listed`, the function serving's lists use). A ranking that is not a
  probability lists families by their highest child's score, capacity only.
- secondary rows, named as such: `child_capacity` — the top k *children* per hub and as-of date (k = the
  hub's capacity in families), and the top 1/2/5/10% of each as-of date's cohort (k = ceil(q * n) children).
- calibration in the band that is acted on: `calibration_ratio_at_<op>` = mean predicted / observed rate among
  the selected rows (and `calibration_true_ratio_at_<op>` = mean predicted / mean p_true on simulated data).
- with a `FamilyBootstrap`, headline figures get `<name>_ci_low/_ci_high` (families resampled, selections held
  fixed) and the model gets paired differences against every other scorer (`paired`).
- `n_entrants` counts distinct children with a positive label (one entry to care is a positive at up to four
  quarterly as-of dates), beside `n_positive` rows.
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

from training.bootstrap import FamilyBootstrap, ratio, with_interval
from training.operating_point import hub_key, select_listed

SHARES: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)
LIST = "list"
# Figures that get an interval (overall) and the paired differences the model is compared on.
INTERVAL_RATES: tuple[str, ...] = ("precision_at_list", "recall_at_list", "recall_not_known_at_list",
                                   "calibration_ratio_at_list", "calibration_ratio_at_top10pct",
                                   "calibration_true_ratio_at_list", "calibration_true_ratio_at_top10pct",
                                   "precision_at_top2pct", "expected_precision_ratio_at_list",
                                   "expected_precision_ratio_at_top2pct")
PAIRED: tuple[str, ...] = ("pr_auc", "roc_auc", "precision_at_list", "recall_at_list")


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
    """Rows in the top k *children* of their (as-of date, hub), k = the hub's capacity (a secondary row: the
    lists select families, see `select_list`)."""
    hub = pd.Series(hub_key(frame), index=frame.index)
    groups = pd.DataFrame({"as_of": frame["as_of"], "hub": hub}).groupby(["as_of", "hub"], sort=True,
                                                                          dropna=False).ngroup().to_numpy()
    ranks = _rank_within(groups, scores, frame["child_id"].to_numpy())
    k = hub.map(capacities).fillna(0).to_numpy()
    return ranks < k


def select_list(frame: pd.DataFrame, scores: Scores, capacities: dict[str, int],
                threshold: float | None) -> np.ndarray:
    """Rows of the children of the families the hub lists list on their as-of date (the operating point)."""
    if scores.probability is not None:
        return select_listed(frame, scores.probability, capacities=capacities, threshold=threshold, combine="any")
    return select_listed(frame, scores.score, capacities=capacities, threshold=None, combine="max")


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
                   p_true: np.ndarray | None, n_bins: int, child_ids: np.ndarray | None = None) -> dict[str, float]:
    out: dict[str, float] = {"n_rows": float(len(y)), "n_positive": float(y.sum())}
    if child_ids is not None:
        out["n_entrants"] = float(len(np.unique(child_ids[y > 0])))
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
        if child_ids is not None:
            out[f"n_entrants_selected_at_{name}"] = float(len(np.unique(child_ids[sel & (y > 0)])))
        if scores.probability is not None and n_sel:
            predicted = float(np.sum(scores.probability[sel]))
            out[f"calibration_ratio_at_{name}"] = predicted / hits if hits else float("nan")
            if p_true is not None:
                expected = float(np.nansum(p_true[sel]))
                out[f"calibration_true_ratio_at_{name}"] = predicted / expected if expected else float("nan")
        if p_true is not None:
            out[f"expected_precision_at_{name}"] = float(np.nanmean(p_true[sel])) if n_sel else float("nan")
    return out


def evaluate(frame: pd.DataFrame, scorers: dict[str, Scores], *, capacities: dict[str, int],
             threshold: float | None = None, p_true: np.ndarray | None = None, shares: tuple[float, ...] = SHARES,
             n_bins: int = 10, breakdowns: tuple[str, ...] = ("hub", "age_band", "council"),
             bootstrap: FamilyBootstrap | None = None, reference: str = "model") -> dict[str, dict]:
    """Metrics for each scorer on the labelled rows of `frame` (child_id, family_id, as_of, hub, label, ...).

    Returns {scorer: {"overall": {...}, "by_hub": {hub: {...}}, "by_age_band": {band: {...}}}} (and
    "by_council" for a region's rows: a breakdown whose column the frame lacks is left out). Operating
    points: `list` (the hub lists; `threshold` is `serving.list_probability_threshold`), `child_capacity` and
    the cohort shares. With `p_true`, each selection also gets expected precision (mean p_true among the
    selected) and, for every scorer but "oracle", its ratio to the oracle's expected precision at the same
    operating point. With `bootstrap` (rows in `frame` order), overall figures get 95% family-clustered
    intervals and `reference` gets `paired` differences against every other scorer.
    """
    frame = frame.reset_index(drop=True)
    y = frame["label"].to_numpy(dtype=float)
    child_ids = frame["child_id"].to_numpy() if "child_id" in frame else None
    not_known = (~frame["previously_known"].astype(bool)).to_numpy() if "previously_known" in frame \
        else np.zeros(len(frame), bool)
    results: dict[str, dict] = {}
    chosen: dict[str, dict[str, np.ndarray]] = {}
    for name, scores in scorers.items():
        selections = {LIST: select_list(frame, scores, capacities, threshold),
                      "child_capacity": select_capacity(frame, scores, capacities)}
        for q in shares:
            selections[share_name(q)] = select_share(frame, scores, q)
        chosen[name] = selections
        result = {"overall": _slice_metrics(y, scores, selections, not_known, p_true, n_bins, child_ids)}
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
                    None if p_true is None else p_true[idx], n_bins,
                    None if child_ids is None else child_ids[idx])
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
                ratio_ = overall[key] / denominator if denominator and not math.isnan(denominator) else math.nan
                overall[key.replace("expected_precision_at_", "expected_precision_ratio_at_")] = ratio_
    if bootstrap is not None:
        _intervals(results, scorers, chosen, y, not_known, p_true, bootstrap, reference)
    return results


def _replicates(scores: Scores, selections: dict[str, np.ndarray], y: np.ndarray, not_known: np.ndarray,
                p_true: np.ndarray | None, oracle_sel: dict[str, np.ndarray] | None,
                boot: FamilyBootstrap) -> dict[str, np.ndarray]:
    """Every interval statistic of one scorer, per replicate (selections fixed)."""
    out: dict[str, np.ndarray] = {}
    if 0 < y.sum() < len(y):
        out["roc_auc"], out["pr_auc"] = boot.aucs(y, scores.score)
    columns = {"y": y, "y_nk": y * not_known}
    if p_true is not None:
        columns["p_true"] = np.nan_to_num(p_true)
    for op in (LIST, "top2pct", "top10pct"):
        if op not in selections:
            continue
        sel = selections[op].astype(float)
        columns[f"sel_{op}"] = sel
        columns[f"hit_{op}"] = sel * y
        columns[f"hit_nk_{op}"] = sel * y * not_known
        if scores.probability is not None:
            columns[f"prob_{op}"] = sel * scores.probability
        if p_true is not None:
            columns[f"ptrue_{op}"] = sel * np.nan_to_num(p_true)
            if oracle_sel is not None and op in oracle_sel:
                osel = oracle_sel[op].astype(float)
                columns[f"osel_{op}"] = osel
                columns[f"optrue_{op}"] = osel * np.nan_to_num(p_true)
    names = list(columns)
    sums = boot.sums(np.column_stack([columns[n] for n in names]))
    col = {n: sums[:, i] for i, n in enumerate(names)}
    for op in (LIST, "top2pct", "top10pct"):
        if f"sel_{op}" not in col:
            continue
        out[f"precision_at_{op}"] = ratio(col[f"hit_{op}"], col[f"sel_{op}"])
        out[f"recall_at_{op}"] = ratio(col[f"hit_{op}"], col["y"])
        out[f"recall_not_known_at_{op}"] = ratio(col[f"hit_nk_{op}"], col["y_nk"])
        if f"prob_{op}" in col:
            out[f"calibration_ratio_at_{op}"] = ratio(col[f"prob_{op}"], col[f"hit_{op}"])
            if f"ptrue_{op}" in col:
                out[f"calibration_true_ratio_at_{op}"] = ratio(col[f"prob_{op}"], col[f"ptrue_{op}"])
        if f"osel_{op}" in col:
            out[f"expected_precision_ratio_at_{op}"] = ratio(ratio(col[f"ptrue_{op}"], col[f"sel_{op}"]),
                                                            ratio(col[f"optrue_{op}"], col[f"osel_{op}"]))
    return out


def _intervals(results: dict[str, dict], scorers: dict[str, Scores], chosen: dict[str, dict[str, np.ndarray]],
               y: np.ndarray, not_known: np.ndarray, p_true: np.ndarray | None, boot: FamilyBootstrap,
               reference: str) -> None:
    oracle_sel = chosen.get("oracle") if p_true is not None else None
    samples = {name: _replicates(scores, chosen[name], y, not_known, p_true,
                                 oracle_sel if name != "oracle" else None, boot)
               for name, scores in scorers.items()}
    for name, reps in samples.items():
        overall = results[name]["overall"]
        for stat in ("pr_auc", "roc_auc", *INTERVAL_RATES):
            if stat in reps and stat in overall:
                with_interval(overall, stat, reps[stat])
        overall["bootstrap_replicates"] = float(boot.replicates)
    if reference not in samples:
        return
    paired: dict[str, dict[str, float]] = {}
    for other, reps in samples.items():
        if other == reference:
            continue
        diffs: dict[str, float] = {}
        for stat in PAIRED:
            if stat in reps and stat in samples[reference]:
                diffs[f"{stat}_diff"] = (results[reference]["overall"][stat] - results[other]["overall"][stat])
                with_interval(diffs, f"{stat}_diff", samples[reference][stat] - reps[stat])
        paired[other] = diffs
    results[reference]["paired"] = paired


def paired_difference(y: np.ndarray, first: np.ndarray, second: np.ndarray, family_ids: np.ndarray, *,
                      replicates: int, seed: int) -> dict[str, float]:
    """PR-AUC of `first` minus that of `second` on the same rows, with a paired family-bootstrap interval."""
    boot = FamilyBootstrap(family_ids, replicates=replicates, seed=seed)
    _, ap_first = boot.aucs(y, first)
    _, ap_second = boot.aucs(y, second)
    out = {"pr_auc_diff": _safe(average_precision_score, y, first) - _safe(average_precision_score, y, second)}
    with_interval(out, "pr_auc_diff", ap_first - ap_second)
    return out


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
