"""A compiled contact history: children and events as integer codes and day numbers, in sorted streams.

Every point-in-time question ("how many of these records up to day t?", "which episodes are open at t?")
becomes a binary search into a stream sorted by (key, day), so the cost is vectorised over events and
rows: no Python loop per child or per row, only per signal and per as-of date.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from features.contract import CP_CATEGORIES, EVENT_TYPES, SOURCES
from features.definitions import CHILD_PARTNER_TYPES, HOUSEHOLD_TYPES, Signal
from features.timeline import NEVER, completed_months, shift_months, to_days
from upstream.errors import ContractError

# A stream position is key * SPAN + (day - DAY0): one sorted int64 array answers every (key, day) query.
DAY0 = np.int64(-65_000)  # ~1792: earlier than any date of birth
SPAN = np.int64(1 << 18)  # ~717 years of days
ADULT_MONTHS = 18 * 12

TYPE_CODE = {t: i for i, t in enumerate(EVENT_TYPES)}
_CHILD_TYPES = tuple(t for t in EVENT_TYPES if t not in HOUSEHOLD_TYPES)
_SIBLING_TYPES = ("contact", "referral", "cp_plan", "looked_after")
assert set(CHILD_PARTNER_TYPES) <= set(_CHILD_TYPES)


@lru_cache(maxsize=256)
def type_mask(types: tuple[str, ...]) -> np.ndarray:
    """A lookup table: indexed by event-type code, True for the given types (faster than np.isin)."""
    table = np.zeros(len(EVENT_TYPES), dtype=bool)
    table[[TYPE_CODE[t] for t in types]] = True
    table.flags.writeable = False  # shared between calls
    return table


SMALL = 5_000  # below this many values a dict lookup beats building pandas indexes (the one-family path)


@lru_cache(maxsize=64)
def _vocabulary(vocabulary: tuple[str, ...]) -> tuple[pd.Index, dict[str, int]]:
    return pd.Index(vocabulary), {v: i for i, v in enumerate(vocabulary)}


def _lookup(index: pd.Index, values: np.ndarray, mapping: dict | None = None) -> np.ndarray:
    """Positions of values in a unique index (-1 where absent)."""
    if len(values) + len(index) < SMALL:
        mapping = mapping if mapping is not None else {v: i for i, v in enumerate(index)}
        return np.fromiter((mapping.get(v, -1) for v in values), dtype=np.int64, count=len(values))
    return index.get_indexer(values).astype(np.int64)


def _codes(values: pd.Series | np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    index, mapping = _vocabulary(vocabulary)
    return _lookup(index, np.asarray(values, dtype=object), mapping).astype(np.int16)


def position(keys: np.ndarray, days: np.ndarray | int) -> np.ndarray:
    """Stream positions of (key, day) pairs; days must lie in [DAY0, DAY0 + SPAN) (checked on loading)."""
    return keys.astype(np.int64) * SPAN + (days - DAY0)


def _check_range(name: str, days: np.ndarray) -> None:
    known = days[days != NEVER]
    if len(known) and (known.min() < DAY0 or known.max() >= DAY0 + SPAN):
        raise ContractError(f"{name}: dates must lie between 1792 and 2500")


@dataclass
class Stream:
    """Records sorted by (key, day): key is a child code (child, siblings) or a family code (household)."""

    key: np.ndarray
    day: np.ndarray
    end: np.ndarray  # NEVER while open / for point events
    etype: np.ndarray
    source: np.ndarray
    detail: np.ndarray
    origin: np.ndarray  # the child the record is about (-1 for household-wide records)

    @classmethod
    def build(cls, key: np.ndarray, cols: dict[str, np.ndarray]) -> Stream:
        order = np.argsort(position(key, cols["day"]), kind="stable")
        return cls(key=key[order], **{k: v[order] for k, v in cols.items()})

    def take(self, mask: np.ndarray) -> Stream:
        return Stream(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})

    @cached_property
    def positions(self) -> np.ndarray:
        return position(self.key, self.day)


class History:
    """The children and events of an extract, coded for point-in-time queries. Streams are built lazily."""

    def __init__(self, children: pd.DataFrame, events: pd.DataFrame) -> None:
        if not children["child_id"].is_monotonic_increasing:
            children = children.sort_values("child_id", kind="stable")
        children = children.reset_index(drop=True)
        self.children = children
        self.child_ids = pd.Index(children["child_id"].to_numpy(dtype=object))
        if not self.child_ids.is_unique:
            raise ContractError("children: child_id must be unique")
        fam_codes, fam_uniques = pd.factorize(children["family_id"], sort=True)
        self.family_ids = pd.Index(np.asarray(fam_uniques, dtype=object))
        self.family = fam_codes.astype(np.int64)
        self.dob = to_days(children["date_of_birth"])
        self.arrived = to_days(children["arrived_on"])
        self.left = to_days(children["left_on"])  # NEVER if still resident
        self.n_children = len(children)
        self.n_families = len(self.family_ids)
        # children of each family, contiguous: family f owns by_family[start[f]:start[f] + size[f]]
        self._by_family = np.argsort(self.family, kind="stable")
        self._size = np.bincount(self.family, minlength=self.n_families)
        self._start = np.concatenate([[0], np.cumsum(self._size)[:-1]])

        ev = events
        self.ev_child = _lookup(self.child_ids, ev["child_id"].to_numpy(dtype=object))
        self.ev_family = _lookup(self.family_ids, ev["family_id"].to_numpy(dtype=object))
        has_child = ev["child_id"].notna().to_numpy()
        if (has_child & (self.ev_child < 0)).any() or (self.ev_family < 0).any():
            raise ContractError("events: some child_id or family_id values are not in children "
                                "(validate the extract with load_extract)")
        self.ev_cols = {
            "day": to_days(ev["event_date"]),
            "end": to_days(ev["end_date"]),
            "etype": _codes(ev["event_type"], EVENT_TYPES),
            "source": _codes(ev["source"], SOURCES),
            "detail": _codes(ev["detail"], CP_CATEGORIES),
        }
        for name, days in (("date_of_birth", self.dob), ("arrived_on", self.arrived), ("left_on", self.left),
                           ("event_date", self.ev_cols["day"]), ("end_date", self.ev_cols["end"])):
            _check_range(name, days)
        if (self.ev_cols["etype"] < 0).any():
            raise ContractError("events: unknown event_type (validate the extract with load_extract)")

    # --- expansion of family records to the children they concern -------------------------------------
    def _expand(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For event rows, (event row, child code) pairs: one per child of the event's family."""
        fam = self.ev_family[rows]
        size = self._size[fam]
        rep_rows = np.repeat(rows, size)
        first = np.repeat(self._start[fam], size)
        within = np.arange(len(rep_rows)) - np.repeat(np.cumsum(size) - size, size)
        return rep_rows, self._by_family[first + within]

    def _is_type(self, types: tuple[str, ...]) -> np.ndarray:
        return type_mask(types)[self.ev_cols["etype"]]

    def _stream(self, rows: np.ndarray, key: np.ndarray, origin: np.ndarray) -> Stream:
        cols = {k: v[rows] for k, v in self.ev_cols.items()}
        cols["origin"] = origin
        return Stream.build(key, cols)

    @cached_property
    def own(self) -> Stream:
        """Records against each child only (no household records): the cohort and the label use these."""
        rows = np.flatnonzero(self.ev_child >= 0)
        return self._stream(rows, self.ev_child[rows], self.ev_child[rows])

    @cached_property
    def child_stream(self) -> Stream:
        """The child's own records plus household-wide records (child_id null) of child-level types."""
        typed = self._is_type(_CHILD_TYPES)
        own = np.flatnonzero(typed & (self.ev_child >= 0))
        shared, to_child = self._expand(np.flatnonzero(typed & (self.ev_child < 0)))
        rows = np.concatenate([own, shared])
        key = np.concatenate([self.ev_child[own], to_child])
        origin = np.concatenate([self.ev_child[own], np.full(len(shared), -1, dtype=np.int64)])
        return self._stream(rows, key, origin)

    @cached_property
    def sibling_stream(self) -> Stream:
        """Each child's siblings' own records, keyed by the child (the record's own child excluded)."""
        src = np.flatnonzero(self._is_type(_SIBLING_TYPES) & (self.ev_child >= 0))
        rows, to_child = self._expand(src)
        keep = to_child != self.ev_child[rows]
        rows, to_child = rows[keep], to_child[keep]
        return self._stream(rows, to_child, self.ev_child[rows])

    @cached_property
    def household_stream(self) -> Stream:
        rows = np.flatnonzero(self._is_type(HOUSEHOLD_TYPES))
        return self._stream(rows, self.ev_family[rows], self.ev_child[rows])

    def stream(self, scope: str) -> Stream:
        return {"child": self.child_stream, "siblings": self.sibling_stream,
                "household": self.household_stream}[scope]

    # --- signals ----------------------------------------------------------------------------------------
    @cached_property
    def _rereferral(self) -> np.ndarray:
        """Per child-stream record: a referral within 12 months of the child's previous referral.
        It looks only backwards, so it is known on the day of the referral."""
        s = self.child_stream
        idx = np.flatnonzero(s.etype == TYPE_CODE["referral"])
        out = np.zeros(len(s.key), dtype=bool)
        if len(idx) > 1:
            k, d = s.key[idx], s.day[idx]
            out[idx[1:]] = (k[1:] == k[:-1]) & (d[:-1] >= shift_months(d[1:], -12))
        return out

    def _mask(self, signal: Signal) -> np.ndarray:
        s = self.stream(signal.scope)
        mask = type_mask(signal.event_types)[s.etype]
        if signal.source is not None:
            mask &= s.source == SOURCES.index(signal.source)
        if signal.detail is not None:
            mask &= s.detail == CP_CATEGORIES.index(signal.detail)
        if signal.derive == "rereferral":
            mask &= self._rereferral
        return mask

    def records(self, signal: Signal) -> Stream:
        """The records of one signal, sorted by (key, day)."""
        cache = self.__dict__.setdefault("_records", {})
        if signal.name not in cache:
            cache[signal.name] = self.stream(signal.scope).take(self._mask(signal))
        return cache[signal.name]

    def positions(self, signal: Signal) -> np.ndarray:
        """Sorted stream positions of a signal's dates (start dates, or end dates for on="end")."""
        cache = self.__dict__.setdefault("_positions", {})
        if signal.name not in cache:
            s = self.stream(signal.scope)
            mask = self._mask(signal)
            if signal.on == "end":
                mask &= s.end != NEVER
                cache[signal.name] = np.sort(position(s.key[mask], s.end[mask]))
            else:  # the stream is sorted by position already, and a mask keeps the order
                cache[signal.name] = s.positions[mask]
        return cache[signal.name]

    def n_keys(self, scope: str) -> int:
        return self.n_families if scope == "household" else self.n_children

    # --- the children at a date ---------------------------------------------------------------------------
    def resident(self, t: int) -> np.ndarray:
        """Children born, under 18 and resident on day t (a boolean per child code)."""
        return ((self.dob <= t) & (completed_months(self.dob, np.full_like(self.dob, t)) < ADULT_MONTHS)
                & (self.arrived <= t) & (self.left >= t))

    def looked_after(self, t: int) -> np.ndarray:
        """Children with a care episode open on day t: started on or before t, not ended by t."""
        s = self._own_care
        out = np.zeros(self.n_children, dtype=bool)
        out[s.key[(s.day <= t) & (s.end > t)]] = True
        return out

    @cached_property
    def _own_care(self) -> Stream:
        return self.own.take(self.own.etype == TYPE_CODE["looked_after"])

    def cohort_codes(self, days: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(child code, as-of index) of every cohort row, ordered by as-of date then child_id."""
        codes, which = [], []
        for j, t in enumerate(days):
            c = np.flatnonzero(self.resident(t) & ~self.looked_after(t))
            codes.append(c)
            which.append(np.full(len(c), j, dtype=np.int64))
        return np.concatenate(codes or [np.zeros(0, np.int64)]), np.concatenate(which or [np.zeros(0, np.int64)])
