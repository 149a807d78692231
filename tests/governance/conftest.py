"""Governance tests audit models trained on the training tests' feature table (tests/helpers/training.py)."""

from tests.helpers.training import config, feature_table, fitted_result, tracking_uri

__all__ = ["config", "feature_table", "fitted_result", "tracking_uri"]
