"""The data contract: the two tables every source must produce, their columns, types and code lists (one place)."""

from __future__ import annotations

import re
from typing import Final

# --- children -----------------------------------------------------------------------------------------
SEX_CODES: Final = ("male", "female", "neither", "not_recorded")
DISABILITY_CODES: Final = ("yes", "no", "unknown")

# DfE ethnicity codes and the broad group each belongs to.
ETHNICITY_GROUPS: Final[dict[str, str]] = {
    "WBRI": "White", "WIRI": "White", "WIRT": "White", "WOTH": "White", "WROM": "White",
    "MWBC": "Mixed", "MWBA": "Mixed", "MWAS": "Mixed", "MOTH": "Mixed",
    "AIND": "Asian", "APKN": "Asian", "ABAN": "Asian", "AOTH": "Asian",
    "BCRB": "Black", "BAFR": "Black", "BOTH": "Black",
    "CHNE": "Other", "OOTH": "Other",
    "REFU": "Unknown", "NOBT": "Unknown",
}
ETHNICITY_CODES: Final = tuple(ETHNICITY_GROUPS)
ETHNIC_GROUPS: Final = ("White", "Mixed", "Asian", "Black", "Other", "Unknown")

# column -> kind; kinds: "id" (non-empty string), "str" (code), "date", "int"
CHILDREN_COLUMNS: Final[dict[str, str]] = {
    "child_id": "id",
    "family_id": "id",
    "date_of_birth": "date",
    "sex": "str",
    "ethnicity": "str",
    "disability": "str",
    "hub": "str",
    "deprivation_decile": "int",
    "arrived_on": "date",
    "left_on": "date",
}
CHILDREN_NULLABLE: Final = frozenset({"left_on"})
# A region's extract (several councils pooled) adds the council each child lives in: the DfE local-authority
# number, 3 digits as text (e.g. "330"). Optional: a single council's extract leaves it out. Events carry no
# council of their own: they inherit it through the family, which belongs to one council.
# An optional note a source writes beside the two tables: what its records can support, e.g. the first as-of date
# (a statutory-returns import: the first collection year + 24 months, SPEC §11 Q10). Training never starts earlier.
EXTRACT_NOTES: Final = "extract.json"
EARLIEST_AS_OF: Final = "earliest_as_of"

COUNCIL_COLUMN: Final = "council"
COUNCIL_CODE_RE: Final = re.compile(r"^[0-9]{3}$")

# --- events -------------------------------------------------------------------------------------------
SOCIAL_CARE_EVENT_TYPES: Final = (
    "contact", "referral", "assessment", "section_47", "cin_plan", "cp_plan", "early_help", "looked_after",
)
PARTNER_EVENT_TYPES: Final = (
    "domestic_abuse_notification", "missing_episode", "youth_offence", "school_persistent_absence",
    "school_exclusion", "ae_attendance", "health_visitor_concern", "adult_mental_health",
    "adult_substance_misuse", "homelessness",
)
EVENT_TYPES: Final = SOCIAL_CARE_EVENT_TYPES + PARTNER_EVENT_TYPES
# Partner feeds: what each data-sharing agreement brings into the council's extract (partner event types only;
# children's social care's own records are always there). Scenarios in the config combine these names.
FEEDS: Final[dict[str, tuple[str, ...]]] = {
    "police": ("domestic_abuse_notification", "missing_episode", "youth_offence"),
    "schools": ("school_persistent_absence", "school_exclusion"),
    "health": ("ae_attendance", "health_visitor_concern"),
    "adult_services_housing": ("adult_mental_health", "adult_substance_misuse", "homelessness"),
}
# Episodes carry an end_date (null while open); other events are points in time.
EPISODE_EVENT_TYPES: Final = ("cin_plan", "cp_plan", "early_help", "looked_after")
# Records that make a child "previously known" to children's social care: any social care record.
KNOWN_TO_SOCIAL_CARE_TYPES: Final = SOCIAL_CARE_EVENT_TYPES
SOURCES: Final = ("police", "school", "health", "la_services", "individual", "housing", "other", "unknown")
# Event types whose `source` says who reported it; for the rest source must be null.
SOURCED_EVENT_TYPES: Final = ("contact", "referral")

CP_CATEGORIES: Final = ("neglect", "physical", "sexual", "emotional", "multiple")
NEED_CATEGORIES: Final = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
EXCLUSION_TYPES: Final = ("suspension", "permanent")
# Assessment factors: Children in Need census codes, e.g. "2B;4B" (number + letter(s)); CIN factor 20 ("other")
# has no letter, so the letters are optional (statutory-returns SPEC Q3).
ASSESSMENT_FACTOR_RE: Final = re.compile(r"^\d{1,2}[A-Z]{0,2}(;\d{1,2}[A-Z]{0,2})*$")

# event_type -> allowed detail codes (a tuple), or the assessment-factor pattern; absent = detail must be null.
DETAIL_CODES: Final[dict[str, tuple[str, ...] | re.Pattern[str]]] = {
    "cp_plan": CP_CATEGORIES,
    "looked_after": NEED_CATEGORIES,
    "school_exclusion": EXCLUSION_TYPES,
    "assessment": ASSESSMENT_FACTOR_RE,
}

EVENTS_COLUMNS: Final[dict[str, str]] = {
    "event_id": "id",
    "family_id": "id",
    "child_id": "id",
    "event_type": "str",
    "event_date": "date",
    "end_date": "date",
    "source": "str",
    "detail": "str",
}
EVENTS_NULLABLE: Final = frozenset({"child_id", "end_date", "source", "detail"})

TABLES: Final[dict[str, dict[str, str]]] = {"children": CHILDREN_COLUMNS, "events": EVENTS_COLUMNS}
# Columns a table may hold beside TABLES (required whenever present, never free text).
OPTIONAL_COLUMNS: Final[dict[str, dict[str, str]]] = {"children": {COUNCIL_COLUMN: "str"}, "events": {}}
NULLABLE: Final[dict[str, frozenset[str]]] = {"children": CHILDREN_NULLABLE, "events": EVENTS_NULLABLE}


def ethnic_group(code: str | None) -> str:
    """The broad ethnic group (White, Mixed, Asian, Black, Other, Unknown) of a DfE code."""
    return ETHNICITY_GROUPS.get(code or "", "Unknown")


def table_columns_of(table: str, present: object = ()) -> dict[str, str]:
    """A table's contract columns (column -> kind), plus its optional columns that are `present`."""
    optional = {c: k for c, k in OPTIONAL_COLUMNS[table].items() if c in present}  # type: ignore[operator]
    return {**TABLES[table], **optional}
