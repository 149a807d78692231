"""The simulator's hook for early help offered from outside the mechanism: a saved run steps on exactly as the
original; offered episodes are recorded, closed in order, and change nothing at effect 0."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd

from core.config import parse_config
from synthetic import CouncilRun, close_offered_help, open_offered_help, simulate
from synthetic._calendar import month_end

CONFIG = parse_config({"council": {"hubs": [{"name": "Northfield", "capacity": 3}, {"name": "Riverside",
                                                                                  "capacity": 4}]}})
SMALL = {"children": 1500, "seed": 5, "start": "2014-04", "end": "2016-03"}


def test_a_saved_run_steps_on_exactly_as_simulate_does():
    whole = simulate(CONFIG, truth=False, **SMALL)
    run = CouncilRun.start(CONFIG, **SMALL)
    run.advance(run.m1 - 6)
    saved = copy.deepcopy(run)
    saved.advance(saved.m1)
    pd.testing.assert_frame_equal(saved.tables().events, whole.events)
    pd.testing.assert_frame_equal(saved.tables().children, whole.children)
    assert run.m == run.m1 - 6  # the copy moved on, the original did not


def _offered(effect: float) -> tuple[CouncilRun, np.ndarray]:
    run = CouncilRun.start(CONFIG, **SMALL)
    run.advance(run.m1 - 12)
    run.mech = dataclasses.replace(run.mech, offered_help_effect=effect)
    k = run.st.kid
    families = np.unique(k["fam"][k["res"] & ~k["incare"]])[:300]
    m = run.m + 1
    kids = open_offered_help(run.st, families, m, np.random.default_rng(3), run.rec, monthly_close=0.15)
    ids = run.child_ids()[kids]  # rows move when the state sheds; ids do not
    for month in range(m, run.m1 + 1):
        run.advance(month)
        close_offered_help(run.st, month, run.rec)
    return run, ids


def test_offered_episodes_are_recorded_and_closed_in_order():
    run, ids = _offered(0.0)
    events = run.tables().events
    start = pd.Timestamp(f"{month_end(run.m1 - 11):%Y-%m}-01")
    offered = events[(events["event_type"] == "early_help") & events["child_id"].isin(ids)
                     & (events["event_date"] == start)]
    assert set(offered["child_id"]) == set(ids)
    closed = offered.dropna(subset=["end_date"])
    assert len(closed) > len(offered) / 2  # 15% close a month: most have closed after 12 months
    assert (closed["end_date"] >= closed["event_date"]).all()
    k = run.st.kid
    # a child who entered care or left has no offered episode open
    assert not ((k["offered_ev"] >= 0) & (k["incare"] | ~k["res"])).any()


def test_offered_help_at_effect_zero_changes_no_outcome():
    plain = CouncilRun.start(CONFIG, **SMALL)
    plain.advance(plain.m1)
    run, _ = _offered(0.0)
    assert np.array_equal(plain.st.kid["incare"], run.st.kid["incare"])
    assert plain.st.offered_averted == run.st.offered_averted == 0.0
    helped, _ = _offered(0.5)
    assert helped.st.offered_averted > 0
