"""Fit and evaluate: split by time, fit LightGBM + calibrator + baselines, score validation and test honestly."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.errors import UpstreamError
from features.columns import AUDIT_COLUMNS, KEY_COLUMNS
from training.baselines import LogisticBaseline, PracticeRule, ReferralRule
from training.bootstrap import FamilyBootstrap, ratio, with_interval
from training.calibration import MarginCalibrator, family_rows
from training.lgbm import LGBMRiskModel, base_params, choose_imbalance, imbalance_params
from training.metrics import Scores, evaluate, reliability_bins, select_list
from training.model import RiskModel
from training.splits import TemporalSplit, labelled_dates, temporal_split

# The oracle is evaluated when the simulator's truth covers at least this share of a block's rows.
TRUTH_COVERAGE = 0.99
BASELINES: tuple[str, ...] = ("logistic", "practice", "rule")


def input_columns(feature_names: list[str], config: Config) -> list[str]:
    """The columns the model sees: every feature, less the `*_ever` counts unless `model.ever_features`."""
    if config.model.ever_features:
        return list(feature_names)
    return [c for c in feature_names if not c.endswith("_ever")]


@dataclass
class DeploymentFit:
    """The version that serves: refit on every labelled date of the evaluation (train..test) with the chosen
    settings and rounds, calibrated on a held-out slice of families; its figures are the evaluation's."""

    model: LGBMRiskModel
    calibrator: MarginCalibrator
    dates: tuple[pd.Timestamp, ...]
    rows: dict[str, int]
    calibration: dict[str, float]


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
    practice: PracticeRule
    metrics: dict[str, dict]
    predictions: dict[str, pd.DataFrame]
    rows: dict[str, int]
    tuning: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    has_truth: bool = False
    test_features: pd.DataFrame | None = None
    deployment: DeploymentFit | None = None

    def risk_model(self) -> RiskModel:
        """The fitted booster and calibrator as the one model class that is logged, loaded and scored.

        Returns
        -------
        RiskModel
            Cut at the early-stopped best round; no registry provenance yet.
        """
        return RiskModel(booster=self.model.booster_, calibrator=self.calibrator,
                         feature_names=list(self.feature_names), num_iteration=self.model.best_iteration_)

    def served_model(self) -> RiskModel:
        """The model that is registered and serves: the deployment refit when there is one, else the evaluated
        model (`risk_model`)."""
        if self.deployment is None:
            return self.risk_model()
        d = self.deployment
        return RiskModel(booster=d.model.booster_, calibrator=d.calibrator, feature_names=list(self.feature_names),
                         num_iteration=d.model.best_iteration_)

    def headline(self) -> dict[str, float]:
        """The figures people ask for first (test block)."""
        test = self.metrics["test"]
        out = {f"{name}_pr_auc": test[name]["overall"]["pr_auc"] for name in test}
        model = test["model"]["overall"]
        out["model_roc_auc"] = model["roc_auc"]
        out["model_ece"] = model["ece"]
        out["model_precision_at_list"] = model["precision_at_list"]
        out["model_recall_at_list"] = model["recall_at_list"]
        out["pr_auc_ratio_vs_logistic"] = out["model_pr_auc"] / out["logistic_pr_auc"]
        for key in ("expected_precision_ratio_at_top2pct", "expected_precision_ratio_at_list"):
            if model.get(key) is not None:
                out[key] = model[key]
        return out

    def strongest_baseline(self) -> str:
        """The baseline with the highest test PR-AUC (the one promotion requires the model to beat)."""
        test = self.metrics["test"]
        return max(BASELINES, key=lambda b: test[b]["overall"]["pr_auc"] if b in test else -1.0)


def split_labelled(labelled: pd.DataFrame, config: Config, extract_date: pd.Timestamp | None) -> TemporalSplit:
    """The temporal split of the labelled rows' as-of dates (`as_of` made datetime in place); none is an error."""
    if labelled.empty:
        raise UpstreamError("no labelled rows: every label window runs past the extract date")
    labelled["as_of"] = pd.to_datetime(labelled["as_of"])
    mc, horizon = config.model, config.outcome.horizon_months
    return temporal_split(labelled_dates(labelled, horizon_months=horizon, extract_date=extract_date),
                          horizon_months=horizon, validation_dates=mc.validation_dates,
                          test_dates=mc.test_dates, train_dates=mc.train_dates)


def check_columns(table: pd.DataFrame, feature_names: list[str]) -> None:
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


