"""Governance tests audit models trained on the training tests' feature table."""

from tests.training.conftest import config, feature_table, tracking_uri

__all__ = ["config", "feature_table", "tracking_uri"]
