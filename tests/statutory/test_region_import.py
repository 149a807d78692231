"""A partnership's councils each import their own returns with the region config, then pool them: the region
extract holds every council's imported children, each under its LA number, pseudonymised with its own key."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from core.contract import COUNCIL_COLUMN
from statutory import KEY_ENV


def cli(args: list[str], monkeypatch, capsys, key: str = "0" * 64) -> tuple[int, str, str]:
    from upstream.cli import main

    monkeypatch.setattr(sys, "argv", ["upstream", *args])
    monkeypatch.setenv(KEY_ENV, key)
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_each_council_imports_its_own_returns_then_the_region_pools_them(tmp_path: Path, root: Path, monkeypatch,
                                                                          capsys) -> None:
    region_yaml = str(root / "configs" / "region.yaml")
    returns = tmp_path / "returns"
    code, out, err = cli(["simulate", "--councils", "2", "--children", "300", "--start", "2013-04", "--end",
                          "2017-03", "--seed", "4", "--out", str(tmp_path / "sim"), "--returns", str(returns),
                          "--returns-years", "3", "--config", region_yaml], monkeypatch, capsys)
    assert code == 0, err
    assert sorted(p.name for p in returns.iterdir()) == ["301", "302"]
    for c in ("301", "302"):  # each council's returns carry its own LA number
        assert yaml.safe_load((returns / c / "manifest.yaml").read_text())["la_code"] == c

    imported = {}
    for c, key in (("301", "1" * 64), ("302", "2" * 64)):  # each council's own key
        imported[c] = tmp_path / "imported" / c
        code, out, err = cli(["import", str(returns / c / "manifest.yaml"), "--out", str(imported[c]),
                              "--config", region_yaml], monkeypatch, capsys, key=key)
        assert code == 0, err
        children = pd.read_csv(imported[c] / "children.csv", dtype=str)
        assert (children[COUNCIL_COLUMN] == c).all() and len(children) > 0

    region = tmp_path / "region"
    code, out, err = cli(["pool", str(imported["301"]), str(imported["302"]), "--out", str(region),
                          "--config", region_yaml], monkeypatch, capsys)
    assert code == 0, err
    pooled = pd.read_parquet(region / "children.parquet")
    sizes = {c: len(pd.read_csv(d / "children.csv")) for c, d in imported.items()}
    assert pooled[COUNCIL_COLUMN].astype(str).value_counts().to_dict() == sizes
    assert f"{sum(sizes.values()):,} children" in out
    # the import's earliest as-of date (history start + 24 months) reaches the region's extract.json
    assert '"earliest_as_of": "2016-04-01"' in (region / "extract.json").read_text()
    code, out, err = cli(["validate", str(region), "--config", region_yaml], monkeypatch, capsys)
    assert code == 0, err

    # a council's returns that are not in the region config: refused before anything is read
    manifest = yaml.safe_load((returns / "301" / "manifest.yaml").read_text())
    (returns / "301" / "manifest.yaml").write_text(yaml.safe_dump({**manifest, "la_code": "999"}))
    code, out, err = cli(["import", str(returns / "301" / "manifest.yaml"), "--out", str(tmp_path / "x"),
                          "--config", region_yaml], monkeypatch, capsys)
    assert code == 2 and "la_code '999': council 999 is not in the config" in err
    assert not (tmp_path / "x").exists()
