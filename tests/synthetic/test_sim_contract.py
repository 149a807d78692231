"""The simulated council's tables are contract tables: strict validation passes and dtypes are the contract's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.config import load_config
from core.contract import EVENT_TYPES, KNOWN_TO_SOCIAL_CARE_TYPES, PARTNER_EVENT_TYPES, TABLES
from features.validation import validate_extract
from synthetic import TRUTH_COLUMNS, SimulatedCouncil


def test_written_extract_passes_strict_validation(council: SimulatedCouncil, council_dir: Path) -> None:
    out = council_dir
    assert {p.name for p in out.iterdir()} == {"children.parquet", "events.parquet", "truth.parquet"}
    report = validate_extract(out, hubs=load_config().council.hub_names, extract_date=council.extract_date)
    assert report.ok, report.error_text()


def test_dtypes_are_exactly_the_contract_types(council: SimulatedCouncil, council_dir: Path) -> None:
    kinds = {"date": "datetime64[ns]", "int": "Int64", "id": "object", "str": "object"}
    for name, frame in (("children", council.children), ("events", council.events)):
        assert list(frame.columns) == list(TABLES[name])
        assert {c: str(t) for c, t in frame.dtypes.items()} == {c: kinds[k] for c, k in TABLES[name].items()}
    # the files hold exactly these frames
    out = council_dir
    for name in ("children", "events", "truth"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{name}.parquet"), getattr(council, name))


def test_every_event_type_occurs_and_nulls_are_none(council: SimulatedCouncil) -> None:
    ev = council.events
    assert set(ev["event_type"]) == set(EVENT_TYPES)
    for col in ("child_id", "source", "detail"):
        assert all(v is None or isinstance(v, str) for v in ev[col].head(20_000))
    household = ev[ev["child_id"].isna()]
    assert set(household["event_type"]) <= set(PARTNER_EVENT_TYPES)
    assert ev.loc[ev["event_type"].isin(KNOWN_TO_SOCIAL_CARE_TYPES), "child_id"].notna().all()


def test_identifiers_are_pseudonymous(council: SimulatedCouncil) -> None:
    # keyed hashes of the creation index (tests/synthetic/test_sim_artefacts.py checks they carry no order)
    assert council.children["child_id"].str.fullmatch(r"C[0-9a-f]{12}").all()
    assert council.children["family_id"].str.fullmatch(r"F[0-9a-f]{12}").all()
    assert council.events["event_id"].str.fullmatch(r"E\d{8,}").all()
    assert council.children["child_id"].is_unique and council.events["event_id"].is_unique


def test_records_start_at_the_start_but_open_episodes_keep_their_real_start(council: SimulatedCouncil) -> None:
    ev = council.events
    start = council.start
    before = ev[ev["event_date"] < start]
    assert len(before) > 0  # children already in care or on plans when the system began
    assert before["event_type"].isin(["cin_plan", "cp_plan", "early_help", "looked_after"]).all()
    assert (before["end_date"].isna() | (before["end_date"] >= start)).all()
    assert (ev["event_date"] <= council.extract_date).all()
    assert ev["end_date"].max() <= council.extract_date


def test_truth_columns(council: SimulatedCouncil) -> None:
    t = council.truth
    assert tuple(t.columns) == TRUTH_COLUMNS
    assert t["as_of"].dtype == "datetime64[ns]" and t["entered"].dtype == bool
    assert t["p_true"].between(0, 1).all() and (t["p_true_se"] >= 0).all()
    assert t.loc[~t["entered"], "route"].isna().all()
    assert t.loc[t["entered"], "route"].isin([f"N{i}" for i in range(1, 9)]).all()
