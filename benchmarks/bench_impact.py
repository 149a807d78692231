"""Benchmark `upstream impact` on the default council: 3 policies (model, rule, random) × 3 effects × 36 months.

    .venv/bin/python benchmarks/bench_impact.py                   # the registry's challenger (make demo trains it)
    .venv/bin/python benchmarks/bench_impact.py --months 12 --seeds 1 --alias 3

Prints the wall time and peak memory (this process and its workers) of each stage — re-simulating the council to
the start, the forward runs (with the CPU seconds inside them: features, policy, simulation) and writing the
report — and the total against the 20-minute target (issue 19). Never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _sampler import GB, PeakSampler

TARGET_SECONDS = 20 * 60.0


def _tree_rss() -> dict[str, int]:
    """Resident bytes of this process and of its workers together (the machine's memory the study takes)."""
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker that has just ended
            total += child.memory_info().rss
    return {"tree": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alias", default="challenger")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--effect", type=float, action="append")
    parser.add_argument("--capacity", type=float, action="append", help="capacity-curve multipliers (default: 1 "
                                                                         "only, the issue's 3 x 3 runs)")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--out", type=Path, help="report directory (default: a temporary one)")
    args = parser.parse_args(argv)

    from core.config import load_config
    from impact import DEFAULT_EFFECTS, ImpactSettings, run_study
    from impact._report import write_impact
    from serving.scoring import load_model

    config = load_config(args.config)
    settings = ImpactSettings(policies=("model", "rule", "random", "none"),
                              effects=tuple(args.effect or DEFAULT_EFFECTS), months=args.months,
                              seeds=args.seeds, curve=tuple(args.capacity or (1.0,)))
    model = load_model(config, alias=args.alias)
    print(f"model {model.label}; {len(settings.specs())} runs of {args.months} months, {args.seeds} seed(s)")
    t0 = time.perf_counter()
    with PeakSampler(_tree_rss) as sampler:
        study = run_study(config, model, settings, log=print)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, PeakSampler(_tree_rss) as writer:
        body = write_impact(study, args.out or Path(tmp) / "impact", config)
    t2 = time.perf_counter()
    tm = study.timings
    print(f"simulate to the start: {tm['simulate_to_start']:.1f} s")
    print(f"forward runs: {tm['runs']:.1f} s wall (CPU inside the runs: features {tm['runs_features_cpu']:.0f} s, "
          f"policy {tm['runs_policy_cpu']:.0f} s, simulation {tm['runs_simulate_cpu']:.0f} s); "
          f"peak memory {sampler.peak / GB:.2f} GB (process and workers)")
    print(f"report: {t2 - t1:.1f} s; peak memory {writer.peak / GB:.2f} GB")
    total = t2 - t0
    print(f"total: {total:.0f} s ({total / 60:.1f} min) against the {TARGET_SECONDS / 60:.0f}-minute target: "
          f"{'met' if total <= TARGET_SECONDS else 'NOT met'}")
    for row in body["summary"]:
        if row["policy"] != "none" and row["capacity"] == 1.0:
            print(f"  {row['policy']:<6} effect {row['effect']:.2f}: averted {row['averted']:.1f}, "
                  f"{row['averted_per_100_offers']:.2f} per 100 offers, {row['offers']:.0f} offers; expected "
                  f"directly {row['expected_averted']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
