"""Finding 11 (issue 16): a header-only extract passed validation with 0 rows. An extract with no children, or
with children and no events, is refused whole with one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.config import load_config
from core.errors import ContractError
from features import load_extract, validate_extract
from upstream.cli import app

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_extract"
HUBS = load_config().council.hub_names


def _extract(tmp_path: Path, *, children: bool, events: bool) -> Path:
    d = tmp_path / "extract"
    shutil.copytree(TINY, d)
    for name, keep in (("children", children), ("events", events)):
        if not keep:
            frame = pd.read_csv(d / f"{name}.csv", dtype=str)
            frame.iloc[:0].to_csv(d / f"{name}.csv", index=False)  # the header only
    return d


@pytest.mark.parametrize(("children", "events", "table"), [(False, False, "children"), (False, True, "children"),
                                                          (True, False, "events")])
def test_empty_tables_refused(tmp_path: Path, children: bool, events: bool, table: str) -> None:
    d = _extract(tmp_path, children=children, events=events)
    report = validate_extract(d, hubs=HUBS, extract_date=pd.Timestamp("2017-03-31"))
    assert not report.ok
    assert len(report.fatal) == 1 and f"{table}.csv: no rows" in report.fatal[0]
    with pytest.raises(ContractError, match="no rows"):
        load_extract(d, hubs=HUBS, extract_date=pd.Timestamp("2017-03-31"))
    result = CliRunner().invoke(app, ["validate", str(d), "--extract-date", "2017-03-31"])
    assert result.exit_code == 2
    assert f"{table}.csv: no rows" in result.output
