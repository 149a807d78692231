"""The monitoring reference stored with a model at training: aggregates of its feeds, inputs and scores, no ids.

`upstream monitor` compares each scoring run against this reference (governance/monitoring). It holds only
aggregates: monthly event counts per feed (event type x source) and resident children per month over the
reference window, the binned distribution of every model input and of the calibrated score on the test block,
and the share of the test cohort with no history, by hub. No child or family identifier is in it (tested), so
it may live in the tracking store as the run artifact `monitoring/reference.json`.

Conventions (stated once, used by training and by the monitor):
- a *feed* is an event type, split by source where the contract records one (contacts and referrals):
  `contact/police`, `referral/school`, `domestic_abuse_notification`;
- months are calendar months of the knowledge date (`event_date`), labelled `YYYY-MM`;
- the reference window is the `monitoring.reference_months` months ending with the month of the last test
  as-of date: every one of them was complete long before training (the label horizon followed it);
- PSI bins: cut points at the deciles of the reference (fewer where values repeat, e.g. a mass at 0), one
  bin above the last cut and one bin for missing values; PSI = sum((cur - ref) * ln(cur / ref)) with each
  share floored at `PSI_FLOOR`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN

SCHEMA = "upstream.monitoring_reference/1"
REFERENCE_ARTIFACT = "monitoring/reference.json"
PSI_FLOOR = 1e-4
NO_SOURCE = ""


# --- feeds ------------------------------------------------------------------------------------------------------
def month_labels(start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """Calendar months from start's to end's, inclusive, as YYYY-MM."""
    return [str(p) for p in pd.period_range(pd.Timestamp(start).to_period("M"), pd.Timestamp(end).to_period("M"),
                                            freq="M")]


def month_codes(dates: pd.Series) -> np.ndarray:
    """year * 12 + month - 1 of each date (an integer per calendar month; fast on millions of rows)."""
    d = pd.to_datetime(dates)
    return (d.dt.year.to_numpy(dtype=np.int64) * 12 + d.dt.month.to_numpy(dtype=np.int64) - 1)


def month_code(label: str) -> int:
    p = pd.Period(label, "M")
    return p.year * 12 + p.month - 1


def monthly_counts(events: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    """Events per feed (rows) and month (columns, the given months only; zero where none)."""
    code = month_codes(events["event_date"])
    wanted = {month_code(m): m for m in months}
    keep = np.isin(code, np.fromiter(wanted, dtype=np.int64))
    sub = events.loc[keep, ["event_type", "source"]]
    frame = pd.DataFrame({"event_type": sub["event_type"].astype(str).to_numpy(),
                          "source": sub["source"].fillna(NO_SOURCE).astype(str).to_numpy(), "month": code[keep]})
    sizes = frame.groupby(["event_type", "source", "month"], sort=True).size().reset_index(name="n")
    sizes["feed"] = np.where(sizes["source"] == NO_SOURCE, sizes["event_type"],
                             sizes["event_type"] + "/" + sizes["source"])
    sizes["month"] = sizes["month"].map(wanted)
    table = sizes.pivot_table(index="feed", columns="month", values="n", aggfunc="sum", fill_value=0)
    return table.reindex(columns=list(months), fill_value=0).sort_index().astype(np.int64)


def resident_children(children: pd.DataFrame, months: Sequence[str]) -> np.ndarray:
    """Children resident and under 18 at each month's end (the population the feeds report on)."""
    ends = pd.PeriodIndex(list(months), freq="M").to_timestamp(how="end").normalize().to_numpy()
    born = pd.to_datetime(children["date_of_birth"]).to_numpy()
    arrived = pd.to_datetime(children["arrived_on"]).to_numpy()
    left = pd.to_datetime(children["left_on"]).to_numpy()
    eighteen = (pd.to_datetime(children["date_of_birth"]) + pd.DateOffset(years=18)).to_numpy()
    out = np.empty(len(ends), dtype=np.int64)
    for i, end in enumerate(ends):
        here = (born <= end) & (arrived <= end) & (pd.isna(left) | (left >= end)) & (eighteen > end)
        out[i] = int(here.sum())
    return out


