"""Fairness metrics per group: fairlearn MetricFrame point estimates, disparities and a family-cluster bootstrap.

Conventions (stated once, used by the audit, its report and its tests):
- rows are child x as-of date rows of the test period; an operating point marks each row selected or not;
- counts: n, n_positive, n_negative (independent of the operating point) and, per operating point,
  n_selected, n_unselected, tp, fp, fn, tn;
- rates are ratios of those counts (see RATE_INPUTS), `mean_predicted` is the mean calibrated probability and
  `calibration` is mean predicted / observed rate (1 = calibrated within the group);
- the bootstrap resamples *families* with replacement (siblings and repeat rows of one child are correlated),
  keeping each row's selection fixed: it measures sampling uncertainty at the operating point actually used;
- a disparity is a group's metric divided by the reference group's; percentile intervals (95%).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from scipy import sparse
from sklearn.metrics import roc_auc_score

from core.contract import DISABILITY_CODES, ETHNIC_GROUPS, ETHNICITY_CODES, SEX_CODES
from features.columns import AGE_BANDS
from training.bootstrap import family_weights  # noqa: F401 - the one resampling definition, shared with training
from training.operating_point import hub_key

FIXED_COUNTS: tuple[str, ...] = ("n", "n_positive", "n_negative")
OP_COUNTS: tuple[str, ...] = ("n_selected", "n_unselected", "tp", "fp", "fn", "tn")
# rate -> the counts it is computed from (a rate is suppressed when any of them is).
FIXED_RATES: dict[str, tuple[str, ...]] = {
    "base_rate": ("n_positive", "n"),
    "mean_predicted": ("n",),
    "calibration": ("n", "n_positive"),
    "roc_auc": ("n_positive", "n_negative"),
}
OP_RATES: dict[str, tuple[str, ...]] = {
    "selection_rate": ("n_selected", "n"),
    "recall": ("tp", "n_positive"),
    "false_negative_rate": ("fn", "n_positive"),
    "false_positive_rate": ("fp", "n_negative"),
    "precision": ("tp", "n_selected"),
    "false_omission_rate": ("fn", "n_unselected"),
}
# Bootstrapped rates (ROC-AUC is a point estimate only: a per-replicate rank statistic costs too much).
BOOTSTRAPPED: frozenset[str] = frozenset((*FIXED_RATES, *OP_RATES)) - {"roc_auc"}
# For an assistive intervention, missing a child (recall) and mis-stating risk (calibration) matter most.
VERDICT_METRICS: tuple[str, ...] = ("recall", "calibration")
NOT_RECORDED = "not recorded"

ATTRIBUTE_LABELS: dict[str, str] = {
    "ethnic_group": "Ethnic group",
    "ethnicity": "Ethnicity (DfE code)",
    "sex": "Sex",
    "disability": "Disability",
    "age_band": "Age band (at the as-of date)",
    "deprivation_quintile": "Deprivation quintile (1 = most deprived)",
    "hub": "Hub (council/hub in a region)",
    "council": "Council (DfE LA number)",
    "previously_known": "Previously known to children's social care",
}
_ORDER: dict[str, tuple[str, ...]] = {
    "ethnic_group": ETHNIC_GROUPS,
    "ethnicity": ETHNICITY_CODES,
    "sex": SEX_CODES,
    "disability": DISABILITY_CODES,
    "age_band": AGE_BANDS,
    "deprivation_quintile": ("1", "2", "3", "4", "5"),
    "previously_known": ("yes", "no"),
}


def intersection_name(a: str, b: str) -> str:
    return f"{a}_x_{b}"


def attribute_label(name: str) -> str:
    if "_x_" in name:
        a, b = name.split("_x_", 1)
        return f"{ATTRIBUTE_LABELS.get(a, a)} × {ATTRIBUTE_LABELS.get(b, b)}"
    return ATTRIBUTE_LABELS.get(name, name)


def attribute_values(predictions: pd.DataFrame, attribute: str) -> pd.Series:
    """One string label per row for a single attribute; missing values become 'not recorded'."""
    if attribute == "deprivation_quintile":
        decile = pd.to_numeric(predictions["deprivation_decile"], errors="coerce")
        values = ((decile + 1) // 2).astype("Int64").astype(str)
    elif attribute == "previously_known":
        known = predictions["previously_known"]
        values = known.map({True: "yes", False: "no"}).astype(object)
    elif attribute == "hub":  # a region's hubs are per council ("330/Central"), as its lists are
        values = pd.Series(hub_key(predictions), index=predictions.index, dtype=object)
    else:
        values = predictions[attribute].astype(object).map(lambda v: None if pd.isna(v) else str(v))
    return values.where(values.notna() & (values != "<NA>"), NOT_RECORDED).astype(str).rename(attribute)


def ordered_groups(attribute: str, present: list[str], *, hubs: tuple[str, ...] = ()) -> list[str]:
    """Groups in a reader's order: the code list's order where there is one (`hubs`: the config's lists, by name or
    by "code/hub" for a region), then the rest sorted."""
    order = list(hubs) if attribute == "hub" else list(_ORDER.get(attribute, ()))
    known = [g for g in order if g in present]
    return known + sorted(g for g in present if g not in order)


# --- metrics via MetricFrame ------------------------------------------------------------------------------------
# fairlearn 0.15's MetricFrame costs ~10 ms of bookkeeping per (metric, group) call and stacks every value of
# every argument in Python (~5 us a value): a dozen metrics on 200k rows and ~100 groups would take minutes.
# So MetricFrame disaggregates one vector-valued metric — the group's sufficient statistics (rows, positives,
# sum of probabilities, and tp/fp/fn/tn at each operating point) — over *weighted aggregates* (one row per
# group x label x selections, `sample_weight` = its row count, y_pred = mean probability); every rate is then
# a formula of those counts. ROC-AUC has its own MetricFrame over (group, label, probability) aggregates.
# The tests check every metric against fairlearn's own metric functions on the raw rows.
def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """num / den, NaN where undefined (a zero denominator); for scalars and arrays alike."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(num, den)
    return np.where(np.isfinite(out), out, np.nan)


