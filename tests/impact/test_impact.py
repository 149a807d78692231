"""upstream impact on a small simulated council: common random numbers, capacity, eligibility, offered help in the
records, bad arguments, the written report."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import UpstreamError
from impact import ImpactSettings, prepare, run_study
from impact._policies import Cohort, capacities, choose
from impact._report import write_impact
from impact._run import _features, eligible_families
from impact._study import Study
from synthetic import open_offered_help
from tests.helpers.training import SIM_CHILDREN, SIM_SEED, fitted, small_config

COUNCIL = {"children": SIM_CHILDREN, "seed": SIM_SEED}
MONTHS = 6


@pytest.fixture(scope="module")
def setup():
    """The small council saved at its end, and the small model tagged with that council's fingerprint."""
    config = small_config()
    run, fingerprint = prepare(config, None, **COUNCIL)
    model = fitted().risk_model().registered(tags={"data_fingerprint": fingerprint})
    return config, run, model


@pytest.fixture(scope="module")
def study(setup) -> Study:
    config, _, model = setup
    settings = ImpactSettings(effects=(0.0, 0.5), months=MONTHS, seeds=2, curve=(1.0, 2.0))
    return run_study(config, model, settings, workers=1, **COUNCIL)


def _by(study: Study, policy: str, effect: float, seed: int = 0, capacity: float = 1.0):
    return next(o for o in study.outcomes if o.spec.policy == policy and o.spec.effect == effect
                and o.spec.seed == seed and o.spec.capacity == capacity)


def test_effect_zero_gives_every_policy_the_same_outcomes(study):
    for seed in (0, 1):
        none = _by(study, "none", 0.0, seed)
        assert len(none.entry_month) > 0
        for policy in ("model", "rule", "random"):
            o = _by(study, policy, 0.0, seed)
            assert o.offer_accepted.sum() > 0  # offers were made and accepted: the sameness is not for want of them
            np.testing.assert_array_equal(o.entry_child, none.entry_child)
            np.testing.assert_array_equal(o.entry_month, none.entry_month)
            assert o.looked_after_end == none.looked_after_end
            assert o.expected_averted == 0.0
    # different seeds are different futures
    assert not np.array_equal(_by(study, "none", 0.0, 0).entry_child, _by(study, "none", 0.0, 1).entry_child)


def test_a_positive_effect_is_expected_to_prevent_entries_among_the_helped(study):
    for policy in ("model", "rule", "random"):
        assert _by(study, policy, 0.5).expected_averted > 0
    # lists rank risk: the model's offers reach children more likely to enter care than random offers do
    assert _by(study, "model", 0.5).expected_averted > _by(study, "random", 0.5).expected_averted


def test_offers_never_exceed_any_hub_capacity(study, setup):
    config = setup[0]
    for o in study.outcomes:
        cap = capacities(config, o.spec.capacity)
        counts = pd.crosstab(o.offer_month, o.offer_hub)
        for hub in counts.columns:
            assert (counts[hub] <= cap[hub]).all(), o.spec
    # twice the capacity offers more
    assert len(_by(study, "model", 0.5, capacity=2.0).offer_month) > len(_by(study, "model", 0.5).offer_month)


def test_policies_offer_only_to_eligible_families(setup):
    config, snapshot, model = setup
    run = copy.deepcopy(snapshot)
    k = run.st.kid
    # put one family's child on a CP plan: it is open to social care and must never be offered
    at_home = np.flatnonzero(k["res"] & ~k["incare"] & ~k["cp"])
    k["cp"][at_home[0]] = True
    eligible = eligible_families(run, {}, run.m + 1)
    assert k["fam"][at_home[0]] not in set(eligible)
    busy = k["incare"] | k["eh"] | k["cin"] | k["cp"]
    assert not np.isin(eligible, k["fam"][busy]).any()
    cohort = Cohort(eligible=eligible, hub=run.st.fam["hub"].astype(np.int64), capacity=capacities(config, 1.0),
                    features=_features(run, config, model), family_ids=run.family_ids())
    keys = np.random.default_rng(0).random(run.st.n_fam)
    for policy in ("model", "rule", "random"):
        chosen = choose(policy, cohort, keys=keys, model=model)
        assert len(chosen) == capacities(config, 1.0).sum()
        assert np.isin(chosen, eligible).all(), policy
    # a declined offer is not repeated within the year
    declined = run.st.fam["uid"][eligible[0]]
    assert eligible[0] not in set(eligible_families(run, {int(declined): run.m + 5}, run.m + 1))


