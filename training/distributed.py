"""Training on a Dask cluster: LightGBM's Dask trainer on the feature table left on the workers (partitions of
whole families), the same temporal splits, an early stop found on the validation block, then calibration,
baselines and evaluation from predictions made by partition and collected as one column per row.

What differs from `training.fit.fit_evaluate`, and why:

- **Early stopping.** `lightgbm.dask` (4.7) does not support it: each worker would stop on its own share of the
  validation block, at different rounds, and the workers' collective operations hang (LightGBM issues #3712,
  #4493, #6351, #7009). So the trees are grown for a fixed number of rounds, the validation log-loss of every
  round is computed over the *whole* validation block by partition (the leaf each row falls in, tree by tree),
  and the rule of `lightgbm.early_stopping` (the first metric, log-loss; stop once `early_stopping_rounds` rounds
  pass without a strict improvement; keep the best round) is applied to that curve. LightGBM's trees do not
  depend on how many rounds are asked for (same seed, same data), so the result is what early stopping would
  have chosen on these trees. Rounds start at `max(3 x patience, 200)` (capped at `num_boost_round`) and double
  until the rule stops or the cap is reached.
- **The trees differ slightly** from the single process's: in data-parallel LightGBM each worker finds bin
  boundaries on its own rows and the histograms are merged across workers, so splits (and the chosen round) move
  a little. Metrics agree within sampling noise (`tests/training/test_distributed.py`), not to the last digit.
- **Logistic baseline** on a family sample of the train block of at most `LOGISTIC_MAX_ROWS` rows (all of it
  when smaller, which gives the single process's baseline exactly); it then scores every row by partition.
- **Test features** kept for the plots and the monitoring reference: a family sample of at most
  `TEST_FEATURE_ROWS` rows, indexed by their position among the test predictions.

The client holds, besides the models, one row per validation, test and train row of keys, label, audit columns
and scores (no feature matrix); the feature table and every matrix stay on the workers.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.errors import UpstreamError
from features.columns import AUDIT_COLUMNS
from training.baselines import LogisticBaseline, PracticeRule, ReferralRule
from training.fit import (
    DeploymentFit,
    TrainingResult,
    attach_truth,
    block_matrix,
    check_columns,
    evaluate_blocks,
    family_share,
    fit_calibrator,
    input_columns,
    split_labelled,
    train_metrics,
)
from training.lgbm import (
    IMBALANCE_OPTIONS,
    LGBMRiskModel,
    base_params,
    imbalance_params_for,
    monotone_params,
    pick_imbalance,
    screen_settings,
)
from training.model import RiskModel

LOGISTIC_MAX_ROWS = 300_000
TEST_FEATURE_ROWS = 50_000
LEAF_CHUNK = 50  # trees per pred_leaf call when the validation curve is computed
_EPS = 1e-15  # LightGBM's clip of probabilities in binary_logloss


# --- on the workers: one partition (whole families) at a time -----------------------------------------------
def _selected(part: pd.DataFrame, dates: tuple[pd.Timestamp, ...], held_out: bool | None = None,
              share: float = 0.0, sample: float = 1.0) -> np.ndarray:
    """Which of the partition's rows are labelled rows at `dates`; optionally only (or never) the held-out
    families, or a family sample (both by a hash of the family id, whatever else is selected)."""
    keep = part["label"].notna().to_numpy() & pd.to_datetime(part["as_of"]).isin(dates).to_numpy()
    if held_out is not None:
        keep &= family_share(part["family_id"], share) == held_out
    if sample < 1.0:
        keep &= family_share(part["family_id"], sample)
    return keep


def _rows(part: pd.DataFrame, dates: tuple[pd.Timestamp, ...], held_out: bool | None = None,
          share: float = 0.0, sample: float = 1.0) -> pd.DataFrame:
    """The partition's rows `_selected` picks."""
    return part.loc[_selected(part, dates, held_out, share, sample)]


