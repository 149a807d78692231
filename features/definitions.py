"""The declarative feature set: signals (filtered event streams) × windows × aggregations, from the config.

Everything else — the builder, the feature dictionary, the docs — is generated from these definitions, so
one list decides what the model sees. A larger engine (SQL, Spark) can run the same definitions later:
each feature is a count, a recency or an open-episode state of one signal at the as-of date.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from core.contract import CP_CATEGORIES, KNOWN_TO_SOCIAL_CARE_TYPES, SOURCES

if TYPE_CHECKING:
    from core.config import Config

# Whose events a signal counts, for a child at the as-of date:
#   child     - events recorded against the child, plus household-wide records (child_id null) of the family;
#   siblings  - events recorded against the other children of the child's family (the child excluded);
#   household - every event of the family (household-level types: they concern the adults or the home).
Scope = Literal["child", "siblings", "household"]
# Which aggregations a signal gets:
#   windows (count in each configured window), ever (count ever), days_since (recency of the latest),
#   trend (last 12 months minus the 12 before), open (episode open at the as-of date: a flag for the child,
#   a number of siblings for siblings), open_months (duration so far of the open episode).
Aggregation = Literal["windows", "ever", "days_since", "trend", "open", "open_months"]
Kind = Literal["count", "days_since", "trend", "open", "open_months", "static"]

TREND_MONTHS = 12
# The child's own partner-agency records (the rest of the partner types are household-level).
CHILD_PARTNER_TYPES = ("missing_episode", "youth_offence", "school_persistent_absence", "school_exclusion",
                       "ae_attendance", "health_visitor_concern")
HOUSEHOLD_TYPES = ("domestic_abuse_notification", "adult_mental_health", "adult_substance_misuse", "homelessness")
STANDARD: tuple[Aggregation, ...] = ("windows", "ever", "days_since")


@dataclass(frozen=True)
class Signal:
    """A stream of dated records: the events of some types (optionally one source or detail code) in a scope.

    `on="end"` dates each episode by its end instead (the day it became known to be over)."""

    name: str
    scope: Scope
    event_types: tuple[str, ...]
    singular: str
    plural: str
    aggregations: tuple[Aggregation, ...] = STANDARD
    source: str | None = None
    detail: str | None = None
    derive: Literal["rereferral"] | None = None
    on: Literal["start", "end"] = "start"
    open_phrase: str | None = None  # the state while an episode is open: "on a child protection plan"


@dataclass(frozen=True)
class FeatureDef:
    """One model-input column: an aggregation of a signal (or a static fact about the child or family)."""

    name: str
    kind: Kind
    signal: Signal | None = None
    window: int | None = None  # months; None for "ever" counts and non-window kinds


def _s(name: str, scope: Scope, types: str | tuple[str, ...], singular: str, plural: str,
       aggs: tuple[Aggregation, ...] = STANDARD, **kw: object) -> Signal:
    types = (types,) if isinstance(types, str) else types
    return Signal(name=name, scope=scope, event_types=types, singular=singular, plural=plural,
                  aggregations=aggs, **kw)  # type: ignore[arg-type]


_SOURCE_PHRASES = {
    "police": "the police", "school": "a school", "health": "health services", "la_services": "council services",
    "individual": "an individual", "housing": "housing services", "other": "another agency",
    "unknown": "an unrecorded source",
}
_CP_PHRASES = {"neglect": "neglect", "physical": "physical abuse", "sexual": "sexual abuse",
               "emotional": "emotional abuse", "multiple": "multiple categories of abuse"}
_EPISODE = ("windows", "ever", "days_since", "open", "open_months")


def _signals() -> tuple[Signal, ...]:
    out = [
        _s("contact", "child", "contact", "contact with children's services",
           "contacts with children's services", ("windows", "ever", "days_since", "trend")),
        _s("referral", "child", "referral", "referral to children's social care",
           "referrals to children's social care", ("windows", "ever", "days_since", "trend")),
        _s("rereferral", "child", "referral", "re-referral within 12 months of a previous referral",
           "re-referrals within 12 months of a previous referral", ("windows", "ever"), derive="rereferral"),
        _s("assessment", "child", "assessment", "social care assessment", "social care assessments"),
        _s("section_47", "child", "section_47", "child protection (section 47) enquiry",
           "child protection (section 47) enquiries"),
        _s("cin_plan", "child", "cin_plan", "child in need plan", "child in need plans", _EPISODE,
           open_phrase="on a child in need plan"),
        _s("cp_plan", "child", "cp_plan", "child protection plan", "child protection plans", _EPISODE,
           open_phrase="on a child protection plan"),
        _s("previous_cp_plan", "child", "cp_plan", "previous child protection plan",
           "previous child protection plans", ("ever",), on="end"),
        _s("early_help", "child", "early_help", "early help episode", "early help episodes", _EPISODE,
           open_phrase="receiving early help"),
        _s("looked_after", "child", "looked_after", "period in care", "periods in care"),
        _s("previous_looked_after", "child", "looked_after", "previous period in care",
           "previous periods in care", ("ever",), on="end"),
        _s("social_care", "child", KNOWN_TO_SOCIAL_CARE_TYPES, "involvement with children's social care",
           "involvements with children's social care", ("days_since",)),
        _s("missing_episode", "child", "missing_episode", "missing episode", "missing episodes"),
        _s("youth_offence", "child", "youth_offence", "youth offence", "youth offences"),
        _s("school_persistent_absence", "child", "school_persistent_absence", "term of persistent school absence",
           "terms of persistent school absence"),
        _s("school_exclusion", "child", "school_exclusion", "school exclusion", "school exclusions"),
        _s("ae_attendance", "child", "ae_attendance", "A&E attendance", "A&E attendances"),
        _s("health_visitor_concern", "child", "health_visitor_concern", "health visitor concern",
           "health visitor concerns"),
        _s("partner", "child", CHILD_PARTNER_TYPES, "partner-agency record about the child",
           "partner-agency records about the child", ("trend",)),
    ]
    for etype, noun in (("contact", "contact"), ("referral", "referral")):
        for src in SOURCES:
            out.append(_s(f"{etype}_{src}", "child", etype, f"{noun} from {_SOURCE_PHRASES[src]}",
                          f"{noun}s from {_SOURCE_PHRASES[src]}", ("windows", "ever"), source=src))
    for cat in CP_CATEGORIES:
        out.append(_s(f"cp_plan_{cat}", "child", "cp_plan", f"child protection plan for {_CP_PHRASES[cat]}",
                      f"child protection plans for {_CP_PHRASES[cat]}", ("windows", "ever"), detail=cat))
    out += [
        _s("sibling_contact", "siblings", "contact", "contact with children's services about a sibling",
           "contacts with children's services about siblings"),
        _s("sibling_referral", "siblings", "referral", "referral of a sibling", "referrals of siblings"),
        _s("sibling_cp_plan", "siblings", "cp_plan", "child protection plan for a sibling",
           "child protection plans for siblings", ("windows", "ever", "days_since", "open"),
           open_phrase="on a child protection plan"),
        _s("sibling_looked_after", "siblings", "looked_after", "period in care of a sibling",
           "periods in care of siblings", ("windows", "ever", "days_since", "open"), open_phrase="looked after"),
        _s("domestic_abuse", "household", "domestic_abuse_notification", "police domestic abuse notification",
           "police domestic abuse notifications", ("windows", "ever", "days_since", "trend")),
        _s("adult_mental_health", "household", "adult_mental_health",
           "adult mental health concern in the household", "adult mental health concerns in the household"),
        _s("adult_substance_misuse", "household", "adult_substance_misuse",
           "adult substance misuse concern in the household",
           "adult substance misuse concerns in the household"),
        _s("homelessness", "household", "homelessness", "homelessness presentation",
           "homelessness presentations"),
    ]
    return tuple(out)


SIGNALS: tuple[Signal, ...] = _signals()
SIGNALS_BY_NAME: dict[str, Signal] = {s.name: s for s in SIGNALS}

# Static facts about the child and family at the as-of date (computed from the children table).
STATIC_FEATURES = ("age_months", "months_resident", "family_months_resident", "n_children_family", "hub_code",
                   "deprivation_decile")


def count_name(signal: Signal, window: int | None) -> str:
    if signal.on == "end":
        return f"n_{signal.name}"
    return f"n_{signal.name}_{window}m" if window is not None else f"n_{signal.name}_ever"


def _signal_defs(s: Signal, windows: tuple[int, ...]) -> list[FeatureDef]:
    defs = []
    for agg in s.aggregations:
        if agg == "windows":
            defs += [FeatureDef(count_name(s, w), "count", s, w) for w in windows]
        elif agg == "ever":
            defs.append(FeatureDef(count_name(s, None), "count", s))
        elif agg == "days_since":
            defs.append(FeatureDef(f"days_since_{s.name}", "days_since", s))
        elif agg == "trend":
            defs.append(FeatureDef(f"trend_{s.name}_{TREND_MONTHS}m", "trend", s, TREND_MONTHS))
        elif agg == "open":
            defs.append(FeatureDef(f"{s.name}_open", "open", s))
        elif agg == "open_months":
            defs.append(FeatureDef(f"{s.name}_open_months", "open_months", s))
    return defs


@lru_cache(maxsize=32)
def feature_defs(windows: tuple[int, ...]) -> tuple[FeatureDef, ...]:
    """Every model-input column, in order, for the given count windows (months)."""
    windows = tuple(sorted(set(windows)))
    defs = [FeatureDef(name, "static") for name in STATIC_FEATURES]
    for s in SIGNALS:
        defs += _signal_defs(s, windows)
    names = [d.name for d in defs]
    assert len(names) == len(set(names)), "feature names must be unique"
    return tuple(defs)


def feature_columns(config: Config) -> list[str]:
    """The ordered model-input column names for this config (deterministic).

    Parameters
    ----------
    config : Config
        Its `features.windows_months` decide the windowed features.

    Returns
    -------
    list of str
    """
    return [d.name for d in feature_defs(tuple(config.features.windows_months))]
