"""Calibration of the raw LightGBM margin into probabilities, fitted on the validation block (isotonic or Platt)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


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

    def to_dict(self) -> dict[str, Any]:
        if self.method == "isotonic":
            return {"method": "isotonic", "x": self.x_.tolist(), "y": self.y_.tolist()}
        return {"method": "platt", "a": self.a_, "b": self.b_}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarginCalibrator:
        cal = cls(data["method"])
        if cal.method == "isotonic":
            cal.x_, cal.y_ = np.asarray(data["x"], float), np.asarray(data["y"], float)
        else:
            cal.a_, cal.b_ = float(data["a"]), float(data["b"])
        return cal

    @classmethod
    def from_json(cls, text: str) -> MarginCalibrator:
        return cls.from_dict(json.loads(text))
