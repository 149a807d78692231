"""Scoring on a Dask cluster: the cohort's features built per partition of whole families and left on the
workers, predictions and TreeSHAP (`pred_contrib`) computed there by partition with the same model, then the
lists per hub, reasons and locality insight exactly as in one process (`serving.scoring.scored_result`).

Only one row per child comes back for ranking (keys, hub, age, margin), and the inputs and contributions of the
children who are explained (those of listed families, or everyone with `explain_all`). Every row is predicted
by the same booster on the same float64 inputs as in one process, so scores and contributions are the same
numbers (`tests/serving/test_scoring_dask.py`).

    with dask_client(workers=2) as client:                      # what `upstream score --workers 2` does
        run_score(config, out=..., data=..., scorer=DaskScorer(client))
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.errors import UpstreamError
from serving.scoring import ScoringResult, score_children, scored_result
from training.model import RiskModel

# what ranking needs besides the margin (score_children reads whichever of them the table has)
_CARRIED = ("child_id", "family_id", "hub", "hub_code", "as_of", "age_months", "age_years", "previously_known")


def _predict_part(part: pd.DataFrame, *, model: RiskModel) -> pd.DataFrame:
    """The carried columns and the raw margin of every row of one partition (runs on a worker)."""
    out = part[[c for c in _CARRIED if c in part.columns]].reset_index(drop=True)
    out["_margin"] = model.margin(part) if len(part) else np.zeros(0)
    return out


def _explain_part(part: pd.DataFrame, *, model: RiskModel, ids: pd.Index
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """child_id, inputs, TreeSHAP contributions and base value of the partition's children in `ids`."""
    rows = part.loc[part["child_id"].astype(str).isin(ids)]
    X = model.matrix(rows)
    shap, base = model.explain(X)
    return rows["child_id"].astype(str).to_numpy(dtype=object), X, shap, base


def score_cohort_dask(model: RiskModel, cohort: Any, config: Config, *, client: Any, data_fingerprint: str,
                      previous: pd.DataFrame | None = None, explain_all: bool = False,
                      extract_date: pd.Timestamp | None = None) -> ScoringResult:
    """`serving.scoring.score_cohort` for a cohort left on a Dask cluster.

    Parameters
    ----------
    model : RiskModel
        The model to score and explain with (sent to each worker once).
    cohort : dask.dataframe.DataFrame
        Feature rows of one as-of date, partitioned by whole families (`features.distributed.feature_frame_dask`).
    config : Config
        Hubs, capacities, the list threshold and risk bands.
    client : distributed.Client
        The cluster the cohort lives on.
    data_fingerprint : str
        The extract's fingerprint, for the manifest.
    previous, explain_all, extract_date
        As `score_cohort`.

    Returns
    -------
    ScoringResult
        The same tables as `score_cohort` on the same rows.
    """
    t0 = time.perf_counter()
    parts = client.compute(cohort.to_delayed())
    shipped = client.scatter(model, broadcast=True)
    pieces = [p for p in client.gather(client.map(_predict_part, parts, model=shipped, pure=False)) if len(p)]
    if not pieces:
        raise UpstreamError("the cohort is empty at this as-of date: no resident children under 18 to score")
    rows = pd.concat(pieces, ignore_index=True)
    scores, _ = score_children(model, rows, config, margin=rows.pop("_margin").to_numpy())
    timings = {"predict": time.perf_counter() - t0}

    def explain(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        ids = scores["child_id"].astype(str).to_numpy(dtype=object)[mask]
        wanted = client.scatter(pd.Index(ids), broadcast=True)  # one object (a set would be scattered item by item)
        got = [g for g in client.gather(client.map(_explain_part, parts, model=shipped, ids=wanted, pure=False))
               if len(g[0])]
        if not got:
            return (np.empty((0, len(model.feature_names))), *model.explain(np.empty((0, len(model.feature_names)))))
        found = np.concatenate([g[0] for g in got])
        position = pd.Series(np.arange(len(found)), index=pd.Index(found)).reindex(ids).to_numpy()
        if np.isnan(position.astype(float)).any():
            raise UpstreamError("a listed child was not found in the cohort's partitions")
        position = position.astype(np.int64)
        return np.concatenate([g[1] for g in got])[position], np.concatenate([g[2] for g in got])[position], got[0][3]

    return scored_result(model, scores, explain, config, previous=previous, explain_all=explain_all, describe=None,
                         data_fingerprint=data_fingerprint, extract_date=extract_date, timings=timings)


@dataclass
class DaskScorer:
    """`run_score`'s cohort scorer on a Dask cluster (`serving.scoring.CohortScorer`): the cohort's features built
    there and kept there (`feature_frame_dask`), a region's councils selected there, `score_cohort_dask`."""

    client: Any
    n_partitions: int | None = None

    def build(self, extract: Any, as_of: pd.Timestamp, config: Config, *, extract_date: pd.Timestamp | None) -> Any:
        import dask
        from distributed import wait

        from features.distributed import feature_frame_dask

        with dask.config.set({"dataframe.convert-string": False}):
            cohort = self.client.persist(feature_frame_dask(extract, [as_of], config, client=self.client,
                                                            extract_date=extract_date, n_partitions=self.n_partitions))
        wait(cohort)
        return cohort

    def size(self, cohort: Any) -> int:
        return int(sum(self.client.gather(self.client.map(len, self.client.compute(cohort.to_delayed())))))

    def council(self, cohort: Any, code: str) -> Any:
        """One council's rows of a region's cohort, without the council column (partitions stay whole families)."""
        return cohort.map_partitions(_council_rows, code, meta=cohort._meta.drop(columns=COUNCIL_COLUMN))

    def score(self, model: RiskModel, cohort: Any, config: Config, *, previous: pd.DataFrame | None = None,
              explain_all: bool = False, describe: Any = None, data_fingerprint: str | None = None,
              extract_date: pd.Timestamp | None = None) -> ScoringResult:
        import dask

        with dask.config.set({"dataframe.convert-string": False}):
            return score_cohort_dask(model, cohort, config, client=self.client, data_fingerprint=data_fingerprint or "",
                                     previous=previous, explain_all=explain_all, extract_date=extract_date)


def _council_rows(part: pd.DataFrame, code: str) -> pd.DataFrame:
    return part.loc[part[COUNCIL_COLUMN].to_numpy() == code].drop(columns=COUNCIL_COLUMN)
