"""Benchmark build_features: time, peak memory, rows/s and events/s on a council-sized history, and the
latency of the small-input path (one family, one as-of date) that the web API uses.

    .venv/bin/python benchmarks/bench_features.py                 # simulated council if synthetic exists
    .venv/bin/python benchmarks/bench_features.py --random        # a random history of realistic size
    .venv/bin/python benchmarks/bench_features.py --cache DIR     # where the input extract is cached

The full build runs in a fresh child process so its peak RSS is its own (getrusage of the child).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402
from core.contract import (  # noqa: E402
    CP_CATEGORIES,
    EPISODE_EVENT_TYPES,
    ETHNICITY_CODES,
    EVENT_TYPES,
    NEED_CATEGORIES,
    SOURCED_EVENT_TYPES,
    SOURCES,
)
from core.io import write_parquet  # noqa: E402
from features import Extract, as_of_grid, build_features  # noqa: E402

START, END = pd.Timestamp("2010-04-01"), pd.Timestamp("2017-03-31")
# relative frequency of each event type in the random history
WEIGHTS = {
    "contact": 20, "referral": 8, "assessment": 6, "section_47": 2, "cin_plan": 2, "cp_plan": 1,
    "early_help": 3, "looked_after": 0.4, "domestic_abuse_notification": 8, "missing_episode": 2,
    "youth_offence": 2, "school_persistent_absence": 8, "school_exclusion": 3, "ae_attendance": 20,
    "health_visitor_concern": 4, "adult_mental_health": 4, "adult_substance_misuse": 3, "homelessness": 1,
}
FAMILY_LEVEL = {"domestic_abuse_notification", "adult_mental_health", "adult_substance_misuse", "homelessness"}


def random_history(n_children: int = 56_000, n_events: int = 2_000_000, seed: int = 0) -> Extract:
    """Random families and events with the contract's shape (not its realism): for speed and memory only."""
    rng = np.random.default_rng(seed)
    hubs = load_config().council.hub_names
    n_fam = n_children * 10 // 23
    fam = np.sort(rng.integers(0, n_fam, n_children))
    dob = START - pd.to_timedelta(rng.integers(-6 * 365, 18 * 365, n_children), "D")
    arrived = np.maximum(dob, START - pd.to_timedelta(rng.integers(-6 * 365, 5 * 365, n_children), "D"))
    leaves = rng.random(n_children) < 0.15
    left = arrived + pd.to_timedelta(rng.integers(30, 3000, n_children), "D")
    left = pd.Series(left).where(leaves & (left <= END), pd.NaT)
    family_hub = rng.integers(0, len(hubs), n_fam)
    family_dep = rng.integers(1, 11, n_fam)
    children = pd.DataFrame({
        "child_id": [f"C{i:06d}" for i in range(n_children)],
        "family_id": [f"F{f:06d}" for f in fam],
        "date_of_birth": pd.DatetimeIndex(dob), "sex": rng.choice(["male", "female"], n_children),
        "ethnicity": rng.choice(ETHNICITY_CODES, n_children), "disability": rng.choice(["yes", "no"], n_children),
        "hub": np.asarray(hubs, dtype=object)[family_hub[fam]],
        "deprivation_decile": pd.array(family_dep[fam], dtype="Int64"),
        "arrived_on": pd.DatetimeIndex(arrived), "left_on": left.to_numpy(),
    })
    types = np.asarray(list(WEIGHTS), dtype=object)
    w = np.asarray(list(WEIGHTS.values()))
    etype = rng.choice(types, n_events, p=w / w.sum())
    # concentrate events on a minority of children, as real contact histories are
    child = (rng.pareto(1.2, n_events) * n_children / 20).astype(np.int64) % n_children
    child = rng.permutation(n_children)[child]
    span = (END - START).days
    date = START + pd.to_timedelta(rng.integers(0, span, n_events), "D")
    family_level = np.isin(etype, list(FAMILY_LEVEL))
    episode = np.isin(etype, EPISODE_EVENT_TYPES)
    end = date + pd.to_timedelta(rng.integers(30, 900, n_events), "D")
    end = pd.Series(end).where(episode & (end <= END), pd.NaT)
    source = np.where(np.isin(etype, SOURCED_EVENT_TYPES), rng.choice(SOURCES, n_events), None)
    detail = np.full(n_events, None, dtype=object)
    detail[etype == "cp_plan"] = rng.choice(CP_CATEGORIES, (etype == "cp_plan").sum())
    detail[etype == "looked_after"] = rng.choice(NEED_CATEGORIES, (etype == "looked_after").sum())
    detail[etype == "school_exclusion"] = "suspension"
    detail[etype == "assessment"] = "2B"
    events = pd.DataFrame({
        "event_id": [f"E{i:08d}" for i in range(n_events)],
        "family_id": children["family_id"].to_numpy()[child],
        "child_id": np.where(family_level, None, children["child_id"].to_numpy()[child]),
        "event_type": etype, "event_date": pd.DatetimeIndex(date), "end_date": end.to_numpy(),
        "source": source, "detail": detail,
    })
    assert set(events["event_type"]) <= set(EVENT_TYPES)
    return Extract(children=children, events=events)


