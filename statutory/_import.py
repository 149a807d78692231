"""The import: manifest -> contract tables, report, quarantine and lineage (SPEC §2.4, §3, §4, §8, §10)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.contract import COUNCIL_COLUMN, EARLIEST_AS_OF, EVENT_TYPES, EXTRACT_NOTES, PARTNER_EVENT_TYPES
from core.errors import UpstreamError
from core.io import write_csv, write_json, write_text
from statutory._codes import FAMILY_BASES
from statutory._manifest import ImportError_, Manifest
from statutory._periods import build_periods, period_candidates
from statutory._read import (
    Cand,
    Collected,
    norm_key,
    parse_iso,
    read_903,
    read_annex_a,
    read_cin,
    read_supplied,
    read_supplied_frame,
    read_value_map,
)
from statutory._report import Report, Source, accounting, status
from statutory._schema import SchemaChecks

PRENATAL_LIMIT = dt.timedelta(days=280)   # CIN rule 8606: 40 weeks
NEAR_DAYS = 3
MAX_FAMILY = 12
DOB_SCHEME_LIMIT = 0.05
CHILDREN_COLS = ["child_id", "family_id", "date_of_birth", "sex", "ethnicity", "disability", "hub",
                 "deprivation_decile", "arrived_on", "left_on"]
EVENTS_COLS = ["event_id", "family_id", "child_id", "event_type", "event_date", "end_date", "source", "detail"]
PRIMARY = {"contact": "annex_a", "referral": "cin_census", "assessment": "cin_census", "section_47": "cin_census",
           "cin_plan": "cin_census", "cp_plan": "cin_census", "early_help": "annex_a", "looked_after": "ssda903",
           "missing_episode": "partner_events"}


class Pseudonymiser:
    """Keyed HMAC-SHA256 pseudonyms (SPEC §3.3-3.4); the key never leaves this object."""

    def __init__(self, key: bytes, la_code: str):
        self._key = key
        self._la = la_code
        self._children: dict[str, str] = {}

    def _hex(self, text: str) -> str:
        return hmac.digest(self._key, text.encode("utf-8"), hashlib.sha256).hex()[:20]

    def child(self, child_key: str) -> str:
        """The pseudonym of a council child id, raw or normalised: the key rule of §3.1 is applied here, so that
        `C1a2b`, `c1a2b ` and `C1A2B` (one child to the importer) get one pseudonym wherever it is computed."""
        got = self._children.get(child_key)
        if got is None:
            norm = norm_key(child_key) or child_key
            got = self._children[child_key] = "C" + self._hex(f"{self._la}:{norm}")
        return got

    def family(self, basis: str, family_key: str) -> str:
        return "F" + self._hex(f"{self._la}:{basis}:{family_key}")

    def event(self, event_type: str, key: str, natural: str) -> str:
        return "E" + self._hex(f"{event_type}|{key}|{natural}")


@dataclass
class ImportResult:
    """The contract tables and everything written beside them; `write` puts the side files in place."""

    children: pd.DataFrame
    events: pd.DataFrame
    extract_date: dt.date
    history_start: dt.date | None
    report: dict
    quarantine: dict[str, pd.DataFrame]
    lineage: pd.DataFrame

    def write_tables(self, out: Path) -> None:
        write_csv(self.children, out / "children.csv")
        write_csv(self.events, out / "events.csv")
        # what these records can support, read by training (SPEC §11 Q10: as-of dates from history start + 24 months)
        earliest = self.report.get("earliest_training_as_of")
        write_json({EARLIEST_AS_OF: earliest, "history_start": self.report.get("history_start"),
                    "source": "statutory returns (upstream import)"}, out / EXTRACT_NOTES)

    def write_side(self, side: Path, validation_summary: str | None = None) -> None:
        rep = dict(self.report)
        if validation_summary is not None:
            rep["validation"] = validation_summary
        write_json(rep, side / "report.json")
        write_text(render_markdown(rep), side / "report.md")
        (side / "quarantine").mkdir(parents=True, exist_ok=True)
        for name, df in self.quarantine.items():
            write_csv(df, side / "quarantine" / f"{name}.csv")
        write_csv(self.lineage, side / "lineage.csv")


def run_import(manifest: Manifest, key: bytes, *, hubs: tuple[str, ...], council_column: bool = False
               ) -> ImportResult:
    """Read every file the manifest names and build the contract tables; raise ImportError_ on unusable input.

    With `council_column` (a council of a regional partnership), every child also carries the `council` column,
    the manifest's LA number, so that the council's extract can be pooled with the others' (`upstream pool`)."""
    name = manifest.name
    checks = SchemaChecks([(path, name(path), year) for year, path in sorted(manifest.cin_census)])
    try:
        result = _run_import(manifest, key, hubs, checks)
    finally:
        checks.close()
    if council_column:
        result.children[COUNCIL_COLUMN] = manifest.la_code
    return result


