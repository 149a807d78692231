"""The training pipeline behind `upstream train`: extract -> features -> fit and evaluate -> MLflow run + version."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import Config
from core.errors import UpstreamError
from training.fit import TrainingResult, fit_evaluate, input_columns
from training.splits import dates_needed, horizon_end
from training.tracking import log_training

HISTORY_BEFORE_FIRST_AS_OF_MONTHS = 12


def history_start(extract, config: Config) -> pd.Timestamp:
    """The first date the extract's records cover: `model.records_start` if set, else the earliest *point* event
    (contacts, referrals, partner records...). Episodes are left out: a plan or period in care migrated from an
    older system keeps its real start date (years before the records begin) and would defeat the guard."""
    from core.contract import EPISODE_EVENT_TYPES

    if config.model.records_start is not None:
        return pd.Timestamp(config.model.records_start)
    events = extract.events
    point = events.loc[~events["event_type"].isin(EPISODE_EVENT_TYPES), "event_date"]
    first = pd.to_datetime(point).min()
    if pd.isna(first):
        first = pd.to_datetime(events["event_date"]).min()
    if pd.isna(first):
        raise UpstreamError("the extract holds no events; nothing to learn from")
    return pd.Timestamp(first).normalize()


@dataclass(frozen=True)
class TrainOutcome:
    """What `upstream train` reports: the result, where it was logged and how long each stage took."""

    result: TrainingResult
    run_id: str
    version: str | None
    tracking_uri: str
    seconds: dict[str, float]
    # a region: per council, pooled and own-model test figures and the verdict (training.councils); else None
    councils: pd.DataFrame | None = None


def training_grid(extract, config: Config, *, extract_date: pd.Timestamp | None = None
                  ) -> list[pd.Timestamp]:
    """The as-of dates training needs: on the features' grid (month ends every `every_months`), ending at the
    last date whose label window the extract fully observes, and just long enough for the train, validation
    and test blocks and the gaps between them, and never earlier than `HISTORY_BEFORE_FIRST_AS_OF_MONTHS` after
    the start of the records (`history_start`), nor before the `earliest_as_of` its source notes (`extract.json`,
    written by `upstream import`). Unlabelled recent dates are not built at all."""
    from features import as_of_grid

    mc = config.model
    horizon, every = config.outcome.horizon_months, config.features.every_months
    extract_date = pd.Timestamp(extract_date if extract_date is not None else extract.last_date).normalize()
    end = (extract_date - pd.DateOffset(months=horizon)).normalize()
    needed = dates_needed(horizon_months=horizon, every_months=every, train_dates=mc.train_dates,
                          validation_dates=mc.validation_dates, test_dates=mc.test_dates)
    start = end - pd.DateOffset(months=every * needed)
    start = max(start, history_start(extract, config) + pd.DateOffset(months=HISTORY_BEFORE_FIRST_AS_OF_MONTHS))
    source_floor = getattr(extract, "earliest_as_of", None)  # what the source says its records support
    if source_floor is not None:
        start = max(start, source_floor)
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
                         log: Callable[[str], None] | None = None, scenario: str | None = None,
                         client: Any = None) -> TrainOutcome:
    """Load and validate the extract in `data_dir` (plus truth.parquet if present), then `train_from_extract`."""
    import features

    directory = Path(data_dir)
    t0 = time.perf_counter()
    extract = features.load_extract(directory, hubs=config.contract_hubs)
    truth = read_truth(directory)
    return train_from_extract(extract, config, truth=truth, tune=tune, tracking_uri=tracking_uri,
                              register=register, log=log, load_seconds=time.perf_counter() - t0, scenario=scenario,
                              client=client)


def train_from_extract(extract, config: Config, *, truth: pd.DataFrame | None = None,
                       tune: bool = False, tracking_uri: str | None = None, register: bool = True,
                       log: Callable[[str], None] | None = None, load_seconds: float = 0.0,
                       scenario: str | None = None, client: Any = None) -> TrainOutcome:
    """Build point-in-time features over the training grid, train, evaluate and log to MLflow.

    With a Dask `client` the features are built and the model trained on its cluster
    (`training.distributed.train_on_cluster`); the result is logged and registered the same way.

    With a `scenario` (config `data_sharing.scenarios`) only the event types its agreements provide are used;
    the version is tagged with the scenario and the partner feeds it was trained on (`feeds`), which scoring
    checks and applies."""
    import features
    from features.scenario import feeds_present, restrict

    say = log or (lambda _msg: None)
    last = extract.last_date  # the extract's date, whatever the scenario leaves out
    if scenario is not None:
        extract = restrict(extract, config, scenario)
    feeds = feeds_present(extract)
    say(f"scenario: {scenario or 'all (no --scenario)'}; partner feeds used: {', '.join(feeds) or 'none'}")
    seconds: dict[str, float] = {"load": load_seconds}
    t0 = time.perf_counter()
    fingerprint = extract.fingerprint()
    say(f"extract: {len(extract.children):,} children, {len(extract.events):,} events, "
        f"last date {last:%Y-%m-%d}, fingerprint {fingerprint}"
        + ("; simulator truth found (oracle metrics on)" if truth is not None else ""))

    t1 = time.perf_counter()
    dates = training_grid(extract, config, extract_date=last)
    if client is not None:
        from training.distributed import train_on_cluster

        if tune:
            raise UpstreamError("--tune runs in one process only; drop --cluster/--workers to tune")
        result, table_sample, seconds["features"], own = train_on_cluster(
            extract, dates, config, client=client, truth=truth, extract_date=last, log=say)
        seconds["train"] = time.perf_counter() - t1 - seconds["features"]
        return _log(result, extract, config, table_sample=table_sample, fingerprint=fingerprint, tune=tune,
                    tracking_uri=tracking_uri, register=register, scenario=scenario, feeds=feeds, seconds=seconds,
                    t0=t0, say=say, own=own)
    table = features.build_features(extract, dates, config, extract_date=last)
    seconds["features"] = time.perf_counter() - t1
    n_inputs = len(input_columns(list(features.feature_columns(config)), config))
    say(f"features: {len(table):,} rows x {n_inputs} model inputs over {len(dates)} "
        f"as-of dates {dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d} ({seconds['features']:.0f}s)")

    # A region (two or more councils): each council's own model first, while the table is alive; one council does
    # no per-council work at all.
    from training.councils import councils_in

    own = None
    if councils_in(table):
        from training.councils import fit_own_models

        t_own = time.perf_counter()
        say(f"region of {len(councils_in(table))} councils: each council's own model, then the pooled model")
        own = fit_own_models(table, config, truth=truth, extract_date=last, log=say)
        seconds["own_models"] = time.perf_counter() - t_own

    t2 = time.perf_counter()
    # Memory: fit_evaluate copies what it needs out of the table into per-block matrices; handing it the only
    # reference lets the full table be freed before LightGBM and the baselines run (docs/scale.md).
    table_sample = table.head(1000).copy()
    handover = [table]
    del table
    result = fit_evaluate(handover.pop(), config, truth=truth, extract_date=last, tune=tune, log=say)
    seconds["train"] = time.perf_counter() - t2

    return _log(result, extract, config, table_sample=table_sample, fingerprint=fingerprint, tune=tune,
                tracking_uri=tracking_uri, register=register, scenario=scenario, feeds=feeds, seconds=seconds, t0=t0,
                say=say, own=own)


def _log(result: TrainingResult, extract, config: Config, *, table_sample: pd.DataFrame, fingerprint: str,
         tune: bool, tracking_uri: str | None, register: bool, scenario: str | None, feeds: list[str],
         seconds: dict[str, float], t0: float, say: Callable[[str], None], own: dict | None = None
         ) -> TrainOutcome:
    """The MLflow run, the registered version and the monitoring reference of a training result (and a region's
    per-council table, from the councils' `own` models)."""
    load_seconds = seconds["load"]
    t3 = time.perf_counter()
    say("logging to MLflow (metrics, plots, predictions, model)")
    logged = log_training(result, table_sample=table_sample, fingerprint=fingerprint, tune=tune,
                          tracking_uri=tracking_uri, register=register,
                          extra_tags={"scenario": scenario or "all", "feeds": ",".join(feeds)})
    # The monitoring reference (aggregates only) beside the model: what `upstream monitor` compares against.
    from training.reference import log_reference, reference_from_training

    log_reference(str(logged["run_id"]), reference_from_training(extract, result), tracking_uri=tracking_uri)
    per_council = None
    if own is not None:
        from training.councils import council_table, log_council_table

        per_council = council_table(result, own, config)
        log_council_table(str(logged["run_id"]), per_council, small_cell=config.fairness.small_cell_threshold,
                          tracking_uri=tracking_uri)
    seconds["mlflow"] = time.perf_counter() - t3
    seconds["total"] = load_seconds + time.perf_counter() - t0
    return TrainOutcome(result=result, run_id=str(logged["run_id"]), version=logged["version"],
                        tracking_uri=str(logged["tracking_uri"]), seconds=seconds, councils=per_council)


def _ci(o: dict, key: str, fmt: str = "{:.3f}") -> str:
    value = o.get(key, float("nan"))
    lo, hi = o.get(f"{key}_ci_low"), o.get(f"{key}_ci_high")
    text = fmt.format(value)
    if lo is not None and hi is not None:
        text += f" ({fmt.format(lo)} to {fmt.format(hi)})"
    return text


def summary(outcome: TrainOutcome) -> str:
    """A few lines for the terminal: split, headline test metrics with 95% family-bootstrap intervals against
    the baselines and the oracle, the paired comparisons, the deployment refit and where it was logged."""
    r = outcome.result
    test = r.metrics["test"]
    model = test["model"]["overall"]
    lines = [f"split: {r.split.describe()}",
             f"rows: train {r.rows['train']:,}, validation {r.rows['validation']:,}, test {r.rows['test']:,} "
             f"({int(model['n_positive']):,} positive rows from {int(model.get('n_entrants', 0)):,} distinct "
             f"entrants); imbalance: {r.imbalance}; LightGBM rounds: {r.model.best_iteration_}",
             "test, 95% family-bootstrap intervals; 'list' = the children of the families the hub lists list",
             f"{'':10s} {'PR-AUC':>21s} {'ROC-AUC':>21s} {'precision@list':>21s} {'recall@list':>21s}"]
    for name, m in test.items():
        o = m["overall"]
        lines.append(f"{name:10s} {_ci(o, 'pr_auc'):>21s} {_ci(o, 'roc_auc'):>21s} "
                     f"{_ci(o, 'precision_at_list'):>21s} {_ci(o, 'recall_at_list'):>21s}")
    lines.append(f"list: {int(model.get('n_entrants_selected_at_list', 0)):,} of "
                 f"{int(model.get('n_entrants', 0)):,} entrants flagged; recall among not previously known "
                 f"{_ci(model, 'recall_not_known_at_list')}; predicted / observed among listed children "
                 f"{_ci(model, 'calibration_ratio_at_list', '{:.2f}')}"
                 + (f", / p_true {_ci(model, 'calibration_true_ratio_at_list', '{:.2f}')}"
                    if "calibration_true_ratio_at_list" in model else ""))
    for other, diff in test["model"].get("paired", {}).items():
        if "pr_auc_diff" in diff:
            lines.append(f"model - {other}: PR-AUC {_ci(diff, 'pr_auc_diff', '{:+.4f}')}, "
                         f"recall@list {_ci(diff, 'recall_at_list_diff', '{:+.3f}')} (paired)")
    lines.append(f"strongest baseline: {r.strongest_baseline()}")
    for key in ("expected_precision_ratio_at_list", "expected_precision_ratio_at_top2pct"):
        if key in model:
            lines.append(f"{key.replace('_', ' ')} (model / oracle): {_ci(model, key)}")
    fam = test["model"].get("family")
    if fam:
        lines.append(f"family level: calibrated risk / observed {fam['calibrated_ratio']:.2f} (listed "
                     f"{_ci(fam, 'calibrated_ratio_at_list', '{:.2f}')}); 1 - prod(1 - p) "
                     f"{fam['independence_ratio']:.2f}; highest child {fam['highest_child_ratio']:.2f}")
    if r.deployment is not None:
        d = r.deployment
        lines.append(f"deployment refit: {d.rows['fit']:,} rows over {d.dates[0]:%Y-%m-%d}..{d.dates[-1]:%Y-%m-%d}, "
                     f"calibrated on {d.rows['calibration']:,} held-out rows; it serves with the figures above")
    if outcome.councils is not None:
        from training.councils import council_summary

        lines.append(council_summary(outcome.councils))
    lines.append("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in outcome.seconds.items()))
    where = f"run {outcome.run_id} in {outcome.tracking_uri}"
    if outcome.version:
        what = "the deployment refit" if r.deployment is not None else "the evaluated model"
        where += (f"; registered {r.config.model.registered_name} version {outcome.version} ({what}, "
                  "alias challenger)")
    lines.append(where)
    return "\n".join(lines)
