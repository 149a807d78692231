"""Annex A per-council header overrides (SPEC §7.2-7.3): the manifest's `annex_a_headers` maps a council's own
header names to the canonical ones; a header neither matched nor mapped stays a clear error naming sheet and column."""

from __future__ import annotations

from pathlib import Path

from tests.statutory._helpers import ANNEX_A_IDS, copy_workbook, run, write_manifest, write_residence
from tests.statutory.test_import_cli import _expect_error

OWN = {("List 1", "Date of Contact"): "Contact recorded on",
       ("List 3", "Referral Source"): "Where the referral came from"}


def _council_workbook(samples: Path) -> str:
    copy_workbook(samples / "annex_a" / "Annex_A.xlsx", samples / "annex_a" / "own.xlsx", rename=OWN)
    write_residence(samples / "residence.csv", ANNEX_A_IDS)
    return "annex_a/own.xlsx"


def _manifest(samples: Path, headers=None) -> Path:
    extra = {"annex_a_headers": headers} if headers is not None else {}
    return write_manifest(samples / "m.yaml", residence="residence.csv",
                          annex_a=[{"extracted_on": "2021-03-31", "file": _council_workbook(samples)}], **extra)


def test_unknown_headers_are_a_clear_error_naming_sheet_and_column(samples, tmp_path, monkeypatch, capsys):
    _expect_error(["import", str(_manifest(samples)), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "annex_a/own.xlsx: sheet 'List 1' (List 1, contacts): column(s) not found: 'Date of contact'",
                  "annex_a/own.xlsx: sheet 'List 3' (List 3, referrals): column(s) not found: 'Referral source'",
                  "annex_a_headers")
    assert not (tmp_path / "o").exists()


def test_overrides_map_the_councils_headers(samples):
    res = run(_manifest(samples, {"Contact recorded on": "Date of Contact",
                                  "List 3": {"Where the referral came from": "Referral Source"}}))[0]
    ev = res.events
    # the same rows as the sample itself gives (SPEC §7.6)
    assert sorted(ev.loc[ev["event_type"] == "contact", "source"]) == ["individual", "police", "police", "unknown"]
    assert sorted(ev.loc[ev["event_type"] == "referral", "source"]) == ["health", "other", "police", "police",
                                                                        "police", "school"]
    assert res.report["header_overrides_applied"] == [
        "annex_a/own.xlsx:List 1: 'Contact recorded on' as 'Date of contact'",
        "annex_a/own.xlsx:List 3: 'Where the referral came from' as 'Referral source'"]


def test_a_list_override_applies_to_that_list_only(samples, tmp_path, monkeypatch, capsys):
    m = _manifest(samples, {"Contact recorded on": "Date of Contact",
                            "List 1": {"Where the referral came from": "Referral Source"}})
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "sheet 'List 3' (List 3, referrals): column(s) not found: 'Referral source'")


def test_an_override_to_a_column_the_importer_does_not_map(samples, tmp_path, monkeypatch, capsys):
    m = _manifest(samples, {"Contact recorded on": "Contact Date (CMS)", "List 12": {"a": "Gender"}})
    _expect_error(["import", str(m), "--out", str(tmp_path / "o")], monkeypatch, capsys,
                  "annex_a_headers: 'Contact recorded on' -> 'Contact Date (CMS)': 'Contact Date (CMS)' is not an "
                  "Annex A column the importer maps", "annex_a_headers: 'List 12': per-list overrides go under")
