"""CIN census DfE rules 8820, 8940, 4014 (overlapping episodes and plans) and 8750 (sex of an unborn child): each
fires on a census that breaks it and stays silent on one that does not; all are warnings (the rows are kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.statutory._helpers import rules, run, write_manifest, write_residence

YEAR = 2023


def _cpp(start: str, end: str | None = None) -> str:
    return (f"<ChildProtectionPlans><CPPstartDate>{start}</CPPstartDate>"
            + (f"<CPPendDate>{end}</CPPendDate>" if end else "")
            + "<InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse><LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>"
              "<NumberOfPreviousCPP>1</NumberOfPreviousCPP></ChildProtectionPlans>")


def _cin_plan(start: str, end: str | None = None) -> str:
    return (f"<CINPlanDates><CINPlanStartDate>{start}</CINPlanStartDate>"
            + (f"<CINPlanEndDate>{end}</CINPlanEndDate>" if end else "") + "</CINPlanDates>")


def _episode(referral: str, closure: str | None = None, *, plans: str = "", cpps: str = "") -> str:
    closed = f"<CINclosureDate>{closure}</CINclosureDate><ReasonForClosure>RC7</ReasonForClosure>" if closure else ""
    return (f"<CINdetails><CINreferralDate>{referral}</CINreferralDate><ReferralSource>2A</ReferralSource>{closed}"
            f"{plans}<ReferralNFA>false</ReferralNFA>{cpps}</CINdetails>")


def _import(tmp: Path, episodes: list[str], identifiers: str = "<PersonBirthDate>2015-05-01</PersonBirthDate>"
            "<GenderCurrent>1</GenderCurrent>"):
    xml = ('<?xml version="1.0" encoding="utf-8"?>\n<Message><Header><CollectionDetails><Collection>CIN</Collection>'
           f"<Year>{YEAR}</Year><ReferenceDate>{YEAR}-03-31</ReferenceDate></CollectionDetails><Source>"
           "<SourceLevel>L</SourceLevel><LEA>201</LEA><SoftwareCode>test</SoftwareCode><Release>1</Release>"
           f"<SerialNo>001</SerialNo><DateTime>{YEAR}-04-01T00:00:00</DateTime></Source></Header><Children><Child>"
           f"<ChildIdentifiers><LAchildID>K1</LAchildID>{identifiers}</ChildIdentifiers>"
           "<ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>"
           + "".join(episodes) + "</Child></Children></Message>\n")
    (tmp / "cin.xml").write_text(xml, encoding="utf-8")
    write_residence(tmp / "residence.csv", ["K1"], start="2015-05-01")
    m = write_manifest(tmp / "manifest.yaml", residence="residence.csv", cin_census=[{"year": YEAR, "file": "cin.xml"}])
    res = run(m)[0]
    (check,) = res.report["schema_checks"]
    assert check["violations"] == 0, check["first"]   # the test files themselves conform to the year's XSD
    return res


CASES = {
    # rule: (episodes that break it, episodes that come close without breaking it)
    "8820": ([_episode("2022-05-01", "2022-09-01"), _episode("2022-08-01", "2022-10-01")],
             [_episode("2022-05-01", "2022-08-01"), _episode("2022-08-01", "2022-10-01")]),
    "8940": ([_episode("2022-05-01", cpps=_cpp("2022-05-10", "2022-09-01") + _cpp("2022-08-15"))],
             [_episode("2022-05-01", cpps=_cpp("2022-05-10", "2022-08-15") + _cpp("2022-08-15"))]),
    "4014": ([_episode("2022-05-01", plans=_cin_plan("2022-05-10") + _cin_plan("2022-12-01", "2023-01-10"))],
             [_episode("2022-05-01", plans=_cin_plan("2022-05-10", "2022-11-30") + _cin_plan("2022-12-01"))]),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_overlap_rule_fires_and_keeps_both(tmp_path: Path, rule: str) -> None:
    breaks, fine = CASES[rule]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    res = _import(tmp_path / "a", breaks)
    assert rules(res).get((rule, "W")) == 1
    assert sum(f["refused"] for f in res.report["files"]) == 0
    etype = {"8820": "referral", "8940": "cp_plan", "4014": "cin_plan"}[rule]
    assert (res.events["event_type"] == etype).sum() == 2   # a warning: both overlapping items are imported
    ok = _import(tmp_path / "b", fine)
    assert (rule, "W") not in rules(ok)


def test_8750_sex_of_an_unborn_child(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    unborn = "<ExpectedPersonBirthDate>2023-06-01</ExpectedPersonBirthDate><GenderCurrent>{}</GenderCurrent>"
    res = _import(tmp_path / "a", [_episode("2023-01-10")], unborn.format(2))
    assert rules(res)[("8750", "W")] == 1
    assert res.report["counts"]["unborn_children_held_back"] == 1 and len(res.children) == 0
    ok = _import(tmp_path / "b", [_episode("2023-01-10")], unborn.format(0))
    assert ("8750", "W") not in rules(ok)
    assert ok.report["counts"]["unborn_children_held_back"] == 1
