"""Readers for the returns (903 CSV/XML, CIN census XML, Annex A workbooks) and the council-supplied tables.

Each reader turns its input into `Source` rows (for the accounting), child attribute observations and event
candidates; whole-file problems (wrong columns, unreadable file) are collected as one line each.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from statutory._codes import (
    ABUSE_LABELS,
    ABUSE_MAP,
    ANNEX_A_DISABILITY,
    CIN_DISABILITY_CODES,
    ETHNICITY_BY_NAME,
    ETHNICITY_SET,
    LIIA_COLUMNS,
    LS_CODES,
    NEED_CODES,
    REC_CODES,
    RNE_CODES,
    S903_TABLES,
    SEX_903_NEW,
    SEX_903_OLD,
    SEX_ANNEX_A,
    SEX_CIN_NEW,
    SEX_CIN_OLD,
    SOURCE_MAP,
)
from statutory._report import Report, Source

DMY = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
PREFIX = re.compile(r"^[a-z]{1,2}\)\s*")


def _rule(s: Source) -> str:
    return s.errors[0].split(":")[0]


def norm_key(value: object) -> str | None:
    """The child key rule of SPEC §3.1: strip spaces, upper-case, drop a trailing .0 after digits."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            return str(int(value))
    s = "".join(str(value).split()).upper()
    if s.endswith(".0") and s[:-2].isdigit():
        s = s[:-2]
    return s or None


def parse_dmy(s: str) -> dt.date | None:
    m = DMY.match(s)
    if not m:
        return None
    try:
        return dt.date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None


def parse_iso(s: str) -> dt.date | None:
    m = ISO.match(s)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def year_start(year: int) -> dt.date:
    return dt.date(year - 1, 4, 1)


def year_end(year: int) -> dt.date:
    return dt.date(year, 3, 31)


@dataclass(slots=True)
class Attr:
    child: str
    attr: str            # date_of_birth, sex, ethnicity, disability, death, expected_birth
    value: object
    rank: tuple
    src: Source
    fmt: str


@dataclass(slots=True, eq=False)
class Cand:
    etype: str
    child: str | None
    date: dt.date
    natkey: str
    prio: int
    recency: tuple
    src: Source
    end: dt.date | None = None
    source: str | None = None
    detail: str | None = None
    family_key: str | None = None
    flags: list[str] = field(default_factory=list)
    extra: list[Source] = field(default_factory=list)   # further source rows behind this event (episodes)


@dataclass(slots=True, eq=False)
class Episode:
    src: Source
    child: str
    year: int
    decom: dt.date
    dec: dt.date | None
    rne: str
    ls: str
    cin: str
    rec: str
    dup_key: tuple
    rule: str | None = None
    imputed: bool = False


@dataclass
class Collected:
    report: Report
    sources: list[Source] = field(default_factory=list)
    attrs: list[Attr] = field(default_factory=list)
    cands: list[Cand] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    child_errors: dict[str, list[str]] = field(default_factory=dict)
    child_sources: dict[str, list[Source]] = field(default_factory=dict)
    coverage_end: dict[str, list[dt.date]] = field(default_factory=dict)
    coverage_start: dict[str, list[dt.date]] = field(default_factory=dict)
    s903_years: list[int] = field(default_factory=list)
    list8: list[Cand] = field(default_factory=list)
    all_family_keys: set[str] = field(default_factory=set)
    residence_keys: set[str] = field(default_factory=set)
    bulk: list[dict] = field(default_factory=list)

    def source(self, fmt: str, file: str, table: str, row: int, child: str | None) -> Source:
        s = Source(fmt, file, table, row, child)
        self.sources.append(s)
        if child is not None:
            self.child_sources.setdefault(child, []).append(s)
        return s

    def reject_child(self, child: str, reason: str) -> None:
        self.child_errors.setdefault(child, [])
        if reason not in self.child_errors[child]:
            self.child_errors[child].append(reason)


# --------------------------------------------------------------------------------------------------------
# CSV text


def read_text(path: Path, name: str, problems: list[str]) -> str | None:
    data = path.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        problems.append(f"{name}: UTF-16 file: re-save it as UTF-8 (CSV UTF-8)")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(f"{name}: not UTF-8 text (byte {exc.start}): re-save it as UTF-8")
        return None


def read_csv_rows(path: Path, name: str, problems: list[str]) -> tuple[list[str], list[list[str]]] | None:
    text = read_text(path, name, problems)
    if text is None:
        return None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        problems.append(f"{name}: empty file (no header row)")
        return None
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    return header, body


# --------------------------------------------------------------------------------------------------------
# SSDA903


def _903_dates(rows: list[dict], cols: tuple[str, ...], liia: bool, name: str, problems: list[str]) -> bool:
    kinds = set()
    for r in rows:
        for c in cols:
            v = r.get(c) or ""
            if v:
                if DMY.match(v):
                    kinds.add("dmy")
                elif ISO.match(v):
                    kinds.add("iso")
    if len(kinds) > 1:
        problems.append(f"{name}: mixed date formats (DD/MM/YYYY and YYYY-MM-DD) in one file (SPEC §5.2)")
        return False
    if not liia and kinds == {"iso"}:
        problems.append(f"{name}: dates are YYYY-MM-DD, the format of liia-tools output: a DfE 903 file has "
                        "DD/MM/YYYY (set liia_cleaned: true for a liia-tools file)")
        return False
    return True