def _run_import(manifest: Manifest, key: bytes, hubs: tuple[str, ...], checks: SchemaChecks) -> ImportResult:
    report = Report()
    col = Collected(report)
    name = manifest.name
    value_map = read_value_map(manifest.annex_a_value_map,
                               name(manifest.annex_a_value_map) if manifest.annex_a_value_map else None,
                               col.problems)
    for e in sorted(manifest.ssda903, key=lambda e: e.year):
        read_903(col, e.year, e.files, e.liia_cleaned, {t: name(p) for t, p in e.files.items()})
    for year, path in sorted(manifest.cin_census):
        read_cin(col, year, path, name(path), manifest.la_code)
    for a in sorted(manifest.annex_a, key=lambda a: a.extracted_on):
        read_annex_a(col, a.extracted_on, a.file, name(a.file), value_map, manifest.annex_a_headers)
    residence = read_supplied(manifest.residence, name(manifest.residence),
                              ("child_key", "resident_from", "resident_to", "hub", "deprivation_decile"),
                              col.problems)
    links = (read_supplied(manifest.family_links, name(manifest.family_links),
                           ("child_key", "family_key", "basis", "valid_from", "valid_to"), col.problems)
             if manifest.family_links else [])
    partner = (read_supplied_frame(manifest.partner_events, name(manifest.partner_events),
                                   ("child_key", "family_key", "event_type", "event_date", "detail"), col.problems)
               if manifest.partner_events else None)
    if col.problems:
        raise ImportError_(col.problems)

    # extract date (§8.4) and history start (§8.5)
    ends = {fmt: min(v) for fmt, v in col.coverage_end.items()}
    extract_date = min(max(v) for v in col.coverage_end.values())
    starts = {fmt: min(v) for fmt, v in col.coverage_start.items()}
    history_start = max(starts.values()) if starts else None

    # a leading-zero collision ('012345' and '12345' in one format) is an error for both (SPEC §3.1)
    by_fmt: dict[str, dict[str, set[str]]] = {}
    for s in col.sources:
        if s.child_key is not None and s.fmt in ("ssda903", "cin_census", "annex_a"):
            by_fmt.setdefault(s.fmt, {}).setdefault(s.child_key.lstrip("0"), set()).add(s.child_key)
    for keys in by_fmt.values():
        for same in keys.values():
            if len(same) > 1:
                for k in same:
                    col.reject_child(k, "ID-ZEROS: another child ID differs from this one only by leading zeros")

    periods = build_periods(col)
    period_candidates(col, periods)

    pseudo = Pseudonymiser(key, manifest.la_code)
    child_keys = set(col.child_sources) - {None}
    attrs = _resolve_attributes(col, child_keys, extract_date)
    res = _residence(col, residence or [], child_keys, hubs, extract_date, name(manifest.residence))
    fams = _families(col, links or [], child_keys, extract_date, pseudo,
                     name(manifest.family_links) if manifest.family_links else "")

    # which children are written
    written: dict[str, dict] = {}
    for ck in sorted(child_keys):
        if ck in col.child_errors:
            continue
        a = attrs.get(ck)
        if a is None:
            continue
        if a.get("unborn"):
            for s in col.child_sources.get(ck, []):
                s.hold("unborn child held back until a return gives its date of birth (Q11)")
            report.count("unborn_children_held_back")
            continue
        r = res.get(ck)
        if r is None:
            col.reject_child(ck, "RESIDENCE: no residence record (residence.csv, Q1)")
            continue
        if a["date_of_birth"] > extract_date or r["arrived_on"] > extract_date:
            for s in col.child_sources.get(ck, []):
                s.hold("born or arrived after the extract date")
            report.count("children_after_extract_date")
            continue
        row = {**a, **r}
        if row["arrived_on"] < row["date_of_birth"]:
            row["arrived_on"] = row["date_of_birth"]
            report.warn("RES-BIRTH", "resident_from before the date of birth: arrived_on = date of birth",
                        r["_res_src"])
        if row["death"] is not None and (row["left_on"] is None or row["death"] < row["left_on"]):
            row["left_on"] = row["death"]
            report.warn("DEATH", "left_on capped by a recorded death", r["_res_src"])
        if row["left_on"] is not None and row["left_on"] < row["arrived_on"]:
            col.reject_child(ck, "left_on before arrived_on (residence / death date)")
            report.add("RES-DATE", "E", "left the area before arriving (residence / death date)", r["_res_src"])
            continue
        written[ck] = row

    events = _events(col, written, pseudo, fams, extract_date)
    # children refused after events were checked (e.g. a period before birth)
    for ck in list(written):
        if ck in col.child_errors:
            del written[ck]
    events = [e for e in events if e["_child"] is None or e["_child"] in written]
    fam_written = {_family_id(fams, pseudo, ck) for ck in written}
    events = [e for e in events if e["family_id"] in fam_written]
    partner_ev, partner_lin = _partner_frame(
        col, partner, written, fams, pseudo, extract_date, {e["event_id"] for e in events},
        name(manifest.partner_events) if manifest.partner_events else "", manifest.partner_events_coverage_end)

    # propagate: a refused child takes every row of it along
    for ck, reasons in col.child_errors.items():
        head = reasons[0].split(":")[0]
        rule = head if head and " " not in head else "CHILD"
        for s in col.child_sources.get(ck, []):
            if not s.errors:
                s.errors.append(f"{rule}: child refused with every row of it ({'; '.join(reasons)})")
    for ck in child_keys:
        if ck in written:
            continue
        for s in col.child_sources.get(ck, []):
            if not s.errors and s.held is None:
                s.hold("child not written")

    # every refused row counted under each of its rules (one place: the rows themselves)
    for k in [k for k in report.rules if k[1] == "E"]:
        del report.rules[k]
    for s in col.sources:
        for e in s.errors:
            rule, _, msg = e.partition(": ")
            report.add(rule, "E", msg.split(" (")[0] if msg.startswith("child refused") else msg, s)

    # tables
    children_rows = []
    for ck, a in written.items():
        fid = _family_id(fams, pseudo, ck)
        children_rows.append({"child_id": pseudo.child(ck), "family_id": fid, "date_of_birth": a["date_of_birth"],
                              "sex": a["sex"], "ethnicity": a["ethnicity"], "disability": a["disability"],
                              "hub": a["hub"], "deprivation_decile": a["deprivation_decile"],
                              "arrived_on": a["arrived_on"], "left_on": a["left_on"]})
    children = pd.DataFrame(children_rows, columns=CHILDREN_COLS)
    ev = pd.DataFrame({k: [e[k] for e in events] for k in EVENTS_COLS}, columns=EVENTS_COLS, dtype=object)
    for c in ("event_date", "end_date"):
        ev[c] = [d.isoformat() if d else None for d in ev[c]]
    ev = pd.concat([ev, partner_ev], ignore_index=True) if len(partner_ev) else ev
    ev = _sort_events(ev)
    children = children.sort_values("child_id").reset_index(drop=True)
    children["deprivation_decile"] = children["deprivation_decile"].astype("Int64")
    for c in ("date_of_birth", "arrived_on", "left_on"):
        children[c] = children[c].map(lambda d: d.isoformat() if d else None)

    lineage = pd.DataFrame(
        [{"event_id": e["event_id"], "format": s.fmt, "file": s.file, "table_or_sheet": s.table, "row": s.row,
          "rules_applied": ";".join(dict.fromkeys(e["_flags"] + s.rules))}
         for e in events for s in e["_sources"]],
        columns=["event_id", "format", "file", "table_or_sheet", "row", "rules_applied"])
    if len(partner_lin):
        lineage = pd.concat([lineage, partner_lin], ignore_index=True)
    quarantine = _quarantine(col.sources, pseudo)
    schema_checks = checks.results()
    for c in schema_checks:
        if c.violations:
            for i, ex in enumerate(c.examples):
                report.add("XSD", "W", "CIN census file does not conform to its collection year's XSD",
                           where=f"{c.file}: {ex}", n=c.violations - len(c.examples) + 1 if i == 0 else 1)
        elif c.schema is None:
            report.notes.append(f"{c.file}: no XSD shipped for CIN collection year {c.year} (2017-2024 are): "
                                "not schema-checked")
    singletons = sum(1 for ck in written if ck not in fams)
    rep = {
        "extract_date": extract_date.isoformat(),
        "history_start": history_start.isoformat() if history_start else None,
        "earliest_training_as_of": (pd.Timestamp(history_start) + pd.DateOffset(months=24)).date().isoformat()
        if history_start else None,
        "coverage_end": {k: v.isoformat() for k, v in ends.items()},
        "children_written": len(children),
        "events_written": len(ev),
        "events_by_type": {k: int(v) for k, v in ev["event_type"].value_counts().sort_index().items()},
        "children_refused": sum(1 for ck in col.child_errors if ck in child_keys),
        "singleton_families": singletons,
        "files": accounting(col.sources, col.bulk),
        "rules": [{"rule": r.rule, "severity": r.severity, "message": r.message, "count": r.count,
                   "examples": r.examples} for r in sorted(report.rules.values(), key=lambda r: (r.severity, r.rule))],
        "counts": dict(sorted(report.counters.items())),
        "unmapped_values": {k: sorted(v) for k, v in sorted(report.unmapped_values.items())},
        "ignored_sheets": report.ignored_sheets,
        "header_overrides_applied": report.header_overrides_applied,
        "schema_checks": [{"file": c.file, "year": c.year, "schema": c.schema, "violations": c.violations,
                           "first": c.examples} for c in schema_checks],
        "notes": report.notes + [
            "early_help ends are Annex A assessment completion dates: a lower bound of the episode (Q8)",
            "no cin_plan events before April 2021: the CIN census has no plan dates before 2021-22 (Q9)",
            "features' as-of dates should start no earlier than history_start + 24 months (Q10)",
        ],
    }
    if singletons:
        rep["notes"].append(f"{singletons} children have no family link and are their own (singleton) family: "
                            "sibling features are 0 and family risk is child risk for them (Q2)")
    return ImportResult(children, ev, extract_date, history_start, rep, quarantine, lineage)


