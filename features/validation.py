"""Strict, explained validation of an extract: every broken rule named by file, column, rule and row numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import (
    DETAIL_CODES,
    DISABILITY_CODES,
    EPISODE_EVENT_TYPES,
    ETHNICITY_CODES,
    EVENT_TYPES,
    NULLABLE,
    SEX_CODES,
    SOURCED_EVENT_TYPES,
    SOURCES,
    TABLES,
)
from features.loaders import Extract, RawTable, read_raw, type_table
from upstream import io

MAX_ROWS_SHOWN = 10


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, what, and which rows (0-based positions in the file's data rows)."""

    table: str
    path: Path
    column: str
    rule: str
    rows: np.ndarray

    @property
    def count(self) -> int:
        return len(self.rows)

    def message(self) -> str:
        shown = ", ".join(str(r + 1) for r in self.rows[:MAX_ROWS_SHOWN])
        more = f" (first {MAX_ROWS_SHOWN} shown)" if self.count > MAX_ROWS_SHOWN else ""
        noun = "row" if self.count == 1 else "rows"
        return (f"{self.path}: column '{self.column}': {self.rule}: {self.count} {noun}; "
                f"data rows {shown}{more}")


@dataclass
class ValidationReport:
    raw: dict[str, RawTable]
    typed: dict[str, pd.DataFrame]
    extract_date: pd.Timestamp
    problems: list[Problem] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)  # whole-file problems: nothing in the table can be trusted

    @property
    def ok(self) -> bool:
        return not self.problems and not self.fatal

    def error_text(self) -> str:
        lines = list(self.fatal) + [p.message() for p in self.problems]
        return "the extract breaks the data contract:\n" + "\n".join(f"  {line}" for line in lines)

    def reasons(self, table: str) -> pd.Series:
        """For each data row of a table, every rule it breaks ('' when none), joined by '; '."""
        n = len(self.raw[table].frame)
        reasons = [[] for _ in range(n)]
        for p in self.problems:
            if p.table == table:
                for r in p.rows:
                    reasons[r].append(f"{p.column}: {p.rule}")
        return pd.Series(["; ".join(r) for r in reasons], index=self.raw[table].frame.index, dtype=object)

    def extract(self, *, source: Path | None = None) -> Extract:
        """The valid rows as typed contract tables."""
        keep_c = self.reasons("children") == ""
        keep_e = self.reasons("events") == ""
        return Extract(children=self.typed["children"][keep_c].reset_index(drop=True),
                       events=self.typed["events"][keep_e].reset_index(drop=True), source=source)

    def summary_text(self) -> str:
        ex = self.extract()
        c, e = ex.children, ex.events
        lines = [f"children: {len(c):,} rows ({self.raw['children'].path})",
                 f"events:   {len(e):,} rows ({self.raw['events'].path})"]
        if len(e):
            lines.append(f"event dates: {e['event_date'].min():%Y-%m-%d} to {e['event_date'].max():%Y-%m-%d}")
            lines.append("events per type:")
            for t, n in e["event_type"].value_counts().reindex(EVENT_TYPES).dropna().items():
                lines.append(f"  {t:<28} {int(n):>10,}")
        if len(c):
            lines.append("children per hub:")
            for h, n in c["hub"].value_counts().sort_index().items():
                lines.append(f"  {h:<28} {int(n):>10,}")
        return "\n".join(lines)

    def quarantine(self, out: str | Path) -> dict[str, tuple[int, int]]:
        """Write valid rows as clean Parquet tables and invalid rows with their reasons to OUT.

        Returns {table: (kept, rejected)}; kept + rejected equals the input, row for row.
        """
        out = Path(out)
        ex = self.extract()
        counts = {}
        for table, clean in (("children", ex.children), ("events", ex.events)):
            reasons = self.reasons(table)
            bad = reasons != ""
            rejected = self.raw[table].frame[bad].copy()
            rejected.insert(0, "data_row", np.flatnonzero(bad.to_numpy()) + 1)
            rejected["reason"] = reasons[bad]
            io.write_parquet(clean, out / f"{table}.parquet")
            io.write_csv(rejected, out / f"rejected_{table}.csv")
            counts[table] = (len(clean), int(bad.sum()))
        return counts


