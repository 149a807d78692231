"""SPEC §5.6, §6.6 and §7.6: the contract rows each liia-tools sample must produce, row by row."""

from __future__ import annotations

from tests.statutory._helpers import ANNEX_A_IDS, liia_manifests, rules, run, write_manifest, write_residence


def _rows(ev, key):
    sub = ev[ev["key"] == key].sort_values("event_date")
    return [(r.event_type, r.event_date, r.end_date, r.source, r.detail) for r in sub.itertuples()]


# --- §5.6 SSDA903 -------------------------------------------------------------------------------------------

def _s903_manifest(samples, header):
    write_residence(samples / "residence.csv", ["689661", "249901"])
    return write_manifest(samples / "manifest.yaml", residence="residence.csv", ssda903=[
        {"year": 2020, "files": {"header": header, "episodes": "s903/SSDA903_2020_episodes.csv"}}])


def test_903_sample_header_rejects_both_children(samples):
    res, ev, ch = run(_s903_manifest(samples, "s903/SSDA903_2020_header.csv"))
    assert len(ch) == 0 and len(ev) == 0
    r = rules(res)
    assert r[("INT32", "E")] >= 4 and r[("103", "E")] >= 1
    q = res.quarantine
    assert len(q["ssda903_header"]) == 5 and len(q["ssda903_episodes"]) == 5
    assert all("INT32" in x or "103" in x for x in q["ssda903_episodes"]["reasons"])


def test_903_sample_corrected_header(samples):
    (samples / "h.csv").write_text("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n689661,1,11/07/2015,WBRI,3412,,\n"
                                   "249901,2,07/01/2013,WBRI,3634645,,\n")
    res, ev, ch = run(_s903_manifest(samples, "h.csv"))
    assert _rows(ev, "249901") == [("looked_after", "2019-03-30", "2019-06-24", None, "N6")]
    assert list(ch["key"]) == ["249901"]
    lin = res.lineage
    assert "left_censored" in lin["rules_applied"].iloc[0]
    r = rules(res)
    assert r[("388", "W")] == 1
    q = res.quarantine["ssda903_episodes"]            # 689661: every row refused with the child (501)
    assert list(q["row"]) == [1, 2, 3] and q["reasons"].str.startswith("501").all()
    assert res.quarantine["ssda903_header"]["reasons"].str.startswith("501").all()
    assert "689661" not in set(ch["key"])
    assert res.report["counts"]["left_censored_periods"] == 1


def test_903_liia_tools_repairs(samples):
    expected = {
        "NORULE_BAD": [("2015-06-19", "2021-12-12")],
        "NORULE_NEW": [("2022-02-01", "2022-07-10"), ("2022-10-23", None)],
        "NORULE_SUT": [("2017-12-15", None)],
        "RULE1A_BAD": [("2016-01-22", "2017-03-31"), ("2017-04-20", "2017-06-13")],
        "RULE1_BAD": [("2016-01-13", "2019-07-23")],
        "RULE2_BAD": [("2019-05-10", "2020-03-31")],
        "RULE3A_BAD": [("2017-11-25", "2018-05-16")],
        "RULE3_BAD": [("2016-09-23", "2017-05-30")],
        "RULE4_BAD": [("2018-11-23", "2019-10-01")],
        "RULE5_BAD": [("2019-11-06", None)],
    }
    got, flags, all_rules, left = {}, {}, {}, {}
    for manifest in liia_manifests(samples).values():
        res, ev, ch = run(manifest)
        for k in set(ev["key"]):
            got[k] = [(d, e) for _, d, e, _, _ in _rows(ev, k)]
            assert {x[4] for x in _rows(ev, k)} == ({"N6"} if k == "RULE2_BAD" else {"N1"})
            ids = ev[ev["key"] == k].sort_values("event_date")["event_id"]
            flags[k] = [set(";".join(res.lineage[res.lineage["event_id"] == i]["rules_applied"]).split(";"))
                        for i in ids]
        left.update(dict(zip(ch["key"], ch["left_on"], strict=True)))
        for (r, sev), n in rules(res).items():
            all_rules[(r, sev)] = all_rules.get((r, sev), 0) + n
    assert got == expected
    assert "left_censored" in flags["NORULE_BAD"][0] and "left_censored" in flags["NORULE_NEW"][0]
    assert "left_censored" not in flags["NORULE_NEW"][1]
    assert {"left_censored", "RULE_1"} <= flags["RULE1_BAD"][0]
    assert {"end_imputed", "RULE_1A"} <= flags["RULE1A_BAD"][0]
    assert {"end_imputed", "RULE_2"} <= flags["RULE2_BAD"][0]
    assert "RULE_4" in flags["RULE4_BAD"][0] and "RULE_5" in flags["RULE5_BAD"][0]
    assert "357" in flags["RULE5_BAD"][0]
    assert left["RULE3_BAD"] == "2017-05-30"       # REC=E2: the death caps left_on
    for rule in ("RULE_1", "RULE_1A", "RULE_2", "RULE_3", "RULE_4", "RULE_5"):
        assert all_rules[(rule, "W")] == 1, rule
    assert all_rules[("RULE_3A", "W")] == 2           # RULE3A_BAD, and RULE4_BAD's open 2018-12-24 episode


