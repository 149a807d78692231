"""`upstream simulate`: writes a valid extract with truth; a bad month is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import UpstreamError
from upstream.cli import app


def test_simulate_then_validate(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "council"
    result = runner.invoke(app, ["simulate", "--out", str(out), "--children", "1200", "--start", "2015-04",
                                 "--end", "2017-03", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "extract date 2017-03-31" in result.output
    assert {p.name for p in out.iterdir()} == {"children.parquet", "events.parquet", "truth.parquet"}
    result = runner.invoke(app, ["validate", str(out), "--extract-date", "2017-03-31"])
    assert result.exit_code == 0, result.output


def test_bad_month_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "x"), "--start", "2014-13"])
    assert isinstance(result.exception, UpstreamError)
    assert "YYYY-MM" in str(result.exception)
    with pytest.raises(UpstreamError, match="before start"):
        from core.config import load_config
        from synthetic import simulate
        simulate(load_config(), start="2016-01", end="2015-01")
