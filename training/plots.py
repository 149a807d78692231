"""Evaluation plots (PNG): precision-recall curves, reliability diagram, precision@k curve, SHAP and importance."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve

from core.io import atomic_path
from training.metrics import Scores, reliability_bins, select_share

COLOURS = {"model": "#1b6ca8", "logistic": "#e07b39", "rule": "#7a7a7a", "oracle": "#2a9d55"}


def _save(fig: plt.Figure, target: Path) -> Path:
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return target


def _score_columns(pred: pd.DataFrame) -> dict[str, str]:
    cols = {"model": "probability", "logistic": "logistic", "rule": "rule"}
    if "p_true" in pred and pred["p_true"].notna().all():
        cols["oracle"] = "p_true"
    return cols


def pr_curves(pred: pd.DataFrame, target: Path) -> Path:
    y = pred["label"].astype(int).to_numpy()
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, col in _score_columns(pred).items():
        score = pred["margin"].to_numpy() if name == "model" else pred[col].to_numpy()
        precision, recall, _ = precision_recall_curve(y, score)
        ax.plot(recall, precision, label=f"{name} (PR-AUC {average_precision_score(y, score):.3f})",
                color=COLOURS[name], lw=1.5)
    ax.axhline(y.mean(), color="black", ls=":", lw=1, label=f"base rate {y.mean():.3%}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test period", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, target)


def reliability(pred: pd.DataFrame, target: Path, *, n_bins: int = 10) -> Path:
    y = pred["label"].astype(int).to_numpy()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for name, col in (("model", "probability"), ("logistic", "logistic"), ("oracle", "p_true")):
        if col not in pred or pred[col].isna().any():
            continue
        bins = reliability_bins(y, pred[col].to_numpy(), n_bins=n_bins)
        top = max(top, bins["predicted"].max(), bins["observed"].max())
        ax.plot(bins["predicted"], bins["observed"], "o-", color=COLOURS[name], label=name, ms=4)
    top = top * 1.05 or 1.0
    ax.plot([0, top], [0, top], "k:", lw=1, label="perfect")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate",
           title=f"Reliability, test period ({n_bins} equal-mass bins)", xlim=(0, top), ylim=(0, top))
    ax.legend(fontsize=8)
    return _save(fig, target)


def precision_at_k(pred: pd.DataFrame, target: Path) -> Path:
    y = pred["label"].astype(int).to_numpy()
    shares = np.array([0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2])
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, col in _score_columns(pred).items():
        scores = Scores(pred[col].to_numpy(float), tiebreak=pred["margin"].to_numpy() if name == "model" else None)
        values = []
        for q in shares:
            sel = select_share(pred, scores, q)
            values.append(y[sel].mean() if sel.any() else np.nan)
        ax.plot(shares * 100, values, "o-", color=COLOURS[name], label=name, ms=3)
    ax.set(xlabel="top % of each as-of date's cohort", ylabel="precision (pooled over test dates)",
           title="Precision at k, test period", xscale="log")
    ax.legend(fontsize=8)
    return _save(fig, target)


def importance(booster, target: Path, *, top: int = 25) -> Path:
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name()).sort_values()
    gain = gain.tail(top)
    fig, ax = plt.subplots(figsize=(6.5, 0.25 * len(gain) + 1.2))
    ax.barh(gain.index, gain.to_numpy() / max(gain.sum(), 1e-12), color=COLOURS["model"])
    ax.set(xlabel="share of total gain (shown features)", title="LightGBM importance (gain)")
    return _save(fig, target)


def shap_beeswarm(model, X: pd.DataFrame, target: Path, *, max_rows: int = 3000,
                  seed: int = 0) -> Path:
    """TreeSHAP (log-odds, `RiskModel.explain`) on a sample of the test period, drawn as a beeswarm.

    Parameters
    ----------
    model : RiskModel
        The model whose explanations are drawn.
    X : DataFrame
        The test period's model inputs.
    target : Path
        The PNG to write.
    max_rows : int
        Sample at most this many rows.
    seed : int
        The sample's random state.

    Returns
    -------
    Path
        `target`.
    """
    import shap

    sample = X.sample(n=min(max_rows, len(X)), random_state=seed) if len(X) > max_rows else X
    values, base_value = model.explain(sample)
    explanation = shap.Explanation(values=values, base_values=np.full(len(sample), base_value),
                                   data=sample.to_numpy(), feature_names=list(sample.columns))
    plt.figure()
    shap.plots.beeswarm(explanation, max_display=20, show=False)
    fig = plt.gcf()
    fig.suptitle("SHAP values (log-odds), test period sample")
    return _save(fig, target)


def all_plots(result, out_dir: Path) -> list[Path]:
    """Write every plot for a training result into `out_dir`."""
    pred = result.predictions["test"]
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        pr_curves(pred, out_dir / "pr_curves.png"),
        reliability(pred, out_dir / "reliability.png"),
        precision_at_k(pred, out_dir / "precision_at_k.png"),
        importance(result.model.booster_, out_dir / "importance.png"),
        shap_beeswarm(result.risk_model(), result.test_features, out_dir / "shap_beeswarm.png",
                      seed=result.config.model.seed),
    ]
