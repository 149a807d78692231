"""Peak memory of `upstream train` (the single-process path), overall and per stage, plus the test metrics.

    flock /tmp/upstream-heavy.lock nice /usr/bin/time -v .venv/bin/python benchmarks/bench_memory.py --data DIR

A thread samples this process's resident set size every 0.2 s and files each sample under the stage the
pipeline last reported (its log lines); the table printed at the end is the peak per stage. Logs to a throwaway
SQLite store. The headline test metrics are printed with full precision so that runs before and after a memory
change can be compared for identical results (same data, config and seed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _council import DEFAULT_CACHE, cached_default_council  # noqa: E402
from _sampler import GB, PeakSampler, process_rss  # noqa: E402

from core.config import load_config  # noqa: E402
from training.pipeline import train_from_directory  # noqa: E402


class StageSampler(PeakSampler):
    """Peak RSS per stage; the stage is the first word(s) of the pipeline's latest log line."""

    def __init__(self, interval: float = 0.2) -> None:
        self.stage = "load"
        super().__init__(lambda: {self.stage: process_rss()}, interval)

    def say(self, msg: str) -> None:
        print(f"  [{process_rss() / GB:5.2f} GB] {msg}", flush=True)
        self.stage = msg.split(":")[0].split("(")[0].strip()[:40]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="extract directory (default: simulate the default council)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    config = load_config(args.config)
    data = args.data if args.data is not None else cached_default_council(config, DEFAULT_CACHE)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp, StageSampler() as sampler:
        t0 = time.perf_counter()
        outcome = train_from_directory(data, config, tracking_uri=f"sqlite:///{Path(tmp) / 'mlflow.db'}",
                                       log=sampler.say)
        wall = time.perf_counter() - t0
    print("\npeak resident memory by stage (GB)")
    for stage, peak in sampler.peaks.items():
        print(f"  {stage:40s} {peak / GB:6.2f}")
    peak = max(sampler.peaks.values())
    print(f"  {'overall (sampled)':40s} {peak / GB:6.2f}")
    head = outcome.result.headline()
    print("\ntest headline (compare before/after for identical results)")
    for key, value in head.items():
        print(f"  {key:40s} {value!r}")
    print(f"  {'best_iteration':40s} {outcome.result.model.best_iteration_}")
    print(f"wall {wall:.0f}s; " + ", ".join(f"{k} {v:.0f}s" for k, v in outcome.seconds.items()))
    if args.json:
        args.json.write_text(json.dumps({"peak_gb": peak / GB, "stages_gb": {k: v / GB for k, v in
                                                                             sampler.peaks.items()},
                                         "headline": head, "best_iteration": outcome.result.model.best_iteration_,
                                         "wall_seconds": wall, "seconds": outcome.seconds}, indent=2))


if __name__ == "__main__":
    main()
