"""Realism the model must earn: shared sibling risk, partner signal, re-referrals, stepping up and down, movers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.contract import KNOWN_TO_SOCIAL_CARE_TYPES, PARTNER_EVENT_TYPES
from synthetic import Mechanism, SimulatedCouncil
from synthetic._oracle import Oracle
from synthetic._population import arrivals, initial_population
from synthetic._recorder import Recorder
from synthetic._state import NEVER
from synthetic._step import step


def _of_type(council: SimulatedCouncil, event_type: str) -> pd.DataFrame:
    return council.events[council.events["event_type"] == event_type]


def test_siblings_share_risk(council: SimulatedCouncil) -> None:
    t = council.truth[council.truth["as_of"] == council.truth["as_of"].max()]
    t = t.merge(council.children[["child_id", "family_id"]], on="child_id")
    g = t.groupby("family_id")["p_true"]
    n, total = g.transform("size"), g.transform("sum")
    sib = t[n >= 2]
    others = (total[n >= 2] - sib["p_true"]) / (n[n >= 2] - 1)
    assert np.corrcoef(np.log(sib["p_true"] + 1e-4), np.log(others + 1e-4))[0, 1] > 0.5
    # sibling groups come into care together
    la = _of_type(council, "looked_after")
    assert la.duplicated(["family_id", "event_date"]).sum() > 5


def test_re_referrals_step_downs_and_step_ups_all_occur(council: SimulatedCouncil) -> None:
    def follows(first: str, then: str, **where: str) -> int:
        a = _of_type(council, first)[["child_id", "end_date"]].dropna()
        b = _of_type(council, then)
        for col, val in where.items():
            b = b[b[col] == val]
        return len(a.merge(b, left_on=["child_id", "end_date"], right_on=["child_id", "event_date"]))

    assert follows("cp_plan", "cin_plan") > 20        # CP plan steps down to a CIN plan
    assert follows("cin_plan", "early_help") > 20     # CIN plan steps down to early help
    assert follows("early_help", "referral", source="la_services") > 10  # early help steps up
    refs = _of_type(council, "referral").sort_values("event_date")
    gap = refs.groupby("child_id")["event_date"].diff()
    assert (gap <= pd.Timedelta(days=365)).sum() > 100


def _partner_events_in_year_before(council: SimulatedCouncil, children: pd.Series, dates: pd.Series) -> float:
    """Mean number of partner-agency events (the child's own and its household's) in the year before each date."""
    ev = council.events
    partner = ev[ev["event_type"].isin(PARTNER_EVENT_TYPES)]
    fam = council.children.set_index("child_id")["family_id"]
    d = pd.DataFrame({"child_id": children.to_numpy(), "family_id": fam[children].to_numpy(),
                      "t": dates.to_numpy()}).reset_index(names="row")
    own = d.merge(partner[["child_id", "event_date"]].dropna(), on="child_id")
    household = d.merge(partner.loc[partner["child_id"].isna(), ["family_id", "event_date"]], on="family_id")
    hits = pd.concat([own[["row", "t", "event_date"]], household[["row", "t", "event_date"]]])
    hits = hits[(hits["event_date"] < hits["t"]) & (hits["event_date"] >= hits["t"] - pd.DateOffset(years=1))]
    return len(hits) / len(d)


def test_partner_agencies_signal_who_will_enter_care(council: SimulatedCouncil) -> None:
    entries = _of_type(council, "looked_after")
    entries = entries[entries["event_date"] > council.end - pd.DateOffset(years=3)].drop_duplicates("child_id")
    entries = entries[entries["event_date"] > entries["child_id"].map(council.children.set_index("child_id")
                                                                     ["arrived_on"])]  # not UASC
    t = council.truth[council.truth["as_of"] == council.truth["as_of"].max()]
    everyone = _partner_events_in_year_before(council, t["child_id"], t["as_of"])
    entrants = _partner_events_in_year_before(council, entries["child_id"], entries["event_date"])
    assert entrants > 2 * everyone


def test_the_oracle_sees_some_entrants_not_known_to_social_care(council: SimulatedCouncil) -> None:
    ev = council.events
    known = ev[ev["event_type"].isin(KNOWN_TO_SOCIAL_CARE_TYPES)].groupby("child_id")["event_date"].min()
    truth = council.truth
    entrants = truth[truth["entered"]]
    unknown = entrants[~(entrants["child_id"].map(known) <= entrants["as_of"])]
    assert len(unknown) > 20
    # hidden state foreshadows many of them: their risk at the as-of date is far above the cohort's
    assert unknown["p_true"].median() > 3 * truth["p_true"].median()


def test_families_moving_in_arrive_with_no_records(council: SimulatedCouncil) -> None:
    c = council.children
    movers = c[(c["arrived_on"] > c["date_of_birth"]) & (c["arrived_on"] > council.start)]
    first = council.events.groupby("child_id")["event_date"].min()
    assert len(movers) > 500
    assert (movers["child_id"].map(first).fillna(pd.Timestamp.max) >= movers["arrived_on"]).all()
    la = _of_type(council, "looked_after").merge(c, on="child_id")
    soon = (la["event_date"] - la["arrived_on"] < pd.Timedelta(days=365)) & (la["arrived_on"] > la["date_of_birth"])
    uasc = (la["event_date"] == la["arrived_on"]) & (la["detail"] == "N8")
    assert (soon & ~uasc).sum() > 5 and uasc.sum() > 5
    assert (la.loc[uasc, "event_date"] - la.loc[uasc, "date_of_birth"] >= pd.Timedelta(days=int(13.9 * 365))).all()


def test_infants_and_adolescents_enter_care_most(council: SimulatedCouncil) -> None:
    la = _of_type(council, "looked_after").merge(council.children, on="child_id")
    la = la[la["event_date"] > council.start]
    age = (la["event_date"] - la["date_of_birth"]).dt.days // 365
    per_year_of_age = age.value_counts().sort_index()
    assert per_year_of_age[0] > 2 * per_year_of_age.loc[5:9].mean()
    assert per_year_of_age.loc[13:15].mean() > per_year_of_age.loc[5:9].mean()


def test_early_help_modestly_reduces_later_risk() -> None:
    mech = Mechanism()
    rng = np.random.default_rng(4)
    st = initial_population(2000, 0, rng, mech, 8)
    rec = Recorder()
    for m in range(60):
        step(st, m, rng, mech, rec=rec)
        arrivals(st, m, rng, mech, 2000, 8, rec)
    p = {}
    for helped in (False, True):
        st.kid["eh_last"][:] = 59 if helped else NEVER
        oracle = Oracle(mech, seed=1, replicates=8, horizon=12)
        oracle.submit(st, 59)
        p[helped] = oracle.results()[0][2].mean()
    assert 0.6 < p[True] / p[False] < 0.95
