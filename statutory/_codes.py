"""The code lists and value maps of the statutory returns (SPEC Appendix A): one place for every map."""

from __future__ import annotations

import re
from typing import Final

from core.contract import ETHNICITY_CODES


def _words(text: str) -> list[str]:
    return text.split()


# A.1 referral / contact source code -> contract source (Q6)
SOURCE_MAP: Final[dict[str, str]] = {
    "1A": "individual", "1B": "individual", "1C": "individual", "1D": "individual",
    "2A": "school", "2B": "school",
    "3A": "health", "3B": "health", "3C": "health", "3D": "health", "3E": "health", "3F": "health",
    "4": "housing",
    "5A": "la_services", "5B": "la_services", "5C": "la_services", "5D": "la_services",
    "6": "police", "7": "other", "8": "other", "9": "unknown", "10": "unknown",
}
# the code a writer uses for each contract source (the inverse, one code per bucket)
SOURCE_CODE: Final[dict[str, str]] = {
    "individual": "1A", "school": "2A", "health": "3A", "housing": "4", "la_services": "5A",
    "police": "6", "other": "8", "unknown": "10",
}

# A.2 category of abuse
ABUSE_MAP: Final[dict[str, str]] = {"NEG": "neglect", "PHY": "physical", "SAB": "sexual", "EMO": "emotional",
                                    "MUL": "multiple"}
ABUSE_CODE: Final = {v: k for k, v in ABUSE_MAP.items()}
ABUSE_LABELS: Final[dict[str, str]] = {
    "neglect": "neglect", "physical abuse": "physical", "sexual abuse": "sexual",
    "emotional abuse": "emotional", "multiple/not recommended": "multiple",
}
ABUSE_LABEL: Final = {"neglect": "Neglect", "physical": "Physical abuse", "sexual": "Sexual abuse",
                      "emotional": "Emotional abuse", "multiple": "Multiple/not recommended"}

# A.4 ethnicity long names
ETHNICITY_NAMES: Final[dict[str, str]] = {
    "WBRI": "White British", "WIRI": "White Irish", "WIRT": "Traveller of Irish heritage",
    "WOTH": "Any other White background", "WROM": "Gypsy/Roma", "MWBC": "White and Black Caribbean",
    "MWBA": "White and Black African", "MWAS": "White and Asian", "MOTH": "Any other Mixed background",
    "AIND": "Indian", "APKN": "Pakistani", "ABAN": "Bangladeshi", "AOTH": "Any other Asian background",
    "BCRB": "Caribbean", "BAFR": "African", "BOTH": "Any other Black background", "CHNE": "Chinese",
    "OOTH": "Any other ethnic group", "REFU": "Refused", "NOBT": "Information not yet obtained",
}
ETHNICITY_BY_NAME: Final = {v.lower(): k for k, v in ETHNICITY_NAMES.items()}
ETHNICITY_SET: Final = frozenset(ETHNICITY_CODES)

# §4.2 sex
SEX_903_OLD: Final = {"1": "male", "2": "female"}             # to 2023-24
SEX_903_NEW: Final = {"M": "male", "F": "female", "U": "not_recorded"}   # 2024-25 on
SEX_CIN_OLD: Final = {"1": "male", "2": "female", "0": "not_recorded", "9": "neither"}
SEX_CIN_NEW: Final = {"M": "male", "F": "female", "U": "not_recorded"}
SEX_ANNEX_A: Final = {"male": "male", "female": "female", "m": "male", "f": "female",
                      "not stated/recorded": "not_recorded", "neither": "neither"}
SEX_ANNEX_A_LABEL: Final = {"male": "a) Male", "female": "b) Female", "not_recorded": "c) Not stated/recorded",
                            "neither": "d) Neither"}

# §4.4 disability
CIN_DISABILITY_CODES: Final = frozenset(_words("MOB HAND PC INC COMM LD HEAR VIS BEH CON AUT DDA"))
ANNEX_A_DISABILITY: Final = {"yes": "yes", "y": "yes", "no": "no", "n": "no", "unknown": "unknown"}
ANNEX_A_DISABILITY_LABEL: Final = {"yes": "a) Yes", "no": "b) No", "unknown": "c) Unknown"}

# §5.3 903 episode codes
RNE_CODES: Final = frozenset(_words("S L P T B U"))
LS_CODES: Final = frozenset(_words("C1 C2 D1 E1 V2 V3 V4 L1 L2 L3 J1 J2 J3"))
RESPITE_LS: Final = frozenset({"V3", "V4"})
NEED_CODES: Final = frozenset(f"N{i}" for i in range(1, 9))
REC_CODES: Final = frozenset(_words(
    "X1 E11 E12 E2 E3 E4A E4B E13 E41 E43 E44 E45 E46 E47 E48 E5 E6 E7 E8 E9 E14 E15 E16 E17 E99"))

# A.3 assessment factors (any year); 20 and 21 have no letter (Q3)
FACTOR_RE: Final = re.compile(r"^(\d{1,2})([A-Z]{0,2})$")

# §5.1 903 tables by their column set
S903_TABLES: Final[dict[str, frozenset[str]]] = {
    "header": frozenset(_words("CHILD SEX DOB ETHNIC UPN MOTHER MC_DOB")),
    "episodes": frozenset(_words(
        "CHILD DECOM RNE LS CIN PLACE PLACE_PROVIDER DEC REC REASON_PLACE_CHANGE HOME_POST PL_POST URN")),
    "missing": frozenset(_words("CHILD DOB MISSING MIS_START MIS_END")),
    "uasc": frozenset(_words("CHILD SEX DOB DUC")),
    "reviews": frozenset(_words("CHILD DOB REVIEW REVIEW_CODE")),
    "oc2": frozenset(_words("CHILD DOB SDQ_SCORE SDQ_REASON CONVICTED HEALTH_CHECK IMMUNISATIONS TEETH_CHECK "
                            "HEALTH_ASSESSMENT SUBSTANCE_MISUSE INTERVENTION_RECEIVED INTERVENTION_OFFERED")),
    "oc3": frozenset(_words("CHILD DOB IN_TOUCH ACTIV ACCOM")),
    "ad1": frozenset(_words("CHILD DOB DATE_INT DATE_MATCH FOSTER_CARE NB_ADOPTR SEX_ADOPTR LS_ADOPTR")),
    "placedadoption": frozenset(_words("CHILD DOB DATE_PLACED DATE_PLACED_CEASED REASON_PLACED_CEASED")),
    "prevperm": frozenset(_words("CHILD DOB PREV_PERM LA_PERM DATE_PERM")),
    "swepisodes": frozenset(_words("CHILD DOB SW_ID SW_DECOM SW_DEC SW_REASON")),
    "dolo": frozenset(_words("CHILD DOB DOLO_START DOLO_END")),
}
LIIA_COLUMNS: Final = frozenset({"LA", "YEAR"})

PARTNER_TYPES_HOUSEHOLD: Final = ("domestic_abuse_notification", "adult_mental_health", "adult_substance_misuse",
                                  "homelessness")
FAMILY_BASES: Final = ("cms_household", "early_help_family", "supporting_families", "cms_relationship",
                       "address_uprn")
