"""A region of councils on a local Dask cluster beside one process: features, training and scoring; time and memory.

    .venv/bin/python benchmarks/bench_region.py --councils 10 --children 3000            # a small region, to validate
    flock /tmp/upstream-heavy.lock nice .venv/bin/python benchmarks/bench_region.py --councils 10 --children 56000
    .venv/bin/python benchmarks/bench_region.py --data REGION_DIR                        # an extract already made

The region: `--councils` councils simulated as independent runs of the simulator (as `upstream simulate
--children N --seed S`; seeds 1001, 1002, ...; without the oracle's truth, which would only add client memory;
cached under `--cache`), concatenated (child and family ids are keyed hashes, so they do not collide:
checked; event ids are numbered per council, so they get the council's number as a prefix). The councils share the
default config's hubs and carry no `council` column (this benchmark predates `simulate --councils`, whose region
adds per-council own models, about one more training, on top).

Dask (a LocalCluster of `--workers` processes x 1 thread, `--memory-limit` each): the training table built on the
workers and kept there, cut to what training reads (`training.distributed.training_frame`), trained with
LightGBM's Dask trainer and evaluated from predictions made by partition (`training.distributed.fit_evaluate_dask`),
then the latest month end scored with TreeSHAP by partition (`serving.distributed.DaskScorer`). Per stage: wall
time, the peak resident memory of each worker (sampled every 0.5 s through `client.run`) and of this (the client)
process.

Single process (unless `--skip-single`), in a child process so that its peak is its own and a failure does not
end the benchmark: `build_features`, `fit_evaluate` and `score_cohort`, each stage's wall time and peak; the child
is killed if it passes `--single-limit` (a shared machine), which is reported as its failure at that size.
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

from _sampler import GB, PeakSampler, process_rss  # noqa: E402

from core.config import load_config  # noqa: E402


def process_peak() -> PeakSampler:
    """This process's peak resident set size while the block runs (sampled)."""
    return PeakSampler(lambda: {"process": process_rss()})


def worker_peaks(client) -> PeakSampler:
    """Each Dask worker's peak resident memory while the block runs (sampled through client.run)."""

    def sample() -> dict[str, int]:
        try:
            return client.run(process_rss)
        except Exception:  # a worker restarting between samples
            return {}

    return PeakSampler(sample, interval=0.5)


def make_region(councils: int, children: int, cache: Path) -> Path:
    """`councils` simulated councils (cached), concatenated into one extract directory; returns it."""
    region = cache / f"region_{councils}x{children}"
    if (region / "events.parquet").is_file():
        return region
    parts = []
    for i in range(councils):
        out = cache / f"council_{children}_{1001 + i}"
        if not (out / "events.parquet").is_file():
            t0 = time.perf_counter()
            # what `upstream simulate --children N --seed S` writes, without the oracle's truth (not used here)
            code = ("import sys; from core.config import load_config; from synthetic import simulate; "
                    "c = simulate(load_config(), children=int(sys.argv[1]), seed=int(sys.argv[2]), truth=False); "
                    "c.children.to_parquet(sys.argv[3] + '/children.parquet', index=False); "
                    "c.events.to_parquet(sys.argv[3] + '/events.parquet', index=False)")
            out.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-c", code, str(children), str(1001 + i), str(out)], check=True, cwd=ROOT)
            print(f"simulated council {i + 1}/{councils} in {time.perf_counter() - t0:.0f}s", flush=True)
        parts.append(out)
    region.mkdir(parents=True, exist_ok=True)
    for table, key in (("children", "child_id"), ("events", "event_id")):
        pieces = [pd.read_parquet(p / f"{table}.parquet") for p in parts]
        if table == "events":  # event ids are numbered per council: prefix the council
            for i, piece in enumerate(pieces):
                piece["event_id"] = f"R{i + 1:02d}-" + piece["event_id"].astype(str)
        frame = pd.concat(pieces, ignore_index=True)
        if frame[key].duplicated().any() or (table == "children" and _families_collide(pieces)):
            raise SystemExit(f"{table}: {key} collides across councils")
        frame.to_parquet(region / f"{table}.parquet", index=False)
    return region


def _families_collide(pieces: list[pd.DataFrame]) -> bool:
    seen: set[str] = set()
    for piece in pieces:
        families = set(piece["family_id"])
        if seen & families:
            return True
        seen |= families
    return False


def headline(result) -> str:
    o = result.metrics["test"]["model"]["overall"]
    return (f"test PR-AUC {o['pr_auc']:.4f} ({o['pr_auc_ci_low']:.4f}-{o['pr_auc_ci_high']:.4f}), ROC-AUC "
            f"{o['roc_auc']:.4f}, rounds {result.model.best_iteration_}; rows {result.rows}; seconds "
            + ", ".join(f"{k.removesuffix('_seconds')} {v:.0f}" for k, v in result.timings.items()))


def single_stages(data: Path, config_path: Path | None) -> None:
    """The child process: the single-process path, stage by stage, one JSON line per stage."""
    import features
    from features.timeline import month_end_on_or_before
    from serving.scoring import score_cohort
    from training.fit import fit_evaluate
    from training.pipeline import training_grid

    config = load_config(config_path)
    extract = features.load_extract(data, hubs=config.contract_hubs)
    last = extract.last_date

    def report(stage: str, seconds: float, peak: int, **extra) -> None:
        print(json.dumps({"stage": stage, "seconds": seconds, "peak": peak, **extra}), flush=True)

    with process_peak() as peak:
        t0 = time.perf_counter()
        table = features.build_features(extract, training_grid(extract, config, extract_date=last), config,
                                        extract_date=last)
    report("features", time.perf_counter() - t0, peak.peak, rows=len(table))
    with process_peak() as peak:
        t0 = time.perf_counter()
        handover = [table]
        del table
        result = fit_evaluate(handover.pop(), config, extract_date=last)
    report("training", time.perf_counter() - t0, peak.peak, headline=headline(result))
    with process_peak() as peak:
        t0 = time.perf_counter()
        cohort = features.build_features(extract, [month_end_on_or_before(last)], config, extract_date=last)
        scored = score_cohort(result.served_model(), cohort, config, data_fingerprint=extract.fingerprint())
    report("scoring", time.perf_counter() - t0, peak.peak, children=len(scored.scores))


