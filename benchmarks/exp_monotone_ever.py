"""Validation cost of the monotone constraints and of dropping the `*_ever` features (issue 13).

Usage: .venv/bin/python benchmarks/exp_monotone_ever.py DATA_DIR
Prints validation (and test) PR-AUC per variant with family-bootstrap intervals, and the paired difference of
each variant against the default (monotone on, `*_ever` off) on validation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import features
from core.config import load_config
from training.fit import fit_evaluate, input_columns
from training.metrics import paired_difference
from training.pipeline import read_truth, training_grid


def main(data_dir: str) -> None:
    base = load_config()
    extract = features.load_extract(Path(data_dir), hubs=base.council.hub_names)
    truth = read_truth(Path(data_dir))
    table = features.build_features(extract, training_grid(extract, base), base)
    variants = {"default (monotone, no ever)": {}, "unconstrained": {"monotone": False},
                "with *_ever": {"ever_features": True}}
    preds: dict[str, pd.DataFrame] = {}
    for name, change in variants.items():
        cfg = base.model_copy(update={"model": base.model.model_copy(update={"deployment_refit": False, **change})})
        names = input_columns(list(features.feature_columns(cfg)), cfg)
        r = fit_evaluate(table, cfg, feature_names=names, truth=truth, extract_date=extract.last_date)
        preds[name] = r.predictions["validation"]
        for block in ("validation", "test"):
            o = r.metrics[block]["model"]["overall"]
            print(f"{name:28s} {block:10s} inputs {len(names)} rounds {r.model.best_iteration_:4d} PR-AUC "
                  f"{o['pr_auc']:.4f} ({o['pr_auc_ci_low']:.4f} to {o['pr_auc_ci_high']:.4f}) recall@list "
                  f"{o['recall_at_list']:.3f} entrants {int(o['n_entrants'])}", flush=True)
    ref = preds["default (monotone, no ever)"]
    for name, p in preds.items():
        if p is ref:
            continue
        m = ref.merge(p[["child_id", "as_of", "probability"]], on=["child_id", "as_of"], suffixes=("", "_v"))
        d = paired_difference(m["label"].to_numpy(float), m["probability"].to_numpy(float),
                              m["probability_v"].to_numpy(float), m["family_id"].to_numpy(), replicates=200, seed=1)
        print(f"validation PR-AUC default - {name}: {d['pr_auc_diff']:+.4f} "
              f"({d['pr_auc_diff_ci_low']:+.4f} to {d['pr_auc_diff_ci_high']:+.4f})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
