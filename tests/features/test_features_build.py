"""The feature table's contract (columns, order, dtypes), the small-input path, and the `features` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feature_histories import random_extract
from typer.testing import CliRunner

from core.config import load_config, parse_config
from core.errors import UpstreamError
from features import (
    AGE_BANDS,
    AUDIT_COLUMNS,
    KEY_COLUMNS,
    Extract,
    as_of_grid,
    build_features,
    feature_columns,
    load_extract,
)
from upstream.cli import app

CFG = load_config()
EXTRACT_DATE = pd.Timestamp("2018-01-31")
DATES = [pd.Timestamp("2013-03-31"), pd.Timestamp("2015-06-30"), pd.Timestamp("2017-03-31")]


@pytest.fixture(scope="module")
def extract() -> Extract:
    return random_extract()


@pytest.fixture(scope="module")
def table(extract: Extract) -> pd.DataFrame:
    return build_features(extract, DATES, CFG, extract_date=EXTRACT_DATE)


def test_columns_in_agreed_order(table: pd.DataFrame) -> None:
    feats = feature_columns(CFG)
    audit = [c for c in AUDIT_COLUMNS if c not in feats]
    assert list(table.columns) == [*KEY_COLUMNS, *feats, "label", *audit]
    assert "deprivation_decile" in feats  # a model input that the audit reads too
    assert len(feats) == len(set(feats)) > 200


def test_dtypes(table: pd.DataFrame) -> None:
    feats = feature_columns(CFG)
    assert (table[feats].dtypes == np.float32).all()  # numeric model inputs, no categoricals
    assert table["label"].dtype == "Int8"
    assert table["as_of"].dtype == "datetime64[ns]"
    assert table["previously_known"].dtype == bool
    assert set(table["age_band"]) <= set(AGE_BANDS)
    assert not any(isinstance(table[c].dtype, pd.CategoricalDtype) for c in table.columns)
    assert set(table["hub_code"].astype(int)) <= set(range(len(CFG.council.hub_names)))
    hubs = np.asarray(CFG.council.hub_names)[table["hub_code"].astype(int)]
    assert (hubs == table["hub"]).all()


def test_rows_are_unique_and_sorted(table: pd.DataFrame) -> None:
    assert not table.duplicated(["child_id", "as_of"]).any()
    assert table.equals(table.sort_values(["as_of", "child_id"]).reset_index(drop=True))
    assert len(table) > 100


def test_feature_columns_are_deterministic_from_the_config() -> None:
    shuffled = parse_config({**CFG.model_dump(mode="json"), "features": {"windows_months": [24, 3, 12, 6]}})
    assert feature_columns(shuffled) == feature_columns(CFG) == feature_columns(load_config())
    other = parse_config({**CFG.model_dump(mode="json"), "features": {"windows_months": [1, 9]}})
    assert "n_contact_9m" in feature_columns(other) and "n_contact_6m" not in feature_columns(other)


def test_one_family_alone_gives_the_same_rows(extract: Extract, table: pd.DataFrame) -> None:
    """The small-input path (one posted family, one date) is the same code on a smaller extract."""
    for fam in table["family_id"].drop_duplicates().iloc[:8]:
        small = Extract(children=extract.children[extract.children["family_id"] == fam],
                        events=extract.events[extract.events["family_id"] == fam].reset_index(drop=True))
        for as_of in DATES:
            alone = build_features(small, [as_of], CFG, extract_date=EXTRACT_DATE)
            full = table[(table["family_id"] == fam) & (table["as_of"] == as_of)].reset_index(drop=True)
            pd.testing.assert_frame_equal(alone, full)


def test_dates_are_deduplicated_and_sorted(extract: Extract, table: pd.DataFrame) -> None:
    again = build_features(extract, [DATES[2], DATES[0], DATES[1], DATES[0]], CFG, extract_date=EXTRACT_DATE)
    pd.testing.assert_frame_equal(again, table)


def test_empty_cohort_keeps_the_schema(extract: Extract, table: pd.DataFrame) -> None:
    empty = build_features(extract, [pd.Timestamp("1950-01-31")], CFG, extract_date=EXTRACT_DATE)
    assert empty.empty and list(empty.columns) == list(table.columns)
    assert (empty.dtypes == table.dtypes).all()


def test_no_events_at_all(extract: Extract) -> None:
    bare = Extract(children=extract.children, events=extract.events.iloc[:0])
    out = build_features(bare, DATES, CFG, extract_date=EXTRACT_DATE)
    assert len(out) > 0 and (out["label"] == 0).all() and not out["previously_known"].any()
    assert out["days_since_contact"].isna().all() and (out["n_contact_ever"] == 0).all()


def test_unknown_hub_is_refused(extract: Extract) -> None:
    children = extract.children.assign(hub="Atlantis")
    with pytest.raises(UpstreamError, match="hub"):
        build_features(Extract(children=children, events=extract.events), DATES, CFG)


def test_label_defaults_to_the_extract_last_date(extract: Extract) -> None:
    out = build_features(extract, DATES, CFG)
    last = extract.last_date
    unobserved = out["as_of"] + pd.offsets.MonthEnd(12) > last
    assert out.loc[unobserved, "label"].isna().all() and out.loc[~unobserved, "label"].notna().all()


def test_tiny_example_extract(root: Path) -> None:
    ex = load_extract(root / "examples" / "tiny_extract", hubs=CFG.council.hub_names,
                      extract_date=pd.Timestamp("2017-03-31"))
    out = build_features(ex, as_of_grid(ex, CFG), CFG, extract_date=pd.Timestamp("2017-03-31"))
    in_care = out[(out["child_id"] == "C004") & (out["as_of"] > pd.Timestamp("2015-10-05"))]
    assert in_care.empty  # looked after from 2015-10-05: out of the cohort
    before = out[(out["child_id"] == "C004") & (out["as_of"] == pd.Timestamp("2015-07-31"))]
    assert before["label"].iloc[0] == 1


def test_command_writes_the_table(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "features.parquet"
    result = CliRunner().invoke(app, ["features", "--data", str(root / "examples" / "tiny_extract"),
                                      "--out", str(out), "--extract-date", "2017-03-31",
                                      "--as-of", "2016-03-31", "--as-of", "2015-03-31"])
    assert result.exit_code == 0, result.output
    assert "rows" in result.output and str(out) in result.output
    written = pd.read_parquet(out)
    assert sorted(written["as_of"].unique()) == [pd.Timestamp("2015-03-31"), pd.Timestamp("2016-03-31")]
    assert written["label"].dtype == "Int8"


@pytest.mark.parametrize("args", [
    ["--as-of", "2016-03-15"],
    ["--as-of", "31/03/2016"],
    ["--every", "quarterly"],
    ["--as-of", "2016-03-31", "--from", "2015-03-31"],
    ["--as-of", "2019-03-31"],
])
def test_command_refuses_bad_dates_and_flags(tmp_path: Path, root: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["features", "--data", str(root / "examples" / "tiny_extract"),
                                      "--out", str(tmp_path / "f.parquet"), "--extract-date", "2017-03-31", *args])
    assert isinstance(result.exception, UpstreamError), result.output
    assert "\n" not in str(result.exception).strip()
    assert not (tmp_path / "f.parquet").exists()