def _matrix(rows: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    return block_matrix(rows, feature_names, np.arange(len(rows)))


def _local_parts(keys: list) -> Iterator[pd.DataFrame]:
    """The partitions `keys`, one at a time, from this worker's own store (zict 3, thread-safe: a spilled one is
    read back from disk and may be spilled again once passed over). A task given them all as arguments would hold
    every one in memory at once. The trainer runs this on each partition's home worker (`_Cluster.by_worker`),
    where `feature_frame_dask` pinned it."""
    from distributed import get_worker

    data = get_worker().data
    for key in keys:
        if key not in data:
            raise UpstreamError(f"a partition of the training table ({key}) is not on its worker any more (was a "
                                "worker restarted, e.g. over its memory limit?): train again, with more memory per "
                                "worker or more workers")
        yield data[key]


def _train_block(keys: list, sizes: list[int], *, dates, feature_names, held_out=None, share=0.0
                 ) -> tuple[pd.DataFrame, pd.Series]:
    """One worker's rows of a training block, from its partitions (`keys`, `sizes` rows selected in each), read once:
    the inputs as one C-ordered float32 matrix filled partition by partition, and their labels in the same order.
    The matrix is the single part LightGBM's Dask trainer gets from this worker, which it reads without a copy of its
    own (one part per worker: `pd.concat` of one frame and `Dataset` of a contiguous float32 block share its memory),
    so a fit holds one copy of the block beside LightGBM's binned data, and the table's partitions stay spillable."""
    out = np.empty((sum(sizes), len(feature_names)), dtype=np.float32)
    labels = np.empty(sum(sizes), dtype=np.int64)
    at = 0
    for part, n in zip(_local_parts(keys), sizes, strict=True):
        rows = np.flatnonzero(_selected(part, dates, held_out, share))
        out[at:at + n] = block_matrix(part, feature_names, rows).to_numpy()
        labels[at:at + n] = part["label"].to_numpy()[rows]
        at += n
    return pd.DataFrame(out, columns=list(feature_names), copy=False), pd.Series(labels, name="label")


def _count(part: pd.DataFrame, *, dates, held_out=None, share=0.0) -> np.ndarray:
    """[rows, positive labels] of the partition's selected rows."""
    rows = _rows(part, dates, held_out, share)
    return np.array([len(rows), float(rows["label"].sum())])


def _training_part(part: pd.DataFrame, *, dropped: frozenset[str]) -> pd.DataFrame:
    """The partition's labelled rows, without the `dropped` columns."""
    return part.loc[part["label"].notna().to_numpy(), [c for c in part.columns if c not in dropped]]


def training_frame(extract: Any, dates: list[pd.Timestamp], config: Config, *, client: Any,
                   extract_date: pd.Timestamp | None = None) -> Any:
    """The feature table built on the cluster (`features.distributed.feature_frame_dask`), each partition cut on
    its worker, as soon as it is built, to what training reads: the labelled rows (a grid can reach dates whose
    label window is not over) and the model's inputs with the key, label and audit columns (the `*_ever` counts
    that are not inputs are dropped: 219 of the 263 features kept at the default settings). Every step of
    `fit_evaluate_dask` and `own_models_dask` reads the same rows and columns as on the whole table."""
    import features
    from features.distributed import feature_frame_dask

    names = list(features.feature_columns(config))
    dropped = frozenset(set(names) - set(input_columns(names, config)) - set(AUDIT_COLUMNS))
    return feature_frame_dask(extract, dates, config, client=client, extract_date=extract_date,
                              select=functools.partial(_training_part, dropped=dropped))


def _labelled_dates(part: pd.DataFrame) -> pd.DataFrame:
    return part.loc[part["label"].notna(), ["as_of", "label"]].drop_duplicates("as_of")


def _loss_curve(part: pd.DataFrame, *, booster, dates, feature_names) -> np.ndarray:
    """[rows, log-loss sum after round 1, ..., after round R] over the partition's rows at `dates`: each tree's
    output for each row (its leaf's value), accumulated round by round."""
    rounds = booster.current_iteration()
    rows = _rows(part, dates)
    out = np.zeros(rounds + 1)
    out[0] = len(rows)
    if rows.empty:
        return out
    X = _matrix(rows, feature_names).to_numpy()
    y = rows["label"].to_numpy(dtype=float)
    margin = np.zeros(len(rows))
    for start in range(0, rounds, LEAF_CHUNK):
        n = min(LEAF_CHUNK, rounds - start)
        leaves = np.asarray(booster.predict(X, pred_leaf=True, start_iteration=start, num_iteration=n),
                            dtype=np.int64).reshape(len(X), n)
        for j in range(n):
            tree = start + j
            values = np.array([booster.get_leaf_output(tree, leaf) for leaf in range(int(leaves[:, j].max()) + 1)])
            margin += values[leaves[:, j]]
            p = np.clip(1.0 / (1.0 + np.exp(-margin)), _EPS, 1.0 - _EPS)
            out[1 + tree] = -np.sum(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return out


def _scored(part: pd.DataFrame, *, dates, feature_names, carry, booster, num_iteration, baselines=None,
            held_out=None, share=0.0) -> pd.DataFrame:
    """The carried columns (keys, label, audit) and the model's raw margin (plus the baselines' scores) of the
    partition's rows at `dates`."""
    rows = _rows(part, dates, held_out, share)
    out = rows[carry].reset_index(drop=True)
    X = _matrix(rows, feature_names)
    out["margin"] = booster.predict(X, raw_score=True, num_iteration=num_iteration) if len(X) else np.zeros(0)
    if baselines is not None:
        logistic, rule, practice = baselines
        out["logistic"] = logistic.predict_proba(X) if len(X) else np.zeros(0)
        out["rule"] = rule.score(X)
        out["practice"] = practice.score(X)
    return out


def _features_with_keys(part: pd.DataFrame, *, dates, feature_names, sample) -> pd.DataFrame:
    rows = _rows(part, dates, sample=sample)
    out = _matrix(rows, feature_names)
    out["_as_of"] = pd.to_datetime(rows["as_of"]).to_numpy()
    out["_child_id"] = rows["child_id"].astype(str).to_numpy()
    out["_label"] = rows["label"].astype(np.int64).to_numpy()
    return out


def _trim_memory() -> int:
    """Give a worker's freed heap back to the operating system. glibc keeps what a fit's arrays freed, and Dask counts
    it against the worker's memory limit as unmanaged memory (Dask's own recipe for this: `malloc_trim`)."""
    import ctypes

    try:
        return int(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except OSError:  # not glibc: nothing to trim this way
        return 0


# --- the early-stopping rule -----------------------------------------------------------------------------------
def early_stop(curve: np.ndarray, patience: int) -> tuple[int, bool]:
    """`lightgbm.early_stopping`'s rule on a validation loss curve (lower is better, round 1 first).

    Returns
    -------
    best : the best round (1-based): the first round with the lowest loss before the stop.
    stopped : whether the rule stopped within the curve (`patience` rounds without a strict improvement).
    """
    best, best_loss = 0, np.inf
    for i, loss in enumerate(curve):
        if loss < best_loss:
            best, best_loss = i, loss
        elif i - best >= patience:
            return best + 1, True
    return best + 1, False


# --- the trainer -----------------------------------------------------------------------------------------------
class _RanksInAddressOrder:
    """The client LightGBM's Dask trainer is given. Data-parallel LightGBM finds each feature's bins on one rank's own
    rows, so which worker gets which rank changes the trees; `lightgbm.dask` ranks workers in the order `who_has`
    lists its parts, which follows their random key names. Listing them in worker-address order instead, with
    partitions placed on workers in that order (`features.distributed.feature_frame_dask`), gives every run the
    same ranks on the same rows, hence the same model."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def who_has(self, futures: Any = None, **kwargs: Any) -> dict:
        got = self._client.who_has(futures, **kwargs)
        return dict(sorted(got.items(), key=lambda item: (sorted(item[1])[:1], str(item[0]))))


class _Cluster:
    """The feature table's partitions as futures on the workers, and the calls made on them."""

    def __init__(self, table: Any, client: Any) -> None:
        self.client = client
        self.meta: pd.DataFrame = table._meta
        self.parts = client.compute(table.to_delayed())
        self._counts: dict[tuple, np.ndarray] = {}

    def map(self, fn: Callable, **kwargs: Any) -> list:
        # large arguments (a booster, the baselines) go to the workers once, not once per partition
        shipped = {k: (self.client.scatter(v, broadcast=True) if k in ("booster", "baselines") and v is not None
                       else v) for k, v in kwargs.items()}
        return self.client.map(fn, self.parts, pure=False, **shipped)

    def gather(self, fn: Callable, **kwargs: Any) -> list:
        return self.client.gather(self.map(fn, **kwargs))

    def frame(self, fn: Callable, **kwargs: Any) -> pd.DataFrame:
        """The per-partition frames of `fn`, concatenated on the client in (as_of, child_id) order."""
        pieces = [p for p in self.gather(fn, **kwargs) if len(p)]
        if not pieces:
            return pd.DataFrame()
        out = pd.concat(pieces, ignore_index=True)
        return out.sort_values(["as_of", "child_id"], kind="stable").reset_index(drop=True)

    def counts(self, *, dates, held_out=None, share=0.0) -> np.ndarray:
        """[rows, positive labels] of each partition's selected rows (`_count`), one row per partition; computed
        once per selection (every pass reads the partitions, from disk when they are spilled)."""
        key = (tuple(dates), held_out, share)
        if key not in self._counts:
            self._counts[key] = np.array(self.gather(_count, dates=dates, held_out=held_out, share=share))
        return self._counts[key]

    def by_worker(self) -> list[tuple[str, list]]:
        """The table's partitions grouped by their home worker: partition i's is the i-th worker in address order,
        round robin, where `feature_frame_dask` builds it. A rule rather than wherever the scheduler happens to hold
        a partition, so each LightGBM rank trains on the same rows on every run (a partition found elsewhere is
        fetched)."""
        workers = sorted(self.client.nthreads())
        home: dict[str, list] = {}
        for i, part in enumerate(self.parts):
            home.setdefault(workers[i % len(workers)], []).append(part)
        return sorted(home.items(), key=lambda item: item[0])

    def fit(self, params: dict[str, Any], rounds: int, feature_names: list[str], **rows: Any):
        """`DaskLGBMClassifier` for `rounds` rounds on the rows `_selected(**rows)` picks, one part per worker
        (`_train_block`); the local booster."""
        import dask.dataframe as dd
        from lightgbm.dask import DaskLGBMClassifier

        sizes = dict(zip((p.key for p in self.parts), (int(n) for n in self.counts(**rows)[:, 0]), strict=True))
        xs, ys = [], []
        for worker, parts in self.by_worker():
            keys = [p.key for p in parts if sizes[p.key]]
            if not keys:  # a worker with none of the rows takes no part
                continue
            pin = {"workers": [worker], "allow_other_workers": False, "pure": False}
            block = self.client.submit(_train_block, keys, [sizes[k] for k in keys], feature_names=feature_names,
                                       **rows, **pin)
            xs.append(self.client.submit(operator.itemgetter(0), block, **pin))  # the same objects, not copies
            ys.append(self.client.submit(operator.itemgetter(1), block, **pin))
            del block
        meta = pd.DataFrame({c: pd.Series(dtype=np.float32) for c in feature_names})
        train_x = dd.from_delayed(xs, meta=meta, verify_meta=False)
        train_y = dd.from_delayed(ys, meta=pd.Series(dtype=np.int64, name="label"), verify_meta=False)
        p = dict(params)
        p.pop("num_threads", None)  # lightgbm.dask sets each worker's own thread count
        if p.pop("monotone", False):
            p.update(monotone_params(feature_names))
        model = DaskLGBMClassifier(client=_RanksInAddressOrder(self.client), n_estimators=int(rounds), **p)
        # the estimator's own n_jobs=None, which lightgbm.dask replaces anyway, is not worth a warning; its
        # progress prints ("Finding random open ports") go to stderr, not into the command's output
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            model.fit(train_x, train_y)
        del train_x, train_y, xs, ys
        booster = model.to_local().booster_
        self.client.run(_trim_memory)
        return booster

    def fit_early_stopped(self, params: dict[str, Any], *, train_dates, validation_dates, feature_names,
                          max_rounds: int, patience: int) -> tuple[Any, int, np.ndarray]:
        """Grow trees, find the early-stopping round on the whole validation block (`early_stop`), and grow more
        only if the rule has not stopped yet. Returns the booster, the best round and the validation curve."""
        rounds = min(max_rounds, max(3 * patience, 200))
        while True:
            booster = self.fit(params, rounds, feature_names, dates=train_dates)
            sums = np.sum(self.gather(_loss_curve, booster=booster, dates=validation_dates,
                                      feature_names=feature_names), axis=0)
            curve = sums[1:] / max(sums[0], 1.0)
            best, stopped = early_stop(curve, patience)
            grown = booster.current_iteration()
            if stopped or grown < rounds or rounds >= max_rounds:
                return booster, best, curve
            rounds = min(max_rounds, 2 * rounds)


def _fitted(params: dict[str, Any], booster: Any, best: int, feature_names: list[str], curve: np.ndarray,
            pr_auc: float) -> LGBMRiskModel:
    """An `LGBMRiskModel` holding a booster trained on the cluster, cut at `best`."""
    model = LGBMRiskModel(params)
    model.booster_, model.best_iteration_, model.feature_names_ = booster, int(best), list(feature_names)
    model.eval_history_ = {"binary_logloss": [float(x) for x in curve]}
    model.validation_pr_auc_ = pr_auc
    return model


def fit_evaluate_dask(table: Any, config: Config, *, client: Any, truth: pd.DataFrame | None = None,
                      extract_date: pd.Timestamp | None = None, log: Callable[[str], None] | None = None,
                      logistic_max_rows: int = LOGISTIC_MAX_ROWS, test_feature_rows: int = TEST_FEATURE_ROWS
                      ) -> TrainingResult:
    """`fit_evaluate` on a feature table left on a Dask cluster (`training_frame`, or the whole table of
    `features.distributed.feature_frame_dask`).

    Parameters
    ----------
    table : dask.dataframe.DataFrame
        The feature table, partitioned by whole families.
    config : Config
        Splits, LightGBM settings, calibration, hubs.
    client : distributed.Client
        The cluster the table lives on.
    truth : DataFrame or None
        The simulator's truth (oracle metrics), joined on the client.
    extract_date : Timestamp or None
        Only dates whose label window ends by it are used.
    log : callable or None
        Progress lines.
    logistic_max_rows, test_feature_rows : int
        Family samples of the train block for the logistic baseline, and of the test block kept as features.

    Returns
    -------
    TrainingResult
        As the single process's: the booster is the local copy of the Dask model (`to_local`), so the version
        is logged, registered, loaded and scored unchanged.
    """
    import dask

    import features

    say = log or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    mc = config.model
    feature_names = input_columns(list(features.feature_columns(config)), config)
    check_columns(table._meta, feature_names)
    inputs = set(feature_names) - set(AUDIT_COLUMNS)
    all_features = set(features.feature_columns(config))
    carry = [c for c in table.columns if c not in inputs and (c not in all_features or c in AUDIT_COLUMNS)]
    with dask.config.set({"dataframe.convert-string": False}):
        cluster = _Cluster(table, client)
        found = pd.concat(cluster.gather(_labelled_dates), ignore_index=True)
        split = split_labelled(found, config, extract_date)
        say(f"split: {split.describe()}")
        counts = {name: cluster.counts(dates=dates).sum(axis=0)
                  for name, dates in (("train", split.train), ("validation", split.validation), ("test", split.test))}
        for name, (n, pos) in counts.items():
            if pos == 0:
                raise UpstreamError(f"the {name} block ({int(n):,} rows) has no positive labels; "
                                    "the model cannot be trained or evaluated")
        n_train, pos_train = int(counts["train"][0]), float(counts["train"][1])
        timings["prepare_seconds"] = time.perf_counter() - t0

        # the imbalance screen, as `training.lgbm.choose_imbalance`: quick fits, validation PR-AUC
        t1 = time.perf_counter()
        quick_lr, quick_rounds, quick_patience = screen_settings(mc)
        imbalance_scores: dict[str, float] = {}
        for option in IMBALANCE_OPTIONS:
            params = base_params(mc, learning_rate=quick_lr,
                                 **imbalance_params_for(option, n_rows=n_train, n_positive=pos_train))
            booster, best, _ = cluster.fit_early_stopped(
                params, train_dates=split.train, validation_dates=split.validation, feature_names=feature_names,
                max_rounds=quick_rounds, patience=quick_patience)
            val = cluster.frame(_scored, dates=split.validation, feature_names=feature_names,
                                carry=["as_of", "child_id", "label"], booster=booster, num_iteration=best)
            imbalance_scores[option] = float(average_precision_score(val["label"].astype(int), val["margin"]))
        imbalance = pick_imbalance(imbalance_scores)
        say(f"class imbalance: {imbalance} (validation PR-AUC {imbalance_scores})")
        timings["imbalance_seconds"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        params = base_params(mc, **imbalance_params_for(imbalance, n_rows=n_train, n_positive=pos_train))
        booster, best, curve = cluster.fit_early_stopped(
            params, train_dates=split.train, validation_dates=split.validation, feature_names=feature_names,
            max_rounds=mc.num_boost_round, patience=mc.early_stopping_rounds)
        timings["lightgbm_seconds"] = time.perf_counter() - t2

        # baselines: the rules need only the column names; the logistic regression a family sample of the train
        # block (all of it when small), collected in (as_of, child_id) order as the single process fits it
        t3 = time.perf_counter()
        empty = _matrix(table._meta, feature_names)
        rule, practice = ReferralRule().fit(empty), PracticeRule().fit(empty)
        sample = min(1.0, logistic_max_rows / max(n_train, 1))
        train_x = _sorted_features(cluster.gather(_features_with_keys, dates=split.train, feature_names=feature_names,
                                                  sample=sample))
        logistic = LogisticBaseline().fit(train_x[feature_names], train_x["_label"].to_numpy())
        del train_x
        timings["baselines_seconds"] = time.perf_counter() - t3

        t4 = time.perf_counter()
        blocks = {}
        for name, dates in (("validation", split.validation), ("test", split.test)):
            blocks[name] = attach_truth(cluster.frame(_scored, dates=dates, feature_names=feature_names, carry=carry,
                                                      booster=booster, num_iteration=best,
                                                      baselines=(logistic, rule, practice)), truth)
        train_rows = cluster.frame(_scored, dates=split.train, feature_names=feature_names, carry=carry,
                                   booster=booster, num_iteration=best)
        margins = {name: blocks[name].pop("margin").to_numpy() for name in blocks}
        pr_auc = float(average_precision_score(blocks["validation"]["label"].astype(int), margins["validation"]))
        model = _fitted(params, booster, best, feature_names, curve, pr_auc)
        say(f"LightGBM on Dask: {best} rounds (early-stopping rule on the whole validation block), validation "
            f"PR-AUC {pr_auc:.4f}")
        calibrator = fit_calibrator(blocks["validation"], margins["validation"], mc.calibration)
        calibrate = RiskModel(booster=booster, calibrator=calibrator, feature_names=list(feature_names),
                              num_iteration=best).calibrate
        scores = {name: {"margin": margins[name], **{k: blocks[name].pop(k).to_numpy()
                                                     for k in ("logistic", "rule", "practice")}}
                  for name in blocks}
        has_truth = "p_true" in blocks["test"].columns
        metrics, predictions = evaluate_blocks(blocks, scores, calibrate, calibrator, config, has_truth=has_truth,
                                               log=say)
        metrics["train"] = train_metrics(train_rows, train_rows["margin"].to_numpy(), calibrate, config)
        rows = {"train": len(train_rows), **{name: len(frame) for name, frame in blocks.items()}}
        del train_rows
        test_features = _test_features(cluster, predictions["test"], split.test, feature_names,
                                       min(1.0, test_feature_rows / max(len(predictions["test"]), 1)))
        timings["evaluate_seconds"] = time.perf_counter() - t4

        deployment = None
        if mc.deployment_refit:
            t5 = time.perf_counter()
            deployment = _refit(cluster, found, split, params, best, feature_names, carry, config)
            timings["refit_seconds"] = time.perf_counter() - t5
            say(f"deployment refit on Dask: {deployment.rows['fit']:,} rows over {len(deployment.dates)} as-of "
                f"dates, {best} rounds; calibrated on {deployment.rows['calibration']:,} rows of held-out families")
    timings["total_seconds"] = time.perf_counter() - t0
    return TrainingResult(
        config=config, feature_names=list(feature_names), split=split, params=params, imbalance=imbalance,
        imbalance_scores=imbalance_scores, model=model, calibrator=calibrator, logistic=logistic, rule=rule,
        practice=practice, metrics=metrics, predictions=predictions, rows=rows, timings=timings, has_truth=has_truth,
        test_features=test_features, deployment=deployment)


def _sorted_features(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    out = pd.concat([p for p in pieces if len(p)], ignore_index=True)
    return out.sort_values(["_as_of", "_child_id"], kind="stable").reset_index(drop=True)


def _test_features(cluster: _Cluster, test: pd.DataFrame, dates, feature_names: list[str], sample: float
                   ) -> pd.DataFrame:
    """A family sample of the test block's inputs, indexed by each row's position in `test` (the predictions)."""
    got = _sorted_features(cluster.gather(_features_with_keys, dates=dates, feature_names=feature_names,
                                          sample=sample))
    position = pd.Series(np.arange(len(test)),
                         index=pd.MultiIndex.from_arrays([pd.to_datetime(test["as_of"]), test["child_id"].astype(str)]))
    index = position.reindex(pd.MultiIndex.from_arrays([got["_as_of"], got["_child_id"]])).to_numpy()
    return got[feature_names].set_axis(pd.Index(index.astype(np.int64)), axis=0)


def _refit(cluster: _Cluster, found: pd.DataFrame, split, params: dict[str, Any], rounds: int,
           feature_names: list[str], carry: list[str], config: Config) -> DeploymentFit:
    """`training.fit.refit_for_deployment` on the cluster: every labelled date from the first train date to the
    last test date, the held-out families' rows for calibration (`training.fit.family_share`)."""
    share = config.model.refit_calibration_share
    dates = tuple(sorted(d for d in pd.to_datetime(found["as_of"]).unique() if split.train[0] <= d <= split.test[-1]))
    dates = tuple(pd.Timestamp(d) for d in dates)
    fit_counts = cluster.counts(dates=dates, held_out=False, share=share).sum(axis=0)
    booster = cluster.fit(params, rounds, feature_names, dates=dates, held_out=False, share=share)
    cal = cluster.frame(_scored, dates=dates, feature_names=feature_names, carry=carry, booster=booster,
                        num_iteration=None, held_out=True, share=share)
    if fit_counts[1] == 0 or cal["label"].astype(int).sum() == 0:
        raise UpstreamError("the deployment refit's fit or calibration slice has no positive labels")
    calibrator = fit_calibrator(cal, cal["margin"].to_numpy(), config.model.calibration)
    model = _fitted(params, booster, booster.current_iteration(), feature_names, np.zeros(0), float("nan"))
    return DeploymentFit(model=model, calibrator=calibrator, dates=dates,
                         rows={"fit": int(fit_counts[0]), "calibration": len(cal)},
                         calibration={"fit_positives": float(fit_counts[1]),
                                      "calibration_positives": float(cal["label"].astype(int).sum())})



def train_on_cluster(extract: Any, dates: list[pd.Timestamp], config: Config, *, client: Any,
                     truth: pd.DataFrame | None = None, extract_date: pd.Timestamp | None = None,
                     log: Callable[[str], None] | None = None
                     ) -> tuple[TrainingResult, pd.DataFrame, float, dict[str, Any] | None]:
    """What `upstream train --cluster/--workers` runs: the feature table built on the cluster and kept there, cut to
    what training reads (`training_frame`), then `fit_evaluate_dask`.

    Returns
    -------
    result : TrainingResult
    table_sample : DataFrame
        Up to 1,000 rows of the training table (`training_frame`), for the model signature.
    features_seconds : float
        Time to build the feature table on the cluster.
    own : dict or None
        A region's per-council own models (`own_models_dask`), for `training.councils.council_table`.
    """
    import dask
    from distributed import wait

    say = log or (lambda _msg: None)
    t0 = time.perf_counter()
    with dask.config.set({"dataframe.convert-string": False}):
        table = client.persist(training_frame(extract, dates, config, client=client, extract_date=extract_date))
        wait(table)
        seconds = time.perf_counter() - t0
        table_sample = table.get_partition(0).compute().head(1000)
    n = sum(client.nthreads().values())
    say(f"features on Dask ({len(client.nthreads())} workers, {n} threads): {table.npartitions} family partitions "
        f"over {len(dates)} as-of dates {dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d} ({seconds:.0f}s)")
    own = own_models_dask(table, config, client=client, truth=truth, extract_date=extract_date, log=say)
    result = fit_evaluate_dask(table, config, client=client, truth=truth, extract_date=extract_date, log=say)
    return result, table_sample, seconds, own


def _council_codes(part: pd.DataFrame) -> list[str]:
    return [str(c) for c in pd.unique(part[COUNCIL_COLUMN])]


def _council_part(part: pd.DataFrame, *, code: str) -> pd.DataFrame:
    return part.loc[part[COUNCIL_COLUMN].astype(str).to_numpy() == code]


def own_models_dask(table: Any, config: Config, *, client: Any, truth: pd.DataFrame | None = None,
                    extract_date: pd.Timestamp | None = None, log: Callable[[str], None] | None = None
                    ) -> dict[str, Any] | None:
    """A region's per-council own models (`training.councils.fit_own_model`), one council at a time: that
    council's rows are collected from the workers (a council fits one process: the single-council path) and
    dropped before the next. None for one council."""
    import dask

    from training.councils import fit_own_model

    if COUNCIL_COLUMN not in table.columns:
        return None
    say = log or (lambda _msg: None)
    with dask.config.set({"dataframe.convert-string": False}):
        cluster = _Cluster(table, client)
        codes = sorted({c for codes in cluster.gather(_council_codes) for c in codes})
        if len(codes) < 2:
            return None
        say(f"region of {len(codes)} councils: each council's own model (its rows collected one council at a time), "
            "then the pooled model on the cluster")
        own = {}
        for code in codes:
            rows = pd.concat([p for p in cluster.gather(_council_part, code=code) if len(p)], ignore_index=True)
            rows = rows.sort_values(["as_of", "child_id"], kind="stable").reset_index(drop=True)
            own[code] = mine = fit_own_model(code, rows, config, truth=truth, extract_date=extract_date)
            say(f"council {code}: " + (f"no own model ({mine.error})" if mine.error is not None else
                                       f"own model, {len(rows):,} rows, {mine.rounds} rounds, test PR-AUC "
                                       f"{mine.overall['pr_auc']:.3f}"))
            del rows
    return own
