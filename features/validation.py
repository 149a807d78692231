"""Strict, explained validation of an extract: every broken rule named by file, column, rule and row numbers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from core import io
from core.contract import (
    COUNCIL_CODE_RE,
    COUNCIL_COLUMN,
    DETAIL_CODES,
    DISABILITY_CODES,
    EPISODE_EVENT_TYPES,
    ETHNICITY_CODES,
    EVENT_TYPES,
    NULLABLE,
    OPTIONAL_COLUMNS,
    SEX_CODES,
    SOURCED_EVENT_TYPES,
    SOURCES,
    TABLES,
    table_columns_of,
)
from core.errors import ContractError
from features import _small
from features.loaders import Extract, RawTable, TypedColumn, read_raw, table_columns

MAX_ROWS_SHOWN = 10
# The hub code list: one council's hub names, or a region's {council code: hub names} (core.config.Config.
# contract_hubs gives the one the config describes).
Hubs = tuple[str, ...] | Mapping[str, tuple[str, ...]]


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

    def valid_rows(self, table: str) -> np.ndarray:
        """Per data row of a table: True when it breaks no rule (the rows whose reasons are '')."""
        ok = np.ones(len(self.raw[table].frame), dtype=bool)
        for p in self.problems:
            if p.table == table:
                ok[p.rows] = False
        return ok

    def extract(self, *, source: Path | None = None) -> Extract:
        """The valid rows as typed contract tables."""
        keep_c = self.valid_rows("children")
        keep_e = self.valid_rows("events")
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
        if len(c) and COUNCIL_COLUMN in c.columns:
            lines.append("children per council:")
            for code, n in c[COUNCIL_COLUMN].value_counts().sort_index().items():
                lines.append(f"  {code:<28} {int(n):>10,}")
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




@lru_cache(maxsize=64)
def _code_set(allowed: tuple[str, ...]) -> frozenset:
    return frozenset(allowed)


def _isin(values: np.ndarray, allowed: tuple | list | set | frozenset) -> np.ndarray:
    """`pd.Series(values).isin(allowed)` as a boolean array; a set lookup per value on small inputs.

    Small inputs are looped over as lists (`tolist`): iterating an ndarray in Python costs more per value,
    and it ends by raising and catching an IndexError."""
    if len(values) < _small.SMALL:
        s = allowed if isinstance(allowed, (set, frozenset)) else _code_set(tuple(allowed))
        return np.array([v in s for v in values.tolist()], dtype=bool)
    return pd.Series(values, copy=False).isin(list(allowed)).to_numpy(dtype=bool)


def _duplicated(values: np.ndarray) -> np.ndarray:
    """`pd.Series(values).duplicated(keep=False)` as a boolean array."""
    if len(values) < _small.SMALL:
        items = values.tolist()
        seen: dict[object, int] = {}
        for v in items:
            seen[v] = seen.get(v, 0) + 1
        return np.array([seen[v] > 1 for v in items], dtype=bool)
    return pd.Series(values, copy=False).duplicated(keep=False).to_numpy(dtype=bool)


def _present_small(values: np.ndarray) -> np.ndarray | None:
    """`_Checker.present` of a few values, when each is None or text; None otherwise (then pandas' own
    missing-value test decides)."""
    items = values.tolist()
    absent: set[str | None] = set()
    for v in set(items):
        if v is None or (isinstance(v, str) and not v.strip()):
            absent.add(v)
        elif not isinstance(v, str):
            return None
    if not absent:
        return np.ones(len(items), dtype=bool)
    return np.array([v not in absent for v in items], dtype=bool)


@dataclass(frozen=True)
class _Columns:
    """One table's columns as arrays, each read from the frames once: as written, and typed."""

    raw: dict[str, np.ndarray]
    typed: dict[str, TypedColumn]


