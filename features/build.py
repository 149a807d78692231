"""build_features: the training/scoring table — one row per (child, as-of date) in the cohort, point in time.

Every value at as-of t is computed from records with an event date on or before t (an episode whose end
date is after t is still open at t); only the label looks past t. The same code serves a council of
56,000 children and one posted family: the work is a handful of numpy calls per signal and per as-of date.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.contract import ETHNICITY_GROUPS, KNOWN_TO_SOCIAL_CARE_TYPES
from features.definitions import FeatureDef, Signal, feature_defs
from features.history import DAY0, SPAN, TYPE_CODE, History, position, type_mask
from features.labels import label_array
from features.loaders import Extract
from features.timeline import NEVER, completed_months, day_of, normalise_dates, shift_months
from upstream.config import Config
from upstream.errors import ContractError

KEY_COLUMNS = ("child_id", "family_id", "as_of")
AUDIT_COLUMNS = ("sex", "ethnicity", "ethnic_group", "disability", "age_band", "hub", "deprivation_decile",
                 "previously_known")
AGE_BANDS = ("0-4", "5-9", "10-15", "16-17")
_AGE_BAND_STARTS = np.array([5, 10, 16]) * 12  # months
DAYS_PER_MONTH = 365.25 / 12


class _Rows:
    """The cohort rows being computed: child codes and as-of days, grouped by as-of date."""

    def __init__(self, history: History, codes: np.ndarray, which: np.ndarray, days: list[int]) -> None:
        self.h, self.codes, self.which = history, codes, which
        self.days = np.asarray(days, dtype=np.int64)
        self.t = self.days[which]
        # rows are grouped by as-of date: date j owns rows bounds[j]:bounds[j + 1]
        self.bounds = np.searchsorted(which, np.arange(len(days) + 1))
        self._shifted: dict[int, np.ndarray] = {}

    def back(self, months: int) -> np.ndarray:
        """Per row, the as-of date `months` months earlier (the open start of a window)."""
        if months not in self._shifted:
            self._shifted[months] = shift_months(self.days, -months)[self.which] if len(self.days) else self.t
        return self._shifted[months]

    def key(self, signal: Signal) -> np.ndarray:
        return self.h.family[self.codes] if signal.scope == "household" else self.codes


class _SignalQuery:
    """Binary searches of one signal's sorted positions, only for rows whose key has any record of it
    (most children have none of most signals), cached per cut-off. Results are written straight into
    a column of the feature matrix: rows without records get the feature's "nothing recorded" value."""

    def __init__(self, rows: _Rows, signal: Signal) -> None:
        self.rows, self.signal = rows, signal
        self.pos = pos = rows.h.positions(signal)
        keys = rows.key(signal)
        self._cache: dict[object, np.ndarray] = {}
        if len(pos) == 0:  # common for a small input: nothing to search
            self.active = self.first = self.base = np.zeros(0, dtype=np.int64)
            return
        n_keys = rows.h.n_keys(signal.scope)
        block = np.searchsorted(pos, np.arange(n_keys + 1, dtype=np.int64) * SPAN)  # each key's first record
        self.active = np.flatnonzero((block[1:] > block[:-1])[keys])
        active_keys = keys[self.active]
        self.first = block[active_keys]
        self.base = active_keys.astype(np.int64) * SPAN - DAY0

    def upto(self, cut: str | int) -> np.ndarray:
        """Per active row, the number of its key's records dated on or before the cut-off ("t" or a number
        of months back from t)."""
        if not len(self.active):
            return self.active
        if cut not in self._cache:
            day = self.rows.t if cut == "t" else self.rows.back(int(cut))
            self._cache[cut] = np.searchsorted(self.pos, self.base + day[self.active], "right") - self.first
        return self._cache[cut]

    def _fill(self, out: np.ndarray, active_values: np.ndarray, default: float = 0.0) -> None:
        out[:] = default
        out[self.active] = active_values

    def count(self, out: np.ndarray, window: int | None) -> None:
        if not len(self.active):  # no row has a record of this signal (most signals, for one family)
            out[:] = 0.0
            return
        self._fill(out, self.upto("t") if window is None else self.upto("t") - self.upto(window))

    def days_since(self, out: np.ndarray) -> None:
        if not len(self.active):
            out[:] = np.nan
            return
        n = self.upto("t")
        seen = n > 0
        last = self.pos[self.first[seen] + n[seen] - 1] - self.base[seen]
        values = np.full(len(self.active), np.nan)
        values[seen] = self.rows.t[self.active[seen]] - last
        self._fill(out, values, np.nan)

    def trend(self, out: np.ndarray, months: int) -> None:
        if not len(self.active):
            out[:] = 0.0
            return
        recent = self.upto("t") - self.upto(months)
        before = self.upto(months) - self.upto(2 * months)
        self._fill(out, recent - before)


