"""Helpers for the statutory-returns importer tests: the liia-tools samples (examples/returns), manifests."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from core.config import load_config

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "returns"
KEY = b"test-key-0123456789abcdef"
HUBS = load_config(None).council.hub_names
ANNEX_A_IDS = [612306, 997679, 1373595, 1761444, 2529037, 3623204, 4073694, 4653765, 5358472, 6217392, 6434087,
               6537810, 6890906, 6913085, 7657294, 8140425, 8778646, 9212044, 9396243, 10160219, 10273003,
               10600594, 10692868, 10721552, 10897459, 11096583, 11578763, 11641472, 11811692, 11973218,
               12012513, 12590177, 12598894, 13981739, 14007367, 14065184, 14953858, 15221387, 15765513,
               16036763, 16216178, 16248829]


def write_residence(path: Path, keys, *, start: str = "1960-01-01") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["child_key", "resident_from", "resident_to", "hub", "deprivation_decile"])
        for i, k in enumerate(keys):
            w.writerow([k, start, "", HUBS[i % len(HUBS)], 1 + i % 10])
    return path


def copy_workbook(src: Path, dst: Path, *, drop: tuple[str, ...] = (),
                  rename: dict[tuple[str, str], str] | None = None) -> Path:
    """A copy of an Annex A workbook without the sheets in `drop` and with headers renamed ((sheet, header) -> new)."""
    import datetime as dt

    import xlsxwriter
    from python_calamine import CalamineWorkbook

    wb_in = CalamineWorkbook.from_path(str(src))
    wb = xlsxwriter.Workbook(str(dst))
    datefmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    for sheet in wb_in.sheet_names:
        if sheet in drop:
            continue
        ws = wb.add_worksheet(sheet)
        for i, row in enumerate(wb_in.get_sheet_by_name(sheet).to_python()):
            for j, v in enumerate(row):
                v = (rename or {}).get((sheet, v), v) if isinstance(v, str) else v
                if isinstance(v, dt.date):
                    ws.write_datetime(i, j, v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time()),
                                      datefmt)
                elif v != "":
                    ws.write(i, j, v)
    wb.close()
    return dst


def write_manifest(path: Path, **entries) -> Path:
    doc = {"la_code": "201", **entries}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def run(manifest: Path):
    """Import a manifest with the test key; return the result and its events with raw child keys beside."""
    from statutory import Pseudonymiser, load_manifest, run_import

    res = run_import(load_manifest(manifest), KEY, hubs=HUBS)
    keys = {s for s in _keys_of(manifest)}
    p = Pseudonymiser(KEY, "201")
    inv = {p.child(k): k for k in keys}
    ev = res.events.copy()
    ev["key"] = ev["child_id"].map(inv)
    ch = res.children.copy()
    ch["key"] = ch["child_id"].map(inv)
    return res, ev, ch


def _keys_of(manifest: Path) -> list[str]:
    doc = yaml.safe_load(manifest.read_text())
    with (manifest.parent / doc["residence"]).open(newline="") as f:
        return [r["child_key"].upper() for r in csv.DictReader(f)]


def rules(res) -> dict[tuple[str, str], int]:
    return {(r["rule"], r["severity"]): r["count"] for r in res.report["rules"]}


def liia_manifests(root: Path) -> dict[str, Path]:
    """The liia-tools fixes sample split per LA and year (an importer runs per LA), with a header per year."""
    src = root / "s903" / "SSDA903_episodes_for_testing_fixes_INPUT.csv"
    with src.open(newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for la in sorted({r["LA"] for r in rows}):
        d = root / la.replace(" ", "_")
        d.mkdir()
        sub = [r for r in rows if r["LA"] == la]
        kids = sorted({r["CHILD"] for r in sub})
        entries = []
        for y in sorted({int(r["YEAR"]) for r in sub}):
            with (d / f"episodes_{y}.csv").open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows([r for r in sub if r["YEAR"] == str(y)])
            with (d / f"header_{y}.csv").open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB", "LA", "YEAR"])
                for k in kids:
                    w.writerow([k, 1, "2005-01-01", "WBRI", "", "", "", la, y])
            entries.append({"year": y, "files": {"episodes": f"episodes_{y}.csv", "header": f"header_{y}.csv"},
                            "liia_cleaned": True})
        write_residence(d / "residence.csv", kids, start="2005-01-01")
        out[la] = write_manifest(d / "manifest.yaml", ssda903=entries, residence="residence.csv")
    return out
