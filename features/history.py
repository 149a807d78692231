"""A compiled contact history: children and events as integer codes and day numbers, in sorted streams.

Every point-in-time question ("how many of these records up to day t?", "which episodes are open at t?")
becomes a binary search into a stream sorted by (key, day), so the cost is vectorised over events and
rows: no Python loop per child or per row, only per group of signals and per as-of date. Which records a
signal counts is one lookup of each record's class (type, source, detail, ended, re-referral) in a table.
Below SMALL values, ids are looked up, checked and coded with Python dicts and sorts instead of pandas indexes
(the one-family path of the web API).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import pairwise

import numpy as np
import pandas as pd

from core.contract import CP_CATEGORIES, EVENT_TYPES, SOURCES
from core.errors import ContractError
from features import _small
from features.definitions import CHILD_PARTNER_TYPES, HOUSEHOLD_TYPES, Signal
from features.timeline import NEVER, completed_months, shift_months, to_days

# A stream position is key * SPAN + (day - DAY0): one sorted int64 array answers every (key, day) query.
DAY0 = np.int64(-65_000)  # ~1792: earlier than any date of birth
SPAN = np.int64(1 << 18)  # ~717 years of days
ADULT_MONTHS = 18 * 12

TYPE_CODE = {t: i for i, t in enumerate(EVENT_TYPES)}
_CHILD_TYPES = tuple(t for t in EVENT_TYPES if t not in HOUSEHOLD_TYPES)
_SIBLING_TYPES = ("contact", "referral", "cp_plan", "looked_after")
_STREAMS = {"child": "child_stream", "siblings": "sibling_stream", "household": "household_stream"}
assert set(CHILD_PARTNER_TYPES) <= set(_CHILD_TYPES)


@lru_cache(maxsize=256)
def type_mask(types: tuple[str, ...]) -> np.ndarray:
    """A lookup table: indexed by event-type code, True for the given types (faster than np.isin)."""
    table = np.zeros(len(EVENT_TYPES), dtype=bool)
    table[[TYPE_CODE[t] for t in types]] = True
    table.flags.writeable = False  # shared between calls
    return table




@lru_cache(maxsize=64)
def _vocabulary(vocabulary: tuple[str, ...]) -> tuple[np.ndarray, dict[str, int]]:
    return np.asarray(vocabulary, dtype=object), {v: i for i, v in enumerate(vocabulary)}


def _lookup(keys: np.ndarray, values: np.ndarray, mapping: dict | None = None) -> np.ndarray:
    """Positions of values in an array of unique keys (-1 where absent)."""
    if len(values) + len(keys) < _small.SMALL:
        mapping = mapping if mapping is not None else {v: i for i, v in enumerate(keys.tolist())}
        return np.fromiter((mapping.get(v, -1) for v in values.tolist()), dtype=np.int64, count=len(values))
    return pd.Index(keys).get_indexer(values).astype(np.int64)


def lookup_codes(values: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Positions of values in a vocabulary (-1 where absent), as int16."""
    keys, mapping = _vocabulary(vocabulary)
    return _lookup(keys, values, mapping).astype(np.int16)


