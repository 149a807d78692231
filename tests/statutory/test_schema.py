"""CIN census files checked against their collection year's XSD (xmlschema): file, line, path and reason reported."""

from __future__ import annotations

import json

from tests.statutory._helpers import rules, run, write_manifest, write_residence

SAMPLE = "cin_census/cin-2022.xml"


def _import(samples, text: str | None = None, year: int = 2022):
    if text is not None:
        (samples / SAMPLE).write_text(text, encoding="utf-8")
    write_residence(samples / "residence.csv", ["DfEX0000001"])
    m = write_manifest(samples / "manifest.yaml", residence="residence.csv",
                       cin_census=[{"year": year, "file": SAMPLE}])
    return run(m)[0]


def test_the_sample_conforms_to_its_years_xsd(samples):
    res = _import(samples)
    (check,) = res.report["schema_checks"]
    assert (check["file"], check["schema"], check["violations"]) == (SAMPLE, "CIN_schema_2022.xsd", 0)
    assert ("XSD", "W") not in rules(res)


def test_a_broken_file_is_reported_with_line_path_and_reason(samples):
    text = (samples / SAMPLE).read_text(encoding="utf-8")
    lines = text.splitlines()
    nfa = next(i for i, t in enumerate(lines, 1) if "<ReferralNFA>" in t)
    upn = next(i for i, t in enumerate(lines, 1) if "<UPN>" in t)
    broken = text.replace("<ReferralNFA>false</ReferralNFA>", "<ReferralNFA>perhaps</ReferralNFA>")
    broken = broken.replace("<UPN>A123456789123</UPN>", "<UPN>Z99SECRET</UPN>")
    res = _import(samples, broken)
    (check,) = res.report["schema_checks"]
    assert check["violations"] == 2
    first = "\n".join(check["first"])
    assert f"line {nfa}: /Message/Children/Child/CINdetails/ReferralNFA:" in first
    assert f"line {upn}: /Message/Children/Child/ChildIdentifiers/UPN:" in first
    # a warning: the importer's own rules decide the rows (ReferralNFA and UPN are not mapped)
    assert rules(res)[("XSD", "W")] == 2
    assert len(res.events) == 1
    # the offending value (here a UPN) is never repeated in the report
    assert "Z99SECRET" not in json.dumps(res.report)


def test_each_year_uses_its_own_xsd(samples):
    # 2016-17's schema has no CIN plan dates (added in 2021-22): the same file fails it
    res = _import(samples, year=2017)
    (check,) = res.report["schema_checks"]
    assert check["schema"] == "CIN_schema_2017.xsd" and check["violations"] >= 1
    assert any("CINPlanDates" in ex for ex in check["first"])


def test_a_year_without_a_shipped_xsd_is_noted(samples):
    text = (samples / SAMPLE).read_text(encoding="utf-8").replace("<Year>2022</Year>", "<Year>2025</Year>")
    text = text.replace("<GenderCurrent>1</GenderCurrent>", "<Sex>M</Sex>")
    res = _import(samples, text, year=2025)
    (check,) = res.report["schema_checks"]
    assert check["schema"] is None and check["violations"] == 0
    assert any("no XSD shipped for CIN collection year 2025" in n for n in res.report["notes"])
