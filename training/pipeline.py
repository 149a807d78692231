"""The training pipeline behind `upstream train`: extract -> features -> fit and evaluate -> MLflow run + version."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.config import Config
from core.errors import UpstreamError
from training.fit import TrainingResult, fit_evaluate
from training.splits import dates_needed, horizon_end
from training.tracking import log_training

HISTORY_BEFORE_FIRST_AS_OF_MONTHS = 12


@dataclass(frozen=True)
class TrainOutcome:
    """What `upstream train` reports: the result, where it was logged and how long each stage took."""

    result: TrainingResult
    run_id: str
    version: str | None
    tracking_uri: str
    seconds: dict[str, float]


def training_grid(extract, config: Config, *, extract_date: pd.Timestamp | None = None
                  ) -> list[pd.Timestamp]:
    """The as-of dates training needs: on the features' grid (month ends every `every_months`), ending at the
    last date whose label window the extract fully observes, and just long enough for the train, validation
    and test blocks and the gaps between them. Unlabelled recent dates are not built at all."""
    from features import as_of_grid

    mc = config.model
    horizon, every = config.outcome.horizon_months, config.features.every_months
    extract_date = pd.Timestamp(extract_date if extract_date is not None else extract.last_date).normalize()
    end = (extract_date - pd.DateOffset(months=horizon)).normalize()
    needed = dates_needed(horizon_months=horizon, every_months=every, train_dates=mc.train_dates,
                          validation_dates=mc.validation_dates, test_dates=mc.test_dates)
    start = end - pd.DateOffset(months=every * needed)
    first = pd.to_datetime(extract.events["event_date"]).min()
    if pd.isna(first):
        raise UpstreamError("the extract holds no events; nothing to learn from")
    start = max(start, first + pd.DateOffset(months=HISTORY_BEFORE_FIRST_AS_OF_MONTHS))
    dates = [d for d in as_of_grid(extract, config, start=start, end=end)
             if horizon_end(d, horizon) <= extract_date]
    return dates[-needed:]


def read_truth(directory: Path) -> pd.DataFrame | None:
    """The simulator's ground truth (truth.parquet) if the directory holds one (simulated data only)."""
    path = directory / "truth.parquet"
    if not path.is_file():
        return None
    truth = pd.read_parquet(path, columns=["child_id", "as_of", "p_true"])
    truth["as_of"] = pd.to_datetime(truth["as_of"])
    return truth


def train_from_directory(data_dir: str | Path, config: Config, *, tune: bool = False,
                         tracking_uri: str | None = None, register: bool = True,
                         log: Callable[[str], None] | None = None) -> TrainOutcome:
    """Load and validate the extract in `data_dir` (plus truth.parquet if present), then `train_from_extract`."""
    import features

    directory = Path(data_dir)
    t0 = time.perf_counter()
    extract = features.load_extract(directory, hubs=config.council.hub_names)
    truth = read_truth(directory)
    return train_from_extract(extract, config, truth=truth, tune=tune, tracking_uri=tracking_uri,
                              register=register, log=log, load_seconds=time.perf_counter() - t0)


def train_from_extract(extract, config: Config, *, truth: pd.DataFrame | None = None,
                       tune: bool = False, tracking_uri: str | None = None, register: bool = True,
                       log: Callable[[str], None] | None = None, load_seconds: float = 0.0) -> TrainOutcome:
    """Build point-in-time features over the training grid, train, evaluate and log to MLflow."""
    import features

    say = log or (lambda _msg: None)
    seconds: dict[str, float] = {"load": load_seconds}
    t0 = time.perf_counter()
    fingerprint = extract.fingerprint()
    say(f"extract: {len(extract.children):,} children, {len(extract.events):,} events, "
        f"last date {extract.last_date:%Y-%m-%d}, fingerprint {fingerprint}"
        + ("; simulator truth found (oracle metrics on)" if truth is not None else ""))

    t1 = time.perf_counter()
    dates = training_grid(extract, config)
    table = features.build_features(extract, dates, config)
    seconds["features"] = time.perf_counter() - t1
    say(f"features: {len(table):,} rows x {len(features.feature_columns(config))} inputs over {len(dates)} "
        f"as-of dates {dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d} ({seconds['features']:.0f}s)")

    t2 = time.perf_counter()
    result = fit_evaluate(table, config, truth=truth, extract_date=extract.last_date, tune=tune, log=say)
    seconds["train"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    say("logging to MLflow (metrics, plots, predictions, model)")
    logged = log_training(result, table_sample=table.head(1000), fingerprint=fingerprint, tune=tune,
                          tracking_uri=tracking_uri, register=register)
    seconds["mlflow"] = time.perf_counter() - t3
    seconds["total"] = load_seconds + time.perf_counter() - t0
    return TrainOutcome(result=result, run_id=str(logged["run_id"]), version=logged["version"],
                        tracking_uri=str(logged["tracking_uri"]), seconds=seconds)


def summary(outcome: TrainOutcome) -> str:
    """A few lines for the terminal: split, headline test metrics against baselines and oracle, where logged."""
    r = outcome.result
    test = r.metrics["test"]
    lines = [f"split: {r.split.describe()}",
             f"rows: train {r.rows['train']:,}, validation {r.rows['validation']:,}, test {r.rows['test']:,}; "
             f"imbalance: {r.imbalance}; LightGBM rounds: {r.model.best_iteration_}",
             f"{'test':10s} {'PR-AUC':>8s} {'ROC-AUC':>8s} {'Brier':>8s} {'ECE':>8s} {'P@cap':>8s} {'P@2%':>8s}"]
    for name, m in test.items():
        o = m["overall"]
        lines.append(f"{name:10s} {o['pr_auc']:8.4f} {o['roc_auc']:8.4f} {o.get('brier', float('nan')):8.4f} "
                     f"{o.get('ece', float('nan')):8.4f} {o['precision_at_capacity']:8.4f} "
                     f"{o['precision_at_top2pct']:8.4f}")
    head = r.headline()
    lines.append(f"PR-AUC model / logistic: {head['pr_auc_ratio_vs_logistic']:.3f} (target >= 1.15)")
    if "expected_precision_ratio_at_top2pct" in head:
        lines.append(f"expected precision@top-2% model / oracle: {head['expected_precision_ratio_at_top2pct']:.3f} "
                     "(target >= 0.85)")
    lines.append("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in outcome.seconds.items()))
    where = f"run {outcome.run_id} in {outcome.tracking_uri}"
    if outcome.version:
        where += f"; registered {r.config.model.registered_name} version {outcome.version} (alias challenger)"
    lines.append(where)
    return "\n".join(lines)
