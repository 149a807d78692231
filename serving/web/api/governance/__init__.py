"""Governance aggregates: the champion's fairness audit and decision / disagreement rates, small cells suppressed."""
