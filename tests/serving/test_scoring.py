"""The scoring output directory: every agreed file, additivity on disk, no ethnicity, the notice, the CLI's checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import Config
from core.errors import UpstreamError
from serving.scoring import (
    SCORE_COLUMNS,
    run_score,
    score_children,
    score_cohort,
    score_family,
    write_scoring,
)
from training.model import RiskModel

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "examples" / "tiny_extract"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, s_model: RiskModel, s_cohort: pd.DataFrame,
            s_config: Config) -> Path:
    out = tmp_path_factory.mktemp("score") / "out"
    write_scoring(score_cohort(s_model, s_cohort, s_config), out, s_config)
    return out


def test_every_agreed_file_is_written(written: Path, s_config: Config) -> None:
    for name in ("scores.parquet", "explanations.parquet", "families.parquet", "locality.csv", "locality.html",
                 "manifest.json"):
        assert (written / name).is_file(), name
    fam = pd.read_parquet(written / "families.parquet")
    for hub in s_config.council.hub_names:
        assert (written / "lists" / f"{hub}.csv").is_file() and (written / "lists" / f"{hub}.html").is_file()
        for fid in fam.loc[fam["listed"] & (fam["hub"] == hub), "family_id"]:
            png = written / "lists" / hub / f"{fid}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(written.parent.glob(".*tmp"))  # the atomic build left nothing behind


def test_scores_cover_the_cohort_in_the_agreed_shape(written: Path, s_cohort: pd.DataFrame) -> None:
    scores = pd.read_parquet(written / "scores.parquet")
    assert tuple(scores.columns) == SCORE_COLUMNS
    assert sorted(scores["child_id"]) == sorted(s_cohort["child_id"])
    assert scores["probability"].between(0, 1).all()
    for _, g in scores.groupby("hub"):
        assert sorted(g["rank_in_hub"]) == list(range(1, len(g) + 1))
        assert g.sort_values("rank_in_hub")["probability"].is_monotonic_decreasing


def test_explanations_on_disk_add_up_to_the_margin(written: Path) -> None:
    exp = pd.read_parquet(written / "explanations.parquet")
    scores = pd.read_parquet(written / "scores.parquet").set_index("child_id")
    assert list(exp.columns) == ["child_id", "feature", "value", "shap"]
    listed = set(scores.index[scores["listed"]])
    assert set(exp["child_id"]) == listed  # listed families' children only, by default
    total = exp.groupby("child_id")["shap"].sum()
    got = total + scores.loc[total.index, "base_value"]
    np.testing.assert_allclose(got.to_numpy(), scores.loc[total.index, "margin"].to_numpy(), atol=1e-6, rtol=0)


def test_families_table_matches_the_interface(written: Path) -> None:
    fam = pd.read_parquet(written / "families.parquet")
    for col in ("family_id", "hub", "family_risk", "band", "rank_in_hub", "listed", "previously_known", "children",
                "reasons", "protective", "changes"):
        assert col in fam.columns, col
    listed = fam[fam["listed"]]
    assert listed["reasons"].map(lambda r: 1 <= len(json.loads(r)) <= 3).all()
    kids = json.loads(listed["children"].iloc[0])
    assert set(kids[0]) == {"child_id", "age_years", "probability"}
    assert fam["changes"].isna().all()  # no previous list given


def test_no_ethnicity_anywhere(written: Path) -> None:
    for path in written.rglob("*"):
        if path.suffix == ".parquet":
            assert not any("ethnic" in c for c in pd.read_parquet(path).columns), path
        elif path.suffix in (".csv", ".html", ".json"):
            text = path.read_text()
            assert "ethnic" not in text.lower() and not any(c in text for c in ("WBRI", "ABAN", "BAFR")), path


def test_manifest_and_pages_say_decision_support(written: Path) -> None:
    manifest = json.loads((written / "manifest.json").read_text())
    assert manifest["notice"] == "Decision support only: a practitioner decides."
    assert manifest["model"] == {"name": "upstream-risk", "version": "7", "alias": "champion", "run_id": "run123"}
    assert manifest["as_of"] == "2017-03-31" and manifest["data_fingerprint"]
    assert manifest["counts"]["families_listed"] == sum(manifest["counts"]["families_listed_by_hub"].values())
    for page in written.rglob("*.html"):
        assert "Decision support only: a practitioner decides." in page.read_text()


def test_explain_all_explains_everyone(s_model: RiskModel, s_cohort: pd.DataFrame, s_config: Config) -> None:
    result = score_cohort(s_model, s_cohort, s_config, explain_all=True)
    assert result.explanations["child_id"].nunique() == len(s_cohort)
    assert result.families["reasons"].map(lambda r: len(json.loads(r)) > 0).mean() > 0.5


def test_score_family_agrees_with_the_batch(s_model: RiskModel, s_cohort: pd.DataFrame, s_config: Config) -> None:
    result = score_cohort(s_model, s_cohort, s_config)
    top = result.families[result.families["listed"]].iloc[0]
    one = score_family(s_model, s_cohort[s_cohort["family_id"] == top["family_id"]], s_config)
    assert one["family_risk"] == pytest.approx(top["family_risk"])
    assert one["reasons"] == json.loads(top["reasons"]) and one["protective"] == top["protective"]


def test_children_are_ranked_like_a_pandas_sort(s_model: RiskModel, s_cohort: pd.DataFrame,
                                                s_config: Config) -> None:
    shuffled = s_cohort.sample(frac=1, random_state=3).set_index(np.arange(len(s_cohort))[::-1])
    scores, X = score_children(s_model, shuffled, s_config)
    expected = scores.sort_values(["hub", "probability", "child_id"], ascending=[True, False, True], kind="stable")
    assert scores.index.equals(expected.index)  # already in that order
    assert scores["rank_in_hub"].tolist() == (scores.groupby("hub").cumcount() + 1).tolist()
    # every column and the feature matrix's rows follow the same child
    by_id = shuffled.set_index("child_id").loc[scores["child_id"]]
    assert scores["family_id"].tolist() == by_id["family_id"].tolist()
    assert scores["hub"].tolist() == by_id["hub"].tolist()
    assert scores["previously_known"].tolist() == by_id["previously_known"].tolist()
    assert scores["age_years"].tolist() == (by_id["age_months"] // 12).astype(int).tolist()
    assert np.array_equal(X, s_model.matrix(by_id), equal_nan=True)


def test_score_family_gives_the_batch_tables_numbers(s_model: RiskModel, s_cohort: pd.DataFrame,
                                                     s_config: Config) -> None:
    sizes = s_cohort.groupby("family_id").size()
    rows = s_cohort[s_cohort["family_id"] == sizes.idxmax()]
    scores, _ = score_children(s_model, rows, s_config)
    one = score_family(s_model, rows, s_config)
    assert one["children"] == [{"child_id": c, "age_years": int(a), "probability": p, "margin": m}
                               for c, a, p, m in scores[["child_id", "age_years", "probability", "margin"]]
                               .itertuples(index=False)]




def test_run_score_on_an_extract(tmp_path: Path, s_model: RiskModel, s_config: Config) -> None:
    result = run_score(s_config, out=tmp_path / "out", data=TINY, model=s_model, as_of=pd.Timestamp("2016-04-30"))
    assert result.manifest["as_of"] == "2016-04-30" and result.manifest["extract_date"]
    assert (tmp_path / "out" / "lists" / "Northfield.html").is_file()
    again = run_score(s_config, out=tmp_path / "out2", data=TINY, model=s_model, as_of=pd.Timestamp("2016-04-30"),
                      previous=tmp_path / "out")
    changes = [c for c in again.families["changes"] if c]
    assert changes and all(not c["new_to_list"] and c["direction"] == "same" for c in changes)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"as_of": pd.Timestamp("2016-12-15")}, "is not a month end"),
    ({"as_of": pd.Timestamp("2030-01-31")}, "after the extract's last date"),
    ({"previous": Path("/nonexistent")}, "no families.parquet there"),
])
def test_user_mistakes_are_one_clear_line(tmp_path: Path, s_model: RiskModel, s_config: Config,
                                          kwargs: dict, message: str) -> None:
    with pytest.raises(UpstreamError, match=message):
        run_score(s_config, out=tmp_path / "out", data=TINY, model=s_model, **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # MLflow's import and store set-up take ~10 s on a small machine
def test_no_champion_is_a_clear_error(tmp_path: Path, s_config: Config) -> None:
    with pytest.raises(UpstreamError, match="upstream train"):
        run_score(s_config, out=tmp_path / "out", data=TINY, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.slow
def test_end_to_end_simulate_train_score(tmp_path: Path) -> None:
    """A small simulated council through training and the registry to explained lists (minutes)."""
    import synthetic
    from core.config import load_config
    from training.pipeline import train_from_directory

    config = load_config()
    synthetic.simulate(config, children=3000).write(tmp_path / "council")
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    train_from_directory(tmp_path / "council", config, tracking_uri=uri)
    result = run_score(config, out=tmp_path / "scores", data=tmp_path / "council", alias="challenger",
                       tracking_uri=uri)
    manifest = json.loads((tmp_path / "scores" / "manifest.json").read_text())
    assert manifest["model"]["version"] == "1" and manifest["model"]["alias"] == "challenger"
    exp = pd.read_parquet(tmp_path / "scores" / "explanations.parquet")
    scores = result.scores.set_index("child_id")
    total = exp.groupby("child_id")["shap"].sum()
    np.testing.assert_allclose(total + scores.loc[total.index, "base_value"], scores.loc[total.index, "margin"],
                               atol=1e-6, rtol=0)
    for hub in config.council.hubs:
        listed = pd.read_csv(tmp_path / "scores" / "lists" / f"{hub.name}.csv")
        assert len(listed) >= min(hub.capacity, (result.families["hub"] == hub.name).sum())


def test_a_data_source_is_called_only_after_the_cheap_checks(tmp_path: Path, s_model: RiskModel,
                                                             s_config: Config) -> None:
    """The CLI passes a function that simulates the council when no --data is given: a user mistake is reported
    before that slow step, and the library never simulates by itself."""
    from features import load_extract

    calls: list[int] = []

    def source():
        calls.append(1)
        return load_extract(TINY, hubs=s_config.council.hub_names)

    with pytest.raises(UpstreamError, match="is not a month end"):
        run_score(s_config, out=tmp_path / "bad", data=source, model=s_model, as_of=pd.Timestamp("2016-12-15"))
    assert calls == []
    result = run_score(s_config, out=tmp_path / "out", data=source, model=s_model, as_of=pd.Timestamp("2016-04-30"))
    assert calls == [1] and result.manifest["as_of"] == "2016-04-30"
