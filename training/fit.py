"""Fit and evaluate: split by time, fit LightGBM + calibrator + baselines, score validation and test honestly."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.config import Config
from core.errors import UpstreamError
from features.columns import AUDIT_COLUMNS, KEY_COLUMNS
from training.baselines import LogisticBaseline, ReferralRule
from training.calibration import MarginCalibrator
from training.lgbm import LGBMRiskModel, base_params, choose_imbalance, imbalance_params
from training.metrics import Scores, evaluate
from training.model import RiskModel
from training.splits import TemporalSplit, labelled_dates, temporal_split

# The oracle is evaluated when the simulator's truth covers at least this share of a block's rows.
TRUTH_COVERAGE = 0.99


@dataclass
class TrainingResult:
    """Everything one training produced: fitted models, the split, metrics per split and predictions."""

    config: Config
    feature_names: list[str]
    split: TemporalSplit
    params: dict[str, Any]
    imbalance: str
    imbalance_scores: dict[str, float]
    model: LGBMRiskModel
    calibrator: MarginCalibrator
    logistic: LogisticBaseline
    rule: ReferralRule
    metrics: dict[str, dict]
    predictions: dict[str, pd.DataFrame]
    rows: dict[str, int]
    tuning: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    has_truth: bool = False
    test_features: pd.DataFrame | None = None

    def risk_model(self) -> RiskModel:
        """The fitted booster and calibrator as the one model class that is logged, loaded and scored.

        Returns
        -------
        RiskModel
            Cut at the early-stopped best round; no registry provenance yet.
        """
        return RiskModel(booster=self.model.booster_, calibrator=self.calibrator,
                         feature_names=list(self.feature_names), num_iteration=self.model.best_iteration_)

    def headline(self) -> dict[str, float]:
        """The figures people ask for first (test block)."""
        test = self.metrics["test"]
        out = {f"{name}_pr_auc": test[name]["overall"]["pr_auc"] for name in test}
        out["model_roc_auc"] = test["model"]["overall"]["roc_auc"]
        out["model_ece"] = test["model"]["overall"]["ece"]
        out["model_precision_at_capacity"] = test["model"]["overall"]["precision_at_capacity"]
        out["pr_auc_ratio_vs_logistic"] = out["model_pr_auc"] / out["logistic_pr_auc"]
        ratio = test["model"]["overall"].get("expected_precision_ratio_at_top2pct")
        if ratio is not None:
            out["expected_precision_ratio_at_top2pct"] = ratio
        return out


def _check_columns(table: pd.DataFrame, feature_names: list[str]) -> None:
    missing = [c for c in (*KEY_COLUMNS, "label", "hub", *feature_names) if c not in table.columns]
    if missing:
        raise UpstreamError(f"the feature table lacks column(s): {', '.join(missing)}")
    non_numeric = [c for c in feature_names if not pd.api.types.is_numeric_dtype(table[c])
                   or isinstance(table[c].dtype, pd.CategoricalDtype)]
    if non_numeric:
        raise UpstreamError(f"model inputs must be numeric; not numeric: {', '.join(non_numeric)}")


def feature_matrix(table: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    """The model inputs as float32, as the features are built (nullable integers become NaN), in order."""
    return pd.DataFrame({c: pd.to_numeric(table[c], errors="coerce").astype("float32") for c in feature_names},
                        index=table.index)


def attach_truth(table: pd.DataFrame, truth: pd.DataFrame | None) -> pd.DataFrame:
    """Add `p_true` by (child_id, as_of) where the simulator's truth knows it."""
    if truth is None or truth.empty:
        return table
    t = truth[["child_id", "as_of", "p_true"]].copy()
    t["as_of"] = pd.to_datetime(t["as_of"])
    return table.merge(t.drop_duplicates(["child_id", "as_of"]), on=["child_id", "as_of"], how="left")