class _Checker:
    """Collects problems for one table. Works on numpy arrays, never frames: a table may hold one posted
    family (a few rows, where pandas' per-call overhead dominates) or a council (a million rows)."""

    def __init__(self, report: ValidationReport, table: str, columns: _Columns) -> None:
        self.report, self.table, self.columns = report, table, columns
        self.path = report.raw[table].path
        self._present: dict[str, np.ndarray] = {}
        self._typed: dict[str, np.ndarray] = {}
        self.kinds = table_columns_of(table, columns.typed)  # the contract's columns and the optional ones present

    def raw(self, col: str) -> np.ndarray:
        return self.columns.raw[col]

    def typed(self, col: str) -> np.ndarray:
        """A typed column as numpy: dates datetime64 (NaT missing), integers float64 (NaN missing)."""
        if col not in self._typed:
            values = self.columns.typed[col]
            self._typed[col] = (values.to_numpy(dtype=np.float64, na_value=np.nan)
                                if self.kinds[col] == "int" else values)
        return self._typed[col]

    def add(self, column: str, rule: str, mask: np.ndarray) -> None:
        rows = np.asarray(mask, dtype=bool).nonzero()[0]
        if len(rows):
            self.report.problems.append(Problem(self.table, self.path, column, rule, rows))

    def present(self, col: str) -> np.ndarray:
        """Non-missing and not blank; blanks are looked for among distinct values only (fast on big tables)."""
        if col not in self._present:
            s = self.raw(col)
            mask = _present_small(s) if len(s) < _small.SMALL and s.dtype == object else None
            if mask is None:
                mask = pd.notna(s)
                if s.dtype == object:
                    uniq = set(s[mask]) if len(s) < _small.SMALL else pd.unique(s[mask])
                    blanks = [u for u in uniq if isinstance(u, str) and not u.strip()]
                    if blanks:
                        mask &= ~_isin(s, set(blanks))
            self._present[col] = mask
        return self._present[col]

    def basic(self) -> None:
        """Required values, parseable types, codes that are in their lists, dates not in the future."""
        extract_date = np.datetime64(self.report.extract_date.to_datetime64(), "ns")
        after = f"date is after the extract date {self.report.extract_date:%Y-%m-%d}"
        for col, kind in self.kinds.items():
            present = self.present(col)
            if col not in NULLABLE[self.table]:
                self.add(col, "required value is missing", ~present)
            if kind == "date":
                typed = self.typed(col)
                self.add(col, "not a date in YYYY-MM-DD form", present & np.isnat(typed))
                self.add(col, after, typed > extract_date)
            elif kind == "int":
                self.add(col, "not a whole number", present & np.isnan(self.typed(col)))

    def codes(self, col: str, allowed: tuple[str, ...] | list[str]) -> None:
        shown = ", ".join(allowed) if len(allowed) <= 12 else ", ".join(allowed[:12]) + ", ..."
        self.add(col, f"code not in the list ({shown})", self.present(col) & ~_isin(self.raw(col), tuple(allowed)))

    def unique(self, col: str) -> None:
        s = self.raw(col)
        self.add(col, "must be unique (repeated value)", pd.notna(s) & _duplicated(s))


def _check_councils(ck: _Checker, hubs: Hubs) -> None:
    """A region's children: the council code's form and list, each council's own hubs, one council per family.
    Without the column (one council) the hub list is the council's."""
    if COUNCIL_COLUMN not in ck.kinds:
        ck.codes("hub", list(hubs) if not isinstance(hubs, Mapping) else list(next(iter(hubs.values()))))
        return
    code, present = ck.raw(COUNCIL_COLUMN), ck.present(COUNCIL_COLUMN)
    distinct = pd.unique(code[present]) if len(code) else []
    malformed = {c for c in distinct if not (isinstance(c, str) and COUNCIL_CODE_RE.fullmatch(c))}
    ck.add(COUNCIL_COLUMN, "not a DfE local-authority number (3 digits as text, e.g. '330')",
           present & _isin(code, malformed))
    assert isinstance(hubs, Mapping)  # validate_raw refuses a council column without configured codes
    ck.add(COUNCIL_COLUMN, f"code not in the configured councils ({', '.join(hubs)})",
           present & ~_isin(code, malformed) & ~_isin(code, tuple(hubs)))
    hub, hub_present = ck.raw("hub"), ck.present("hub")
    for council, names in hubs.items():
        shown = ", ".join(names) if len(names) <= 12 else ", ".join(names[:12]) + ", ..."
        ck.add("hub", f"code not in council {council}'s hub list ({shown})",
               hub_present & (code == council) & ~_isin(hub, tuple(names)))
    fam, fam_present = ck.raw("family_id"), ck.present("family_id")
    keep = present & fam_present
    councils_per_family = (pd.Series(code[keep]).groupby(fam[keep], sort=False).transform("nunique")
                           .to_numpy())
    spans = np.zeros(len(code), dtype=bool)
    spans[np.flatnonzero(keep)] = councils_per_family > 1
    ck.add(COUNCIL_COLUMN, "a family belongs to one council: this family_id has children in two or more councils",
           spans)