# --- §6.6 CIN census ------------------------------------------------------------------------------------------

def test_cin_sample(samples):
    write_residence(samples / "residence.csv", ["DfEX0000001"])
    m = write_manifest(samples / "manifest.yaml", residence="residence.csv",
                       cin_census=[{"year": 2022, "file": "cin_census/cin-2022.xml"}])
    res, ev, ch = run(m)
    c = ch.iloc[0]
    assert (c.key, c.date_of_birth, c.sex, c.ethnicity, c.disability, c.left_on) == (
        "DFEX0000001", "1966-03-24", "male", "WBRI", "yes", "1980-10-08")
    # strict: only the s47 survives (starts before the referral: W 2889, kept)
    assert _rows(ev, "DFEX0000001") == [("section_47", "1970-06-02", None, None, None)]
    r = rules(res)
    for rule in ("8525Q", "1103", "2889", "1105", "DEATH"):
        assert r[(rule, "W")] == 1, rule
    for rule in ("8620", "8696", "4013", "8930"):
        assert r[(rule, "E")] == 1, rule
    q = {t: df for t, df in res.quarantine.items()}
    assert q["cin_census_assessments"].iloc[0]["detail"] == "2A;2B"
    assert q["cin_census_childprotectionplans"].iloc[0]["detail"] == "physical"
    assert q["cin_census_cindetails"].iloc[0]["source"] == "individual"
    assert res.extract_date.isoformat() == "2022-03-31"


# --- §7.6 Annex A ---------------------------------------------------------------------------------------------

def test_annex_a_sample(samples):
    write_residence(samples / "residence.csv", ANNEX_A_IDS)
    m = write_manifest(samples / "manifest.yaml", residence="residence.csv",
                       annex_a=[{"extracted_on": "2021-03-31", "file": "annex_a/Annex_A.xlsx"}])
    res, ev, ch = run(m)
    assert len(ch) == 40
    assert {"11973218", "2529037"}.isdisjoint(set(ch["key"]))
    counts = ev["event_type"].value_counts().to_dict()
    assert counts == {"contact": 4, "early_help": 5, "referral": 6, "assessment": 5, "section_47": 5,
                      "cp_plan": 6, "looked_after": 4}
    contacts = ev[ev["event_type"] == "contact"]
    assert set(contacts["event_date"]) == {"2020-09-16"}
    assert sorted(contacts["source"]) == ["individual", "police", "police", "unknown"]
    refs = ev[ev["event_type"] == "referral"]
    assert sorted(refs["source"]) == ["health", "other", "police", "police", "police", "school"]
    assert _rows(ev, "612306")[0] == ("early_help", "2020-09-16", "2020-09-30", None, None)
    ass = ev[ev["event_type"] == "assessment"]
    assert ass["detail"].isna().all() and ass["event_date"].min() == "2020-11-11"
    assert ass["event_date"].max() == "2021-02-08"
    assert "15765513" in set(ass["key"])            # started 22 days before birth: allowed
    s47 = ev[ev["event_type"] == "section_47"]
    assert set(s47["event_date"]) == {"2020-09-16"} and "6537810" in set(refs["key"]) & set(s47["key"])
    cp = ev[ev["event_type"] == "cp_plan"]
    assert sorted(cp["detail"]) == ["emotional"] * 3 + ["physical"] * 3
    assert "6913085" not in set(cp["key"]) and "10721552" in set(cp["key"])
    assert "6913085" in set(ch["key"])               # only its plan is refused (8606), not the child
    la = ev[ev["event_type"] == "looked_after"]
    assert set(la["detail"]) == {"N1"}
    assert _rows(ev, "3623204")[-1][2] == "2020-09-22"
    assert ch.set_index("key").loc["14065184", "ethnicity"] == "NOBT"
    assert ch.set_index("key").loc["9212044", "sex"] == "female"
    r = rules(res)
    assert r[("302", "E")] == 2      # the List 8 row and, with the child, its residence row
    assert r[("8606", "E")] == 1 and r[("103", "W")] == 1
    lists = {f["table"]: f for f in res.report["files"] if f["format"] == "annex_a"}
    assert lists["List 1"]["refused"] == 1 and lists["List 6"]["held_back"] == 5
    assert lists["List 9"]["held_back"] == 6 and lists["List 8"]["refused"] == 1