# Every rate, defined once as a formula of counts; used for the point estimates (scalars) and for every bootstrap
# replicate (arrays). Counts: n, n_positive, prob_sum (the sum of probabilities), and per operating point
# tp, fp, fn, tn. Exact counts are whole numbers, so (tp + fn) is n_positive and (tp + fp + fn + tn) is n exactly.
FIXED_RATE_FORMULAS: dict[str, Callable[..., np.ndarray]] = {  # of (n, n_positive, prob_sum)
    "base_rate": lambda n, pos, s: _ratio(pos, n),
    "mean_predicted": lambda n, pos, s: _ratio(s, n),
    "calibration": lambda n, pos, s: _ratio(s, pos),
}
OP_RATE_FORMULAS: dict[str, Callable[..., np.ndarray]] = {  # of (tp, fp, fn, tn)
    "selection_rate": lambda tp, fp, fn, tn: _ratio(tp + fp, tp + fp + fn + tn),
    "recall": lambda tp, fp, fn, tn: _ratio(tp, tp + fn),
    "false_negative_rate": lambda tp, fp, fn, tn: _ratio(fn, tp + fn),
    "false_positive_rate": lambda tp, fp, fn, tn: _ratio(fp, fp + tn),
    "precision": lambda tp, fp, fn, tn: _ratio(tp, tp + fp),
    "false_omission_rate": lambda tp, fp, fn, tn: _ratio(fn, fn + tn),
}
assert set(FIXED_RATE_FORMULAS) == set(FIXED_RATES) - {"roc_auc"} and set(OP_RATE_FORMULAS) == set(OP_RATES)


def _fixed_values(n: float, pos: float, prob_sum: float) -> dict[str, float]:
    counts = {"n": n, "n_positive": pos, "n_negative": n - pos}
    return {**counts, **{k: float(f(n, pos, prob_sum)) for k, f in FIXED_RATE_FORMULAS.items()}}


def _op_values(tp: float, fp: float, fn: float, tn: float) -> dict[str, float]:
    counts = {"n_selected": tp + fp, "n_unselected": fn + tn, "tp": tp, "fp": fp, "fn": fn, "tn": tn}
    return {**counts, **{k: float(f(tp, fp, fn, tn)) for k, f in OP_RATE_FORMULAS.items()}}


