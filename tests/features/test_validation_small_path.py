"""Validation's small-table path (Python sets, dicts and parsers, used for one posted family) finds exactly
what the pandas path (used for a council) finds: the same rules, rows and typed tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import _small, loaders, validation
from features.loaders import RawTable, read_raw

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_extract"
EXTRACT_DATE = pd.Timestamp("2017-03-31")

# Dates the fast parser must agree with pandas on, including forms pandas accepts that look wrong
# ('2016-1-5') and canonical-looking ones it refuses (not a day, outside datetime64[ns]).
TRICKY_DATES = [
    "2016-01-05", "2016-1-05", "2016-01-5", "2020-2-3", "2016-02-29", "2015-02-29", "2016-02-30", "2016-13-01",
    "2016-00-10", "2016-01-00", "2016-01-32", " 2016-01-05", "2016-01-05 ", "2016-01-05\n", "20160105",
    "2016/01/05", "2016-01-05T00:00", "2016-01-05 00:00:00", "NaT", "nat", "nan", "", " ", "None", "NA",
    "1677-09-21", "1677-09-22", "2262-04-11", "2262-04-12", "0000-01-01", "0001-01-01", "1600-01-01",
    "9999-12-31", "+2016-01-05", "02016-01-05", "2016-01- 5", "١٢٣٤-01-05", "２０１６-01-05", "x", None,
]
TRICKY_INTS = ["1", "10", "0", "-3", "-0", "007", "5.0", "5.5", "1e1", " 7", "+5", "1_0", "x", "", "nan",
               "123456789012345", "1234567890123456", "12345678901234567", None]


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


def _odd_values() -> dict[str, RawTable]:
    """The tiny extract with values the small path's parsers hand back to pandas: dates and numbers in forms
    pandas reads ('2016-1-5', '007') or refuses, NaN instead of None, and dates outside datetime64[ns]."""
    raw = read_raw(TINY)
    c, e = raw["children"].frame.copy(), raw["events"].frame.copy()
    c.loc[0, "date_of_birth"] = "2010-1-5"
    c.loc[1, "arrived_on"] = "1600-01-01"
    c.loc[2, "deprivation_decile"] = "007"
    c.loc[3, "deprivation_decile"] = "5.0"
    c.loc[4, "ethnicity"] = np.nan
    e.loc[0, "event_date"] = " 2015-01-05"
    e.loc[1, "end_date"] = np.nan
    e.loc[2, "source"] = np.nan
    e.loc[3, "detail"] = "  "
    return {"children": RawTable("children", raw["children"].path, c),
            "events": RawTable("events", raw["events"].path, e)}


def _summary(report: validation.ValidationReport) -> list[tuple[str, str, str, list[int]]]:
    return [(p.table, p.column, p.rule, p.rows.tolist()) for p in report.problems]


@pytest.mark.parametrize(("raw", "columns"), [
    (read_raw(TINY), set()),
    (_broken(), {"sex", "hub", "child_id", "event_type", "detail"}),
    (_odd_values(), {"arrived_on", "ethnicity", "event_date", "source"}),
], ids=["valid", "broken", "odd values"])
def test_small_and_large_paths_agree(raw: dict[str, RawTable], columns: set[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    hubs = ("Northfield", "Riverside", "Eastgate")
    small = validation.validate_raw(raw, hubs=hubs, extract_date=EXTRACT_DATE)
    monkeypatch.setattr(_small, "SMALL", 0)  # every table takes the pandas path
    large = validation.validate_raw(raw, hubs=hubs, extract_date=EXTRACT_DATE)
    assert _summary(small) == _summary(large)
    for name in ("children", "events"):
        pd.testing.assert_frame_equal(small.typed[name], large.typed[name], check_exact=True)
        assert np.array_equal(small.valid_rows(name), (small.reasons(name) == "").to_numpy())
    assert {p.column for p in small.problems} >= columns


def test_small_date_parser_matches_pandas() -> None:
    """Every canonical-looking date (real or not, inside datetime64[ns] or not) and every tricky string parses
    as pandas parses it, or is handed to pandas."""
    canonical = [f"{y}-{m:02d}-{d:02d}" for y in ("0000", "1677", "1678", "1900", "2000", "2016", "2262", "2263")
                 for m in range(14) for d in range(33)]
    for value in [*TRICKY_DATES, *canonical]:
        values = np.array([value, "2016-01-05", None], dtype=object)
        expected = np.asarray(loaders.parse_dates(values))
        fast = loaders._small_dates(values)
        if fast is not None:
            assert fast.dtype == expected.dtype == np.dtype("datetime64[ns]")
            assert np.array_equal(fast, expected, equal_nan=True), value
    days = np.array(canonical + [None], dtype=object)
    days = days[~pd.isna(np.asarray(loaders.parse_dates(days)))]  # the real days: taken by the fast parser
    assert np.array_equal(loaders._small_dates(days), np.asarray(loaders.parse_dates(days)))
    assert loaders._small_dates(np.array([None, None], dtype=object)).dtype == np.dtype("datetime64[ns]")


@pytest.mark.parametrize("value", TRICKY_INTS)
def test_small_int_parser_matches_pandas(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    for values in ([value, "3"], [value, None], [value]):
        array = np.array(values, dtype=object)
        small = loaders._int_array(array)
        monkeypatch.setattr(_small, "SMALL", 0)
        large = loaders._int_array(array)
        monkeypatch.undo()
        pd.testing.assert_extension_array_equal(small, large)
        assert np.array_equal(small._data, large._data)  # also under the mask: the frames hash alike