def read_903(col: Collected, year: int, files: dict[str, Path], liia: bool, names: dict[str, str]) -> None:
    col.s903_years.append(year)
    col.coverage_end.setdefault("ssda903", []).append(year_end(year))
    col.coverage_start.setdefault("ssda903", []).append(year_start(year))
    tables: dict[str, list[dict]] = {}
    if "xml" in files:
        got = _read_903_xml(files["xml"], names["xml"], col.problems)
        if got is None:
            return
        tables = got
        fnames = {t: names["xml"] for t in tables}
    else:
        fnames = {}
        for table, path in files.items():
            name = names[table]
            if table not in S903_TABLES:
                col.problems.append(f"{name}: '{table}' is not a 903 table ({', '.join(S903_TABLES)})")
                continue
            got = read_csv_rows(path, name, col.problems)
            if got is None:
                continue
            header, body = got
            cols = [h.upper() for h in header]
            cset = set(cols)
            expected = S903_TABLES[table] | (LIIA_COLUMNS if liia else frozenset())
            if cset != expected:
                other = [t for t, s in S903_TABLES.items() if cset in (s, s | LIIA_COLUMNS) and t != table]
                if other:
                    col.problems.append(f"{name}: listed as 903 '{table}' but its columns are those of "
                                        f"'{other[0]}' (SPEC §5.1)")
                else:
                    missing = sorted(expected - cset)
                    extra = sorted(cset - expected)
                    col.problems.append(f"{name}: not a 903 '{table}' file: missing columns {missing or '-'}, "
                                        f"unexpected {extra or '-'} (SPEC §5.1)")
                continue
            rows = [dict(zip(cols, (c.strip() for c in r), strict=False)) for r in body]
            if liia:
                bad = sorted({r.get("YEAR", "") for r in rows} - {str(year)})
                if bad:
                    col.problems.append(f"{name}: YEAR column holds {bad}, not the manifest year {year}")
                    continue
            tables[table] = rows
            fnames[table] = name
    date_cols = {"header": ("DOB", "MC_DOB"), "episodes": ("DECOM", "DEC"), "missing": ("DOB", "MIS_START",
                                                                                      "MIS_END")}
    ok = True
    for t, cs in date_cols.items():
        if t in tables and not _903_dates(tables[t], cs, liia, fnames[t], col.problems):
            ok = False
    if not ok:
        return
    parse = parse_iso if liia else parse_dmy
    fmt_note = "YYYY-MM-DD" if liia else "DD/MM/YYYY"
    ye = year_end(year)
    header_children: dict[str, list[Source]] = {}
    # Header
    for i, r in enumerate(tables.get("header", []), 1):
        child = norm_key(r.get("CHILD"))
        s = col.source("ssda903", fnames["header"], "header", i, child)
        if child is None:
            s.error("CHILD", "child ID missing")
            continue
        header_children.setdefault(child, []).append(s)
        sexv = (r.get("SEX") or "").upper()
        sex = (SEX_903_NEW if year >= 2025 else SEX_903_OLD).get(sexv)
        if sex is None:
            s.error("101", f"Gender/sex code '{sexv}' is not valid for {year}")
        dob = parse(r.get("DOB") or "")
        if dob is None:
            s.error("102", f"Date of birth is not a valid {fmt_note} date")
        eth = (r.get("ETHNIC") or "").upper()
        if eth and eth not in ETHNICITY_SET:
            s.error("103", f"The ethnicity code '{eth[:8]}' is not valid")
        s.fields = {"sex": sex, "date_of_birth": dob, "ethnicity": eth or None}
        if s.errors:
            col.reject_child(child, _rule(s) + ": 903 header row refused (" + "; ".join(s.errors) + ")")
            continue
        rank = (1, year, 1)
        col.attrs.append(Attr(child, "date_of_birth", dob, rank, s, "ssda903"))
        col.attrs.append(Attr(child, "sex", sex, rank, s, "ssda903"))
        col.attrs.append(Attr(child, "ethnicity", eth or None, rank, s, "ssda903"))
    for child, ss in header_children.items():
        if len(ss) > 1:
            for s in ss:
                if not s.errors:
                    s.error("INT32", "child appears more than once in the 903 header")
            col.report.add("INT32", "E", "Child should only exist once in the header", ss[0])
            col.reject_child(child, "INT32: child appears more than once in the 903 header")
    known = set(header_children)
    # Episodes
    for i, r in enumerate(tables.get("episodes", []), 1):
        child = norm_key(r.get("CHILD"))
        s = col.source("ssda903", fnames["episodes"], "episodes", i, child)
        if child is None:
            s.error("CHILD", "child ID missing")
            continue
        if "header" in tables and child not in known:
            s.error("INT03", "child in Episodes does not exist in Header")
            col.reject_child(child, "INT03: child in 903 Episodes but not in Header")
        decom = parse(r.get("DECOM") or "")
        if decom is None:
            s.error("141", f"Date episode began is not a valid {fmt_note} date")
        decv = r.get("DEC") or ""
        dec = parse(decv) if decv else None
        if decv and dec is None:
            s.error("147", f"Date episode ceased is not a valid {fmt_note} date")
        rne, ls, need = (r.get(c, "").upper() for c in ("RNE", "LS", "CIN"))
        rec = (r.get("REC") or "").upper()
        if rne not in RNE_CODES:
            s.error("143", f"Reason for new episode '{rne[:4]}' is not a valid code")
        if ls not in LS_CODES:
            s.error("144", f"Legal status '{ls[:4]}' is not a valid code")
        if need not in NEED_CODES:
            s.error("145", f"Category of need '{need[:4]}' is not a valid code")
        if rec and rec not in REC_CODES:
            s.error("REC", f"Reason episode ceased '{rec[:4]}' is not a valid code")
        if decom and dec and dec < decom:
            s.error("356", "The date the episode ceased is before the date the same episode started")
        if dec and dec > ye:
            s.error("354", f"Date episode ceased is after the end of the collection year ({ye})")
        if decom and decom > ye:
            s.error("354", f"Date episode began is after the end of the collection year ({ye})")
        s.fields = {"decom": decom, "dec": dec, "rne": rne, "ls": ls, "cin": need, "rec": rec or None}
        if s.errors:
            col.reject_child(child, s.errors[0].split(":")[0] + ": 903 episode refused (" + "; ".join(s.errors) + ")")
            continue
        dup = tuple(r.get(c, "") for c in ("RNE", "LS", "PLACE", "PLACE_PROVIDER", "PL_POST", "URN"))
        col.episodes.append(Episode(s, child, year, decom, dec, rne, ls, need, rec, dup))
        if rec == "E2" and dec is not None:
            col.attrs.append(Attr(child, "death", dec, (1, year, 1), s, "ssda903"))
    # Missing
    for i, r in enumerate(tables.get("missing", []), 1):
        child = norm_key(r.get("CHILD"))
        s = col.source("ssda903", fnames["missing"], "missing", i, child)
        if child is None:
            s.error("CHILD", "child ID missing")
            continue
        kind = (r.get("MISSING") or "").upper()
        start = parse(r.get("MIS_START") or "")
        endv = r.get("MIS_END") or ""
        end = parse(endv) if endv else None
        if kind not in ("M", "A"):
            s.error("1006", f"Missing type '{kind[:3]}' is not M or A")
        if start is None:
            s.error("1004", f"Missing start is not a valid {fmt_note} date")
        if endv and end is None:
            s.error("1005", f"Missing end is not a valid {fmt_note} date")
        if start and end and end < start:
            s.error("567", "Missing end is before its start")
        s.fields = {"mis_start": start, "missing": kind}
        if s.errors:
            continue
        if kind == "A":
            s.hold("away from placement (MISSING=A) is not emitted (Q15)")
            continue
        col.cands.append(Cand("missing_episode", child, start, start.isoformat(), 1, (year,), s))
    for t, rows in tables.items():
        if t in ("header", "episodes", "missing"):
            continue
        for i, _ in enumerate(rows, 1):
            s = col.source("ssda903", fnames[t], t, i, None)
            s.hold(f"903 {t} is read for checks only (SPEC §5.1)")