# --------------------------------------------------------------------------------------------------------


def _family_id(fams: dict[str, tuple[str, str]], pseudo: Pseudonymiser, child_key: str) -> str:
    """The child's family pseudonym, else its own singleton family "S" + child id (SPEC §3.2)."""
    got = fams.get(child_key)
    return got[0] if got is not None else "S" + pseudo.child(child_key)


def _sort_events(ev: pd.DataFrame) -> pd.DataFrame:
    """Events by family, date, type and id: numpy's lexsort on fixed-width strings (the same order as
    `sort_values` on these never-null columns, at a third of its time on a council's quarter-million events)."""
    keys = ["family_id", "event_date", "event_type", "event_id"]
    if ev[keys].isna().to_numpy().any():
        return ev.sort_values(keys, kind="stable").reset_index(drop=True)
    order = np.lexsort([ev[c].to_numpy(dtype=str) for c in reversed(keys)])
    return ev.iloc[order].reset_index(drop=True)


def _resolve_attributes(col: Collected, keys: set[str], extract_date: dt.date) -> dict[str, dict]:
    report = col.report
    by_child: dict[str, dict[str, list]] = {}
    for a in col.attrs:
        by_child.setdefault(a.child, {}).setdefault(a.attr, []).append(a)
    # month-rounded DOB files (§4.1): their DOBs lose to any full date
    per_file: dict[str, list] = {}
    for a in col.attrs:
        if a.attr == "date_of_birth":
            per_file.setdefault(a.src.file, []).append(a)
    for f, lst in per_file.items():
        if len(lst) >= 10 and sum(1 for a in lst if a.value.day == 1) > 0.9 * len(lst):
            report.add("DOB-MONTH", "W", "more than 90% of dates of birth are on day 1: month-rounded file "
                                         "(its dates of birth lose to full dates)", where=f)
            report.count("month_rounded_dob_files")
            for a in lst:
                a.rank = (-1,) + a.rank[1:]
    shared = disagree = 0
    out: dict[str, dict] = {}
    for ck in keys:
        if ck in col.child_errors:
            continue
        obs = by_child.get(ck, {})
        res: dict = {}
        dobs = [a for a in obs.get("date_of_birth", []) if a.value is not None]
        fmts = {a.fmt for a in dobs}
        if len(fmts) > 1:
            shared += 1
            if len({a.value for a in dobs}) > 1:
                disagree += 1
        for attr in ("date_of_birth", "sex", "ethnicity", "disability"):
            cands = [a for a in obs.get(attr, []) if a.value is not None and not a.src.errors]
            if attr == "disability":
                known = [a for a in cands if a.value != "unknown"]
                cands = known or cands
            if not cands:
                res[attr] = None
                continue
            best = max(cands, key=lambda a: a.rank)
            if len({a.value for a in cands}) > 1:
                rule = {"date_of_birth": "203", "sex": "202", "ethnicity": "204", "disability": "DIS"}[attr]
                report.warn(rule, f"{attr} disagrees between returns: the latest statutory return wins", best.src)
            res[attr] = best.value
        if res["date_of_birth"] is None:
            if obs.get("expected_birth"):
                res["unborn"] = True
                out[ck] = res
                continue
            col.reject_child(ck, "102: no date of birth in any return")
            continue
        if res["sex"] is None:
            col.reject_child(ck, "101: no sex in any return")
            continue
        if res["ethnicity"] is None:
            res["ethnicity"] = "NOBT"
            report.warn("103", "ethnicity blank in every return: recorded as NOBT", col.child_sources[ck][0])
            report.count("ethnicity_blank_nobt")
        if res["disability"] is None:
            res["disability"] = "unknown"
        deaths = [a.value for a in obs.get("death", []) if a.value]
        res["death"] = min(deaths) if deaths else None
        out[ck] = res
    if shared >= 20 and disagree > DOB_SCHEME_LIMIT * shared:
        raise ImportError_([f"{disagree} of {shared} children present in two formats disagree on date of birth: "
                            "the formats do not share one child ID scheme — supply an ID crosswalk (SPEC §3.1)"])
    return out


