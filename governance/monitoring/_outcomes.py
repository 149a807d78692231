"""Outcomes as they mature: realised figures of past scoring runs whose horizon has closed, beside the card's.

For a scoring run at as-of `t` (its `scores.parquet`: every cohort child with `probability`, `listed`,
`previously_known`), once `t + horizon` is on or before the extract's last date every child's outcome is known
(the features' label rule, features.labels.label_array: the configured outcome starts in (t, t + horizon]).
At the operating point the lists used — the children of listed families — it reports:

- precision: entrants among listed children / listed children;
- recall: listed entrants / all entrants in the cohort;
- recall among children not previously known to social care;
- calibration in the listed band: observed entrants / expected (sum of calibrated probabilities) among listed
  children (1 = as stated; below 1 = the lists overstate risk);

each with a family-clustered bootstrap interval (whole families resampled: governance._metrics.family_weights).
The card's figures are the same four, computed the same way on the version's test-period predictions with the
same list rule per test as-of date, so the two are like for like. An alert fires when a realised interval lies
wholly below the card's figure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from governance._metrics import family_weights, percentile_interval

FIGURES: dict[str, str] = {
    "precision": "precision of listed families' children",
    "recall": "recall (entrants who were on a list)",
    "recall_not_known": "recall among children not previously known",
    "calibration_listed": "observed / expected entrants among listed children",
}
SCORE_COLUMNS = ("child_id", "family_id", "hub", "as_of", "age_years", "previously_known", "probability", "margin",
                 "listed")


@dataclass(frozen=True)
class ScoringRun:
    """One past `upstream score` output: where it is, its manifest and its scores (child rows)."""

    directory: Path
    manifest: dict[str, Any]
    scores: pd.DataFrame

    @property
    def as_of(self) -> pd.Timestamp:
        return pd.Timestamp(self.manifest.get("as_of") or self.scores["as_of"].max()).normalize()

    @property
    def version(self) -> str | None:
        model = self.manifest.get("model") or {}
        v = model.get("version") if isinstance(model, dict) else None
        return None if v is None else str(v)


def read_run(directory: str | Path) -> ScoringRun:
    """A scoring output directory (manifest.json + scores.parquet)."""
    d = Path(directory)
    manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8")) if (d / "manifest.json").is_file() else {}
    scores = pd.read_parquet(d / "scores.parquet")
    keep = [c for c in SCORE_COLUMNS if c in scores.columns]
    scores = scores[keep].copy()
    scores["as_of"] = pd.to_datetime(scores["as_of"])
    return ScoringRun(d, manifest, scores)


# --- the list operating point ---------------------------------------------------------------------------------
def listed_children(rows: pd.DataFrame, config: Config) -> np.ndarray:
    """The list operating point on child rows of one or more as-of dates (`training.operating_point`, the rule the
    lists, training's metrics and the audit use): per as-of date and hub, the families within the hub's capacity by
    family risk, or at `serving.list_probability_threshold`; a child is listed with its family."""
    from training.operating_point import select_listed

    return select_listed(rows, rows["probability"].to_numpy(dtype=np.float64),
                         capacities={h.name: h.capacity for h in config.council.hubs},
                         threshold=config.serving.list_probability_threshold)


# --- figures with family-clustered intervals ------------------------------------------------------------------
def list_figures(y: np.ndarray, probability: np.ndarray, listed: np.ndarray, not_known: np.ndarray,
                 family_ids: np.ndarray, *, replicates: int, seed: int, confidence: float) -> dict[str, Any]:
    """The four figures, their intervals (families resampled) and the counts behind them."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    sel = np.asarray(listed, dtype=np.float64)
    nk = np.asarray(not_known, dtype=np.float64)
    stats = np.column_stack([sel, y * sel, y, y * nk, y * sel * nk, p * sel])  # per row
    codes = pd.factorize(family_ids)[0]
    per_family = np.zeros((codes.max() + 1 if len(codes) else 0, stats.shape[1]))
    np.add.at(per_family, codes, stats)
    point = per_family.sum(axis=0)[None, :]
    weights = family_weights(codes, replicates, seed=seed) if len(codes) else np.zeros((replicates, 0))
    boot = weights @ per_family

    def figures(s: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"precision": s[:, 1] / s[:, 0], "recall": s[:, 1] / s[:, 2],
                    "recall_not_known": s[:, 4] / s[:, 3], "calibration_listed": s[:, 1] / s[:, 5]}

    pt, bs = figures(point), figures(boot)
    out: dict[str, Any] = {}
    for name in FIGURES:
        lo, hi = percentile_interval(bs[name][:, None], level=confidence)
        v = float(pt[name][0])
        out[name] = {"value": _r(v), "ci": [_r(float(lo[0])), _r(float(hi[0]))] if np.isfinite(lo[0]) else None}
    out["counts"] = {"children": int(len(y)), "listed_children": int(sel.sum()), "entrants": int(y.sum()),
                     "listed_entrants": int((y * sel).sum()), "entrants_not_known": int((y * nk).sum()),
                     "families": int(per_family.shape[0])}
    return out


def _r(v: float) -> float | None:
    return round(v, 4) if math.isfinite(v) else None


def card_figures(test_predictions: pd.DataFrame, config: Config) -> dict[str, Any]:
    """The four figures on a version's test-period predictions, at the list operating point of each test date."""
    mc = config.monitoring
    rows = test_predictions.loc[test_predictions["label"].notna()].reset_index(drop=True)
    listed = listed_children(rows, config)
    not_known = ~rows["previously_known"].astype(bool).to_numpy()
    fig = list_figures(rows["label"].astype(int).to_numpy(), rows["probability"].to_numpy(), listed, not_known,
                       rows["family_id"].to_numpy(), replicates=mc.bootstrap_replicates, seed=config.model.seed,
                       confidence=mc.confidence)
    fig["as_of_dates"] = sorted({f"{d:%Y-%m-%d}" for d in pd.to_datetime(rows["as_of"])})
    return fig


def outcome_labels(rows: pd.DataFrame, events: pd.DataFrame, *, event_type: str, horizon_months: int,
                   extract_date: pd.Timestamp) -> pd.arrays.IntegerArray:
    """The label of each (child_id, as_of) row with the features' own label rule (features.labels.label_array):
    1 if an `event_type` event of the child falls in (as_of, as_of + horizon], <NA> while the window is open."""
    from features.history import position
    from features.labels import label_array
    from features.timeline import day_of, shift_months, to_days

    ids = pd.Index(pd.unique(rows["child_id"].to_numpy(dtype=object)))
    ev = events[(events["event_type"] == event_type).to_numpy() & events["child_id"].notna().to_numpy()]
    ek = ids.get_indexer(ev["child_id"].to_numpy(dtype=object)).astype(np.int64)
    keep = ek >= 0
    outcomes = np.sort(position(ek[keep], to_days(ev["event_date"])[keep]))
    rk = ids.get_indexer(rows["child_id"].to_numpy(dtype=object)).astype(np.int64)
    t = to_days(rows["as_of"])
    end = shift_months(t, horizon_months) if len(t) else t
    return label_array(outcomes, rk, t, end, day_of(pd.Timestamp(extract_date)))


def matured_run(run: ScoringRun, events: pd.DataFrame, config: Config, *, extract_date: pd.Timestamp,
                card: dict[str, Any] | None) -> tuple[dict[str, Any], pd.DataFrame]:
    """Realised figures of one matured run beside the card's, with alerts; and its labelled rows."""
    mc = config.monitoring
    rows = run.scores.reset_index(drop=True)
    y = outcome_labels(rows[["child_id", "as_of"]], events, event_type=config.outcome.event_type,
                       horizon_months=config.outcome.horizon_months, extract_date=extract_date)
    rows = rows.assign(label=y)
    listed = rows["listed"].astype(bool).to_numpy()
    not_known = ~rows["previously_known"].astype(bool).to_numpy()
    fig = list_figures(rows["label"].astype(int).to_numpy(), rows["probability"].to_numpy(), listed, not_known,
                       rows["family_id"].to_numpy(), replicates=mc.bootstrap_replicates, seed=config.model.seed,
                       confidence=mc.confidence)
    alerts = []
    for name, text in FIGURES.items():
        ci = fig[name]["ci"]
        ref = (card or {}).get(name, {}).get("value")
        fig[name]["card"] = ref
        fig[name]["card_ci"] = (card or {}).get(name, {}).get("ci")
        below = ci is not None and ref is not None and ci[1] < ref
        fig[name]["below_card"] = bool(below)
        if below:
            alerts.append({"kind": "outcome_below_card", "subject": f"{run.as_of:%Y-%m-%d} {name}",
                           "message": f"scoring run {run.as_of:%Y-%m-%d}: {text} {fig[name]['value']:.3f} "
                                      f"(95% CI {ci[0]:.3f}-{ci[1]:.3f}) is wholly below the card's {ref:.3f}"})
    return ({"as_of": f"{run.as_of:%Y-%m-%d}", "model_version": run.version, "source": str(run.directory),
             "horizon_closed": f"{run.as_of + pd.DateOffset(months=config.outcome.horizon_months):%Y-%m-%d}",
             "figures": fig, "alerts": alerts}, rows)


def audit_rows(rows: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Matured child rows with the audit's columns (protected characteristics from the extract's children
    table: they never travel in scoring outputs)."""
    from core.contract import ethnic_group
    from features import AGE_BANDS

    info = children.set_index("child_id")[["sex", "ethnicity", "disability", "deprivation_decile"]]
    out = rows.join(info, on="child_id")
    out["ethnic_group"] = [ethnic_group(c if isinstance(c, str) else None) for c in out["ethnicity"]]
    age = pd.to_numeric(out["age_years"], errors="coerce")
    out["age_band"] = pd.cut(age, [-np.inf, 5, 10, 16, np.inf], right=False, labels=list(AGE_BANDS)).astype(object)
    if "margin" not in out:
        p = out["probability"].clip(1e-12, 1 - 1e-12)
        out["margin"] = np.log(p / (1 - p))
    return out


def fairness_over_time(rows: pd.DataFrame, children: pd.DataFrame, config: Config) -> dict[str, Any]:
    """The fairness audit's primary comparisons (recall and calibration disparities, verdict) recomputed on
    matured outcomes, with the audit's own code and suppression."""
    from governance._audit import audit_predictions

    frame = audit_rows(rows, children)
    # The primary comparisons are per attribute; intersections (whose suppression dominates the audit's time)
    # stay with the full audit before promotion.
    single = config.model_copy(update={"fairness": config.fairness.model_copy(update={"intersections": ()})})
    result = audit_predictions(frame, single, replicates=config.monitoring.bootstrap_replicates)
    report = result.report
    primary = []
    for table in report["tables"]:
        if table["kind"] != "group":
            continue
        for g in table["groups"]:
            cells = {}
            for op, block in g.get("operating_points", {}).items():
                d = (block.get("disparities") or {}).get("recall")
                cells[f"recall_{op}"] = None if d is None else {"ratio": d["ratio"], "ci": d["ci"],
                                                                "flagged": d["flagged"]}
            cal = g["metrics"].get("calibration")
            cells["calibration"] = cal
            primary.append({"attribute": table["attribute"], "label": table["label"], "group": g["group"],
                            "reference": bool(g.get("reference")), **cells})
    return {"verdict": result.verdict, "reasons": list(result.reasons), "not_assessed": report.get("not_assessed", []),
            "as_of_dates": report["population"]["as_of_dates"], "primary": primary,
            "note": "the audit (governance.audit_predictions) run on matured outcomes of past scoring runs; its "
                    "operating points (top k children per hub, top share) and suppression are the audit's own"}
