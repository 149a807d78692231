"""Benchmark `upstream train` on the default simulated council: wall time per stage and the issue's targets.

    .venv/bin/python benchmarks/bench_train.py --data DIR          # an extract (truth.parquet turns on the oracle)
    .venv/bin/python benchmarks/bench_train.py                     # simulate the default council first (cached)
    .venv/bin/python benchmarks/bench_train.py --data DIR --tune   # with the bounded Optuna search

Logs to a throwaway SQLite store (never the repo's mlruns/) unless --tracking-uri is given. Prints the test
figures that the targets are stated in: LightGBM PR-AUC / logistic PR-AUC (>= 1.15), expected precision at
the top 2% / the oracle's (>= 0.85), and the training time (<= 300 s without --tune).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _council import DEFAULT_CACHE, cached_default_council  # noqa: E402

from core.config import load_config  # noqa: E402
from training.pipeline import summary, train_from_directory  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="extract directory (default: simulate the default council)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where the simulated council is cached when --data is not given")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--tracking-uri", default=None)
    args = parser.parse_args()
    config = load_config(args.config)

    data = args.data if args.data is not None else cached_default_council(config, args.cache)
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        uri = args.tracking_uri or f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        t0 = time.perf_counter()
        outcome = train_from_directory(data, config, tune=args.tune, tracking_uri=uri,
                                       log=lambda msg: print(f"  {msg}", flush=True))
        wall = time.perf_counter() - t0
    print(summary(outcome))
    head = outcome.result.headline()
    fit_seconds = outcome.seconds["features"] + outcome.seconds["train"]
    print("\ntargets (test period)")
    print(f"  PR-AUC LightGBM / logistic           {head['pr_auc_ratio_vs_logistic']:.3f}   target >= 1.15")
    if "expected_precision_ratio_at_top2pct" in head:
        print(f"  expected precision@top-2% / oracle   {head['expected_precision_ratio_at_top2pct']:.3f}   "
              "target >= 0.85")
    else:
        print("  expected precision@top-2% / oracle   n/a (no truth.parquet: not simulated data)")
    print(f"  training wall time                   {wall:.0f}s (load+validate {outcome.seconds['load']:.0f}s, "
          f"features {outcome.seconds['features']:.0f}s, fit+evaluate {outcome.seconds['train']:.0f}s, "
          f"MLflow {outcome.seconds['mlflow']:.0f}s; features+fit {fit_seconds:.0f}s)   target <= 300s"
          + (" (with --tune: no target)" if args.tune else ""))


if __name__ == "__main__":
    main()