def _check_children(report: ValidationReport, tables: dict[str, _Columns], hubs: Hubs) -> None:
    ck = _Checker(report, "children", tables["children"])
    ck.basic()
    ck.unique("child_id")
    ck.codes("sex", SEX_CODES)
    ck.codes("ethnicity", ETHNICITY_CODES)
    ck.codes("disability", DISABILITY_CODES)
    _check_councils(ck, hubs)
    d = ck.typed("deprivation_decile")
    with np.errstate(invalid="ignore"):
        ck.add("deprivation_decile", "must be between 1 and 10", ~np.isnan(d) & ((d < 1) | (d > 10)))
    # comparisons with NaT are False: a missing date breaks no ordering rule (its own rule reports it)
    ck.add("left_on", "left_on is before arrived_on", ck.typed("left_on") < ck.typed("arrived_on"))
    ck.add("arrived_on", "arrived_on is before date_of_birth", ck.typed("arrived_on") < ck.typed("date_of_birth"))


def _check_events(report: ValidationReport, tables: dict[str, _Columns]) -> None:
    ck = _Checker(report, "events", tables["events"])
    ck.basic()
    ck.unique("event_id")
    ck.codes("event_type", EVENT_TYPES)
    ck.codes("source", SOURCES)
    etype = ck.raw("event_type")
    known_type = _isin(etype, EVENT_TYPES)
    ck.add("source", f"required for {' and '.join(SOURCED_EVENT_TYPES)} (use 'unknown' if not known)",
           _isin(etype, SOURCED_EVENT_TYPES) & ~ck.present("source"))
    ck.add("end_date", "end_date is before event_date", ck.typed("end_date") < ck.typed("event_date"))
    ck.add("end_date", f"only episodes ({', '.join(EPISODE_EVENT_TYPES)}) have an end_date",
           ~np.isnat(ck.typed("end_date")) & known_type & ~_isin(etype, EPISODE_EVENT_TYPES))
    # detail holds a code, never free text: check it against the code list for its event type.
    has_detail = ck.present("detail")
    detail = ck.raw("detail")
    # Check each coded event type's details against its own list (vectorised per type).
    detail_ok = np.ones(len(etype), dtype=bool)
    for et, rule in DETAIL_CODES.items():
        sel = np.flatnonzero(has_detail & (etype == et))
        if len(sel):
            vals = [str(v) for v in detail[sel].tolist()]
            detail_ok[sel] = (np.fromiter((rule.fullmatch(v) is not None for v in vals), dtype=bool, count=len(sel))
                              if isinstance(rule, re.Pattern) else _isin(np.asarray(vals, dtype=object), rule))
    coded = _isin(etype, tuple(DETAIL_CODES))
    ck.add("detail", "detail is not a valid code for this event type",
           has_detail & coded & ~detail_ok)
    ck.add("detail", "this event type takes no detail (codes only, never free text)",
           has_detail & known_type & ~coded)
    ck.add("detail", "required for cp_plan (category of abuse) and looked_after (category of need)",
           _isin(etype, ("cp_plan", "looked_after")) & ~has_detail)

    # Referential integrity, against children that passed their own rules.
    child_ok = report.valid_rows("children")
    c_ids = tables["children"].raw["child_id"]
    c_fams = tables["children"].raw["family_id"]
    all_families = set(c_fams[pd.notna(c_fams)].tolist())
    good_families = set(c_fams[child_ok & pd.notna(c_fams)].tolist())
    all_child_ids = set(c_ids[pd.notna(c_ids)].tolist())
    good_child_ids = set(c_ids[child_ok].tolist())

    # every event's family and child exist in children, and were not rejected there
    for column, known_ids, kept_ids, unknown, rejected in (
            ("family_id", all_families, good_families, "family_id does not exist in children",
             "family_id has no valid child (all its children were rejected)"),
            ("child_id", all_child_ids, good_child_ids, "child_id does not exist in children",
             "child_id refers to a child rejected from children")):
        values, present = ck.raw(column), ck.present(column)
        known = _isin(values, known_ids)
        ck.add(column, unknown, present & ~known)
        ck.add(column, rejected, present & known & ~_isin(values, kept_ids))
    fam, fam_present = ck.raw("family_id"), ck.present("family_id")
    child, child_present = ck.raw("child_id"), ck.present("child_id")
    # the family each child_id belongs to in children (ids repeated in children have no single owner)
    once = ~_duplicated(c_ids)
    if len(child) < _small.SMALL:
        owners = dict(zip(c_ids[once].tolist(), c_fams[once].tolist(), strict=True))
        owner = np.array([owners.get(c) for c in child.tolist()], dtype=object)
    else:
        owner = pd.Series(child, copy=False).map(pd.Series(c_fams[once], index=c_ids[once])).to_numpy(dtype=object)
    owned = pd.notna(owner)
    ck.add("child_id", "child belongs to another family_id in children",
           child_present & owned & fam_present & (owner != fam))


