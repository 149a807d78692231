"""Benchmark: what each data-sharing agreement buys a council - every scenario trained on the same council.

Run:  flock /tmp/upstream-heavy.lock nice .venv/bin/python benchmarks/bench_scenarios.py [--data DIR] [--write-docs]

For each scenario in the config (`data_sharing.scenarios`: social care only, + police, + schools, + health,
+ adult services and housing) the extract is cut to the scenario's event types, features are built on the
training grid and LightGBM is fitted and evaluated exactly as `upstream train` does (no MLflow run: the figures
are the same). On the test block it reports, with 95% family-clustered bootstrap intervals:
PR-AUC; precision and recall at the operating point the lists use (the top k children per hub and as-of date,
k = the hub's capacity); recall among children not previously known to social care at that point; and the ratio
of the model's expected precision at that point to the oracle's (mean p_true of the model's selection over mean
p_true of the oracle's own top k).

The bootstrap resamples whole families (Poisson(1) weights per family: the selections are held fixed and every
row of a family gets its family's weight), so siblings and repeat rows of one child stay together. Issue 13's
clustered bootstrap helpers were not on main when this was written, hence this small one.
With --write-docs the table replaces the block between the scenario-table markers in docs/training.md.
Never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import Config, load_config  # noqa: E402
from features import Extract, build_features, load_extract  # noqa: E402
from features.scenario import feeds_present, restrict  # noqa: E402
from training.fit import fit_evaluate  # noqa: E402
from training.metrics import Scores, select_capacity  # noqa: E402
from training.pipeline import read_truth, training_grid  # noqa: E402

DOCS = ROOT / "docs" / "training.md"
START, END = "<!-- scenario-table -->", "<!-- /scenario-table -->"
FIGURES = ("pr_auc", "precision", "recall", "recall_not_known", "oracle_ratio")


def figures(pred: pd.DataFrame, sel: np.ndarray, osel: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    """The table's figures for one (re)weighting of the test rows; selections fixed."""
    y = pred["label"].to_numpy(float)
    w = np.ones(len(y)) if w is None else w
    p_true = pred["p_true"].to_numpy(float)
    not_known = ~pred["previously_known"].astype(bool).to_numpy()
    wy = w * y
    return {
        "pr_auc": float(average_precision_score(y, pred["probability"].to_numpy(float), sample_weight=w)),
        "precision": float(wy[sel].sum() / w[sel].sum()),
        "recall": float(wy[sel].sum() / wy.sum()),
        "recall_not_known": float(wy[sel & not_known].sum() / wy[not_known].sum()),
        "oracle_ratio": float((w[sel] * p_true[sel]).sum() / w[sel].sum()
                              / ((w[osel] * p_true[osel]).sum() / w[osel].sum())),
    }


def with_intervals(pred: pd.DataFrame, config: Config, *, replicates: int, seed: int) -> dict[str, tuple]:
    """Each figure with its 95% family-clustered bootstrap interval."""
    pred = pred.reset_index(drop=True)
    caps = {h.name: h.capacity for h in config.council.hubs}
    prob = pred["probability"].to_numpy(float)
    sel = select_capacity(pred, Scores(prob, prob, pred["margin"].to_numpy(float)), caps)
    p_true = pred["p_true"].to_numpy(float)
    osel = select_capacity(pred, Scores(p_true, p_true), caps)
    point = figures(pred, sel, osel)
    fam = pd.factorize(pred["family_id"])[0]
    rng = np.random.default_rng(seed)
    draws = {k: [] for k in FIGURES}
    for _ in range(replicates):
        w = rng.poisson(1.0, fam.max() + 1)[fam].astype(float)
        for k, v in figures(pred, sel, osel, w).items():
            draws[k].append(v)
    return {k: (point[k], *np.nanpercentile(draws[k], [2.5, 97.5])) for k in FIGURES} | {
        "selected": int(sel.sum()), "entrants": int(pred["label"].sum()),
        "entrants_not_known": int((pred["label"].astype(bool) & ~pred["previously_known"].astype(bool)).sum())}


def run(extract: Extract, truth: pd.DataFrame, config: Config, scenario: str, *, replicates: int) -> dict:
    t0 = time.perf_counter()
    cut = restrict(extract, config, scenario)
    dates = training_grid(cut, config, extract_date=extract.last_date)
    table = build_features(cut, dates, config, extract_date=extract.last_date)
    result = fit_evaluate(table, config, truth=truth, extract_date=extract.last_date)
    del table
    out = with_intervals(result.predictions["test"], config, replicates=replicates, seed=config.model.seed)
    out["feeds"] = feeds_present(cut)
    out["events"] = len(cut.events)
    out["seconds"] = time.perf_counter() - t0
    return out


def _cell(v: tuple, digits: int = 3) -> str:
    return f"{v[0]:.{digits}f} ({v[1]:.{digits}f}–{v[2]:.{digits}f})"


def render(rows: dict[str, dict], config: Config, *, replicates: int) -> str:
    lines = ["| scenario | partner feeds | PR-AUC | precision at the lists' operating point | recall there | "
             "recall of children not previously known | expected precision / oracle's |",
             "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        feeds = ", ".join(config.data_sharing.scenarios[name]) or "none"
        lines.append(f"| {name} | {feeds} | {_cell(r['pr_auc'])} | {_cell(r['precision'])} | {_cell(r['recall'])} | "
                     f"{_cell(r['recall_not_known'])} | {_cell(r['oracle_ratio'], 2)} |")
    first = next(iter(rows.values()))
    lines.append("")
    lines.append(f"Test block: {first['entrants']:,} entrants to care ({first['entrants_not_known']:,} not previously "
                 f"known to social care) among the pooled test rows; {first['selected']:,} child-rows selected at "
                 "the operating point (top k children per hub and as-of date, k = hub capacity). 95% intervals: "
                 f"family-clustered bootstrap, {replicates} replicates, selections held fixed.")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOCS.read_text(encoding="utf-8")
    block = f"{START}\n{text}\n{END}"
    if START in doc:
        doc = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: block, doc, flags=re.S)
    else:
        doc += f"\n{block}\n"
    DOCS.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="a simulated council directory (default: simulate it)")
    parser.add_argument("--scenarios", nargs="*", default=None, help="default: every configured scenario")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/training.md")
    args = parser.parse_args()
    config = load_config()
    if args.data:
        extract = load_extract(Path(args.data), hubs=config.council.hub_names)
        truth = read_truth(Path(args.data))
    else:
        import synthetic

        council = synthetic.simulate(config)
        extract = Extract(children=council.children, events=council.events, source=None)
        truth = council.truth[["child_id", "as_of", "p_true"]]
    if truth is None:
        raise SystemExit("the benchmark needs a simulated council (truth.parquet) for the oracle ratio")
    rows = {}
    for name in args.scenarios or list(config.data_sharing.scenarios):
        rows[name] = run(extract, truth, config, name, replicates=args.replicates)
        r = rows[name]
        print(f"{name}: feeds {', '.join(r['feeds']) or 'none'}; {r['events']:,} events; PR-AUC {_cell(r['pr_auc'])}; "
              f"recall not known {_cell(r['recall_not_known'])}; oracle ratio {_cell(r['oracle_ratio'], 2)} "
              f"({r['seconds']:.0f} s)", flush=True)
    text = render(rows, config, replicates=args.replicates)
    print(text)
    if args.write_docs:
        write_docs(text)
        print(f"written to {DOCS}")


if __name__ == "__main__":
    main()
