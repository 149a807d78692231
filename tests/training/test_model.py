"""The one model class: predict is calibrate(margin), TreeSHAP adds up to the margin at the one iteration count,
small batches run on one thread with the same numbers, and the plain-text files restore the same model."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from core.errors import UpstreamError
from training import model as model_module
from training.calibration import MarginCalibrator
from training.model import RiskModel, model_inputs

NAMES = ["n_referral_12m", "age_months", "cp_plan_open", "days_since_contact", "hub_code"]


@pytest.fixture(scope="module")
def model() -> RiskModel:
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.poisson(1.0, (3000, len(NAMES))).astype(float), columns=NAMES)
    X.loc[rng.random(3000) < 0.3, "days_since_contact"] = np.nan
    y = (rng.random(3000) < 1 / (1 + np.exp(3 - X["n_referral_12m"] - X["cp_plan_open"]))).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 7, "verbosity": -1, "num_threads": 1, "seed": 1,
                         "deterministic": True}, lgb.Dataset(X, label=y), num_boost_round=40)
    calibrator = MarginCalibrator("isotonic").fit(booster.predict(X, raw_score=True, num_iteration=30), y)
    return RiskModel(booster=booster, calibrator=calibrator, feature_names=NAMES, num_iteration=30, version="3",
                     alias="champion")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    frame = pd.DataFrame(rng.poisson(1.0, (300, len(NAMES))).astype(float), columns=NAMES)
    return frame.assign(child_id=[f"C{i}" for i in range(300)])[["child_id", *reversed(NAMES)]]  # any order


def test_predict_is_the_calibrated_margin_of_the_named_columns(model: RiskModel, rows: pd.DataFrame) -> None:
    out = model.predict(rows.set_index("child_id"))
    assert list(out.columns) == ["probability", "margin"] and out.index.equals(pd.Index(rows["child_id"]))
    margin = model.booster.predict(rows[NAMES], raw_score=True, num_iteration=30)
    np.testing.assert_allclose(out["margin"], margin, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["probability"], model.calibrator.transform(margin), rtol=0, atol=1e-12)
    assert out["probability"].between(0, 1).all()


def test_text_columns_from_a_csv_round_trip_give_the_same_numbers(model: RiskModel, rows: pd.DataFrame) -> None:
    as_text = rows.astype(str).replace("nan", "")
    pd.testing.assert_frame_equal(model.predict(as_text), model.predict(rows))


def test_model_inputs_refuse_a_table_without_the_models_columns(model: RiskModel) -> None:
    with pytest.raises(UpstreamError, match="lacks the model's input column"):
        model_inputs(pd.DataFrame({"child_id": ["a"]}), model.feature_names)


def test_shap_plus_base_value_equals_margin(model: RiskModel, rows: pd.DataFrame) -> None:
    shap, base = model.explain(rows)
    assert shap.shape == (300, len(NAMES))
    np.testing.assert_allclose(shap.sum(axis=1) + base, model.margin(rows), atol=1e-6, rtol=0)


def test_explanations_use_the_same_trees_as_the_margin(model: RiskModel, rows: pd.DataFrame) -> None:
    # the booster holds 40 trees, the model uses 30: SHAP over all 40 would not add up to the served margin
    every_tree = model.registered(num_iteration=None)
    shap_all, base_all = every_tree.explain(rows)
    assert np.abs(shap_all.sum(axis=1) + base_all - model.margin(rows)).max() > 1e-3


def test_explain_handles_one_row_and_no_rows(model: RiskModel, rows: pd.DataFrame) -> None:
    one, base1 = model.explain(rows.head(1))
    none, base0 = model.explain(rows.head(0))
    assert one.shape == (1, len(NAMES)) and none.shape == (0, len(NAMES))
    assert base0 == pytest.approx(base1)
    assert model.predict(rows.head(0)).empty


def test_one_thread_gives_the_same_numbers(model: RiskModel, rows: pd.DataFrame,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    small = rows.head(7)
    assert model_module.predict_params(len(small)) == {"num_threads": 1}
    one_pred, (one_shap, one_base) = model.predict(small), model.explain(small)
    monkeypatch.setattr(model_module, "SMALL_BATCH", -1)  # the batch path: the booster's own threads
    assert model_module.predict_params(len(small)) == {}
    pd.testing.assert_frame_equal(model.predict(small), one_pred, check_exact=True)
    shap, base = model.explain(small)
    assert np.array_equal(shap, one_shap) and base == one_base


def test_files_restore_the_same_model(model: RiskModel, rows: pd.DataFrame, tmp_path) -> None:
    loaded = RiskModel.load(model.save(tmp_path / "m"))
    assert loaded.booster.num_trees() == 30 and loaded.num_iteration == 30 and loaded.feature_names == NAMES
    assert loaded.version is None  # provenance comes from the registry, not the files
    pd.testing.assert_frame_equal(loaded.predict(rows), model.predict(rows), check_exact=True)
    assert np.array_equal(loaded.explain(rows)[0], model.explain(rows)[0])


def test_label_names_the_version_and_alias(model: RiskModel) -> None:
    assert model.label == "upstream-risk version 3 (champion)"
    assert model.registered(version=None, alias=None).label == "upstream-risk"
