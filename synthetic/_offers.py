"""Early help offered from outside the mechanism (a policy acting on risk lists): a recorded episode and its effect.

An offer accepted by a family opens an `early_help` episode for each of its children at home, recorded like any
other, so the next month's features see it. The mechanism reads it in one place only: the offered-help term of
the entry hazard (`Mechanism.offered_help_effect`, for `offered_help_months` after the start). The pathway never
sees it (the mechanism's own early help flag is untouched), so with effect 0 every draw of the simulation is
exactly what it would have been without the offer. The episode's length comes from the caller's random stream,
never from the simulation's.
"""

from __future__ import annotations

import numpy as np

from synthetic._calendar import days_in_month, first_day
from synthetic._recorder import Recorder
from synthetic._state import NO, State


def open_offered_help(st: State, families: np.ndarray, m: int, rng: np.random.Generator, rec: Recorder,
                      *, monthly_close: float) -> np.ndarray:
    """Open offered early help for the children at home of the given family rows, from the first day of month m.

    Parameters
    ----------
    st : State
        The council's state (changed in place: the children's offered-help fields).
    families : ndarray
        Family rows of `st.fam` whose offer was accepted.
    m : int
        The month the hub takes the families on.
    rng : Generator
        The caller's stream for each family's episode length (geometric, closing with `monthly_close` a month,
        as the mechanism's own early help does); never the simulation's stream.
    rec : Recorder
        The council's records.
    monthly_close : float
        The chance a month that an episode closes.

    Returns
    -------
    ndarray
        The child rows whose episode opened.
    """
    k = st.kid
    months = rng.geometric(monthly_close, len(families))  # >= 1: the episode closes in a later month
    end_month = m + months
    end_day = (first_day(end_month) + rng.integers(0, days_in_month(end_month))).astype(np.int32)
    family_end = np.full(st.n_fam, NO, dtype=np.int32)
    family_end[families] = end_day
    is_offered = np.zeros(st.n_fam, dtype=bool)
    is_offered[families] = True
    kids = np.flatnonzero(is_offered[k["fam"]] & k["res"] & ~k["incare"])
    start = np.full(len(kids), int(first_day(m)), dtype=np.int32)
    k["offered_ev"][kids] = rec.add("early_help", st.fam["uid"][k["fam"][kids]], start, child=k["uid"][kids],
                                    episode=True)
    k["offered_sm"][kids] = m
    k["offered_end"][kids] = family_end[k["fam"][kids]]
    return kids


def close_offered_help(st: State, m: int, rec: Recorder) -> int:
    """Close the offered episodes that ended by the end of month m: at their planned end, or when the child
    entered care or left the area (whichever came first). Returns how many closed."""
    k = st.kid
    rows = np.flatnonzero(k["offered_ev"] >= 0)
    end = k["offered_end"][rows]
    gone = ~k["res"][rows]
    end = np.where(gone & (k["left"][rows] >= 0), np.minimum(end, k["left"][rows]), end)
    care = k["incare"][rows]
    end = np.where(care, np.minimum(end, k["la_sd"][rows]), end)
    done = (end <= int(first_day(m + 1)) - 1) | gone | care
    rows, end = rows[done], end[done]
    start = first_day(k["offered_sm"][rows]).astype(np.int32)
    rec.close(k["offered_ev"][rows], np.maximum(end, start))
    k["offered_ev"][rows] = NO
    return len(rows)
