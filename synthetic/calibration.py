"""Calibration: the case-study figures measured from the contract tables (as an analyst would), and their targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.contract import KNOWN_TO_SOCIAL_CARE_TYPES
from synthetic._council import SimulatedCouncil


@dataclass(frozen=True)
class Target:
    label: str
    target: float
    tolerance: float
    percent: bool = False  # a share, shown in percent (tolerance in points)

    def ok(self, value: float) -> bool:
        return bool(abs(value - self.target) <= self.tolerance)

    def show(self, value: float) -> str:
        if np.isnan(value):
            return "n/a"
        return f"{100 * value:.1f}%" if self.percent else (f"{value:.2f}" if abs(value) < 10 else f"{value:,.0f}")


TARGETS: dict[str, Target] = {
    "looked_after_per_10k": Target("children looked after at period end, per 10,000 children", 140, 20),
    "entries_per_10k_year": Target("entries to care per year, per 10,000 children", 55, 12),
    "entrants_not_known": Target(
        "entrants with no earlier contact, referral, assessment or early help in the records", 0.41, 0.05, True),
    "entrants_aged_5_plus": Target("entrants aged 5 or over at entry", 0.52, 0.05, True),
    "entrants_n1": Target("entrants with category of need N1 (abuse or neglect)", 0.68, 0.05, True),
    "early_help_aged_5_plus": Target("early help episodes that work with children aged 5+", 0.34, 0.05, True),
    "contacts_per_10k_year": Target("contacts per year, per 10,000 children", 2300, 400),
    "referrals_per_10k_year": Target("referrals per year, per 10,000 children", 550, 100),
    "re_referrals": Target("referrals that are re-referrals within 12 months", 0.22, 0.05, True),
    "cp_per_10k": Target("children on a child protection plan at period end, per 10,000", 55, 15),
    "truth_honesty": Target("ground truth is honest: mean p_true / realised entry rate, same rows", 1.0, 0.1),
}


def _population(children: pd.DataFrame, day: pd.Timestamp) -> int:
    """Children resident and under 18 on `day`."""
    c = children
    adult = c["date_of_birth"] + pd.DateOffset(years=18)
    return int(((c["date_of_birth"] <= day) & (day < adult) & (c["arrived_on"] <= day)
                & (c["left_on"].isna() | (c["left_on"] >= day))).sum())


def _open_at(ev: pd.DataFrame, event_type: str, day: pd.Timestamp) -> int:
    e = ev[ev["event_type"] == event_type]
    return int(((e["event_date"] <= day) & (e["end_date"].isna() | (e["end_date"] > day))).sum())


def measure(council: SimulatedCouncil, *, years: int = 3) -> dict[str, float]:
    """Every calibration figure over the last `years` simulated years, from children, events and truth."""
    ch, ev = council.children, council.events
    end = council.end
    since = end - pd.DateOffset(years=years) + pd.Timedelta(days=1)
    in_window = (ev["event_date"] >= since) & (ev["event_date"] <= end)
    month_ends = pd.date_range(since, end, freq="ME")
    mean_pop = float(np.mean([_population(ch, d) for d in month_ends]))
    pop_end = _population(ch, end)
    dob = ch.set_index("child_id")["date_of_birth"]

    def per_10k_year(event_type: str) -> float:
        return float((in_window & (ev["event_type"] == event_type)).sum()) / years / mean_pop * 1e4

    entries = ev[in_window & (ev["event_type"] == "looked_after")]
    known = ev[ev["event_type"].isin(KNOWN_TO_SOCIAL_CARE_TYPES) & ev["child_id"].notna()]
    first_known = known.groupby("child_id")["event_date"].min()
    not_known = ~(entries["child_id"].map(first_known) < entries["event_date"])
    entry_age5 = entries["event_date"] >= entries["child_id"].map(dob) + pd.DateOffset(years=5)
    eh = ev[in_window & (ev["event_type"] == "early_help")]
    eh_age5 = eh["event_date"] >= eh["child_id"].map(dob) + pd.DateOffset(years=5)

    refs = ev[ev["event_type"] == "referral"].sort_values(["child_id", "event_date"], kind="stable")
    prev = refs.groupby("child_id")["event_date"].shift()
    rerefs = (refs["event_date"] - prev) <= pd.Timedelta(days=365)
    in_w = (refs["event_date"] >= since) & (refs["event_date"] <= end)

    truth = council.truth
    honesty = float(truth["p_true"].mean() / truth["entered"].mean()) if len(truth) and truth["entered"].any() \
        else float("nan")
    return {
        "looked_after_per_10k": _open_at(ev, "looked_after", end) / pop_end * 1e4,
        "entries_per_10k_year": per_10k_year("looked_after"),
        "entrants_not_known": float(not_known.mean()) if len(entries) else float("nan"),
        "entrants_aged_5_plus": float(entry_age5.mean()) if len(entries) else float("nan"),
        "entrants_n1": float((entries["detail"] == "N1").mean()) if len(entries) else float("nan"),
        "early_help_aged_5_plus": float(eh_age5.mean()) if len(eh) else float("nan"),
        "contacts_per_10k_year": per_10k_year("contact"),
        "referrals_per_10k_year": per_10k_year("referral"),
        "re_referrals": float(rerefs[in_w].mean()) if in_w.any() else float("nan"),
        "cp_per_10k": _open_at(ev, "cp_plan", end) / pop_end * 1e4,
        "truth_honesty": honesty,
    }


def table(measured: dict[str, float]) -> str:
    """A markdown table of measured figures beside their targets."""
    lines = ["| figure | target | tolerance | measured | within |", "|---|---|---|---|---|"]
    for key, t in TARGETS.items():
        v = measured.get(key, float("nan"))
        tol = f"± {100 * t.tolerance:.0f} pts" if t.percent else f"± {t.tolerance:g}"
        lines.append(f"| {t.label} | {t.show(t.target)} | {tol} | {t.show(v)} | "
                     f"{'yes' if not np.isnan(v) and t.ok(v) else 'no'} |")
    return "\n".join(lines)
