"""features: the data contract, loaders and validation, cohort, labels, point-in-time features, feature dictionary."""

from features.contract import (
    CHILDREN_COLUMNS,
    DETAIL_CODES,
    EPISODE_EVENT_TYPES,
    EVENT_TYPES,
    EVENTS_COLUMNS,
    SOCIAL_CARE_EVENT_TYPES,
    SOURCES,
    ethnic_group,
)
from features.loaders import Extract, load_extract, read_extract
from features.validation import ValidationReport, validate_extract

__all__ = [
    "CHILDREN_COLUMNS",
    "DETAIL_CODES",
    "EPISODE_EVENT_TYPES",
    "EVENTS_COLUMNS",
    "EVENT_TYPES",
    "Extract",
    "SOCIAL_CARE_EVENT_TYPES",
    "SOURCES",
    "ValidationReport",
    "ethnic_group",
    "load_extract",
    "read_extract",
    "validate_extract",
]
