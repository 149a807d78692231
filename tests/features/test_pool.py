"""Pooling a partnership's councils' extracts into one region extract (`features.pool`, `upstream pool`)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.contract import COUNCIL_COLUMN, EARLIEST_AS_OF, EXTRACT_NOTES
from core.errors import ContractError, UpstreamError
from features.pool import pool_extracts
from tests.helpers.region import region_config, small_region


def _council_dirs(tmp_path: Path) -> dict[str, Path]:
    """Each council of the small region written as its own extract (what each council exports)."""
    region = small_region()
    out = {}
    for code in sorted(region.children[COUNCIL_COLUMN].astype(str).unique()):
        mine = region.children[COUNCIL_COLUMN].astype(str) == code
        children = region.children.loc[mine.to_numpy()]
        events = region.events.loc[region.events["family_id"].isin(children["family_id"]).to_numpy()]
        d = out[code] = tmp_path / f"council_{code}"
        d.mkdir()
        children.to_parquet(d / "children.parquet", index=False)
        events.to_parquet(d / "events.parquet", index=False)
    return out


def test_pooled_councils_are_the_region(tmp_path: Path) -> None:
    dirs = _council_dirs(tmp_path)
    pooled = pool_extracts(list(dirs.values()), region_config())
    region = small_region()
    assert sorted(pooled.councils) == ["301", "302", "303"]
    assert sum(c["children"] for c in pooled.councils.values()) == len(region.children)
    assert sum(c["events"] for c in pooled.councils.values()) == len(region.events)
    got = pooled.extract.children.sort_values("child_id").reset_index(drop=True)
    assert got["child_id"].tolist() == sorted(region.children["child_id"])
    assert (got[COUNCIL_COLUMN].astype(str).to_numpy()
            == region.children.set_index("child_id").loc[got["child_id"], COUNCIL_COLUMN].astype(str).to_numpy()).all()
    assert sorted(pooled.extract.events["event_id"]) == sorted(region.events["event_id"])
    assert pooled.earliest_as_of is None


def test_the_latest_council_start_is_the_regions(tmp_path: Path) -> None:
    dirs = _council_dirs(tmp_path)
    for d, start in zip(dirs.values(), ("2012-04-30", "2013-04-30", None), strict=True):
        if start:
            (d / EXTRACT_NOTES).write_text(json.dumps({EARLIEST_AS_OF: start}))
    assert pool_extracts(list(dirs.values()), region_config()).earliest_as_of == pd.Timestamp("2013-04-30")


def test_an_extract_given_twice_or_records_exchanged_are_refused(tmp_path: Path) -> None:
    dirs = _council_dirs(tmp_path)
    with pytest.raises(UpstreamError, match=r"council 301 is in two extracts: .*council_301 and .*council_301"):
        pool_extracts([dirs["301"], dirs["301"]], region_config())
    # council 302's extract also holds one of council 301's children (moved to a 302 hub and family)
    children = pd.read_parquet(dirs["302"] / "children.parquet")
    stray = pd.read_parquet(dirs["301"] / "children.parquet").head(1).assign(
        council="302", hub=children["hub"].iloc[0], family_id=children["family_id"].iloc[0])
    pd.concat([children, stray], ignore_index=True).to_parquet(dirs["302"] / "children.parquet", index=False)
    with pytest.raises(UpstreamError, match=r"children.child_id: 1 id\(s\) in both .*council_301 and .*council_302"):
        pool_extracts([dirs["301"], dirs["302"]], region_config())


def test_what_pooling_needs_is_said(tmp_path: Path) -> None:
    from tests.helpers.training import small_config

    dirs = _council_dirs(tmp_path)
    with pytest.raises(UpstreamError, match="needs a region config"):
        pool_extracts(list(dirs.values()), small_config())
    with pytest.raises(UpstreamError, match="at least two"):
        pool_extracts([dirs["301"]], region_config())
    children = pd.read_parquet(dirs["303"] / "children.parquet")
    children.drop(columns=COUNCIL_COLUMN).to_parquet(dirs["303"] / "children.parquet", index=False)
    # without the column, the region config's hubs cannot be checked: the contract names the file and the column
    with pytest.raises(ContractError, match=r"(?s)council_303 \(one council's extract\) breaks the contract.*"
                                            r"missing required column\(s\): council"):
        pool_extracts(list(dirs.values()), region_config())