def _read_903_xml(path: Path, name: str, problems: list[str]) -> dict[str, list[dict]] | None:
    try:
        root = _strip_namespaces(ET.parse(path).getroot())
    except ET.ParseError as exc:
        problems.append(f"{name}: not well-formed XML ({exc}): truncated or damaged file")
        return None
    if _local(root.tag) != "EXPSSDA903":
        problems.append(f"{name}: root element is '{_local(root.tag)}', not EXPSSDA903 (903 XML)")
        return None
    header, episodes, missing = [], [], []
    for child in root:
        if _local(child.tag) != "CHILD":
            continue
        cid = _text(child, "CHILDID")
        h = {"CHILD": cid}
        for hel in child:
            if _local(hel.tag) == "HEADER":
                for f in ("UPN", "SEX", "DOB", "ETHNIC", "MOTHER", "MC_DOB"):
                    h[f] = _text(hel, f)
                for am in hel.iter():
                    if _local(am.tag) == "AMISSING":
                        missing.append({"CHILD": cid, "MISSING": _text(am, "MISSING"),
                                        "MIS_START": _text(am, "MIS_START"), "MIS_END": _text(am, "MIS_END")})
            elif _local(hel.tag) == "EPISODE":
                e = {"CHILD": cid}
                for f in ("DECOM", "RNE", "LS", "CIN", "PLACE_PROVIDER", "DEC", "REC", "REASON_PLACE_CHANGE",
                          "HOME_POST", "PL_POST", "URN"):
                    e[f] = _text(hel, f)
                e["PLACE"] = _text(hel, "PL")
                episodes.append(e)
        header.append(h)
    return {"header": header, "episodes": episodes, "missing": missing}


# --------------------------------------------------------------------------------------------------------
# CIN census


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip_namespaces(root: ET.Element) -> ET.Element:
    """Elements by local name (SPEC §6.1: files may declare a namespace): one pass, so that the lookups below are
    ElementTree's own (C) find/findall/findtext rather than a Python loop over every child."""
    for el in root.iter():
        if el.tag[0] == "{":
            el.tag = el.tag.rsplit("}", 1)[1]
    return root


def _find(el: ET.Element, name: str) -> ET.Element | None:
    return el.find(name)


def _findall(el: ET.Element, name: str) -> list[ET.Element]:
    return el.findall(name)


def _text(el: ET.Element | None, name: str) -> str:
    if el is None:
        return ""
    t = el.findtext(name)
    return t.strip() if t else ""


