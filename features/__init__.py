"""features: loaders and validation, cohort, labels, point-in-time features and the feature dictionary.

The public API is below (`__all__`). Names are loaded on first use (PEP 562), so importing a light module
such as `features.dictionary` does not load the whole feature engine. The data contract's code lists live in
`core.contract`. The cohort rule is `History.cohort_codes` (features/history.py) and the label rule
`features.labels.label_array`; `build_features` applies both.
"""

from __future__ import annotations

from core.lazy import lazy_exports

# module -> the public names it defines
_MODULES: dict[str, tuple[str, ...]] = {
    "features.columns": ("AGE_BANDS", "AUDIT_COLUMNS", "KEY_COLUMNS"),
    "features.loaders": ("Extract", "read_extract"),
    "features.validation": ("load_extract", "validate_extract", "ValidationReport"),
    "features.build": ("build_features",),
    "features.definitions": ("SIGNALS", "FeatureDef", "Signal", "feature_columns", "feature_defs"),
    "features.dictionary": ("FEATURE_DICTIONARY", "FeatureInfo", "describe"),
    "features.timeline": ("as_of_grid",),
}

__all__ = [name for names in _MODULES.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
