"""Data-availability scenarios: the extract cut to what a scenario's agreements provide, at features and scoring."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import load_config, parse_config
from core.contract import FEEDS, PARTNER_EVENT_TYPES, SOCIAL_CARE_EVENT_TYPES
from core.errors import ConfigError
from features import build_features, feature_defs, load_extract
from features.scenario import feeds_present, parse_feeds, restrict, restrict_to_feeds

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_extract"
HUBS = ("Northfield", "Riverside", "Eastgate", "Westbury", "Southmead", "Hillcrest", "Parkside", "Canalside")


@pytest.fixture(scope="module")
def tiny():
    return load_extract(TINY, hubs=HUBS)


def test_default_scenarios_grow_one_agreement_at_a_time() -> None:
    ds = load_config().data_sharing
    sizes = [len(ds.event_types(name)) for name in ds.scenarios]
    assert sizes == sorted(sizes) and sizes[0] == len(SOCIAL_CARE_EVENT_TYPES)
    assert set(ds.event_types("full")) == set(SOCIAL_CARE_EVENT_TYPES) | set(PARTNER_EVENT_TYPES)
    assert set(ds.event_types("police")) - set(SOCIAL_CARE_EVENT_TYPES) == set(FEEDS["police"])


def test_unknown_scenario_or_feed_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="unknown scenario 'nope'.*social_care_only"):
        load_config().data_sharing.event_types("nope")
    with pytest.raises(ConfigError, match="data_sharing.*unknown feeds fax"):
        parse_config({"council": {"hubs": [{"name": "A", "capacity": 1}]},
                      "data_sharing": {"scenarios": {"odd": ["police", "fax"]}}})


def test_restrict_keeps_social_care_and_the_scenarios_feeds(tiny) -> None:
    cfg = load_config()
    assert feeds_present(tiny) == tuple(FEEDS)
    for name, feeds in cfg.data_sharing.scenarios.items():
        cut = restrict(tiny, cfg, name)
        assert set(cut.events["event_type"]) <= set(cfg.data_sharing.event_types(name))
        assert feeds_present(cut) == tuple(f for f in FEEDS if f in feeds)
        social = tiny.events[tiny.events["event_type"].isin(SOCIAL_CARE_EVENT_TYPES)].reset_index(drop=True)
        pd.testing.assert_frame_equal(cut.events[cut.events["event_type"].isin(SOCIAL_CARE_EVENT_TYPES)]
                                      .reset_index(drop=True), social)
    assert restrict(tiny, cfg, "full") is tiny
    assert parse_feeds("police,schools") == ("police", "schools") and parse_feeds("") == ()


def test_features_of_a_scenario_see_nothing_of_the_feeds_it_lacks(tiny) -> None:
    cfg = load_config()
    as_of = [pd.Timestamp("2016-06-30")]
    full = build_features(tiny, as_of, cfg)
    care_only = build_features(restrict(tiny, cfg, "social_care_only"), as_of, cfg)
    partner_cols = [d.name for d in feature_defs(cfg.features.windows_months)
                    if d.signal is not None and set(d.signal.event_types) <= set(PARTNER_EVENT_TYPES)]
    social_cols = [d.name for d in feature_defs(cfg.features.windows_months)
                   if d.signal is not None and set(d.signal.event_types) <= set(SOCIAL_CARE_EVENT_TYPES)]
    assert partner_cols and social_cols
    values = care_only[partner_cols].to_numpy(dtype=float)
    assert np.all(np.isnan(values) | (values == 0))  # never recorded: zero counts, no recency
    assert np.nansum(np.abs(full[partner_cols].to_numpy(dtype=float))) > 0
    pd.testing.assert_frame_equal(full[social_cols], care_only[social_cols])


def test_scoring_refuses_a_model_whose_feeds_the_extract_lacks(tmp_path, tiny) -> None:
    from serving.scoring import _scenario_extract
    from training.model import RiskModel

    model = RiskModel(booster=None, calibrator=None, feature_names=[], version="3",
                         tags={"scenario": "police_schools_health", "feeds": "police,schools,health"})
    no_health = restrict_to_feeds(tiny, ("police", "schools"))
    with pytest.raises(Exception, match="scenario 'police_schools_health'.*does not have: health"):
        _scenario_extract(model, no_health)
    cut = _scenario_extract(model, tiny)  # a fuller extract is cut to what the model learnt from
    assert feeds_present(cut) == ("police", "schools", "health")
    old = dataclasses.replace(model, tags={})  # versions from before scenarios: every event type, as before
    assert _scenario_extract(old, no_health) is no_health


def test_cli_features_with_a_scenario(tmp_path) -> None:
    from typer.testing import CliRunner

    from upstream.cli import app

    out = tmp_path / "f.parquet"
    bad = CliRunner().invoke(app, ["features", "--data", str(TINY), "--out", str(out), "--scenario", "nope"])
    assert isinstance(bad.exception, ConfigError) and "unknown scenario 'nope'" in str(bad.exception)
    assert not out.exists()
    ok = CliRunner().invoke(app, ["features", "--data", str(TINY), "--out", str(out), "--as-of", "2016-04-30",
                                  "--scenario", "police"])
    assert ok.exit_code == 0, ok.output
    table = pd.read_parquet(out)
    assert table["n_ae_attendance_ever"].fillna(0).eq(0).all()  # health is not in the police scenario
    assert "n_missing_episode_ever" in table and len(table) > 0