def sufficient_statistics(y_true, y_pred, *, sample_weight, selected, n_ops) -> np.ndarray:
    """[rows, positives, sum of probabilities, then tp, fp, fn, tn per operating point] (weighted).

    `selected` packs the selections as bits (bit j = selected at operating point j): MetricFrame takes 1-D
    sample parameters only.
    """
    y, w = np.asarray(y_true) == 1, np.asarray(sample_weight, float)
    bits = np.asarray(selected, np.int64)
    out = [w.sum(), w[y].sum(), (w * np.asarray(y_pred, float)).sum()]
    for j in range(int(np.asarray(n_ops).flat[0]) if np.size(n_ops) else 0):
        s = (bits >> j) & 1 == 1
        out += [w[y & s].sum(), w[~y & s].sum(), w[y & ~s].sum(), w[~y & ~s].sum()]
    return np.asarray(out, float)


def roc_auc(y_true, y_pred, *, sample_weight) -> float:
    y, w = np.asarray(y_true), np.asarray(sample_weight, float)
    both = w[y == 1].sum() > 0 and w[y == 0].sum() > 0
    return float(roc_auc_score(y, y_pred, sample_weight=w)) if both else float("nan")


# Above this many distinct (group, label, probability) rows (e.g. Platt scaling: one per row), ROC-AUC per group
# is computed with scikit-learn directly rather than through MetricFrame, which would take minutes.
AUC_METRICFRAME_MAX_ROWS = 20_000


@dataclass(frozen=True)
class GroupMetrics:
    """Point estimates for one attribute: `fixed` (counts and rates that do not depend on the operating point)
    and `at[op]` per operating point; index = groups in reader order; `overall` rows are the whole population."""

    attribute: str
    groups: list[str]
    fixed: pd.DataFrame
    at: dict[str, pd.DataFrame]
    overall_fixed: pd.Series
    overall_at: dict[str, pd.Series]