def _residence(col: Collected, rows: list[dict], child_keys: set[str], hubs: tuple[str, ...],
               extract_date: dt.date, fname: str) -> dict[str, dict]:
    report = col.report
    spells: dict[str, list[tuple]] = {}
    not_in_returns = 0
    for i, r in enumerate(rows, 1):
        ck = norm_key(r.get("child_key"))
        if ck is None:
            col.source("residence", fname, "residence", i, ck).error("RES-KEY", "child_key missing")
            continue
        col.residence_keys.add(ck)
        errors: list[tuple[str, str]] = []
        f = parse_iso(r.get("resident_from", ""))
        tv = r.get("resident_to", "")
        t = parse_iso(tv) if tv else None
        if f is None:
            errors.append(("RES-DATE", "resident_from is not a YYYY-MM-DD date"))
        if tv and t is None:
            errors.append(("RES-DATE", "resident_to is not a YYYY-MM-DD date"))
        if f and t and t < f:
            errors.append(("RES-DATE", "resident_to is before resident_from"))
        hub = r.get("hub", "")
        if hub not in hubs:
            errors.append(("RES-HUB", "hub is not one of the configured hubs (council.hubs)"))
        dec = r.get("deprivation_decile", "")
        if not (dec.isdigit() and 1 <= int(dec) <= 10):
            errors.append(("RES-DECILE", "deprivation_decile is not an integer 1-10"))
        if not errors and ck not in child_keys:
            # most of a council's residents: held back and counted in bulk (no row-level record to keep)
            not_in_returns += 1
            continue
        s = col.source("residence", fname, "residence", i, ck)
        for e in errors:
            s.error(*e)
        s.fields = {"resident_from": f, "resident_to": t, "hub": hub if hub in hubs else None}
        if s.errors:
            continue
        if f > extract_date:
            s.hold("spell starts after the extract date")
            continue
        spells.setdefault(ck, []).append((f, t, hub, int(dec), s))
    if not_in_returns:
        report.count("residence_children_in_no_return", not_in_returns)
        col.bulk.append({"format": "residence", "file": fname, "table": "residence", "read": not_in_returns,
                         "mapped": 0, "held_back": not_in_returns})
    out: dict[str, dict] = {}
    for ck, sp in spells.items():
        sp.sort(key=lambda x: x[0])
        for a, b in zip(sp, sp[1:], strict=False):
            if a[1] is not None and (b[0] - a[1]).days > 1:
                report.warn("RES-GAP", "gap between residence spells: treated as resident through it", b[4])
        arrived = sp[0][0]
        last = max(sp, key=lambda x: (x[1] is None, x[1] or dt.date.max, x[0]))
        left = last[1]
        cover = [x for x in sp if x[0] <= extract_date and (x[1] is None or x[1] >= extract_date)]
        cur = cover[-1] if cover else sp[-1]
        if left is not None and left > extract_date:
            left = None
        out[ck] = {"arrived_on": arrived, "left_on": left, "hub": cur[2], "deprivation_decile": cur[3],
                   "_res_src": sp[0][4]}
    return out


