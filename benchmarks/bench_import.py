"""Benchmark: wall time, CPU time and peak memory of `upstream import` on the simulated council's returns.

Run:  flock /tmp/upstream-heavy.lock .venv/bin/python benchmarks/bench_import.py [--children N] [--returns DIR]
Without --returns it simulates the council (default size from the config), writes its returns (seven collection
years: 903, CIN census XML and Annex A per year, residence, family links, partner feed) to a temporary folder,
then imports them in a fresh process and prints that process's time and peak resident memory, and those of the
process that checks the CIN files against their XSDs beside it (the target for the default council: 60 s and
4 GB). Never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT = """
import resource, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
from core.config import load_config
from statutory import load_manifest, run_import
res = run_import(load_manifest(sys.argv[1]), b"benchmark-key-0123456789", hubs=load_config(None).council.hub_names)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
worker = resource.getrusage(resource.RUSAGE_CHILDREN)   # the CIN schema checks' process (statutory/_schema.py)
print(f"import: {wall:.1f} s wall, {cpu:.1f} s CPU (+ {worker.ru_utime + worker.ru_stime:.1f} s CPU in the schema "
      f"check process); children {len(res.children):,}, events {len(res.events):,}")
main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"peak memory: import process {main_mb:,.0f} MB, schema check process {worker.ru_maxrss / 1024:,.0f} MB "
      f"(together at most {main_mb + worker.ru_maxrss / 1024:,.0f} MB)")
checked = [c for c in res.report["schema_checks"] if c["schema"]]
print(f"CIN files schema-checked: {len(checked)} of {len(res.report['schema_checks'])}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=None, help="default: config simulation.children")
    parser.add_argument("--returns", default=None, help="import these returns (a folder with manifest.yaml)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        returns = Path(args.returns) if args.returns else Path(tmp) / "returns"
        if not args.returns:
            from core.config import load_config
            from statutory import write_returns
            from synthetic import simulate

            council = simulate(load_config(), children=args.children)
            t0 = time.perf_counter()
            got = write_returns(council.children, council.events, returns, extract_date=council.extract_date)
            print(f"write returns ({got['years'][0]}..{got['years'][-1]}): {time.perf_counter() - t0:.1f} s; "
                  f"{len(council.children):,} children, {len(council.events):,} events simulated")
            size = sum(p.stat().st_size for p in returns.rglob("*") if p.is_file())
            print(f"returns on disk: {size / 2**20:,.0f} MB")
            del council
        subprocess.run([sys.executable, "-c", IMPORT, str(returns / "manifest.yaml")], check=True)
    print(f"(benchmark process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB, "
          "simulation and writing included)")


if __name__ == "__main__":
    main()
