"""Reader details: 903 XML, CIN census namespaces and the 2024-25 `Sex`, unborn children, Annex A values, IDs."""

from __future__ import annotations

import datetime as dt

from statutory._read import aa_date, aa_value, norm_key
from tests.statutory._helpers import rules, run, write_manifest, write_residence

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n689661,1,11/07/2015,WBRI,3412,,\n249901,2,07/01/2013,WBRI,3634645,,\n"


def test_903_xml_equals_csv(samples):
    (samples / "h.csv").write_text(HEADER)
    write_residence(samples / "residence.csv", ["689661", "249901"])
    m = write_manifest(samples / "m.yaml", residence="residence.csv", ssda903=[
        {"year": 2020, "files": {"header": "h.csv", "episodes": "s903/SSDA903_2020_episodes.csv"}}])
    _, ev_csv, ch_csv = run(m)
    xml = ["<EXPSSDA903>"]
    eps = (samples / "s903" / "SSDA903_2020_episodes.csv").read_text().splitlines()
    cols = eps[0].split(",")
    for line in HEADER.splitlines()[1:]:
        child, sex, dob, eth, upn, *_ = line.split(",")
        xml.append(f"<CHILD><CHILDID>{child}</CHILDID><HEADER><UPN>{upn}</UPN><SEX>{sex}</SEX><DOB>{dob}</DOB>"
                   f"<ETHNIC>{eth}</ETHNIC><MOTHER/><MC_DOB/></HEADER>")
        for e in eps[1:]:
            row = dict(zip(cols, e.split(","), strict=True))
            if row["CHILD"] == child:
                row["PL"] = row.pop("PLACE")
                xml.append("<EPISODE>" + "".join(f"<{k}>{v}</{k}>" for k, v in row.items() if k != "CHILD")
                           + "</EPISODE>")
        xml.append("</CHILD>")
    xml.append("</EXPSSDA903>")
    (samples / "903.xml").write_text("".join(xml))
    m = write_manifest(samples / "m.yaml", residence="residence.csv", ssda903=[{"year": 2020, "xml": "903.xml"}])
    _, ev_xml, ch_xml = run(m)
    cols = ["event_id", "child_id", "event_type", "event_date", "end_date", "detail"]
    assert ev_xml[cols].equals(ev_csv[cols]) and len(ev_xml) == 1
    assert ch_xml.equals(ch_csv)


CIN_2025 = """<?xml version="1.0"?>
<Message xmlns="http://www.dfe.gov.uk/CIN"><Header><CollectionDetails><Collection>CIN</Collection><Year>2025</Year>
<ReferenceDate>2025-03-31</ReferenceDate></CollectionDetails><Source><LEA>201</LEA></Source></Header><Children>
<Child><ChildIdentifiers><LAchildID>A1</LAchildID><PersonBirthDate>2015-05-05</PersonBirthDate><Sex>F</Sex>
</ChildIdentifiers><ChildCharacteristics><Ethnicity>BAFR</Ethnicity><Disabilities><Disability>NONE</Disability>
</Disabilities></ChildCharacteristics>
<CINdetails><CINreferralDate>2024-06-01</CINreferralDate><ReferralSource>5D</ReferralSource>
<Assessments><AssessmentActualStartDate>2024-06-02</AssessmentActualStartDate>
<AssessmentAuthorisationDate>2024-07-01</AssessmentAuthorisationDate><FactorsIdentifiedAtAssessment>
<AssessmentFactors>21</AssessmentFactors><AssessmentFactors>20</AssessmentFactors>
<AssessmentFactors>4B</AssessmentFactors><AssessmentFactors>10A</AssessmentFactors></FactorsIdentifiedAtAssessment>
</Assessments><Assessments><AssessmentActualStartDate>2025-03-01</AssessmentActualStartDate></Assessments>
<CINPlanDates><CINPlanStartDate>2024-08-01</CINPlanStartDate></CINPlanDates><ReferralNFA>false</ReferralNFA>
</CINdetails></Child>
<Child><ChildIdentifiers><LAchildID>U9</LAchildID><ExpectedPersonBirthDate>2025-06-01</ExpectedPersonBirthDate>
<Sex>U</Sex></ChildIdentifiers><ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
<CINdetails><CINreferralDate>2025-01-10</CINreferralDate><ReferralSource>3B</ReferralSource><ReferralNFA>false
</ReferralNFA></CINdetails></Child>
</Children></Message>"""


