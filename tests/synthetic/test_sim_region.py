"""`simulate --councils N`: a region of councils that differ through the mechanism, one extract, ids unique."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.contract import COUNCIL_COLUMN
from core.errors import UpstreamError
from synthetic import region_profiles, simulate_region
from tests.helpers.region import REGION_CHILDREN, region_config, small_region


def test_region_is_one_extract_with_ids_unique_and_truth_per_council(tmp_path: Path) -> None:
    region = small_region()
    c, e, t = region.children, region.events, region.truth
    assert set(c[COUNCIL_COLUMN]) == {"301", "302", "303"}
    assert c["child_id"].is_unique and e["event_id"].is_unique
    assert c.groupby("family_id")[COUNCIL_COLUMN].nunique().max() == 1
    # every event's family is one of the region's; the oracle's rows are the councils' children
    assert e["family_id"].isin(c["family_id"]).all()
    assert t["child_id"].isin(c["child_id"]).all() and set(t["child_id"].str[:3]) == {"301", "302", "303"}
    # each council's hubs are its own
    cfg = region_config()
    for council in cfg.region:
        assert set(c.loc[c[COUNCIL_COLUMN] == council.code, "hub"]) <= set(council.hub_names)
    out = region.write(tmp_path / "r")
    written = json.loads((out / "councils.json").read_text())["councils"]
    assert [w["code"] for w in written] == ["301", "302", "303"]
    # --children is per council on average: the region holds about 3 x 1,500 resident children
    assert sum(w["children"] for w in written) == pytest.approx(3 * REGION_CHILDREN, rel=0.01)


def test_councils_differ_in_size_and_practice() -> None:
    profiles = region_profiles(region_config(), 3, seed=5)
    for field in ("size", "deprivation_skew", "front_door", "early_help", "care_threshold"):
        assert len({getattr(p, field) for p in profiles}) == 3, field
    children = small_region().children
    # a resident count per council that follows the drawn sizes
    sizes = {p.code: p.size for p in profiles}
    biggest, smallest = max(sizes, key=sizes.get), min(sizes, key=sizes.get)
    counts = children[COUNCIL_COLUMN].value_counts()
    assert counts[biggest] > counts[smallest]


def _entries_per_child_year(region, code: str) -> float:
    c, e = region.children, region.events
    kids = c.loc[c[COUNCIL_COLUMN] == code]
    start = region.start
    entries = e.loc[(e["event_type"] == "looked_after") & (e["event_date"] >= start)
                    & e["child_id"].isin(kids["child_id"])]
    years = (region.end - start).days / 365.25
    return len(entries) / (len(kids) * years)


def test_a_stricter_care_threshold_means_fewer_entries_per_child() -> None:
    """Two councils alike in everything but the threshold to enter care: the stricter one takes fewer children
    into care per child. The difference comes from the mechanism (entry_base): if the profile were ignored the
    two councils would be draws of the same council."""
    cfg = region_config()
    base = region_profiles(cfg, 2, seed=3)[0]
    alike = dataclasses.replace(base, size=1.0, deprivation_skew=0.12, front_door=0.0, early_help=0.0)
    strict = dataclasses.replace(alike, code="301", care_threshold=-0.6)
    lenient = dataclasses.replace(alike, code="302", name="Brookfield", care_threshold=0.6)
    region = simulate_region(cfg, councils=2, children=2000, seed=3, start="2012-04", end="2017-03", truth=False,
                             profiles=[strict, lenient])
    assert _entries_per_child_year(region, "301") * 1.6 < _entries_per_child_year(region, "302")


def test_the_same_seed_gives_the_same_region_on_one_or_two_processes() -> None:
    cfg = region_config()
    one = simulate_region(cfg, councils=2, children=400, seed=9, start="2015-04", end="2017-03", truth=False,
                          workers=1)
    two = simulate_region(cfg, councils=2, children=400, seed=9, start="2015-04", end="2017-03", truth=False,
                          workers=2)
    pd.testing.assert_frame_equal(one.children, two.children)
    pd.testing.assert_frame_equal(one.events, two.events)
    assert np.isclose([p["size"] for p in one.councils], [p["size"] for p in two.councils]).all()


def test_councils_need_a_region_config(small_config) -> None:
    with pytest.raises(UpstreamError, match=r"--councils 3 needs a region config with at least 3 councils"):
        region_profiles(small_config(), 3, seed=1)
    with pytest.raises(UpstreamError, match=r"at least 4 councils .* this one has 3"):
        region_profiles(region_config(), 4, seed=1)


def test_cli_simulate_councils_then_validate(tmp_path: Path, root: Path) -> None:
    from typer.testing import CliRunner

    from upstream.cli import app

    runner = CliRunner()
    region_yaml = str(root / "configs" / "region.yaml")
    out = tmp_path / "region"
    result = runner.invoke(app, ["simulate", "--councils", "2", "--children", "400", "--start", "2015-04",
                                 "--end", "2017-03", "--seed", "3", "--out", str(out), "--config", region_yaml])
    assert result.exit_code == 0, result.output
    assert "council 301 Ashvale Council" in result.output and "council 302 Brookfield Council" in result.output
    assert {p.name for p in out.iterdir()} == {"children.parquet", "events.parquet", "truth.parquet",
                                               "councils.json"}
    result = runner.invoke(app, ["validate", str(out), "--extract-date", "2017-03-31", "--config", region_yaml])
    assert result.exit_code == 0, result.output
    assert "children per council:" in result.output
    # the default config describes one council: --councils is refused in one line
    result = runner.invoke(app, ["simulate", "--councils", "2", "--out", str(tmp_path / "x")])
    assert isinstance(result.exception, UpstreamError)
    assert "needs a region config" in str(result.exception)
