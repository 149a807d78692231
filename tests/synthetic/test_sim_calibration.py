"""Calibration to the case study: every figure measured from the contract tables, beside its target."""

from __future__ import annotations

import time

import pytest

from core.config import load_config
from synthetic import SimulatedCouncil, simulate
from synthetic.calibration import TARGETS, measure, table


def test_small_council_is_near_every_target(council: SimulatedCouncil) -> None:
    # ~8,000 children: twice the tolerances (the full-size check is in the slow suite)
    got = measure(council)
    misses = {k: (round(got[k], 3), t.target) for k, t in TARGETS.items()
              if k != "truth_honesty" and abs(got[k] - t.target) > 2 * t.tolerance}
    assert not misses, table(got)


def test_table_shows_measured_beside_target() -> None:
    text = table({k: t.target for k, t in TARGETS.items()})
    assert text.count("\n") == len(TARGETS) + 1 and "| yes |" in text and "| no |" not in text


@pytest.mark.slow
def test_default_council_meets_every_target() -> None:
    t0 = time.perf_counter()
    council = simulate(load_config())
    elapsed = time.perf_counter() - t0
    got = measure(council)
    misses = {k: round(got[k], 3) for k, t in TARGETS.items() if not t.ok(got[k])}
    assert not misses, table(got)
    assert len(council.truth) > 400_000 and council.truth["p_true_se"].gt(0).any()
    assert 1_000_000 <= len(council.events) <= 3_000_000
    assert elapsed < 600  # the benchmark reports the real figure; this only catches a collapse
