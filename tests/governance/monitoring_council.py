"""A small simulated council with a quickly fitted model, its monitoring reference and scoring runs (for tests).

The model is fitted here with LightGBM directly (a few seconds) rather than through `upstream train`, so the
known-answer tests run in the default suite; the reference comes from `training.reference.build_reference`,
exactly as training stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from core.config import Config, load_config

CHILDREN = 4_000
SEED = 5
TRAIN = pd.date_range("2012-06-30", "2014-03-31", freq="QE-DEC")
VALIDATION = pd.DatetimeIndex(["2014-06-30"])
TEST = pd.date_range("2015-06-30", "2016-03-31", freq="QE-DEC")
LAST = pd.Timestamp("2017-03-31")


def monitoring_config() -> Config:
    cfg = load_config()
    hubs = [h.model_copy(update={"capacity": 6}) for h in cfg.council.hubs]
    sim = cfg.simulation.model_copy(update={"replicates": 2, "truth_dates": 1})
    mon = cfg.monitoring.model_copy(update={"bootstrap_replicates": 100})
    return cfg.model_copy(update={"council": cfg.council.model_copy(update={"hubs": tuple(hubs)}),
                                  "simulation": sim, "monitoring": mon})


@dataclass
class Council:
    config: Config
    extract: object
    model: object
    feature_names: list[str]
    reference: dict
    test_predictions: pd.DataFrame

    def without_police(self, months: int = 6):
        """The extract with every police record (domestic abuse notifications, police contacts and referrals)
        of the last `months` months dropped: the police feed stopped."""
        import features

        ev = self.extract.events
        start = LAST - pd.DateOffset(months=months)
        police = (ev["source"] == "police") | (ev["event_type"] == "domestic_abuse_notification")
        keep = ~(police & (ev["event_date"] > start)).to_numpy()
        return features.Extract(children=self.extract.children, events=ev[keep].reset_index(drop=True))

    def score(self, extract, as_of: pd.Timestamp, directory: Path | None = None):
        """(ScoringRun, cohort) of the model at `as_of` on `extract`."""
        import features
        from governance.monitoring import ScoringRun
        from serving.scoring import score_cohort

        cohort = features.build_features(extract, [as_of], self.config, extract_date=extract.last_date)
        result = score_cohort(self.model, cohort, self.config)
        manifest = {"as_of": f"{as_of:%Y-%m-%d}", "model": {"name": "upstream-risk", "version": "1"}}
        return ScoringRun(directory or Path(f"scores_{as_of:%Y-%m-%d}"), manifest, result.scores), cohort


def build_council() -> Council:
    import features
    import synthetic
    from training.calibration import MarginCalibrator
    from training.model import RiskModel
    from training.reference import build_reference

    config = monitoring_config()
    council = synthetic.simulate(config, children=CHILDREN, seed=SEED)
    extract = features.Extract(children=council.children, events=council.events)
    names = features.feature_columns(config)
    table = features.build_features(extract, [*TRAIN, *VALIDATION, *TEST], config)
    table["as_of"] = pd.to_datetime(table["as_of"])
    blocks = {k: table[table["as_of"].isin(v)].reset_index(drop=True)
              for k, v in (("train", TRAIN), ("validation", VALIDATION), ("test", TEST))}
    X = {k: b[names].astype("float64") for k, b in blocks.items()}
    y = {k: b["label"].astype(int).to_numpy() for k, b in blocks.items()}
    params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 7, "min_data_in_leaf": 200,
              "feature_fraction": 0.5, "lambda_l2": 10.0, "verbosity": -1, "num_threads": 2, "seed": 3,
              "deterministic": True}
    booster = lgb.train(params, lgb.Dataset(X["train"], label=y["train"]), num_boost_round=120)
    calibrator = MarginCalibrator("platt").fit(booster.predict(X["validation"], raw_score=True), y["validation"])
    margin = booster.predict(X["test"], raw_score=True)
    prob = calibrator.transform(margin)
    test = blocks["test"]
    pred = test[["child_id", "family_id", "as_of", "label", "hub", "previously_known"]].copy()
    pred["probability"], pred["margin"] = prob, margin
    reference = build_reference(extract, test, X["test"], prob, names, config)
    model = RiskModel(booster=booster, calibrator=calibrator, feature_names=names, num_iteration=120,
                         name="upstream-risk", version="1", alias="champion", run_id="run-monitor-test")
    return Council(config, extract, model, names, reference, pred)


def report_for(c: Council, extract, *, past=(), decisions=None, fairness=True):
    from governance.monitoring import compute_report

    run, cohort = c.score(extract, LAST)
    return compute_report(config=c.config, events=extract.events, children=extract.children,
                          extract_date=extract.last_date, run=run, cohort=cohort, reference=c.reference,
                          feature_names=c.feature_names, model={"name": "upstream-risk", "version": "1",
                                                                "run_id": "run-monitor-test"},
                          test_predictions=c.test_predictions, past_runs=past, decisions=decisions,
                          fairness=fairness)


def police_features(names: list[str]) -> set[str]:
    return {n for n in names if "police" in n or "domestic_abuse" in n}


__all__ = ["Council", "LAST", "build_council", "monitoring_config", "np", "police_features", "report_for"]
