"""build_features: the training/scoring table — one row per (child, as-of date) in the cohort, point in time.

Every value at as-of t is computed from records with an event date on or before t (an episode whose end
date is after t is still open at t); only the label looks past t. The same code serves a council of
56,000 children and one posted family: the work is a handful of numpy calls per chunk of signals (every
signal of a scope at once for a family, one signal at a time for a council) and per as-of date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN, ETHNICITY_GROUPS, KNOWN_TO_SOCIAL_CARE_TYPES
from core.errors import ContractError
from features.columns import AGE_BANDS, AUDIT_COLUMNS, KEY_COLUMNS
from features.definitions import FeatureDef, Signal, feature_defs
from features.history import DAY0, SPAN, TYPE_CODE, History, SignalTable, lookup_codes, position, type_mask
from features.labels import label_array
from features.loaders import Extract
from features.timeline import NEVER, completed_months, day_of, month_shifts, normalise_dates

# the column indexes of the output's parts, in order: ids, as_of, features, label, object audit columns, flags
_KEY_IDS, _AS_OF, _LABEL = pd.Index(KEY_COLUMNS[:2]), pd.Index(KEY_COLUMNS[2:]), pd.Index(["label"])
_AUDIT_OBJECTS = pd.Index(AUDIT_COLUMNS[:-2])
_AUDIT_FLAGS = pd.Index(AUDIT_COLUMNS[-1:])
_COUNCIL = pd.Index([COUNCIL_COLUMN])
assert KEY_COLUMNS[2] == "as_of" and AUDIT_COLUMNS[-2:] == ("deprivation_decile", "previously_known")
_AGE_BAND_STARTS = np.array([5, 10, 16]) * 12  # months
DAYS_PER_MONTH = 365.25 / 12


class _Rows:
    """The cohort rows being computed: child codes and as-of days, grouped by as-of date."""

    def __init__(self, history: History, codes: np.ndarray, which: np.ndarray, days: list[int],
                 cut_months: tuple[int, ...]) -> None:
        self.h, self.codes, self.which = history, codes, which
        self.days = np.asarray(days, dtype=np.int64)
        self.t = self.days[which]
        # rows are grouped by as-of date: date j owns rows bounds[j]:bounds[j + 1]
        self.bounds = np.searchsorted(which, np.arange(len(days) + 1))
        # cut-off days per row: cuts[i] is cut_months[i] months back from t (the open start of a window; cut_months
        # starts with 0, t itself); take() keeps C order, so a cut-off's row is contiguous
        self.cuts = month_shifts(tuple(days), tuple(-m for m in cut_months)).take(which, axis=1)

    def key(self, scope: str) -> np.ndarray:
        return self.h.family[self.codes] if scope == "household" else self.codes


# What a signal's columns are computed from, per (signal, row) pair: a count of records up to t (months None)
# or in a window of months, a trend (the last `months` minus the `months` before), the days since the latest
# record, and the open-episode state at t. A slot is (kind, months).
_Slot = tuple[str, int | None]
_LINEAR = ("count", "trend")  # the slots that are sums of counts up to cut-offs
_OPEN = ("open", "open_months")


@dataclass(frozen=True)
class _Plan:
    """How `feature_matrix` fills the columns of a feature set: the columns that are NaN where their signal has
    no record for the row's key (the others are 0), the static columns, each scope's signals with the column
    of each of their slots, and the month offsets of the cut-offs (cut_months[0] == 0 is t itself)."""

    defs: tuple[FeatureDef, ...]
    names: pd.Index
    nan_columns: np.ndarray
    static: tuple[tuple[int, str], ...]
    scopes: tuple[tuple[str, tuple[tuple[Signal, dict[_Slot, int]], ...]], ...]
    cut_months: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class _Chunk:
    """Signals of one scope that are searched together, and the matrix columns their values go to.
    A pair's values are its slots in this order: the linear ones, days_since (if any), the open ones."""

    scope: str
    table: SignalTable
    on_end: np.ndarray | None  # per signal: dated by the episode end (None when no signal is)
    cut_rows: np.ndarray  # the rows of _Rows.cuts searched, t first
    linear: tuple[tuple[str, int | None, int, int], ...]  # (kind, months, rows of upto for t - months, t - 2 months)
    days_since: bool
    opens: tuple[str, ...]
    target: np.ndarray  # (slot x signal) column of the matrix: the scratch column (the last) if the signal has none


def _slot(d: FeatureDef) -> _Slot:
    return (d.kind, d.window if d.kind in _LINEAR else None)


def _cut_months(slots: Sequence[_Slot]) -> list[int]:
    """The cut-offs (months back from t, 0 first: t itself) that these slots' counts and trends need."""
    return sorted({0} | {m for kind, m in slots if kind in _LINEAR and m is not None}
                  | {2 * m for kind, m in slots if kind == "trend" and m is not None})


