"""features: the data contract, loaders and validation, cohort, labels, point-in-time features, feature dictionary."""

from core.contract import (
    CHILDREN_COLUMNS,
    DETAIL_CODES,
    EPISODE_EVENT_TYPES,
    EVENT_TYPES,
    EVENTS_COLUMNS,
    SOCIAL_CARE_EVENT_TYPES,
    SOURCES,
    ethnic_group,
)
from features.build import AGE_BANDS, AUDIT_COLUMNS, KEY_COLUMNS, build_features
from features.cohort import cohort
from features.definitions import SIGNALS, FeatureDef, Signal, feature_columns, feature_defs
from features.dictionary import FEATURE_DICTIONARY, FeatureInfo, describe
from features.labels import labels
from features.loaders import Extract, load_extract, read_extract
from features.timeline import as_of_grid
from features.validation import ValidationReport, validate_extract

__all__ = [
    "AGE_BANDS",
    "AUDIT_COLUMNS",
    "CHILDREN_COLUMNS",
    "DETAIL_CODES",
    "EPISODE_EVENT_TYPES",
    "EVENTS_COLUMNS",
    "EVENT_TYPES",
    "Extract",
    "FEATURE_DICTIONARY",
    "FeatureDef",
    "FeatureInfo",
    "KEY_COLUMNS",
    "SIGNALS",
    "Signal",
    "SOCIAL_CARE_EVENT_TYPES",
    "SOURCES",
    "ValidationReport",
    "as_of_grid",
    "build_features",
    "cohort",
    "describe",
    "ethnic_group",
    "feature_columns",
    "feature_defs",
    "labels",
    "load_extract",
    "read_extract",
    "validate_extract",
]
