"""training: temporal splits, LightGBM with calibration, baselines, honest evaluation, the one model class
(`RiskModel`), MLflow tracking and registry.

What other layers may use is listed in `__all__`; each name is imported on first use, so that a light module
(`training.model`, `training.metrics`) does not load MLflow.
"""

from __future__ import annotations

from core.lazy import lazy_exports

# module -> the public names it defines
_MODULES: dict[str, tuple[str, ...]] = {
    "training.baselines": ("LogisticBaseline", "ReferralRule",),
    "training.calibration": ("MarginCalibrator",),
    "training.fit": ("TrainingResult", "feature_matrix", "fit_evaluate",),
    "training.lgbm": ("LGBMRiskModel", "choose_imbalance",),
    "training.metrics": ("Scores", "evaluate", "expected_calibration_error", "flatten",),
    "training.model": ("RiskModel",),
    "training.pipeline": ("TrainOutcome", "train_from_directory", "train_from_extract", "training_grid",),
    "training.registry": ("Promotion", "PromotionRefused", "format_versions", "list_versions", "load_version",
                         "promote",),
    "training.splits": ("TemporalSplit", "horizon_end", "labelled_dates", "temporal_split",),
    "training.tracking": ("default_tracking_uri", "log_training", "resolve_tracking_uri",),
}

__all__ = [name for names in _MODULES.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
