"""Test helpers: hypothesis strategies for small random contact histories, and a naive row-by-row oracle."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import strategies as st

from core.contract import (
    CP_CATEGORIES,
    EPISODE_EVENT_TYPES,
    EVENT_TYPES,
    NEED_CATEGORIES,
    SOURCED_EVENT_TYPES,
    SOURCES,
)
from features import Extract
from features.definitions import FeatureDef

HUBS = ("Northfield", "Riverside")
START = pd.Timestamp("2008-01-01")
AS_OF_CHOICES = (pd.Timestamp("2013-06-30"), pd.Timestamp("2014-12-31"), pd.Timestamp("2016-02-29"))
M = 365.25 / 12


def _date(days: int) -> pd.Timestamp:
    return START + pd.Timedelta(days=days)


@st.composite
def event_rows(draw: st.DrawFn, children: list[tuple[str, str]], lo: int = 0, hi: int = 3650) -> dict:
    """One valid event for a random child (or the household) of the given (child, family) pairs."""
    child, family = draw(st.sampled_from(children))
    # episodes drawn more often: their end dates are where leaks hide
    etype = draw(st.one_of(st.sampled_from(EVENT_TYPES), st.sampled_from(EPISODE_EVENT_TYPES)))
    day = draw(st.one_of(st.integers(lo, min(hi, lo + 45)), st.integers(lo, hi)))  # often just after lo
    end = None
    if etype in EPISODE_EVENT_TYPES and draw(st.booleans()):
        end = _date(day + draw(st.one_of(st.integers(0, 45), st.integers(0, 900))))
    detail = {"cp_plan": st.sampled_from(CP_CATEGORIES), "looked_after": st.sampled_from(NEED_CATEGORIES)}.get(etype)
    return {
        "event_id": f"e{draw(st.integers(0, 10**9))}",
        "family_id": family,
        # family-level types usually concern the household; any type may
        "child_id": None if draw(st.integers(0, 3)) == 0 else child,
        "event_type": etype,
        "event_date": _date(day),
        "end_date": end,
        "source": draw(st.sampled_from(SOURCES)) if etype in SOURCED_EVENT_TYPES else None,
        "detail": draw(detail) if detail is not None else None,
    }


@st.composite
def histories(draw: st.DrawFn, max_events: int = 30) -> tuple[pd.DataFrame, list[dict]]:
    """Two families of 1-4 children and up to `max_events` events between 2008 and 2017."""
    rows = []
    for f in ("F1", "F2"):
        for i in range(draw(st.integers(1, 4))):
            born = _date(draw(st.integers(-18 * 365, 9 * 365)))
            arrived = born + pd.Timedelta(days=draw(st.sampled_from([0, 0, 400, 2000])))
            left = arrived + pd.Timedelta(days=draw(st.integers(1, 4000))) if draw(st.integers(0, 4)) == 0 else None
            rows.append({"child_id": f"{f}c{i}", "family_id": f, "date_of_birth": born,
                         "sex": "female", "ethnicity": "WBRI", "disability": "no",
                         "hub": HUBS[f == "F2"], "deprivation_decile": 4 if f == "F1" else 8,
                         "arrived_on": arrived, "left_on": left})
    children = frame_children(rows)
    pairs = list(zip(children["child_id"], children["family_id"], strict=True))
    events = draw(st.lists(event_rows(pairs), max_size=max_events))
    for i, e in enumerate(events):
        e["event_id"] = f"e{i:03d}"
    return children, events


def frame_children(rows: list[dict]) -> pd.DataFrame:
    c = pd.DataFrame(rows)
    for col in ("date_of_birth", "arrived_on", "left_on"):
        c[col] = pd.to_datetime(c[col])
    c["deprivation_decile"] = c["deprivation_decile"].astype("Int64")
    return c


def frame_events(events: list[dict]) -> pd.DataFrame:
    cols = ["event_id", "family_id", "child_id", "event_type", "event_date", "end_date", "source", "detail"]
    e = pd.DataFrame(events, columns=cols).astype(object)
    e = e.where(e.notna(), None)
    for col in ("event_date", "end_date"):
        e[col] = pd.to_datetime(e[col])
    return e


def extract_of(children: pd.DataFrame, events: list[dict]) -> Extract:
    return Extract(children=children, events=frame_events(events))


# --- a naive oracle: one row, one feature at a time, straight from the definitions' wording -------------
def _in_scope(e: dict, child: str, family: str, scope: str) -> bool:
    if e["family_id"] != family:
        return False
    if scope == "child":
        return e["child_id"] in (child, None)
    if scope == "siblings":
        return e["child_id"] is not None and e["child_id"] != child
    return True


def oracle(d: FeatureDef, events: list[dict], child: str, family: str, t: pd.Timestamp) -> float:
    s = d.signal
    assert s is not None and s.derive is None
    recs = [e for e in events if _in_scope(e, child, family, s.scope) and e["event_type"] in s.event_types
            and (s.source is None or e["source"] == s.source) and (s.detail is None or e["detail"] == s.detail)]
    if s.on == "end":
        dates = [e["end_date"] for e in recs if e["end_date"] is not None and e["end_date"] <= t]
    else:
        dates = [e["event_date"] for e in recs if e["event_date"] <= t]

    def since(months: int) -> pd.Timestamp:  # t is a month end: windows start at a month end
        return t - pd.offsets.MonthEnd(months)

    if d.kind == "count":
        return float(sum(1 for x in dates if d.window is None or x > since(d.window)))
    if d.kind == "days_since":
        return float((t - max(dates)).days) if dates else math.nan
    if d.kind == "trend":
        w = d.window
        assert w is not None
        return float(sum(x > since(w) for x in dates) - sum(since(2 * w) < x <= since(w) for x in dates))
    open_ = [e for e in recs if e["event_date"] <= t and (e["end_date"] is None or e["end_date"] > t)]
    if d.kind == "open" and s.scope == "siblings":
        return float(len({e["child_id"] for e in open_}))
    if d.kind == "open":
        return float(bool(open_))
    if d.kind == "open_months":
        return (t - min(e["event_date"] for e in open_)).days / M if open_ else 0.0
    raise AssertionError(d.kind)


def random_extract(n_families: int = 60, events_per_family: int = 40, seed: int = 0) -> Extract:
    """A seeded random history (numpy, not hypothesis) for comparisons on a few hundred rows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows, events = [], []
    for f in range(n_families):
        fam = f"F{f:03d}"
        kids = [f"{fam}c{i}" for i in range(rng.integers(1, 5))]
        for k in kids:
            born = START + pd.Timedelta(days=int(rng.integers(-16 * 365, 8 * 365)))
            arrived = born + pd.Timedelta(days=int(rng.choice([0, 0, 300, 1500])))
            left = arrived + pd.Timedelta(days=int(rng.integers(100, 4000))) if rng.random() < 0.2 else None
            rows.append({"child_id": k, "family_id": fam, "date_of_birth": born, "sex": "male",
                         "ethnicity": "WBRI", "disability": "no", "hub": HUBS[f % 2],
                         "deprivation_decile": int(rng.integers(1, 11)), "arrived_on": arrived, "left_on": left})
        for i in range(events_per_family):
            etype = str(rng.choice(EVENT_TYPES))
            day = int(rng.integers(0, 3400))
            end = (_date(day + int(rng.integers(0, 700))) if etype in EPISODE_EVENT_TYPES and rng.random() < 0.6
                   else None)
            events.append({
                "event_id": f"{fam}e{i}", "family_id": fam,
                "child_id": None if rng.random() < 0.25 else str(rng.choice(kids)),
                "event_type": etype, "event_date": _date(day), "end_date": end,
                "source": str(rng.choice(SOURCES)) if etype in SOURCED_EVENT_TYPES else None,
                "detail": (str(rng.choice(CP_CATEGORIES)) if etype == "cp_plan" else
                           str(rng.choice(NEED_CATEGORIES)) if etype == "looked_after" else None),
            })
    return extract_of(frame_children(rows), events)
