"""Contract tables -> the councils' own formats (903 per year, CIN census XML per year, Annex A workbooks,
residence, family links, partner feed and a manifest): what `upstream simulate --returns DIR` writes.

Only what the returns can carry is written; everything else is counted in `losses.json` (the documented
losses of the returns), so that `upstream import` of the result reproduces the contract tables up to them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

from core.contract import PARTNER_EVENT_TYPES
from core.io import atomic_dir, write_json
from statutory._codes import ABUSE_CODE, SEX_ANNEX_A_LABEL, SOURCE_CODE

SOURCE_LABEL = {"1A": "a) 1A: Individual", "2A": "e) 2A: Schools", "3A": "g) 3A: Health services",
                "4": "m) 4: Housing", "5A": "n) 5A: LA services", "6": "q) 6: Police", "8": "s) 8: Other",
                "10": "u) 10: Unknown"}
SEX_CIN_OLD = {"male": "1", "female": "2", "not_recorded": "0", "neither": "9"}
SEX_CIN_NEW = {"male": "M", "female": "F", "not_recorded": "U"}
SEX_903_OLD = {"male": "1", "female": "2"}
SEX_903_NEW = {"male": "M", "female": "F", "not_recorded": "U"}
SPLIT_DAYS = 180   # periods longer than a year are written as two episodes (a placement change) at this day
AA_COMMON = ["Child Unique ID", "Gender", "Ethnicity", "Date of Birth", "Age"]
AA_SHEETS = {
    1: AA_COMMON + ["Date of Contact", "Contact Source"],
    2: AA_COMMON + ["Assessment start date", "Assessment completion date"],
    3: AA_COMMON + ["Date of Referral", "Referral Source"],
    4: AA_COMMON + ["Does the Child have a Disability", "Continuous Assessment Start Date",
                    "Continuous Assessment Date of Authorisation"],
    5: AA_COMMON + ["Does the Child have a Disability",
                    "Strategy discussion initiating Section 47 Enquiry Start Date"],
    6: AA_COMMON + ["Does the Child have a Disability", "CIN Start Date"],
    7: AA_COMMON + ["Does the Child have a Disability", "Child Protection Plan Start Date",
                    "Initial Category of Abuse", "Child Protection Plan End Date"],
    8: AA_COMMON + ["Does the Child have a Disability", "Date Started to be Looked After",
                    "Child's Category of Need", "Child's Legal Status", "Date Ceased to be Looked After"],
}


def _ys(year: int) -> pd.Timestamp:
    return pd.Timestamp(year - 1, 4, 1)


def _ye(year: int) -> pd.Timestamp:
    return pd.Timestamp(year, 3, 31)


def _dmy(d) -> str:
    return "" if d is None or pd.isna(d) else pd.Timestamp(d).strftime("%d/%m/%Y")


def write_returns(children: pd.DataFrame, events: pd.DataFrame, out: str | Path, *, extract_date,
                  years: int = 7, la_code: str = "201") -> dict:
    """Write the returns of the last `years` collection years ending at `extract_date`'s; returns the losses."""
    out = Path(out)
    extract = pd.Timestamp(extract_date)
    last = extract.year if extract.month <= 3 else extract.year + 1
    year_list = list(range(last - years + 1, last + 1))
    ch = children.copy()
    ev = events.copy()
    for c in ("date_of_birth", "arrived_on", "left_on"):
        ch[c] = pd.to_datetime(ch[c])
    for c in ("event_date", "end_date"):
        ev[c] = pd.to_datetime(ev[c])
    ch = ch.set_index("child_id", drop=False)
    losses: Counter[str] = Counter()
    first = _ys(year_list[0])
    with atomic_dir(out) as tmp:
        la = ev[ev["event_type"] == "looked_after"]
        in903 = _write_903(ch, la, year_list, tmp, losses, extract)
        cin_types = ("referral", "assessment", "section_47", "cin_plan", "cp_plan")
        incin = _write_cin(ch, ev[ev["event_type"].isin(cin_types)], year_list, tmp, la_code, losses)
        inaa = _write_annex_a(ch, ev[ev["event_type"].isin(("contact", "early_help"))], year_list, tmp)
        in_returns = in903 | incin | inaa
        no_cin = sorted(in_returns - incin)
        losses["disability: children in no CIN census (903 and Annex A lists 1-2 carry none)"] = int(
            (ch.loc[no_cin, "disability"] != "unknown").sum())
        for etype in ("contact", "early_help", "referral", "assessment", "section_47", "cp_plan", "looked_after"):
            sub = ev[ev["event_type"] == etype]
            starts_before = sub["event_date"] < first
            if etype in ("early_help", "cp_plan", "looked_after"):
                starts_before &= sub["end_date"].notna() & (sub["end_date"] < first)
            losses[f"{etype}: before the first collection year ({first:%Y-%m-%d})"] += int(starts_before.sum())
        # council-supplied tables
        res = pd.DataFrame({"child_key": ch["child_id"], "resident_from": ch["arrived_on"].dt.strftime("%Y-%m-%d"),
                            "resident_to": ch["left_on"].dt.strftime("%Y-%m-%d").fillna(""), "hub": ch["hub"],
                            "deprivation_decile": ch["deprivation_decile"].astype("Int64")})
        res.to_csv(tmp / "residence.csv", index=False)
        fam = pd.DataFrame({"child_key": ch["child_id"], "family_key": ch["family_id"], "basis": "cms_household",
                            "valid_from": "", "valid_to": ""})
        fam.to_csv(tmp / "family_links.csv", index=False)
        pe = ev[ev["event_type"].isin(PARTNER_EVENT_TYPES)]
        partner = pd.DataFrame({"child_key": pe["child_id"].fillna(""),
                                "family_key": pe["family_id"].where(pe["child_id"].isna(), ""),
                                "event_type": pe["event_type"], "event_date": pe["event_date"].dt.strftime("%Y-%m-%d"),
                                "detail": pe["detail"].fillna("")})
        partner.to_csv(tmp / "partner_events.csv", index=False)
        never = ~ch["child_id"].isin(in_returns)
        losses["children in no return (never known to social care): not importable"] = int(never.sum())
        losses["partner events of children in no return"] = int(pe["child_id"].isin(ch.index[never]).sum())
        manifest = {
            "la_code": la_code,
            "ssda903": [{"year": y, "files": {"header": f"903/{y}/header.csv", "episodes": f"903/{y}/episodes.csv"}}
                        for y in year_list],
            "cin_census": [{"year": y, "file": f"cin/CIN_{y}.xml"} for y in year_list],
            "annex_a": [{"extracted_on": _ye(y).date(), "file": f"annex_a/AnnexA_{y}.xlsx"} for y in year_list],
            "residence": "residence.csv",
            "family_links": "family_links.csv",
            "partner_events": "partner_events.csv",
            "partner_events_coverage_end": extract.date(),
        }
        import yaml

        (tmp / "manifest.yaml").write_text(
            "# Written by `upstream simulate --returns`: the simulated council in the councils' own formats.\n"
            + yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        result = {"years": year_list, "losses": dict(sorted(losses.items())),
                  "children_in_returns": len(in_returns)}
        write_json(result, tmp / "losses.json")
    return result


def _episodes(la: pd.DataFrame, year: int, extract: pd.Timestamp) -> list[dict]:
    """903 episodes open at some time in `year`: one per period, two for a period longer than a year."""
    ys, ye = _ys(year), _ye(year)
    rows = []
    for r in la.itertuples(index=False):
        start, end = r.event_date, r.end_date
        if start > ye or (pd.notna(end) and end < ys):
            continue
        eps = [(start, end, "S")]
        long = (end if pd.notna(end) else extract) - start > pd.Timedelta(days=365)
        if long:
            split = start + pd.Timedelta(days=SPLIT_DAYS)
            eps = [(start, split, "S"), (split, end, "P")]
        for k, (s, e, rne) in enumerate(eps):
            if s > ye or (pd.notna(e) and e < ys):
                continue
            closed = pd.notna(e) and e <= ye
            last = k == len(eps) - 1
            rows.append({"CHILD": r.child_id, "DECOM": _dmy(s), "RNE": rne, "LS": "C2", "CIN": r.detail,
                         "PLACE": "U1" if k == 0 else "U4", "PLACE_PROVIDER": "PR1",
                         "DEC": _dmy(e) if closed else "", "REC": ("E4A" if last else "X1") if closed else "",
                         "REASON_PLACE_CHANGE": "" if k == 0 else "CARPL", "HOME_POST": "", "PL_POST": "",
                         "URN": ""})
    return rows


def _write_903(ch, la: pd.DataFrame, years: list[int], tmp: Path, losses: Counter, extract: pd.Timestamp
               ) -> set[str]:
    seen: set[str] = set()
    cols = ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC", "REASON_PLACE_CHANGE",
            "HOME_POST", "PL_POST", "URN"]
    lost_sex: set[str] = set()
    for y in years:
        sexmap = SEX_903_NEW if y >= 2025 else SEX_903_OLD
        eps = _episodes(la, y, extract)
        ok_children = [c for c in dict.fromkeys(e["CHILD"] for e in eps) if ch.at[c, "sex"] in sexmap]
        lost_sex |= {e["CHILD"] for e in eps} - set(ok_children)
        eps = [e for e in eps if e["CHILD"] in set(ok_children)]
        d = tmp / "903" / str(y)
        d.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(eps, columns=cols).to_csv(d / "episodes.csv", index=False)
        hdr = pd.DataFrame({"CHILD": ok_children,
                            "SEX": [sexmap[ch.at[c, "sex"]] for c in ok_children],
                            "DOB": [_dmy(ch.at[c, "date_of_birth"]) for c in ok_children],
                            "ETHNIC": [ch.at[c, "ethnicity"] for c in ok_children],
                            "UPN": "", "MOTHER": "", "MC_DOB": ""},
                           columns=["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"])
        hdr.to_csv(d / "header.csv", index=False)
        seen |= set(ok_children)
    losses["looked_after: children whose sex the 903 of the year cannot express (1/2 only)"] = int(
        la["child_id"].isin(lost_sex).sum())
    return seen


