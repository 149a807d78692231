"""The default simulated council for benchmarks: simulated once into a cache directory and reused."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "upstream-bench-council"


def cached_default_council(config, cache: Path = DEFAULT_CACHE) -> Path:
    """The directory holding the default council's tables, simulating it first if the cache is empty.

    The simulation time is reported on stderr and is never part of a benchmark's figures."""
    if not ((cache / "children.parquet").is_file() and (cache / "events.parquet").is_file()):
        import synthetic

        t0 = time.perf_counter()
        print(f"simulating the default council ({config.simulation.children:,} children) into {cache} ...",
              file=sys.stderr)
        synthetic.simulate(config).write(cache)
        print(f"  simulated in {time.perf_counter() - t0:.0f} s (not part of the benchmark)", file=sys.stderr)
    return cache
