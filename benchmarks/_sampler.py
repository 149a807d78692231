"""Peak resident memory sampled on a background thread while a block runs (the benchmarks' one sampler)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil

GB = 1024 ** 3


def process_rss() -> int:
    """This process's resident set size now."""
    return psutil.Process().memory_info().rss


class PeakSampler:
    """Calls `sample()` (key -> resident bytes) every `interval` seconds and keeps each key's peak in `peaks`."""

    def __init__(self, sample: Callable[[], dict[str, int]], interval: float = 0.2) -> None:
        self.sample, self.interval = sample, interval
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def peak(self) -> int:
        """The largest peak over every key."""
        return max(self.peaks.values(), default=0)

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, rss in self.sample().items():
                self.peaks[key] = max(self.peaks.get(key, 0), rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
