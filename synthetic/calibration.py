"""Calibration: the case-study figures measured from the contract tables (as an analyst would), and their targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.contract import KNOWN_TO_SOCIAL_CARE_TYPES
from synthetic._council import SimulatedCouncil

CASE_STUDY = "case study (DESIGN.md)"


@dataclass(frozen=True)
class Target:
    label: str
    target: float
    tolerance: float
    percent: bool = False  # a share, shown in percent (tolerance in points)
    source: str = CASE_STUDY  # publisher, publication, year, table; or the assumption where none exists

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

# Partner agencies, as the agency counts them: events in the extract divided by the feed's linkage rate (the share
# that reaches the council with a key). Published national rates for the simulated years (2016/17 where there is
# one); the derivation of each, and the assumptions where no national figure exists, are in docs/simulator.md.
_CIN = "DfE, Characteristics of children in need 2015-16 (SFR 52/2016), national tables"
PARTNER_TARGETS: dict[str, Target] = {
    "da_notifications_per_10k": Target(
        "police domestic abuse notifications per year, per 10,000 children", 350, 120,
        source="ONS, Domestic abuse in England and Wales: year ending March 2017 (1.1m police-recorded incidents "
               "and crimes); share in households with children assumed 40%"),
    "ae_per_10k": Target(
        "A&E attendances per year, per 10,000 children", 4700, 1000,
        source="NHS Digital, Hospital Accident and Emergency Activity 2016-17 (about 23.4m attendances); "
               "under-18s about a quarter (HES age breakdown)"),
    "homelessness_per_10k": Target(
        "homelessness presentations by families per year, per 10,000 children", 80, 35,
        source="DCLG, Statutory homelessness 2016-17 (59,100 acceptances, about 115,000 decisions; about 60% "
               "families with children); presentations assumed 1.4 x decisions"),
    "adult_mh_per_10k": Target(
        "adult mental-health service contacts in households with children per year, per 10,000 children", 270, 110,
        source="NHS Digital, Mental Health Bulletin 2016-17 (about 2.6m people in contact with secondary services); "
               "assumed 4% of families a year, 1.3 recorded contacts each"),
    "adult_sub_per_10k": Target(
        "adult substance-misuse treatment contacts in households with children per year, per 10,000 children",
        65, 30,
        source="PHE, Adult substance misuse statistics from NDTMS 2016-17 (279,793 adults in treatment); "
               "assumed 1 in 5 living with children: 0.8% of families, 1.5 contacts each"),
    "missing_per_10k": Target(
        "missing episodes (children living at home) per year, per 10,000 children", 100, 40,
        source="NCA UK Missing Persons Bureau, Missing persons data report 2016/17 (179,953 incidents of missing "
               "children, England and Wales, 145 per 10,000); assumed a third are children in care"),
    "youth_offences_per_10k": Target(
        "youth offences coming to police notice per year, per 10,000 children", 60, 25,
        source="YJB / MoJ, Youth Justice Statistics 2016/17 (74,800 arrests of 10-17 year olds, England and "
               "Wales)"),
    "hv_concerns_per_10k_under5": Target(
        "health visitor concerns per year, per 10,000 children under 5", 400, 200,
        source="no national figure: assumed (about 3% of under-fives a year, some more than once)"),
    "persistent_absence_per_term": Target(
        "pupils aged 5-15 persistently absent, per term", 0.108, 0.03, True,
        source="DfE, Pupil absence in schools in England 2016 to 2017 (10.8% over the year; termly rates "
               "assumed the same)"),
    "suspensions_per_10k": Target(
        "suspensions (fixed-period exclusions) per year, per 10,000 children aged 5-17", 476, 120,
        source="DfE, Permanent and fixed-period exclusions in England 2016 to 2017 (381,865; 4.76 per 100 "
               "pupils)"),
    "permanent_exclusions_per_10k": Target(
        "permanent exclusions per year, per 10,000 children aged 5-17", 10, 5,
        source="DfE, Permanent and fixed-period exclusions in England 2016 to 2017 (7,720; 0.10 per 100 "
               "pupils)"),
    "referrals_police": Target("referrals from the police", 0.276, 0.05, True, source=_CIN + " (27.6%)"),
    "referrals_school": Target("referrals from schools", 0.167, 0.05, True, source=_CIN + " (16.7%)"),
    "referrals_health": Target("referrals from health services", 0.143, 0.05, True, source=_CIN + " (14.3%)"),
    "referrals_individual": Target(
        "referrals from individuals", 0.09, 0.04, True,
        source=_CIN + " (about 9%: not retrieved here, approximate)"),
    "referrals_la_services": Target(
        "referrals from local authority services", 0.15, 0.05, True,
        source=_CIN + " (about 15%: not retrieved here, approximate)"),
    "referrals_other": Target(
        "referrals from housing, other agencies, anonymous or unknown", 0.18, 0.06, True,
        source=_CIN + " (the remainder, about 18%)"),
    "factor_domestic_abuse": Target(
        "assessments with factors: domestic violence (3B)", 0.496, 0.08, True,
        source=_CIN + ", factors at end of assessment (49.6%)"),
    "factor_mental_health": Target(
        "assessments with factors: parental mental health (4B)", 0.366, 0.08, True,
        source=_CIN + ", factors at end of assessment (36.6%)"),
    "factor_drugs": Target(
        "assessments with factors: parental drug misuse (2B)", 0.193, 0.06, True,
        source=_CIN + ", factors at end of assessment (19.3%)"),
    "factor_alcohol": Target(
        "assessments with factors: parental alcohol misuse (1B)", 0.184, 0.06, True,
        source=_CIN + ", factors at end of assessment (18.4%)"),
}
TARGETS.update(PARTNER_TARGETS)
# referral source shares: the contract's sources grouped as the DfE publishes them
_SOURCE_GROUPS = {"police": ("police",), "school": ("school",), "health": ("health",),
                  "individual": ("individual",), "la_services": ("la_services",),
                  "other": ("housing", "other", "unknown")}
_FACTORS = {"factor_domestic_abuse": "3B", "factor_mental_health": "4B", "factor_drugs": "2B",
            "factor_alcohol": "1B"}


def _population(children: pd.DataFrame, day: pd.Timestamp, lo: int = 0, hi: int = 18) -> int:
    """Children resident on `day` and aged lo <= age < hi (whole years; default: every child under 18)."""
    c = children
    dob = c["date_of_birth"]
    young_enough = day < dob + pd.DateOffset(years=hi)
    old_enough = (dob <= day) if lo == 0 else (dob + pd.DateOffset(years=lo) <= day)
    return int((old_enough & young_enough & (c["arrived_on"] <= day)
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

    partner = _partner_figures(council, ev[in_window], ch, month_ends, mean_pop, years)

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
        **partner,
    }


def _partner_figures(council: SimulatedCouncil, ev: pd.DataFrame, ch: pd.DataFrame, month_ends: pd.DatetimeIndex,
                     mean_pop: float, years: int) -> dict[str, float]:
    """Partner-agency rates (as the agency counts them: extract / linkage), referral sources, assessment factors."""
    counts = ev["event_type"].value_counts()

    def agency(event_type: str) -> float:
        return float(counts.get(event_type, 0)) / council.linkage.get(event_type, 1.0)

    def mean_pop_aged(lo: int, hi: int) -> float:
        return float(np.mean([_population(ch, d, lo, hi) for d in month_ends]))

    def per_10k_year(event_type: str, pop: float) -> float:
        return agency(event_type) / years / pop * 1e4 if pop else float("nan")

    under5, school, pupils = mean_pop_aged(0, 5), mean_pop_aged(5, 16), mean_pop_aged(5, 18)
    exclusions = ev[ev["event_type"] == "school_exclusion"]
    excl_link = council.linkage.get("school_exclusion", 1.0)
    out = {
        "da_notifications_per_10k": per_10k_year("domestic_abuse_notification", mean_pop),
        "ae_per_10k": per_10k_year("ae_attendance", mean_pop),
        "homelessness_per_10k": per_10k_year("homelessness", mean_pop),
        "adult_mh_per_10k": per_10k_year("adult_mental_health", mean_pop),
        "adult_sub_per_10k": per_10k_year("adult_substance_misuse", mean_pop),
        "missing_per_10k": per_10k_year("missing_episode", mean_pop),
        "youth_offences_per_10k": per_10k_year("youth_offence", mean_pop),
        "hv_concerns_per_10k_under5": per_10k_year("health_visitor_concern", under5),
        "persistent_absence_per_term": agency("school_persistent_absence") / (3 * years) / school
        if school else float("nan"),
        "suspensions_per_10k": float((exclusions["detail"] == "suspension").sum()) / excl_link / years / pupils * 1e4
        if pupils else float("nan"),
        "permanent_exclusions_per_10k": float((exclusions["detail"] == "permanent").sum()) / excl_link / years
        / pupils * 1e4 if pupils else float("nan"),
    }
    refs = ev.loc[ev["event_type"] == "referral", "source"]
    for group, sources in _SOURCE_GROUPS.items():
        out[f"referrals_{group}"] = float(refs.isin(sources).mean()) if len(refs) else float("nan")
    factors = ev.loc[(ev["event_type"] == "assessment") & ev["detail"].notna(), "detail"].str.split(";")
    for key, code in _FACTORS.items():
        out[key] = float(factors.map(lambda f, c=code: c in f).mean()) if len(factors) else float("nan")
    return out


def table(measured: dict[str, float]) -> str:
    """A markdown table of measured figures beside their targets."""
    lines = ["| figure | target | tolerance | measured | within | source |", "|---|---|---|---|---|---|"]
    for key, t in TARGETS.items():
        v = measured.get(key, float("nan"))
        tol = f"± {100 * t.tolerance:.0f} pts" if t.percent else f"± {t.tolerance:g}"
        lines.append(f"| {t.label} | {t.show(t.target)} | {tol} | {t.show(v)} | "
                     f"{'yes' if not np.isnan(v) and t.ok(v) else 'no'} | {t.source} |")
    return "\n".join(lines)
