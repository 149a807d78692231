"""Features on Dask: per partition of whole families on a LocalCluster, identical to the single-process table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_histories import random_extract

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

from core.config import load_config
from core.errors import UpstreamError
from features import Extract, build_features
from features.distributed import build_features_dask, dask_client, family_partitions

CFG = load_config()
EXTRACT_DATE = pd.Timestamp("2018-01-31")
DATES = [pd.Timestamp("2013-03-31"), pd.Timestamp("2015-06-30"), pd.Timestamp("2017-03-31")]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    feats = [c for c in a.columns if a[c].dtype == np.float32]
    assert np.array_equal(a[feats].to_numpy().view(np.uint32), b[feats].to_numpy().view(np.uint32))  # bitwise


@pytest.fixture(scope="module")
def client():
    # the shared 2-core machine: 2 workers x 1 thread, memory-limited, always closed
    with dask_client(workers=2, memory_limit="1GiB") as c:
        yield c


@pytest.fixture(scope="module")
def small_council() -> Extract:
    import synthetic

    council = synthetic.simulate(CFG, children=1500, truth=False, workers=0)
    return Extract(children=council.children, events=council.events)


def test_random_histories_identical(client) -> None:
    extract = random_extract(n_families=60)
    expected = build_features(extract, DATES, CFG, extract_date=EXTRACT_DATE)
    for n in (1, 7):
        _same(build_features_dask(extract, DATES, CFG, client=client, extract_date=EXTRACT_DATE, n_partitions=n),
              expected)


def test_small_council_identical(client, small_council) -> None:
    from features import as_of_grid

    dates = as_of_grid(small_council, CFG)[-6:]
    expected = build_features(small_council, dates, CFG)
    got = build_features_dask(small_council, dates, CFG, client=client)
    assert len(got) > 1000 and got["label"].notna().any()
    _same(got, expected)


def test_the_extract_date_is_the_whole_extracts(client) -> None:
    """A partition's own latest date would label its rows differently; the whole extract's date is used."""
    extract = random_extract(n_families=30)
    dates = [pd.Timestamp("2014-03-31"), pd.Timestamp("2016-12-31")]
    _same(build_features_dask(extract, dates, CFG, client=client, n_partitions=6),
          build_features(extract, dates, CFG))


def test_families_are_never_split_and_partitions_balance() -> None:
    extract = random_extract(n_families=80)
    parts = family_partitions(extract.children, extract.events, 4)
    assert set(parts.index) == set(extract.children["family_id"]) and set(parts) == {0, 1, 2, 3}
    assert parts.equals(family_partitions(extract.children, extract.events, 4))  # deterministic
    work = (extract.children.groupby("family_id").size()
            .add(extract.events.groupby("family_id").size(), fill_value=0))
    load = work.groupby(parts).sum()
    assert load.max() - load.min() <= work.max()
    with pytest.raises(UpstreamError, match="at least 1"):
        family_partitions(extract.children, extract.events, 0)


@pytest.mark.slow  # two builds and a second cluster: ~45 s on the shared machine
def test_cli_features_on_a_local_cluster(tmp_path, small_council) -> None:
    from typer.testing import CliRunner

    from upstream.cli import app

    data = tmp_path / "council"
    data.mkdir()
    small_council.children.to_parquet(data / "children.parquet")
    small_council.events.to_parquet(data / "events.parquet")
    runner = CliRunner()
    args = ["features", "--data", str(data), "--from", "2015-03-31", "--to", "2016-03-31"]
    single = runner.invoke(app, [*args, "--out", str(tmp_path / "single.parquet")])
    assert single.exit_code == 0, single.output
    dask = runner.invoke(app, [*args, "--out", str(tmp_path / "dask.parquet"), "--workers", "2"])
    assert dask.exit_code == 0, dask.output
    assert "2 Dask workers" in dask.output
    _same(pd.read_parquet(tmp_path / "dask.parquet"), pd.read_parquet(tmp_path / "single.parquet"))
    bad = runner.invoke(app, [*args, "--out", str(tmp_path / "x.parquet"), "--workers", "2",
                              "--cluster", "tcp://127.0.0.1:1"])
    assert isinstance(bad.exception, UpstreamError) and "not both" in str(bad.exception)


def test_small_region_identical(client) -> None:
    """A region's table on Dask: the council key column comes back, and every value as the single process has it."""
    from features import as_of_grid
    from tests.helpers.region import region_config, small_region

    cfg, region = region_config(), small_region()
    extract = Extract(children=region.children, events=region.events)
    dates = as_of_grid(extract, cfg)[-3:]
    expected = build_features(extract, dates, cfg)
    got = build_features_dask(extract, dates, cfg, client=client)
    assert set(got["council"]) == {"301", "302", "303"}
    _same(got, expected)
