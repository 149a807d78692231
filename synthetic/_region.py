"""A simulated region: several councils that differ in size, deprivation and practice, pooled into one extract.

Each council is the same generative model (`simulate`) with its own mechanism parameters and its own seed
stream; the differences are drawn once per region (`region_profiles`) and written beside the extract
(`councils.json`), so they are part of the ground truth, like `truth.parquet`. Nothing is patched after the
simulation except identifiers, which get the council's code in front (each council pseudonymises its own
records; the code keeps them unique across the region).
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.errors import UpstreamError
from synthetic._council import SimulatedCouncil
from synthetic._mechanism import Mechanism
from synthetic._simulate import simulate

# The spread of each difference between councils (uniform draws, centred on the default city's value).
SIZE_SD = 0.45              # log-normal spread of councils' populations
DEPRIVATION_SKEW = (-0.06, 0.26)   # the default city is 0.12: from an affluent shire to a deprived city
FRONT_DOOR = (-0.5, 0.5)    # added to the referral logit: negative = a stricter front door (fewer referrals)
EARLY_HELP = (-0.7, 0.7)    # added to the early-help offer logit after a contact
CARE_THRESHOLD = (-0.35, 0.35)  # added to the log care-entry hazard: negative = a higher threshold for care
_PROFILE_STREAM = 18        # the seed stream the region's differences are drawn from (apart from councils')


@dataclass(frozen=True)
class CouncilProfile:
    """How one simulated council differs from the default city: its size and its mechanism shifts."""

    code: str
    name: str
    size: float                     # relative population (mean 1 over the region)
    deprivation_skew: float         # Mechanism.deprivation_skew: the council's deprivation mix
    front_door: float               # shift of the referral logit's intercept
    early_help: float               # shift of the early-help offer logit's intercept
    care_threshold: float           # shift of the log care-entry hazard's intercept

    def mechanism(self, base: Mechanism) -> Mechanism:
        """The generative model's parameters for this council."""
        return dataclasses.replace(
            base, deprivation_skew=self.deprivation_skew,
            referral=(base.referral[0] + self.front_door, *base.referral[1:]),
            early_help=(base.early_help[0] + self.early_help, *base.early_help[1:]),
            entry_base=base.entry_base + self.care_threshold)


