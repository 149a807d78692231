"""Fixtures for the simulator's tests: one small council, simulated once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.config import Config, load_config
from synthetic import SimulatedCouncil, simulate

SMALL_CHILDREN = 8_000


def small_config(**simulation: object) -> Config:
    """The default config with a cheaper oracle (fewer replicates and as-of dates) unless overridden."""
    cfg = load_config()
    sim = cfg.simulation.model_copy(update={"replicates": 8, "truth_dates": 4, **simulation})
    return cfg.model_copy(update={"simulation": sim})


@pytest.fixture(name="small_config", scope="session")
def small_config_fixture() -> Callable[..., Config]:
    return small_config


@pytest.fixture(scope="session")
def council() -> SimulatedCouncil:
    """A small council over the default period (2010-04 to 2017-03), with ground truth."""
    return simulate(small_config(), children=SMALL_CHILDREN, seed=11)


@pytest.fixture(scope="session")
def council_dir(council: SimulatedCouncil, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small council written to disk once."""
    return council.write(tmp_path_factory.mktemp("sim") / "council")