def run_single(data: Path, config_path: Path | None, limit_gb: float) -> None:
    cmd = [sys.executable, __file__, "--single-child", "--data", str(data)]
    if config_path is not None:
        cmd += ["--config", str(config_path)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    proc = psutil.Process(child.pid)
    killed = {"at": 0}

    def sample() -> dict[str, int]:
        try:
            rss = proc.memory_info().rss
        except psutil.Error:
            return {}
        if rss > limit_gb * GB and not killed["at"]:
            killed["at"] = rss
            child.kill()
        return {"single": rss}

    t0 = time.perf_counter()
    stage = "load"
    with PeakSampler(sample, interval=0.2) as overall:
        for line in child.stdout:
            got = json.loads(line)
            stage = got["stage"]
            extra = {k: v for k, v in got.items() if k not in ("stage", "seconds", "peak")}
            print(f"single process, {stage}: {got['seconds']:.1f}s, peak {got['peak'] / GB:.2f} GB; {extra}",
                  flush=True)
        child.wait()
    wall = time.perf_counter() - t0
    if killed["at"]:
        print(f"single process: FAILED - killed at {killed['at'] / GB:.2f} GB (limit {limit_gb} GB) after the "
              f"'{stage}' stage, {wall:.0f}s in", flush=True)
    elif child.returncode != 0:
        print(f"single process: FAILED with exit code {child.returncode} after '{stage}' ({wall:.0f}s)", flush=True)
    else:
        print(f"single process total: {wall:.0f}s (with loading), peak {overall.peak / GB:.2f} GB", flush=True)


def run_dask(data: Path, config_path: Path | None, workers: int, memory_limit: str) -> None:
    import dask
    from distributed import wait

    import features
    from features.distributed import dask_client
    from features.timeline import month_end_on_or_before
    from serving.distributed import DaskScorer
    from training.distributed import fit_evaluate_dask, training_frame
    from training.pipeline import training_grid

    config = load_config(config_path)
    t0 = time.perf_counter()
    extract = features.load_extract(data, hubs=config.contract_hubs)
    last = extract.last_date
    dates = training_grid(extract, config, extract_date=last)
    print(f"region: {len(extract.children):,} children ever resident, {len(extract.events):,} events; {len(dates)} "
          f"as-of dates {dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d}; loaded in {time.perf_counter() - t0:.0f}s; client "
          f"{process_rss() / GB:.2f} GB", flush=True)

    def line(stage: str, wall: float, w: PeakSampler, c: PeakSampler, extra: str = "") -> None:
        per_worker = ", ".join(f"{rss / GB:.2f}" for rss in w.peaks.values())
        print(f"Dask, {stage}: {wall:.1f}s; worker peaks {per_worker} GB (limit {memory_limit} each); client peak "
              f"{c.peak / GB:.2f} GB{extra}", flush=True)

    with dask_client(workers=workers, memory_limit=memory_limit) as client, \
            dask.config.set({"dataframe.convert-string": False}):
        total = time.perf_counter()
        with worker_peaks(client) as w, process_peak() as c:
            t1 = time.perf_counter()
            # what `upstream train --workers` keeps: each partition cut on its worker to the rows and columns
            # training reads (`training_frame`)
            table = client.persist(training_frame(extract, dates, config, client=client, extract_date=last))
            wait(table)
            rows = len(table)
        line("features", time.perf_counter() - t1, w, c, f"; {rows:,} rows in {table.npartitions} family partitions")
        with worker_peaks(client) as w, process_peak() as c:
            t2 = time.perf_counter()
            result = fit_evaluate_dask(table, config, client=client, extract_date=last)
        line("training", time.perf_counter() - t2, w, c, f"; {headline(result)}")
        del table
        with worker_peaks(client) as w, process_peak() as c:
            t3 = time.perf_counter()
            scorer = DaskScorer(client)  # the CohortScorer `upstream score --workers` uses: build, then score
            cohort = scorer.build(extract, month_end_on_or_before(last), config, extract_date=last)
            scored = scorer.score(result.served_model(), cohort, config, data_fingerprint=extract.fingerprint(),
                                  extract_date=last)
        line("scoring", time.perf_counter() - t3, w, c,
             f"; {len(scored.scores):,} children, {int(scored.families['listed'].sum())} families listed")
        print(f"Dask total: {time.perf_counter() - total:.0f}s (features, training, scoring)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="an extract directory instead of simulating")
    parser.add_argument("--councils", type=int, default=10)
    parser.add_argument("--children", type=int, default=56_000, help="per council (simulate --children)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/upstream-region"))
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GiB", help="per worker")
    parser.add_argument("--single-limit", type=float, default=12.0, help="GB: the single process is killed above")
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--single-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single_child:
        single_stages(args.data, args.config)
        return
    os.environ.setdefault("UPSTREAM_THREADS", "1")
    data = args.data or make_region(args.councils, args.children, args.cache)
    if not args.skip_dask:
        run_dask(data, args.config, args.workers, args.memory_limit)
    if not args.skip_single:
        run_single(data, args.config, args.single_limit)


if __name__ == "__main__":
    main()
