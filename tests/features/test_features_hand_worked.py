"""A hand-worked family: every feature value at one as-of date written out by hand (the rest must equal
their documented defaults), so a single wrong value fails the test."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.config import load_config
from features import FEATURE_DICTIONARY, Extract, build_features, feature_columns

T = pd.Timestamp("2016-03-31")
# windows at T: 3m (2015-12-31, T], 6m (2015-09-30, T], 12m (2015-03-31, T], 24m (2014-03-31, T]

CHILDREN = [
    # child, family, born, sex, ethnicity, disability, hub, decile, arrived, left
    ("A", "F1", "2006-05-10", "female", "WBRI", "no", "Riverside", 3, "2013-09-01", None),
    ("B", "F1", "2010-01-31", "male", "MWBC", "no", "Riverside", 3, "2013-09-01", None),
    ("C", "F1", "2014-02-15", "male", "MWBC", "unknown", "Riverside", 3, "2014-02-15", None),
    ("D", "F1", "2016-06-01", "female", "MWBC", "unknown", "Riverside", 3, "2016-06-01", None),  # unborn at T
    ("E", "F1", "1997-12-01", "male", "WBRI", "no", "Riverside", 3, "2013-09-01", None),  # 18 at T
    ("F", "F1", "2008-01-01", "male", "WBRI", "no", "Riverside", 3, "2013-09-01", "2015-12-31"),  # gone
    ("G", "F1", "2012-05-05", "female", "WBRI", "no", "Riverside", 3, "2016-04-15", None),  # not yet here
    ("Z", "F2", "2009-03-03", "female", "BAFR", "yes", "Eastgate", 9, "2009-03-03", None),
]
EVENTS = [
    # id, family, child, type, date, end, source, detail
    ("e01", "F1", "A", "contact", "2014-02-01", None, "police", None),
    ("e02", "F1", "A", "referral", "2014-02-10", None, "police", None),
    ("e03", "F1", "A", "assessment", "2014-02-20", None, None, "2B"),
    ("e04", "F1", "A", "contact", "2015-05-01", None, "school", None),
    ("e05", "F1", "A", "referral", "2015-05-03", None, "school", None),  # 15 months after e02: not a re-referral
    ("e06", "F1", "A", "referral", "2016-01-15", None, "health", None),  # re-referral (e05 within 12 months)
    ("e07", "F1", "A", "section_47", "2016-01-20", None, None, None),
    ("e08", "F1", "A", "cp_plan", "2016-02-01", None, None, "neglect"),  # open at T
    ("e09", "F1", "A", "cp_plan", "2014-03-01", "2014-09-30", None, "emotional"),  # a previous plan
    ("e10", "F1", "A", "early_help", "2015-10-01", "2016-05-31", None, None),  # ends after T: open at T
    ("e11", "F1", "A", "missing_episode", "2016-03-31", None, None, None),  # on T: counts
    ("e12", "F1", "A", "missing_episode", "2016-04-02", None, None, None),  # after T
    ("e13", "F1", "A", "ae_attendance", "2015-12-31", None, None, None),  # on the 3-month boundary: not in 3m
    ("e14", "F1", "B", "contact", "2016-03-01", None, "police", None),
    ("e15", "F1", "B", "referral", "2016-03-02", None, "police", None),
    ("e16", "F1", "B", "cin_plan", "2016-03-10", None, None, None),
    ("e17", "F1", "B", "school_persistent_absence", "2015-06-15", None, None, None),
    ("e18", "F1", "C", "health_visitor_concern", "2015-11-11", None, None, None),
    ("e19", "F1", None, "domestic_abuse_notification", "2016-02-20", None, None, None),
    ("e20", "F1", None, "domestic_abuse_notification", "2015-08-01", None, None, None),
    ("e21", "F1", None, "domestic_abuse_notification", "2014-06-01", None, None, None),
    ("e22", "F1", None, "adult_substance_misuse", "2016-01-05", None, None, None),
    ("e23", "F1", None, "homelessness", "2013-10-01", None, None, None),
    ("e24", "F1", None, "contact", "2015-11-30", None, "la_services", None),  # household-wide contact
    ("e25", "F1", "E", "looked_after", "2014-01-10", "2015-06-30", None, "N1"),
    ("e26", "F1", "E", "cp_plan", "2013-11-01", "2014-01-10", None, "physical"),
    ("e27", "F1", "A", "looked_after", "2016-05-01", None, None, "N1"),  # the outcome, within the horizon
    ("e28", "F1", "B", "looked_after", "2017-06-01", None, None, "N2"),  # after the horizon
    ("e29", "F1", "A", "youth_offence", "2015-04-01", None, None, None),
    ("e30", "F1", "A", "school_exclusion", "2015-09-30", None, None, "suspension"),  # on the 6m boundary
    ("e31", "F1", None, "adult_mental_health", "2016-04-15", None, None, None),  # after T
    ("e33", "F1", "C", "early_help", "2015-01-01", "2015-03-31", None, None),  # ended before T
    ("e34", "F1", "B", "cp_plan", "2016-03-31", None, None, "multiple"),  # starts on T: open, 0 months
    ("e35", "F1", "A", "cin_plan", "2015-06-01", "2016-03-31", None, None),  # ends on T: not open
    ("z01", "F2", "Z", "contact", "2016-01-01", None, "police", None),
]

M = 365.25 / 12  # days per month, for durations of open episodes
HOUSEHOLD_F1 = {
    "n_domestic_abuse_3m": 1, "n_domestic_abuse_6m": 1, "n_domestic_abuse_12m": 2, "n_domestic_abuse_24m": 3,
    "n_domestic_abuse_ever": 3, "days_since_domestic_abuse": 40, "trend_domestic_abuse_12m": 1,
    "n_adult_substance_misuse_3m": 1, "n_adult_substance_misuse_6m": 1, "n_adult_substance_misuse_12m": 1,
    "n_adult_substance_misuse_24m": 1, "n_adult_substance_misuse_ever": 1, "days_since_adult_substance_misuse": 86,
    "n_homelessness_ever": 1, "days_since_homelessness": 912,
}
F1_STATIC = {"family_months_resident": 30, "n_children_family": 3, "hub_code": 1, "deprivation_decile": 3}

EXPECTED: dict[str, dict[str, float]] = {
    "A": {
        **F1_STATIC, **HOUSEHOLD_F1, "age_months": 118, "months_resident": 30,
        "n_contact_6m": 1, "n_contact_12m": 2, "n_contact_24m": 2, "n_contact_ever": 3, "days_since_contact": 122,
        "trend_contact_12m": 2,
        "n_contact_police_ever": 1, "n_contact_school_12m": 1, "n_contact_school_24m": 1, "n_contact_school_ever": 1,
        "n_contact_la_services_6m": 1, "n_contact_la_services_12m": 1, "n_contact_la_services_24m": 1,
        "n_contact_la_services_ever": 1,
        "n_referral_3m": 1, "n_referral_6m": 1, "n_referral_12m": 2, "n_referral_24m": 2, "n_referral_ever": 3,
        "days_since_referral": 76, "trend_referral_12m": 2,
        "n_referral_police_ever": 1, "n_referral_school_12m": 1, "n_referral_school_24m": 1,
        "n_referral_school_ever": 1, "n_referral_health_3m": 1, "n_referral_health_6m": 1,
        "n_referral_health_12m": 1, "n_referral_health_24m": 1, "n_referral_health_ever": 1,
        "n_rereferral_3m": 1, "n_rereferral_6m": 1, "n_rereferral_12m": 1, "n_rereferral_24m": 1,
        "n_rereferral_ever": 1,
        "n_assessment_ever": 1, "days_since_assessment": 770,
        "n_section_47_3m": 1, "n_section_47_6m": 1, "n_section_47_12m": 1, "n_section_47_24m": 1,
        "n_section_47_ever": 1, "days_since_section_47": 71,
        "n_cin_plan_12m": 1, "n_cin_plan_24m": 1, "n_cin_plan_ever": 1, "days_since_cin_plan": 304,
        "n_cp_plan_3m": 1, "n_cp_plan_6m": 1, "n_cp_plan_12m": 1, "n_cp_plan_24m": 1, "n_cp_plan_ever": 2,
        "days_since_cp_plan": 59, "cp_plan_open": 1, "cp_plan_open_months": 59 / M, "n_previous_cp_plan": 1,
        "n_cp_plan_neglect_3m": 1, "n_cp_plan_neglect_6m": 1, "n_cp_plan_neglect_12m": 1,
        "n_cp_plan_neglect_24m": 1, "n_cp_plan_neglect_ever": 1, "n_cp_plan_emotional_ever": 1,
        "n_early_help_6m": 1, "n_early_help_12m": 1, "n_early_help_24m": 1, "n_early_help_ever": 1,
        "days_since_early_help": 182, "early_help_open": 1, "early_help_open_months": 182 / M,
        "days_since_social_care": 59,
        "n_missing_episode_3m": 1, "n_missing_episode_6m": 1, "n_missing_episode_12m": 1,
        "n_missing_episode_24m": 1, "n_missing_episode_ever": 1, "days_since_missing_episode": 0,
        "n_youth_offence_12m": 1, "n_youth_offence_24m": 1, "n_youth_offence_ever": 1,
        "days_since_youth_offence": 365,
        "n_school_exclusion_12m": 1, "n_school_exclusion_24m": 1, "n_school_exclusion_ever": 1,
        "days_since_school_exclusion": 183,
        "n_ae_attendance_6m": 1, "n_ae_attendance_12m": 1, "n_ae_attendance_24m": 1, "n_ae_attendance_ever": 1,
        "days_since_ae_attendance": 91,
        "trend_partner_12m": 4,
        "n_sibling_contact_3m": 1, "n_sibling_contact_6m": 1, "n_sibling_contact_12m": 1,
        "n_sibling_contact_24m": 1, "n_sibling_contact_ever": 1, "days_since_sibling_contact": 30,
        "n_sibling_referral_3m": 1, "n_sibling_referral_6m": 1, "n_sibling_referral_12m": 1,
        "n_sibling_referral_24m": 1, "n_sibling_referral_ever": 1, "days_since_sibling_referral": 29,
        "n_sibling_cp_plan_3m": 1, "n_sibling_cp_plan_6m": 1, "n_sibling_cp_plan_12m": 1,
        "n_sibling_cp_plan_24m": 1, "n_sibling_cp_plan_ever": 2, "days_since_sibling_cp_plan": 0,
        "sibling_cp_plan_open": 1,
        "n_sibling_looked_after_ever": 1, "days_since_sibling_looked_after": 811,
    },
    "B": {
        **F1_STATIC, **HOUSEHOLD_F1, "age_months": 74, "months_resident": 30,
        "n_contact_3m": 1, "n_contact_6m": 2, "n_contact_12m": 2, "n_contact_24m": 2, "n_contact_ever": 2,
        "days_since_contact": 30, "trend_contact_12m": 2,
        "n_contact_police_3m": 1, "n_contact_police_6m": 1, "n_contact_police_12m": 1, "n_contact_police_24m": 1,
        "n_contact_police_ever": 1, "n_contact_la_services_6m": 1, "n_contact_la_services_12m": 1,
        "n_contact_la_services_24m": 1, "n_contact_la_services_ever": 1,
        "n_referral_3m": 1, "n_referral_6m": 1, "n_referral_12m": 1, "n_referral_24m": 1, "n_referral_ever": 1,
        "days_since_referral": 29, "trend_referral_12m": 1,
        "n_referral_police_3m": 1, "n_referral_police_6m": 1, "n_referral_police_12m": 1,
        "n_referral_police_24m": 1, "n_referral_police_ever": 1,
        "n_cin_plan_3m": 1, "n_cin_plan_6m": 1, "n_cin_plan_12m": 1, "n_cin_plan_24m": 1, "n_cin_plan_ever": 1,
        "days_since_cin_plan": 21, "cin_plan_open": 1, "cin_plan_open_months": 21 / M,
        "n_cp_plan_3m": 1, "n_cp_plan_6m": 1, "n_cp_plan_12m": 1, "n_cp_plan_24m": 1, "n_cp_plan_ever": 1,
        "days_since_cp_plan": 0, "cp_plan_open": 1,
        "n_cp_plan_multiple_3m": 1, "n_cp_plan_multiple_6m": 1, "n_cp_plan_multiple_12m": 1,
        "n_cp_plan_multiple_24m": 1, "n_cp_plan_multiple_ever": 1,
        "days_since_social_care": 0,
        "n_school_persistent_absence_12m": 1, "n_school_persistent_absence_24m": 1,
        "n_school_persistent_absence_ever": 1, "days_since_school_persistent_absence": 290,
        "trend_partner_12m": 1,
        "n_sibling_contact_12m": 1, "n_sibling_contact_24m": 1, "n_sibling_contact_ever": 2,
        "days_since_sibling_contact": 335,
        "n_sibling_referral_3m": 1, "n_sibling_referral_6m": 1, "n_sibling_referral_12m": 2,
        "n_sibling_referral_24m": 2, "n_sibling_referral_ever": 3, "days_since_sibling_referral": 76,
        "n_sibling_cp_plan_3m": 1, "n_sibling_cp_plan_6m": 1, "n_sibling_cp_plan_12m": 1,
        "n_sibling_cp_plan_24m": 1, "n_sibling_cp_plan_ever": 3, "days_since_sibling_cp_plan": 59,
        "sibling_cp_plan_open": 1,
        "n_sibling_looked_after_ever": 1, "days_since_sibling_looked_after": 811,
    },
    "C": {
        **F1_STATIC, **HOUSEHOLD_F1, "age_months": 25, "months_resident": 25,
        "n_contact_6m": 1, "n_contact_12m": 1, "n_contact_24m": 1, "n_contact_ever": 1, "days_since_contact": 122,
        "trend_contact_12m": 1, "n_contact_la_services_6m": 1, "n_contact_la_services_12m": 1,
        "n_contact_la_services_24m": 1, "n_contact_la_services_ever": 1,
        "n_early_help_24m": 1, "n_early_help_ever": 1, "days_since_early_help": 455,
        "days_since_social_care": 122,
        "n_health_visitor_concern_6m": 1, "n_health_visitor_concern_12m": 1, "n_health_visitor_concern_24m": 1,
        "n_health_visitor_concern_ever": 1, "days_since_health_visitor_concern": 141,
        "trend_partner_12m": 1,
        "n_sibling_contact_3m": 1, "n_sibling_contact_6m": 1, "n_sibling_contact_12m": 2,
        "n_sibling_contact_24m": 2, "n_sibling_contact_ever": 3, "days_since_sibling_contact": 30,
        "n_sibling_referral_3m": 2, "n_sibling_referral_6m": 2, "n_sibling_referral_12m": 3,
        "n_sibling_referral_24m": 3, "n_sibling_referral_ever": 4, "days_since_sibling_referral": 29,
        "n_sibling_cp_plan_3m": 2, "n_sibling_cp_plan_6m": 2, "n_sibling_cp_plan_12m": 2,
        "n_sibling_cp_plan_24m": 2, "n_sibling_cp_plan_ever": 4, "days_since_sibling_cp_plan": 0,
        "sibling_cp_plan_open": 2,
        "n_sibling_looked_after_ever": 1, "days_since_sibling_looked_after": 811,
    },
    "Z": {
        "age_months": 84, "months_resident": 84, "family_months_resident": 84, "n_children_family": 1,
        "hub_code": 2, "deprivation_decile": 9,
        "n_contact_3m": 1, "n_contact_6m": 1, "n_contact_12m": 1, "n_contact_24m": 1, "n_contact_ever": 1,
        "days_since_contact": 90, "trend_contact_12m": 1, "n_contact_police_3m": 1, "n_contact_police_6m": 1,
        "n_contact_police_12m": 1, "n_contact_police_24m": 1, "n_contact_police_ever": 1,
        "days_since_social_care": 90,
    },
}
AUDIT = {
    "A": ("female", "WBRI", "White", "no", "5-9", "Riverside", True, 1),
    "B": ("male", "MWBC", "Mixed", "no", "5-9", "Riverside", True, 0),
    "C": ("male", "MWBC", "Mixed", "unknown", "0-4", "Riverside", True, 0),
    "Z": ("female", "BAFR", "Black", "yes", "5-9", "Eastgate", True, 0),
}


def hand_worked_extract() -> Extract:
    children = pd.DataFrame(CHILDREN, columns=["child_id", "family_id", "date_of_birth", "sex", "ethnicity",
                                               "disability", "hub", "deprivation_decile", "arrived_on", "left_on"])
    for col in ("date_of_birth", "arrived_on", "left_on"):
        children[col] = pd.to_datetime(children[col])
    children["deprivation_decile"] = children["deprivation_decile"].astype("Int64")
    events = pd.DataFrame(EVENTS, columns=["event_id", "family_id", "child_id", "event_type", "event_date",
                                           "end_date", "source", "detail"]).astype(object)
    for col in ("event_date", "end_date"):
        events[col] = pd.to_datetime(events[col])
    events = events.astype({c: object for c in ("child_id", "source", "detail")})
    events = events.where(events.notna(), None)
    for col in ("event_date", "end_date"):
        events[col] = pd.to_datetime(events[col])
    return Extract(children=children, events=events)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return build_features(hand_worked_extract(), [T], load_config(), extract_date=pd.Timestamp("2017-06-30"))


def test_cohort_is_the_four_children_present_on_the_date(table: pd.DataFrame) -> None:
    assert list(table["child_id"]) == ["A", "B", "C", "Z"]
    assert list(table["family_id"]) == ["F1", "F1", "F1", "F2"]


@pytest.mark.parametrize("child", sorted(EXPECTED))
def test_every_feature_value(table: pd.DataFrame, child: str) -> None:
    row = table.set_index("child_id").loc[child]
    wrong = []
    for name in feature_columns(load_config()):
        default = FEATURE_DICTIONARY[name].default
        want = EXPECTED[child].get(name, default)
        assert want is not None, f"{name} has no default: write its value for {child} out by hand"
        got = float(row[name])
        same = (math.isnan(got) and math.isnan(want)) if math.isnan(want) else got == pytest.approx(want, abs=1e-4)
        if not same:
            wrong.append(f"{name}: got {got}, want {want}")
    assert not wrong, f"child {child}:\n" + "\n".join(wrong)


def test_expected_names_are_real_features() -> None:
    names = set(feature_columns(load_config()))
    for child, values in EXPECTED.items():
        assert set(values) <= names, (child, set(values) - names)


@pytest.mark.parametrize("child", sorted(AUDIT))
def test_audit_columns_and_label(table: pd.DataFrame, child: str) -> None:
    row = table.set_index("child_id").loc[child]
    sex, eth, group, disability, band, hub, known, label = AUDIT[child]
    assert (row["sex"], row["ethnicity"], row["ethnic_group"], row["disability"]) == (sex, eth, group, disability)
    assert (row["age_band"], row["hub"], bool(row["previously_known"])) == (band, hub, known)
    assert row["label"] == label
