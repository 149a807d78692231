"""Calibration of the raw LightGBM margin into probabilities, fitted on the validation block (isotonic or Platt),
and of the family score 1 − ∏(1 − p) into the chance that any child of the family enters care (isotonic).

Siblings' outcomes are positively correlated, so 1 − ∏(1 − p) overstates the family's risk (measured 1.2–1.3×
for families of two to four children). `fit_family` maps it, on the same held-out rows, to the observed rate at
which *any* child of a family entered care; it is monotone, so it never changes the order of the lists.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from training.operating_point import _P_MAX


class MarginCalibrator:
    """Maps a raw log-odds margin to a calibrated probability; serialisable to plain JSON (no pickles)."""

    def __init__(self, method: str = "isotonic") -> None:
        self.method = method

    def fit(self, margin: np.ndarray, y: np.ndarray) -> MarginCalibrator:
        margin, y = np.asarray(margin, float), np.asarray(y, float)
        if self.method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
            iso.fit(margin, y)
            self.x_ = np.asarray(iso.X_thresholds_, float)
            self.y_ = np.asarray(iso.y_thresholds_, float)
        elif self.method == "platt":
            lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
            self.a_ = float(lr.coef_[0, 0])
            self.b_ = float(lr.intercept_[0])
        else:
            raise ValueError(f"unknown calibration method {self.method!r} (isotonic or platt)")
        return self

    def transform(self, margin: np.ndarray) -> np.ndarray:
        margin = np.asarray(margin, float)
        if self.method == "isotonic":
            return np.interp(margin, self.x_, self.y_)
        return expit(self.a_ * margin + self.b_)

    def fit_family(self, family_score: np.ndarray, family_label: np.ndarray) -> MarginCalibrator:
        """Fit the family-level calibration: family score (1 − ∏(1 − p)) -> P(any child enters)."""
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        iso.fit(np.asarray(family_score, float), np.asarray(family_label, float))
        self.family_x_ = np.asarray(iso.X_thresholds_, float)
        self.family_y_ = np.asarray(iso.y_thresholds_, float)
        return self

    @property
    def has_family(self) -> bool:
        return getattr(self, "family_x_", None) is not None

    def family_transform(self, family_score: np.ndarray) -> np.ndarray:
        """Calibrated family risk; the family score itself when no family calibration was fitted."""
        family_score = np.asarray(family_score, float)
        if not self.has_family:
            return family_score
        return np.interp(family_score, self.family_x_, self.family_y_)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = ({"method": "isotonic", "x": self.x_.tolist(), "y": self.y_.tolist()}
                               if self.method == "isotonic" else {"method": "platt", "a": self.a_, "b": self.b_})
        if self.has_family:
            out["family"] = {"x": self.family_x_.tolist(), "y": self.family_y_.tolist()}
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarginCalibrator:
        cal = cls(data["method"])
        if cal.method == "isotonic":
            cal.x_, cal.y_ = np.asarray(data["x"], float), np.asarray(data["y"], float)
        else:
            cal.a_, cal.b_ = float(data["a"]), float(data["b"])
        if data.get("family"):
            cal.family_x_ = np.asarray(data["family"]["x"], float)
            cal.family_y_ = np.asarray(data["family"]["y"], float)
        return cal

    @classmethod
    def from_json(cls, text: str) -> MarginCalibrator:
        return cls.from_dict(json.loads(text))


def family_rows(frame: pd.DataFrame, probability: np.ndarray) -> pd.DataFrame:
    """One row per (as-of date, family): family score 1 − ∏(1 − p), label (any child entered), children."""

    p = np.clip(np.asarray(probability, float), 0.0, _P_MAX)
    rows = pd.DataFrame({"as_of": frame["as_of"].to_numpy(), "family_id": frame["family_id"].to_numpy(),
                         "log": np.log1p(-p), "label": frame["label"].to_numpy(dtype=float),
                         "p_max": np.asarray(probability, float)})
    fam = rows.groupby(["as_of", "family_id"], sort=True).agg(log=("log", "sum"), label=("label", "max"),
                                                              highest=("p_max", "max"), n_children=("log", "size"))
    fam["family_score"] = -np.expm1(fam["log"])
    return fam.drop(columns="log").reset_index()