def read_cin(col: Collected, year: int, path: Path, name: str, la_code: str) -> None:
    try:
        root = _strip_namespaces(ET.parse(path).getroot())
    except ET.ParseError as exc:
        col.problems.append(f"{name}: not well-formed XML ({exc}): truncated or damaged file")
        return
    if _local(root.tag) != "Message":
        col.problems.append(f"{name}: root element is '{_local(root.tag)}', not Message (CIN census XML)")
        return
    header = _find(root, "Header")
    cd = _find(header, "CollectionDetails") if header is not None else None
    ref = parse_iso(_text(cd, "ReferenceDate")) or year_end(year)
    fyear = _text(cd, "Year")
    if fyear and fyear != str(year):
        col.report.add("CIN-YEAR", "W", "Header Year differs from the manifest year (ReferenceDate used)",
                       where=name)
    lea = _text(_find(header, "Source") if header is not None else None, "LEA")
    if lea and lea != la_code:
        col.problems.append(f"{name}: Header/Source/LEA is {lea}, not the manifest's la_code {la_code}")
        return
    children_el = _find(root, "Children")
    if children_el is None:
        col.problems.append(f"{name}: no Children element (CIN census XML)")
        return
    col.coverage_end.setdefault("cin_census", []).append(ref)
    ys = dt.date(ref.year - 1, 4, 1)
    col.coverage_start.setdefault("cin_census", []).append(ys)
    seen: dict[str, Source] = {}
    for i, ch in enumerate(_findall(children_el, "Child"), 1):
        ids = _find(ch, "ChildIdentifiers")
        raw_id = _text(ids, "LAchildID")
        child = norm_key(raw_id)
        s = col.source("cin_census", name, "Child", i, child)
        if child is None:
            s.error("8500", "LA Child ID is missing")
            continue
        if child in seen:
            s.error("8510", "More than one child record with the same LA Child ID")
            col.reject_child(child, "8510: more than one CIN child record with the same LA Child ID")
        seen[child] = s
        if year >= 2025 and (len(raw_id) > 20 or not raw_id.isalnum()):
            s.error("1570", "LA Child ID is longer than 20 characters or not alphanumeric")
        rank = (1, year, 0)
        dob = _text(ids, "PersonBirthDate")
        edob = _text(ids, "ExpectedPersonBirthDate")
        dobd = parse_iso(dob) if dob else None
        if dob and dobd is None:
            s.error("8520", "PersonBirthDate is not a valid date")
        if dob and edob:
            col.report.warn("8525Q", "Both PersonBirthDate and ExpectedPersonBirthDate: the birth date is used", s)
        unborn = bool(edob) and not dob
        if ids is not None and _find(ids, "Sex") is not None:
            sv = _text(ids, "Sex").upper()
            sex = SEX_CIN_NEW.get(sv)
        else:
            sv = _text(ids, "GenderCurrent")
            sex = (SEX_CIN_NEW if year >= 2025 else SEX_CIN_OLD).get(sv.upper())
        if sex is None:
            s.error("4180", f"Gender/Sex '{sv[:3]}' is missing or not a valid code for {year}")
        chars = _find(ch, "ChildCharacteristics")
        eth = _text(chars, "Ethnicity").upper()
        if eth and eth not in ETHNICITY_SET:
            s.error("4220", f"Ethnicity '{eth[:8]}' is not a valid code")
        dis_el = _find(chars, "Disabilities") if chars is not None else None
        disability = "unknown"
        if dis_el is not None:
            codes = {(d.text or "").strip().upper() for d in _findall(dis_el, "Disability")}
            bad = codes - CIN_DISABILITY_CODES - {"NONE"}
            if bad:
                s.error("8794", f"Disability code(s) {sorted(bad)[:3]} not valid")
            if codes & CIN_DISABILITY_CODES:
                disability = "yes"
                if "NONE" in codes:
                    col.report.warn("8790", "Disability NONE recorded with other codes: yes", s)
            elif codes == {"NONE"}:
                disability = "no"
        s.fields = {"date_of_birth": dobd, "sex": sex, "ethnicity": eth or None, "disability": disability}
        if s.errors:
            col.reject_child(child, _rule(s) + ": CIN child record refused (" + "; ".join(s.errors) + ")")
            continue
        if dobd:
            col.attrs.append(Attr(child, "date_of_birth", dobd, rank, s, "cin_census"))
        elif edob:
            col.attrs.append(Attr(child, "expected_birth", parse_iso(edob), rank, s, "cin_census"))
        col.attrs.append(Attr(child, "sex", sex, rank, s, "cin_census"))
        col.attrs.append(Attr(child, "ethnicity", eth or None, rank, s, "cin_census"))
        col.attrs.append(Attr(child, "disability", disability, rank, s, "cin_census"))
        death = parse_iso(_text(ids, "PersonDeathDate"))
        if death:
            col.attrs.append(Attr(child, "death", death, rank, s, "cin_census"))
        spans: dict[str, list[tuple]] = {"8820": [], "8940": [], "4014": []}
        for det in _findall(ch, "CINdetails"):
            for rule, got in _read_cin_details(col, det, child, year, ys, ref, name, i).items():
                spans[rule] += got
        for rule, got in spans.items():
            _overlaps(col.report, rule, got)
        if unborn and sex not in ("not_recorded", None):
            col.report.warn("8750", f"Sex recorded for an unborn child ({sv[:3]}): the DfE expects "
                                    f"{'U' if year >= 2025 else '0'} until birth", s)


OVERLAP = {"8820": "CIN episodes of this child overlap (a referral before the previous episode closed)",
           "8940": "Child protection plans of this child overlap (a plan starts before another ended)",
           "4014": "CIN plans of this child overlap (a plan starts before another ended)"}


def _overlaps(report: Report, rule: str, spans: list[tuple[dt.date, dt.date | None, Source]]) -> None:
    """DfE 8820 / 8940 / 4014 within one census file: W on the later item (exact repeats share a key and become
    one event; overlapping ones are both kept)."""
    spans.sort(key=lambda x: x[0])
    reach: dt.date | None = None   # the latest end so far (None with `open_` = still open)
    open_ = False
    for k, (start, end, src) in enumerate(spans):
        if k and (open_ or (reach is not None and start < reach)):
            report.warn(rule, OVERLAP[rule], src)
        if end is None:
            open_ = True
        elif reach is None or end > reach:
            reach = end