def _strictly_increasing(values: np.ndarray) -> bool:
    """Sorted and unique (False for missing or mixed values, which the pandas path then handles)."""
    if len(values) < _small.SMALL:
        items = values.tolist()
        try:
            return all(a < b for a, b in pairwise(items))
        except TypeError:
            return False
    index = pd.Index(values)
    return bool(index.is_monotonic_increasing and index.is_unique)


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 codes, sorted unique values) as pd.factorize(sort=True) gives them; a dict for a few strings."""
    items = values.tolist()
    if len(items) < _small.SMALL and all(type(v) is str for v in items):
        uniques = sorted(set(items))
        mapping = {v: i for i, v in enumerate(uniques)}
        return (np.fromiter((mapping[v] for v in items), dtype=np.int64, count=len(items)),
                np.asarray(uniques, dtype=object))
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def position(keys: np.ndarray, days: np.ndarray | int) -> np.ndarray:
    """Stream positions of (key, day) pairs; days must lie in [DAY0, DAY0 + SPAN) (checked on loading)."""
    return keys.astype(np.int64) * SPAN + (days - DAY0)


_CHILD_DATES = ("date_of_birth", "arrived_on", "left_on")
_EVENT_DATES = ("event_date", "end_date")


def _days(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """Date columns as int64 days (NaT: NEVER), one row per column: one conversion for all of them."""
    return to_days(np.stack([frame[c].to_numpy(dtype="datetime64[ns]") for c in columns]))


def _check_range(names: tuple[str, ...], days: np.ndarray) -> None:
    bad = ((days < DAY0) | (days >= DAY0 + SPAN)) & (days != NEVER)
    if bad.any():
        raise ContractError(f"{names[int(np.argmax(bad.any(axis=1)))]}: dates must lie between 1792 and 2500")


class Stream:
    """Records sorted by (key, day): key is a child code (child, siblings) or a family code (household).
    The fields are the rows of one int64 matrix, so that selecting or sorting records is one take."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        # end: NEVER while open / for point events; cls: see SignalTable; origin: the child the record is
        # about (-1 for household-wide records)
        self.key, self.day, self.end, self.etype, self.cls, self.origin = data

    @classmethod
    def build(cls, key: np.ndarray, events: np.ndarray, origin: np.ndarray) -> Stream:
        """From the keys, the event fields (day, end, etype, cls) and the origins of some records."""
        data = np.concatenate([key[None, :], events, origin[None, :]])
        return cls(data.take(np.argsort(position(key, data[1]), kind="stable"), axis=1))

    def take(self, mask: np.ndarray) -> Stream:
        return Stream(self.data[:, mask])

    @cached_property
    def positions(self) -> np.ndarray:
        return position(self.key, self.day)

    @cached_property
    def end_positions(self) -> np.ndarray:
        """Stream positions of the end dates (meaningless for records without one)."""
        return position(self.key, self.end)


# A record's class: its (event type, source, detail, has ended, is a re-referral) as one small integer, so that
# which signals count a record is one lookup in a (signal x class) table.
_N_SOURCES, _N_DETAILS = len(SOURCES) + 1, len(CP_CATEGORIES) + 1  # code + 1: 0 is none / another code