def load_input(cache: Path, use_random: bool) -> tuple[Extract, str]:
    """The benchmark input: the simulated council when synthetic.simulate exists, else a random history;
    cached as Parquet under `cache`."""
    kind = "random"
    if not use_random:
        try:
            from synthetic import simulate
            kind = "simulated"
        except ImportError:
            print("synthetic.simulate not available: using a random history of realistic size")
    d = cache / kind
    if not (d / "events.parquet").exists():
        t0 = time.perf_counter()
        if kind == "simulated":
            from synthetic import simulate
            council = simulate(load_config())
            ex = Extract(children=council.children, events=council.events)
        else:
            ex = random_history()
        write_parquet(ex.children, d / "children.parquet")
        write_parquet(ex.events, d / "events.parquet")
        print(f"generated {kind} input in {time.perf_counter() - t0:.1f} s, cached in {d}")
    return Extract(children=pd.read_parquet(d / "children.parquet"),
                   events=pd.read_parquet(d / "events.parquet"), source=d), kind


def _full_build(cache: str, use_random: bool, out: mp.Queue) -> None:
    ex, kind = load_input(Path(cache), use_random)
    cfg = load_config()
    dates = as_of_grid(ex, cfg)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    table = build_features(ex, dates, cfg)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put({"kind": kind, "children": len(ex.children), "events": len(ex.events), "dates": len(dates),
             "rows": len(table), "columns": table.shape[1], "seconds": elapsed, "peak_mb": peak / 1024,
             "rss_before_mb": before / 1024, "table_mb": table.memory_usage(deep=False).sum() / 2**20,
             "labelled": int(table["label"].notna().sum()), "positives": int(table["label"].sum())})


def small_input(ex: Extract, repeats: int = 200) -> dict[str, float]:
    """Latency of one family at one as-of date (what the web API does for a posted family)."""
    cfg = load_config()
    sizes = ex.events.groupby("family_id").size()
    fam = sizes[sizes.between(20, 60)].index[0] if (sizes.between(20, 60)).any() else sizes.idxmax()
    small = Extract(children=ex.children[ex.children["family_id"] == fam].reset_index(drop=True),
                    events=ex.events[ex.events["family_id"] == fam].reset_index(drop=True))
    as_of = as_of_grid(ex, cfg)[-1]
    build_features(small, [as_of], cfg)  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        build_features(small, [as_of], cfg, extract_date=as_of)
        times.append(time.perf_counter() - t0)
    return {"children": len(small.children), "events": len(small.events), "median_ms": statistics.median(times)
            * 1e3, "p95_ms": float(np.percentile(times, 95) * 1e3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "upstream_bench",
                    help="input cache directory")
    ap.add_argument("--random", action="store_true", help="use a random history even if synthetic exists")
    args = ap.parse_args()
    ex, kind = load_input(args.cache, args.random)  # generate (and cache) outside the measured process
    q: mp.Queue = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=_full_build, args=(str(args.cache), args.random, q))
    p.start()
    r = q.get()
    p.join()
    print(f"input: {kind}, {r['children']:,} children, {r['events']:,} events, {r['dates']} quarterly as-of dates")
    print(f"full build: {r['seconds']:.1f} s, peak RSS {r['peak_mb']:,.0f} MB "
          f"(after loading input {r['rss_before_mb']:,.0f} MB), table {r['table_mb']:,.0f} MB")
    print(f"rows: {r['rows']:,} x {r['columns']} columns; {r['rows'] / r['seconds']:,.0f} rows/s; "
          f"{r['events'] / r['seconds']:,.0f} events/s")
    print(f"labels: {r['labelled']:,} observed, {r['positives']:,} positive")
    s = small_input(ex)
    print(f"small input ({s['children']} children, {s['events']} events, 1 as-of date): "
          f"median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
