"""The study's figures: per run, then per policy × effect × capacity with intervals over seeds of the paired
difference against `none` (the same seed's future without extra offers).

Interval: mean ± t(0.975, K − 1) · sd / √K over the K seeds (none with one seed). Counts that describe fewer than
`SMALL_CELL` children (a breakdown cell's entries without extra offers) are suppressed: the figures are for a
governance board.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from impact._run import RunOutcome

SMALL_CELL = 10
RUN_COLUMNS = ("seed", "policy", "effect", "capacity", "entries", "entries_under5", "entries_5plus",
               "entries_known", "entries_not_known", "looked_after_end", "offers", "offers_accepted",
               "children_offered", "offers_never_entered", "expected_averted")
SUMMARY_METRICS = ("entries", "looked_after_end", "averted", "looked_after_averted", "averted_per_100_offers",
                   "expected_averted", "expected_averted_per_100_offers", "offers", "offers_accepted",
                   "share_offers_never_entered")


def interval(values: np.ndarray) -> tuple[float, float | None, float | None]:
    """Mean and 95% t-interval over seeds (None, None with fewer than two)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if not len(v):
        return math.nan, None, None
    mean = float(v.mean())
    if len(v) < 2:
        return mean, None, None
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return mean, mean - half, mean + half


def _never_entered(o: RunOutcome, none: RunOutcome) -> int:
    """Offers to families none of whose children entered care, after the offer month, without extra offers."""
    if not len(o.offer_month):
        return 0
    last = pd.Series(none.entry_month).groupby(none.entry_family).max()
    entered_after = pd.Series(o.offer_family).map(last).to_numpy(dtype=float) >= o.offer_month
    return int((~entered_after).sum())


def run_table(outcomes: list[RunOutcome], hubs: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per run (RUN_COLUMNS) and the runs' entries by breakdown (seed, policy, effect, capacity, by,
    group, entries)."""
    none = {o.spec.seed: o for o in outcomes if o.spec.policy == "none"}
    rows, cells = [], []
    for o in outcomes:
        s = o.spec
        key = {"seed": s.seed, "policy": s.policy, "effect": s.effect, "capacity": s.capacity}
        rows.append({**key, "entries": len(o.entry_month), "entries_under5": int(o.entry_under5.sum()),
                     "entries_5plus": int((~o.entry_under5).sum()), "entries_known": int(o.entry_known.sum()),
                     "entries_not_known": int((~o.entry_known).sum()), "looked_after_end": o.looked_after_end,
                     "offers": len(o.offer_month), "offers_accepted": int(o.offer_accepted.sum()),
                     "children_offered": int(o.offer_children.sum()),
                     "offers_never_entered": _never_entered(o, none[s.seed]) if s.seed in none else None,
                     "expected_averted": o.expected_averted})
        groups = {
            "hub": np.asarray(hubs, dtype=object)[o.entry_hub] if len(o.entry_hub) else np.zeros(0, object),
            "age_at_entry": np.where(o.entry_under5, "under 5", "5 and over"),
            "previously_known": np.where(o.entry_known, "known", "not known"),
        }
        labels = {"hub": hubs, "age_at_entry": ("under 5", "5 and over"), "previously_known": ("known", "not known")}
        for by, values in groups.items():
            counts = pd.Series(values, dtype=object).value_counts()
            cells += [{**key, "by": by, "group": g, "entries": int(counts.get(g, 0))} for g in labels[by]]
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS)), pd.DataFrame(cells)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per policy × effect × capacity: each metric's mean and interval over seeds; averted figures are paired
    differences against `none` in the same seed."""
    none = runs[runs["policy"] == "none"].set_index("seed")
    out = []
    for (policy, effect, capacity), g in runs.groupby(["policy", "effect", "capacity"], sort=False):
        g = g.set_index("seed")
        base = none.reindex(g.index)
        offers = g["offers"].to_numpy(float)
        averted = (base["entries"] - g["entries"]).to_numpy(float)
        values = {
            "entries": g["entries"].to_numpy(float),
            "looked_after_end": g["looked_after_end"].to_numpy(float),
            "averted": averted,
            "looked_after_averted": (base["looked_after_end"] - g["looked_after_end"]).to_numpy(float),
            "averted_per_100_offers": np.where(offers > 0, 100 * averted / np.maximum(offers, 1), np.nan),
            "expected_averted": g["expected_averted"].to_numpy(float),
            "expected_averted_per_100_offers": np.where(
                offers > 0, 100 * g["expected_averted"].to_numpy(float) / np.maximum(offers, 1), np.nan),
            "offers": offers,
            "offers_accepted": g["offers_accepted"].to_numpy(float),
            "share_offers_never_entered": np.where(
                offers > 0, g["offers_never_entered"].to_numpy(float) / np.maximum(offers, 1), np.nan),
        }
        row: dict[str, Any] = {"policy": policy, "effect": effect, "capacity": capacity, "seeds": len(g)}
        for name in SUMMARY_METRICS:
            mean, lo, hi = interval(values[name])
            row.update({name: mean, f"{name}_low": lo, f"{name}_high": hi})
        out.append(row)
    return pd.DataFrame(out)


def breakdowns(cells: pd.DataFrame) -> pd.DataFrame:
    """Entries averted by hub, age at entry and previously known, per policy × effect × capacity, with intervals;
    a cell whose entries without extra offers average under SMALL_CELL is suppressed."""
    if cells.empty:
        return pd.DataFrame()
    none = cells[cells["policy"] == "none"].set_index(["seed", "by", "group"])["entries"]
    out = []
    for (policy, effect, capacity, by, group), g in cells.groupby(
            ["policy", "effect", "capacity", "by", "group"], sort=False):
        if policy == "none":
            continue
        base = none.reindex(pd.MultiIndex.from_arrays([g["seed"], g["by"], g["group"]])).to_numpy(float)
        small = bool(np.nanmean(base) < SMALL_CELL)
        mean, lo, hi = interval(base - g["entries"].to_numpy(float))
        out.append({"policy": policy, "effect": effect, "capacity": capacity, "by": by, "group": group,
                    "entries_without_offers": None if small else float(np.nanmean(base)),
                    "averted": None if small else mean, "averted_low": None if small else lo,
                    "averted_high": None if small else hi, "suppressed": small})
    return pd.DataFrame(out)