class _Checker:
    """Collects problems for one table."""

    def __init__(self, report: ValidationReport, table: str) -> None:
        self.report, self.table = report, table
        self.raw = report.raw[table].frame
        self.typed = report.typed[table]
        self.path = report.raw[table].path
        self._present: dict[str, pd.Series] = {}

    def add(self, column: str, rule: str, mask: pd.Series | np.ndarray) -> None:
        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(rows):
            self.report.problems.append(Problem(self.table, self.path, column, rule, rows))

    def present(self, col: str) -> pd.Series:
        """Non-missing and not blank; blanks are looked for among distinct values only (fast on big tables)."""
        if col not in self._present:
            s = self.raw[col]
            mask = s.notna()
            if pd.api.types.is_object_dtype(s):
                uniq = pd.unique(s[mask])
                blanks = [u for u in uniq if isinstance(u, str) and not u.strip()]
                if blanks:
                    mask &= ~s.isin(blanks)
            self._present[col] = mask
        return self._present[col]

    def basic(self) -> None:
        """Required values, parseable types, codes that are in their lists, dates not in the future."""
        for col, kind in TABLES[self.table].items():
            present = self.present(col)
            if col not in NULLABLE[self.table]:
                self.add(col, "required value is missing", ~present)
            if kind == "date":
                self.add(col, "not a date in YYYY-MM-DD form", present & self.typed[col].isna())
                self.add(col, f"date is after the extract date {self.report.extract_date:%Y-%m-%d}",
                         self.typed[col] > self.report.extract_date)
            elif kind == "int":
                self.add(col, "not a whole number", present & self.typed[col].isna())

    def codes(self, col: str, allowed: tuple[str, ...] | list[str]) -> None:
        shown = ", ".join(allowed) if len(allowed) <= 12 else ", ".join(allowed[:12]) + ", ..."
        self.add(col, f"code not in the list ({shown})", self.present(col) & ~self.raw[col].isin(allowed))

    def unique(self, col: str) -> None:
        s = self.raw[col]
        self.add(col, "must be unique (repeated value)", s.notna() & s.duplicated(keep=False))


def _check_children(report: ValidationReport, hubs: tuple[str, ...]) -> None:
    ck = _Checker(report, "children")
    ck.basic()
    ck.unique("child_id")
    ck.codes("sex", SEX_CODES)
    ck.codes("ethnicity", ETHNICITY_CODES)
    ck.codes("disability", DISABILITY_CODES)
    ck.codes("hub", list(hubs))
    d = ck.typed["deprivation_decile"]
    ck.add("deprivation_decile", "must be between 1 and 10", d.notna() & ((d < 1) | (d > 10)).fillna(False))
    t = ck.typed
    ck.add("left_on", "left_on is before arrived_on", (t["left_on"] < t["arrived_on"]).fillna(False))
    ck.add("arrived_on", "arrived_on is before date_of_birth",
           (t["arrived_on"] < t["date_of_birth"]).fillna(False))


