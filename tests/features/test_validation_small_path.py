"""Validation's small-table path (Python sets and dicts, used for one posted family) finds exactly what the
pandas path (used for a council) finds: the same rules, rows and typed tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import validation
from features.loaders import RawTable, read_raw

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_extract"
EXTRACT_DATE = pd.Timestamp("2017-03-31")


def _broken() -> dict[str, RawTable]:
    """The tiny extract with one broken value per kind of rule (blanks, codes, duplicates, references, details)."""
    raw = read_raw(TINY)
    c, e = raw["children"].frame.copy(), raw["events"].frame.copy()
    c.loc[0, "sex"] = " "
    c.loc[1, "hub"] = "Nowhere"
    c.loc[2, "child_id"] = c.loc[3, "child_id"]
    c.loc[4, "deprivation_decile"] = "11"
    c.loc[5, "date_of_birth"] = "2016-02-30"
    e.loc[0, "event_type"] = "bogus"
    e.loc[1, "source"] = None
    e.loc[2, "detail"] = "free text"
    e.loc[3, "child_id"] = "C-unknown"
    e.loc[4, "event_id"] = e.loc[5, "event_id"]
    e.loc[6, "end_date"] = "2001-01-01"
    e.loc[7, "family_id"] = "F-unknown"
    e.loc[8, "child_id"] = c.loc[2, "child_id"]
    return {"children": RawTable("children", raw["children"].path, c),
            "events": RawTable("events", raw["events"].path, e)}


def _summary(report: validation.ValidationReport) -> list[tuple[str, str, str, list[int]]]:
    return [(p.table, p.column, p.rule, p.rows.tolist()) for p in report.problems]


@pytest.mark.parametrize("raw", [read_raw(TINY), _broken()], ids=["valid", "broken"])
def test_small_and_large_paths_agree(raw: dict[str, RawTable], monkeypatch: pytest.MonkeyPatch) -> None:
    hubs = ("Northfield", "Riverside", "Eastgate")
    small = validation.validate_raw(raw, hubs=hubs, extract_date=EXTRACT_DATE)
    monkeypatch.setattr(validation, "SMALL", 0)  # every table takes the pandas path
    large = validation.validate_raw(raw, hubs=hubs, extract_date=EXTRACT_DATE)
    assert _summary(small) == _summary(large)
    for name in ("children", "events"):
        pd.testing.assert_frame_equal(small.typed[name], large.typed[name], check_exact=True)
        assert np.array_equal(small.valid_rows(name), (small.reasons(name) == "").to_numpy())
    if small.problems:
        assert {p.column for p in small.problems} >= {"sex", "hub", "child_id", "event_type", "detail"}