def _write_cin(ch, ev: pd.DataFrame, years: list[int], tmp: Path, la_code: str, losses: Counter) -> set[str]:
    seen: set[str] = set()
    ev = ev.sort_values(["child_id", "event_date"])
    refs = ev[ev["event_type"] == "referral"]
    items = ev[ev["event_type"] != "referral"]
    # each item joins the child's latest referral on or before it (or the child's first referral)
    groups: dict[str, dict[pd.Timestamp, list]] = {}
    for r in refs.itertuples(index=False):
        groups.setdefault(r.child_id, {}).setdefault(r.event_date, [r, []])
    no_ref = Counter()
    for it in items.itertuples(index=False):
        g = groups.get(it.child_id)
        if not g:
            no_ref[it.event_type] += 1
            continue
        keys = sorted(g)
        before = [k for k in keys if k <= it.event_date]
        g[before[-1] if before else keys[0]][1].append(it)
    for t, n in no_ref.items():
        losses[f"{t}: the child has no referral (a CIN census episode starts at a referral)"] += n
    cin_plans = items[items["event_type"] == "cin_plan"]
    losses["cin_plan: no CIN plan dates in the CIN census before 2021-22"] += int(
        (cin_plans["event_date"] < pd.Timestamp(2021, 4, 1)).sum())
    previous_cpp = {}   # each CP plan's NumberOfPreviousCPP: the child's plans that started before it
    for g in groups.values():
        plans = sorted((it for _r, its in g.values() for it in its if it.event_type == "cp_plan"),
                       key=lambda it: it.event_date)
        previous_cpp.update({id(it): k for k, it in enumerate(plans)})
    d = tmp / "cin"
    d.mkdir(parents=True, exist_ok=True)
    written: set[int] = set()
    for y in years:
        ys, ye = _ys(y), _ye(y)
        new_sex = y >= 2025
        parts = ['<?xml version="1.0" encoding="utf-8"?>\n<Message xmlns="http://www.dfe.gov.uk/CIN">\n<Header>'
                 f"<CollectionDetails><Collection>CIN</Collection><Year>{y}</Year><ReferenceDate>{ye:%Y-%m-%d}"
                 "</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel>"
                 f"<LEA>{la_code}</LEA><SoftwareCode>upstream simulate</SoftwareCode><Release>1</Release>"
                 f"<SerialNo>001</SerialNo><DateTime>{ye:%Y-%m-%d}T00:00:00</DateTime></Source></Header>\n"
                 "<Children>\n"]
        for child, g in groups.items():
            details = []
            for rdate, (r, its) in sorted(g.items()):
                ends = [rdate]
                for it in its:
                    if it.event_type in ("cin_plan", "cp_plan"):
                        ends.append(it.end_date if pd.notna(it.end_date) else pd.Timestamp.max)
                    else:
                        ends.append(it.event_date)
                if rdate > ye or max(ends) < ys:
                    continue
                # the episode closes when its last item has ended, if that is inside this census year
                closed = (f"<CINclosureDate>{max(ends):%Y-%m-%d}</CINclosureDate><ReasonForClosure>RC7"
                          "</ReasonForClosure>" if max(ends) <= ye else "")
                x = [f"<CINdetails><CINreferralDate>{rdate:%Y-%m-%d}</CINreferralDate>"
                     f"<ReferralSource>{SOURCE_CODE[r.source]}</ReferralSource>{closed}"]
                for it in its:
                    if it.event_type == "assessment" and ys <= it.event_date <= ye:
                        f = "".join(f"<AssessmentFactors>{escape(c)}</AssessmentFactors>"
                                    for c in (it.detail or "").split(";") if c)
                        written.add(id(it))
                        x.append(f"<Assessments><AssessmentActualStartDate>{it.event_date:%Y-%m-%d}"
                                 f"</AssessmentActualStartDate><AssessmentAuthorisationDate>{it.event_date:%Y-%m-%d}"
                                 "</AssessmentAuthorisationDate>"
                                 + (f"<FactorsIdentifiedAtAssessment>{f}</FactorsIdentifiedAtAssessment>" if f
                                    else "") + "</Assessments>")
                for it in its:
                    if it.event_type == "cin_plan" and y >= 2022 and _open_in(it, ys, ye):
                        written.add(id(it))
                        x.append(f"<CINPlanDates><CINPlanStartDate>{it.event_date:%Y-%m-%d}</CINPlanStartDate>"
                                 + _end("CINPlanEndDate", it.end_date, ye) + "</CINPlanDates>")
                for it in its:
                    if it.event_type == "section_47" and ys <= it.event_date <= ye:
                        written.add(id(it))
                        x.append(f"<Section47><S47ActualStartDate>{it.event_date:%Y-%m-%d}</S47ActualStartDate>"
                                 "<ICPCnotRequired>false</ICPCnotRequired></Section47>")
                x.append("<ReferralNFA>false</ReferralNFA>")
                for it in its:
                    if it.event_type == "cp_plan" and _open_in(it, ys, ye):
                        written.add(id(it))
                        x.append(f"<ChildProtectionPlans><CPPstartDate>{it.event_date:%Y-%m-%d}</CPPstartDate>"
                                 + _end("CPPendDate", it.end_date, ye)
                                 + f"<InitialCategoryOfAbuse>{ABUSE_CODE[it.detail]}</InitialCategoryOfAbuse>"
                                 f"<LatestCategoryOfAbuse>{ABUSE_CODE[it.detail]}</LatestCategoryOfAbuse>"
                                 f"<NumberOfPreviousCPP>{previous_cpp[id(it)]}</NumberOfPreviousCPP>"
                                 "</ChildProtectionPlans>")
                x.append("</CINdetails>")
                details.append("".join(x))
            if not details:
                continue
            c = ch.loc[child]
            dob = c["date_of_birth"]
            sexmap = SEX_CIN_NEW if new_sex else SEX_CIN_OLD
            sex = sexmap.get(c["sex"], "U" if new_sex else "0")
            born = dob <= ye
            ident = (f"<LAchildID>{escape(child)}</LAchildID>"
                     + (f"<PersonBirthDate>{dob:%Y-%m-%d}</PersonBirthDate>" if born
                        else f"<ExpectedPersonBirthDate>{dob:%Y-%m-%d}</ExpectedPersonBirthDate>")
                     + (f"<Sex>{sex}</Sex>" if new_sex else f"<GenderCurrent>{sex if born else '0'}</GenderCurrent>"))
            dis = {"yes": "<Disabilities><Disability>LD</Disability></Disabilities>",
                   "no": "<Disabilities><Disability>NONE</Disability></Disabilities>"}.get(c["disability"], "")
            parts.append(f"<Child><ChildIdentifiers>{ident}</ChildIdentifiers><ChildCharacteristics><Ethnicity>"
                         f"{c['ethnicity']}</Ethnicity>{dis}</ChildCharacteristics>{''.join(details)}</Child>\n")
            seen.add(child)
        parts.append("</Children>\n</Message>\n")
        (d / f"CIN_{y}.xml").write_text("".join(parts), encoding="utf-8")
    first = _ys(years[0])
    for g in groups.values():
        for _r, its in g.values():
            for it in its:
                if id(it) in written or it.event_type == "cin_plan":
                    continue
                if (it.end_date if pd.notna(it.end_date) else it.event_date) < first:
                    continue   # counted as before the first collection year
                losses[f"{it.event_type}: no census year holds both it and its referral's CIN episode"] += 1
    return seen


