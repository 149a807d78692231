"""The training tests' small config and the feature table production builds, and fixtures shared with governance."""

from __future__ import annotations

import copy
import dataclasses
import functools
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from core.config import Config, parse_config
from features import Extract, build_features, feature_columns
from synthetic import simulate
from training.fit import TrainingResult, fit_evaluate
from training.pipeline import training_grid

HUBS = [{"name": "Northfield", "capacity": 3}, {"name": "Riverside", "capacity": 4},
        {"name": "Eastgate", "capacity": 2}]
# A small simulated council (about 5,400 children ever resident, 2010-04..2017-03): big enough for ~30 entries to
# care a year and a ROC-AUC well above chance, small enough to simulate and train on in seconds.
SIM_CHILDREN = 3000
SIM_SEED = 11


def small_config(**model: object) -> Config:
    data = {
        "council": {"hubs": HUBS},
        "model": {"seed": 7, "validation_dates": 4, "test_dates": 4, "num_boost_round": 60,
                  "early_stopping_rounds": 10, "learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 20,
                  "tune_trials": 3, **model},
        # the oracle's truth only where the test block needs it, with the fewest forward replicates
        "simulation": {"replicates": 2, "truth_dates": 4},
    }
    return parse_config(data)


# The model inputs as production builds them (features.feature_columns), in order.
FEATURES: list[str] = feature_columns(small_config())


@functools.cache
def production_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature table production builds (training's as-of grid, `features.build_features`) for the small
    simulated council, and the simulator's truth. Built once per test session."""
    config = small_config()
    council = simulate(config, children=SIM_CHILDREN, seed=SIM_SEED)
    extract = Extract(children=council.children, events=council.events)
    table = build_features(extract, training_grid(extract, config), config)
    return table, council.truth


@functools.cache
def fitted() -> TrainingResult:
    """fit_evaluate on the production table with the small config (shared: training is the slow part)."""
    table, truth = production_table()
    return fit_evaluate(table, small_config(), feature_names=FEATURES, truth=truth)


@pytest.fixture(scope="session")
def feature_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    return production_table()


@pytest.fixture(scope="session")
def fitted_result() -> TrainingResult:
    return fitted()


@pytest.fixture()
def config() -> Config:
    return small_config()


@pytest.fixture()
def tracking_uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"


def passing_store(root: Path, versions: int) -> tuple[str, Path, MlflowClient]:
    """A tracking store under `root` holding `versions` registered versions of the shared fit whose metrics pass
    the promotion's metric gates (so a test can break one gate of its own)."""
    from training.tracking import log_training

    table, _ = production_table()
    result = fitted()
    metrics = copy.deepcopy(result.metrics)
    for scorer, value in (("model", 0.4), ("logistic", 0.3), ("rule", 0.2)):
        metrics["test"][scorer]["overall"]["pr_auc"] = value
    metrics["test"]["model"]["overall"]["ece"] = 0.01
    result = dataclasses.replace(result, metrics=metrics)
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    for _ in range(versions):
        log_training(result, table_sample=table.head(50), fingerprint="fp", tracking_uri=uri, plots=False)
    return uri, root, MlflowClient(tracking_uri=uri, registry_uri=uri)