def block_matrix(table: pd.DataFrame, feature_names: list[str], rows: np.ndarray) -> pd.DataFrame:
    """`feature_matrix(table.iloc[rows], feature_names)` with a fresh RangeIndex, built without copying the
    table: one C-ordered float32 array filled column by column (float32 columns as they are, others through
    the same numeric conversion), which LightGBM then reads without a copy of its own."""
    out = np.empty((len(rows), len(feature_names)), dtype=np.float32)
    for j, c in enumerate(feature_names):
        col = table[c]
        if col.dtype == np.float32:
            np.take(col.to_numpy(), rows, out=out[:, j])
        else:
            out[:, j] = pd.to_numeric(col.iloc[rows], errors="coerce").astype("float32").to_numpy()
    return pd.DataFrame(out, columns=list(feature_names), copy=False)


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

        feature_names = input_columns(list(features.feature_columns(config)), config)
    check_columns(table, feature_names)
    mc = config.model

    # Memory: the feature columns are copied once, straight into one float32 matrix per block (`block_matrix`);
    # the row selection, order and truth join run on the few other columns (docs/scale.md).
    inputs = set(feature_names) - set(AUDIT_COLUMNS)  # deprivation_decile is an input and an audit column
    others = [c for c in table.columns if c not in inputs]
    labelled = table[others].reset_index(drop=True)
    labelled["_row"] = np.arange(len(labelled))
    labelled = labelled.loc[labelled["label"].notna()]
    split = split_labelled(labelled, config, extract_date)
    labelled["block"] = split.block_of(labelled["as_of"]).to_numpy()
    # the deployment refit uses every labelled date from the first train date to the last test date
    refit_rows = labelled.loc[(labelled["as_of"] >= split.train[0]) & (labelled["as_of"] <= split.test[-1])]
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
    X = {name: block_matrix(table, feature_names, frame.pop("_row").to_numpy()) for name, frame in blocks.items()}
    refit = None
    if mc.deployment_refit:  # its rows' inputs are taken now: the table is freed below
        refit_fit, refit_cal = refit_slices(refit_rows, config)
        refit = (refit_fit, refit_cal, block_matrix(table, feature_names, refit_fit["_row"].to_numpy()),
                 block_matrix(table, feature_names, refit_cal["_row"].to_numpy()))
    del table  # the training pipeline hands over its only reference: the full table is freed here
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
    say(f"LightGBM: {model.best_iteration_} rounds, validation PR-AUC {model.validation_pr_auc_:.4f}"
        + (" (monotone constraints on adverse-event counts and recency)" if mc.monotone else ""))

    margins = {name: model.predict_margin(X[name]) for name in blocks}
    calibrator = fit_calibrator(blocks["validation"], margins["validation"], mc.calibration)
    # the margins come from the fitted trees as they are (float32 inputs, no float64 copy of a large table);
    # margin -> probability is the model's own `calibrate`, the one used when it is logged, loaded and scored
    calibrate = RiskModel(booster=model.booster_, calibrator=calibrator, feature_names=list(feature_names),
                          num_iteration=model.best_iteration_).calibrate

    t4 = time.perf_counter()
    logistic = LogisticBaseline().fit(X["train"], y["train"])
    rule = ReferralRule().fit(X["train"])
    practice = PracticeRule().fit(X["train"])
    timings["baselines_seconds"] = time.perf_counter() - t4

    has_truth = "p_true" in labelled.columns
    t5 = time.perf_counter()
    scores = {name: {"margin": margins[name], "logistic": logistic.predict_proba(X[name]),
                     "rule": rule.score(X[name]), "practice": practice.score(X[name])}
              for name in ("validation", "test")}
    metrics, predictions = evaluate_blocks(blocks, scores, calibrate, calibrator, config, has_truth=has_truth,
                                           log=say)
    metrics["train"] = train_metrics(blocks["train"], margins["train"], calibrate, config)
    timings["evaluate_seconds"] = time.perf_counter() - t5

    deployment = None
    if refit is not None:
        t6 = time.perf_counter()
        deployment = refit_for_deployment(*refit, params, rounds=model.best_iteration_, config=config)
        timings["refit_seconds"] = time.perf_counter() - t6
        say(f"deployment refit: {deployment.rows['fit']:,} rows over {len(deployment.dates)} as-of dates "
            f"{deployment.dates[0]:%Y-%m-%d}..{deployment.dates[-1]:%Y-%m-%d}, {model.best_iteration_} rounds; "
            f"calibrated on {deployment.rows['calibration']:,} rows of held-out families")
    timings["total_seconds"] = time.perf_counter() - t0

    return TrainingResult(
        config=config, feature_names=list(feature_names), split=split, params=params, imbalance=imbalance,
        imbalance_scores=imbalance_scores, model=model, calibrator=calibrator, logistic=logistic, rule=rule,
        practice=practice, metrics=metrics, predictions=predictions, rows={k: len(v) for k, v in blocks.items()},
        tuning=tuning, timings=timings, has_truth=has_truth, test_features=X["test"], deployment=deployment)