def region_profiles(config: Config, councils: int, seed: int) -> list[CouncilProfile]:
    """The first `councils` councils of a region config, each with its size and practice drawn from the
    region's seed (the same seed, the same region)."""
    if not config.is_region or len(config.region) < councils:
        have = len(config.region) if config.is_region else "no region"
        raise UpstreamError(f"--councils {councils} needs a region config with at least {councils} councils "
                            f"(councils: in the config, e.g. --config configs/region.yaml; this one has {have})")
    if councils < 1:
        raise UpstreamError(f"--councils must be at least 1, got {councils}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _PROFILE_STREAM]))
    size = np.exp(SIZE_SD * rng.standard_normal(councils))
    size = size / size.mean()
    draws = {name: rng.uniform(*bounds, councils) for name, bounds in (
        ("deprivation_skew", DEPRIVATION_SKEW), ("front_door", FRONT_DOOR), ("early_help", EARLY_HELP),
        ("care_threshold", CARE_THRESHOLD))}
    return [CouncilProfile(code=str(c.code), name=c.name, size=float(size[i]),
                           **{k: float(round(v[i], 4)) for k, v in draws.items()})
            for i, c in enumerate(config.region[:councils])]


def _one(config: Config, profile: CouncilProfile, children: int, seed: int, start: object, end: object,
         truth: bool, workers: int | None, mechanism: Mechanism) -> SimulatedCouncil:
    return simulate(config.for_council(profile.code), children=children, seed=seed, start=start, end=end,
                    truth=truth, workers=workers, mechanism=profile.mechanism(mechanism))


def _prefixed(values: pd.Series, code: str) -> pd.Series:
    """Identifiers with the council's code in front (None stays None)."""
    out = values.astype(object).copy()
    present = values.notna().to_numpy()
    out[present] = (f"{code}-" + values[present].astype(str)).to_numpy(dtype=object)
    return out


def simulate_region(config: Config, *, councils: int, children: int | None = None, seed: int | None = None,
                    start: str | None = None, end: str | None = None, truth: bool = True,
                    workers: int | None = None, profiles: list[CouncilProfile] | None = None,
                    mechanism: Mechanism | None = None) -> SimulatedCouncil:
    """Simulate the first `councils` councils of a region config into one extract with a `council` column.

    Parameters
    ----------
    config : Config
        A region config (`councils:`): codes, names and hubs; `simulation` gives the defaults.
    councils : int
        How many councils.
    children : int, optional
        Children resident per council **on average** (default `simulation.children`): the region holds
        `councils * children`, shared by the councils' drawn sizes.
    seed : int, optional
        The region's seed (default `simulation.seed`); each council's simulation has its own stream from it.
    start, end : str, optional
        First and last simulated months (YYYY-MM).
    truth : bool
        Compute the oracle's ground truth (per council, concatenated).
    workers : int, optional
        Processes simulating councils side by side (default: up to 2); the output does not depend on it.
    profiles : list of CouncilProfile, optional
        The councils' differences; default `region_profiles(config, councils, seed)`.
    mechanism : Mechanism, optional
        The base parameters each council's differences apply to (default `Mechanism()`).

    Returns
    -------
    SimulatedCouncil
        The region's children (with `council`), events and truth, and `councils` (the profiles).
    """
    seed = config.simulation.seed if seed is None else int(seed)
    per_council = config.simulation.children if children is None else int(children)
    if per_council <= 0:
        raise UpstreamError(f"--children must be positive, got {per_council}")
    profiles = profiles if profiles is not None else region_profiles(config, councils, seed)
    sizes = np.array([p.size for p in profiles])
    counts = np.maximum(np.round(per_council * len(profiles) * sizes / sizes.sum()).astype(int), 1)
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(len(profiles))]
    base = mechanism or Mechanism()
    workers = min(2, os.cpu_count() or 1, len(profiles)) if workers is None else workers
    jobs = [(config, p, int(n), s, start, end, truth) for p, n, s in zip(profiles, counts, seeds, strict=True)]
    if workers > 1:  # councils side by side; each runs its oracle inline (no pool inside a pool)
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            parts = list(pool.map(_one, *zip(*jobs, strict=True), [1] * len(jobs), [base] * len(jobs)))
    else:
        parts = [_one(*job, None, base) for job in jobs]
    return _pool(parts, profiles, counts, seeds, seed)


def _pool(parts: list[SimulatedCouncil], profiles: list[CouncilProfile], counts: np.ndarray, seeds: list[int],
          seed: int) -> SimulatedCouncil:
    """The councils' tables as one region extract: ids prefixed by the council code, `council` on children."""
    children, events, truth = [], [], []
    for part, profile in zip(parts, profiles, strict=True):
        c = part.children.copy()
        for col in ("child_id", "family_id"):
            c[col] = _prefixed(c[col], profile.code)
        c[COUNCIL_COLUMN] = profile.code
        e = part.events.copy()
        for col in ("event_id", "family_id", "child_id"):
            e[col] = _prefixed(e[col], profile.code)
        t = part.truth.copy()
        t["child_id"] = _prefixed(t["child_id"], profile.code)
        children.append(c)
        events.append(e)
        truth.append(t)
    events_all = pd.concat(events, ignore_index=True)
    events_all = events_all.sort_values(["event_date", "event_id"], kind="stable", ignore_index=True)
    described = tuple({**dataclasses.asdict(p), "children": int(n), "seed": s}
                      for p, n, s in zip(profiles, counts, seeds, strict=True))
    return SimulatedCouncil(
        children=pd.concat(children, ignore_index=True).sort_values("child_id", ignore_index=True),
        events=events_all, truth=pd.concat(truth, ignore_index=True),
        start=min(p.start for p in parts), end=max(p.end for p in parts), seed=seed, linkage=parts[0].linkage,
        councils=described)
