"""Family risk: the probability that at least one of a family's children enters care within the horizon.

family_risk = 1 − ∏(1 − p_child), from the children's calibrated probabilities. This assumes the children's
outcomes are independent given their features. They are not quite: siblings usually enter care together, so
their outcomes are positively correlated and the true chance that *any* child enters lies between the
largest child's risk and this product — the figure is an upper-ish approximation (the family-level calibration
fitted on validation corrects it). It is monotone in each child's risk, equals the child's risk for a one-child
family, and never falls below the highest child's. Defined once in `training.operating_point`.
"""

from __future__ import annotations

from training.operating_point import family_risk, family_risks

__all__ = ["family_risk", "family_risks"]