def fit_evaluate(table: pd.DataFrame, config: Config, *, feature_names: list[str] | None = None,
                 truth: pd.DataFrame | None = None, extract_date: pd.Timestamp | None = None,
                 tune: bool = False, log: Callable[[str], None] | None = None) -> TrainingResult:
    """Train LightGBM (plus calibrator and baselines) on the train block and evaluate on validation and test.

    Rows with a missing label are never used. The test block is used only for the final evaluation.
    """
    say = log or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if feature_names is None:
        import features

        feature_names = list(features.feature_columns(config))
    _check_columns(table, feature_names)
    mc = config.model
    horizon = config.outcome.horizon_months

    labelled = table.loc[table["label"].notna()].copy()
    if labelled.empty:
        raise UpstreamError("no labelled rows: every label window runs past the extract date")
    labelled["as_of"] = pd.to_datetime(labelled["as_of"])
    split = temporal_split(labelled_dates(labelled, horizon_months=horizon, extract_date=extract_date),
                           horizon_months=horizon, validation_dates=mc.validation_dates,
                           test_dates=mc.test_dates, train_dates=mc.train_dates)
    labelled["block"] = split.block_of(labelled["as_of"]).to_numpy()
    labelled = labelled.loc[labelled["block"].notna()]
    labelled = labelled.sort_values(["as_of", "child_id"], kind="stable").reset_index(drop=True)
    labelled = attach_truth(labelled, truth)
    blocks = {name: labelled.loc[labelled["block"] == name].reset_index(drop=True)
              for name in ("train", "validation", "test")}
    for name, frame in blocks.items():
        if frame["label"].astype(int).sum() == 0:
            raise UpstreamError(f"the {name} block ({len(frame):,} rows) has no positive labels; "
                                "the model cannot be trained or evaluated")
    say(f"split: {split.describe()}")
    X = {name: feature_matrix(frame, feature_names) for name, frame in blocks.items()}
    y = {name: frame["label"].astype(int).to_numpy() for name, frame in blocks.items()}
    timings["prepare_seconds"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    imbalance, imbalance_scores = choose_imbalance(mc, X["train"], y["train"], X["validation"], y["validation"])
    say(f"class imbalance: {imbalance} (validation PR-AUC {imbalance_scores})")
    timings["imbalance_seconds"] = time.perf_counter() - t1

    params = base_params(mc, **imbalance_params(imbalance, y["train"]))
    tuning = None
    if tune:
        from training.tune import tune as run_tuning

        t2 = time.perf_counter()
        tuning = run_tuning(mc, X["train"], y["train"], X["validation"], y["validation"],
                            extra_params=imbalance_params(imbalance, y["train"]))
        params.update(tuning["best_params"])
        params["bagging_freq"] = 1 if params["bagging_fraction"] < 1.0 else 0
        timings["tune_seconds"] = time.perf_counter() - t2
        say(f"tuning: {tuning['n_trials']} trials, best validation PR-AUC {tuning['best_value']:.4f}")

    t3 = time.perf_counter()
    model = LGBMRiskModel(params, num_boost_round=mc.num_boost_round,
                         early_stopping_rounds=mc.early_stopping_rounds
                         ).fit(X["train"], y["train"], X_val=X["validation"], y_val=y["validation"])
    timings["lightgbm_seconds"] = time.perf_counter() - t3
    say(f"LightGBM: {model.best_iteration_} rounds, validation PR-AUC {model.validation_pr_auc_:.4f}")

    margins = {name: model.predict_margin(X[name]) for name in blocks}
    calibrator = MarginCalibrator(mc.calibration).fit(margins["validation"], y["validation"])
    # the margins come from the fitted trees as they are (float32 inputs, no float64 copy of a large table);
    # margin -> probability is the model's own `calibrate`, the one used when it is logged, loaded and scored
    calibrate = RiskModel(booster=model.booster_, calibrator=calibrator, feature_names=list(feature_names),
                          num_iteration=model.best_iteration_).calibrate

    t4 = time.perf_counter()
    logistic = LogisticBaseline().fit(X["train"], y["train"])
    rule = ReferralRule().fit(X["train"])
    timings["baselines_seconds"] = time.perf_counter() - t4

    capacities = {h.name: h.capacity for h in config.council.hubs}
    metrics: dict[str, dict] = {}
    predictions: dict[str, pd.DataFrame] = {}
    has_truth = "p_true" in labelled.columns
    t5 = time.perf_counter()
    for name in ("validation", "test"):
        frame = blocks[name]
        prob = calibrate(margins[name])
        logit = logistic.predict_proba(X[name])
        rule_score = rule.score(X[name])
        scorers = {"model": Scores(prob, prob, tiebreak=margins[name]),
                   "logistic": Scores(logit, logit),
                   "rule": Scores(rule_score)}
        p_true = None
        if has_truth:
            known = frame["p_true"].notna().to_numpy()
            if known.mean() >= TRUTH_COVERAGE:
                # the oracle needs p_true on every row it ranks; a sliver of rows the simulator's truth does not
                # cover is left out of this block's evaluation (for every scorer alike) and counted
                if not known.all():
                    say(f"{name}: {int((~known).sum())} rows without p_true left out of the evaluation")
                    frame = frame.loc[known].reset_index(drop=True)
                    scorers = {k: Scores(v.score[known], None if v.probability is None else v.probability[known],
                                         None if v.tiebreak is None else v.tiebreak[known])
                               for k, v in scorers.items()}
                p_true = frame["p_true"].to_numpy(float)
                scorers["oracle"] = Scores(p_true, p_true)
        metrics[name] = evaluate(frame, scorers, capacities=capacities, p_true=p_true)
        metrics[name]["model"]["overall"]["rows_without_truth"] = float(len(blocks[name]) - len(frame))
        frame = blocks[name]
        pred = frame[[c for c in (*KEY_COLUMNS, "label") if c in frame]].copy()
        pred["probability"] = prob
        pred["margin"] = margins[name]
        pred["logistic"] = logit
        pred["rule"] = rule_score
        if has_truth:
            pred["p_true"] = frame["p_true"].to_numpy(float)
        for col in AUDIT_COLUMNS:
            if col in frame:
                pred[col] = frame[col].to_numpy()
        predictions[name] = pred
    train_prob = calibrate(margins["train"])
    metrics["train"] = {"model": {"overall": {
        k: v for k, v in evaluate(blocks["train"], {"model": Scores(train_prob, train_prob, margins["train"])},
                                  capacities=capacities, breakdowns=())["model"]["overall"].items()
        if k in ("n_rows", "n_positive", "roc_auc", "pr_auc", "brier", "ece")}}}
    timings["evaluate_seconds"] = time.perf_counter() - t5
    timings["total_seconds"] = time.perf_counter() - t0

    return TrainingResult(
        config=config, feature_names=list(feature_names), split=split, params=params, imbalance=imbalance,
        imbalance_scores=imbalance_scores, model=model, calibrator=calibrator, logistic=logistic, rule=rule,
        metrics=metrics, predictions=predictions, rows={k: len(v) for k, v in blocks.items()}, tuning=tuning,
        timings=timings, has_truth=has_truth, test_features=X["test"])
