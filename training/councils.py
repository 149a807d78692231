"""A region's model, council by council: pooled test figures per council, each council's own model, and whether
the pooled model beats it (the paired family-bootstrap comparison the promotion gate uses).

Only for a region's table (rows with a `council` key and two or more councils); one council does no per-council
work at all. Everything here is aggregates: the per-council table logged to MLflow holds no child-level rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.errors import UpstreamError
from training.bootstrap import FamilyBootstrap
from training.fit import TrainingResult, fit_evaluate
from training.metrics import Scores, evaluate, paired_difference

ARTIFACT = "councils/per_council.csv"
# The verdicts: the pooled model's PR-AUC minus the council's own model's, on the same test rows.
BEATS, LOSES, UNCLEAR, NO_OWN = "pooled beats own", "own beats pooled", "no clear difference", "no own model"
_OWN_COLUMNS = ["child_id", "as_of", "probability"]
_FIGURES = ("pr_auc", "precision_at_list", "recall_at_list")


def councils_in(table: pd.DataFrame) -> list[str]:
    """The council codes of a region's table, sorted; [] for one council (no column, or one code)."""
    if COUNCIL_COLUMN not in table.columns:
        return []
    codes = sorted(str(c) for c in pd.unique(table[COUNCIL_COLUMN]))
    return codes if len(codes) > 1 else []


@dataclass(frozen=True)
class OwnModel:
    """A council's own model: its test figures, and its test predictions (kept in memory for the comparison)."""

    overall: dict[str, float] | None
    predictions: pd.DataFrame | None
    error: str | None = None
    rounds: int = 0


def fit_own_model(code: str, rows: pd.DataFrame, config: Config, *, truth: pd.DataFrame | None = None,
                  extract_date: pd.Timestamp | None = None, feature_names: list[str] | None = None) -> OwnModel:
    """One council's own model, trained and evaluated on that council's rows alone: the same split rule,
    settings, calibration and evaluation as the pooled model, at the council's own hubs' capacities; no
    deployment refit. `rows` may or may not carry `council` (a Dask trainer can hand over one council's
    partition at a time).

    Returns
    -------
    OwnModel
        With `error` when the council's rows cannot train a model (e.g. a block without a positive label).
    """
    no_refit = config.model.model_copy(update={"deployment_refit": False})
    cfg = config.for_council(code).model_copy(update={"model": no_refit})
    rows = rows.drop(columns=COUNCIL_COLUMN, errors="ignore").reset_index(drop=True)
    try:
        result = fit_evaluate(rows, cfg, truth=truth, extract_date=extract_date, feature_names=feature_names)
    except UpstreamError as exc:
        return OwnModel(overall=None, predictions=None, error=str(exc))
    model = result.metrics["test"]["model"]["overall"]
    return OwnModel(overall={k: v for k, v in model.items() if isinstance(v, float)},
                    predictions=result.predictions["test"][_OWN_COLUMNS].copy(), rounds=result.model.best_iteration_)


def fit_own_models(table: pd.DataFrame, config: Config, *, truth: pd.DataFrame | None = None,
                   extract_date: pd.Timestamp | None = None, feature_names: list[str] | None = None,
                   log: Callable[[str], None] | None = None) -> dict[str, OwnModel]:
    """`fit_own_model` for every council of a region's feature table, one after another.

    Parameters
    ----------
    table : DataFrame
        A region's feature table (with `council`); left as it is.
    config : Config
        The region config.
    truth, extract_date, feature_names
        As for `fit_evaluate`.
    log : callable, optional
        Progress lines.

    Returns
    -------
    dict
        Council code -> `OwnModel`.
    """
    say = log or (lambda _msg: None)
    own: dict[str, OwnModel] = {}
    for code in councils_in(table):
        rows = table.loc[table[COUNCIL_COLUMN].to_numpy() == code]
        own[code] = mine = fit_own_model(code, rows, config, truth=truth, extract_date=extract_date,
                                         feature_names=feature_names)
        if mine.error is not None:
            say(f"council {code}: no own model ({mine.error})")
        else:
            say(f"council {code}: own model, {len(rows):,} rows, {mine.rounds} rounds, test PR-AUC "
                f"{mine.overall['pr_auc']:.3f}")
    return own


def _verdict(diff: dict[str, float]) -> str:
    low, high = diff.get("pr_auc_diff_ci_low", math.nan), diff.get("pr_auc_diff_ci_high", math.nan)
    if low > 0:
        return BEATS
    if high < 0:
        return LOSES
    return UNCLEAR


