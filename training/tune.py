"""Bounded hyperparameter search (Optuna TPE) scored on the validation block; the test block is never seen."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import optuna
import pandas as pd

from core.config import ModelConfig
from training.lgbm import LGBMRiskModel, base_params


def tune(model: ModelConfig, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray, *,
         extra_params: dict[str, Any] | None = None, n_trials: int | None = None,
         timeout: float | None = None) -> dict[str, Any]:
    """Search tree shape and regularisation by validation PR-AUC; returns the best overrides and the trial log."""
    optuna.logging.set_verbosity(logging.WARNING)
    # The ranges include the configured defaults (num_leaves 15, min_data_in_leaf 1000, feature_fraction 0.3,
    # lambda_l2 30: strong regularisation suits ~1,700 positives), so trial 0 is inside the search space.
    extra = dict(extra_params or {})

    def objective(trial: optuna.Trial) -> float:
        overrides = {
            "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 3000, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.2, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 100.0, log=True),
        }
        params = base_params(model, **extra, **overrides)
        params["bagging_freq"] = 1
        fitted = LGBMRiskModel(params, num_boost_round=model.num_boost_round,
                               early_stopping_rounds=model.early_stopping_rounds
                               ).fit(X, y, X_val=X_val, y_val=y_val)
        trial.set_user_attr("best_iteration", fitted.best_iteration_)
        return fitted.validation_pr_auc_

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=model.seed))
    # Trial 0 is the configured model, so tuning can only match or beat it on validation.
    study.enqueue_trial({"num_leaves": model.num_leaves, "min_data_in_leaf": model.min_data_in_leaf,
                         "feature_fraction": model.feature_fraction, "bagging_fraction": model.bagging_fraction,
                         "lambda_l2": max(model.lambda_l2, 1e-3)})
    study.optimize(objective, n_trials=n_trials or model.tune_trials,
                   timeout=timeout if timeout is not None else model.tune_timeout_seconds)
    trials = [{"number": t.number, "value": t.value, **t.params} for t in study.trials if t.value is not None]
    return {"best_params": dict(study.best_params), "best_value": float(study.best_value),
            "n_trials": len(trials), "trials": trials}