def _open_episodes(rows: _Rows, signal: Signal, months: bool) -> np.ndarray:
    """Per row: episodes of the signal open at t (started on or before t, not ended by t). For the child a
    flag (or, with months=True, the duration so far of the longest-open episode in months); for siblings the
    number of siblings with one open."""
    rec = rows.h.records(signal)
    key = rows.key(signal)
    out = np.zeros(len(rows.codes), dtype=np.float64)
    if not len(rec.key):
        return out
    for j, t in enumerate(rows.days):
        a, b = rows.bounds[j], rows.bounds[j + 1]
        if a == b:
            continue
        is_open = (rec.day <= t) & (rec.end > t)
        okey, ostart = rec.key[is_open], rec.day[is_open]
        if signal.scope == "siblings":  # one per sibling, however many episodes they have open
            okey = np.unique(okey * rows.h.n_children + rec.origin[is_open]) // rows.h.n_children
        k = key[a:b]
        lo, hi = np.searchsorted(okey, k, "left"), np.searchsorted(okey, k, "right")
        if months:  # records are sorted by (key, day), so the first open one started earliest
            first = ostart[np.minimum(lo, max(len(ostart) - 1, 0))] if len(ostart) else np.zeros_like(k)
            out[a:b] = np.where(hi > lo, (t - first) / DAYS_PER_MONTH, 0.0)
        elif signal.scope == "siblings":
            out[a:b] = hi - lo
        else:
            out[a:b] = hi > lo
    return out


def _static(rows: _Rows, name: str, hub_names: tuple[str, ...]) -> np.ndarray:
    h, c = rows.h, rows.codes
    if name == "age_months":
        return completed_months(h.dob[c], rows.t)
    if name == "months_resident":
        return completed_months(h.arrived[c], rows.t)
    if name == "hub_code":
        hub = pd.Index(hub_names).get_indexer(h.children["hub"].to_numpy(dtype=object))
        if (hub < 0).any():
            raise ContractError("children: a hub is not in the configured hub list")
        return hub[c]
    if name == "deprivation_decile":
        return h.children["deprivation_decile"].to_numpy(dtype=np.float64, na_value=np.nan)[c]
    out = np.zeros(len(c), dtype=np.float64)
    for j, t in enumerate(rows.days):
        a, b = rows.bounds[j], rows.bounds[j + 1]
        fam = h.family[c[a:b]]
        if name == "n_children_family":  # resident children under 18 in the family, the child included
            out[a:b] = np.bincount(h.family[h.resident(t)], minlength=h.n_families)[fam]
        elif name == "family_months_resident":  # since the family's first child arrived
            first = np.full(h.n_families, NEVER)
            here = h.arrived <= t
            np.minimum.at(first, h.family[here], h.arrived[here])
            out[a:b] = completed_months(first[fam], np.full(b - a, t))
        else:
            raise KeyError(name)
    return out


