"""training: temporal splits, LightGBM with calibration, baselines, honest evaluation, MLflow tracking and registry."""

from training.baselines import LogisticBaseline, ReferralRule
from training.calibration import MarginCalibrator
from training.fit import TrainingResult, feature_matrix, fit_evaluate
from training.lgbm import LGBMRiskModel, choose_imbalance
from training.metrics import Scores, evaluate, expected_calibration_error, flatten
from training.model import RiskModel
from training.pipeline import TrainOutcome, train_from_directory, train_from_extract, training_grid
from training.registry import (
    Promotion,
    PromotionRefused,
    format_versions,
    list_versions,
    load_version,
    promote,
)
from training.splits import TemporalSplit, horizon_end, labelled_dates, temporal_split
from training.tracking import default_tracking_uri, log_training, resolve_tracking_uri

__all__ = [
    "LGBMRiskModel",
    "LogisticBaseline",
    "MarginCalibrator",
    "Promotion",
    "PromotionRefused",
    "ReferralRule",
    "RiskModel",
    "Scores",
    "TemporalSplit",
    "TrainOutcome",
    "TrainingResult",
    "choose_imbalance",
    "default_tracking_uri",
    "evaluate",
    "expected_calibration_error",
    "feature_matrix",
    "fit_evaluate",
    "flatten",
    "format_versions",
    "horizon_end",
    "labelled_dates",
    "list_versions",
    "load_version",
    "log_training",
    "promote",
    "resolve_tracking_uri",
    "temporal_split",
    "train_from_directory",
    "train_from_extract",
    "training_grid",
]
