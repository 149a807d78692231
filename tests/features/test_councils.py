"""Several councils in one extract: the council column through validation and features; one council unchanged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import features
from core.config import load_config
from core.contract import COUNCIL_COLUMN
from core.errors import ContractError
from features.validation import validate_extract
from tests.helpers.region import region_config, small_region


@pytest.fixture(scope="module")
def region_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_region().write(tmp_path_factory.mktemp("region") / "extract")


def _children_csv(region_dir: Path, out: Path, change) -> Path:
    """The region extract as CSV with the children table changed by `change`."""
    out.mkdir()
    children = pd.read_parquet(region_dir / "children.parquet")
    change(children)
    children.to_csv(out / "children.csv", index=False)
    pd.read_parquet(region_dir / "events.parquet").to_csv(out / "events.csv", index=False)
    return out


def test_council_round_trips_through_validate_and_features(region_dir: Path) -> None:
    cfg = region_config()
    report = validate_extract(region_dir, hubs=cfg.contract_hubs, extract_date=small_region().extract_date)
    assert report.ok, report.error_text()
    assert "children per council:" in report.summary_text()
    extract = report.extract()
    assert set(extract.children[COUNCIL_COLUMN]) == {"301", "302", "303"}
    dates = features.as_of_grid(extract, cfg)[-2:]
    table = features.build_features(extract, dates, cfg)
    assert list(table.columns[:4]) == ["child_id", "family_id", "as_of", COUNCIL_COLUMN]
    own = extract.children.set_index("child_id")[COUNCIL_COLUMN]
    assert (table[COUNCIL_COLUMN].to_numpy() == own.reindex(table["child_id"]).to_numpy()).all()
    assert COUNCIL_COLUMN not in features.feature_columns(cfg)  # a key, never a model input
    assert set(table[COUNCIL_COLUMN]) == {"301", "302", "303"}


def test_a_family_never_spans_two_councils(region_dir: Path, tmp_path: Path) -> None:
    children = pd.read_parquet(region_dir / "children.parquet")
    assert children.groupby("family_id")[COUNCIL_COLUMN].nunique().max() == 1
    # ids are unique across the region (each council's own pseudonyms, prefixed by its code)
    assert children["child_id"].is_unique and children["child_id"].str[:3].eq(children[COUNCIL_COLUMN]).all()

    big = children.groupby("family_id").size()
    family = big[big >= 2].index[0]
    rows = children.index[children["family_id"] == family]

    def move_one_child(c: pd.DataFrame) -> None:  # the same family, one child in another council (and its hub)
        other = "303" if c.at[rows[0], COUNCIL_COLUMN] != "303" else "301"
        c.loc[rows[0], [COUNCIL_COLUMN, "hub"]] = [other, "Mills" if other == "303" else "North"]

    bad = _children_csv(region_dir, tmp_path / "x", move_one_child)
    report = validate_extract(bad, hubs=region_config().contract_hubs)
    text = report.error_text()
    assert "column 'council': a family belongs to one council" in text
    shown = [str(r + 1) for r in rows[:2]]
    assert all(r in text.split("a family belongs to one council")[1].splitlines()[0] for r in shown)


@pytest.mark.parametrize("change, rule", [
    (lambda c: c.__setitem__(COUNCIL_COLUMN, c[COUNCIL_COLUMN].where(c.index != 4, "33")),
     "column 'council': not a DfE local-authority number (3 digits as text, e.g. '330'): 1 row; data rows 5"),
    (lambda c: c.__setitem__(COUNCIL_COLUMN, c[COUNCIL_COLUMN].where(c.index != 4, "999")),
     "column 'council': code not in the configured councils (301, 302, 303): 1 row; data rows 5"),
    (lambda c: c.__setitem__(COUNCIL_COLUMN, c[COUNCIL_COLUMN].where(c.index != 4, None)),
     "column 'council': required value is missing: 1 row; data rows 5"),
])
def test_council_code_rules(region_dir: Path, tmp_path: Path, change, rule: str) -> None:
    children = pd.read_parquet(region_dir / "children.parquet")
    alone = children.groupby("family_id")["child_id"].transform("size") == 1
    pos = int(alone.to_numpy().nonzero()[0][0])  # a family of one child: only the rule under test is broken

    def at_row(c: pd.DataFrame) -> None:
        swapped = c.iloc[[pos, 4]].to_numpy()
        c.iloc[[4, pos]] = swapped  # the one-child family's row becomes data row 5
        change(c)

    bad = _children_csv(region_dir, tmp_path / "x", at_row)
    text = validate_extract(bad, hubs=region_config().contract_hubs).error_text()
    assert rule in text


def test_hubs_are_checked_against_the_childs_own_council(region_dir: Path, tmp_path: Path) -> None:
    def docks_in_ashvale(c: pd.DataFrame) -> None:  # Docks is a Brookfield (302) hub, not an Ashvale (301) one
        first = c.index[c[COUNCIL_COLUMN] == "301"][0]
        c.loc[first, "hub"] = "Docks"

    bad = _children_csv(region_dir, tmp_path / "x", docks_in_ashvale)
    text = validate_extract(bad, hubs=region_config().contract_hubs).error_text()
    assert "column 'hub': code not in council 301's hub list (North, South): 1 row" in text


def test_council_column_and_config_must_agree(region_dir: Path, tmp_path: Path) -> None:
    # a region's extract under a one-council config that names no code
    text = validate_extract(region_dir, hubs=load_config().contract_hubs).error_text()
    assert "column 'council': the config names no council code" in text
    # a region config and an extract without the column
    bad = _children_csv(region_dir, tmp_path / "x", lambda c: c.drop(columns=COUNCIL_COLUMN, inplace=True))
    text = validate_extract(bad, hubs=region_config().contract_hubs).error_text()
    assert "missing required column(s): council (the config describes a region of 3 councils" in text


def test_single_council_extract_has_no_council_column(tiny_copy: Path) -> None:
    """Without the column everything is as before: the typed tables and the feature table have no council."""
    cfg = load_config()
    extract = features.load_extract(tiny_copy, hubs=cfg.contract_hubs)
    assert COUNCIL_COLUMN not in extract.children.columns
    table = features.build_features(extract, features.as_of_grid(extract, cfg)[-1:], cfg)
    assert COUNCIL_COLUMN not in table.columns
    assert list(table.columns[:3]) == ["child_id", "family_id", "as_of"]


def test_one_councils_rows_build_the_same_features_with_or_without_the_column() -> None:
    """The council is a key only: a council's rows, with the column or without it, give identical features."""
    cfg = region_config()
    region = small_region()
    keep = region.children[COUNCIL_COLUMN] == "302"
    children = region.children.loc[keep].reset_index(drop=True)
    events = region.events.loc[region.events["family_id"].isin(children["family_id"])].reset_index(drop=True)
    dates = [region.extract_date.normalize() - pd.offsets.MonthEnd(12)]
    with_column = features.build_features(features.Extract(children=children, events=events), dates, cfg)
    without = features.build_features(
        features.Extract(children=children.drop(columns=COUNCIL_COLUMN), events=events), dates, cfg)
    pd.testing.assert_frame_equal(with_column.drop(columns=COUNCIL_COLUMN), without)


def test_one_council_of_a_region_builds_the_region_models_inputs() -> None:
    """`Config.for_council` keeps the region's numbering of `hub_code`, and `Extract.council` the council's
    families whole: a council's own monitoring or service builds exactly the rows the region's model scored."""
    cfg, region = region_config(), small_region()
    extract = features.Extract(children=region.children, events=region.events)
    dates = [pd.Timestamp("2015-03-31"), pd.Timestamp("2016-03-31")]
    whole = features.build_features(extract, dates, cfg)
    for code in ("302", "303"):
        part = features.build_features(extract.council(code), dates, cfg.for_council(code),
                                       extract_date=extract.last_date)
        want = whole.loc[whole[COUNCIL_COLUMN].astype(str) == code].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, want)
    assert cfg.for_council("303").council.hub_names == ("Mills",)
    assert cfg.for_council("303").council.input_hub_names == cfg.council.hub_names
    with pytest.raises(ContractError, match="council 309: no children of that council"):
        extract.council("309")
