"""impact: a counterfactual simulation of acting on the lists — what early help offered to the listed families
would change in entries to care, against practice as usual, a practice rule and random offers.

A simulation study, not library code: it is the one package above `serving` that imports the simulator, because
only a simulated council with known mechanisms can be run forward under several policies (docs/impact.md).
"""

from impact._policies import POLICIES
from impact._run import RunOutcome, RunSpec, forward
from impact._study import DEFAULT_CAPACITY_CURVE, DEFAULT_EFFECTS, ImpactSettings, Study, prepare, run_study

__all__ = ["DEFAULT_CAPACITY_CURVE", "DEFAULT_EFFECTS", "POLICIES", "ImpactSettings", "RunOutcome", "RunSpec",
           "Study", "forward", "prepare", "run_study"]
