"""The fairness audit of a region's model: councils are a group, and hubs are per council (two councils may both
have a "North" hub, and their lists are different lists)."""

from __future__ import annotations

from core.config import parse_config
from governance import audit_predictions
from tests.helpers.region import COUNCILS, trained_region


def _region_audit_config():
    return parse_config({"councils": COUNCILS, "fairness": {
        "groups": ["council", "sex", "hub"], "intersections": [["council", "sex"]],
        "primary_attributes": ["sex"], "bootstrap_replicates": 20}})


def test_a_regions_audit_shows_each_council_and_its_own_hubs() -> None:
    predictions = trained_region().result.predictions["test"]
    report = audit_predictions(predictions, _region_audit_config()).report
    tables = {t["attribute"]: t for t in report["tables"]}

    hubs = [row["group"] for row in tables["hub"]["groups"]]
    # every (council, hub) list in the config's order, the two "North" hubs apart
    assert hubs == [f"{c['code']}/{h['name']}" for c in COUNCILS for h in c["hubs"]]
    councils = {row["group"]: row for row in tables["council"]["groups"]}
    assert sorted(councils) == ["301", "302", "303"]
    labelled = predictions.loc[predictions["label"].notna()]
    for code, row in councils.items():  # each council's rows are its own children's (none is under 10 here)
        assert row["counts"]["n"] == int((labelled["council"].astype(str) == code).sum())
    assert {g["group"].split(" / ")[0] for g in tables["council_x_sex"]["groups"]} <= set(councils)
