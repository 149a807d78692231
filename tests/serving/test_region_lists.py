"""A region's scoring run: lists per (council, hub), each within its hub's capacity (above-threshold families aside)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from features import Extract
from serving.scoring import RegionScoring, run_score, summary
from tests.helpers.region import region_config, small_region, trained_region


def test_lists_per_council_and_hub_never_exceed_capacity(tmp_path: Path) -> None:
    cfg = region_config()
    region = small_region()
    model = trained_region().result.served_model()
    out = tmp_path / "scores"
    result = run_score(cfg, out=out, data=lambda: Extract(children=region.children, events=region.events),
                       model=model, charts=False)
    assert isinstance(result, RegionScoring) and sorted(result.councils) == ["301", "302", "303"]
    threshold = cfg.serving.list_probability_threshold
    for council in cfg.region:
        where = out / council.code
        # the single-council layout, per council
        assert {p.name for p in where.iterdir()} >= {"scores.parquet", "families.parquet", "lists", "manifest.json"}
        families = pd.read_parquet(where / "families.parquet")
        scores = pd.read_parquet(where / "scores.parquet")
        kids = region.children.set_index("child_id")["council"]
        assert (kids.reindex(scores["child_id"]).to_numpy() == council.code).all()  # only this council's children
        for hub in council.hubs:
            listed = pd.read_csv(where / "lists" / f"{hub.name}.csv")
            fam = families[(families["hub"] == hub.name) & families["listed"]]
            assert len(listed) == len(fam)
            # capacity, plus only families whose risk reaches the threshold
            assert int((fam["family_risk"] < threshold).sum()) <= hub.capacity
            assert len(fam) >= min(hub.capacity, int((families["hub"] == hub.name).sum()))
        assert set(families["hub"]) <= set(council.hub_names)
    # "North" exists in 301 and 302: two lists, each at its own council's capacity
    north_301 = pd.read_csv(out / "301" / "lists" / "North.csv")
    north_302 = pd.read_csv(out / "302" / "lists" / "North.csv")
    assert set(north_301["family_id"]).isdisjoint(north_302["family_id"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert [m["council"] for m in manifest["region"]] == ["301", "302", "303"]
    assert "council 302:" in summary(result, out)