# --- binned distributions and PSI -----------------------------------------------------------------------------
def bin_edges(values: np.ndarray, n_bins: int = 10) -> list[float]:
    """Cut points at the reference's quantiles (unique, so a mass point such as 0 gets one bin of its own)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return []
    cuts = np.unique(np.quantile(v, np.linspace(0, 1, n_bins + 1)[1:-1], method="lower"))
    return [float(c) for c in cuts]


def bin_shares(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Shares of values in each bin: (-inf, c1], (c1, c2], ..., (ck, inf), then missing."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return np.zeros(len(edges) + 2)
    finite = np.isfinite(v)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), v[finite], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)
    counts = np.r_[counts, float((~finite).sum())]
    return counts / v.size


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index between two vectors of bin shares (same bins)."""
    r = np.maximum(np.asarray(reference, dtype=np.float64), PSI_FLOOR)
    c = np.maximum(np.asarray(current, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def distribution(values: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    edges = bin_edges(values, n_bins)
    return {"edges": edges, "shares": [round(float(s), 8) for s in bin_shares(values, edges)]}


# --- no history -----------------------------------------------------------------------------------------------
def no_history(rows: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """For each (family_id, as_of) row: True when nothing at all is recorded about the family (any of its children
    or its adults) on or before the as-of date."""
    first = pd.to_datetime(events["event_date"]).groupby(events["family_id"].to_numpy()).min()
    seen = pd.to_datetime(rows["family_id"].map(first))
    return (seen.isna() | (seen > pd.to_datetime(rows["as_of"]))).to_numpy()


def share_by_hub(flag: np.ndarray, hub: pd.Series, hubs: Sequence[str]) -> dict[str, dict[str, float]]:
    """{hub: {"share": ..., "n": rows}} plus "all"."""
    frame = pd.DataFrame({"flag": np.asarray(flag, bool), "hub": hub.astype(str).to_numpy()})
    out = {}
    for h in [*hubs, "all"]:
        part = frame if h == "all" else frame[frame["hub"] == h]
        out[h] = {"share": float(part["flag"].mean()) if len(part) else float("nan"), "n": int(len(part))}
    return out


# --- the reference --------------------------------------------------------------------------------------------
def build_reference(extract: Any, test_rows: pd.DataFrame, test_features: pd.DataFrame, probability: np.ndarray,
                    feature_names: Sequence[str], config: Config) -> dict[str, Any]:
    """The reference for one trained model.

    Parameters
    ----------
    extract : features.Extract
        The training extract (contract tables).
    test_rows : DataFrame
        The test block's keys and audit columns (`family_id`, `as_of`, `hub`), aligned with `test_features`.
    test_features : DataFrame
        The model inputs of the test block, in `feature_names` order.
    probability : array
        The calibrated probability of every test row.

    Returns
    -------
    dict
        JSON-ready aggregates (no identifiers).
    """
    mc = config.monitoring
    dates = pd.to_datetime(test_rows["as_of"])
    last_test = dates.max()
    end = last_test.to_period("M")
    months = [str(p) for p in pd.period_range(end - (mc.reference_months - 1), end, freq="M")]
    first_event = pd.to_datetime(extract.events["event_date"]).min()
    months = [m for m in months if pd.Period(m, "M") >= first_event.to_period("M")]
    counts = monthly_counts(extract.events, months)
    resident = resident_children(extract.children, months)
    inputs = {name: distribution(test_features[name].to_numpy(dtype=np.float64), mc.psi_bins)
              for name in feature_names}
    prob = np.asarray(probability, dtype=np.float64)
    score = distribution(prob, mc.psi_bins)
    # Shares per calendar month of the as-of date, on the pooled bins: windows such as "terms of persistent
    # absence in the last 3 months" are seasonal, so a March scoring run is compared with the March reference.
    by_month: dict[str, dict[str, Any]] = {}
    month = dates.dt.month.to_numpy()
    for m in np.unique(month):
        rows = month == m
        by_month[f"{m:02d}"] = {
            "inputs": {name: [round(float(x), 8) for x in bin_shares(
                test_features[name].to_numpy(dtype=np.float64)[rows], inputs[name]["edges"])]
                for name in feature_names},
            "score": [round(float(x), 8) for x in bin_shares(prob[rows], score["edges"])],
            "rows": int(rows.sum()),
        }
    flags = no_history(test_rows, extract.events)
    return {
        "schema": SCHEMA,
        "what": "aggregates only (counts per month and feed, binned shares); no identifiers",
        "test_as_of_dates": sorted({f"{d:%Y-%m-%d}" for d in dates}),
        "feed": {"months": months, "resident_children": [int(x) for x in resident],
                 "counts": {feed: [int(x) for x in row] for feed, row in zip(counts.index, counts.to_numpy(),
                                                                              strict=True)}},
        "inputs": inputs,
        "score": score,
        "by_as_of_month": by_month,
        "rows": int(len(test_rows)),
        "as_of_dates": int(dates.nunique()),
        "no_history": share_by_hub(flags, test_rows["hub"], config.council.hub_names),
    }


def reference_from_training(extract: Any, result: Any) -> dict[str, Any]:
    """`build_reference` from a training result (training.fit.TrainingResult) and its extract."""
    test = result.predictions["test"]
    features = result.test_features
    if features is None:
        raise ValueError("the training result holds no test features")
    # the score the service will be watched on is the served model's (the deployment refit's, when there is one),
    # not the evaluated model's: the refit's calibration differs, and scoring runs would read as drift
    if len(features) != len(test):  # a sample of the test rows (trained on Dask), indexed by position in `test`
        test = test.iloc[features.index.to_numpy()].reset_index(drop=True)
        features = features.reset_index(drop=True)
    served = result.served_model().predict(features)["probability"].to_numpy(dtype=np.float64)
    reference = build_reference(extract, test, features, served, result.feature_names, result.config)
    if result.config.is_region and COUNCIL_COLUMN in test.columns:
        # a council monitors its own lists (`upstream monitor --council`) against its own part of the reference:
        # its feeds, inputs and scores differ from the region's in level and in mix
        code_of = test[COUNCIL_COLUMN].astype(str).to_numpy()
        reference["councils"] = {}
        for code in sorted(pd.unique(code_of)):
            mine = code_of == code
            reference["councils"][code] = build_reference(
                extract.council(code), test.loc[mine].reset_index(drop=True),
                features.loc[mine].reset_index(drop=True), served[mine], result.feature_names,
                result.config.for_council(code))
    return reference


def log_reference(run_id: str, reference: dict[str, Any], *, tracking_uri: str | None = None) -> None:
    """Store the reference on the training run as `monitoring/reference.json`."""
    from training.tracking import using_store

    with using_store(tracking_uri) as client:
        client.log_dict(run_id, reference, REFERENCE_ARTIFACT)


def load_reference(run_id: str, *, tracking_uri: str | None = None) -> dict[str, Any] | None:
    """The reference stored on a training run, or None when the run has none (trained before monitoring)."""
    import json
    import tempfile

    import mlflow

    from training.tracking import using_store

    with using_store(tracking_uri) as client, tempfile.TemporaryDirectory(prefix="upstream-ref-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=REFERENCE_ARTIFACT, dst_path=tmp,
                                                       tracking_uri=client.tracking_uri)
        except Exception:  # MLflow raises several types for a missing artifact
            return None
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
