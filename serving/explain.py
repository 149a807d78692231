"""Explanations: TreeSHAP contributions from the LightGBM booster, and plain-English reason codes for families.

SHAP values come from `training.model.RiskModel.explain` (LightGBM's own TreeSHAP, in log-odds: for every row
the contributions plus the base value equal the raw margin, cut at the model's one iteration count).

Reason rule (what a hub lead reads):
- a **reason** is a feature that pushes a child's risk up (SHAP > 0) *and* holds something that happened:
  a count above 0, an open episode, a recorded date, a rising trend; or a fact about the child (age, time
  resident, deprivation). A positive SHAP from an absence ("0 referrals") is never a reason to flag. The hub
  code is never a reason: every family on a hub's list shares it.
- for a family, each feature counts with its strongest push among the family's children (its largest SHAP),
  so a teenager's missing episodes are not hidden by a baby's higher risk; the value shown is that child's.
  A child-level reason in a family of several children names the child by age ("Child aged 14: …").
- one reason per signal (the window with the largest SHAP): "3 referrals in the last 12 months" and
  "4 referrals in the last 24 months" say the same thing twice.
- the **protective factor** is the most negative contribution for the family's highest-risk child, from a
  signal not already among the reasons; absences may be protective ("no police domestic abuse notifications
  in the last 6 months") — that is a real strength of the family at the as-of date.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

Describe = Callable[[str, float], str]

NEVER_A_REASON = frozenset({"hub_code"})


@dataclass(frozen=True)
class Reason:
    """One plain-English contribution to a family's risk (positive: a reason; negative: protective)."""

    feature: str
    value: float
    shap: float
    child_id: str
    text: str
    group: str  # the signal the feature belongs to (one reason per signal)


def explanations_frame(child_ids: Sequence[str], X: np.ndarray, shap: np.ndarray,
                       feature_names: Sequence[str]) -> pd.DataFrame:
    """Long format: one row per (child, feature) with the feature's value and SHAP value."""
    n, m = shap.shape
    return pd.DataFrame({
        "child_id": np.repeat(np.asarray(child_ids, dtype=object), m),
        "feature": pd.Categorical(np.tile(np.asarray(feature_names, dtype=object), n), categories=list(
            dict.fromkeys(feature_names))).astype(object),
        "value": X.reshape(-1),
        "shap": shap.reshape(-1),
    })


# --- what a feature is: its kind and signal, from the feature definitions ------------------------------

@lru_cache(maxsize=1024)
def _info(name: str) -> tuple[str, str, str]:
    """(kind, signal group, scope) of a feature from the feature dictionary; unknown names are guessed."""
    try:
        from features.dictionary import FEATURE_DICTIONARY

        info = FEATURE_DICTIONARY.get(name)
    except ImportError:
        info = None
    if info is not None:
        return info.kind, info.signal or name, info.scope
    if name.startswith("days_since_"):
        return "days_since", name[len("days_since_"):], "child"
    if name.endswith("_open"):
        return "open", name[: -len("_open")], "child"
    return ("trend" if name.startswith("trend_") else "count"), name, "child"


def feature_kind(name: str) -> tuple[str, str]:
    """(kind, signal group) of a feature: count, days_since, trend, open, open_months or static."""
    kind, group, _ = _info(name)
    return kind, group


def is_child_level(name: str) -> bool:
    """True when the feature is about one child (not the household, the siblings or the family)."""
    kind, _, scope = _info(name)
    return scope == "child" and kind != "static"


# Kinds whose every recorded value reads as something that happened or a fact (age, "last referral today");
# the rest (counts, open flags and durations, trends) need a value above 0.
_RECORDED_KINDS = frozenset({"static", "days_since"})


def informative(name: str, value: float, *, positive: bool = True) -> bool:
    """Whether a feature's value can be read as a reason (positive) or a protective factor (negative)."""
    if name in NEVER_A_REASON:
        return False
    missing = value is None or math.isnan(float(value))
    kind = feature_kind(name)[0]
    if not positive:  # an absence can be protective ("no referrals in the last 12 months")
        return not (missing and kind == "static")
    if missing:
        return False
    return kind in _RECORDED_KINDS or value > 0


def default_describe() -> Describe:
    from features.dictionary import describe

    return describe


def _render(describe: Describe, name: str, value: float) -> str | None:
    try:
        text = describe(name, value)
    except (KeyError, ValueError, TypeError):
        return None
    # a template left half-filled is worse than no reason
    return None if not text or "{" in text or "}" in text else text


