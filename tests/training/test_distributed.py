"""Training on Dask: the early-stopping rule on the whole validation block, and a small council trained on a
LocalCluster against the single process, registered, loaded and scored."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

from features import Extract, build_features
from features.distributed import dask_client
from tests.helpers.training import SIM_CHILDREN, SIM_SEED, small_config
from training.distributed import _loss_curve, early_stop
from training.fit import fit_evaluate
from training.pipeline import train_from_extract, training_grid


def _toy(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)).astype("float32"), columns=[f"x{i}" for i in range(5)])
    X.loc[rng.random(n) < 0.1, "x3"] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["x0"].fillna(0) * 1.5 - 2.5)))).astype(int).to_numpy()
    return X, y


def test_the_validation_curve_and_stop_are_lightgbms_own() -> None:
    """`_loss_curve` (leaf values accumulated tree by tree) gives LightGBM's recorded validation log-loss, and
    `early_stop` picks the round `lightgbm.early_stopping` picks on it."""
    X, y = _toy(4000, 1)
    Xv, yv = _toy(3000, 2)
    params = {"objective": "binary", "metric": "binary_logloss", "learning_rate": 0.3, "num_leaves": 15,
              "verbosity": -1, "num_threads": 1, "seed": 1, "deterministic": True}
    evals: dict = {}
    full = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=120,
                     valid_sets=[lgb.Dataset(Xv, label=yv)], valid_names=["v"],
                     callbacks=[lgb.record_evaluation(evals)])
    part = Xv.assign(label=yv.astype(float), as_of=pd.Timestamp("2015-03-31"), family_id="F1", child_id="C")
    sums = _loss_curve(part, booster=full, dates=(pd.Timestamp("2015-03-31"),), feature_names=list(X.columns))
    assert sums[0] == len(Xv)
    np.testing.assert_allclose(sums[1:] / sums[0], evals["v"]["binary_logloss"], rtol=1e-6)
    for patience in (5, 20):
        stopped = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=120,
                            valid_sets=[lgb.Dataset(Xv, label=yv)],
                            callbacks=[lgb.early_stopping(patience, first_metric_only=True, verbose=False)])
        best, did_stop = early_stop(np.asarray(evals["v"]["binary_logloss"]), patience)
        assert best == stopped.best_iteration
        assert did_stop == (stopped.current_iteration() < 120)


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, memory_limit="1500MiB") as c:  # the shared 2-core machine: 2 x 1 thread
        yield c


def test_dask_training_is_close_to_the_single_process_and_its_version_scores(client, tmp_path) -> None:
    """Same council, same splits: the baselines and oracle agree exactly (same rows, same fits), the model within
    sampling noise (LightGBM's distributed bins and histogram merge grow slightly different trees); the
    registered version is an ordinary RiskModel that `upstream score` loads by alias."""
    from serving.scoring import run_score
    from synthetic import simulate
    from training.registry import load_version

    config = small_config()
    council = simulate(config, children=SIM_CHILDREN, seed=SIM_SEED)
    extract = Extract(children=council.children, events=council.events)
    tracking_uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    outcome = train_from_extract(extract, config, truth=council.truth, tracking_uri=tracking_uri, client=client)
    got = outcome.result
    table = build_features(extract, training_grid(extract, config), config)
    single = fit_evaluate(table, config, truth=council.truth, extract_date=extract.last_date)

    assert got.split == single.split and got.rows == single.rows
    assert got.deployment.rows == single.deployment.rows and got.deployment.dates == single.deployment.dates
    for name in ("logistic", "rule", "practice", "oracle"):
        a, b = single.metrics["test"][name]["overall"], got.metrics["test"][name]["overall"]
        for key in ("pr_auc", "roc_auc", "recall_at_list", "precision_at_list"):
            assert b[key] == pytest.approx(a[key], rel=1e-9, abs=1e-12), (name, key)
    for split in ("validation", "test"):
        pd.testing.assert_frame_equal(got.predictions[split][["child_id", "as_of", "label", "logistic", "rule"]],
                                      single.predictions[split][["child_id", "as_of", "label", "logistic", "rule"]])
    a, b = single.metrics["test"]["model"]["overall"], got.metrics["test"]["model"]["overall"]
    assert abs(b["roc_auc"] - a["roc_auc"]) < 0.03
    assert a["pr_auc_ci_low"] <= b["pr_auc"] <= a["pr_auc_ci_high"]
    assert b["roc_auc"] > 0.75  # far above chance, as the single process's

    # the registered version: the deployment refit's local booster, loaded back and scored like any other
    loaded = load_version(outcome.version, name=config.model.registered_name, tracking_uri=tracking_uri)
    features = got.test_features
    np.testing.assert_allclose(loaded.predict(features)["probability"],
                               got.served_model().predict(features)["probability"], rtol=1e-9, atol=1e-12)
    scored = run_score(config, out=tmp_path / "scores", data=lambda: extract, alias="challenger",
                       tracking_uri=tracking_uri, charts=False)
    assert scored.model.version == outcome.version and scored.families["listed"].any()


@pytest.mark.parametrize("command", [["train"], ["score", "--out", "unused"]])
def test_cluster_and_workers_together_are_one_clear_error(command: list[str], tmp_path) -> None:
    from typer.testing import CliRunner

    from core.errors import UpstreamError
    from upstream.cli import app

    result = CliRunner().invoke(app, [*command, "--data", str(tmp_path), "--cluster", "tcp://127.0.0.1:1",
                                      "--workers", "2"])
    assert isinstance(result.exception, UpstreamError)
    assert "either --cluster ADDRESS or --workers N" in str(result.exception)
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--workers", "2", "--tune"])
    assert "--tune runs in one process only" in str(result.exception)


@pytest.mark.slow  # a second Dask training (about a minute here); the first covers the trainer itself
def test_a_region_on_dask_reports_each_councils_own_model(client, tmp_path) -> None:
    """A region trained on Dask: each council's own model (its rows collected one council at a time) gives the
    single process's own-model figures exactly, and the per-council table is logged as in one process."""
    from tests.helpers.region import region_config, small_region, trained_region

    region = small_region()
    outcome = train_from_extract(Extract(children=region.children, events=region.events), region_config(),
                                 truth=region.truth, tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", client=client)
    single = trained_region()
    assert outcome.councils is not None
    got = outcome.councils.set_index("council")
    want = single.councils.set_index("council")
    assert list(got.index) == list(want.index)
    own = [c for c in want.columns if c.startswith("own_")]
    assert own
    pd.testing.assert_frame_equal(got[own], want[own])


def test_a_dask_training_is_repeatable_on_another_cluster() -> None:
    """Two LocalClusters (other ports, other key names): the same trees, round and metrics. Partitions are placed
    on workers in address order and LightGBM ranks the workers in that order (`_RanksInAddressOrder`); without it
    the ranks followed random key names and each feature's bins came from either worker's rows."""
    from distributed import wait

    from synthetic import simulate
    from training.distributed import fit_evaluate_dask, training_frame

    config = small_config()
    council = simulate(config, children=SIM_CHILDREN, seed=SIM_SEED)
    extract = Extract(children=council.children, events=council.events)
    dates = training_grid(extract, config)
    got = []
    for _ in range(2):
        with dask_client(workers=2, memory_limit="1500MiB") as client:
            table = client.persist(training_frame(extract, dates, config, client=client,
                                                  extract_date=extract.last_date))
            wait(table)
            result = fit_evaluate_dask(table, config, client=client, extract_date=extract.last_date)
        text = result.deployment.model.booster_.model_to_string()
        got.append((result.model.best_iteration_, result.metrics["test"]["model"]["overall"]["pr_auc"],
                    text[text.index("Tree=0"):text.index("end of trees")]))  # the header names the ports
    assert got[0] == got[1]


def test_lightgbm_is_given_the_workers_in_address_order(client) -> None:
    from training.distributed import _RanksInAddressOrder

    first, second = sorted(client.nthreads())
    # key names in the opposite order to the workers' addresses: who_has itself lists them by key
    on_second = client.submit(len, [1, 2], key="a-on-second", workers=[second], allow_other_workers=False)
    on_first = client.submit(len, [1], key="b-on-first", workers=[first], allow_other_workers=False)
    assert (on_first.result(), on_second.result()) == (1, 2)
    listed = list(_RanksInAddressOrder(client).who_has([on_second, on_first]).values())
    assert [list(w) for w in listed] == [[first], [second]]
