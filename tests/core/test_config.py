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


def _region() -> dict:
    data = _default()
    del data["council"]
    data["councils"] = [{"code": "330", "name": "A", "hubs": [{"name": "Central", "capacity": 5}]},
                        {"code": "331", "name": "B", "hubs": [{"name": "Central", "capacity": 3},
                                                               {"name": "Docks", "capacity": 4}]}]
    return data


def test_region_form_gives_capacities_per_council_and_hub() -> None:
    cfg = parse_config(_region())
    assert cfg.is_region and [c.code for c in cfg.region] == ["330", "331"]
    # two councils may share a hub name: lists and capacities are per (council, hub)
    assert cfg.list_capacities() == {"330/Central": 5, "331/Central": 3, "331/Docks": 4}
    assert cfg.contract_hubs == {"330": ("Central",), "331": ("Central", "Docks")}
    one = cfg.for_council("331")
    assert not one.is_region and one.council.code == "331" and one.list_capacities() == {"Central": 3, "Docks": 4}
    # a dump of a region config (with its region view filled in) loads back to the same config
    assert parse_config(cfg.model_dump(mode="json")) == cfg


def test_default_config_is_one_council_and_hashes_as_before() -> None:
    cfg = load_config()
    assert not cfg.is_region and cfg.councils is None and cfg.council.code is None
    assert cfg.contract_hubs == cfg.council.hub_names
    assert "councils" not in yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    assert cfg.config_hash() == "3fbccd28e78691cd"  # main's hash before regions existed: the same config


@pytest.mark.parametrize("change, message", [
    (lambda d: d["councils"][1]["hubs"].append({"name": "Docks", "capacity": 1}),
     r"councils\[1\]: .*hub names must be unique; repeated: Docks"),
    (lambda d: d["councils"][1].update(code="330"), r"council codes must be unique; repeated: 330"),
    (lambda d: d["councils"][0].update(code="33"), r"councils\[0\]\.code: string should match pattern"),
    (lambda d: d["councils"][0].update(code=330), r"councils\[0\]\.code: must be a string \(got 330\)"),
    (lambda d: d["councils"][0].pop("code"), r"councils\[0\]\.code: required value missing"),
    (lambda d: d["councils"][0]["hubs"][0].update(capacity=0), r"councils\[0\]\.hubs\[0\]\.capacity: must be"),
    (lambda d: d.update(council={"hubs": [{"name": "X", "capacity": 1}]}), r"not both"),
    (lambda d: d.pop("councils"), r"give the council .* or a region"),
])
def test_region_config_errors_name_the_key_path(change, message: str) -> None:
    data = _region()
    change(data)
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_region_config_file_loads() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH.parent / "region.yaml")
    assert len(cfg.region) == 10 and len({c.code for c in cfg.region}) == 10
