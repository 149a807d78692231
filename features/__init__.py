"""features: loaders and validation, cohort, labels, point-in-time features and the feature dictionary.

The public API is below (`__all__`). Names are loaded on first use (PEP 562), so importing a light module
such as `features.dictionary` does not load the whole feature engine. The data contract's code lists live in
`core.contract`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# `cohort` and `labels` share their names with their modules: bound here, at import, so that `features.cohort`
# is always the function, whatever was imported before (a submodule import would otherwise rebind the name).
from features.cohort import cohort
from features.labels import labels

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "AGE_BANDS": "features.columns",
    "AUDIT_COLUMNS": "features.columns",
    "KEY_COLUMNS": "features.columns",
    "Extract": "features.loaders",
    "read_extract": "features.loaders",
    "load_extract": "features.validation",
    "validate_extract": "features.validation",
    "ValidationReport": "features.validation",
    "build_features": "features.build",
    "SIGNALS": "features.definitions",
    "FeatureDef": "features.definitions",
    "Signal": "features.definitions",
    "feature_columns": "features.definitions",
    "feature_defs": "features.definitions",
    "FEATURE_DICTIONARY": "features.dictionary",
    "FeatureInfo": "features.dictionary",
    "describe": "features.dictionary",
    "as_of_grid": "features.timeline",
}

__all__ = [
    "AGE_BANDS",
    "as_of_grid",
    "AUDIT_COLUMNS",
    "build_features",
    "cohort",
    "describe",
    "Extract",
    "feature_columns",
    "feature_defs",
    "FEATURE_DICTIONARY",
    "FeatureDef",
    "FeatureInfo",
    "KEY_COLUMNS",
    "labels",
    "load_extract",
    "read_extract",
    "Signal",
    "SIGNALS",
    "validate_extract",
    "ValidationReport",
]

if TYPE_CHECKING:  # for type checkers and readers: the same names, imported eagerly
    from features.build import build_features
    from features.columns import AGE_BANDS, AUDIT_COLUMNS, KEY_COLUMNS
    from features.definitions import SIGNALS, FeatureDef, Signal, feature_columns, feature_defs
    from features.dictionary import FEATURE_DICTIONARY, FeatureInfo, describe
    from features.loaders import Extract, read_extract
    from features.timeline import as_of_grid
    from features.validation import ValidationReport, load_extract, validate_extract


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'features' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