def _read_cin_details(col: Collected, det: ET.Element, child: str, year: int, ys: dt.date, ref: dt.date,
                      name: str, i: int) -> dict[str, list[tuple]]:
    """One CIN episode's rows; returns its episode, CP plan and CIN plan spans for the overlap rules."""
    rec = (year,)
    spans: dict[str, list[tuple]] = {"8820": [], "8940": [], "4014": []}
    s = col.source("cin_census", name, "CINdetails", i, child)
    refd_t = _text(det, "CINreferralDate")
    refd = parse_iso(refd_t)
    src_code = _text(det, "ReferralSource").upper()
    closure = parse_iso(_text(det, "CINclosureDate"))
    if refd is None:
        s.error("8600", "CIN referral date missing or not a valid date")
    elif refd > ref:
        s.error("8600", "CIN referral date is after the census ReferenceDate")
    if closure and not ys <= closure <= ref:
        s.error("8620", "CIN closure date does not fall within the census year")
    if closure and refd and closure < refd:
        s.error("8925", "CIN closure date is before the referral date")
    source = SOURCE_MAP.get(src_code) if src_code else "unknown"
    if src_code and source is None:
        s.error("8866", f"Source of referral '{src_code[:4]}' is not a valid code")
    if not src_code:
        col.report.warn("8866", "Source of referral is missing: 'unknown'", s)
    rc = _text(det, "ReasonForClosure").upper()
    if rc == "RC2" and closure:
        col.attrs.append(Attr(child, "death", closure, (1, year, 0), s, "cin_census"))
    s.fields = {"referral_date": refd, "source": source}
    if not s.errors:
        col.cands.append(Cand("referral", child, refd, refd.isoformat(), 2, rec, s, source=source))
        spans["8820"].append((refd, closure, s))

    def before_referral(d: dt.date | None, rule: str, what: str, src: Source) -> None:
        if d and refd and d < refd:
            col.report.warn(rule, f"{what} starts before the referral (kept: dated activity is real)", src)

    for a in _findall(det, "Assessments"):
        sa = col.source("cin_census", name, "Assessments", i, child)
        start = parse_iso(_text(a, "AssessmentActualStartDate"))
        auth_t = _text(a, "AssessmentAuthorisationDate")
        auth = parse_iso(auth_t)
        if start is None:
            sa.error("8608", "Assessment start date missing or not a valid date")
        if auth_t and auth is None:
            sa.error("8608", "Assessment authorisation date is not a valid date")
        if start and auth and auth < start:
            sa.error("8608", "Assessment authorisation date is before its start")
        if auth and not ys <= auth <= ref:
            sa.error("8696", "Assessment authorisation date does not fall within the census year")
        before_referral(start, "1103", "The assessment", sa)
        fel = _find(a, "FactorsIdentifiedAtAssessment")
        factors = sorted({(f.text or "").strip().upper() for f in _findall(fel, "AssessmentFactors")}
                         if fel is not None else set())
        detail, bad = _factors(factors, col, sa)
        if bad:
            sa.error("8616", f"Assessment factor(s) {bad[:3]} not valid")
        sa.fields = {"start": start, "authorised": auth, "detail": detail}
        if sa.errors:
            continue
        if auth is None:
            sa.hold("assessment in progress (no authorisation date) is not emitted (Q4)")
            col.report.count("assessments_in_progress")
            continue
        col.cands.append(Cand("assessment", child, auth, start.isoformat(), 2, rec, sa, detail=detail))
    for p in _findall(det, "CINPlanDates"):
        sp = col.source("cin_census", name, "CINPlanDates", i, child)
        start, end = _census_period(p, ("CINPlanStartDate", "CINPlanEndDate"), sp, ref=ref, year_start=ys,
                                    what="CIN plan", codes=("4010", "4013", "4011"),
                                    order="CIN plan end date is before its start")
        sp.fields = {"start": start, "end": end}
        if not sp.errors:
            col.cands.append(Cand("cin_plan", child, start, start.isoformat(), 2, rec, sp, end=end))
            spans["4014"].append((start, end, sp))
    for q in _findall(det, "Section47"):
        sq = col.source("cin_census", name, "Section47", i, child)
        start = parse_iso(_text(q, "S47ActualStartDate"))
        if start is None:
            sq.error("2885", "Section 47 start date missing or not a valid date")
        elif start > ref:
            sq.error("2885", "Section 47 start date is after the census ReferenceDate")
        before_referral(start, "2889", "The section 47 enquiry", sq)
        sq.fields = {"start": start}
        if not sq.errors:
            col.cands.append(Cand("section_47", child, start, start.isoformat(), 2, rec, sq))
    for c in _findall(det, "ChildProtectionPlans"):
        sc = col.source("cin_census", name, "ChildProtectionPlans", i, child)
        start, end = _census_period(c, ("CPPstartDate", "CPPendDate"), sc, ref=ref, year_start=ys,
                                    what="CP plan", codes=("8720", "8930", "8925"),
                                    order="Child Protection Plan End Date earlier than Start Date")
        cat = ABUSE_MAP.get(_text(c, "InitialCategoryOfAbuse").upper())
        if cat is None:
            sc.error("8905", "Initial Category of Abuse code missing or invalid")
        before_referral(start, "1105", "The CP plan", sc)
        sc.fields = {"start": start, "end": end, "detail": cat}
        if not sc.errors:
            col.cands.append(Cand("cp_plan", child, start, start.isoformat(), 2, rec, sc, end=end, detail=cat))
            spans["8940"].append((start, end, sc))
    return spans


def _census_period(node: ET.Element, tags: tuple[str, str], src: Source, *, ref: dt.date, year_start: dt.date,
                   what: str,
                   codes: tuple[str, str, str], order: str) -> tuple[dt.date | None, dt.date | None]:
    """A CIN census episode's start and end, with the DfE rules on them (start present and not after the census
    ReferenceDate; end a date within the census year; end not before start), recorded on `src`."""
    start_code, end_code, order_code = codes
    start = parse_iso(_text(node, tags[0]))
    end_t = _text(node, tags[1])
    end = parse_iso(end_t)
    if start is None:
        src.error(start_code, f"{what} start date missing or not a valid date")
    elif start > ref:
        src.error(start_code, f"{what} start date is after the census ReferenceDate")
    if end_t and end is None:
        src.error(end_code, f"{what} end date is not a valid date")
    if end and not year_start <= end <= ref:
        src.error(end_code, f"{what} end date does not fall within the census year")
    if start and end and end < start:
        src.error(order_code, order)
    return start, end


def _factor_order(code: str) -> tuple[int, str]:
    m = re.match(r"^(\d+)(.*)$", code)
    return (int(m[1]), m[2]) if m else (999, code)


def _factors(codes: list[str], col: Collected, src: Source) -> tuple[str | None, list[str]]:
    bad = [c for c in codes if not re.fullmatch(r"\d{1,2}[A-Z]{0,2}", c)]
    good = [c for c in codes if c not in bad]
    if "21" in good:
        if len(good) > 1:
            col.report.warn("8869", "Factor 21 (no factors identified) combined with others: 21 dropped", src)
        good = [c for c in good if c != "21"]
    good.sort(key=_factor_order)
    return (";".join(good) or None), bad


# --------------------------------------------------------------------------------------------------------
# Annex A


def norm_header(h: object) -> str:
    s = str(h if h is not None else "")
    s = s.replace("\u00a0", " ").replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"')
    s = s.replace("\u201d", '"')
    s = re.sub(r"\s+", " ", s).strip()
    if s.endswith("?"):
        s = s[:-1].rstrip()
    return s.lower()


