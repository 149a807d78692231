"""Benchmark: time and peak memory of `upstream simulate --councils N` and `upstream train` on the region it wrote.

    .venv/bin/python benchmarks/bench_councils.py [--councils 3] [--children 5000] [--out DIR] [--skip-train]
    flock /tmp/upstream-heavy.lock nice .venv/bin/python benchmarks/bench_councils.py --children 5000

Runs the real commands (with configs/region.yaml) as child processes and samples, every 0.2 s, the resident memory
of the command's whole process tree (the command plus the worker processes it starts): prints the wall time, the
tree's peak (the sum over its processes at one moment) and the largest single process's peak. Then it prints how
the simulated councils differ (their drawn mechanism shifts beside what each council recorded: entries to care,
referrals and early help episodes per 10,000 children a year), and the per-council training table. Training logs
to a throwaway MLflow store inside --out. Never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _sampler import GB, PeakSampler  # noqa: E402

UPSTREAM = ROOT / ".venv" / "bin" / "upstream"
REGION_CONFIG = ROOT / "configs" / "region.yaml"


def tree_rss(pid: int) -> dict[str, int]:
    """Resident bytes of a process and its descendants: each one, and their sum ("tree")."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    out: dict[str, int] = {}
    for p in procs:
        try:
            out[str(p.pid)] = p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    out["tree"] = sum(out.values())
    return out


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int, str]:
    """Run a command; its wall time, peak tree memory, largest single process's peak, and stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, **(env or {})})
    with PeakSampler(lambda: tree_rss(proc.pid)) as peaks:
        out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed with exit code {proc.returncode}:\n{out}")
    single = max((v for k, v in peaks.peaks.items() if k != "tree"), default=0)
    return wall, peaks.peaks.get("tree", 0), single, out


def recorded(out: Path) -> pd.DataFrame:
    """Per council: the drawn differences (councils.json) and what it recorded, per 10,000 children a year."""
    children = pd.read_parquet(out / "children.parquet", columns=["child_id", "council", "date_of_birth",
                                                                   "arrived_on", "left_on", "deprivation_decile"])
    events = pd.read_parquet(out / "events.parquet", columns=["family_id", "event_type", "event_date"])
    events["council"] = events["family_id"].str[:3]
    start, end = events["event_date"].min(), events["event_date"].max()
    years = (end - start).days / 365.25
    rows = []
    for c in json.loads((out / "councils.json").read_text())["councils"]:
        kids = children[children["council"] == c["code"]]
        ev = events[events["council"] == c["code"]]
        per = 1e4 / (c["children"] * years)
        rows.append({"council": c["code"], "size": round(c["size"], 2), "children": c["children"],
                     "deprivation_skew": c["deprivation_skew"], "front_door": c["front_door"],
                     "early_help": c["early_help"], "care_threshold": c["care_threshold"],
                     "mean_decile": round(float(kids["deprivation_decile"].astype(float).mean()), 2),
                     **{f"{t}_per_10k_year": round(float((ev["event_type"] == t).sum()) * per)
                        for t in ("referral", "early_help", "looked_after")}})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--councils", type=int, default=3)
    parser.add_argument("--children", type=int, default=5000, help="per council, on average")
    parser.add_argument("--out", type=Path, default=Path("/tmp/upstream-bench-councils"))
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    data = args.out / "region"
    wall, tree, single, _ = run([str(UPSTREAM), "simulate", "--councils", str(args.councils), "--children",
                                 str(args.children), "--out", str(data), "--config", str(REGION_CONFIG)])
    children = len(pd.read_parquet(data / "children.parquet", columns=["child_id"]))
    print(f"upstream simulate --councils {args.councils} --children {args.children}: {wall:.0f} s; peak memory "
          f"{tree / GB:.2f} GB over the process tree, largest process {single / GB:.2f} GB; "
          f"{children:,} children ever resident", flush=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(recorded(data).to_string(index=False), flush=True)
    if args.skip_train:
        return
    store = f"sqlite:///{args.out.resolve()}/mlflow.db"
    wall, tree, single, out = run([str(UPSTREAM), "train", "--data", str(data), "--config", str(REGION_CONFIG)],
                                  env={"MLFLOW_TRACKING_URI": store})
    print(f"upstream train (region of {args.councils}; own model per council, then the pooled model): {wall:.0f} s; "
          f"peak memory {tree / GB:.2f} GB over the process tree, largest process {single / GB:.2f} GB", flush=True)
    print(out)


if __name__ == "__main__":
    main()