def _age_prefix(age_years: float | None) -> str:
    if age_years is None or (isinstance(age_years, float) and math.isnan(age_years)):
        return "A child: "
    age = int(age_years)
    return "Baby under 1: " if age < 1 else f"Child aged {age}: "


def _lower_first(text: str) -> str:
    # "A&E attendances" and "CP plan" keep their capitals; "3 referrals" has none to lose
    return text if text[:2].isupper() or "&" in text[:3] else text[:1].lower() + text[1:]


def _as_reason(describe: Describe, feature_names: Sequence[str], j: int, value: float, shap: float,
               child_id: str, age_years: float | None, *, name_child: bool) -> Reason | None:
    name = feature_names[j]
    text = _render(describe, name, value)
    if text is None:
        return None
    if name_child and name == "age_months":  # "Aged 3 months" alone is ambiguous in a family of several
        text = "A child " + text
    elif name_child and (is_child_level(name) or name == "months_resident"):
        text = _age_prefix(age_years) + _lower_first(text)
    else:
        text = text[:1].upper() + text[1:]
    return Reason(feature=name, value=float(value), shap=float(shap), child_id=str(child_id), text=text,
                  group=feature_kind(name)[1])


@lru_cache(maxsize=16)
def _reason_masks(feature_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per feature: never a reason; any recorded value counts (else a value above 0 is needed)."""
    never = np.array([f in NEVER_A_REASON for f in feature_names], dtype=bool)
    recorded = np.array([feature_kind(f)[0] in _RECORDED_KINDS for f in feature_names], dtype=bool)
    return never, recorded


def informative_matrix(X: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
    """`informative(name, value)` for every cell of X (the reason direction), vectorised."""
    never, recorded = _reason_masks(tuple(feature_names))
    ok = np.where(recorded, ~np.isnan(X), np.nan_to_num(X, nan=0.0) > 0)
    return ok & ~never


def family_reasons(child_ids: Sequence[str], X: np.ndarray, shap: np.ndarray, feature_names: Sequence[str], *,
                   probabilities: Sequence[float] | None = None, ages: Sequence[float] | None = None,
                   top: int = 3, describe: Describe | None = None) -> tuple[list[Reason], Reason | None]:
    """The top `top` reasons and the strongest protective factor for one family (rules in the module doc).

    `X` and `shap` hold one row per child of the family, columns in `feature_names` order."""
    describe = describe or default_describe()
    X, shap = np.atleast_2d(np.asarray(X, float)), np.atleast_2d(np.asarray(shap, float))
    n = len(child_ids)
    ages_list = list(ages) if ages is not None else [None] * n
    name_child = n > 1
    ok = informative_matrix(X, feature_names)
    # Weight each child's pushes by that child's risk relative to the family's highest-risk child, so a signal
    # in a child with little risk of their own does not head the family's reasons (a teenager's strong signal
    # still shows beside a baby's higher risk: half the risk halves the weight, it does not hide it).
    weight = np.ones(n)
    if n and probabilities is not None:
        probs_w = np.asarray(probabilities, float)
        if np.nanmax(probs_w) > 0:
            weight = np.clip(probs_w / np.nanmax(probs_w), 0.0, 1.0)
    push = np.where(ok & (shap > 0), shap * weight[:, None], -np.inf)
    best_child = push.argmax(axis=0) if n else np.zeros(len(feature_names), int)
    best = push[best_child, np.arange(len(feature_names))] if n else np.full(len(feature_names), -np.inf)

    reasons: list[Reason] = []
    groups: set[str] = set()
    for j in np.argsort(-best, kind="stable"):
        if not np.isfinite(best[j]) or len(reasons) >= top:
            break
        group = feature_kind(feature_names[j])[1]
        if group in groups:
            continue
        i = int(best_child[j])
        r = _as_reason(describe, feature_names, j, X[i, j], shap[i, j], child_ids[i], ages_list[i],
                       name_child=name_child)
        if r is not None:
            reasons.append(r)
            groups.add(group)

    protective = None
    if n:
        probs = np.asarray(probabilities, float) if probabilities is not None else shap.sum(axis=1)
        i = int(np.argmax(probs))
        for j in np.argsort(shap[i], kind="stable"):
            if shap[i, j] >= 0:
                break
            name = feature_names[j]
            if feature_kind(name)[1] in groups or not informative(name, X[i, j], positive=False):
                continue
            protective = _as_reason(describe, feature_names, j, X[i, j], shap[i, j], child_ids[i], ages_list[i],
                                    name_child=name_child)
            if protective is not None:
                break
    return reasons, protective
