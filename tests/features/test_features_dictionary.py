"""The feature dictionary covers every feature for any windows, and renders plain English."""

from __future__ import annotations

import math
import re

import pytest

from core.config import load_config, parse_config
from features import FEATURE_DICTIONARY, describe, feature_columns

CFG = load_config()
OTHER = parse_config({**CFG.model_dump(mode="json"), "features": {"windows_months": [1, 9, 36]}})
UNITS = {"count", "days", "months", "flag", "difference", "code", "decile"}


@pytest.mark.parametrize("cfg", [CFG, OTHER], ids=["default", "windows-1-9-36"])
def test_every_feature_has_an_entry(cfg) -> None:
    missing = [n for n in feature_columns(cfg) if n not in FEATURE_DICTIONARY]
    assert not missing
    for name in feature_columns(cfg):
        info = FEATURE_DICTIONARY[name]
        assert info.name == name and info.unit in UNITS and info.label
        assert "{value}" in info.template or info.unit == "flag"


@pytest.mark.parametrize("cfg", [CFG, OTHER], ids=["default", "windows-1-9-36"])
def test_every_feature_renders_without_placeholders(cfg) -> None:
    for name in feature_columns(cfg):
        for value in (0, 1, 2, 7.6, 45, -1, -3, None, math.nan):
            text = describe(name, value)
            assert text and not re.search(r"[{}]", text), (name, value, text)
            assert "nan" not in text.lower().split(), (name, value, text)


def test_unknown_feature_is_refused() -> None:
    assert "n_contact_bogus" not in FEATURE_DICTIONARY
    with pytest.raises(KeyError):
        describe("no_such_feature", 1)


@pytest.mark.parametrize(("name", "value", "text"), [
    ("n_domestic_abuse_6m", 3, "3 police domestic abuse notifications in the last 6 months"),
    ("n_domestic_abuse_6m", 1, "1 police domestic abuse notification in the last 6 months"),
    ("n_domestic_abuse_6m", 0, "no police domestic abuse notifications in the last 6 months"),
    ("days_since_contact", 45, "last contact with children's services 45 days ago"),
    ("days_since_contact", 1, "last contact with children's services 1 day ago"),
    ("days_since_contact", math.nan, "no contact with children's services recorded so far"),
    ("cp_plan_open_months", 4.2, "on a child protection plan for 4 months"),
    ("cp_plan_open_months", 14, "on a child protection plan for 1 year 2 months"),
    ("cp_plan_open_months", 0.3, "on a child protection plan for less than a month"),
    ("cp_plan_open_months", 0, "not on a child protection plan"),
    ("cp_plan_open", 1, "on a child protection plan now"),
    ("n_referral_ever", 0, "no record of referrals to children's social care"),
    ("n_contact_police_12m", 2, "2 contacts from the police in the last 12 months"),
    ("trend_referral_12m", -2, "2 fewer referrals to children's social care in the last 12 months than in the "
                               "12 months before"),
    ("trend_referral_12m", 1, "1 more referral to children's social care in the last 12 months than in the "
                              "12 months before"),
    ("sibling_looked_after_open", 2, "2 siblings looked after now"),
    ("age_months", 87, "aged 7 years 3 months"),
    ("months_resident", 0, "arrived in the area less than a month ago"),
    ("n_previous_cp_plan", 1, "1 previous child protection plan"),
    ("deprivation_decile", 2, "living in deprivation decile 2 (1 is the most deprived)"),
])
def test_plain_english(name: str, value: float, text: str) -> None:
    assert describe(name, value) == text


def test_hub_code_names_the_hub_when_given_the_hub_list() -> None:
    assert describe("hub_code", 1, hub_names=CFG.council.hub_names) == f"in the {CFG.council.hub_names[1]} hub"
    assert describe("hub_code", 1) == "in hub 1"


def test_defaults_match_the_kind() -> None:
    for name in feature_columns(CFG):
        info = FEATURE_DICTIONARY[name]
        if info.kind == "days_since":
            assert math.isnan(info.default)
        elif info.kind == "static":
            assert info.default is None
        else:
            assert info.default == 0.0