def _families(col: Collected, rows: list[dict], child_keys: set[str], extract_date: dt.date,
              pseudo: Pseudonymiser, fname: str) -> dict[str, tuple[str, str]]:
    """child_key -> (family_id, family_key) from family_links.csv (SPEC §3.2); absent children are singletons."""
    report = col.report
    links: dict[str, list[tuple]] = {}
    col.all_family_keys = {(r.get("family_key") or "").strip() for r in rows} - {""}
    not_in_returns = 0
    for i, r in enumerate(rows, 1):
        ck = norm_key(r.get("child_key"))
        fk = (r.get("family_key") or "").strip()
        basis = (r.get("basis") or "").strip()
        vf = parse_iso(r.get("valid_from", "")) if r.get("valid_from") else None
        vt = parse_iso(r.get("valid_to", "")) if r.get("valid_to") else None
        errors: list[tuple[str, str]] = []
        if ck is None:
            errors.append(("FAM-KEY", "child_key missing"))
        if not fk:
            errors.append(("FAM-KEY", "family_key missing"))
        if basis not in FAMILY_BASES:
            errors.append(("FAM-BASIS", f"basis is not one of {', '.join(FAMILY_BASES)}"))
        if (r.get("valid_from") and vf is None) or (r.get("valid_to") and vt is None):
            errors.append(("FAM-DATE", "valid_from / valid_to is not a YYYY-MM-DD date"))
        if not errors and ck not in child_keys:
            not_in_returns += 1   # held back, counted in bulk: "no return lists this child: not written"
            continue
        s = col.source("family_links", fname, "family_links", i, ck)
        for e in errors:
            s.error(*e)
        if s.errors:
            continue
        links.setdefault(ck, []).append((vf, vt, basis, fk, s))
    if not_in_returns:
        col.bulk.append({"format": "family_links", "file": fname, "table": "family_links", "read": not_in_returns,
                         "mapped": 0, "held_back": not_in_returns})
    out: dict[str, tuple[str, str]] = {}
    for ck, ls in links.items():
        cover = [x for x in ls if (x[0] is None or x[0] <= extract_date) and (x[1] is None or x[1] >= extract_date)]
        if len(cover) > 1:
            report.warn("FAM-MULTI", "several families cover the extract date: first by basis priority", cover[0][4])
        pick = sorted(cover, key=lambda x: FAMILY_BASES.index(x[2])) if cover else sorted(
            ls, key=lambda x: (x[1] or dt.date.max))[-1:]
        if not cover:
            report.warn("FAM-LATEST", "no family covers the extract date: the latest one is used", ls[0][4])
        vf, vt, basis, fk, _ = pick[0]
        out[ck] = (pseudo.family(basis, fk), fk)
    sizes = Counter(v[0] for v in out.values())
    for fid, n in sizes.items():
        if n > MAX_FAMILY:
            report.add("FAM-SIZE", "W", f"a family of more than {MAX_FAMILY} children (probable over-grouping)",
                       where=fid)
    return out


