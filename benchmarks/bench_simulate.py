"""Benchmark: wall time and peak memory of simulating the default council, ground truth included.

Run:  .venv/bin/python benchmarks/bench_simulate.py [--children N] [--out DIR]
Prints the time, the peak resident memory of this process and of the largest oracle worker, and the
calibration table. Never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import resource
import time

from core.config import load_config
from synthetic import simulate
from synthetic.calibration import measure, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=None, help="default: config simulation.children")
    parser.add_argument("--out", default=None, help="also write the council here (timed separately)")
    args = parser.parse_args()
    cfg = load_config()
    t0 = time.perf_counter()
    council = simulate(cfg, children=args.children, progress=True)
    elapsed = time.perf_counter() - t0
    if args.out:
        t1 = time.perf_counter()
        council.write(args.out)
        print(f"write: {time.perf_counter() - t1:.1f} s")
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"simulate (including truth): {elapsed:.1f} s")
    print(f"peak memory: main process {self_mb:,.0f} MB; largest oracle worker {worker_mb:,.0f} MB; "
          f"upper bound for all processes {self_mb + 2 * worker_mb:,.0f} MB")
    print(f"rows: children {len(council.children):,}, events {len(council.events):,}, truth {len(council.truth):,}")
    print(table(measure(council)))


if __name__ == "__main__":
    main()