def test_cin_2025_namespace_sex_factors_unborn(samples):
    (samples / "cin.xml").write_text(CIN_2025)
    write_residence(samples / "residence.csv", ["A1", "U9"], start="2015-05-05")
    m = write_manifest(samples / "m.yaml", residence="residence.csv", cin_census=[{"year": 2025, "file": "cin.xml"}])
    res, ev, ch = run(m)
    assert list(ch["key"]) == ["A1"]
    c = ch.iloc[0]
    assert (c.sex, c.ethnicity, c.disability) == ("female", "BAFR", "no")
    got = {r.event_type: (r.event_date, r.end_date, r.source, r.detail) for r in ev.itertuples()}
    assert got == {"referral": ("2024-06-01", None, "la_services", None),
                   "assessment": ("2024-07-01", None, None, "4B;10A;20"),   # 21 dropped (8869), natural order
                   "cin_plan": ("2024-08-01", None, None, None)}
    r = rules(res)
    assert r[("8869", "W")] == 1
    assert res.report["counts"]["assessments_in_progress"] == 1
    assert res.report["counts"]["unborn_children_held_back"] == 1
    files = {f["table"]: f for f in res.report["files"]}
    assert files["Assessments"]["held_back"] == 1 and files["Child"]["held_back"] == 1


def test_annex_a_values_and_dates():
    vm: dict = {}
    assert aa_value("source", "q) 6: Police", vm, 1) == ("police", True)
    assert aa_value("source", "6: Police", vm, 1) == ("police", True)
    assert aa_value("source", "Police", vm, 1) == (None, False)          # no fuzzy matching
    assert aa_value("ethnicity", "k) APKN", vm, 1) == ("APKN", True)
    assert aa_value("ethnicity", "Pakistani", vm, 1) == ("APKN", True)
    assert aa_value("ethnicity", "UNKN", vm, 1) == (None, False)
    assert aa_value("gender", "b) Female", vm, 1) == ("female", True)
    assert aa_value("gender", "d) Neither", vm, 1) == ("neither", True)
    assert aa_value("need", "N1 - Abuse or Neglect", vm, 8) == ("N1", True)
    assert aa_value("legal_status", "C2: FCO", vm, 8) == ("C2", True)
    assert aa_value("abuse", "Emotional abuse", vm, 7) == ("emotional", True)
    assert aa_value("source", "Cops", {("1:source", "cops"): "police"}, 1) == ("police", True)
    assert aa_date("16/09/2020") == (dt.date(2020, 9, 16), True)
    assert aa_date("2020-09-16 00:00:00") == (dt.date(2020, 9, 16), True)
    assert aa_date(44090.0) == (dt.date(2020, 9, 16), True)
    assert aa_date("#N/A") == (None, False)
    assert aa_date("9/16/20") == (None, False)


def test_child_keys():
    assert norm_key(" 12345.0 ") == "12345"
    assert norm_key(12345.0) == "12345"
    assert norm_key("abc 1") == "ABC1"
    assert norm_key("") is None


def test_pseudonym_applies_the_child_key_rule():
    """One child to the importer is one pseudonym to anyone holding the key: a council mapping its raw ids
    (lower-case, spaced, Excel's .0) gets the pseudonyms the import wrote."""
    from statutory import Pseudonymiser

    p = Pseudonymiser(b"k", "201")
    assert p.child("c1a2b") == p.child(" C1A2B") == p.child("C1A2B")
    assert p.child("12345.0") == p.child("12345") != p.child("012345")
    assert Pseudonymiser(b"other", "201").child("C1A2B") != p.child("C1A2B")