def council_table(pooled: TrainingResult, own: dict[str, OwnModel], config: Config) -> pd.DataFrame:
    """One row per council and a last `pooled` row: test rows and distinct entrants; the pooled model's PR-AUC,
    precision and recall at the council's lists (its hubs' capacities) with family-bootstrap intervals; the
    council's own model's; the paired PR-AUC difference pooled − own with its interval, and the verdict.

    Parameters
    ----------
    pooled : TrainingResult
        The region's model (its test predictions carry `council`).
    own : dict
        `fit_own_models`.
    config : Config
        The region config (capacities per council and hub, bootstrap replicates, seed).

    Returns
    -------
    DataFrame
        Aggregates only: no child-level rows.
    """
    mc = config.model
    test = pooled.predictions["test"]
    names = {c.code: c.name for c in config.region}
    capacities = config.list_capacities()
    rows = []
    for code in sorted(own):
        frame = test.loc[test[COUNCIL_COLUMN].to_numpy() == code].reset_index(drop=True)
        prob = frame["probability"].to_numpy(float)
        boot = FamilyBootstrap(frame["family_id"], replicates=mc.bootstrap_replicates, seed=mc.seed)
        caps = {k: v for k, v in capacities.items() if k.startswith(f"{code}/")}
        m = evaluate(frame, {"model": Scores(prob, prob, tiebreak=frame["margin"].to_numpy(float))},
                     capacities=caps, threshold=config.serving.list_probability_threshold, breakdowns=(),
                     bootstrap=boot)["model"]["overall"]
        row = {"council": code, "name": names.get(code, ""), "test_rows": int(len(frame)),
               "entrants": int(m.get("n_entrants", 0)),
               **{f"pooled_{k}": v for k, v in m.items() if isinstance(v, float) and _figure(k)}}
        mine = own[code]
        if mine.overall is not None and mine.predictions is not None:
            row.update({f"own_{k}": v for k, v in mine.overall.items() if _figure(k)})
            both = frame[["child_id", "as_of", "family_id", "label", "probability"]].merge(
                mine.predictions, on=["child_id", "as_of"], suffixes=("", "_own"), how="inner")
            diff = paired_difference(both["label"].to_numpy(float), both["probability"].to_numpy(float),
                                     both["probability_own"].to_numpy(float), both["family_id"].to_numpy(),
                                     replicates=mc.bootstrap_replicates, seed=mc.seed)
            row.update(diff)
            row["compared_rows"] = int(len(both))
            row["verdict"] = _verdict(diff)
        else:
            row["verdict"] = f"{NO_OWN}: {mine.error}"
        rows.append(row)
    overall = pooled.metrics["test"]["model"]["overall"]
    rows.append({"council": "pooled", "name": "all councils", "test_rows": int(overall.get("n_rows", len(test))),
                 "entrants": int(overall.get("n_entrants", 0)),
                 **{f"pooled_{k}": v for k, v in overall.items() if isinstance(v, float) and _figure(k)}})
    return pd.DataFrame(rows)


def _figure(key: str) -> bool:
    """The headline figures the table keeps (with their intervals)."""
    return any(key == f or key.startswith(f"{f}_ci_") for f in _FIGURES)


def log_council_table(run_id: str, table: pd.DataFrame, *, small_cell: int,
                      tracking_uri: str | None = None) -> None:
    """The per-council table on the training run: `councils/per_council.csv`, metrics
    `test_council_<code>_pooled_pr_auc`, ..., `..._pr_auc_diff` and a `council_<code>_verdict` tag. The run may
    sit on a registry every council reads: a council's count of entrants under `small_cell` is shown as
    "<small_cell" and not logged as a metric."""
    from mlflow.entities import Metric, RunTag

    from training.tracking import using_store

    small = table["entrants"] < small_cell
    shared = table.astype({"entrants": object})
    shared.loc[small, "entrants"] = f"<{small_cell}"
    metrics, tags = [], []
    for r in shared.to_dict(orient="records"):
        if r["council"] == "pooled":
            continue
        for key, value in r.items():
            if isinstance(value, float | int) and not isinstance(value, bool) and key not in ("council",) \
                    and not (isinstance(value, float) and math.isnan(value)):
                metrics.append(Metric(f"test_council_{r['council']}_{key}", float(value), 0, 0))
        tags.append(RunTag(f"council_{r['council']}_verdict", str(r["verdict"])[:250]))
    with using_store(tracking_uri) as client:
        client.log_text(run_id, shared.to_csv(index=False), ARTIFACT)
        client.log_batch(run_id, metrics=metrics, tags=tags)


def council_summary(table: pd.DataFrame) -> str:
    """A short terminal table: per council, pooled and own PR-AUC, recall at the list, the paired difference and
    the verdict (95% family-bootstrap intervals)."""

    def ci(r: dict, key: str, fmt: str = "{:.3f}") -> str:
        value = r.get(key)
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "-"
        lo, hi = r.get(f"{key}_ci_low"), r.get(f"{key}_ci_high")
        text = fmt.format(value)
        if lo is not None and hi is not None and not (np.isnan(lo) or np.isnan(hi)):
            text += f" ({fmt.format(lo)} to {fmt.format(hi)})"
        return text

    lines = ["per council, test (95% family-bootstrap intervals; lists at each council's hubs' capacities):",
             f"{'council':8s} {'entrants':>8s} {'pooled PR-AUC':>22s} {'pooled recall@list':>22s} "
             f"{'own PR-AUC':>22s} {'pooled - own PR-AUC':>26s}  verdict"]
    for r in table.to_dict(orient="records"):
        verdict = r["verdict"] if isinstance(r.get("verdict"), str) else ""
        lines.append(f"{r['council']:8s} {r['entrants']:>8,} {ci(r, 'pooled_pr_auc'):>22s} "
                     f"{ci(r, 'pooled_recall_at_list'):>22s} {ci(r, 'own_pr_auc'):>22s} "
                     f"{ci(r, 'pr_auc_diff', '{:+.3f}'):>26s}  {verdict}")
    return "\n".join(lines)
