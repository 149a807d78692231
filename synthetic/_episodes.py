"""Opening and closing a child's episodes (early help, CIN plan, CP plan, looked after) in state and records."""

from __future__ import annotations

import numpy as np

from synthetic._recorder import Recorder
from synthetic._state import NO, State

EVENT_OF = {"eh": "early_help", "cin": "cin_plan", "cp": "cp_plan", "la": "looked_after"}


def open_episode(st: State, kind: str, rows: np.ndarray, days: np.ndarray, m: int, rec: Recorder | None,
                 *, detail: np.ndarray | None = None) -> None:
    k = st.kid
    if kind != "la":
        k[kind][rows] = True
    k[f"{kind}_sd"][rows] = days
    k[f"{kind}_sm"][rows] = m
    if kind == "eh":
        k["eh_last"][rows] = m
    if rec is not None:
        k[f"{kind}_ev"][rows] = rec.add(EVENT_OF[kind], st.fam["uid"][k["fam"][rows]], days,
                                        child=k["uid"][rows], detail=detail, episode=True)


def close_episode(st: State, kind: str, rows: np.ndarray, days: np.ndarray, m: int, rec: Recorder | None) -> None:
    """Close `kind` for those rows that have it open; an end never precedes its start."""
    k = st.kid
    if kind == "la":
        sel = rows
        days_sel = days
    else:
        has = k[kind][rows]
        sel, days_sel = rows[has], days[has]
        k[kind][sel] = False
        k[f"{kind}_em"][sel] = m
    if rec is not None and len(sel):
        rec.close(k[f"{kind}_ev"][sel], np.maximum(days_sel, k[f"{kind}_sd"][sel]))
    k[f"{kind}_ev"][sel] = NO


def close_all_plans(st: State, rows: np.ndarray, days: np.ndarray, m: int, rec: Recorder | None) -> None:
    for kind in ("eh", "cin", "cp"):
        close_episode(st, kind, rows, days, m, rec)
