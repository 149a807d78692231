"""training: temporal splits, LightGBM with calibration, baselines, honest evaluation, the one model class
(`RiskModel`), MLflow tracking and registry.

What other layers may use is listed in `__all__`; each name is imported on first use, so that a light module
(`training.model`, `training.metrics`) does not load MLflow.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_WHERE = {
    "LogisticBaseline": "training.baselines",
    "ReferralRule": "training.baselines",
    "MarginCalibrator": "training.calibration",
    "TrainingResult": "training.fit",
    "feature_matrix": "training.fit",
    "fit_evaluate": "training.fit",
    "LGBMRiskModel": "training.lgbm",
    "choose_imbalance": "training.lgbm",
    "Scores": "training.metrics",
    "evaluate": "training.metrics",
    "expected_calibration_error": "training.metrics",
    "flatten": "training.metrics",
    "RiskModel": "training.model",
    "TrainOutcome": "training.pipeline",
    "train_from_directory": "training.pipeline",
    "train_from_extract": "training.pipeline",
    "training_grid": "training.pipeline",
    "Promotion": "training.registry",
    "PromotionRefused": "training.registry",
    "format_versions": "training.registry",
    "list_versions": "training.registry",
    "load_version": "training.registry",
    "promote": "training.registry",
    "TemporalSplit": "training.splits",
    "horizon_end": "training.splits",
    "labelled_dates": "training.splits",
    "temporal_split": "training.splits",
    "default_tracking_uri": "training.tracking",
    "log_training": "training.tracking",
    "resolve_tracking_uri": "training.tracking",
}

__all__, __getattr__ = lazy_exports(__name__, _WHERE)
