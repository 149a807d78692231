"""The study: re-simulate the council the model was trained on, save it at the start, run every policy × effect
× seed forward from that one saved state (on worker processes), and collect the outcomes.

Honest timing: the model was trained on the council's records up to `simulation.end`; the study re-simulates the
same council (same config and seed: deterministic), checks that the records it holds at that month are exactly
the extract the model was trained on (the fingerprint tagged on the version), and judges the model only on months
after it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from core.config import Config
from core.errors import UpstreamError
from features import Extract
from impact._policies import FEATURE_POLICIES, POLICIES
from impact._run import RunOutcome, RunSpec, forward
from synthetic import CouncilRun
from synthetic._calendar import month_end, parse_month
from training.model import RiskModel

DEFAULT_EFFECTS: tuple[float, ...] = (0.0, 0.15, 0.32)
DEFAULT_CAPACITY_CURVE: tuple[float, ...] = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class ImpactSettings:
    """What the study runs. `curve` are hub-capacity multipliers for the capacity curve (model and rule at the
    largest effect); `seed` keys every forward stream."""

    policies: tuple[str, ...] = POLICIES
    effects: tuple[float, ...] = DEFAULT_EFFECTS
    uptake: float = 0.6
    months: int = 36
    seeds: int = 3
    curve: tuple[float, ...] = DEFAULT_CAPACITY_CURVE
    seed: int = 19

    def check(self) -> ImpactSettings:
        """The settings, or one clear error naming the flag."""
        bad = [p for p in self.policies if p not in POLICIES]
        if bad:
            raise UpstreamError(f"--policy {bad[0]}: not a policy (choose from {', '.join(POLICIES)})")
        if not self.policies:
            raise UpstreamError("--policy: give at least one policy")
        for e in self.effects:
            if not 0.0 <= e <= 1.0:
                raise UpstreamError(f"--effect {e}: the relative reduction in the care-entry hazard must be in [0, 1]")
        if not self.effects:
            raise UpstreamError("--effect: give at least one effect size")
        if not 0.0 < self.uptake <= 1.0:
            raise UpstreamError(f"--uptake {self.uptake}: the chance an offer is accepted must be in (0, 1]")
        if self.months < 1:
            raise UpstreamError(f"--months {self.months}: the horizon must be at least one month")
        if self.seeds < 1:
            raise UpstreamError(f"--seeds {self.seeds}: at least one seed")
        for c in self.curve:
            if not 0.0 <= c <= 10.0:
                raise UpstreamError(f"--capacity {c}: a hub-capacity multiplier must be in [0, 10]")
        return self

    def specs(self) -> list[RunSpec]:
        """Every run, the feature policies first (they take longest): each policy × effect × seed, `none` once per
        seed (it is the same for every effect: nothing is offered), and the capacity curve's extra runs."""
        out: list[RunSpec] = []
        curve_effect = max(self.effects)
        for s in range(self.seeds):
            for p in self.policies:
                if p == "none":
                    continue
                out += [RunSpec(s, p, e) for e in dict.fromkeys(self.effects)]
                if p in FEATURE_POLICIES:
                    out += [RunSpec(s, p, curve_effect, c) for c in dict.fromkeys(self.curve) if c != 1.0]
            out.append(RunSpec(s, "none", 0.0))
        return sorted(out, key=lambda r: (r.policy not in FEATURE_POLICIES, r.seed))


@dataclass
class Study:
    """The saved council and every run's outcome."""

    settings: ImpactSettings
    start: int  # the last simulated month before the horizon (the first lists' as-of month)
    model_label: str | None
    fingerprint: str
    outcomes: list[RunOutcome]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def as_of(self) -> str:
        return f"{month_end(self.start):%Y-%m-%d}"


def prepare(config: Config, model: RiskModel | None, *, start: str | None = None, children: int | None = None,
            seed: int | None = None) -> tuple[CouncilRun, str]:
    """The council the config describes, simulated to its end (checked against the model's training extract) and
    on to `start` (YYYY-MM, not before the end). Returns the run and the records' fingerprint at the end."""
    run = CouncilRun.start(config, children=children, seed=seed)
    run.advance(run.m1)
    council = run.tables()
    extract = Extract(children=council.children, events=council.events)
    fingerprint = extract.fingerprint()
    if model is not None:
        _check_trained_here(model, extract, fingerprint, run)
    if start is not None:
        m = parse_month(start, "--start")
        if m < run.m1:
            raise UpstreamError(f"--start {start}: the study starts where the records the model is trained on end "
                                f"({month_end(run.m1):%Y-%m}, config simulation.end) or later; starting earlier would "
                                "judge the model on months it has seen")
        run.advance(m)
    return run, fingerprint


