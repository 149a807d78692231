"""Lists: top-k per hub by capacity plus the threshold, reproducible ranks, what changed, no ethnicity, the notice."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from core.config import Config
from serving.lists import change_text, hub_list, left_the_list, rank_families, what_changed
from serving.scoring import score_cohort, write_scoring
from training.model import RiskModel


def _scores(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"child_id": c, "family_id": f, "hub": h, "probability": p, "age_years": 7,
                          "previously_known": False} for c, f, h, p in rows])


def test_top_k_per_hub_honours_capacity(s_model: RiskModel, s_cohort: pd.DataFrame, s_config: Config) -> None:
    fam = score_cohort(s_model, s_cohort, s_config).families
    for hub in s_config.council.hubs:
        in_hub = fam[fam["hub"] == hub.name].sort_values("rank_in_hub")
        listed = in_hub[in_hub["listed"]]
        over = in_hub["family_risk"] >= s_config.serving.list_probability_threshold
        assert len(listed) == max(hub.capacity, int(over.sum()))
        assert list(listed["rank_in_hub"]) == list(range(1, len(listed) + 1))
        # the listed are the hub's highest family risks
        assert listed["family_risk"].min() >= in_hub.loc[~in_hub["listed"], "family_risk"].max()


def test_threshold_lists_beyond_capacity(s_config_with) -> None:
    config = s_config_with(list_probability_threshold=0.5)
    rows = [(f"c{i}", f"f{i}", "Eastgate", p) for i, p in enumerate([0.9, 0.8, 0.6, 0.55, 0.2, 0.1])]
    fam = rank_families(_scores(rows), config)  # Eastgate's capacity is 2
    assert sorted(fam.loc[fam["listed"], "family_id"]) == ["f0", "f1", "f2", "f3"]


def test_family_risk_ranks_whole_families_and_ties_break_by_id(s_config: Config) -> None:
    config = s_config
    rows = [("a1", "fa", "Eastgate", 0.3), ("a2", "fa", "Eastgate", 0.3),  # family risk 0.51
            ("b1", "fb", "Eastgate", 0.5), ("c1", "fc", "Eastgate", 0.5), ("d1", "fd", "Eastgate", 0.1)]
    fam = rank_families(_scores(rows), config).set_index("family_id")
    assert fam.loc["fa", "rank_in_hub"] == 1
    assert (fam.loc["fb", "rank_in_hub"], fam.loc["fc", "rank_in_hub"]) == (2, 3)
    assert list(fam.loc[fam["listed"]].index) == ["fa", "fb"]
    kids = json.loads(fam.loc["fa", "children"])
    assert [k["child_id"] for k in kids] == ["a1", "a2"] and kids[0]["probability"] == 0.3


def _families(rows: list[dict]) -> pd.DataFrame:
    base = {"hub": "Eastgate", "listed": True, "rank_in_hub": 1, "reasons": "[]", "reason_groups": "[]"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_what_changed_against_a_previous_list() -> None:
    previous = _families([
        {"family_id": "f1", "family_risk": 0.30, "reasons": json.dumps(["2 referrals"]),
         "reason_groups": json.dumps(["referral"])},
        {"family_id": "f2", "family_risk": 0.40, "listed": False, "rank_in_hub": 9},
        {"family_id": "f3", "family_risk": 0.50},
        {"family_id": "f9", "family_risk": 0.50, "rank_in_hub": 4},
    ])
    now = _families([
        {"family_id": "f1", "family_risk": 0.36, "reasons": json.dumps(["3 referrals", "On a CP plan now"]),
         "reason_groups": json.dumps(["referral", "cp_plan"])},
        {"family_id": "f2", "family_risk": 0.45, "rank_in_hub": 2},
        {"family_id": "f3", "family_risk": 0.405, "rank_in_hub": 3},
        {"family_id": "f4", "family_risk": 0.2, "rank_in_hub": 4},
        {"family_id": "f5", "family_risk": 0.1, "listed": False, "rank_in_hub": 5},
    ])
    ch = what_changed(now, previous)
    assert ch[0] == {"new_to_list": False, "risk_change": 0.06, "direction": "up", "previous_rank": 1,
                     "new_reasons": ["On a CP plan now"]}
    assert ch[1]["new_to_list"] is True and ch[1]["direction"] == "up" and ch[1]["previous_rank"] == 9
    assert ch[2]["direction"] == "down" and ch[2]["new_to_list"] is False
    assert ch[3] == {"new_to_list": True, "risk_change": None, "direction": "new", "previous_rank": None,
                     "new_reasons": []}
    assert ch[4] is None  # not listed: nothing to say
    assert change_text(ch[0], 0.36) == "risk up from 30% to 36%; new reason: On a CP plan now"
    assert change_text(ch[3], 0.2) == "new to the list"
    assert left_the_list(now, previous, "Eastgate") == [{"family_id": "f9", "status": "no longer in the cohort "
                                                          "(moved away, turned 18 or looked after)"}]
    assert what_changed(now, None).isna().all()


def test_what_changed_end_to_end(tmp_path, s_model: RiskModel, s_cohort: pd.DataFrame,
                                 s_config: Config) -> None:
    from serving.lists import read_previous

    earlier = s_cohort.copy()
    earlier["n_domestic_abuse_6m"] = 0.0  # no notifications last quarter
    write_scoring(score_cohort(s_model, earlier, s_config), tmp_path / "before", s_config, charts=False)
    previous = read_previous(tmp_path / "before")
    now = score_cohort(s_model, s_cohort, s_config, previous=previous).families
    listed = now[now["listed"]]
    assert listed["changes"].map(lambda c: isinstance(c, dict)).all()
    new_da = [c for c in listed["changes"] if any("domestic abuse" in r for r in c["new_reasons"])]
    assert new_da, "domestic abuse reasons are new since the previous list"
    assert any(c["direction"] == "up" for c in listed["changes"])


def test_hub_list_csv_carries_no_ethnicity_and_reads_in_rank_order(s_model: RiskModel, s_cohort: pd.DataFrame,
                                                                    s_config: Config) -> None:
    fam = score_cohort(s_model, s_cohort, s_config).families
    table = hub_list(fam, "Riverside")
    assert list(table["rank"]) == sorted(table["rank"]) and len(table) == 4
    assert not any("ethnic" in c for c in table.columns)
    text = table.to_csv()
    assert not any(code in text for code in ("WBRI", "ABAN", "BAFR"))
    assert table["reason_1"].str.len().gt(0).all()
    assert np.all(table["risk_percent"].between(0, 100))


def test_html_escapes_and_says_decision_support(tmp_path, s_model: RiskModel, s_cohort: pd.DataFrame,
                                                s_config: Config) -> None:
    cohort = s_cohort.copy()
    cohort.loc[cohort["family_id"] == cohort["family_id"].iloc[0], "family_id"] = "<script>x</script>"
    result = score_cohort(s_model, cohort, s_config)
    result.families.loc[result.families["family_id"] == "<script>x</script>", "listed"] = True
    out = write_scoring(result, tmp_path / "out", s_config, charts=False)
    for page in [*(out / "lists").glob("*.html"), out / "locality.html"]:
        html = page.read_text()
        assert "Decision support only: a practitioner decides." in html
        assert "<script>" not in html