# column key -> (canonical header, regex)
AA_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("child unique id", r".*child.*id.*"),
    "gender": ("gender", r"^(gender|sex)\b.*"),
    "ethnicity": ("ethnicity", r"^ethnic.*"),
    "dob": ("date of birth", r".*date.*birth.*"),
    "disability": ("does the child have a disability", r".*have a disabilit.*"),
    "contact_date": ("date of contact", r".*date.*contact.*"),
    "contact_source": ("contact source", r".*contact.*source.*"),
    "eh_start": ("assessment start date", r"^assessment.*start.*date.*"),
    "eh_end": ("assessment completion date", r"^assessment.*complet.*date.*"),
    "referral_date": ("date of referral", r".*date of.*referral.*"),
    "referral_source": ("referral source", r".*referral.*source.*"),
    "ca_start": ("continuous assessment start date", r".*continuous assessment start.*"),
    "ca_auth": ("continuous assessment date of authorisation", r".*continuous assessment.*authoris.*"),
    "s47_start": ("strategy discussion initiating section 47 enquiry start date", r".*section 47 enquiry start.*"),
    "cin_start": ("cin start date", r"^cin start.*"),
    "cpp_start": ("child protection plan start date", r".*protection plan start.*"),
    "cpp_cat": ("initial category of abuse", r".*initial category of abuse.*"),
    "cpp_end": ("child protection plan end date", r".*protection plan end.*"),
    "la_start": ("date started to be looked after", r".*started to be looked after.*"),
    "la_need": ("child's category of need", r".*child.*category of need.*"),
    "la_ls": ("child's legal status", r".*child.*legal status.*"),
    "la_end": ("date ceased to be looked after", r".*ceased to be looked after.*"),
}
AA_LISTS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("contacts", ("contact_date", "contact_source")),
    2: ("early help", ("eh_start", "eh_end")),
    3: ("referrals", ("referral_date", "referral_source")),
    4: ("assessments", ("ca_start", "ca_auth")),
    5: ("section 47 enquiries", ("s47_start",)),
    6: ("children in need", ("cin_start",)),
    7: ("child protection", ("cpp_start", "cpp_cat", "cpp_end")),
    8: ("children in care", ("la_start", "la_need", "la_ls", "la_end")),
}
COMMON = ("id", "gender", "ethnicity", "dob")
AA_CANONICAL = {canon: canon[0].upper() + canon[1:] for canon, _ in AA_COLUMNS.values()}   # normalised -> shown


def _match_headers(headers: list[str], keys: tuple[str, ...], overrides: dict[str, str] | None = None
                   ) -> tuple[dict[str, int], list[str], list[str]]:
    """The council's overrides first (manifest `annex_a_headers`), then the normalised-exact match, then the
    regex; returns key -> column index, regex-matched, missing."""
    normed = [norm_header(h) for h in headers]
    if overrides:
        normed = [overrides.get(h, h) for h in normed]
    found: dict[str, int] = {}
    by_regex: list[str] = []
    missing: list[str] = []
    for k in keys:
        canon, rx = AA_COLUMNS[k]
        if canon in normed:
            found[k] = normed.index(canon)
            continue
        if k == "referral_date" and "date of referral" in normed:
            found[k] = normed.index("date of referral")
            continue
        hits = [i for i, h in enumerate(normed) if re.fullmatch(rx, h)]
        if len(hits) == 1:
            found[k] = hits[0]
            by_regex.append(f"'{headers[hits[0]]}' as '{canon}'")
        else:
            missing.append(canon)
    return found, by_regex, missing


def aa_date(v: object, epoch1904: bool = False) -> tuple[dt.date | None, bool]:
    """An Annex A date cell -> (date, ok); blank -> (None, True)."""
    if v is None or v == "":
        return None, True
    if isinstance(v, dt.datetime):
        return v.date(), True
    if isinstance(v, dt.date):
        return v, True
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        base = dt.date(1904, 1, 1) if epoch1904 else dt.date(1899, 12, 30)
        try:
            return base + dt.timedelta(days=int(v)), True
        except OverflowError:
            return None, False
    s = str(v).strip()
    if not s:
        return None, True
    d = parse_dmy(s[:10]) or parse_iso(s)
    return d, d is not None