def test_leading_zero_collision_refuses_both(samples):
    (samples / "h.csv").write_text("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n012345,1,11/07/2015,WBRI,,,\n"
                                   "12345,2,07/01/2013,WBRI,,,\n")
    (samples / "e.csv").write_text("CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,"
                                   "HOME_POST,PL_POST,URN\n")
    write_residence(samples / "residence.csv", ["012345", "12345"])
    m = write_manifest(samples / "m.yaml", residence="residence.csv", ssda903=[
        {"year": 2020, "files": {"header": "h.csv", "episodes": "e.csv"}}])
    res, ev, ch = run(m)
    assert len(ch) == 0 and rules(res)[("ID-ZEROS", "E")] == 4


def test_partner_feed_rows_refused_held_and_mapped(samples):
    (samples / "cin.xml").write_text(CIN_2025)
    write_residence(samples / "residence.csv", ["A1", "U9", "NEVER1"], start="2015-05-05")
    (samples / "links.csv").write_text("child_key,family_key,basis,valid_from,valid_to\nA1,H1,cms_household,,\n")
    (samples / "partner.csv").write_text(
        "child_key,family_key,event_type,event_date,detail\n"
        "A1,,ae_attendance,2024-05-01,\n"                      # mapped
        "A1,,ae_attendance,2024-05-01,\n"                      # mapped: a second attendance that day
        ",H1,domestic_abuse_notification,2024-04-01,\n"        # mapped: household event
        "NEVER1,,school_persistent_absence,2024-02-01,\n"      # held: in no return
        "A1,,school_exclusion,2024-02-01,\n"                   # refused: exclusion needs its type
        ",,homelessness,2024-02-01,\n"                         # refused: no key
        "ZZZ,,ae_attendance,01/02/2024,\n"                     # refused: unknown key and date format
        "A1,,ae_attendance,2025-06-01,\n")                     # held: after the extract date
    m = write_manifest(samples / "m.yaml", residence="residence.csv", family_links="links.csv",
                       partner_events="partner.csv", cin_census=[{"year": 2025, "file": "cin.xml"}])
    res, ev, ch = run(m)
    f = next(x for x in res.report["files"] if x["format"] == "partner_events")
    assert (f["read"], f["mapped"], f["refused"], f["held_back"]) == (8, 3, 3, 2)
    part = ev[ev["event_type"].isin(["ae_attendance", "domestic_abuse_notification"])]
    assert len(part) == 3 and part["event_id"].is_unique
    fam = part[part["child_id"].isna()]
    assert list(fam["family_id"]) == [ch.iloc[0]["family_id"]]
    q = res.quarantine["partner_events_partner_events"]
    assert list(q["row"]) == [5, 6, 7]
    assert "PARTNER-DATE" in q.iloc[2]["reasons"] and "PARTNER-KEY" in q.iloc[2]["reasons"]


def test_formats_not_sharing_one_id_scheme_stop_the_import(samples):
    import pytest

    from statutory import ImportError_

    keys = [f"K{i}" for i in range(25)]
    (samples / "h.csv").write_text("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
                                   + "".join(f"{k},1,01/02/2010,WBRI,,,\n" for k in keys))
    (samples / "e.csv").write_text("CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,"
                                   "HOME_POST,PL_POST,URN\n")
    kids = "".join(f"<Child><ChildIdentifiers><LAchildID>{k}</LAchildID><PersonBirthDate>2011-0{1 + i % 9}-15"
                   "</PersonBirthDate><GenderCurrent>1</GenderCurrent></ChildIdentifiers><ChildCharacteristics>"
                   "<Ethnicity>WBRI</Ethnicity></ChildCharacteristics><CINdetails><CINreferralDate>2019-06-01"
                   "</CINreferralDate><ReferralSource>6</ReferralSource></CINdetails></Child>"
                   for i, k in enumerate(keys))
    (samples / "cin.xml").write_text(f"<Message><Header><CollectionDetails><ReferenceDate>2020-03-31</ReferenceDate>"
                                     f"</CollectionDetails></Header><Children>{kids}</Children></Message>")
    write_residence(samples / "residence.csv", keys)
    m = write_manifest(samples / "m.yaml", residence="residence.csv",
                       ssda903=[{"year": 2020, "files": {"header": "h.csv", "episodes": "e.csv"}}],
                       cin_census=[{"year": 2020, "file": "cin.xml"}])
    with pytest.raises(ImportError_, match="do not share one child ID scheme"):
        run(m)
