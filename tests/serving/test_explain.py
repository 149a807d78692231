"""Reason codes: the largest positive contributions, never an absence, in plain English."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import Config
from features import describe
from serving.explain import family_reasons, informative
from training.model import RiskModel

FEATS = ["age_months", "hub_code", "n_referral_12m", "n_referral_24m", "n_domestic_abuse_6m", "cp_plan_open",
         "days_since_referral", "n_missing_episode_12m", "early_help_open", "n_contact_6m"]


def _row(**values: float) -> np.ndarray:
    base = {"age_months": 120, "hub_code": 1, "n_referral_12m": 0, "n_referral_24m": 0, "n_domestic_abuse_6m": 0,
            "cp_plan_open": 0, "days_since_referral": np.nan, "n_missing_episode_12m": 0, "early_help_open": 0,
            "n_contact_6m": 0}
    base.update(values)
    return np.array([base[f] for f in FEATS], dtype=float)


def _shap(**values: float) -> np.ndarray:
    return np.array([values.get(f, 0.0) for f in FEATS], dtype=float)


def reasons_for_child(x: np.ndarray, shap: np.ndarray, feature_names: list[str], *, describe: object
                      ) -> tuple[list, object]:
    """The top 3 reasons and the protective factor for one child (a one-child family)."""
    return family_reasons([""], x.reshape(1, -1), shap.reshape(1, -1), feature_names, top=3, describe=describe)


def test_reasons_are_the_largest_positive_contributions_with_values() -> None:
    x = _row(n_referral_12m=3, n_referral_24m=4, n_domestic_abuse_6m=2, cp_plan_open=1, days_since_referral=40)
    shap = _shap(n_referral_12m=0.9, n_referral_24m=0.5, n_domestic_abuse_6m=1.2, cp_plan_open=0.3,
                 days_since_referral=0.2, age_months=0.1, n_contact_6m=-0.4)
    reasons, protective = reasons_for_child(x, shap, FEATS, describe=describe)
    assert [r.feature for r in reasons] == ["n_domestic_abuse_6m", "n_referral_12m", "cp_plan_open"]
    assert [r.text for r in reasons] == ["2 police domestic abuse notifications in the last 6 months",
                                         "3 referrals to children's social care in the last 12 months",
                                         "On a child protection plan now"]
    assert protective is not None and protective.feature == "n_contact_6m"
    assert protective.text == "No contacts with children's services in the last 6 months"


def test_an_absence_is_never_a_reason_and_the_hub_never_is() -> None:
    # a positive SHAP from "0 missing episodes" or from the hub code says nothing a hub lead can act on
    x = _row(n_referral_12m=1)
    shap = _shap(n_missing_episode_12m=2.0, hub_code=1.5, cp_plan_open=1.0, n_referral_12m=0.2,
                 days_since_referral=0.8)
    reasons, _ = reasons_for_child(x, shap, FEATS, describe=describe)
    assert [r.feature for r in reasons] == ["n_referral_12m"]


def test_one_reason_per_signal() -> None:
    x = _row(n_referral_12m=3, n_referral_24m=5, days_since_referral=10, n_contact_6m=2)
    shap = _shap(n_referral_12m=0.5, n_referral_24m=0.6, days_since_referral=0.4, n_contact_6m=0.1)
    reasons, _ = reasons_for_child(x, shap, FEATS, describe=describe)
    assert [r.feature for r in reasons] == ["n_referral_24m", "n_contact_6m"]


def test_family_reasons_take_each_childs_strongest_push_and_name_the_child() -> None:
    baby = _row(age_months=8, cp_plan_open=1)
    teen = _row(age_months=14 * 12 + 3, n_missing_episode_12m=3)
    X = np.vstack([baby, teen])
    shap = np.vstack([_shap(cp_plan_open=1.5, n_missing_episode_12m=0.3, n_contact_6m=-0.2),
                      _shap(n_missing_episode_12m=0.7, cp_plan_open=0.2, n_contact_6m=-0.5)])
    reasons, protective = family_reasons(["B", "T"], X, shap, FEATS, probabilities=[0.4, 0.2], ages=[0, 14],
                                         describe=describe)
    assert [(r.feature, r.child_id) for r in reasons] == [("cp_plan_open", "B"), ("n_missing_episode_12m", "T")]
    assert reasons[0].text == "Baby under 1: on a child protection plan now"
    assert reasons[1].text == "Child aged 14: 3 missing episodes in the last 12 months"
    # protective: the highest-risk child's (the baby's) most negative contribution
    assert protective is not None and protective.child_id == "B" and protective.feature == "n_contact_6m"


def test_informative_rules() -> None:
    assert not informative("n_referral_12m", 0) and informative("n_referral_12m", 2)
    assert informative("days_since_referral", 0.0) and not informative("days_since_referral", float("nan"))
    assert not informative("hub_code", 2) and informative("age_months", 0)
    assert not informative("trend_referral_12m", -1) and informative("trend_referral_12m", 1)
    assert informative("n_referral_12m", 0, positive=False)  # "no referrals" can be protective


def test_every_listed_reason_renders_without_a_placeholder(s_model: RiskModel, s_cohort: pd.DataFrame,
                                                           s_config: Config) -> None:
    from serving.scoring import score_cohort

    result = score_cohort(s_model, s_cohort, s_config, explain_all=True)
    import json

    texts = [t for r in result.families["reasons"] for t in json.loads(r)]
    texts += [p for p in result.families["protective"] if p]
    assert len(texts) > 500
    for t in texts:
        assert "{" not in t and "}" not in t and "nan" not in t.lower().split() and "_" not in t, t
        assert not t[:1].islower()


def test_reasons_match_the_largest_positive_shap_of_each_listed_family(s_model: RiskModel,
                                                                       s_cohort: pd.DataFrame,
                                                                       s_config: Config) -> None:
    """Independent check: per feature the family's max risk-weighted SHAP over children with a recorded value
    (weight = child's probability / the family's highest child probability); top 3 signals."""
    import json

    from serving.explain import feature_kind
    from serving.scoring import score_cohort

    result = score_cohort(s_model, s_cohort, s_config)
    X = pd.DataFrame(result.explained_X, columns=s_model.feature_names)
    S = pd.DataFrame(result.explained_shap, columns=s_model.feature_names)
    by_child = result.scores.set_index("child_id").loc[result.explained_ids]
    fam_of = by_child["family_id"].to_numpy()
    prob = by_child["probability"].to_numpy()
    for _, fam in result.families[result.families["listed"]].iterrows():
        rows = fam_of == fam["family_id"]
        weight = prob[rows] / prob[rows].max()
        best: dict[str, float] = {}
        for f in s_model.feature_names:
            vals = [s * w for x, s, w in zip(X.loc[rows, f], S.loc[rows, f], weight, strict=True)
                    if s > 0 and informative(f, x)]
            if vals:
                g = feature_kind(f)[1]
                best[g] = max(best.get(g, 0.0), max(vals))
        expected = sorted(best, key=lambda g: -best[g])[:3]
        got = [feature_kind(f)[1] for f in json.loads(fam["reason_features"])]
        assert got == expected


def test_a_childs_age_reads_clearly_in_a_family() -> None:
    X = np.vstack([_row(age_months=3), _row(age_months=100)])
    shap = np.vstack([_shap(age_months=0.9), _shap(age_months=-0.1)])
    reasons, _ = family_reasons(["B", "C"], X, shap, FEATS, ages=[0, 8], describe=describe)
    assert [r.text for r in reasons] == ["A child aged 3 months"]
    alone, _ = reasons_for_child(_row(age_months=3), _shap(age_months=0.9), FEATS, describe=describe)
    assert alone[0].text == "Aged 3 months"
