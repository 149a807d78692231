"""Governance: the fairness audit, suppression of small cells, the model card and the transparency record."""
