"""After each decision: what happened to families with a recorded decision, within the horizon, by decision and hub.

A hub lead records a decision on a listed family (serving database: offered early help, not needed, already
open, disagree). For each family's latest decision per list date whose horizon has closed (list as-of date +
horizon on or before the extract's last date), this counts the families with, in (as-of, as-of + horizon], a
referral, a child protection plan or an entry to care of any of its children. Counts under the small-cell
threshold are hidden with the audit's own suppression (governance._suppression), plus enough others that none
can be worked out from totals; rates from a hidden count are hidden.

It is **not a causal estimate**: families were not assigned to decisions at random. A hub lead offers early help
where it seems most needed, and "already open" families are already receiving a service, so outcomes differ
between decisions for reasons the decision did not cause.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.config import Config
from governance._suppression import DERIVED, Relation, suppress

DECISIONS = ("offered_early_help", "not_needed", "already_open", "disagree")
OUTCOMES = {"referral": "referral", "cp_plan": "child protection plan", "looked_after": "entry to care"}
ALL = "all"
WARNING = ("Not a causal estimate: families were not assigned to decisions at random, so differences between "
           "decisions are not the effect of the decision.")


def latest_per_list(decisions: pd.DataFrame) -> pd.DataFrame:
    """Each family's latest decision per list date (a practitioner may revise one)."""
    d = decisions.copy()
    d["at"] = pd.to_datetime(d["at"])
    d["as_of"] = pd.to_datetime(d["as_of"]).fillna(d["at"].dt.normalize())
    return d.sort_values("at", kind="stable").drop_duplicates(["family_id", "as_of"], keep="last")


def after_decisions(decisions: pd.DataFrame, events: pd.DataFrame, config: Config, *,
                    extract_date: pd.Timestamp) -> dict[str, Any]:
    """Outcome counts by decision and hub (suppressed), JSON-ready.

    Parameters
    ----------
    decisions : DataFrame
        `family_id`, `hub`, `decision`, `at` (when recorded) and `as_of` (the list date; may be missing).
    events : DataFrame
        The extract's events.
    """
    horizon = config.outcome.horizon_months
    threshold = config.fairness.small_cell_threshold
    hubs = list(config.council.hub_names)
    if decisions is None or decisions.empty:
        return {"matured": 0, "pending": 0, "tables": None, "warning": WARNING,
                "note": "no decisions recorded yet"}
    d = latest_per_list(decisions)
    d = d[d["decision"].isin(DECISIONS)]
    d["end"] = d["as_of"] + pd.DateOffset(months=horizon)
    matured = d[d["end"] <= extract_date].reset_index(drop=True)
    pending = int(len(d) - len(matured))
    ev = events[events["event_type"].isin(list(OUTCOMES))][["family_id", "event_type", "event_date"]]
    ev = ev[ev["family_id"].isin(set(matured["family_id"]))]
    joined = matured[["family_id", "as_of", "end"]].reset_index().merge(ev, on="family_id", how="inner")
    inside = joined[(joined["event_date"] > joined["as_of"]) & (joined["event_date"] <= joined["end"])]
    for outcome in OUTCOMES:
        hit = set(inside.loc[inside["event_type"] == outcome, "index"])
        matured[outcome] = matured.index.isin(list(hit))

    values: dict[tuple, float] = {}
    relations: list[Relation] = []
    measures = ("families", *OUTCOMES)
    groups = [ALL, *hubs]
    for g in groups:
        part = matured if g == ALL else matured[matured["hub"] == g]
        for dec in (ALL, *DECISIONS):
            sub = part if dec == ALL else part[part["decision"] == dec]
            values[(g, dec, "families")] = float(len(sub))
            for outcome in OUTCOMES:
                values[(g, dec, outcome)] = float(sub[outcome].sum())
    for m in measures:
        for g in groups:
            relations.append(Relation((g, ALL, m), tuple((g, dec, m) for dec in DECISIONS)))
        for dec in (ALL, *DECISIONS):
            relations.append(Relation((ALL, dec, m), tuple((h, dec, m) for h in hubs)))
    hidden = suppress(values, relations, threshold=threshold).suppressed

    def row(g: str, dec: str) -> dict[str, Any]:
        out: dict[str, Any] = {"hub": g, "decision": dec}
        fam_hidden = (g, dec, "families") in hidden
        out["families"] = None if fam_hidden else int(values[(g, dec, "families")])
        for outcome in OUTCOMES:
            key = (g, dec, outcome)
            n = None if key in hidden else int(values[key])
            out[outcome] = n
            rate = None
            if n is not None and not fam_hidden and values[(g, dec, "families")]:
                rate = round(n / values[(g, dec, "families")], 4)
            out[f"{outcome}_rate"] = rate
        out["suppressed"] = [k for k in measures if (g, dec, k) in hidden]
        return out

    tables = [row(g, dec) for g in groups for dec in (ALL, *DECISIONS)]
    return {"matured": int(len(matured)), "pending": pending, "horizon_months": horizon,
            "outcomes": OUTCOMES, "rows": tables, "warning": WARNING,
            "suppression": (f"counts under {threshold} are hidden, and further counts so that none can be worked "
                            f"out by difference; {DERIVED.format(inputs='a hidden count')} for rates"),
            "definition": ("families with a recorded decision (latest per list date) whose list date + horizon is "
                           "on or before the extract's last date; an outcome counts when any event of that type "
                           "for the family falls in (list date, list date + horizon]")}


def decisions_frame(records: list[Any]) -> pd.DataFrame:
    """Decision records (objects with family_id, hub, decision, at, as_of) as the frame `after_decisions` reads;
    the free-text reason is never read."""
    cols = ["family_id", "hub", "decision", "at", "as_of"]
    return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in records], columns=cols)