def _partner_frame(col: Collected, df: pd.DataFrame | None, written: dict, fams: dict, pseudo: Pseudonymiser,
                   extract_date: dt.date, emitted_ids: set[str], fname: str, coverage_end: dt.date | None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The partner feed (SPEC §9.2), vectorised: it is the largest table; only refused and held rows get a Source."""
    empty = pd.DataFrame(columns=EVENTS_COLS), pd.DataFrame()
    if df is None or not len(df):
        return empty
    n = len(df)
    ck = df["child_key"].str.replace(r"\s+", "", regex=True).str.upper()
    ck = ck.where(~ck.str.fullmatch(r"\d+\.0"), ck.str[:-2])
    fk = df["family_key"].str.strip()
    et = df["event_type"].str.strip()
    detail = df["detail"].str.strip()
    dates = pd.to_datetime(df["event_date"].where(df["event_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}")),
                           format="%Y-%m-%d", errors="coerce")
    reasons: list[tuple[np.ndarray, str]] = []

    def rule(mask: pd.Series, text: str) -> None:
        reasons.append((np.asarray(mask, dtype=bool), text))

    has_ck, has_fk = ck != "", fk != ""
    rule(~has_ck & ~has_fk, "PARTNER-KEY: neither child_key nor family_key")
    rule(~et.isin(PARTNER_EVENT_TYPES), "PARTNER-TYPE: event_type is not one of the 10 partner types")
    rule(dates.isna(), "PARTNER-DATE: event_date is not a YYYY-MM-DD date")
    excl = et == "school_exclusion"
    rule((detail != "") & ~(excl & detail.isin(["suspension", "permanent"])),
         "PARTNER-DETAIL: detail is only for school_exclusion (suspension or permanent)")
    rule(excl & (detail == ""), "PARTNER-DETAIL: school_exclusion needs detail suspension or permanent")
    known = set(col.child_sources) | col.residence_keys
    rule(has_ck & ~ck.isin(known), "PARTNER-KEY: child_key not found in the returns or residence.csv")
    rule(~has_ck & has_fk & ~fk.isin(col.all_family_keys), "PARTNER-KEY: family_key not found in family_links.csv")
    rejected = {k: v for k, v in col.child_errors.items()}
    rej_rule = has_ck & ck.isin(rejected)
    err_list = [""] * n
    for i in np.flatnonzero(np.logical_or.reduce([m for m, _ in reasons])):
        err_list[i] = " | ".join(t for m, t in reasons if m[i])
    errors = pd.Series(err_list, index=df.index)
    for i in np.flatnonzero(rej_rule.to_numpy() & (errors == "").to_numpy()):
        rs = rejected[ck.iat[i]]
        head = rs[0].split(":")[0]
        errors.iat[i] = f"{head if ' ' not in head else 'CHILD'}: child refused with every row of it ({'; '.join(rs)})"
    fam_of_key = {k: fid for fid, k in fams.values() if k is not None}
    family_id = pd.Series(np.where(has_ck, ck.map(lambda k: _family_id(fams, pseudo, k)
                                                   if k in written else None), fk.map(fam_of_key)), index=df.index)
    held = pd.Series("", index=df.index)
    held[has_ck & ~ck.isin(written) & ck.isin(known)] = "the child is not written (in no return, unborn or later)"
    held[~has_ck & family_id.isna()] = "the family has no written child"
    end = pd.Timestamp(coverage_end) if coverage_end else None
    ext = pd.Timestamp(extract_date)
    late = (dates > ext) if end is None else (dates > min(end, ext))
    held[late & (held == "")] = "dated after the extract date (§8.4) or the feed's coverage end"
    ok = (errors == "") & (held == "")
    # ids: missing episodes are keyed by (child, date) as in 903; other types by their occurrence that day
    key = np.where(has_ck, ck, "family:" + fk)
    day = dates.dt.strftime("%Y-%m-%d")
    occ = pd.Series(1, index=df.index).groupby([et, pd.Series(key, index=df.index), day]).cumsum()
    nat = np.where(et == "missing_episode", day, day + "#" + occ.astype(str))
    eid = pd.Series([pseudo.event(t, k, x) if o else "" for t, k, x, o in zip(et, key, nat, ok, strict=True)],
                    index=df.index)
    dup = ok & (eid.duplicated() | eid.isin(emitted_ids))   # the same missing episode again, or from the 903
    ok &= ~dup
    rows = np.arange(1, n + 1)
    refused = (errors != "").to_numpy()
    ck_l, et_l, d_l, det_l, err_l = (x.tolist() for x in (ck, et, df["event_date"], detail, errors))
    for i in np.flatnonzero(refused):
        s = col.source("partner_events", fname, "partner_events", int(rows[i]), ck_l[i] or None)
        s.fields = {"event_type": et_l[i], "event_date": d_l[i], "detail": det_l[i] or None}
        s.errors.extend(err_l[i].split(" | "))
        for e in s.errors:
            r, _, msg = e.partition(": ")
            col.report.add(r, "E", msg.split(" (")[0], s)
    held_mask = ~refused & (held != "").to_numpy()
    for reason, k in held[held_mask].value_counts().items():
        col.report.count(f"partner_events held back: {reason}", int(k))
    col.bulk.append({"format": "partner_events", "file": fname, "table": "partner_events",
                     "read": int(ok.sum() + dup.sum() + held_mask.sum()), "mapped": int(ok.sum() + dup.sum()),
                     "held_back": int(held_mask.sum())})
    out = pd.DataFrame({"event_id": eid[ok], "family_id": family_id[ok],
                        "child_id": [pseudo.child(k) if k else None for k in ck[ok]],
                        "event_type": et[ok], "event_date": day[ok], "end_date": None, "source": None,
                        "detail": detail[ok].replace("", None)})
    lin = pd.DataFrame({"event_id": eid[ok], "format": "partner_events", "file": fname,
                        "table_or_sheet": "partner_events", "row": rows[ok.to_numpy()], "rules_applied": ""})
    return out.reset_index(drop=True), lin.reset_index(drop=True)


def _events(col: Collected, written: dict[str, dict], pseudo: Pseudonymiser, fams: dict,
            extract_date: dt.date) -> list[dict]:
    report = col.report
    groups: dict[tuple, list[Cand]] = {}
    for c in col.cands:
        if c.src.errors:
            continue
        key = c.child if c.child is not None else f"family:{c.family_key}"
        groups.setdefault((c.etype, key, c.natkey), []).append(c)
    fam_by_key: dict[str, str] = {fk: fid for fid, fk in fams.values()}
    out = []
    per_child_type: dict[tuple, list] = {}
    for (etype, key, nat), cs in groups.items():
        assert etype in EVENT_TYPES
        primary = PRIMARY.get(etype)
        if len(cs) > 1:
            cs.sort(key=lambda c: (c.src.fmt == primary, c.prio, c.recency), reverse=True)
        best = cs[0]
        end = best.end
        for other in cs[1:]:
            if other.src.fmt != best.src.fmt and end is None and other.end is not None:
                end = other.end
                report.warn("FILL-END", "end date filled from a secondary source", other.src)
            other.src.fields["merged"] = True
            if other.src.fmt == best.src.fmt:
                other.src.rules.append("duplicate_of_later_copy")
            else:
                other.src.rules.append(f"same_event_as_{best.src.fmt}")
        child = best.child
        sources = [c.src for c in cs] + [s for c in cs for s in c.extra]
        flags = list(best.flags)
        if child is not None:
            w = written.get(child)
            if w is None:
                for s in sources:
                    if not s.errors and s.held is None:
                        s.hold("child not written")
                continue
            fid = _family_id(fams, pseudo, child)
            dob = w["date_of_birth"]
            if etype == "looked_after" and best.date < dob:
                best.src.error("302", "period of care starts before the date of birth")
                report.add("302", "E", "First episode of care before the date of birth: child refused", best.src)
                col.reject_child(child, "302: period of care starts before the date of birth")
                continue
            if best.date < dob - PRENATAL_LIMIT:
                best.src.error("8606", "event more than 40 weeks before the date of birth")
                report.add("8606", "E", "event more than 40 weeks before the date of birth", best.src)
                continue
        else:
            fid = fam_by_key.get(best.family_key or "")
            if fid is None:
                best.src.hold("family has no written child")
                continue
        if best.date > extract_date:
            for s in sources:
                s.hold("dated after the extract date (§8.4)")
            report.count(f"held_back_after_extract_date.{etype}")
            continue
        if end is not None and end > extract_date:
            end = None
            flags.append("end_after_extract_date_open")
        for s in sources:
            s.emitted = True
        ev = {"event_id": pseudo.event(etype, key, nat), "family_id": fid,
              "child_id": pseudo.child(child) if child is not None else None, "event_type": etype,
              "event_date": best.date, "end_date": end, "source": best.source, "detail": best.detail,
              "_child": child, "_sources": sources, "_flags": flags}
        out.append(ev)
        if child is not None:
            per_child_type.setdefault((child, etype), []).append(best)
    for (_child, _etype), cs in per_child_type.items():
        if len(cs) < 2:
            continue
        cs.sort(key=lambda c: c.date)
        for a, b in zip(cs, cs[1:], strict=False):
            if 0 < (b.date - a.date).days <= NEAR_DAYS:
                report.warn("NEAR-DUP", "two events of one type for one child within 3 days: both kept (Q13)", b.src)
    return out


def _quarantine(sources: list[Source], pseudo: Pseudonymiser) -> dict[str, pd.DataFrame]:
    rows: dict[str, list[dict]] = {}
    for s in sources:
        if status(s) != "refused":
            continue
        rec = {"file": s.file, "table": s.table, "row": s.row,
               "child_id": pseudo.child(s.child_key) if s.child_key else None,
               "reasons": " | ".join(s.errors)}
        for k, v in s.fields.items():
            if k != "merged":
                rec[k] = v.isoformat() if isinstance(v, dt.date) else v
        rows.setdefault(f"{s.fmt}_{s.table.replace(' ', '_').lower()}", []).append(rec)
    return {k: pd.DataFrame(v) for k, v in rows.items()}


def render_markdown(rep: dict) -> str:
    lines = ["# Import report", "", "Decision support only: a practitioner decides.", "",
             f"- extract date: {rep['extract_date']} (earliest coverage end of the loaded returns)",
             f"- history start: {rep['history_start']}; features' as-of dates from "
             f"{rep['earliest_training_as_of']} (history start + 24 months)",
             f"- children written: {rep['children_written']:,}; refused: {rep['children_refused']:,}; "
             f"singleton families: {rep['singleton_families']:,}",
             f"- events written: {rep['events_written']:,} "
             f"({', '.join(f'{k} {v:,}' for k, v in rep['events_by_type'].items())})", "",
             "## Rows per file (read = mapped + refused + held back)", "",
             "| format | file | table/sheet | read | mapped | refused | held back |", "|---|---|---|---|---|---|---|"]
    for f in rep["files"]:
        lines.append(f"| {f['format']} | {f['file']} | {f['table']} | {f['read']:,} | {f['mapped']:,} | "
                     f"{f['refused']:,} | {f['held_back']:,} |")
    lines += ["", "## Rules", "", "| rule | severity | count | message | first rows |", "|---|---|---|---|---|"]
    for r in rep["rules"]:
        lines.append(f"| {r['rule']} | {r['severity']} | {r['count']:,} | {r['message']} | "
                     f"{', '.join(r['examples'][:3])} |")
    if rep["counts"]:
        lines += ["", "## Counts", ""] + [f"- {k}: {v:,}" for k, v in rep["counts"].items()]
    if rep["unmapped_values"]:
        lines += ["", "## Unmapped values (add them to annex_a_value_map.csv if they are right)", ""]
        lines += [f"- {k}: {', '.join(repr(x) for x in v)}" for k, v in rep["unmapped_values"].items()]
    if rep.get("header_overrides_applied"):
        lines += ["", "## Annex A headers mapped by the manifest (annex_a_headers)", ""]
        lines += [f"- {h}" for h in rep["header_overrides_applied"]]
    if rep["ignored_sheets"]:
        lines += ["", "## Sheets ignored", ""] + [f"- {s}" for s in rep["ignored_sheets"]]
    checked = [c for c in rep.get("schema_checks", []) if c["schema"]]
    if checked:
        lines += ["", "## CIN census schema checks (xmlschema; W)", "", "| file | schema | violations | first |",
                  "|---|---|---|---|"]
        lines += [f"| {c['file']} | {c['schema']} | {c['violations']:,} | "
                  f"{'<br>'.join(x.replace('|', chr(92) + '|') for x in c['first'][:3])} |"
                  for c in checked]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in rep["notes"]]
    if rep.get("validation"):
        lines += ["", "## upstream validate", "", "```", rep["validation"], "```"]
    return "\n".join(lines) + "\n"


def report_json(rep: dict) -> str:
    return json.dumps(rep, indent=2, default=str)


__all__ = ["ImportResult", "Pseudonymiser", "UpstreamError", "run_import"]
