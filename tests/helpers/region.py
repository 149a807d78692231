"""A small simulated region for the several-councils tests: 3 councils x about 1,500 children, a cheap model."""

from __future__ import annotations

import functools

from core.config import Config, parse_config
from synthetic import SimulatedCouncil, simulate_region

REGION_CHILDREN = 1500  # per council, on average
REGION_SEED = 5
COUNCILS = [
    {"code": "301", "name": "Ashvale", "hubs": [{"name": "North", "capacity": 3}, {"name": "South", "capacity": 2}]},
    # Both councils have a "North" hub: lists and capacities are per (council, hub).
    {"code": "302", "name": "Brookfield", "hubs": [{"name": "North", "capacity": 2}, {"name": "Docks", "capacity": 3},
                                                   {"name": "Heath", "capacity": 2}]},
    {"code": "303", "name": "Calderbridge", "hubs": [{"name": "Mills", "capacity": 4}]},
]


def region_config(**model: object) -> Config:
    """A region config with the training tests' small model settings."""
    return parse_config({
        "councils": COUNCILS,
        "model": {"seed": 7, "validation_dates": 4, "test_dates": 4, "num_boost_round": 60,
                  "early_stopping_rounds": 10, "learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 20,
                  "bootstrap_replicates": 50, **model},
        "simulation": {"replicates": 2, "truth_dates": 4},
    })


@functools.cache
def small_region() -> SimulatedCouncil:
    """The region over the default period (2010-04..2017-03), simulated once per test session."""
    return simulate_region(region_config(), councils=3, children=REGION_CHILDREN, seed=REGION_SEED)


@functools.cache
def trained_region():  # -> training.pipeline.TrainOutcome
    """`train_from_extract` on the small region, logged to a throwaway MLflow store (once per test session)."""
    import tempfile

    from features import Extract
    from training.pipeline import train_from_extract

    region = small_region()
    store = tempfile.mkdtemp(prefix="upstream-region-")
    return train_from_extract(Extract(children=region.children, events=region.events), region_config(),
                              truth=region.truth, tracking_uri=f"sqlite:///{store}/mlflow.db")