@lru_cache(maxsize=32)
def _plan(windows: tuple[int, ...]) -> _Plan:
    """Cached by the configured windows: hashing some 260 frozen definitions on every call would be a
    noticeable share of the one-family path."""
    defs = feature_defs(windows)
    nan_columns = np.array([i for i, d in enumerate(defs) if d.kind == "days_since"], dtype=np.int64)
    static = tuple((i, d.name) for i, d in enumerate(defs) if d.kind == "static")
    by_scope: dict[str, dict[Signal, dict[_Slot, int]]] = {}
    for i, d in enumerate(defs):
        if d.signal is not None:
            by_scope.setdefault(d.signal.scope, {}).setdefault(d.signal, {})[_slot(d)] = i
            # episodes dated by their end have no open state (an ended episode is not open)
            assert not (d.signal.on == "end" and d.kind in _OPEN)
    scopes = tuple((scope, tuple(signals.items())) for scope, signals in by_scope.items())
    cut_months = _cut_months([_slot(d) for d in defs if d.signal is not None])
    return _Plan(defs, pd.Index([d.name for d in defs]), nan_columns, static, scopes, tuple(cut_months))


def _chunk(plan: _Plan, scope: str, signals: tuple[tuple[Signal, dict[_Slot, int]], ...]) -> _Chunk:
    """The layout of a chunk: the slots any of its signals has, and the cut-offs (months back from t) they need."""
    present = list(dict.fromkeys(slot for _, columns in signals for slot in columns))
    linear = [(kind, m) for kind, m in present if kind in _LINEAR]
    months = _cut_months(linear)
    days_since = ("days_since", None) in present
    opens = tuple(kind for kind, _ in present if kind in _OPEN)
    order = [*linear, *[("days_since", None)] * days_since, *[(kind, None) for kind in opens]]
    on_end = np.array([s.on == "end" for s, _ in signals])
    return _Chunk(
        scope=scope,
        table=SignalTable.of(tuple(s for s, _ in signals)),
        on_end=on_end if on_end.any() else None,
        cut_rows=np.array([plan.cut_months.index(m) for m in months]),
        linear=tuple((kind, m, months.index(m) if m is not None else 0,
                      months.index(2 * m) if kind == "trend" and m is not None else 0) for kind, m in linear),
        days_since=days_since,
        opens=opens,
        target=np.array([[columns.get(slot, len(plan.defs)) for _, columns in signals] for slot in order]))


# Signals are searched together in chunks of about this many (signal, row) pairs: for one family every
# signal of a scope in one set of numpy calls, for a council one signal at a time (bounded memory).
_CHUNK_PAIRS = 20_000