def feature_matrix(history: History, defs: Sequence[FeatureDef], codes: np.ndarray, which: np.ndarray,
                   days: list[int], hub_names: tuple[str, ...]) -> np.ndarray:
    """The model inputs for the given rows as a float32 matrix (column order = defs)."""
    rows = _Rows(history, codes, which, days)
    x = np.empty((len(codes), len(defs)), dtype=np.float32, order="F")
    queries: dict[str, _SignalQuery] = {}
    for i, d in enumerate(defs):
        if d.kind == "static":
            x[:, i] = _static(rows, d.name, hub_names)
            continue
        assert d.signal is not None
        if d.kind in ("open", "open_months"):
            x[:, i] = _open_episodes(rows, d.signal, months=d.kind == "open_months")
            continue
        q = queries.get(d.signal.name)
        if q is None:
            q = queries[d.signal.name] = _SignalQuery(rows, d.signal)
        col = x[:, i]  # a contiguous view (Fortran order): filled in place
        if d.kind == "count":
            q.count(col, d.window)
        elif d.kind == "days_since":
            q.days_since(col)
        elif d.kind == "trend":
            assert d.window is not None
            q.trend(col, d.window)
        else:
            raise ValueError(f"unknown feature kind {d.kind}")
    return x


def _previously_known(history: History, codes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Any children's social care record of the child itself on or before t."""
    own = history.own
    sc = type_mask(KNOWN_TO_SOCIAL_CARE_TYPES)[own.etype]
    pos = position(own.key[sc], own.day[sc])
    return np.searchsorted(pos, position(codes, t), "right") > np.searchsorted(pos, position(codes, np.full_like(
        t, DAY0)), "left")


def _audit(history: History, codes: np.ndarray, t: np.ndarray, age_months: np.ndarray) -> dict[str, object]:
    ch = history.children
    eth = ch["ethnicity"].to_numpy(dtype=object)
    group = np.array([ETHNICITY_GROUPS.get(e or "", "Unknown") for e in eth], dtype=object)
    bands = np.asarray(AGE_BANDS, dtype=object)[np.searchsorted(_AGE_BAND_STARTS, age_months, "right")]
    return {
        "sex": ch["sex"].to_numpy(dtype=object)[codes],
        "ethnicity": eth[codes],
        "ethnic_group": group[codes],
        "disability": ch["disability"].to_numpy(dtype=object)[codes],
        "age_band": bands,
        "hub": ch["hub"].to_numpy(dtype=object)[codes],
        "previously_known": _previously_known(history, codes, t),
    }


def build_features(extract: Extract, as_of_dates: Sequence[pd.Timestamp], config: Config, *,
                   extract_date: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per (child, as-of date) in the cohort: keys, model inputs (float32, in `feature_columns(config)`
    order), `label` (Int8, <NA> where as_of + horizon is after the extract date) and audit columns."""
    dates = normalise_dates(as_of_dates)
    days = [day_of(d) for d in dates]
    extract_date = pd.Timestamp(extract_date).normalize() if extract_date is not None else extract.last_date
    history = History(extract.children, extract.events)
    codes, which = history.cohort_codes(days)
    defs = feature_defs(tuple(config.features.windows_months))
    x = feature_matrix(history, defs, codes, which, days, config.council.hub_names)

    keys = pd.DataFrame({
        "child_id": history.child_ids.to_numpy()[codes],
        "family_id": history.family_ids.to_numpy()[history.family[codes]],
        "as_of": pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[ns]"))[which],
    })
    t = np.asarray(days, dtype=np.int64)[which]
    own = history.own
    outcome = own.etype == TYPE_CODE[config.outcome.event_type]
    label = pd.Series(label_array(position(own.key[outcome], own.day[outcome]), codes, t,
                                  config.outcome.horizon_months, day_of(extract_date)), name="label")
    names = [d.name for d in defs]
    age = x[:, names.index("age_months")].astype(np.int64)
    audit = _audit(history, codes, t, age)
    audit_frame = pd.DataFrame({c: audit[c] for c in AUDIT_COLUMNS if c != "deprivation_decile"})
    # deprivation_decile is there once, as a model input that the audit also reads
    return pd.concat([keys, pd.DataFrame(x, columns=names, copy=False), label.to_frame(), audit_frame],
                     axis=1, copy=False)
