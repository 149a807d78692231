"""`upstream validate`: the tiny extract is valid; one broken copy per rule is refused with file, column,
rule and row numbers; quarantine keeps + rejects every row exactly once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.config import load_config
from core.errors import ContractError
from features import load_extract, validate_extract
from upstream.cli import app

HUBS = load_config().council.hub_names
EXTRACT_DATE = "2017-03-31"
runner = CliRunner()

Frames = tuple[pd.DataFrame, pd.DataFrame]


def _read(d: Path) -> Frames:
    read = lambda name: pd.read_csv(d / f"{name}.csv", dtype=str, keep_default_na=False)  # noqa: E731
    return read("children"), read("events")


def _write(d: Path, children: pd.DataFrame, events: pd.DataFrame) -> None:
    children.to_csv(d / "children.csv", index=False)
    events.to_csv(d / "events.csv", index=False)


def _set(frame: pd.DataFrame, row: int, col: str, value: str) -> None:
    """Set a value by 1-based data row, as a user would name it."""
    frame.loc[row - 1, col] = value


def _validate(d: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", str(d), "--extract-date", EXTRACT_DATE])
    return result.exit_code, result.output


def test_tiny_extract_is_valid(tiny_copy: Path) -> None:
    code, out = _validate(tiny_copy)
    assert code == 0, out
    assert "valid under the data contract" in out
    assert "children: 6 rows" in out and "events:   24 rows" in out
    assert "Northfield" in out


# (mutation, file, column, rule fragment, data rows named)
CASES: list[tuple[str, Callable[[pd.DataFrame, pd.DataFrame], None], str, str, str, list[int]]] = [
    ("missing value", lambda c, e: _set(c, 2, "sex", ""), "children.csv", "sex", "required value", [2]),
    ("bad date", lambda c, e: _set(c, 3, "date_of_birth", "20/11/2015"), "children.csv", "date_of_birth",
     "not a date", [3]),
    ("bad integer", lambda c, e: _set(c, 1, "deprivation_decile", "two"), "children.csv",
     "deprivation_decile", "not a whole number", [1]),
    ("decile range", lambda c, e: _set(c, 4, "deprivation_decile", "11"), "children.csv",
     "deprivation_decile", "between 1 and 10", [4]),
    ("duplicate child", lambda c, e: _set(c, 2, "child_id", "C001"), "children.csv", "child_id", "unique",
     [1, 2]),
    ("duplicate event", lambda c, e: _set(e, 5, "event_id", "E001"), "events.csv", "event_id", "unique",
     [1, 5]),
    ("sex code", lambda c, e: _set(c, 1, "sex", "F"), "children.csv", "sex", "code not in the list", [1]),
    ("ethnicity code", lambda c, e: _set(c, 5, "ethnicity", "XXXX"), "children.csv", "ethnicity",
     "code not in the list", [5]),
    ("disability code", lambda c, e: _set(c, 5, "disability", "maybe"), "children.csv", "disability",
     "code not in the list", [5]),
    ("hub code", lambda c, e: _set(c, 6, "hub", "Atlantis"), "children.csv", "hub", "code not in the list",
     [6]),
    ("event type", lambda c, e: _set(e, 7, "event_type", "burglary"), "events.csv", "event_type",
     "code not in the list", [7]),
    ("source code", lambda c, e: _set(e, 2, "source", "neighbour"), "events.csv", "source",
     "code not in the list", [2]),
    ("cp category", lambda c, e: _set(e, 11, "detail", "financial"), "events.csv", "detail",
     "not a valid code", [11]),
    ("need category", lambda c, e: _set(e, 20, "detail", "N9"), "events.csv", "detail", "not a valid code",
     [20]),
    ("free text detail", lambda c, e: _set(e, 8, "detail", "mum says he is fine"), "events.csv", "detail",
     "takes no detail", [8]),
    ("unknown family", lambda c, e: _set(e, 22, "family_id", "F99"), "events.csv", "family_id",
     "does not exist", [22]),
    ("unknown child", lambda c, e: _set(e, 24, "child_id", "C999"), "events.csv", "child_id",
     "does not exist", [24]),
    ("child of another family", lambda c, e: _set(e, 14, "child_id", "C001"), "events.csv", "child_id",
     "belongs to another family_id", [14]),
    ("future birth", lambda c, e: _set(c, 3, "date_of_birth", "2019-01-01"), "children.csv",
     "date_of_birth", "after the extract date", [3]),
    ("future event", lambda c, e: _set(e, 13, "event_date", "2017-04-02"), "events.csv", "event_date",
     "after the extract date", [13]),
    ("future end", lambda c, e: _set(e, 6, "end_date", "2018-01-01"), "events.csv", "end_date",
     "after the extract date", [6]),
    ("end before start", lambda c, e: _set(e, 11, "end_date", "2015-01-01"), "events.csv", "end_date",
     "before event_date", [11]),
    ("left before arrived", lambda c, e: _set(c, 6, "left_on", "2000-01-01"), "children.csv", "left_on",
     "before arrived_on", [6]),
]


@pytest.mark.parametrize(("mutate", "file", "column", "rule", "rows"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_is_named_with_rows(tiny_copy: Path, mutate, file: str, column: str, rule: str,
                                      rows: list[int]) -> None:
    children, events = _read(tiny_copy)
    mutate(children, events)
    _write(tiny_copy, children, events)
    code, out = _validate(tiny_copy)
    assert code == 2, out
    lines = [ln for ln in out.splitlines() if f"column '{column}'" in ln and rule in ln]
    assert lines, out
    assert file in lines[0]
    assert f"data rows {', '.join(map(str, rows))}" in lines[0]


def test_missing_column_and_extra_column(tiny_copy: Path) -> None:
    children, events = _read(tiny_copy)
    _write(tiny_copy, children.drop(columns=["hub"]), events.assign(notes="x"))
    code, out = _validate(tiny_copy)
    assert code == 2
    assert "missing required column(s): hub" in out
    assert "not in the contract: notes" in out


def test_many_bad_rows_are_counted_and_first_ten_shown(tiny_copy: Path) -> None:
    children, events = _read(tiny_copy)
    events["event_type"] = "nonsense"
    _write(tiny_copy, children, events)
    code, out = _validate(tiny_copy)
    assert code == 2
    line = next(ln for ln in out.splitlines() if "event_type" in ln)
    assert "24 rows" in line and "data rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 (first 10 shown)" in line


def test_quarantine_keeps_plus_rejects_equals_input(tiny_copy: Path, tmp_path: Path) -> None:
    children, events = _read(tiny_copy)
    _set(children, 4, "sex", "X")  # C004 rejected -> its 6 events rejected too
    _set(events, 1, "event_type", "burglary")
    _write(tiny_copy, children, events)
    out = tmp_path / "q"
    result = runner.invoke(app, ["validate", str(tiny_copy), "--quarantine", str(out),
                                 "--extract-date", EXTRACT_DATE])
    assert result.exit_code == 0, result.output
    assert "children: 5 kept, 1 rejected" in result.output
    assert "events: 17 kept, 7 rejected" in result.output
    rej_c = pd.read_csv(out / "rejected_children.csv")
    rej_e = pd.read_csv(out / "rejected_events.csv")
    kept_c = pd.read_parquet(out / "children.parquet")
    kept_e = pd.read_parquet(out / "events.parquet")
    assert len(rej_c) + len(kept_c) == len(children)
    assert len(rej_e) + len(kept_e) == len(events)
    assert set(rej_e["event_id"]) | set(kept_e["event_id"]) == set(events["event_id"])
    assert rej_e.set_index("event_id").loc["E016", "reason"] == \
        "child_id: child_id refers to a child rejected from children"
    assert "event_type: code not in the list" in rej_e.set_index("event_id").loc["E001", "reason"]
    # The clean output is itself valid.
    report = validate_extract(out, hubs=HUBS, extract_date=pd.Timestamp(EXTRACT_DATE))
    assert report.ok, report.error_text()


def test_parquet_extract_round_trips(tiny_copy: Path, tmp_path: Path) -> None:
    ex = load_extract(tiny_copy, hubs=HUBS, extract_date=pd.Timestamp(EXTRACT_DATE))
    pq = tmp_path / "pq"
    pq.mkdir()
    ex.children.to_parquet(pq / "children.parquet")
    ex.events.to_parquet(pq / "events.parquet")
    again = load_extract(pq, hubs=HUBS, extract_date=pd.Timestamp(EXTRACT_DATE))
    pd.testing.assert_frame_equal(ex.children, again.children)
    pd.testing.assert_frame_equal(ex.events, again.events)
    assert ex.fingerprint() == again.fingerprint()
    assert ex.last_date == pd.Timestamp("2016-05-30")


def test_load_extract_refuses_invalid(tiny_copy: Path) -> None:
    children, events = _read(tiny_copy)
    _set(children, 1, "hub", "Atlantis")
    _write(tiny_copy, children, events)
    with pytest.raises(ContractError, match="hub"):
        load_extract(tiny_copy, hubs=HUBS, extract_date=pd.Timestamp(EXTRACT_DATE))


def test_user_mistakes_are_one_line_without_traceback(tmp_path: Path) -> None:
    for args in (["validate", str(tmp_path / "missing")],
                 ["validate", "examples/tiny_extract", "--extract-date", "31/03/2017"],
                 ["validate", "examples/tiny_extract", "--config", str(tmp_path / "none.yaml")]):
        proc = subprocess.run([sys.executable, "-m", "upstream.cli", *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[2])
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().startswith("upstream: error:"), proc.stderr