def _check_events(report: ValidationReport) -> None:
    ck = _Checker(report, "events")
    ck.basic()
    ck.unique("event_id")
    ck.codes("event_type", EVENT_TYPES)
    ck.codes("source", SOURCES)
    raw, t = ck.raw, ck.typed
    etype = raw["event_type"]
    ck.add("source", f"required for {' and '.join(SOURCED_EVENT_TYPES)} (use 'unknown' if not known)",
           etype.isin(SOURCED_EVENT_TYPES) & ~ck.present("source"))
    ck.add("end_date", "end_date is before event_date", (t["end_date"] < t["event_date"]).fillna(False))
    ck.add("end_date", f"only episodes ({', '.join(EPISODE_EVENT_TYPES)}) have an end_date",
           t["end_date"].notna() & etype.isin(EVENT_TYPES) & ~etype.isin(EPISODE_EVENT_TYPES))
    # detail holds a code, never free text: check it against the code list for its event type.
    has_detail = ck.present("detail")
    # Check each coded event type's details against its own list (vectorised per type).
    detail_ok = pd.Series(True, index=raw.index)
    for et, rule in DETAIL_CODES.items():
        sel = has_detail & (etype == et)
        if sel.any():
            vals = raw.loc[sel, "detail"].astype(str)
            good = vals.str.fullmatch(rule.pattern) if isinstance(rule, re.Pattern) else vals.isin(rule)
            detail_ok.loc[sel] = good.to_numpy(dtype=bool)
    coded = etype.isin(list(DETAIL_CODES))
    ck.add("detail", "detail is not a valid code for this event type",
           has_detail & coded & ~detail_ok)
    ck.add("detail", "this event type takes no detail (codes only, never free text)",
           has_detail & etype.isin(EVENT_TYPES) & ~coded)
    ck.add("detail", "required for cp_plan (category of abuse) and looked_after (category of need)",
           etype.isin(["cp_plan", "looked_after"]) & ~has_detail)

    # Referential integrity, against children that passed their own rules.
    children_raw = report.raw["children"].frame
    child_ok = (report.reasons("children") == "").to_numpy()
    all_children = children_raw.drop_duplicates("child_id", keep=False).set_index("child_id")["family_id"]
    good_children = children_raw[child_ok].set_index("child_id")["family_id"]
    all_families = set(children_raw["family_id"].dropna())
    good_families = set(children_raw.loc[child_ok, "family_id"].dropna())

    fam = raw["family_id"]
    fam_present = ck.present("family_id")
    ck.add("family_id", "family_id does not exist in children", fam_present & ~fam.isin(all_families))
    ck.add("family_id", "family_id has no valid child (all its children were rejected)",
           fam_present & fam.isin(all_families) & ~fam.isin(good_families))
    child = raw["child_id"]
    child_present = ck.present("child_id")
    ck.add("child_id", "child_id does not exist in children",
           child_present & ~child.isin(set(children_raw["child_id"].dropna())))
    ck.add("child_id", "child_id refers to a child rejected from children",
           child_present & child.isin(set(children_raw["child_id"].dropna())) & ~child.isin(good_children.index))
    owner = child.map(all_children)
    ck.add("child_id", "child belongs to another family_id in children",
           child_present & owner.notna() & fam_present & (owner != fam))


def validate_raw(raw: dict[str, RawTable], *, hubs: tuple[str, ...],
                 extract_date: pd.Timestamp | None = None) -> ValidationReport:
    extract_date = pd.Timestamp(extract_date if extract_date is not None else pd.Timestamp.today()).normalize()
    report = ValidationReport(raw=raw, typed={}, extract_date=extract_date)
    for name, table in raw.items():
        cols = list(table.frame.columns)
        missing = [c for c in TABLES[name] if c not in cols]
        unknown = [c for c in cols if c not in TABLES[name]]
        if missing:
            report.fatal.append(f"{table.path}: missing required column(s): {', '.join(missing)}")
        if unknown:
            report.fatal.append(f"{table.path}: column(s) not in the contract: {', '.join(unknown)} "
                                "(the contract allows no extra columns, so no free text can enter)")
    if report.fatal:
        return report
    report.typed = {name: type_table(t.frame, name) for name, t in raw.items()}
    _check_children(report, hubs)
    _check_events(report)
    return report


def validate_extract(directory: str | Path, *, hubs: tuple[str, ...],
                     extract_date: pd.Timestamp | None = None) -> ValidationReport:
    """Read an extract directory and check every contract rule; never raises for bad rows, only reports."""
    return validate_raw(read_raw(directory), hubs=hubs, extract_date=extract_date)
