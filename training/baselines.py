"""Baselines on the same splits: logistic regression (with age bands) on standardised features, the practice
hierarchy rule a service would follow without ML, and the older referral-count rule.

The model has to beat the strongest of them on a paired family-bootstrap interval before it may serve."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from core.errors import UpstreamError

# Age bands (years) for the logistic baseline: risk is far from linear in age (infants and adolescents).
AGE_BANDS: tuple[float, ...] = (1.0, 5.0, 10.0, 13.0, 16.0)


def age_years(X: pd.DataFrame) -> np.ndarray | None:
    """The child's age in years from `age_months` or `age_years`, if the table has either."""
    if "age_months" in X.columns:
        return X["age_months"].to_numpy(dtype=float) / 12.0
    if "age_years" in X.columns:
        return X["age_years"].to_numpy(dtype=float)
    return None


def age_band_indicators(X: pd.DataFrame) -> np.ndarray:
    """One indicator column per age band above the first (under 1, 1-4, 5-9, 10-12, 13-15, 16+); none without age."""
    age = age_years(X)
    if age is None:
        return np.empty((len(X), 0))
    band = np.digitize(np.nan_to_num(age, nan=-1.0), AGE_BANDS)
    return (band[:, None] == np.arange(1, len(AGE_BANDS) + 1)[None, :]).astype(float)


class LogisticBaseline:
    """Logistic regression on mean-imputed (with missing indicators), standardised feature columns plus age
    bands (so the baseline is not forced to be linear in age)."""

    def __init__(self, *, C: float = 1.0, max_iter: int = 2000, age_bands: bool = True) -> None:
        self.C = C
        self.max_iter = max_iter
        self.age_bands = age_bands

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        """A new float64 array (the pipeline's steps modify it in place): the inputs, plus the age bands."""
        base = _float64_copy(X[self.feature_names_])
        return np.hstack([base, age_band_indicators(X)]) if self.age_bands else base

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> LogisticBaseline:
        self.feature_names_ = list(X.columns)
        # Memory: the steps are fitted one by one, as the pipeline would, so that each input can be dropped once
        # the next array exists; the imputer and scaler work in place (copy=False). The same arithmetic on the
        # same arrays, so the same model, at about a third of the memory.
        imputer = SimpleImputer(strategy="mean", add_indicator=True, keep_empty_features=True, copy=False)
        scaler = StandardScaler(copy=False)
        logistic = LogisticRegression(C=self.C, max_iter=self.max_iter)
        Xt = imputer.fit_transform(self._design(X))  # the float64 copy is freed once the imputed array exists
        Xt = scaler.fit_transform(Xt)
        logistic.fit(Xt, np.asarray(y, int))
        del Xt
        self.pipeline_: Pipeline = make_pipeline(imputer, scaler, logistic)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(self._design(X))[:, 1]


def _float64_copy(X: pd.DataFrame) -> np.ndarray:
    """A new float64 array of the frame (never a view of it: the pipeline's steps modify it in place), in
    column-major order as a frame of columns gives it: the layout decides the order of the sums inside the
    imputer, scaler and solver, and so the last bits of the coefficients."""
    return np.array(X.to_numpy(), dtype=np.float64, order="F", copy=True)


def find_rule_columns(feature_names: list[str]) -> tuple[str, str | None]:
    """The referral count over the last 12 months and (if present) the days since the last referral.

    The feature set names them `n_referral_12m` and `days_since_referral`; other spellings are searched for.
    """
    if "n_referral_12m" in feature_names:
        return "n_referral_12m", ("days_since_referral" if "days_since_referral" in feature_names else None)
    count = [c for c in feature_names if "referral" in c and "12m" in c and "day" not in c and "since" not in c]
    recency = [c for c in feature_names if "referral" in c and ("since" in c or "days" in c)]
    if not count:
        raise UpstreamError("the feature table has no 12-month referral count column for the rule baseline")
    count.sort(key=len)
    recency.sort(key=len)
    return count[0], (recency[0] if recency else None)


class ReferralRule:
    """What a service would do without ML: rank by referrals in the last 12 months, ties by the latest one."""

    def __init__(self, *, count_column: str | None = None, recency_column: str | None = None) -> None:
        self.count_column = count_column
        self.recency_column = recency_column

    def fit(self, X: pd.DataFrame, y: np.ndarray | None = None) -> ReferralRule:
        found_count, found_recency = find_rule_columns(list(X.columns))
        self.count_column_ = self.count_column or found_count
        self.recency_column_ = self.recency_column or found_recency
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """count + a tie-break in [0, 0.5] that grows as the last referral gets more recent."""
        count = X[self.count_column_].to_numpy(dtype=float)
        count = np.nan_to_num(count, nan=0.0)
        if self.recency_column_ is None:
            return count
        days = X[self.recency_column_].to_numpy(dtype=float)
        recent = np.where(np.isnan(days), 0.0, 0.5 / (1.0 + np.clip(days, 0, None)))
        return count + recent


def _column(X: pd.DataFrame, name: str) -> np.ndarray:
    return np.nan_to_num(X[name].to_numpy(dtype=float), nan=0.0) if name in X.columns else np.zeros(len(X))


class PracticeRule:
    """The practice hierarchy a service follows without ML: a child on a child protection plan first, then on a
    child in need plan, then by referrals in the last 12 months (the latest first), then infants (under 1).

    A ranking, not a probability: the score is lexicographic in those four levels."""

    def fit(self, X: pd.DataFrame, y: np.ndarray | None = None) -> PracticeRule:
        found_count, found_recency = find_rule_columns(list(X.columns))
        self.count_column_, self.recency_column_ = found_count, found_recency
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        cp = (_column(X, "cp_plan_open") > 0).astype(float)
        cin = (_column(X, "cin_plan_open") > 0).astype(float)
        referrals = np.clip(_column(X, self.count_column_), 0, 9)
        age = age_years(X)
        infant = np.zeros(len(X)) if age is None else (np.nan_to_num(age, nan=99.0) < 1.0).astype(float)
        recent = 0.0
        if self.recency_column_ is not None:
            days = X[self.recency_column_].to_numpy(dtype=float)
            recent = np.where(np.isnan(days), 0.0, 0.5 / (1.0 + np.clip(days, 0, None)))
        return 1000.0 * cp + 100.0 * cin + 10.0 * (referrals + recent) + infant
