"""A scenario end to end on a small simulated council: train with --scenario, tags, scoring's check and cut."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from core.config import load_config
from core.errors import UpstreamError


@pytest.mark.slow
def test_scenario_model_is_tagged_and_scoring_checks_its_feeds(tmp_path) -> None:
    import features
    import synthetic
    from features.scenario import restrict_to_feeds
    from serving.scoring import run_score
    from training.pipeline import train_from_extract

    config = load_config()
    council = synthetic.simulate(config, children=3000, seed=3)
    extract = features.Extract(children=council.children, events=council.events, source=None)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    outcome = train_from_extract(extract, config, truth=council.truth, tracking_uri=uri, scenario="police")
    mv = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version("upstream-risk", outcome.version)
    assert mv.tags["scenario"] == "police" and mv.tags["feeds"] == "police"
    used = set(outcome.result.feature_names)
    assert used  # the same feature set; the feeds it lacks are simply never recorded
    no_police = restrict_to_feeds(extract, ("schools", "health"))
    no_police.children.to_parquet(tmp_path / "children.parquet")
    no_police.events.to_parquet(tmp_path / "events.parquet")
    with pytest.raises(UpstreamError, match="needs partner feeds the extract does not have: police"):
        run_score(config, out=tmp_path / "refused", data=tmp_path, alias=outcome.version, tracking_uri=uri)
    council.write(tmp_path / "council")
    result = run_score(config, out=tmp_path / "scores", data=tmp_path / "council", alias=outcome.version,
                       tracking_uri=uri)
    assert len(result.scores) > 0
