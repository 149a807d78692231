"""The MLflow pyfunc: feature table in (extra columns ignored), calibrated `probability` and raw `margin` out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd

from training.calibration import MarginCalibrator

BOOSTER_ARTIFACT = "booster"
CALIBRATOR_ARTIFACT = "calibrator"
META_ARTIFACT = "meta"


class RiskModel(mlflow.pyfunc.PythonModel):
    """LightGBM booster + margin calibrator, restored from plain-text artifacts (model string and JSON)."""

    def load_context(self, context: Any) -> None:
        self.load_from_files(Path(context.artifacts[BOOSTER_ARTIFACT]),
                             Path(context.artifacts[CALIBRATOR_ARTIFACT]),
                             Path(context.artifacts[META_ARTIFACT]))

    def load_from_files(self, booster: Path, calibrator: Path, meta: Path) -> RiskModel:
        self.booster = lgb.Booster(model_str=booster.read_text(encoding="utf-8"))
        self.calibrator = MarginCalibrator.from_json(calibrator.read_text(encoding="utf-8"))
        self.meta = json.loads(meta.read_text(encoding="utf-8"))
        self.feature_names = list(self.meta["feature_names"])
        self.num_iteration = int(self.meta["best_iteration"])
        return self

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks feature column(s): {', '.join(missing[:10])}")
        X = pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce").astype("float64")
                          for c in self.feature_names}, index=frame.index)
        margin = self.booster.predict(X, raw_score=True, num_iteration=self.num_iteration)
        return pd.DataFrame({"probability": self.calibrator.transform(margin), "margin": np.asarray(margin)},
                            index=frame.index)