def _record_class(etype: np.ndarray, source: np.ndarray, detail: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Without the re-referral bit (the lowest): History.record_classes adds it for the child stream."""
    return ((etype.astype(np.int64) * _N_SOURCES + source + 1) * _N_DETAILS + detail + 1) * 4 + (end != NEVER) * 2


@dataclass(frozen=True)
class SignalTable:
    """Which record classes each of some signals of one scope counts (signal x class)."""

    scope: str
    member: np.ndarray

    @classmethod
    def of(cls, signals: tuple[Signal, ...]) -> SignalTable:
        assert len({s.scope for s in signals}) == 1
        member = np.zeros((len(signals), len(EVENT_TYPES), _N_SOURCES, _N_DETAILS, 2, 2), dtype=bool)
        for i, s in enumerate(signals):
            assert s.derive is None or s.scope == "child"  # re-referrals are marked in the child stream
            source = (np.arange(_N_SOURCES) == SOURCES.index(s.source) + 1 if s.source is not None
                      else np.ones(_N_SOURCES, dtype=bool))
            detail = (np.arange(_N_DETAILS) == CP_CATEGORIES.index(s.detail) + 1 if s.detail is not None
                      else np.ones(_N_DETAILS, dtype=bool))
            ended = np.array([s.on != "end", True])  # dated by the end: only episodes that have ended
            rereferral = np.array([s.derive != "rereferral", True])
            member[i] = (type_mask(s.event_types)[:, None, None, None, None] & source[:, None, None, None]
                         & detail[:, None, None] & ended[:, None] & rereferral)
        member = member.reshape(len(signals), -1)
        member.flags.writeable = False  # shared between calls
        return cls(scope=signals[0].scope, member=member)

    def __len__(self) -> int:
        return len(self.member)


class History:
    """The children and events of an extract, coded for point-in-time queries. Streams are built lazily."""

    def __init__(self, children: pd.DataFrame, events: pd.DataFrame) -> None:
        ids = children["child_id"].to_numpy(dtype=object)
        if not _strictly_increasing(ids):
            children = children.sort_values("child_id", kind="stable")
            ids = children["child_id"].to_numpy(dtype=object)
            if not pd.Index(ids).is_unique:
                raise ContractError("children: child_id must be unique")
        self.children = children  # in child-code order (its index is not used)
        self.child_ids = ids
        self.family, self.family_ids = _factorize(children["family_id"].to_numpy(dtype=object))
        child_days = _days(children, _CHILD_DATES)
        self.dob, self.arrived, self.left = child_days  # left: NEVER if still resident
        self.n_children = len(children)
        self.n_families = len(self.family_ids)
        # children of each family, contiguous: family f owns by_family[start[f]:start[f] + size[f]]
        self._by_family = np.argsort(self.family, kind="stable")
        self._size = np.bincount(self.family, minlength=self.n_families)
        self._start = np.cumsum(self._size) - self._size

        ev = events
        ev_child_ids = ev["child_id"].to_numpy(dtype=object)
        self.ev_child = _lookup(self.child_ids, ev_child_ids)
        self.ev_family = _lookup(self.family_ids, ev["family_id"].to_numpy(dtype=object))
        has_child = ~pd.isna(ev_child_ids)
        if (has_child & (self.ev_child < 0)).any() or (self.ev_family < 0).any():
            raise ContractError("events: some child_id or family_id values are not in children "
                                "(validate the extract with load_extract)")
        ev_days = _days(ev, _EVENT_DATES)
        etype = lookup_codes(ev["event_type"].to_numpy(dtype=object), EVENT_TYPES)
        _check_range(_CHILD_DATES, child_days)
        _check_range(_EVENT_DATES, ev_days)
        if (etype < 0).any():
            raise ContractError("events: unknown event_type (validate the extract with load_extract)")
        source = lookup_codes(ev["source"].to_numpy(dtype=object), SOURCES)
        detail = lookup_codes(ev["detail"].to_numpy(dtype=object), CP_CATEGORIES)
        cls = _record_class(etype, source, detail, ev_days[1])
        self._events = np.concatenate([ev_days, etype[None, :], cls[None, :]])  # a Stream's day, end, etype, cls

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
        return type_mask(types)[self._events[2]]

    def _stream(self, rows: np.ndarray, key: np.ndarray, origin: np.ndarray) -> Stream:
        return Stream.build(key, self._events.take(rows, axis=1), origin)

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
        return getattr(self, _STREAMS[scope])

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

    def record_classes(self, scope: str) -> np.ndarray:
        """Per record of the scope's stream, its class (see SignalTable)."""
        cache = self.__dict__.setdefault("_classes", {})
        if scope not in cache:
            s = self.stream(scope)
            cache[scope] = s.cls + self._rereferral if scope == "child" else s.cls
        return cache[scope]

    def signal_records(self, table: SignalTable) -> tuple[np.ndarray, np.ndarray]:
        """(signal index, stream row) of every record that each signal of the table counts: ordered by signal,
        then by stream row, so by (key, start day) within a signal."""
        return np.nonzero(table.member[:, self.record_classes(table.scope)])

    def child_column(self, name: str) -> np.ndarray:
        """A column of the children table as an object array, in child-code order (read once)."""
        cache = self.__dict__.setdefault("_child_columns", {})
        if name not in cache:
            cache[name] = self.children[name].to_numpy(dtype=object)
        return cache[name]

    def n_keys(self, scope: str) -> int:
        return self.n_families if scope == "household" else self.n_children

    # --- the children at a date ---------------------------------------------------------------------------
    def cohort_rules(self, t: int) -> dict[str, np.ndarray]:
        """The cohort's rules on day t, in the order they are explained, each a boolean per child code (True:
        the child passes): born, under 18, resident (arrived and not yet gone), not looked after."""
        return {**self._resident_rules(t), "not_looked_after": ~self.looked_after(t)}

    def _resident_rules(self, t: int) -> dict[str, np.ndarray]:
        return {"born": self.dob <= t,
                "under_18": completed_months(self.dob, np.full_like(self.dob, t)) < ADULT_MONTHS,
                "resident": (self.arrived <= t) & (self.left >= t)}

    def resident(self, t: int) -> np.ndarray:
        """Children born, under 18 and resident on day t (a boolean per child code; cached, read-only: the
        cohort and the family sizes both ask)."""
        cache = self.__dict__.setdefault("_resident", {})
        if t not in cache:
            cache[t] = np.logical_and.reduce(list(self._resident_rules(t).values()))
            cache[t].flags.writeable = False
        return cache[t]

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
