"""A region's scoring run: one list per (council, hub), each at its hub's capacity, written council by council.

The cohort is built once for the whole region (the model's inputs are the region's); each council's rows are
then scored, explained and listed exactly as a single council's are (`serving.scoring.score_cohort`, its hubs'
capacities from `Config.for_council`), and written to `OUT/<council code>/` in the single-council layout
(scores.parquet, families.parquet, lists/<hub>.csv and .html, locality, manifest). `OUT/manifest.json` names the
councils. A single council's output layout is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.io import atomic_dir, write_json
from core.notice import DECISION_SUPPORT
from serving import lists as _lists
from training.model import RiskModel


@dataclass
class RegionScoring:
    """Each council's scoring result, by council code."""

    councils: dict  # code -> serving.scoring.ScoringResult
    timings: dict[str, float]


def score_region(model: RiskModel, cohort: pd.DataFrame, config: Config, *, out: str | Path,
                 previous: str | Path | None = None, explain_all: bool = False, charts: bool = True,
                 data_fingerprint: str | None = None, extract_date: pd.Timestamp | None = None,
                 timings: dict[str, float] | None = None) -> RegionScoring:
    """Score a region's cohort council by council and write `OUT/<code>/` for each (replaced whole, atomically).

    Parameters
    ----------
    model : RiskModel
        The pooled model.
    cohort : DataFrame
        The region's feature rows at one as-of date (with `council`).
    config : Config
        The region config.
    out : str or Path
        The output directory.
    previous : str or Path, optional
        An earlier region output: each council's lists say what changed since `previous/<code>/`.
    explain_all, charts, data_fingerprint, extract_date
        As for `score_cohort` / `write_scoring`.
    timings : dict, optional
        Seconds spent before scoring (model, load, features), recorded in each council's manifest.

    Returns
    -------
    RegionScoring
    """
    from serving.scoring import score_cohort, write_scoring

    results = {}
    codes = [c.code for c in config.region]
    with atomic_dir(out) as tmp:
        for code in codes:
            rows = cohort.loc[cohort[COUNCIL_COLUMN].to_numpy() == code].drop(columns=COUNCIL_COLUMN)
            if rows.empty:
                continue
            council = config.for_council(code)
            before = Path(previous) / code if previous is not None else None
            prev = _lists.read_previous(before) if before is not None and before.is_dir() else None
            result = score_cohort(model, rows.reset_index(drop=True), council, previous=prev,
                                  explain_all=explain_all, data_fingerprint=data_fingerprint,
                                  extract_date=extract_date)
            result.timings = {**(timings or {}), **result.timings}
            write_scoring(result, Path(tmp) / code, council, charts=charts)
            results[code] = result
        write_json({"region": [{"council": code, "name": config.for_council(code).council.name,
                                **{k: v for k, v in r.manifest["counts"].items()}}
                               for code, r in results.items()],
                    "layout": "one directory per council code, each in the single-council layout",
                    "model": next(iter(results.values())).manifest["model"] if results else None,
                    "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "notice": DECISION_SUPPORT},
                   Path(tmp) / "manifest.json")
    return RegionScoring(councils=results, timings=dict(timings or {}))


def region_summary(result: RegionScoring, out: str | Path) -> str:
    """What `upstream score` prints for a region: one line per council."""
    lines = []
    for code, r in result.councils.items():
        c = r.manifest["counts"]
        lines.append(f"council {code}: {c['children']:,} children, {c['families_listed']:,} families listed "
                     f"({', '.join(f'{h} {n}' for h, n in c['families_listed_by_hub'].items())}); "
                     f"{out}/{code}/lists/")
    lines += [f"written to {out} (one directory per council)", DECISION_SUPPORT]
    return "\n".join(lines)
