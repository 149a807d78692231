"""The risk model: a LightGBM booster, its margin calibrator and feature names; predict and explain, written once.

One class for one thing. Training builds it (`TrainingResult.risk_model`), the MLflow pyfunc restores it from
the logged files (`training/pyfunc.py`), the registry loader hands it out with its version
(`training.registry.load_version`), and batch scoring and the web service call its `predict` and `explain`.

- **One iteration count**: `num_iteration`, the best (early-stopped) round. The margin and the TreeSHAP values
  are cut at the same round, so for every row SHAP values plus the base value equal the margin.
- **Inputs are numeric**: the feature columns as float64 (nullable integers become NaN; text or bool columns,
  as a CSV round trip gives, are parsed), in the model's column order; other columns are ignored.
- **Plain-text files, no pickles**: `booster.txt` (LightGBM's model string), `calibrator.json`, `meta.json`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from core.errors import UpstreamError
from core.io import write_json, write_text
from training.calibration import MarginCalibrator

BOOSTER_FILE, CALIBRATOR_FILE, META_FILE = "booster.txt", "calibrator.json", "meta.json"
PYFUNC_ARTIFACT = "risk_model"  # the MLflow artifact holding the three files (see training/pyfunc.py)

# LightGBM predicts with OpenMP threads; for a handful of rows starting them costs more than the work (and
# their spin-waits burn CPU on a busy machine). Rows are independent, so the numbers are the same either way.
SMALL_BATCH = 256


def predict_params(n_rows: int) -> dict[str, int]:
    """Extra `Booster.predict` parameters for a batch: one thread for a small batch.

    Parameters
    ----------
    n_rows : int
        Rows in the batch.

    Returns
    -------
    dict
        `{"num_threads": 1}` for at most `SMALL_BATCH` rows, else nothing (LightGBM's default).
    """
    return {"num_threads": 1} if n_rows <= SMALL_BATCH else {}


@lru_cache(maxsize=16)
def _column_index(feature_names: tuple[str, ...]) -> pd.Index:
    # once per model, not per request: building an Index of a few hundred names is not free
    return pd.Index(feature_names, dtype=object)


def model_inputs(rows: pd.DataFrame, feature_names: Sequence[str]) -> np.ndarray:
    """The model inputs as a float64 matrix in the model's column order.

    Parameters
    ----------
    rows : DataFrame
        A feature table (extra columns are ignored).
    feature_names : sequence of str
        The model's input columns, in order.

    Returns
    -------
    ndarray
        rows × features, float64; nullable integers and unparseable text become NaN.

    Raises
    ------
    UpstreamError
        If a model input column is missing.
    """
    positions = rows.columns.get_indexer(_column_index(tuple(feature_names)))
    if (positions < 0).any():
        missing = [c for c, p in zip(feature_names, positions, strict=True) if p < 0]
        raise UpstreamError(f"the feature table lacks the model's input column(s): {', '.join(missing[:10])}")
    # a take by position, not `rows[list(feature_names)]`: the label lookup costs more than the copy on a
    # one-family table, and gives the same frame
    frame = rows.take(positions, axis=1)
    dtypes = frame.dtypes
    # a frame holds a handful of distinct dtypes: test each once, not once per column
    odd_types = {t for t in set(dtypes) if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)}
    odd = [c for c, t in dtypes.items() if t in odd_types] if odd_types else []
    if odd:  # text or bool columns (a CSV round trip): parse those one by one; the rest in one block
        frame = frame.copy()
        for c in odd:
            frame[c] = pd.to_numeric(frame[c].astype("float64") if pd.api.types.is_bool_dtype(frame[c].dtype)
                                     else frame[c], errors="coerce")
    return frame.to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass(frozen=True)
class RiskModel:
    """The booster, its calibrator and its inputs, plus where it came from in the registry (if anywhere).

    Parameters
    ----------
    booster : lightgbm.Booster
        The trained trees.
    calibrator : MarginCalibrator
        Raw margin (log-odds) to calibrated probability.
    feature_names : list of str
        The model inputs, in the booster's column order.
    num_iteration : int or None
        The round predictions and explanations stop at (None: every tree the booster holds).
    name, version, alias, run_id, aliases, tags
        Registry provenance: registered model name, version, the alias it was loaded by, the MLflow run,
        every alias pointing at the version, and the version's tags.
    """

    booster: lgb.Booster
    calibrator: MarginCalibrator
    feature_names: list[str]
    num_iteration: int | None = None
    name: str = "upstream-risk"
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    # --- predict and explain ---------------------------------------------------------------------------
    def matrix(self, rows: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The model inputs of `rows` as float64.

        Parameters
        ----------
        rows : DataFrame or ndarray
            A feature table (see `model_inputs`), or a matrix already in `feature_names` order.

        Returns
        -------
        ndarray
            rows × features.
        """
        if isinstance(rows, pd.DataFrame):
            return model_inputs(rows, self.feature_names)
        return np.asarray(rows, dtype=np.float64)

    def margin(self, rows: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The raw log-odds margin of each row.

        Parameters
        ----------
        rows : DataFrame or ndarray
            A feature table, or a float matrix in `feature_names` order.

        Returns
        -------
        ndarray
            One float64 margin per row, from the trees up to `num_iteration`.
        """
        X = self.matrix(rows)
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(self.booster.predict(X, raw_score=True, num_iteration=self.num_iteration,
                                               **predict_params(len(X))), dtype=np.float64)

    def calibrate(self, margin: np.ndarray | float) -> np.ndarray:
        """Calibrated probabilities (clipped to [0, 1]) from raw margins.

        Parameters
        ----------
        margin : array-like or float
            Raw log-odds.

        Returns
        -------
        ndarray
            float64 probabilities, at least one-dimensional.
        """
        m = np.atleast_1d(np.asarray(margin, dtype=np.float64))
        return np.clip(np.asarray(self.calibrator.transform(m), dtype=np.float64), 0.0, 1.0)

    def predict(self, rows: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Calibrated `probability` and raw `margin` for every row.

        Parameters
        ----------
        rows : DataFrame or ndarray
            A feature table (extra columns ignored), or a float matrix in `feature_names` order.

        Returns
        -------
        DataFrame
            Columns `probability` and `margin`, on the index of `rows` when it is a frame.
        """
        margin = self.margin(rows)
        index = rows.index if isinstance(rows, pd.DataFrame) else None
        return pd.DataFrame({"probability": self.calibrate(margin), "margin": margin}, index=index)

    def explain(self, rows: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, float]:
        """TreeSHAP contributions in log-odds (LightGBM's own, `pred_contrib`) and the base value.

        Parameters
        ----------
        rows : DataFrame or ndarray
            A feature table, or a float matrix in `feature_names` order; fast for a handful of rows.

        Returns
        -------
        shap : ndarray
            rows × features; for each row `shap.sum() + base_value` equals `margin` (same trees).
        base_value : float
            The expected margin, the same for every row.
        """
        X = self.matrix(rows)
        if X.shape[1] != self.booster.num_feature():
            raise ValueError(f"{X.shape[1]} feature columns given; the booster expects {self.booster.num_feature()}")
        # The base value (the last contrib column) is the same for every row; an all-missing row gives it when
        # there are no rows to explain.
        probe = X if len(X) else np.full((1, X.shape[1]), np.nan)
        contrib = np.asarray(self.booster.predict(probe, pred_contrib=True, num_iteration=self.num_iteration,
                                                  **predict_params(len(probe))), dtype=np.float64)
        return contrib[: len(X), :-1], float(contrib[0, -1])

    # --- who it is -------------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """'upstream-risk version 3 (champion)': how lists and manifests name the model."""
        version = f" version {self.version}" if self.version else ""
        alias = f" ({self.alias})" if self.alias else ""
        return f"{self.name}{version}{alias}"

    def registered(self, **provenance: Any) -> RiskModel:
        """A copy with registry provenance (or any other field) replaced.

        Parameters
        ----------
        **provenance
            Fields to set: name, version, alias, run_id, aliases, tags.

        Returns
        -------
        RiskModel
            The same booster and calibrator with the new fields.
        """
        return dataclasses.replace(self, **provenance)

    # --- files -----------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write `booster.txt` (trees up to `num_iteration` only), `calibrator.json` and `meta.json`.

        Parameters
        ----------
        directory : str or Path
            Created if needed.

        Returns
        -------
        Path
            The directory.
        """
        directory = Path(directory)
        write_text(self.booster.model_to_string(num_iteration=self.num_iteration), directory / BOOSTER_FILE)
        write_text(self.calibrator.to_json(), directory / CALIBRATOR_FILE)
        write_json({"feature_names": list(self.feature_names), "num_iteration": self.num_iteration,
                    "calibration": self.calibrator.method}, directory / META_FILE)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> RiskModel:
        """The model `save` wrote to `directory`.

        Parameters
        ----------
        directory : str or Path
            Holding `booster.txt`, `calibrator.json` and `meta.json`.

        Returns
        -------
        RiskModel
            Without registry provenance (the registry loader adds it).
        """
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        n = meta.get("num_iteration")
        return cls(booster=lgb.Booster(model_str=(directory / BOOSTER_FILE).read_text(encoding="utf-8")),
                   calibrator=MarginCalibrator.from_json((directory / CALIBRATOR_FILE).read_text(encoding="utf-8")),
                   feature_names=list(meta["feature_names"]), num_iteration=None if n is None else int(n))