def _clean(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return " ".join(str(v).replace("\u00a0", " ").split())


def aa_value(kind: str, v: object, value_map: dict[tuple[str, str], str], list_no: int) -> tuple[str | None, bool]:
    """A coded Annex A value -> (contract code, ok); blank -> (None, True)."""
    raw = _clean(v)
    if not raw:
        return None, True
    mapped = value_map.get((f"{list_no}:{kind}", raw.lower())) or value_map.get((f"*:{kind}", raw.lower()))
    if mapped is not None:
        return mapped, True
    s = PREFIX.sub("", raw)
    low = s.lower()
    if kind == "gender":
        return SEX_ANNEX_A.get(low), low in SEX_ANNEX_A
    if kind == "ethnicity":
        m = re.match(r"^([A-Z]{4})\b", s)
        if m and m[1] in ETHNICITY_SET:
            return m[1], True
        code = ETHNICITY_BY_NAME.get(low)
        return code, code is not None
    if kind == "disability":
        return ANNEX_A_DISABILITY.get(low), low in ANNEX_A_DISABILITY
    if kind == "source":
        m = re.match(r"^(\d{1,2}[A-D]?)\s*(:|$)", s)
        code = SOURCE_MAP.get(m[1]) if m else None
        return code, code is not None
    if kind == "abuse":
        code = ABUSE_LABELS.get(low) or ABUSE_MAP.get(s.upper())
        return code, code is not None
    if kind == "need":
        m = re.match(r"^(N\d)\b", s)
        return (m[1], True) if m else (None, False)
    if kind == "legal_status":
        m = re.match(r"^([A-Z]\d)\b", s)
        return (m[1], True) if m else (None, False)
    return None, False


def read_value_map(path: Path | None, name: str | None, problems: list[str]) -> dict[tuple[str, str], str]:
    if path is None:
        return {}
    got = read_csv_rows(path, name or str(path), problems)
    if got is None:
        return {}
    header, body = got
    cols = [h.lower() for h in header]
    if set(cols) != {"list", "column", "value", "code"}:
        problems.append(f"{name}: an Annex A value map has the columns list,column,value,code")
        return {}
    out = {}
    for r in body:
        d = dict(zip(cols, r, strict=False))
        out[(f"{d['list'].strip() or '*'}:{d['column'].strip()}", _clean(d["value"]).lower())] = d["code"].strip()
    return out


def read_annex_a(col: Collected, extracted_on: dt.date, path: Path, name: str,
                 value_map: dict[tuple[str, str], str],
                 header_overrides: dict[int | None, dict[str, str]] | None = None) -> None:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for damaged or non-xlsx files
        col.problems.append(f"{name}: not a readable Excel workbook ({type(exc).__name__}: {exc})")
        return
    col.coverage_end.setdefault("annex_a", []).append(extracted_on)
    found: dict[int, tuple[str, list[list], dict[str, int]]] = {}
    overrides = header_overrides or {}

    def own(n: int) -> dict[str, str]:
        """The manifest's header overrides that apply to List n (every list's, then that list's own)."""
        return {**overrides.get(None, {}), **overrides.get(n, {})}

    for sheet in wb.sheet_names:
        try:
            rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except Exception as exc:
            col.problems.append(f"{name}: sheet '{sheet}' is not readable ({exc})")
            continue
        hdr_i = next((i for i, r in enumerate(rows) if sum(1 for c in r if _clean(c)) > 3), None)
        m = re.search(r"list\D*?(\d+)", sheet, re.IGNORECASE)
        named = int(m[1]) if m else None
        if hdr_i is None:
            col.report.ignored_sheets.append(f"{name}:{sheet} (no header row)")
            continue
        headers = [_clean(c) for c in rows[hdr_i]]
        full = [n for n, (_, keys) in AA_LISTS.items() if not _match_headers(headers, keys, own(n))[2]]
        match = named if named in full else (full[0] if full else None)
        if match is None:
            if named in AA_LISTS:
                miss = _match_headers(headers, COMMON + AA_LISTS[named][1], own(named))[2]
                col.problems.append(f"{name}: sheet '{sheet}' (List {named}, {AA_LISTS[named][0]}): column(s) "
                                    f"not found: {', '.join(repr(AA_CANONICAL[m]) for m in miss)} (SPEC §7.2; "
                                    "if the workbook names it differently, map that header to it under "
                                    "annex_a_headers in the manifest)")
                continue
            body = [r for r in rows[hdr_i + 1:] if any(_clean(c) for c in r)]
            if named in (9, 10, 11):
                for i, _ in enumerate(body, 1):
                    s = col.source("annex_a", name, f"List {named}", i, None)
                    s.hold(f"Annex A List {named} is not mapped (care leavers, adoption, adopters)")
            col.report.ignored_sheets.append(f"{name}:{sheet}")
            continue
        if named is not None and named != match:
            col.problems.append(f"{name}: sheet '{sheet}' is named List {named} but its columns are those of "
                                f"List {match} ({AA_LISTS[match][0]})")
            continue
        if named is None:
            col.report.add("AA-SHEETNAME", "W", "Annex A sheet name names no list; identified by its columns",
                           where=f"{name}:{sheet}")
        keys = COMMON + (("disability",) if match >= 4 else ()) + AA_LISTS[match][1]
        idx, by_regex, missing = _match_headers(headers, keys, own(match))
        for h in headers:
            if norm_header(h) in own(match):
                col.report.header_overrides_applied.append(
                    f"{name}:{sheet}: '{h}' as '{AA_CANONICAL[own(match)[norm_header(h)]]}'")
        for h in by_regex:
            col.report.add("AA-HEADER", "W", "Annex A header matched by its pattern, not exactly",
                           where=f"{name}:{sheet}: {h}")
        mapped_missing = [m for m in missing if m != "does the child have a disability"]
        if mapped_missing:
            col.problems.append(f"{name}: sheet '{sheet}' (List {match}): column(s) not found: "
                                f"{', '.join(repr(AA_CANONICAL[m]) for m in mapped_missing)} (SPEC §7.2; "
                                "if the workbook names it differently, map that header to it under "
                                "annex_a_headers in the manifest)")
            continue
        found[match] = (sheet, rows[hdr_i + 1:], idx)
    missing_lists = [n for n in AA_LISTS if n not in found]
    if missing_lists and not any(p.startswith(f"{name}:") for p in col.problems):
        col.problems.append(f"{name}: no sheet holds Annex A List(s) {', '.join(map(str, missing_lists))} "
                            f"({', '.join(AA_LISTS[n][0] for n in missing_lists)}): every list 1–8 must be in "
                            "the workbook (keep the header row of an empty list)")
    for n, (_sheet, body, idx) in sorted(found.items()):
        _read_list(col, n, f"List {n}", body, idx, extracted_on, name, value_map)


def _read_list(col: Collected, n: int, table: str, body: list[list], idx: dict[str, int], extracted_on: dt.date,
               name: str, value_map: dict[tuple[str, str], str]) -> None:
    rec = (extracted_on.toordinal(),)
    rank = (0, extracted_on.toordinal(), 0)
    cache: dict[tuple, tuple[str | None, bool]] = {}
    columns = list(idx.items())

    def value(kind: str, k: str, s: Source, cells: dict) -> str | None:
        raw_cell = cells.get(k)
        got = cache.get((kind, raw_cell))
        if got is None:
            got = cache[(kind, raw_cell)] = aa_value(kind, raw_cell, value_map, n)
        v, ok = got
        if not ok:
            raw = _clean(raw_cell)[:40]
            col.report.unmapped_values[f"List {n} {AA_COLUMNS[k][0]}"].add(raw)
            s.error("AA-VALUE", f"'{AA_COLUMNS[k][0]}': value not in the code list (see report)")
        return v

    def date(k: str, s: Source, cells: dict) -> dt.date | None:
        d, ok = aa_date(cells.get(k))
        if not ok:
            s.error("AA-DATE", f"'{AA_COLUMNS[k][0]}': not a date (DD/MM/YYYY, YYYY-MM-DD or a date cell)")
        return d

    def dated_source(date_key: str, source_key: str, blank: str, unknown: tuple[str, str], s: Source,
                     cells: dict) -> tuple[dt.date | None, str | None]:
        """A contact's or referral's date (blank is an error) and source (blank is 'unknown', warned)."""
        d = date(date_key, s, cells)
        src = value("source", source_key, s, cells)
        if d is None and not s.errors:
            s.error("AA-DATE", blank)
        if src is None and not s.errors:
            src = "unknown"
            col.report.warn(*unknown, s)
        return d, src

    i = 0
    for r in body:
        if not any(_clean(c) for c in r):
            continue
        i += 1
        width = len(r)
        cells = {k: r[j] for k, j in columns if j < width}   # the mapped cells of this row (missing: None)
        id_cell = cells.get("id")
        child = norm_key(id_cell) if _clean(id_cell) else None
        s = col.source("annex_a", name, table, i, child)
        if child is None:
            s.error("AA-ID", "Child Unique ID missing")
            continue

        sex = value("gender", "gender", s, cells)
        eth = value("ethnicity", "ethnicity", s, cells)
        dob = date("dob", s, cells)
        dis = value("disability", "disability", s, cells) if "disability" in idx else None
        attr_errors = bool(s.errors)
        if not attr_errors:
            if dob:
                col.attrs.append(Attr(child, "date_of_birth", dob, rank, s, "annex_a"))
            col.attrs.append(Attr(child, "sex", sex, rank, s, "annex_a"))
            col.attrs.append(Attr(child, "ethnicity", eth, rank, s, "annex_a"))
            if "disability" in idx:
                col.attrs.append(Attr(child, "disability", dis or "unknown", rank, s, "annex_a"))
        if n == 1:
            d, src = dated_source("contact_date", "contact_source", "'date of contact' is blank",
                                  ("AA-SOURCE", "Contact source blank: 'unknown'"), s, cells)
            s.fields = {"date": d, "source": src}
            if not s.errors:
                code = _source_code(cells.get("contact_source"))
                col.cands.append(Cand("contact", child, d, f"{d.isoformat()}|{code}", 1, rec, s, source=src))
        elif n == 2:
            d, e = date("eh_start", s, cells), date("eh_end", s, cells)
            if d is None and not s.errors:
                s.error("AA-DATE", "'assessment start date' is blank")
            if d and e and e < d:
                s.error("AA-END", "assessment completion date is before its start")
            s.fields = {"start": d, "end": e}
            if not s.errors:
                col.cands.append(Cand("early_help", child, d, d.isoformat(), 1, rec, s, end=e))
        elif n == 3:
            d, src = dated_source("referral_date", "referral_source", "'date of referral' is blank",
                                  ("8866", "Source of referral is missing: 'unknown'"), s, cells)
            s.fields = {"date": d, "source": src}
            if not s.errors:
                col.cands.append(Cand("referral", child, d, d.isoformat(), 1, rec, s, source=src))
        elif n == 4:
            st, au = date("ca_start", s, cells), date("ca_auth", s, cells)
            if st is None and not s.errors:
                s.error("AA-DATE", "'continuous assessment start date' is blank")
            if st and au and au < st:
                s.error("AA-END", "assessment authorised before its start")
            s.fields = {"start": st, "authorised": au}
            if not s.errors:
                if au is None:
                    s.hold("assessment in progress (no authorisation date) is not emitted (Q4)")
                    col.report.count("assessments_in_progress")
                else:
                    col.cands.append(Cand("assessment", child, au, st.isoformat(), 1, rec, s))
        elif n == 5:
            d = date("s47_start", s, cells)
            if d is None and not s.errors:
                s.error("AA-DATE", "section 47 start date is blank")
            s.fields = {"start": d}
            if not s.errors:
                col.cands.append(Cand("section_47", child, d, d.isoformat(), 1, rec, s))
        elif n == 6:
            if not s.errors:
                s.hold("Annex A List 6 has no contract event (Q9, Q14)")
        elif n == 7:
            d, e = date("cpp_start", s, cells), date("cpp_end", s, cells)
            cat = value("abuse", "cpp_cat", s, cells)
            if d is None and not s.errors:
                s.error("AA-DATE", "CP plan start date is blank")
            if cat is None and not s.errors:
                s.error("8905", "Initial Category of Abuse missing")
            if d and e and e < d:
                s.error("8925", "Child Protection Plan End Date earlier than Start Date")
            s.fields = {"start": d, "end": e, "detail": cat}
            if not s.errors:
                col.cands.append(Cand("cp_plan", child, d, d.isoformat(), 1, rec, s, end=e, detail=cat))
        elif n == 8:
            d, e = date("la_start", s, cells), date("la_end", s, cells)
            need = value("need", "la_need", s, cells)
            ls = value("legal_status", "la_ls", s, cells)
            if d is None and not s.errors:
                s.error("AA-DATE", "'date started to be looked after' is blank")
            if need is not None and need not in NEED_CODES:
                s.error("145", f"Category of need '{need}' is not N1-N8")
            if need is None and not s.errors:
                s.error("145", "Category of need missing")
            if d and e and e < d:
                s.error("356", "Date ceased is before the date started")
            s.fields = {"start": d, "end": e, "detail": need, "legal_status": ls}
            if s.errors:
                col.reject_child(child, s.errors[0].split(":")[0] + ": Annex A List 8 period of care refused ("
                                 + "; ".join(s.errors) + ")")
                continue
            if ls in ("V3", "V4"):
                s.hold("short breaks (V3/V4) are not an entry to care (Q5)")
                col.report.count("respite_periods_not_emitted")
                continue
            c = Cand("looked_after", child, d, d.isoformat(), 1, rec, s, end=e, detail=need)
            col.list8.append(c)


def _source_code(v: object) -> str:
    s = PREFIX.sub("", _clean(v))
    m = re.match(r"^(\d{1,2}[A-D]?)", s)
    return m[1] if m else ""


# --------------------------------------------------------------------------------------------------------
# council-supplied tables


def read_supplied(path: Path, name: str, required: tuple[str, ...], problems: list[str]
                  ) -> list[dict[str, str]] | None:
    got = read_csv_rows(path, name, problems)
    if got is None:
        return None
    header, body = got
    cols = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in cols]
    extra = [c for c in cols if c not in required]
    if missing or extra:
        problems.append(f"{name}: columns must be exactly {','.join(required)} (missing {missing or '-'}, "
                        f"unexpected {extra or '-'}; no free text may enter)")
        return None
    return [dict(zip(cols, (c.strip() for c in r), strict=False)) for r in body]


def read_supplied_frame(path: Path, name: str, required: tuple[str, ...], problems: list[str]):
    """A council-supplied table as a frame of strings (for the large partner feed); same checks as above."""
    import pandas as pd

    text = read_text(path, name, problems)
    if text is None:
        return None
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    extra = [c for c in df.columns if c not in required]
    if missing or extra:
        problems.append(f"{name}: columns must be exactly {','.join(required)} (missing {missing or '-'}, "
                        f"unexpected {extra or '-'}; no free text may enter)")
        return None
    return df
