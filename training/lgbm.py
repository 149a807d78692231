"""The LightGBM risk model: early stopping on validation, class-imbalance handling chosen on validation."""

from __future__ import annotations

import os
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from core.config import ModelConfig

# is_unbalance (weight = negatives / positives, ~250 at a 0.4% base rate) is available but not screened by
# default: it cost validation PR-AUC on the simulated council and a third of the screening time.
IMBALANCE_OPTIONS: tuple[str, ...] = ("none", "sqrt_scale_pos_weight")


def n_threads() -> int:
    """LightGBM threads: UPSTREAM_THREADS if set, else 1.

    One thread is the measured best on the shared 2-core machine this runs on: with other work on the cores,
    OpenMP's barriers made 2 threads 4x slower than 1 (100 rounds on 63k rows: 25 s vs 6.6 s). A fixed count
    also keeps results identical from run to run.
    """
    value = os.environ.get("UPSTREAM_THREADS", "").strip()
    return max(1, int(value)) if value.isdigit() else 1


def base_params(model: ModelConfig, **overrides: Any) -> dict[str, Any]:
    """LightGBM parameters from the config; deterministic for a given seed and thread count."""
    params: dict[str, Any] = {
        "objective": "binary",
        "metric": ["binary_logloss", "average_precision"],
        "learning_rate": model.learning_rate,
        "num_leaves": model.num_leaves,
        "min_data_in_leaf": model.min_data_in_leaf,
        "feature_fraction": model.feature_fraction,
        "bagging_fraction": model.bagging_fraction,
        "bagging_freq": 1 if model.bagging_fraction < 1.0 else 0,
        "lambda_l2": model.lambda_l2,
        "seed": model.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": None,  # decided in fit: UPSTREAM_THREADS, else 1 (see n_threads)
        "verbosity": -1,
        "monotone": model.monotone,  # expanded in fit into monotone_constraints for the columns (see above)
    }
    params.update(overrides)
    return params


# Features that are not adverse events: the child's own facts, and early help (support, not harm).
_UNCONSTRAINED = ("early_help", "n_children_family")


def monotone_direction(name: str) -> int:
    """+1 for a count of adverse events (more never lowers risk), -1 for the days since one (more recent never
    lowers risk), 0 for everything else (static facts, open episodes, trends, early help)."""
    if any(part in name for part in _UNCONSTRAINED):
        return 0
    if name.startswith("days_since_"):
        return -1
    if name.startswith("n_") or "_count_" in name:
        return 1
    return 0


def monotone_params(feature_names: list[str]) -> dict[str, Any]:
    """LightGBM `monotone_constraints` for the feature columns, in order (empty when none apply)."""
    directions = [monotone_direction(n) for n in feature_names]
    if not any(directions):
        return {}
    return {"monotone_constraints": directions, "monotone_constraints_method": "advanced"}


def imbalance_params(option: str, y: np.ndarray) -> dict[str, Any]:
    """LightGBM parameters for one way of handling the rare positive class."""
    return imbalance_params_for(option, n_rows=len(y), n_positive=float(np.sum(y)))


def imbalance_params_for(option: str, *, n_rows: int, n_positive: float) -> dict[str, Any]:
    """`imbalance_params` from the train block's row and positive counts (all a distributed table gives)."""
    if option == "none":
        return {}
    if option == "is_unbalance":
        return {"is_unbalance": True}
    if option == "sqrt_scale_pos_weight":
        pos = max(float(n_positive), 1.0)
        return {"scale_pos_weight": float(np.sqrt((n_rows - pos) / pos))}
    raise ValueError(f"unknown imbalance option {option!r}; choose from {', '.join(IMBALANCE_OPTIONS)}")


class LGBMRiskModel:
    """Gradient-boosted trees on the numeric feature columns; `fit` stops early on the validation block."""

    def __init__(self, params: dict[str, Any], *, num_boost_round: int = 2000,
                 early_stopping_rounds: int = 100) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds

    def _params(self, X: pd.DataFrame) -> dict[str, Any]:
        params = dict(self.params)
        if params.get("num_threads") is None:
            params["num_threads"] = n_threads()
        if params.pop("monotone", False):
            params.update(monotone_params(list(X.columns)))
        return params

    def fit_rounds(self, X: pd.DataFrame, y: np.ndarray, *, rounds: int) -> LGBMRiskModel:
        """Fit a fixed number of rounds without a validation set (the deployment refit)."""
        self.booster_ = lgb.train(self._params(X), lgb.Dataset(X, label=y, free_raw_data=True),
                                  num_boost_round=max(1, int(rounds)))
        self.best_iteration_ = int(self.booster_.current_iteration())
        self.feature_names_ = list(X.columns)
        self.eval_history_ = {}
        self.validation_pr_auc_ = float("nan")
        return self

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, X_val: pd.DataFrame, y_val: np.ndarray) -> LGBMRiskModel:
        params = self._params(X)
        train = lgb.Dataset(X, label=y, free_raw_data=True)
        valid = lgb.Dataset(X_val, label=y_val, reference=train)
        evals: dict[str, dict[str, list[float]]] = {}
        # Early stopping watches the first metric, validation log-loss: with a few hundred positives
        # average precision is too noisy to stop on (it stopped after a handful of rounds).
        self.booster_ = lgb.train(
            params, train, num_boost_round=self.num_boost_round, valid_sets=[valid], valid_names=["validation"],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False),
                       lgb.record_evaluation(evals)],
        )
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.current_iteration())
        self.feature_names_ = list(X.columns)
        self.eval_history_ = evals.get("validation", {})
        val_margin = self.predict_margin(X_val)
        self.validation_pr_auc_ = float(average_precision_score(y_val, val_margin)) if np.sum(y_val) else np.nan
        return self

    def predict_margin(self, X: pd.DataFrame) -> np.ndarray:
        """Raw log-odds from the best iteration."""
        # no column selection (a full copy) when the frame already holds exactly the model's columns in order
        X = X if list(X.columns) == self.feature_names_ else X[self.feature_names_]
        return self.booster_.predict(X, raw_score=True, num_iteration=self.best_iteration_)


def screen_settings(model: ModelConfig) -> tuple[float, int, int]:
    """The imbalance screen's learning rate, most rounds and early-stopping patience: a fraction of the final fit."""
    return max(model.learning_rate, 0.1), min(200, model.num_boost_round), min(30, model.early_stopping_rounds)


def choose_imbalance(model: ModelConfig, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray,
                     *, options: tuple[str, ...] = IMBALANCE_OPTIONS) -> tuple[str, dict[str, float]]:
    """Pick the imbalance handling with the best validation PR-AUC in a quick screen (ties: the simplest).

    The screen uses a faster learning rate (at least 0.1) and at most 200 rounds so that it costs a fraction
    of the final fit; the calibrator fitted afterwards undoes any reweighting's effect on probabilities.
    """
    scores: dict[str, float] = {}
    quick_lr, rounds, patience = screen_settings(model)
    for option in options:
        params = base_params(model, learning_rate=quick_lr, **imbalance_params(option, y))
        fitted = LGBMRiskModel(params, num_boost_round=rounds, early_stopping_rounds=patience
                               ).fit(X, y, X_val=X_val, y_val=y_val)
        scores[option] = fitted.validation_pr_auc_
    return pick_imbalance(scores, options), scores


def pick_imbalance(scores: dict[str, float], options: tuple[str, ...] = IMBALANCE_OPTIONS) -> str:
    """The option with the best validation PR-AUC (to 4 decimals; ties: the simplest, the first listed)."""
    return max(options, key=lambda o: (round(scores[o], 4), -options.index(o)))