def _chunks(windows: tuple[int, ...], n_rows: int) -> tuple[_Chunk, ...]:
    """The plan's signals in chunks of one scope, sized for this many rows."""
    largest = max(len(signals) for _, signals in _plan(windows).scopes)
    return _chunks_of(windows, min(max(1, _CHUNK_PAIRS // max(n_rows, 1)), largest))


@lru_cache(maxsize=64)
def _chunks_of(windows: tuple[int, ...], size: int) -> tuple[_Chunk, ...]:
    plan = _plan(windows)
    return tuple(_chunk(plan, scope, signals[lo:lo + size]) for scope, signals in plan.scopes
                 for lo in range(0, len(signals), size))


def _fill_signals(xt: np.ndarray, rows: _Rows, chunk: _Chunk) -> None:
    """Write the chunk's columns into xt (the feature matrix transposed, C order) for the (signal, row) pairs
    whose key has any record of the signal; the other entries keep their default.

    The records of the chunk's signals form one sorted stream of positions (signal * n_keys + key) * SPAN + day,
    so every count of every pair at every cut-off is one binary search."""
    h = rows.h
    s = h.stream(chunk.scope)
    g, r = h.signal_records(chunk.table)
    if not len(g):
        return
    n_signals, n_keys = len(chunk.table), h.n_keys(chunk.scope)
    if chunk.on_end is None:
        pos = g * (n_keys * SPAN) + s.positions[r]
    else:  # some signals are dated by the end (their records are the episodes that have ended)
        pos = np.sort(g * (n_keys * SPAN) + np.where(chunk.on_end[g], s.end_positions[r], s.positions[r]))
    block = np.searchsorted(pos, np.arange(0, (n_signals * n_keys + 1) * SPAN, SPAN))  # each key's first record
    row_key = rows.key(chunk.scope)
    pg, prow = np.nonzero((block[1:] > block[:-1]).reshape(n_signals, n_keys)[:, row_key])
    pkey = pg * n_keys + row_key[prow]
    first = block[pkey]
    base = pkey * SPAN - DAY0
    # per pair, the number of its records dated on or before each cut-off
    upto = np.searchsorted(pos, base + rows.cuts.take(prow, axis=1)[chunk.cut_rows], "right") - first
    values = np.empty((len(chunk.target), len(pg)))
    n = upto[0]
    for k, (kind, m, i, j) in enumerate(chunk.linear):
        if kind == "count":
            values[k] = n if m is None else n - upto[i]
        else:  # the last m months minus the m months before
            values[k] = (n - upto[i]) - (upto[i] - upto[j])
    if chunk.days_since:
        last = pos[np.maximum(first + n - 1, 0)] - base
        values[len(chunk.linear)] = np.where(n > 0, rows.t[prow] - last, np.nan)
    if chunk.opens:
        _open_episodes(values[len(values) - len(chunk.opens):], chunk, rows, g, r, pkey, prow)
    if n_signals == 1:  # a council: one signal per chunk, and a row of xt per column
        for column, v in zip(chunk.target[:, 0], values, strict=True):
            xt[column, prow] = v
    else:  # slots a signal lacks go to the scratch row (the last row of xt)
        xt.reshape(-1)[chunk.target[:, pg] * len(rows.codes) + prow] = values


def _open_episodes(out: np.ndarray, chunk: _Chunk, rows: _Rows, g: np.ndarray, r: np.ndarray, pkey: np.ndarray,
                   prow: np.ndarray) -> None:
    """Per pair: episodes of the signal open at t (started on or before t, not ended by t). For the child a
    flag (or, for open_months, the duration so far of the longest-open episode in months); for siblings the
    number of siblings with one open. Records come sorted by (signal, key, start day)."""
    h = rows.h
    s = h.stream(chunk.scope)
    start, end, origin = s.day[r], s.end[r], s.origin[r]
    gkey = g * h.n_keys(chunk.scope) + s.key[r]
    for j, t in enumerate(rows.days):
        a, b = rows.bounds[j], rows.bounds[j + 1]
        pairs = np.flatnonzero((prow >= a) & (prow < b)) if len(rows.days) > 1 else slice(None)
        is_open = (start <= t) & (end > t)
        okey, ostart = gkey[is_open], start[is_open]
        if chunk.scope == "siblings":  # one per sibling, however many episodes they have open
            okey = np.unique(okey * h.n_children + origin[is_open]) // h.n_children
        k = pkey[pairs]
        lo, hi = np.searchsorted(okey, k, "left"), np.searchsorted(okey, k, "right")
        for kind, row in zip(chunk.opens, out, strict=True):
            if kind == "open_months":  # the first open record of a key started earliest
                first = ostart[np.minimum(lo, max(len(ostart) - 1, 0))] if len(ostart) else np.zeros_like(k)
                row[pairs] = np.where(hi > lo, (t - first) / DAYS_PER_MONTH, 0.0)
            elif chunk.scope == "siblings":
                row[pairs] = hi - lo
            else:
                row[pairs] = hi > lo


def _statics(rows: _Rows, hub_names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The static columns (STATIC_FEATURES) for the rows."""
    h, c = rows.h, rows.codes
    hub = lookup_codes(h.child_column("hub"), hub_names)
    if (hub < 0).any():
        raise ContractError("children: a hub is not in the configured hub list")
    n_family = np.zeros(len(c), dtype=np.int64)  # resident children under 18 in the family, the child included
    family_arrived = np.zeros(len(c), dtype=np.int64)  # the day the family's first child arrived
    for j, t in enumerate(rows.days):
        a, b = rows.bounds[j], rows.bounds[j + 1]
        fam = h.family[c[a:b]]
        n_family[a:b] = np.bincount(h.family[h.resident(t)], minlength=h.n_families)[fam]
        first = np.full(h.n_families, NEVER)
        here = h.arrived <= t
        np.minimum.at(first, h.family[here], h.arrived[here])
        family_arrived[a:b] = first[fam]
    age, resident, family_resident = completed_months(np.stack([h.dob[c], h.arrived[c], family_arrived]), rows.t)
    return {"age_months": age, "months_resident": resident, "family_months_resident": family_resident,
            "n_children_family": n_family, "hub_code": hub[c],
            "deprivation_decile": h.children["deprivation_decile"].to_numpy(dtype=np.float64, na_value=np.nan)[c]}


def feature_matrix(history: History, windows: tuple[int, ...], codes: np.ndarray, which: np.ndarray,
                   days: list[int], hub_names: tuple[str, ...]) -> np.ndarray:
    """The model inputs for the given rows as a float32 matrix (column order = feature_defs(windows))."""
    plan = _plan(windows)
    rows = _Rows(history, codes, which, days, plan.cut_months)
    # filled column by column: xt[i] is column i (plus a scratch row), and xt[:-1].T the matrix in Fortran order
    xt = np.zeros((len(plan.defs) + 1, len(codes)), dtype=np.float32)
    xt[plan.nan_columns] = np.nan
    statics = _statics(rows, hub_names)
    for i, name in plan.static:
        xt[i] = statics[name]
    for chunk in _chunks(windows, len(codes)):
        _fill_signals(xt, rows, chunk)
    return xt[:-1].T


def _previously_known(history: History, codes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Any children's social care record of the child itself on or before t."""
    own = history.own
    sc = type_mask(KNOWN_TO_SOCIAL_CARE_TYPES)[own.etype]
    pos = position(own.key[sc], own.day[sc])
    return np.searchsorted(pos, position(codes, t), "right") > np.searchsorted(pos, codes * SPAN, "left")


def _audit(history: History, codes: np.ndarray, age_months: np.ndarray) -> np.ndarray:
    """The object audit columns (_AUDIT_OBJECTS), side by side."""
    column = history.child_column
    eth = column("ethnicity")
    group = np.array([ETHNICITY_GROUPS.get(e or "", "Unknown") for e in eth], dtype=object)
    bands = np.asarray(AGE_BANDS, dtype=object)[np.searchsorted(_AGE_BAND_STARTS, age_months, "right")]
    columns = {
        "sex": column("sex")[codes],
        "ethnicity": eth[codes],
        "ethnic_group": group[codes],
        "disability": column("disability")[codes],
        "age_band": bands,
        "hub": column("hub")[codes],
    }
    return np.stack([columns[c] for c in _AUDIT_OBJECTS], axis=1)


def build_features(extract: Extract, as_of_dates: Sequence[pd.Timestamp], config: Config, *,
                   extract_date: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per (child, as-of date) in the cohort: keys, model inputs, label and audit columns.

    Features at an as-of date use only events known on or before it (docs/interfaces.md, "Feature table").

    Parameters
    ----------
    extract : Extract
        The contract tables (validated).
    as_of_dates : sequence of Timestamp
        Month-end as-of dates.
    config : Config
        Windows, outcome and horizon, hubs.
    extract_date : Timestamp, optional
        The last date the extract knows. Default: `extract.last_date`.

    Returns
    -------
    DataFrame
        `KEY_COLUMNS` (and `council` after them in a region's table), the model inputs (float32, in
        `feature_columns(config)` order), `label` (Int8, <NA> where as_of + horizon is after the extract date)
        and `AUDIT_COLUMNS`.
    """
    dates = normalise_dates(as_of_dates)
    days = [day_of(d) for d in dates]
    extract_date = pd.Timestamp(extract_date).normalize() if extract_date is not None else extract.last_date
    history = History(extract.children, extract.events)
    codes, which = history.cohort_codes(days)
    windows = tuple(config.features.windows_months)
    x = feature_matrix(history, windows, codes, which, days, config.council.input_hub_names)

    t = np.asarray(days, dtype=np.int64)[which]
    own = history.own
    outcome = own.etype == TYPE_CODE[config.outcome.event_type]
    end = month_shifts(tuple(days), (config.outcome.horizon_months,))[0, which]
    label = label_array(position(own.key[outcome], own.day[outcome]), codes, t, end, day_of(extract_date))
    names = _plan(windows).names
    ids = np.stack([history.child_ids[codes], history.family_ids[history.family[codes]]], axis=1)
    # One frame per dtype, from arrays with ready-made column indexes and one shared row index: the dict
    # constructor infers dtypes and builds indexes per call, which on one family costs more than the features.
    # The object columns are taken as given. deprivation_decile is there once, as a model input that the
    # audit also reads.
    index = pd.RangeIndex(len(codes))
    # a region's rows carry their council as a key (after as_of): never a model input (docs/scale.md)
    council = ([pd.DataFrame(history.child_column(COUNCIL_COLUMN)[codes][:, None], index=index, columns=_COUNCIL,
                             dtype=object, copy=False)] if COUNCIL_COLUMN in extract.children.columns else [])
    return pd.concat([
        pd.DataFrame(ids, index=index, columns=_KEY_IDS, dtype=object, copy=False),
        pd.DataFrame(t.astype("datetime64[D]").astype("datetime64[ns]")[:, None], index=index, columns=_AS_OF,
                     copy=False),
        *council,
        pd.DataFrame(x, index=index, columns=names, copy=False),
        pd.DataFrame(label, index=index, columns=_LABEL, copy=False),
        pd.DataFrame(_audit(history, codes, x[:, names.get_loc("age_months")].astype(np.int64)), index=index,
                     columns=_AUDIT_OBJECTS, dtype=object, copy=False),
        pd.DataFrame(_previously_known(history, codes, t)[:, None], index=index, columns=_AUDIT_FLAGS, copy=False),
    ], axis=1, copy=False)
