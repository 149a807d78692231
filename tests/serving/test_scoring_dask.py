"""Scoring on Dask: predictions and TreeSHAP by partition give the single process's scores, contributions,
lists and reasons on a small simulated council."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

from core.config import Config
from features import Extract
from features.distributed import dask_client
from features.timeline import month_end_on_or_before
from serving.distributed import DaskScorer
from serving.scoring import run_score
from training.model import RiskModel


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, memory_limit="1GiB") as c:  # the shared 2-core machine: 2 x 1 thread
        yield c


@pytest.fixture(scope="module")
def council(s_config: Config) -> Extract:
    import synthetic

    sim = synthetic.simulate(s_config, children=1500, truth=False, workers=0)
    return Extract(children=sim.children, events=sim.events)


@pytest.mark.parametrize("explain_all", [False, True])
def test_dask_scorer_equals_the_single_process(client, council: Extract, s_model: RiskModel, s_config: Config,
                                               tmp_path: Path, explain_all: bool) -> None:
    as_of = month_end_on_or_before(council.last_date)
    kwargs = {"data": lambda: council, "model": s_model, "as_of": as_of, "explain_all": explain_all,
              "charts": False}
    single = run_score(s_config, out=tmp_path / "single", **kwargs)
    dask = run_score(s_config, out=tmp_path / "dask", scorer=DaskScorer(client, n_partitions=5), **kwargs)

    assert len(single.scores) > 500 and single.families["listed"].sum() > 0
    # scores, ranks and lists: the same rows in the same order, margins to float tolerance
    pd.testing.assert_frame_equal(dask.scores, single.scores, check_exact=False, rtol=1e-12, atol=1e-12)
    cols = ["family_id", "hub", "listed", "family_risk", "reasons", "reason_features", "protective"]
    pd.testing.assert_frame_equal(dask.families[cols].reset_index(drop=True),
                                  single.families[cols].reset_index(drop=True), check_exact=False, rtol=1e-12)
    # TreeSHAP by partition: the same children, inputs and contributions, adding up to the margin
    assert list(dask.explained_ids) == list(single.explained_ids)
    np.testing.assert_array_equal(dask.explained_X, single.explained_X)
    np.testing.assert_allclose(dask.explained_shap, single.explained_shap, rtol=1e-12, atol=1e-12)
    assert dask.base_value == pytest.approx(single.base_value, abs=1e-12)
    margin = dask.scores.set_index("child_id").loc[list(dask.explained_ids), "margin"].to_numpy()
    np.testing.assert_allclose(dask.explained_shap.sum(axis=1) + dask.base_value, margin, atol=1e-6)
    # the hub lists on disk are the same files
    for path in sorted((tmp_path / "single" / "lists").glob("*.csv")):
        assert path.read_bytes() == (tmp_path / "dask" / "lists" / path.name).read_bytes()


def test_a_regions_lists_per_council_scored_on_dask_are_the_same(client, tmp_path: Path) -> None:
    """A region (3 councils): the per-council output directories from the Dask scorer hold the same lists."""
    from serving.scoring import RegionScoring
    from tests.helpers.region import region_config, small_region, trained_region

    cfg = region_config()
    region = small_region()
    model = trained_region().result.served_model()
    kwargs = {"data": lambda: Extract(children=region.children, events=region.events), "model": model,
              "charts": False}
    single = run_score(cfg, out=tmp_path / "single", **kwargs)
    dask = run_score(cfg, out=tmp_path / "dask", scorer=DaskScorer(client, n_partitions=4), **kwargs)
    assert isinstance(dask, RegionScoring) and sorted(dask.councils) == sorted(single.councils) == ["301", "302", "303"]
    for code, result in single.councils.items():
        pd.testing.assert_frame_equal(dask.councils[code].scores, result.scores, check_exact=False, rtol=1e-12)
        for path in sorted((tmp_path / "single" / code / "lists").glob("*.csv")):
            assert path.read_bytes() == (tmp_path / "dask" / code / "lists" / path.name).read_bytes()
