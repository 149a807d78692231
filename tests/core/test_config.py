"""Config loading: the default is valid; unknown keys, wrong types and missing values are named by key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.config import DEFAULT_CONFIG_PATH, load_config, parse_config
from core.errors import ConfigError


def _default() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def test_default_config_loads_with_eight_hubs() -> None:
    cfg = load_config()
    assert len(cfg.council.hubs) == 8
    assert cfg.outcome.event_type == "looked_after"
    assert cfg.outcome.horizon_months == 12
    assert cfg.fairness.small_cell_threshold == 10
    assert cfg.features.windows_months == (3, 6, 12, 24)


def test_config_is_frozen() -> None:
    cfg = load_config()
    with pytest.raises(Exception, match="frozen"):
        cfg.outcome.horizon_months = 6  # type: ignore[misc]


def test_negative_capacity_is_named_by_key_path() -> None:
    data = _default()
    data["council"]["hubs"][3]["capacity"] = -4
    with pytest.raises(ConfigError, match=r"council\.hubs\[3\]\.capacity: must be a positive integer"):
        parse_config(data)


def test_unknown_key_is_refused() -> None:
    data = _default()
    data["model"]["learning_rat"] = 0.1
    with pytest.raises(ConfigError, match=r"model\.learning_rat: unknown key"):
        parse_config(data)


def test_wrong_type_is_refused_not_coerced() -> None:
    data = _default()
    data["outcome"]["horizon_months"] = "12"
    with pytest.raises(ConfigError, match=r"outcome\.horizon_months: must be an integer"):
        parse_config(data)


def test_missing_required_value() -> None:
    data = _default()
    del data["council"]["hubs"]
    with pytest.raises(ConfigError, match=r"council\.hubs: required value missing"):
        parse_config(data)


def test_duplicate_hub_names_refused() -> None:
    data = _default()
    data["council"]["hubs"][1]["name"] = data["council"]["hubs"][0]["name"]
    with pytest.raises(ConfigError, match="hub names must be unique"):
        parse_config(data)


def test_bad_outcome_choice() -> None:
    data = _default()
    data["outcome"]["event_type"] = "referral"
    with pytest.raises(ConfigError, match=r"outcome\.event_type"):
        parse_config(data)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("council: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_config_hash_changes_with_content() -> None:
    data = _default()
    a = parse_config(data).config_hash()
    data["model"]["seed"] = 7
    assert parse_config(data).config_hash() != a


def test_risk_band_lookup() -> None:
    cfg = load_config()
    assert cfg.serving.band_for(0.5) == "very high"
    assert cfg.serving.band_for(0.12) == "high"
    assert cfg.serving.band_for(0.0) == "low"
