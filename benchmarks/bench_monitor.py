"""Benchmark `upstream monitor` on the default council: feeds, drift, one matured run with fairness, decisions.

    flock /tmp/upstream-heavy.lock .venv/bin/python benchmarks/bench_monitor.py            # default council
    .venv/bin/python benchmarks/bench_monitor.py --data DIR --children-note small          # another extract

Setup (not timed, cached in --work): the default council (simulated once, shared with the other benchmarks), a
quick LightGBM model fitted on four labelled quarterly dates, its monitoring reference (training.reference,
as training stores it) on the four dates after, and two scoring runs of that model: the latest month end and 12
months before it (so one run has matured). Then a fresh process times what `upstream monitor` does after
loading the model's artifacts — load and validate the extract, build the cohort's features, feed health, drift,
matured outcomes with intervals, fairness over time, decisions (one made up for every family listed by the
matured run), writing
monitor.json, monitor.html and the charts — and prints each phase's seconds and the peak resident memory.
Registry I/O (downloading the reference and test predictions, logging the MLflow run) is not included; it is
about 1-2 s against the SQLite store. Target: 30 s (issue 17). Never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _council import DEFAULT_CACHE, cached_default_council

TARGET_SECONDS = 30.0
WORK = Path("/tmp/upstream-bench-monitor")


def setup(data: Path, work: Path) -> None:
    """Quick model, reference, two scoring runs and decisions into `work` (once)."""
    import lightgbm as lgb

    import features
    from core.config import load_config
    from core.io import write_json, write_parquet
    from serving.scoring import default_as_of, score_cohort
    from training.calibration import MarginCalibrator
    from training.model import RiskModel
    from training.reference import build_reference

    config = load_config()
    extract = features.load_extract(data, hubs=config.council.hub_names)
    last = default_as_of(extract.last_date)
    horizon = config.outcome.horizon_months
    test_end = last - pd.DateOffset(months=horizon) + pd.offsets.MonthEnd(0)
    test = [(test_end - pd.DateOffset(months=3 * k)) + pd.offsets.MonthEnd(0) for k in range(4)][::-1]
    train = [(test[0] - pd.DateOffset(months=horizon + 3 * k)) + pd.offsets.MonthEnd(0) for k in range(1, 5)][::-1]
    cols = features.feature_columns(config)
    table = features.build_features(extract, [*train, *test], config)
    table["as_of"] = pd.to_datetime(table["as_of"])
    tr, te = table[table["as_of"].isin(train)], table[table["as_of"].isin(test)].reset_index(drop=True)
    params = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 500,
              "verbosity": -1, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(tr[cols].astype("float64"), label=tr["label"].astype(int)),
                        num_boost_round=120)
    margin = booster.predict(tr[cols].astype("float64"), raw_score=True)
    calibrator = MarginCalibrator("platt").fit(margin, tr["label"].astype(int).to_numpy())
    model = RiskModel(booster=booster, calibrator=calibrator, feature_names=cols, name="upstream-risk",
                         version="0", alias="champion", run_id="bench")
    prob = calibrator.transform(booster.predict(te[cols].astype("float64"), raw_score=True))
    reference = build_reference(extract, te, te[cols], prob, cols, config)
    write_json(reference, work / "reference.json")
    pred = te[["child_id", "family_id", "as_of", "label", "hub", "previously_known"]].copy()
    pred["probability"] = prob
    write_parquet(pred, work / "test_predictions.parquet")
    write_json({"feature_names": cols}, work / "features.json")
    for as_of in (last, test_end):
        cohort = features.build_features(extract, [as_of], config)
        result = score_cohort(model, cohort, config)
        d = work / f"scores_{as_of:%Y-%m-%d}"
        write_parquet(result.scores, d / "scores.parquet")
        write_json({"as_of": f"{as_of:%Y-%m-%d}", "model": {"name": "upstream-risk", "version": "0"}},
                   d / "manifest.json")
        if as_of == test_end:  # made-up decisions on listed families of the matured run
            rng = np.random.default_rng(0)
            fam = result.families[result.families["listed"]]
            dec = pd.DataFrame({"family_id": fam["family_id"].to_numpy(), "hub": fam["hub"].to_numpy(),
                                "decision": rng.choice(["offered_early_help", "not_needed", "already_open",
                                                        "disagree"], len(fam)),
                                "at": as_of + pd.Timedelta(days=10), "as_of": f"{as_of:%Y-%m-%d}"})
            write_parquet(dec, work / "decisions.parquet")
    (work / "last").write_text(f"{last:%Y-%m-%d}\n{test_end:%Y-%m-%d}\n")


def measure(data: Path, work: Path) -> dict:
    """One monitoring run, timed by phase, in this (fresh) process."""
    t0, c0 = time.perf_counter(), time.process_time()
    import features
    from core.config import load_config
    from governance.monitoring import compute_report, read_run
    from governance.monitoring._report import write_report

    seconds: dict[str, float] = {"imports": time.perf_counter() - t0}
    config = load_config()
    last, matured = (work / "last").read_text().split()
    t = time.perf_counter()
    reference = json.loads((work / "reference.json").read_text())
    names = json.loads((work / "features.json").read_text())["feature_names"]
    test = pd.read_parquet(work / "test_predictions.parquet")
    decisions = pd.read_parquet(work / "decisions.parquet")
    run, past = read_run(work / f"scores_{last}"), read_run(work / f"scores_{matured}")
    seconds["read_inputs"] = time.perf_counter() - t
    t = time.perf_counter()
    extract = features.load_extract(data, hubs=config.council.hub_names)
    seconds["load_extract"] = time.perf_counter() - t
    t = time.perf_counter()
    cohort = features.build_features(extract, [run.as_of], config, extract_date=extract.last_date)
    seconds["cohort_features"] = time.perf_counter() - t
    t = time.perf_counter()
    report = compute_report(config=config, events=extract.events, children=extract.children,
                            extract_date=extract.last_date, run=run, cohort=cohort, reference=reference,
                            feature_names=names, model={"name": "upstream-risk", "version": "0", "run_id": "bench"},
                            test_predictions=test, past_runs=[past], decisions=decisions)
    seconds["compute_report"] = time.perf_counter() - t
    t = time.perf_counter()
    write_report(report, work / "monitor", config)
    seconds["write_report"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {"cpu_seconds": round(cpu, 1), "load_average": [round(x, 1) for x in os.getloadavg()],
            "seconds": {k: round(v, 2) for k, v in seconds.items()}, "phases": report["seconds"],
            "status": report["status"], "alerts": [a["message"] for a in report["alerts"]],
            "children": len(run.scores), "matured": [m["as_of"] for m in report["outcomes"]["runs"]],
            "decisions_judged": report["decisions"]["matured"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="extract directory (default: the simulated default council)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--work", type=Path, default=WORK, help="setup cache (model, reference, scoring runs)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.data, args.work)))
        return 0
    from core.config import load_config

    data = args.data if args.data is not None else cached_default_council(load_config(), args.cache)
    work = args.work if args.data is None else args.work.with_name(args.work.name + "-" + args.data.name)
    if not (work / "last").is_file():
        t0 = time.perf_counter()
        print(f"setting up in {work} (quick model, reference, two scoring runs) ...", file=sys.stderr)
        setup(data, work)
        print(f"  set up in {time.perf_counter() - t0:.0f} s (not part of the benchmark)", file=sys.stderr)
    out = subprocess.run([sys.executable, __file__, "--measure", "--data", str(data), "--work", str(work)],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"council: {data} ({result['children']:,} children scored); matured runs: {result['matured']}; "
          f"decisions judged: {result['decisions_judged']:,}")
    print("phase seconds: " + ", ".join(f"{k} {v}" for k, v in result["seconds"].items()))
    print("inside compute_report: " + ", ".join(f"{k} {v}" for k, v in result["phases"].items()))
    print(f"status: {result['status']} ({len(result['alerts'])} alert(s))" +
          "".join(f"\n  {a}" for a in result["alerts"]))
    total = result["seconds"]["total"]
    print(f"total wall time: {total:.1f} s ({'within' if total <= TARGET_SECONDS else 'OVER'} the "
          f"{TARGET_SECONDS:.0f} s target); CPU {result['cpu_seconds']} s; peak memory {result['peak_rss_mb']:.0f} MB; "
          f"load average at the end {result['load_average']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
