"""synthetic: the simulated council, the embedded default data source, with ground truth (the oracle's risk)."""

from synthetic._council import TRUTH_COLUMNS, SimulatedCouncil
from synthetic._mechanism import Mechanism
from synthetic._offers import close_offered_help, open_offered_help
from synthetic._region import CouncilProfile, region_profiles, simulate_region
from synthetic._simulate import CouncilRun, simulate, truth_months
from synthetic.calibration import TARGETS, measure

__all__ = ["TARGETS", "TRUTH_COLUMNS", "CouncilProfile", "CouncilRun", "Mechanism", "SimulatedCouncil",
           "close_offered_help", "measure", "open_offered_help", "region_profiles", "simulate", "simulate_region",
           "truth_months"]
