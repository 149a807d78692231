"""synthetic: the simulated council, the embedded default data source, with ground truth (the oracle's risk)."""

from synthetic._council import TRUTH_COLUMNS, SimulatedCouncil
from synthetic._mechanism import Mechanism
from synthetic._region import CouncilProfile, region_profiles, simulate_region
from synthetic._simulate import simulate, truth_months
from synthetic.calibration import TARGETS, measure

__all__ = ["CouncilProfile", "Mechanism", "SimulatedCouncil", "TARGETS", "TRUTH_COLUMNS", "measure", "region_profiles",
           "simulate", "simulate_region", "truth_months"]
