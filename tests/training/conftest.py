"""Training fixtures: the small config, feature table and a throwaway MLflow store (tests/helpers/training.py)."""

from tests.helpers.training import config, feature_table, fitted_result, tracking_uri

__all__ = ["config", "feature_table", "fitted_result", "tracking_uri"]
