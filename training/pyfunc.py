"""The MLflow pyfunc, logged as code (MLflow 3's "models from code"): restores the `RiskModel` and predicts.

MLflow runs this file when the model is loaded (`mlflow.pyfunc.load_model`, `mlflow models serve`); nothing
else imports it. It holds no state of its own: `load_context` reads the files `RiskModel.save` wrote (logged
as the `risk_model` artifact) and `predict` is `RiskModel.predict`. Input: a feature table (extra columns are
ignored); output: calibrated `probability` and raw `margin`.
`training/tracking.py` logs it by path (`python_model="…/pyfunc.py"`), so no Python object is pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from training.model import PYFUNC_ARTIFACT, RiskModel


class RiskModelPyfunc(PythonModel):
    """The pyfunc face of `RiskModel` (`.model` once loaded)."""

    def load_context(self, context: Any) -> None:
        self.model = RiskModel.load(Path(context.artifacts[PYFUNC_ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [c for c in self.model.feature_names if c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks feature column(s): {', '.join(missing[:10])}")
        return self.model.predict(frame)


set_model(RiskModelPyfunc())