def _rates(stats: np.ndarray, ops: list[str]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    fixed = _fixed_values(*(float(v) for v in stats[:3]))
    at = {op: _op_values(*(float(v) for v in stats[3 + 4 * j: 7 + 4 * j])) for j, op in enumerate(ops)}
    return fixed, at


def metric_frames(y: np.ndarray, probability: np.ndarray, selections: dict[str, np.ndarray], labels: pd.Series,
                  *, groups: list[str]) -> GroupMetrics:
    """Counts and rates per group, disaggregated by fairlearn's MetricFrame over weighted aggregates (see above)."""
    codes = pd.Categorical(labels, categories=groups).codes
    ops = list(selections)
    rows = pd.DataFrame({"g": codes, "y": np.asarray(y, int), "p": np.asarray(probability, float)})
    sel_cols = [f"s{j}" for j in range(len(ops))]
    for col, op in zip(sel_cols, ops, strict=True):
        rows[col] = np.asarray(selections[op], int)
    agg = rows.groupby(["g", "y", *sel_cols], sort=True).agg(w=("p", "size"), p=("p", "mean")).reset_index()
    names = np.asarray(groups, dtype=object)
    frame = MetricFrame(
        metrics={"stats": sufficient_statistics}, y_true=agg["y"].to_numpy(), y_pred=agg["p"].to_numpy(),
        sensitive_features=pd.Series(names[agg["g"].to_numpy()], name="group"),
        sample_params={"stats": {"sample_weight": agg["w"].to_numpy(), "n_ops": np.full(len(agg), len(ops)),
                                 "selected": (agg[sel_cols].to_numpy() << np.arange(len(ops))).sum(axis=1)}})
    per_group = {g: _rates(frame.by_group.loc[g, "stats"], ops) for g in groups}
    overall_fixed, overall_at = _rates(frame.overall["stats"], ops)

    auc_agg = rows.groupby(["g", "y", "p"], sort=True).size().rename("w").reset_index()
    if len(auc_agg) <= AUC_METRICFRAME_MAX_ROWS:
        auc = MetricFrame(metrics={"roc_auc": roc_auc}, y_true=auc_agg["y"].to_numpy(),
                          y_pred=auc_agg["p"].to_numpy(),
                          sensitive_features=pd.Series(names[auc_agg["g"].to_numpy()], name="group"),
                          sample_params={"roc_auc": {"sample_weight": auc_agg["w"].to_numpy()}})
        aucs, auc_all = auc.by_group["roc_auc"].to_dict(), float(auc.overall["roc_auc"])
    else:
        yv, pv, ones = rows["y"].to_numpy(), rows["p"].to_numpy(), np.ones(len(rows))
        aucs = {g: roc_auc(yv[codes == i], pv[codes == i], sample_weight=ones[codes == i])
                for i, g in enumerate(groups)}
        auc_all = roc_auc(yv, pv, sample_weight=ones)
    fixed = pd.DataFrame({g: {**per_group[g][0], "roc_auc": aucs[g]} for g in groups}).T.reindex(groups)
    at = {op: pd.DataFrame({g: per_group[g][1][op] for g in groups}).T.reindex(groups) for op in ops}
    return GroupMetrics(attribute=str(labels.name), groups=groups, fixed=fixed, at=at,
                        overall_fixed=pd.Series({**overall_fixed, "roc_auc": auc_all}),
                        overall_at={op: pd.Series(v) for op, v in overall_at.items()})


# --- bootstrap -------------------------------------------------------------------------------------------------
def bootstrap_rates(codes: np.ndarray, n_groups: int, family_codes: np.ndarray, weights: np.ndarray,
                    y: np.ndarray, probability: np.ndarray, selections: dict[str, np.ndarray]
                    ) -> dict[str, dict[str, np.ndarray]]:
    """Every bootstrapped rate per replicate and group: {"fixed" | op: {rate: array (replicates, groups)}}.

    All counts are linear in the family weights, so one sparse product (families x (group, statistic)) per
    attribute gives every replicate at once; no per-replicate Python loop.
    """
    y = y.astype(np.float64)
    stats = [np.ones_like(y), y, probability.astype(np.float64)]
    for sel in selections.values():
        s = sel.astype(np.float64)
        stats += [s, y * s]
    k = len(stats)
    n_rows = len(y)
    rows = np.tile(family_codes, k)
    cols = (np.repeat(np.arange(k), n_rows) + np.tile(codes, k) * k)
    matrix = sparse.csr_matrix((np.concatenate(stats), (rows, cols)), shape=(weights.shape[1], n_groups * k))
    sums = np.asarray((matrix.T @ weights.T).T).reshape(weights.shape[0], n_groups, k)
    n, pos, prob_sum = sums[..., 0], sums[..., 1], sums[..., 2]
    out: dict[str, dict[str, np.ndarray]] = {
        "fixed": {k: f(n, pos, prob_sum) for k, f in FIXED_RATE_FORMULAS.items()}}
    for i, op in enumerate(selections):
        sel, tp = sums[..., 3 + 2 * i], sums[..., 4 + 2 * i]
        fp, fn = sel - tp, pos - tp
        tn = n - pos - fp
        out[op] = {k: f(tp, fp, fn, tn) for k, f in OP_RATE_FORMULAS.items()}
    return out


def percentile_interval(samples: np.ndarray, *, level: float = 0.95, min_valid: float = 0.5
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per-column percentile interval over replicates (NaN where fewer than `min_valid` replicates are defined)."""
    alpha = (1 - level) / 2
    valid = np.isfinite(samples).mean(axis=0) if samples.size else np.zeros(samples.shape[1:])
    with np.errstate(all="ignore"):
        lo = np.nanquantile(np.where(np.isfinite(samples), samples, np.nan), alpha, axis=0) \
            if samples.size else np.full(samples.shape[1:], np.nan)
        hi = np.nanquantile(np.where(np.isfinite(samples), samples, np.nan), 1 - alpha, axis=0) \
            if samples.size else np.full(samples.shape[1:], np.nan)
    lo = np.where(valid >= min_valid, lo, np.nan)
    hi = np.where(valid >= min_valid, hi, np.nan)
    return lo, hi


def flagged(ci_low: float, ci_high: float, band: tuple[float, float]) -> bool:
    """Flag only when the whole interval lies outside the band (below its low end or above its high end)."""
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return False
    return bool(ci_high < band[0] or ci_low > band[1])


def distinct_children(codes: np.ndarray, n_groups: int, child_codes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Distinct children per group among the masked rows (a child repeats across as-of dates)."""
    key = codes[mask].astype(np.int64) * (int(child_codes.max()) + 1 if len(child_codes) else 1) + child_codes[mask]
    unique = np.unique(key)
    return np.bincount(unique // (int(child_codes.max()) + 1 if len(child_codes) else 1), minlength=n_groups)