def fit_calibrator(frame: pd.DataFrame, margin: np.ndarray, method: str) -> MarginCalibrator:
    """Margin -> probability fitted on held-out rows (the validation block, or the refit's held-out families),
    then family level: 1 − ∏(1 − p) -> whether any child of the family entered care."""
    calibrator = MarginCalibrator(method).fit(margin, frame["label"].astype(int).to_numpy())
    fam = family_rows(frame, calibrator.transform(margin))
    calibrator.fit_family(fam["family_score"].to_numpy(), fam["label"].to_numpy())
    return calibrator


def evaluate_blocks(blocks: dict[str, pd.DataFrame], scores: dict[str, dict[str, np.ndarray]],
                    calibrate: Callable[[np.ndarray], np.ndarray], calibrator: MarginCalibrator, config: Config, *,
                    has_truth: bool, log: Callable[[str], None] | None = None
                    ) -> tuple[dict[str, dict], dict[str, pd.DataFrame]]:
    """Metrics with family-bootstrap intervals and the predictions table of the validation and test blocks.

    Parameters
    ----------
    blocks : {"validation": frame, "test": frame}, rows in (as_of, child_id) order: keys, label, hub, audit
        columns and `p_true` when `has_truth`; no feature columns are needed.
    scores : per block, one value per row: the model's raw `margin` and the baselines' `logistic`, `rule` and
        `practice` scores (however they were computed: in this process or by partition on a cluster).
    calibrate : margin -> calibrated probability (the model's own).
    calibrator : for the family-level reliability.
    """
    say = log or (lambda _msg: None)
    mc = config.model
    capacities = config.list_capacities()  # per hub, or per (council, hub) in a region
    threshold = config.serving.list_probability_threshold
    metrics: dict[str, dict] = {}
    predictions: dict[str, pd.DataFrame] = {}
    for name in ("validation", "test"):
        frame = blocks[name]
        margin = scores[name]["margin"]
        prob = calibrate(margin)
        logit, rule_score, practice_score = (scores[name][k] for k in ("logistic", "rule", "practice"))
        scorers = {"model": Scores(prob, prob, tiebreak=margin),
                   "logistic": Scores(logit, logit),
                   "practice": Scores(practice_score),
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
        boot = FamilyBootstrap(frame["family_id"], replicates=mc.bootstrap_replicates, seed=mc.seed)
        metrics[name] = evaluate(frame, scorers, capacities=capacities, threshold=threshold, p_true=p_true,
                                 bootstrap=boot)
        metrics[name]["model"]["overall"]["rows_without_truth"] = float(len(blocks[name]) - len(frame))
        metrics[name]["model"]["family"] = family_reliability(frame, scorers["model"].probability, calibrator,
                                                              capacities=capacities, threshold=threshold,
                                                              replicates=mc.bootstrap_replicates, seed=mc.seed)
        frame = blocks[name]
        pred = frame[[c for c in (*KEY_COLUMNS, COUNCIL_COLUMN, "label") if c in frame]].copy()
        pred["probability"] = prob
        pred["margin"] = margin
        pred["logistic"] = logit
        pred["practice"] = practice_score
        pred["rule"] = rule_score
        if has_truth:
            pred["p_true"] = frame["p_true"].to_numpy(float)
        for col in AUDIT_COLUMNS:
            if col in frame:
                pred[col] = frame[col].to_numpy()
        predictions[name] = pred
    return metrics, predictions


def train_metrics(frame: pd.DataFrame, margin: np.ndarray, calibrate: Callable[[np.ndarray], np.ndarray],
                  config: Config) -> dict:
    """The few in-sample figures kept for the train block (to read overfitting against the test block)."""
    capacities = config.list_capacities()
    prob = calibrate(margin)
    overall = evaluate(frame, {"model": Scores(prob, prob, margin)}, capacities=capacities,
                       threshold=config.serving.list_probability_threshold, breakdowns=())["model"]["overall"]
    return {"model": {"overall": {k: v for k, v in overall.items()
                                  if k in ("n_rows", "n_positive", "n_entrants", "roc_auc", "pr_auc", "brier", "ece")}}}


def family_reliability(frame: pd.DataFrame, probability: np.ndarray, calibrator: MarginCalibrator, *,
                       capacities: dict[str, int], threshold: float, replicates: int = 0, seed: int = 0,
                       n_bins: int = 10) -> dict:
    """Family-level reliability: per (as-of date, family), calibrated family risk against whether any child
    entered care; overall, among listed families (with an interval), and for the uncalibrated 1 − ∏(1 − p)
    and the highest child's risk for comparison."""
    fam = family_rows(frame, probability)
    fam["family_risk"] = calibrator.family_transform(fam["family_score"].to_numpy())
    listed_rows = select_list(frame, Scores(probability, probability), capacities, threshold)
    listed = pd.MultiIndex.from_frame(frame.loc[listed_rows, ["as_of", "family_id"]].drop_duplicates())
    fam["listed"] = pd.MultiIndex.from_frame(fam[["as_of", "family_id"]]).isin(listed)
    y = fam["label"].to_numpy(float)
    out: dict = {"n_families": float(len(fam)), "n_families_entering": float(y.sum())}
    for name, col in (("calibrated", "family_risk"), ("independence", "family_score"), ("highest_child", "highest")):
        p = fam[col].to_numpy(float)
        out[f"{name}_ratio"] = float(p.sum() / y.sum()) if y.sum() else float("nan")
        sel = fam["listed"].to_numpy()
        out[f"{name}_ratio_at_list"] = float(p[sel].sum() / y[sel].sum()) if y[sel].sum() else float("nan")
    if replicates:
        fam_boot = FamilyBootstrap(fam["family_id"], replicates=replicates, seed=seed)
        sel = fam["listed"].to_numpy(float)
        sums = fam_boot.sums(np.column_stack([sel * fam["family_risk"].to_numpy(float), sel * y]))
        with_interval(out, "calibrated_ratio_at_list", ratio(sums[:, 0], sums[:, 1]))
    out["bins"] = reliability_bins(y, fam["family_risk"].to_numpy(float), n_bins=n_bins).to_dict(orient="list")
    return out


def family_share(family_id: pd.Series, share: float) -> np.ndarray:
    """True for the rows of a `share` of families, chosen by a hash of the family id: the same families whatever
    the rows' order or partition (a family's children and dates are all on one side)."""
    codes = pd.util.hash_array(family_id.astype(str).to_numpy(), categorize=True)
    return (codes % 10_000) < int(round(share * 10_000))


def refit_slices(rows: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deployment refit's fit and calibration rows: a held-out share of families
    (`model.refit_calibration_share`), chosen by a hash of the family id so a family's children and dates are all
    on one side."""
    rows = rows.sort_values(["as_of", "child_id"], kind="stable").reset_index(drop=True)
    held_out = family_share(rows["family_id"], config.model.refit_calibration_share)
    fit, cal = rows.loc[~held_out].reset_index(drop=True), rows.loc[held_out].reset_index(drop=True)
    if fit["label"].astype(int).sum() == 0 or cal["label"].astype(int).sum() == 0:
        raise UpstreamError("the deployment refit's fit or calibration slice has no positive labels")
    return fit, cal


def refit_for_deployment(fit: pd.DataFrame, cal: pd.DataFrame, X_fit: pd.DataFrame, X_cal: pd.DataFrame,
                         params: dict[str, Any], *, rounds: int, config: Config) -> DeploymentFit:
    """Refit on every labelled date of the evaluation (`refit_slices`) with the chosen settings and rounds;
    calibrate, child and family level, on the held-out families."""
    mc = config.model
    model = LGBMRiskModel(params).fit_rounds(X_fit, fit["label"].astype(int).to_numpy(), rounds=rounds)
    calibrator = fit_calibrator(cal, model.predict_margin(X_cal), mc.calibration)
    y_cal = cal["label"].astype(int).to_numpy()
    dates = tuple(sorted(pd.Timestamp(d) for d in pd.unique(pd.concat([fit["as_of"], cal["as_of"]]))))
    return DeploymentFit(model=model, calibrator=calibrator, dates=dates,
                         rows={"fit": len(fit), "calibration": len(cal)},
                         calibration={"fit_positives": float(fit["label"].astype(int).sum()),
                                      "calibration_positives": float(y_cal.sum())})