def _check_trained_here(model: RiskModel, extract: Extract, fingerprint: str, run: CouncilRun) -> None:
    from serving.scoring import _scenario_extract

    trained = model.tags.get("data_fingerprint")
    if not trained:
        raise UpstreamError(f"{model.label} carries no data_fingerprint tag: cannot tell which council it was "
                            "trained on; train it with `upstream train` on the simulated council first")
    seen = {fingerprint, _scenario_extract(model, extract).fingerprint()}
    if trained not in seen:
        raise UpstreamError(
            f"{model.label} was trained on another extract (fingerprint {trained}); the council this config "
            f"describes (seed {run.seed}, {run.target:,} children, records to {month_end(run.m1):%Y-%m}) has "
            f"{fingerprint}. Train on this council first (`upstream train`, as make demo does) or give the "
            "--config the model was trained with")


# The saved council and what the runs need: set once per worker process (or here, inline).
_SHARED: dict = {}


def _init(shared: dict) -> None:
    _SHARED.update(shared)


def _job(spec: RunSpec) -> RunOutcome:
    s = _SHARED
    return forward(s["run"], spec, months=s["months"], uptake=s["uptake"], config=s["config"], model=s["model"],
                   base_seed=s["seed"])


def run_study(config: Config, model: RiskModel | None, settings: ImpactSettings, *, start: str | None = None,
              children: int | None = None, seed: int | None = None, workers: int | None = None,
              log: Callable[[str], None] | None = None) -> Study:
    """Run the study (see the module docstring).

    Parameters
    ----------
    config : Config
        The council (simulation settings, hubs and capacities) and feature settings.
    model : RiskModel or None
        The model for the `model` policy (required when it is asked for); its data_fingerprint must be this
        council's at `simulation.end`.
    settings : ImpactSettings
        Policies, effects, uptake, horizon, seeds, capacity curve.
    start : str or None
        YYYY-MM, the month whose end is the first lists' as-of date (default and earliest: `simulation.end`).
    children, seed : int or None
        Override the council's size and seed (tests; the model must have been trained on that council).
    workers : int or None
        Processes for the runs (default: up to 2).
    log : callable or None
        Progress lines.

    Returns
    -------
    Study
    """
    settings = settings.check()
    say = log or (lambda _m: None)
    if "model" in settings.policies and model is None:
        raise UpstreamError("--policy model needs a model")
    t0 = time.perf_counter()
    run, fingerprint = prepare(config, model if "model" in settings.policies else None, start=start,
                               children=children, seed=seed)
    timings = {"simulate_to_start": time.perf_counter() - t0}
    specs = settings.specs()
    say(f"impact: council saved at {month_end(run.m):%Y-%m-%d} (records fingerprint {fingerprint}); "
        f"{len(specs)} runs of {settings.months} months")
    shared = {"run": run, "months": settings.months, "uptake": settings.uptake, "config": config, "model": model,
              "seed": settings.seed}
    t1 = time.perf_counter()
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    outcomes: list[RunOutcome] = []
    try:
        if workers > 1 and len(specs) > 1:
            # spawned, not forked: LightGBM's OpenMP threads do not survive a fork of a process that has used
            # them (the workers would hang); the saved council is sent to each worker once
            with ProcessPoolExecutor(min(workers, len(specs)), mp_context=get_context("spawn"),
                                     initializer=_init, initargs=(shared,)) as pool:
                for done in pool.map(_job, specs):
                    outcomes.append(done)
                    _say_run(say, done)
        else:
            _init(shared)
            for spec in specs:
                outcomes.append(_job(spec))
                _say_run(say, outcomes[-1])
    finally:
        _SHARED.clear()
    timings["runs"] = time.perf_counter() - t1
    for key in ("features", "policy", "simulate"):
        timings[f"runs_{key}_cpu"] = sum(o.timings.get(key, 0.0) for o in outcomes)
    return Study(settings=settings, start=run.m, model_label=model.label if model is not None else None,
                 fingerprint=fingerprint, outcomes=outcomes, timings=timings)


def _say_run(say: Callable[[str], None], o: RunOutcome) -> None:
    s = o.spec
    say(f"  seed {s.seed} {s.policy:<6} effect {s.effect:.2f} capacity x{s.capacity:g}: "
        f"{len(o.offer_month):,} offers, {len(o.entry_month):,} entries to care, {o.looked_after_end:,} looked after "
        f"at the end ({sum(o.timings.values()):.0f}s)")


def effects_of(values: Sequence[float] | None) -> tuple[float, ...]:
    """The effects asked for, in order, without repeats (default DEFAULT_EFFECTS)."""
    return tuple(dict.fromkeys(float(v) for v in values)) if values else DEFAULT_EFFECTS
