"""Benchmark `upstream score`: the whole council at one as-of date, SHAP for the listed families, lists and charts.

    .venv/bin/python benchmarks/bench_score.py                      # default council (simulated once, cached)
    .venv/bin/python benchmarks/bench_score.py --data /tmp/sc       # an extract directory
    .venv/bin/python benchmarks/bench_score.py --quick-model        # no registry needed: fit a small model here

Prints the wall time of each phase and the total against the 60 s target (issue 6), and the time to score and
explain one family (what the API does per request). Never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _council import DEFAULT_CACHE, cached_default_council

TARGET_SECONDS = 60.0


def _quick_model(extract, config):
    """A small LightGBM + Platt calibrator on four labelled quarterly dates (for timing, not for use)."""
    import lightgbm as lgb

    import features
    from features.timeline import month_end_on_or_before
    from training.calibration import MarginCalibrator
    from training.model import RiskModel

    end = month_end_on_or_before(extract.last_date) - pd.DateOffset(months=config.outcome.horizon_months)
    dates = [(end - pd.DateOffset(months=3 * k)) + pd.offsets.MonthEnd(0) for k in range(4)]
    table = features.build_features(extract, dates, config)
    table = table[table["label"].notna()]
    cols = features.feature_columns(config)
    y = table["label"].astype(int).to_numpy()
    params = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 31, "min_data_in_leaf": 100,
              "verbosity": -1, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(table[cols].astype("float64"), label=y), num_boost_round=150)
    margin = booster.predict(table[cols].astype("float64"), raw_score=True)
    return RiskModel(booster=booster, calibrator=MarginCalibrator("platt").fit(margin, y), feature_names=cols,
                     name="quick-benchmark-model", version="0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="extract directory (default: the simulated default council)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where the simulated default council is written once and reused")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--quick-model", action="store_true", help="fit a small model here instead of the registry")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--explain-all", action="store_true")
    args = parser.parse_args(argv)

    import features
    from core.config import load_config
    from serving.scoring import load_model, run_score, score_family

    config = load_config(args.config)
    data = args.data if args.data is not None else cached_default_council(config, args.cache)

    t0 = time.perf_counter()
    if args.quick_model:
        extract = features.load_extract(data, hubs=config.council.hub_names)
        model = _quick_model(extract, config)
        print(f"quick model fitted in {time.perf_counter() - t0:.0f} s (not part of the benchmark)", file=sys.stderr)
    else:
        model = None

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores"
        t0 = time.perf_counter()
        result = run_score(config, out=out, data=data, alias=args.alias, model=model, explain_all=args.explain_all)
        total = time.perf_counter() - t0
        n_png = len(list((out / "lists").glob("*/*.png")))

    if model is None:
        model = load_model(config, alias=args.alias)
    c = result.manifest["counts"]
    print(f"council: {data} ({c['children']:,} children in the cohort at {result.manifest['as_of']}, "
          f"{c['families']:,} families)")
    print(f"model: {result.model.label}")
    print(f"listed: {c['families_listed']} families, {c['children_listed']} children; explained "
          f"{c['children_explained']:,} children; {n_png} charts")
    print("phase seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()))
    verdict = "within" if total <= TARGET_SECONDS else "OVER"
    print(f"total wall time: {total:.1f} s ({verdict} the {TARGET_SECONDS:.0f} s target)")

    # one family, as the API scores it: features already built, so this is predict + TreeSHAP + reasons
    top = result.families[result.families["listed"]].iloc[0]["family_id"]
    ids = set(result.scores.loc[result.scores["family_id"] == top, "child_id"])
    extract = features.load_extract(data, hubs=config.council.hub_names)
    cohort = features.build_features(extract, [result.as_of], config)
    rows = cohort[cohort["child_id"].isin(ids)]
    runs = []
    for _ in range(20):
        t1 = time.perf_counter()
        score_family(model, rows, config)
        runs.append(time.perf_counter() - t1)
    print(f"one family ({len(rows)} children): median {1000 * statistics.median(runs):.1f} ms, "
          f"max {1000 * max(runs):.1f} ms (predict + TreeSHAP + reasons)")
    return 0 if np.isfinite(total) else 1


if __name__ == "__main__":
    sys.exit(main())
