"""Features for a council or region on a local Dask cluster beside the single-process builder: time and memory.

    .venv/bin/python benchmarks/bench_region.py --data DIR [--workers 2] [--memory-limit 3GiB] [--dates 20]
    flock /tmp/upstream-heavy.lock nice .venv/bin/python benchmarks/bench_region.py --data DEFAULT_COUNCIL

Prints, for the same extract and as-of dates: the single-process build (wall time, this process's peak
resident memory growth), and the Dask build on a LocalCluster of `--workers` processes x 1 thread with a
memory limit each (wall time, the peak resident memory of each worker, sampled every 0.5 s), and checks that
the two tables are identical. A skeleton for issue 18's regional benchmark: training (DaskLGBMClassifier) and
scoring on Dask are not built yet, and `simulate --councils N` does not exist yet, so a "region" here is
whatever extract --data holds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="extract directory (children.*, events.*)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GiB", help="per worker")
    parser.add_argument("--partitions", type=int, default=None, help="family partitions (default 4 per worker)")
    parser.add_argument("--dates", type=int, default=20, help="the latest N dates of the configured grid")
    parser.add_argument("--skip-single", action="store_true", help="only the Dask build")
    args = parser.parse_args()

    import features
    from features.distributed import build_features_dask, dask_client

    config = load_config(args.config)
    t0 = time.perf_counter()
    extract = features.load_extract(args.data, hubs=config.contract_hubs)
    dates = features.as_of_grid(extract, config)[-args.dates:]
    print(f"extract: {len(extract.children):,} children, {len(extract.events):,} events; {len(dates)} as-of dates "
          f"{dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d}; loaded in {time.perf_counter() - t0:.0f}s; "
          f"process {process_rss() / GB:.2f} GB", flush=True)

    single = None
    if not args.skip_single:
        base = process_rss()
        with process_peak() as peak:
            t1 = time.perf_counter()
            single = features.build_features(extract, dates, config)
            wall = time.perf_counter() - t1
        print(f"single process: {len(single):,} rows in {wall:.1f}s; peak {peak.peak / GB:.2f} GB "
              f"(+{(peak.peak - base) / GB:.2f} GB over the loaded extract)", flush=True)

    with dask_client(workers=args.workers, memory_limit=args.memory_limit) as client:
        with worker_peaks(client) as workers, process_peak() as peak:
            t2 = time.perf_counter()
            table = build_features_dask(extract, dates, config, client=client, n_partitions=args.partitions)
            wall = time.perf_counter() - t2
        per_worker = ", ".join(f"{rss / GB:.2f}" for rss in workers.peaks.values())
        print(f"Dask, {args.workers} workers x 1 thread, limit {args.memory_limit} each: {len(table):,} rows in "
              f"{wall:.1f}s; worker peaks {per_worker} GB; client process peak {peak.peak / GB:.2f} GB", flush=True)
    if single is not None:
        pd.testing.assert_frame_equal(table, single, check_exact=True)
        print("tables identical: yes")
    print("training and scoring on Dask: not built yet (issue 18, a later session)")


if __name__ == "__main__":
    main()
