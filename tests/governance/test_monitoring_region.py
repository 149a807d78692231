"""Monitoring one council of a region: its own lists against its own part of the region model's reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import UpstreamError
from features import Extract
from governance.monitoring import run_monitor
from serving.scoring import run_score
from tests.helpers.region import region_config, small_region, trained_region
from training.reference import load_reference


def test_a_council_is_monitored_against_its_own_part_of_the_reference(tmp_path: Path) -> None:
    outcome, region, cfg = trained_region(), small_region(), region_config()
    extract = Extract(children=region.children, events=region.events)
    run_score(cfg, out=tmp_path / "scores", data=lambda: extract, alias="challenger",
              tracking_uri=outcome.tracking_uri, charts=False)
    reference = load_reference(outcome.run_id, tracking_uri=outcome.tracking_uri)
    parts = reference["councils"]
    assert sorted(parts) == ["301", "302", "303"]
    # the councils' parts add up to the region: feed counts month by month, test rows
    for feed, counts in reference["feed"]["counts"].items():
        summed = np.sum([p["feed"]["counts"].get(feed, [0] * len(counts)) for p in parts.values()], axis=0)
        assert summed.tolist() == counts, feed
    assert sum(p["rows"] for p in parts.values()) == reference["rows"]
    assert set(parts["302"]["no_history"]) == {"North", "Docks", "Heath", "all"}  # the council's own hubs

    report = run_monitor(cfg.for_council("302"), scores_dir=tmp_path / "scores" / "302",
                         extract=extract.council("302"), out=tmp_path / "monitor", tracking_uri=outcome.tracking_uri,
                         log_run=False).report
    own = {f["feed"]: f["reference_total"] for f in report["feed"]["feeds"]}
    for feed, total in own.items():  # compared with council 302's own feeds, not the region's
        assert total == sum(parts["302"]["feed"]["counts"].get(feed, [])), feed
    assert report["feed"]["resident_children"][-1] == len(extract.council("302").children.query(
        "left_on.isna() | left_on > '2017-03-31'"))

    with pytest.raises(UpstreamError, match="not trained on council 304"):
        run_monitor(cfg.for_council("302").model_copy(update={"council": cfg.for_council("302").council.model_copy(
            update={"code": "304"})}), scores_dir=tmp_path / "scores" / "302", extract=extract.council("302"),
            out=tmp_path / "monitor2", tracking_uri=outcome.tracking_uri, log_run=False)


@pytest.mark.parametrize(("args", "message"), [
    (["monitor", "--out", "x", "--config", "REGION"], "a region's lists are per council: give --council CODE "
                                                       "(one of 301, 302, 303, 304, 305, 306, 307, 308, 309, 310)"),
    (["serve", "--config", "REGION"], "give --council CODE"),
    (["monitor", "--out", "x", "--council", "301"], "--council picks one council of a region config"),
    (["serve", "--council", "301"], "--council picks one council of a region config"),
    (["monitor", "--out", "x", "--council", "301", "--config", "REGION"], "--council needs --data"),
    (["serve", "--council", "399", "--config", "REGION"], "council 399 is not in the config"),
])
def test_council_flags_say_what_they_need(args: list[str], message: str, root: Path) -> None:
    from typer.testing import CliRunner

    from upstream.cli import app

    args = [str(root / "configs" / "region.yaml") if a == "REGION" else a for a in args]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, UpstreamError), result.output
    assert message in str(result.exception)