def test_offered_help_is_in_the_records_the_next_lists_read(setup):
    config, snapshot, _ = setup
    run = copy.deepcopy(snapshot)
    before = _features(run, config, None).set_index("child_id")
    eligible = eligible_families(run, {}, run.m + 1)
    family = eligible[:1]
    m = run.m + 1
    kids = open_offered_help(run.st, family, m, np.random.default_rng(1), run.rec, monthly_close=0.01)
    assert len(kids) > 0
    run.advance(m)
    after = _features(run, config, None).set_index("child_id")
    child_ids = [c for c in run.child_ids()[kids] if c in after.index]
    assert child_ids
    assert (before.loc[child_ids, "early_help_open"] == 0).all()
    assert (after.loc[child_ids, "early_help_open"] == 1).all()
    assert (after.loc[child_ids, "n_early_help_3m"] >= 1).all()


def test_bad_arguments_are_one_clear_error(setup):
    config, _, model = setup
    for settings, flag in [(ImpactSettings(policies=("magic",)), "--policy magic"),
                           (ImpactSettings(effects=(1.5,)), "--effect 1.5"),
                           (ImpactSettings(uptake=0.0), "--uptake"),
                           (ImpactSettings(months=0), "--months"),
                           (ImpactSettings(seeds=0), "--seeds"),
                           (ImpactSettings(curve=(-1.0,)), "--capacity")]:
        with pytest.raises(UpstreamError, match=flag):
            settings.check()
    with pytest.raises(UpstreamError, match="--start 2016-01: .*months it has seen"):
        prepare(config, None, start="2016-01", **COUNCIL)
    with pytest.raises(UpstreamError, match="--start"):
        prepare(config, None, start="March", **COUNCIL)
    stranger = model.registered(tags={"data_fingerprint": "0123456789abcdef"})
    with pytest.raises(UpstreamError, match="trained on another extract"):
        prepare(config, stranger, **COUNCIL)
    with pytest.raises(UpstreamError, match="no data_fingerprint"):
        prepare(config, dataclasses.replace(model, tags={}), **COUNCIL)


def test_the_report_holds_aggregates_with_intervals(study, setup, tmp_path: Path):
    config = setup[0]
    body = write_impact(study, tmp_path / "impact", config)
    out = tmp_path / "impact"
    assert {p.name for p in out.iterdir()} >= {"impact.json", "impact.csv", "impact.html", "averted_by_effect.png",
                                               "capacity_curve.png"}
    saved = json.loads((out / "impact.json").read_text())
    assert saved["summary"] == json.loads(json.dumps(body["summary"]))
    keys = {(r["policy"], r["effect"], r["capacity"]) for r in saved["summary"]}
    assert {("model", 0.5, 1.0), ("rule", 0.0, 1.0), ("random", 0.5, 1.0), ("none", 0.0, 1.0),
            ("model", 0.5, 2.0)} <= keys
    zero = [r for r in saved["summary"] if r["effect"] == 0.0 and r["policy"] != "none"]
    assert all(r["averted"] == 0 and r["averted_low"] == 0 and r["averted_high"] == 0 for r in zero)
    csv = pd.read_csv(out / "impact.csv")
    assert set(csv["row"]) == {"run", "summary"}
    assert len(csv[csv["row"] == "run"]) == len(study.outcomes)
    # no child or family identifier leaves the study; small breakdown cells are suppressed
    text = (out / "impact.json").read_text() + (out / "impact.csv").read_text() + (out / "impact.html").read_text()
    for cid in setup[1].child_ids()[:200]:
        assert cid not in text
    cells = pd.DataFrame(saved["breakdowns"])
    assert cells.loc[cells["suppressed"], "averted"].isna().all()
    assert "&lt;10" in (out / "impact.html").read_text()  # "<10", escaped