def _open_in(it, ys, ye) -> bool:
    return it.event_date <= ye and (pd.isna(it.end_date) or it.end_date >= ys)


def _end(tag: str, end, ye) -> str:
    return f"<{tag}>{end:%Y-%m-%d}</{tag}>" if pd.notna(end) and end <= ye else ""


def _write_annex_a(ch, ev: pd.DataFrame, years: list[int], tmp: Path) -> set[str]:
    import xlsxwriter

    seen: set[str] = set()
    d = tmp / "annex_a"
    d.mkdir(parents=True, exist_ok=True)
    contacts = ev[ev["event_type"] == "contact"]
    eh = ev[ev["event_type"] == "early_help"]
    info = {r.child_id: (SEX_ANNEX_A_LABEL[r.sex], r.ethnicity, r.date_of_birth.to_pydatetime())
            for r in ch[["child_id", "sex", "ethnicity", "date_of_birth"]].itertuples(index=False)}
    for y in years:
        ys, ye = _ys(y), _ye(y)
        yed = ye.to_pydatetime()
        wb = xlsxwriter.Workbook(str(d / f"AnnexA_{y}.xlsx"), {"constant_memory": True})
        datefmt = wb.add_format({"num_format": "dd/mm/yyyy"})
        lists = {
            1: contacts[(contacts["event_date"] >= ys) & (contacts["event_date"] <= ye)],
            2: eh[(eh["event_date"] <= ye) & (eh["end_date"].isna() | (eh["end_date"] >= ys))],
        }
        for n, header in AA_SHEETS.items():
            ws = wb.add_worksheet(f"List {n}")
            ws.write_row(0, 0, header)
            rows = lists.get(n)
            if rows is None:
                continue
            for i, (cid, date, end, source) in enumerate(zip(
                    rows["child_id"], rows["event_date"].astype(object), rows["end_date"], rows["source"],
                    strict=True), 1):
                sex, eth, dob = info[cid]
                ws.write_string(i, 0, cid)
                ws.write_string(i, 1, sex)
                ws.write_string(i, 2, eth)
                ws.write_datetime(i, 3, dob, datefmt)
                ws.write_number(i, 4, (yed - dob).days // 365)
                ws.write_datetime(i, 5, date, datefmt)
                if n == 1:
                    ws.write_string(i, 6, SOURCE_LABEL[SOURCE_CODE[source]])
                elif pd.notna(end) and end <= ye:
                    ws.write_datetime(i, 6, end.to_pydatetime(), datefmt)
                seen.add(cid)
        wb.close()
    return seen


__all__ = ["write_returns"]