def validate_raw(raw: dict[str, RawTable], *, hubs: Hubs,
                 extract_date: pd.Timestamp | None = None) -> ValidationReport:
    extract_date = pd.Timestamp(extract_date if extract_date is not None else pd.Timestamp.today()).normalize()
    report = ValidationReport(raw=raw, typed={}, extract_date=extract_date)
    for name, table in raw.items():
        cols = list(table.frame.columns)
        missing = [c for c in TABLES[name] if c not in cols]
        unknown = [c for c in cols if c not in TABLES[name] and c not in OPTIONAL_COLUMNS[name]]
        if missing:
            report.fatal.append(f"{table.path}: missing required column(s): {', '.join(missing)}")
        if unknown:
            report.fatal.append(f"{table.path}: column(s) not in the contract: {', '.join(unknown)} "
                                "(the contract allows no extra columns, so no free text can enter)")
    report.fatal.extend(_council_column_fatal(raw["children"], hubs))
    if report.fatal:
        return report
    # each frame is read once into arrays; the checks work on those, and the typed frames are built from them
    tables: dict[str, _Columns] = {}
    for name, t in raw.items():
        tables[name] = _Columns(*table_columns(t.frame, name))
        report.typed[name] = pd.DataFrame(tables[name].typed, index=t.frame.index)
    _check_children(report, tables, hubs)
    _check_events(report, tables)
    return report


def _council_column_fatal(children: RawTable, hubs: Hubs) -> list[str]:
    """The council column and the config must agree: a region's extract needs it; a council code needs the
    config to name the councils."""
    has = COUNCIL_COLUMN in children.frame.columns
    if not has and isinstance(hubs, Mapping) and len(hubs) > 1:
        return [f"{children.path}: missing required column(s): {COUNCIL_COLUMN} (the config describes a region of "
                f"{len(hubs)} councils: {', '.join(hubs)})"]
    if has and not isinstance(hubs, Mapping):
        return [f"{children.path}: column '{COUNCIL_COLUMN}': the config names no council code (set council.code, "
                "or list the region's councils under councils:)"]
    return []


def validate_extract(directory: str | Path, *, hubs: Hubs,
                     extract_date: pd.Timestamp | None = None) -> ValidationReport:
    """Read an extract directory and check every contract rule; never raises for bad rows, only reports.

    Parameters
    ----------
    directory : str or Path
        The directory holding `children` and `events` (Parquet or CSV).
    hubs : tuple of str, or mapping of council code to tuple of str
        The council's hub names (the `hub` code list), or a region's per council (`Config.contract_hubs`);
        a region's children carry a `council` column and each child's hub must be in its council's list.
    extract_date : Timestamp, optional
        The extract's last date; nothing may be dated after it.

    Returns
    -------
    ValidationReport
        Every broken rule with its rows; `.ok`, `.error_text()` and `.extract()` for the valid tables.

    An extract is a council's records: one without children, or with children and no events, is refused
    whole (a header-only file is almost always a failed export, not a council with nothing recorded).
    """
    raw = read_raw(directory)
    report = validate_raw(raw, hubs=hubs, extract_date=extract_date)
    report.fatal.extend(empty_tables(raw))
    return report


def empty_tables(raw: dict[str, RawTable]) -> list[str]:
    """One line per table of an extract that has no rows (children first: without them events mean nothing)."""
    children, events = raw["children"], raw["events"]
    if len(children.frame) == 0:
        return [f"{children.path}: no rows: an extract needs at least one child (is the export empty?)"]
    if len(events.frame) == 0:
        return [f"{events.path}: no rows: an extract with children needs their events (is the export empty?)"]
    return []


def load_extract(directory: str | Path, *, hubs: Hubs, extract_date: pd.Timestamp | None = None
                 ) -> Extract:
    """Read and strictly validate an extract; refuse it if it breaks the contract.

    Parameters
    ----------
    directory, hubs, extract_date
        As for `validate_extract`.

    Returns
    -------
    Extract
        The typed contract tables.

    Raises
    ------
    ContractError
        Naming every broken rule with its file, column and rows.
    """
    raw = read_raw(directory)
    report = validate_raw(raw, hubs=hubs, extract_date=extract_date)
    report.fatal.extend(empty_tables(raw))
    if not report.ok:
        raise ContractError(report.error_text())
    return report.extract(source=Path(directory))
