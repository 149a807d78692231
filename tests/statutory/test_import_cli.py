"""`upstream import`: outputs, the accounting identity, privacy, and bad input (one clear line, nothing written)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from statutory import KEY_ENV
from tests.statutory._helpers import KEY, SAMPLES, copy_workbook, write_manifest, write_residence

ANNEX_A_ROWS = {"List 1": 5, "List 2": 5, "List 3": 6, "List 4": 5, "List 5": 5, "List 6": 5, "List 7": 7,
                "List 8": 5, "List 9": 6, "List 10": 5, "List 11": 5}


def cli(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    from upstream.cli import main

    monkeypatch.setattr(sys, "argv", ["upstream", *args])
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """The demo manifest imported once (CLI in-process)."""
    out = tmp_path_factory.mktemp("imp") / "council"
    mp = pytest.MonkeyPatch()
    try:
        from upstream.cli import main

        mp.setattr(sys, "argv", ["upstream", "import", str(SAMPLES / "manifest.yaml"), "--out", str(out)])
        mp.setenv(KEY_ENV, KEY.decode())
        with pytest.raises(SystemExit) as exc:
            main()
        assert exc.value.code == 0
    finally:
        mp.undo()
    return out


def test_outputs_and_accounting_identity(imported: Path) -> None:
    assert sorted(p.name for p in imported.iterdir()) == ["children.csv", "events.csv", "extract.json"]
    side = imported.parent / "council.import"
    assert {"report.json", "report.md", "lineage.csv", "quarantine"} <= {p.name for p in side.iterdir()}
    rep = json.loads((side / "report.json").read_text())
    # the extract carries the first as-of date its records support (SPEC §11 Q10); training reads it from there
    from features.loaders import read_extract

    assert rep["earliest_training_as_of"]
    assert read_extract(imported).earliest_as_of == pd.Timestamp(rep["earliest_training_as_of"])
    files = {(f["format"], f["table"]): f for f in rep["files"]}
    for f in rep["files"]:
        assert f["read"] == f["mapped"] + f["refused"] + f["held_back"], f
    for sheet, n in ANNEX_A_ROWS.items():           # every data row of the workbook is accounted for
        assert files[("annex_a", sheet)]["read"] == n, sheet
    with (SAMPLES / "residence.csv").open() as fh:
        assert files[("residence", "residence")]["read"] == sum(1 for _ in fh) - 1
    assert files[("cin_census", "Child")]["read"] == 1
    # every refused row is in quarantine with its file, table, row and reasons
    refused = sum(f["refused"] for f in rep["files"])
    q = [r for p in (side / "quarantine").glob("*.csv") for r in csv.DictReader(p.open())]
    assert len(q) == refused and all(r["file"] and r["table"] and r["row"] and r["reasons"] for r in q)
    # every event traces back to a source row
    lineage = list(csv.DictReader((side / "lineage.csv").open()))
    events = list(csv.DictReader((imported / "events.csv").open()))
    assert {e["event_id"] for e in events} == {r["event_id"] for r in lineage}
    assert "upstream validate" in (side / "report.md").read_text()


def test_privacy_no_raw_identifier_in_any_output(imported: Path) -> None:
    wb = CalamineWorkbook.from_path(str(SAMPLES / "annex_a" / "Annex_A.xlsx"))
    raw_ids, free_text = set(), set()
    for sheet in wb.sheet_names:
        rows = wb.get_sheet_by_name(sheet).to_python()
        header = rows[0]
        for r in rows[1:]:
            for h, v in zip(header, r, strict=False):
                if "Unique ID" in str(h) or "identifier" in str(h).lower():
                    if v != "":
                        raw_ids.add(str(int(v)) if isinstance(v, float) else str(v))
                elif (str(h) in ("Allocated Worker", "Placement postcode", "Organisation completing assessment")
                      and isinstance(v, str) and v.strip() and v != "#N/A"):
                    free_text.add(v.strip())
    raw_ids |= {"DfEX0000001", "DFEX0000001"}
    upns = {"A123456789123", "X98765432123B"}
    texts = {p: p.read_text(errors="replace") for p in imported.parent.rglob("*") if p.is_file()}
    assert len(texts) >= 6
    for p, text in texts.items():
        for needle in raw_ids | upns | free_text | {KEY.decode()}:
            assert needle not in text, f"{needle!r} in {p}"


def _expect_error(args, monkeypatch, capsys, *needles) -> str:
    rc, _, err = cli(args, monkeypatch, capsys)
    assert rc == 2, err
    assert err.startswith("upstream: error:"), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)
    return err


def test_manifest_naming_a_missing_file(samples, tmp_path, monkeypatch, capsys) -> None:
    m = write_manifest(samples / "m.yaml", residence="residence.csv",
                       cin_census=[{"year": 2022, "file": "cin_census/nope.xml"}])
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "cin_census[0].file: file not found: cin_census/nope.xml")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.import").exists()


def test_manifest_without_residence(samples, tmp_path, monkeypatch, capsys) -> None:
    m = write_manifest(samples / "m.yaml", cin_census=[{"year": 2022, "file": "cin_census/cin-2022.xml"}])
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys, "residence.csv is required")


def test_truncated_xml(samples, tmp_path, monkeypatch, capsys) -> None:
    p = samples / "cin_census" / "cin-2022.xml"
    p.write_text(p.read_text()[:1500])
    write_residence(samples / "residence.csv", ["DfEX0000001"])
    m = write_manifest(samples / "m.yaml", residence="residence.csv",
                       cin_census=[{"year": 2022, "file": "cin_census/cin-2022.xml"}])
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "cin_census/cin-2022.xml: not well-formed XML")
    assert not (tmp_path / "o").exists()


def test_903_file_with_another_tables_columns(samples, tmp_path, monkeypatch, capsys) -> None:
    write_residence(samples / "residence.csv", ["689661"])
    m = write_manifest(samples / "m.yaml", residence="residence.csv", ssda903=[
        {"year": 2020, "files": {"header": "s903/SSDA903_2020_episodes.csv",
                                 "episodes": "s903/SSDA903_2020_episodes.csv"}}])
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "s903/SSDA903_2020_episodes.csv: listed as 903 'header' but its columns are those of 'episodes'")


def test_903_dates_in_the_wrong_format(samples, tmp_path, monkeypatch, capsys) -> None:
    (samples / "h.csv").write_text("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n249901,2,2013-01-07,WBRI,,,\n")
    write_residence(samples / "residence.csv", ["249901"])
    m = write_manifest(samples / "m.yaml", residence="residence.csv", ssda903=[
        {"year": 2020, "files": {"header": "h.csv", "episodes": "s903/SSDA903_2020_episodes.csv"}}])
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "h.csv: dates are YYYY-MM-DD", "DD/MM/YYYY")
    (samples / "h.csv").write_text("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n249901,2,2013-01-07,WBRI,,,\n"
                                   "689661,1,11/07/2015,WBRI,,,\n")
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "h.csv: mixed date formats")


def test_workbook_with_a_list_missing(samples, tmp_path, monkeypatch, capsys) -> None:
    copy_workbook(samples / "annex_a" / "Annex_A.xlsx", samples / "annex_a" / "partial.xlsx", drop=("List 3",))
    write_residence(samples / "residence.csv", ["612306"])
    m = write_manifest(samples / "m.yaml", residence="residence.csv",
                       annex_a=[{"extracted_on": "2021-03-31", "file": "annex_a/partial.xlsx"}])
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "annex_a/partial.xlsx: no sheet holds Annex A List(s) 3 (referrals)")


def test_no_key_is_a_clear_error(samples, tmp_path, monkeypatch, capsys) -> None:
    from upstream.cli import main

    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setattr(sys, "argv", ["upstream", "import", str(samples / "manifest.yaml"), "--out",
                                      str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert "no pseudonym key" in capsys.readouterr().err


def test_nothing_importable_writes_the_report_only(samples, tmp_path, monkeypatch, capsys) -> None:
    write_residence(samples / "residence.csv", ["689661", "249901"])
    m = write_manifest(samples / "m.yaml", residence="residence.csv", ssda903=[
        {"year": 2020, "files": {"header": "s903/SSDA903_2020_header.csv",
                                 "episodes": "s903/SSDA903_2020_episodes.csv"}}])
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys, "no child could be imported")
    assert not (tmp_path / "o").exists()
    assert (tmp_path / "o.import" / "report.md").is_file()
    assert (tmp_path / "o.import" / "quarantine" / "ssda903_header.csv").is_file()
