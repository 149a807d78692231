"""upstream impact on the default council (slow): with a positive effect, offers from the model's lists avert at
least as many entries to care as the same number of offers to random families.

Averted here is what the offered help prevents along each run (the chance of entering without it minus with it,
summed before the draws): the realised paired difference over 12 months carries the noise of futures that
diverge after the first averted entry (docs/impact.md), far larger than the difference between two policies."""

from __future__ import annotations

import pytest

from core.config import load_config, parse_config
from features import Extract, build_features
from impact import ImpactSettings, prepare, run_study
from impact._summary import run_table, summarise
from training.fit import fit_evaluate
from training.pipeline import training_grid


@pytest.mark.slow
def test_the_model_averts_at_least_as_many_entries_as_random_offers():
    base = load_config(None)
    # the default council, a lighter model fit (fewer rounds and bootstrap replicates): the ranking is what matters
    data = base.model_dump(mode="json")
    data["model"].update(num_boost_round=300, early_stopping_rounds=30, bootstrap_replicates=10,
                         deployment_refit=False)
    data["simulation"].update(truth_dates=1, replicates=2)
    config = parse_config(data)
    run, fingerprint = prepare(config, None)
    council = run.tables()
    extract = Extract(children=council.children, events=council.events)
    table = build_features(extract, training_grid(extract, config), config)
    model = fit_evaluate(table, config).risk_model().registered(tags={"data_fingerprint": fingerprint})
    del table
    settings = ImpactSettings(policies=("model", "random", "none"), effects=(0.32,), months=12, seeds=2,
                              curve=(1.0,))
    study = run_study(config, model, settings)
    runs, _ = run_table(study.outcomes, config.council.hub_names)
    summary = summarise(runs).set_index("policy")
    assert summary.loc["model", "offers"] == pytest.approx(summary.loc["random", "offers"], rel=0.05)
    for seed in range(settings.seeds):
        per_seed = runs[runs["seed"] == seed].set_index("policy")
        assert per_seed.loc["model", "expected_averted"] >= per_seed.loc["random", "expected_averted"] > 0
