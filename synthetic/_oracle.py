"""The oracle: each cohort child's probability of entering care within the horizon, given the full saved state.

Monte-Carlo forward simulation with the main simulation's own step function, Rao-Blackwellised: along each replicate
path we multiply the child's survival by (1 - monthly entry hazard) instead of sampling the entry, so
p = 1 - mean(survival) is unbiased and has far less variance than counting sampled entries. Nobody who arrives
after the as-of date can be in its cohort, so the replicates skip arrivals (births, moving in, UASC).

Replicates run in fixed chunks, each with its own random stream, so the result does not depend on how many
worker processes share the work.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from synthetic._mechanism import Mechanism
from synthetic._state import State
from synthetic._step import step

CHUNK = 8  # replicates per job


def cohort_rows(st: State) -> np.ndarray:
    """Rows of the children in the cohort at the end of the current month: resident, under 18, not looked after."""
    k = st.kid
    return np.flatnonzero(k["res"] & ~k["incare"])


def run_chunk(cohort: State, m: int, mech: Mechanism, seed: int, chunk: int, copies: int, horizon: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Sum over `copies` replicates of each child's p, and of p squared."""
    rep = cohort.replicate(np.arange(cohort.n_kid), copies)
    rng = np.random.default_rng([seed, 0x0AC1E, m, chunk])  # its own stream: the main simulation is unaffected
    survival = np.ones(rep.n_kid)
    for j in range(1, horizon + 1):
        step(rep, m + j, rng, mech, survival=survival)
    p = (1 - survival).reshape(copies, cohort.n_kid)
    return p.sum(axis=0), (p * p).sum(axis=0)


@dataclass
class Oracle:
    """Collects p_true for several as-of months, running the chunks inline or on an executor."""

    mech: Mechanism
    seed: int
    replicates: int
    horizon: int
    executor: Executor | None = None
    _pending: list[tuple[int, np.ndarray, list]] = field(default_factory=list)

    def submit(self, st: State, m: int) -> None:
        """Start the forward replicates from the state at the end of month m (the state itself is not touched)."""
        cohort = st.replicate(cohort_rows(st), 1)
        jobs: list = []
        for chunk, start in enumerate(range(0, self.replicates, CHUNK)):
            args = (cohort, m, self.mech, self.seed, chunk, min(CHUNK, self.replicates - start), self.horizon)
            jobs.append(self.executor.submit(run_chunk, *args) if self.executor else run_chunk(*args))
        self._pending.append((m, cohort.kid["uid"].copy(), jobs))

    def results(self, *, progress: bool = False) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """(month, child uid, p_true, p_true_se) per as-of month, in submission order."""
        out = []
        r = self.replicates
        for m, uid, jobs in tqdm(self._pending, disable=not progress or not self._pending,
                                 desc="ground truth", unit="as-of date"):
            sums = [j.result() if isinstance(j, Future) else j for j in jobs]
            s1 = np.sum([s for s, _ in sums], axis=0)
            s2 = np.sum([q for _, q in sums], axis=0)
            mean = s1 / r
            var = np.maximum(s2 - r * mean * mean, 0) / (r - 1)
            out.append((m, uid, mean, np.sqrt(var / r)))
        return out
